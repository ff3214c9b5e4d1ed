//! What full-text search costs on a large SQLite store.
//!
//! Fills a fresh database file with N messages (1,000,000 by default) of
//! random words from a fixed vocabulary of 4,000 words, drawn with Zipf
//! frequencies as in natural text, spread over 2,000 groups of 3 to 12
//! members. One member, the searcher, is in 200 of the groups (50 of them
//! joined halfway, so half of those groups' messages are not theirs to
//! find). Then it runs searches of one or two words as the searcher, a
//! fifth of them in each class below, and prints the latency of each class
//! and of all of them (p50, p99, max), the slowest searches, and the size
//! of the database and of its search index.
//!
//! Word ranks count from the most frequent word (rank 1); "common" words
//! are ranks 1 to 100, "rare" ones ranks 1,001 to 4,000.
//!
//! ```sh
//! cargo run --release -p chat-store-sqlite --example sqlite_search_costs -- \
//!     [--messages N] [--searches N] [--db FILE [--reuse]] [--common-word-messages N]...
//! ```
//!
//! Searches go through the engine, as a server's do, once for each
//! `--common-word-messages N` given (the line above which a word is too
//! common to rank; default: the engine's), so thresholds can be compared
//! on one fill.
//!
//! `--db` keeps the database at FILE (instead of a temporary directory);
//! `--reuse` searches the database an earlier run left there without
//! filling it again (it must have been filled with the same `--messages`).

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_core::domain::{GroupName, MessageContent, MessageType};
use chat_core::model::{MemberRole, NewGroup, NewMember, NewMessage};
use chat_core::store::{ConversationStore, MessageStore, UserStore};
use chat_core::testkit::fixtures::new_user;
use chat_core::testkit::search::{
    SearchLatency, SearchOutcome, TimedSearch, store_read_summary, timed_search,
};
use chat_core::{
    ChatEngine, ConversationConfig, ConversationId, MessageId, RateLimit, Timestamp, UserId,
};
use chat_store_sqlite::SqliteStore;

/// Words in the vocabulary.
const VOCABULARY: usize = 4_000;
/// The exponent of the Zipf distribution of words (1: the classic one).
const ZIPF_EXPONENT: f64 = 1.0;
/// Words per message.
const WORDS_PER_MESSAGE: (usize, usize) = (3, 25);
/// Users, the searcher among them.
const USERS: usize = 500;
/// Groups (every message is in one).
const GROUPS: usize = 2_000;
/// Members per group, besides the searcher (3 to 12).
const MEMBERS: (usize, usize) = (3, 12);
/// The searcher is in every `SEARCHER_EVERY`-th group...
const SEARCHER_EVERY: usize = 10;
/// ...and joined every `LATE_EVERY`-th of those halfway through.
const LATE_EVERY: usize = 4;
/// Messages stored per transaction while filling.
const BATCH: usize = 1_000;
/// Hits per search (a page).
const PAGE: u32 = 20;
/// Most frequent words count as common up to this rank...
const COMMON: (usize, usize) = (1, 100);
/// ...and as rare from this rank on.
const RARE: (usize, usize) = (1_001, VOCABULARY);
/// The seed of the fill's random draws.
const SEED: u64 = 0x5EA2_C4C0_575E_ED01;
/// The time of the first message (2026-01-01T00:00:00Z), in ms.
const START_MS: i64 = 1_767_225_600_000;

struct Args {
    messages: usize,
    searches: usize,
    db: Option<PathBuf>,
    reuse: bool,
    common_word_messages: Vec<u64>,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        messages: 1_000_000,
        searches: 500,
        db: None,
        reuse: false,
        common_word_messages: Vec::new(),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--messages" => args.messages = value()?.parse()?,
            "--searches" => args.searches = value()?.parse()?,
            "--db" => args.db = Some(PathBuf::from(value()?)),
            "--reuse" => args.reuse = true,
            "--common-word-messages" => args.common_word_messages.push(value()?.parse()?),
            "-h" | "--help" => {
                println!(
                    "sqlite_search_costs [--messages N] [--searches N] [--db FILE [--reuse]] \
                     [--common-word-messages N]...\n\
                     (defaults: 1000000 messages, 500 searches, a temporary file, the \
                     engine's default line for common words)"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other} (try --help)").into()),
        }
    }
    if args.reuse && args.db.is_none() {
        return Err("--reuse needs --db".into());
    }
    if args.common_word_messages.is_empty() {
        let default = ConversationConfig::default().search_common_word_messages;
        args.common_word_messages.push(default);
    }
    Ok(args)
}

