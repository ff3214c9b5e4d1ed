-- The search index (0004) merges its pending list in small steps. New
-- entries of a GIN index go to a pending list first (`fastupdate`), and
-- the insert that takes the list past `gin_pending_list_limit` merges the
-- whole list into the index itself. At PostgreSQL's default limit, 4 MB,
-- that merge took 200-300 ms on the machine of docs/benchmarks.md, and
-- every message queued behind that batch waited as long ("Writers plan
-- once"). At 128 kB each merge has a thirty-second as much to do; there
-- the p99 fell to 35-43 ms with no measurable loss of top rate. Taking
-- each entry into the index at once (`fastupdate = off`) also removed the
-- pauses, but cost 15% of the top rate. Changing the limit does not
-- rewrite the index; what is pending now is merged here, once.
ALTER INDEX messages_search SET (gin_pending_list_limit = 128);
SELECT gin_clean_pending_list('messages_search'::regclass);
