//! Measures full-text search (`MessageStore::search_messages`) on a real
//! PostgreSQL, as one member in many conversations sees it:
//!
//! - fills a fresh database with N messages (default 1,000,000; `--messages
//!   N`) of chat-like text: 2 words or more each (8.5 on average) drawn
//!   from a fixed vocabulary of 4,000 words with Zipf-like frequencies (the
//!   most common word is in nearly half the messages, the rarest in about
//!   1 in 4,000), spread unevenly over direct conversations and groups of 3
//!   to 12 members, written in SQL;
//! - makes one member of 500 of those conversations (`--member-of N`),
//!   joining a tenth of them late (the messages before are not theirs to
//!   search);
//! - runs searches of 1 or 2 words as that member through the engine, as a
//!   server does (word counts, the search, the views of the hits), 100 of
//!   each kind (`--searches N`), after a warm-up: the 20 most common words,
//!   words of middling frequency, rare words, a common word with a rarer
//!   one, and a common word in one of their conversations; then prints p50,
//!   p99 and max latency for each kind, for all together and for those
//!   answered (not refused as too broad), and where the time went. It does
//!   so once for each `--common-word-messages N` given (the line above
//!   which a word is too common to rank; default: the engine's).
//!
//! It creates a throwaway database on the server at `DATABASE_URL` (an
//! admin URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`) and drops
//! it at the end, unless given `--keep` (to look at plans afterwards).
//!
//! Run in release mode:
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo run --release -p chat-store-postgres --example pg_search_costs`

use std::time::{Duration, Instant};

use std::sync::Arc;

use chat_core::testkit::search::{
    SearchLatency, SearchOutcome, TimedSearch, store_read_summary, timed_search,
};
use chat_core::{ChatEngine, ConversationConfig, ConversationId, RateLimit, UserId};
use chat_store_postgres::{PgStore, PgTestDatabase};
use sqlx::PgConnection;
use uuid::Uuid;

/// Words in the vocabulary.
const VOCABULARY: usize = 4_000;
/// Messages inserted per statement while filling.
const CHUNK: i64 = 100_000;
/// Hits per search (a page).
const PAGE: u32 = 20;

/// The most common words of chat text, most common first; the rest of the
/// vocabulary is made of syllables.
const COMMON: &str = "the i you to a and it is that in of for me we on my be have this are so \
    not with do at can just what was your if but lunch meeting tomorrow today yes no ok thanks \
    please time will get all know about think like go up out there one now here see when they \
    how good new he she from by or an would their which make them year some could other than \
    then look only come over also back after use two our work first well way even want because \
    any these give day most us call team send later week again still need sure great let right \
    done doc review release fix bug test deploy coffee home late soon morning night friday \
    monday plan idea issue update check thing people really much more very";
const SYLLABLES: &str = "ba be bi bo bu ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni \
    no nu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu da de di do du ga ge gi go \
    gu pa pe pi po pu";

/// The vocabulary, most common first.
fn vocabulary() -> Vec<String> {
    let mut words: Vec<String> = Vec::with_capacity(VOCABULARY);
    for w in COMMON.split_whitespace() {
        if !words.iter().any(|x| x == w) {
            words.push(w.to_owned());
        }
    }
    let syllables: Vec<&str> = SYLLABLES.split_whitespace().collect();
    // Three syllables, in an order that does not put similar words next
    // to each other in frequency.
    let n = syllables.len();
    let mut i: usize = 0;
    while words.len() < VOCABULARY {
        let (a, b, c) = (i % n, (i / n) % n, (i * 7 / (n * n) + i) % n);
        let w = format!("{}{}{}", syllables[a], syllables[b], syllables[c]);
        if !words.contains(&w) {
            words.push(w);
        }
        i += 1;
    }
    words
}

/// A small deterministic generator (xorshift64*), for the searches.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// Log-uniform in `lo..=hi` (as often each factor of ten), 1-based.
    fn log_between(&mut self, lo: usize, hi: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let v = (lo as f64) * ((hi as f64 + 1.0) / lo as f64).powf(u);
        (v as usize).clamp(lo, hi)
    }
}

struct Args {
    messages: i64,
    member_of: i64,
    searches: usize,
    keep: bool,
    common_word_messages: Vec<u64>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        messages: 1_000_000,
        member_of: 500,
        searches: 100,
        keep: false,
        common_word_messages: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .and_then(|v| v.replace('_', "").parse::<i64>().ok())
                .filter(|v| *v > 0)
                .ok_or(format!("{name} needs a positive number"))
        };
        match arg.as_str() {
            "--messages" => args.messages = value("--messages")?,
            "--member-of" => args.member_of = value("--member-of")?,
            "--searches" => args.searches = value("--searches")? as usize,
            "--keep" => args.keep = true,
            "--common-word-messages" => {
                let n = value("--common-word-messages")?;
                args.common_word_messages.push(n.unsigned_abs());
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: pg_search_costs [--messages N] \
                     [--member-of N] [--searches N] [--keep] [--common-word-messages N]..."
                ));
            }
        }
    }
    if args.common_word_messages.is_empty() {
        let default = ConversationConfig::default().search_common_word_messages;
        args.common_word_messages.push(default);
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let db = PgTestDatabase::create()
        .await
        .ok_or("set DATABASE_URL to a PostgreSQL admin URL")?;
    let result = run(db.store(), &args).await;
    if args.keep {
        println!("kept the database: {}", db.url());
    } else {
        db.teardown().await;
    }
    result
}

async fn run(store: &PgStore, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("machine: {cores} cores; PostgreSQL at DATABASE_URL; release build");
    let words = vocabulary();
    let t = Instant::now();
    let searcher = fill(store, args, &words).await?;
    println!("filled in {:.1} s", t.elapsed().as_secs_f64());
    let (conversations, visible): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(c.message_count - m.joined_seq), 0)::bigint \
         FROM conversation_members m JOIN conversations c USING (conversation_id) \
         WHERE m.user_id = $1",
    )
    .bind(searcher.as_uuid())
    .fetch_one(store.pool())
    .await?;
    let sizes: (String, String) = sqlx::query_as(
        "SELECT pg_size_pretty(pg_table_size('messages')), \
                pg_size_pretty(pg_relation_size('messages_search'))",
    )
    .fetch_one(store.pool())
    .await?;
    println!(
        "{} messages ({} table, {} GIN index); the searcher is in {conversations} \
         conversations and may search {visible} of the messages",
        args.messages, sizes.0, sizes.1
    );

    for &common in &args.common_word_messages {
        search_as(store, searcher, &words, args.searches, common).await?;
    }
    Ok(())
}

/// Runs `searches` searches of each kind as `searcher` through an engine
/// that counts words in more than `common` messages as too common to
/// rank, and prints their latency by kind, where the time went, and the
/// slowest.
async fn search_as(
    store: &PgStore,
    searcher: UserId,
    words: &[String],
    searches: usize,
    common: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("\nwords in more than {common} messages are too common to rank:");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut pick = |kind: usize| -> String {
        match kind {
            0 => words[rng.between(1, 20) - 1].clone(),
            1 => words[rng.log_between(50, 500) - 1].clone(),
            2 => words[rng.between(1_000, VOCABULARY) - 1].clone(),
            3 => format!(
                "{} {}",
                words[rng.between(1, 50) - 1],
                words[rng.log_between(51, 1_000) - 1]
            ),
            _ => words[rng.between(1, 20) - 1].clone(),
        }
    };
    let kinds = [
        "1 common word (top 20)",
        "1 middling word (rank 50-500)",
        "1 rare word (rank 1000-4000)",
        "common word + rarer word",
        "1 common word, 1 conversation",
    ];
    let theirs: Vec<Uuid> =
        sqlx::query_scalar("SELECT conversation_id FROM conversation_members WHERE user_id = $1")
            .bind(searcher.as_uuid())
            .fetch_all(store.pool())
            .await?;
    let mut conversation_rng = Rng(0x5eed_c0de_0000_0001);
    let mut pick_conversation = |kind: usize| {
        (kind == 4).then(|| {
            let i = conversation_rng.between(1, theirs.len()) - 1;
            ConversationId::from_uuid(theirs[i])
        })
    };
    // Searches go through the engine, as a server's do: word counts, the
    // search, and the views of the hits.
    let engine = ChatEngine::builder()
        .store(Arc::new(store.clone()))
        .conversation_config(ConversationConfig {
            search_common_word_messages: common,
            // It measures searches one after another, far past any limit.
            search_limit: RateLimit::new(u32::MAX, Duration::from_secs(1)),
            ..ConversationConfig::default()
        })
        .jwt_secret(b"pg_search_costs: a secret for tokens never made".to_vec())
        .build()?;
    let search = |q: String, conversation: Option<ConversationId>| {
        let engine = &engine;
        async move {
            let timed = timed_search(engine, searcher, &q, conversation, PAGE)
                .await
                .expect("search");
            (timed, q)
        }
    };
    // Warm-up: a few of each kind, unmeasured (a server that has been
    // searching has the index and hot pages in its caches).
    for kind in 0..kinds.len() {
        for _ in 0..10 {
            search(pick(kind), pick_conversation(kind)).await;
        }
    }
    let mut all: Vec<TimedSearch> = Vec::new();
    let mut slowest: (Duration, String) = (Duration::ZERO, String::new());
    for (kind, label) in kinds.iter().enumerate() {
        let mut runs = Vec::with_capacity(searches);
        for _ in 0..searches {
            let (timed, q) = search(pick(kind), pick_conversation(kind)).await;
            if timed.took > slowest.0 {
                slowest = (timed.took, q);
            }
            runs.push(timed);
        }
        report(label, &runs);
        all.extend(runs);
    }
    report("all searches", &all);
    let answered: Vec<TimedSearch> = (all.iter())
        .filter(|r| r.outcome != SearchOutcome::TooBroad)
        .copied()
        .collect();
    report("all answered", &answered);
    println!(
        "slowest: {:?} in {:.1} ms",
        slowest.1,
        slowest.0.as_secs_f64() * 1e3
    );
    println!("store reads of the searches (warm-up included):");
    for line in store_read_summary(&engine) {
        println!("  {line}");
    }
    Ok(())
}

/// Prints p50, p99 and max latency of `runs`, their mean number of
/// results, and how many were ranked, latest first, or refused as too
/// broad.
fn report(label: &str, runs: &[TimedSearch]) {
    let Some(l) = SearchLatency::of(runs) else {
        println!("{label:<32} no searches");
        return;
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let hits = l.hits as f64 / l.count as f64;
    let [ranked, latest, too_broad] = l.ended;
    println!(
        "{label:<32} {:>4} searches   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   \
         {hits:>4.1} hits   ranked {ranked} / latest {latest} / too broad {too_broad}",
        l.count,
        ms(l.p50),
        ms(l.p99),
        ms(l.max),
    );
}

/// Fills the database (see the module's documentation) and returns the
/// searcher. Everything is written in SQL on one connection, with
/// temporary tables for the plan of it.
async fn fill(
    store: &PgStore,
    args: &Args,
    words: &[String],
) -> Result<UserId, Box<dyn std::error::Error>> {
    let mut conn = store.pool().acquire().await?;
    let conn: &mut PgConnection = &mut conn;
    let users = (args.messages / 200).max(50);
    let conversations = (args.messages / 80).max(args.member_of * 2);
    // Reproducible words and conversation sizes (ids stay random).
    sqlx::query("SELECT setseed(0.42)")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "CREATE TEMP TABLE vocab AS \
         SELECT r::int AS r, w FROM UNNEST($1::text[]) WITH ORDINALITY AS v(w, r)",
    )
    .bind(words)
    .execute(&mut *conn)
    .await?;
    // The sizes are numbers of this program's own, written into the SQL.
    let member_of = args.member_of;
    let messages = args.messages;
    let steps = [
        "CREATE UNIQUE INDEX ON vocab (r)".to_owned(),
        format!(
            "CREATE TEMP TABLE u AS \
             SELECT g AS i, gen_random_uuid() AS id FROM generate_series(1, {users}) g"
        ),
        "INSERT INTO users (user_id, username, username_key, email, email_key, \
             password_hash, created_at) \
         SELECT id, 'user' || i, 'user' || i, 'u' || i || '@example.com', \
             'u' || i || '@example.com', 'x', now() FROM u"
            .to_owned(),
        // Every third conversation is direct; groups have 3 to 12 members.
        format!(
            "CREATE TEMP TABLE conv AS \
             SELECT g AS i, gen_random_uuid() AS id, \
                 CASE WHEN g % 3 = 0 THEN 'direct' ELSE 'group' END AS kind \
             FROM generate_series(1, {conversations}) g"
        ),
        format!(
            "CREATE TEMP TABLE cm AS \
             SELECT DISTINCT c.i, c.id, u.id AS user_id \
             FROM conv c \
             CROSS JOIN LATERAL ( \
                 SELECT 2 + floor(random() * ({users} - 1))::int AS ui \
                 FROM generate_series(1, CASE WHEN c.kind = 'direct' THEN 2 \
                                              ELSE 3 + floor(random() * 10)::int END)) k \
             JOIN u ON u.i = k.ui"
        ),
        // The searcher (user 1) joins the first groups.
        format!(
            "INSERT INTO cm SELECT c.i, c.id, u.id FROM conv c, u \
             WHERE u.i = 1 AND c.i IN ( \
                 SELECT i FROM conv WHERE kind = 'group' ORDER BY i LIMIT {member_of})"
        ),
        // A direct conversation whose two draws were one user, or whose
        // pair is taken, is dropped.
        "INSERT INTO conversations (conversation_id, kind, name, created_at, \
             last_activity_at, direct_user_low, direct_user_high) \
         SELECT c.id, c.kind, CASE WHEN c.kind = 'group' THEN 'group ' || c.i END, \
             now(), now(), \
             CASE WHEN c.kind = 'direct' THEN p.members[1] END, \
             CASE WHEN c.kind = 'direct' THEN p.members[2] END \
         FROM conv c \
         JOIN (SELECT i, array_agg(user_id ORDER BY user_id) AS members FROM cm \
               GROUP BY i) p USING (i) \
         WHERE c.kind = 'group' OR cardinality(p.members) = 2 \
         ON CONFLICT DO NOTHING"
            .to_owned(),
        "INSERT INTO conversation_members (conversation_id, user_id, role, joined_at, \
             joined_seq, read_seq, delivered_seq) \
         SELECT cm.id, cm.user_id, 'member', now(), 0, 0, 0 FROM cm \
         JOIN conversations c ON c.conversation_id = cm.id"
            .to_owned(),
        // The conversations in random order: busy ones are anybody's.
        "CREATE TEMP TABLE conv_arr AS \
         SELECT row_number() OVER (ORDER BY c.conversation_id)::int AS k, \
             c.conversation_id AS id, array_agg(m.user_id) AS members \
         FROM conversations c JOIN conversation_members m USING (conversation_id) \
         GROUP BY c.conversation_id"
            .to_owned(),
        "CREATE UNIQUE INDEX ON conv_arr (k)".to_owned(),
        // Which conversation each message goes to (a few are busy, most
        // quiet), its seq there and its length in words.
        format!(
            "CREATE TEMP TABLE plan AS \
             SELECT g, k, row_number() OVER (PARTITION BY k ORDER BY g) AS seq, len \
             FROM (SELECT g, \
                       1 + floor((SELECT count(*) FROM conv_arr) * random() ^ 2)::int AS k, \
                       2 + floor(-ln(1 - random()) * 7)::int AS len \
                   FROM generate_series(1, {messages}) g) x"
        ),
        "CREATE UNIQUE INDEX ON plan (g)".to_owned(),
    ];
    for sql in &steps {
        sqlx::raw_sql(sql)
            .execute(&mut *conn)
            .await
            .map_err(|e| format!("{e}: {sql}"))?;
    }
    // The messages, in time order over a year, in chunks: ids are UUIDv7
    // of their time, words log-uniform over the vocabulary's ranks (Zipf
    // with exponent 1).
    let mut lo = 1;
    while lo <= args.messages {
        let t = Instant::now();
        let hi = (lo + CHUNK - 1).min(args.messages);
        sqlx::query(
            "INSERT INTO messages (message_id, conversation_id, seq, sender_id, content, \
                 message_type, created_at) \
             SELECT (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 16, 3) \
                     || '-' || substr(r, 20))::uuid, \
                 c.id, p.seq, c.members[1 + floor(random() * cardinality(c.members))::int], \
                 w.content, 'text', p.ts \
             FROM (SELECT p.*, now() - interval '365 days' \
                          + p.g * (interval '365 days' / $3::bigint) AS ts \
                   FROM plan p WHERE g BETWEEN $1 AND $2) p \
             JOIN conv_arr c ON c.k = p.k \
             CROSS JOIN LATERAL ( \
                 SELECT lpad(to_hex((extract(epoch FROM p.ts) * 1000)::bigint), 12, '0') AS h, \
                        gen_random_uuid()::text AS r) u \
             CROSS JOIN LATERAL ( \
                 SELECT string_agg((SELECT w FROM vocab WHERE vocab.r = x.r), ' ') AS content \
                 FROM (SELECT floor(power($4::int, random()))::int AS r \
                       FROM generate_series(1, p.len)) x) w \
             ORDER BY p.g",
        )
        .bind(lo)
        .bind(hi)
        .bind(args.messages)
        .bind(words.len() as i32)
        .execute(&mut *conn)
        .await?;
        println!(
            "  messages {lo}..={hi} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        lo = hi + 1;
    }
    // Consistent counters, and the searcher joins every tenth of their
    // conversations a third of the way through.
    let searcher: Uuid = sqlx::query_scalar("SELECT id FROM u WHERE i = 1")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE conversations c SET last_seq = s.n, message_count = s.n, \
             last_activity_at = s.last \
         FROM (SELECT conversation_id, max(seq) AS n, max(created_at) AS last \
               FROM messages GROUP BY conversation_id) s \
         WHERE s.conversation_id = c.conversation_id",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE conversation_members m \
         SET joined_seq = c.last_seq / 3, read_seq = c.last_seq / 3, \
             delivered_seq = c.last_seq / 3 \
         FROM conversations c \
         WHERE c.conversation_id = m.conversation_id AND m.user_id = $1 \
           AND get_byte(uuid_send(c.conversation_id), 15) % 10 = 0",
    )
    .bind(searcher)
    .execute(&mut *conn)
    .await?;
    // What autovacuum and autoanalyze would have done by now: the
    // statistics the planner needs, GIN's pending list merged.
    sqlx::raw_sql("VACUUM ANALYZE").execute(&mut *conn).await?;
    Ok(UserId::from_uuid(searcher))
}