/// SplitMix64: small, fast and the same on every machine, so every run
/// stores the same messages and runs the same searches.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias of the modulo is negligible here).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, (low, high): (usize, usize)) -> usize {
        low + self.below(high - low + 1)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// The vocabulary, most frequent first: distinct made-up words of one to
/// four syllables (shorter words tend to be the frequent ones, as in
/// natural language).
fn vocabulary(rng: &mut Rng) -> Vec<String> {
    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "va", "de", "ri", "mo", "sa", "te", "lu",
        "ba", "zo", "fi", "ge", "ha", "nor", "vel", "quin", "dra",
    ];
    let mut words: Vec<String> = Vec::with_capacity(VOCABULARY);
    let mut seen = std::collections::HashSet::new();
    while words.len() < VOCABULARY {
        let syllables = rng.between((1, 4));
        let word: String = (0..syllables)
            .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
            .collect();
        if seen.insert(word.clone()) {
            words.push(word);
        }
    }
    words.sort_by_key(String::len);
    words
}

/// Draws word ranks with Zipf frequencies (rank r has weight 1 / r^s).
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, exponent: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(exponent);
                total
            })
            .collect();
        Self { cumulative }
    }

    /// A 0-based rank.
    fn draw(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.unit() * total;
        self.cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len() - 1)
    }
}

/// Users, groups and messages as the module docs describe; returns the
/// searcher.
async fn fill(
    store: &SqliteStore,
    messages: usize,
    rng: &mut Rng,
) -> Result<UserId, Box<dyn Error>> {
    let words = vocabulary(rng);
    let zipf = Zipf::new(words.len(), ZIPF_EXPONENT);
    let started = Instant::now();
    let mut users = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let name = if i == 0 {
            "searcher".to_owned()
        } else {
            format!("user{i}")
        };
        users.push(store.create_user(new_user(&name)).await?.id);
    }
    let searcher = users[0];
    let at = |ms: i64| Timestamp::from_millis(START_MS + ms);
    // Each group's members (the searcher last when in it) and whether the
    // searcher joins it halfway.
    let mut groups: Vec<(ConversationId, Vec<UserId>)> = Vec::with_capacity(GROUPS);
    let mut late: Vec<ConversationId> = Vec::new();
    for g in 0..GROUPS {
        let id = ConversationId::new();
        let mut members: Vec<UserId> = Vec::new();
        let wanted = rng.between(MEMBERS);
        while members.len() < wanted {
            let user = users[1 + rng.below(USERS - 1)];
            if !members.contains(&user) {
                members.push(user);
            }
        }
        let with_searcher = g.is_multiple_of(SEARCHER_EVERY);
        let joins_late = with_searcher && (g / SEARCHER_EVERY).is_multiple_of(LATE_EVERY);
        if with_searcher && !joins_late {
            members.push(searcher);
        }
        if joins_late {
            late.push(id);
        }
        store
            .create_group(NewGroup {
                id,
                name: GroupName::parse(&format!("group {g}"))?,
                creator_id: members[0],
                created_at: at(0),
                members: members
                    .iter()
                    .enumerate()
                    .map(|(i, &user_id)| NewMember {
                        user_id,
                        role: if i == 0 {
                            MemberRole::Owner
                        } else {
                            MemberRole::Member
                        },
                    })
                    .collect(),
            })
            .await?;
        groups.push((id, members));
    }
    println!(
        "{USERS} users and {GROUPS} groups in {:.1} s; the searcher is in {} groups ({} joined halfway)",
        started.elapsed().as_secs_f64(),
        GROUPS / SEARCHER_EVERY,
        late.len()
    );

    let started = Instant::now();
    let mut stored = 0;
    let mut text = String::new();
    while stored < messages {
        if stored >= messages / 2 && !late.is_empty() {
            for conversation in late.drain(..) {
                let searcher_joins = vec![NewMember {
                    user_id: searcher,
                    role: MemberRole::Member,
                }];
                store
                    .add_members(
                        conversation,
                        searcher_joins,
                        at(stored as i64 * 1_000),
                        1_000,
                    )
                    .await?;
            }
        }
        let batch: Vec<NewMessage> = (stored..messages.min(stored + BATCH))
            .map(|n| {
                let (conversation_id, members) = &groups[rng.below(groups.len())];
                text.clear();
                for i in 0..rng.between(WORDS_PER_MESSAGE) {
                    if i > 0 {
                        text.push(' ');
                    }
                    text.push_str(&words[zipf.draw(rng)]);
                }
                Ok(NewMessage {
                    id: MessageId::new(),
                    conversation_id: *conversation_id,
                    sender_id: members[rng.below(members.len())],
                    content: MessageContent::parse(&text)?,
                    message_type: MessageType::text(),
                    client_msg_id: None,
                    created_at: at(n as i64 * 1_000),
                    reply_to: None,
                    mentions: Vec::new(),
                    attachments: Vec::new(),
                })
            })
            .collect::<Result<_, Box<dyn Error>>>()?;
        stored += batch.len();
        store
            .write_batch(batch, Vec::new(), at(stored as i64 * 1_000))
            .await?;
        if stored.is_multiple_of(100_000) || stored == messages {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "  {stored} messages in {secs:.0} s ({:.0} messages/s)",
                stored as f64 / secs
            );
        }
    }
    println!(
        "filled {messages} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(searcher)
}

/// The classes of searches, run in turn.
const CLASSES: [&str; 5] = [
    "1 common word",
    "1 rare word",
    "common + rare",
    "2 common words",
    "common, 1 group",
];

/// One search as run.
struct Run {
    class: usize,
    words: String,
    timed: TimedSearch,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Prints the latency of `runs` (p50, p99, max) and how they ended.
fn print_stats(label: &str, runs: &[&Run]) {
    let Some(l) = SearchLatency::of(runs.iter().map(|r| &r.timed)) else {
        return;
    };
    let [ranked, latest, too_broad] = l.ended;
    println!(
        "  {label:<16} {:>5} {:>9.2} {:>9.2} {:>9.2}   {ranked:>6} {latest:>6} {too_broad:>9}",
        l.count,
        ms(l.p50),
        ms(l.p99),
        ms(l.max),
    );
}

/// The bytes of the database file and of the search index in it.
async fn sizes(store: &SqliteStore) -> Result<(i64, i64), Box<dyn Error>> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(store.pool())
        .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
    )
    .fetch_one(store.pool())
    .await?;
    let index: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(pgsize), 0) FROM dbstat \
         WHERE name LIKE 'message_search%' OR name LIKE 'sqlite_autoindex_message_search%'",
    )
    .fetch_one(store.pool())
    .await?;
    Ok((total, index))
}

fn url(file: &Path) -> String {
    format!("sqlite://{}", file.display())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    let temp = tempfile::TempDir::new()?;
    let file = args
        .db
        .clone()
        .unwrap_or_else(|| temp.path().join("search_costs.db"));
    let mut rng = Rng(SEED);
    let store;
    let searcher;
    if args.reuse && file.exists() {
        store = SqliteStore::connect(&url(&file)).await?;
        let id: uuid::Uuid =
            sqlx::query_scalar("SELECT user_id FROM users WHERE username_key = 'searcher'")
                .fetch_one(store.pool())
                .await?;
        searcher = UserId::from_uuid(id);
        println!("reusing {}", file.display());
    } else {
        if file.exists() {
            return Err(format!("{} exists (add --reuse to search it)", file.display()).into());
        }
        store = SqliteStore::connect(&url(&file)).await?;
        println!("filling {} with {} messages", file.display(), args.messages);
        searcher = fill(&store, args.messages, &mut rng).await?;
    }
    let (total, index) = sizes(&store).await?;
    println!(
        "database: {:.1} MiB, of which the search index {:.1} MiB",
        total as f64 / 1_048_576.0,
        index as f64 / 1_048_576.0
    );

    for &common in &args.common_word_messages {
        search_as(&store, searcher, args.searches, common).await?;
    }
    store.pool().close().await;
    Ok(())
}

/// Runs `searches` searches as `searcher` through an engine that counts
/// words in more than `common` messages as too common to rank, and prints
/// their latency by class, where the time went, and the slowest.
async fn search_as(
    store: &SqliteStore,
    searcher: UserId,
    searches: usize,
    common: u64,
) -> Result<(), Box<dyn Error>> {
    // Searches go through the engine, as a server's do: word counts, the
    // search, and the views of the hits.
    println!("\nwords in more than {common} messages are too common to rank:");
    let engine = ChatEngine::builder()
        .store(Arc::new(store.clone()))
        .conversation_config(ConversationConfig {
            search_common_word_messages: common,
            // It measures searches one after another, far past any limit.
            search_limit: RateLimit::new(u32::MAX, Duration::from_secs(1)),
            ..ConversationConfig::default()
        })
        .jwt_secret(b"sqlite_search_costs: a secret for tokens never made".to_vec())
        .build()?;

    // The searches: words by rank, from the vocabulary the fill drew (it
    // is the first thing drawn from the same seed).
    let words = vocabulary(&mut Rng(SEED));
    let groups: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT conversation_id FROM conversation_members WHERE user_id = ?1")
            .bind(searcher.as_uuid())
            .fetch_all(store.pool())
            .await?;
    let pick =
        |rng: &mut Rng, (low, high): (usize, usize)| words[rng.between((low, high)) - 1].clone();
    let mut runs: Vec<Run> = Vec::with_capacity(searches);
    let mut query_rng = Rng(0x0005_EA2C);
    for n in 0..searches {
        let class = n % CLASSES.len();
        let (terms, conversation) = match class {
            0 => (pick(&mut query_rng, COMMON), None),
            1 => (pick(&mut query_rng, RARE), None),
            2 => {
                let common = pick(&mut query_rng, COMMON);
                (format!("{common} {}", pick(&mut query_rng, RARE)), None)
            }
            3 => {
                let first = pick(&mut query_rng, COMMON);
                (format!("{first} {}", pick(&mut query_rng, COMMON)), None)
            }
            _ => {
                let group = groups[query_rng.below(groups.len().max(1))];
                (
                    pick(&mut query_rng, COMMON),
                    Some(ConversationId::from_uuid(group)),
                )
            }
        };
        let timed = timed_search(&engine, searcher, &terms, conversation, PAGE).await?;
        runs.push(Run {
            class,
            words: terms,
            timed,
        });
    }

    println!(
        "\n{} searches of {PAGE} hits as the searcher; latency in ms:",
        runs.len()
    );
    println!(
        "  {:<16} {:>5} {:>9} {:>9} {:>9}   {:>6} {:>6} {:>9}",
        "class", "n", "p50", "p99", "max", "ranked", "latest", "too broad"
    );
    for (class, label) in CLASSES.iter().enumerate() {
        let of_class: Vec<&Run> = runs.iter().filter(|r| r.class == class).collect();
        print_stats(label, &of_class);
    }
    print_stats("all", &runs.iter().collect::<Vec<_>>());
    let answered: Vec<&Run> = (runs.iter())
        .filter(|r| r.timed.outcome != SearchOutcome::TooBroad)
        .collect();
    print_stats("all answered", &answered);
    println!("store reads of the searches (warm-up included):");
    for line in store_read_summary(&engine) {
        println!("  {line}");
    }

    runs.sort_by_key(|r| std::cmp::Reverse(r.timed.took));
    println!("\nslowest searches (messages holding the words, in the whole store):");
    for run in runs.iter().take(8) {
        let expression = run
            .words
            .split(' ')
            .map(|w| format!("\"{w}\""))
            .collect::<Vec<_>>()
            .join(" ");
        let matching: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM message_search WHERE message_search MATCH ?1")
                .bind(expression)
                .fetch_one(store.pool())
                .await?;
        println!(
            "  {:>8.2} ms  {:<16} {:<22} {matching:>8} matching, {} hits",
            ms(run.timed.took),
            CLASSES[run.class],
            run.words,
            run.timed.hits
        );
    }
    Ok(())
}
