//! The moderation hook through the engine: what it is asked, how its
//! allow / rewrite / refuse answers change what is stored, and what a
//! hook that hangs or answers nonsense does under each failure policy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chat_core::memory::MemoryStore;
use chat_core::message_hook::{Draft, DraftAction, OnHookFailure, Verdict};
use chat_core::model::ConversationKind;
use chat_core::testkit::fixtures::create_user;
use chat_core::{
    ChatEngine, ChatError, ConversationId, ConversationRef, GroupName, HookConfig, MessageContent,
    MessageHook, OutgoingMessage, PageRequest, Result, UserId,
};

/// What the test hook answers.
#[derive(Clone)]
enum Answer {
    Allow,
    /// Replaces every "darn" with "****".
    Censor,
    Refuse(Option<&'static str>),
    Rewrite(String),
    Hang,
    Fail,
}

/// A hook that answers as told and keeps every draft it was shown.
struct TestHook {
    answer: Mutex<Answer>,
    seen: Mutex<Vec<Draft>>,
}

#[async_trait]
impl MessageHook for TestHook {
    async fn review(&self, draft: &Draft) -> Result<Verdict> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(draft.clone());
        let answer = self
            .answer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        match answer {
            Answer::Allow => Ok(Verdict::Allow),
            Answer::Censor => Ok(Verdict::Rewrite(
                draft.content.as_str().replace("darn", "****"),
            )),
            Answer::Refuse(reason) => Ok(Verdict::Refuse {
                reason: reason.map(str::to_owned),
            }),
            Answer::Rewrite(text) => Ok(Verdict::Rewrite(text)),
            Answer::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(Verdict::Allow)
            }
            Answer::Fail => Err(ChatError::internal("the moderation service is down")),
        }
    }
}

struct World {
    engine: ChatEngine,
    hook: Arc<TestHook>,
    alice: UserId,
    bob: UserId,
    group: ConversationId,
}

async fn world(on_failure: OnHookFailure) -> World {
    let store = Arc::new(MemoryStore::new());
    let hook = Arc::new(TestHook {
        answer: Mutex::new(Answer::Allow),
        seen: Mutex::default(),
    });
    let engine = ChatEngine::builder()
        .store(store.clone())
        .message_hook(hook.clone())
        .hook_config(HookConfig {
            timeout: Duration::from_millis(100),
            on_failure,
        })
        .build()
        .expect("engine");
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    let group = engine
        .conversations()
        .create_group(alice, GroupName::parse("team").expect("name"), vec![bob])
        .await
        .expect("group")
        .conversation
        .id;
    World {
        engine,
        hook,
        alice,
        bob,
        group,
    }
}

impl World {
    fn answer(&self, answer: Answer) {
        *self.hook.answer.lock().unwrap_or_else(|e| e.into_inner()) = answer;
    }

    fn seen(&self) -> Vec<Draft> {
        std::mem::take(&mut *self.hook.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }

    async fn send(&self, text: &str) -> Result<chat_core::model::Message> {
        self.engine
            .conversations()
            .send(
                self.alice,
                ConversationRef::Group(self.group),
                OutgoingMessage::text(MessageContent::parse(text).expect("content")),
            )
            .await
            .map(|sent| sent.message)
    }

    /// Alice edits her message `id` to `text`.
    async fn edit(&self, id: chat_core::MessageId, text: &str) -> Result<()> {
        self.engine
            .conversations()
            .edit_message(
                self.alice,
                self.group,
                id,
                MessageContent::parse(text).expect("content"),
            )
            .await
            .map(|_| ())
    }

    /// The group's stored texts, oldest first.
    async fn history(&self) -> Vec<String> {
        let mut page = self
            .engine
            .conversations()
            .history(
                self.bob,
                ConversationRef::Group(self.group),
                PageRequest::latest(),
            )
            .await
            .expect("history")
            .messages;
        page.reverse();
        page.into_iter().map(|m| m.message.content).collect()
    }
}

#[tokio::test]
async fn the_hook_sees_each_new_message_and_edit_before_it_is_stored() {
    let w = world(OnHookFailure::Open).await;
    let sent = w.send("hello team").await.expect("allowed");
    let drafts = w.seen();
    assert_eq!(drafts.len(), 1);
    let d = &drafts[0];
    assert_eq!(d.action, DraftAction::Send);
    assert_eq!(d.conversation_id, w.group);
    assert_eq!(d.conversation_kind, ConversationKind::Group);
    assert_eq!(d.sender_id, w.alice);
    assert_eq!(d.content.as_str(), "hello team");
    assert_eq!(d.message_type, "text");
    assert_eq!(d.reply_to, None);

    w.edit(sent.id, "hello all").await.expect("edit allowed");
    let drafts = w.seen();
    assert_eq!(drafts.len(), 1);
    assert_eq!(
        drafts[0].action,
        DraftAction::Edit {
            message_id: sent.id
        }
    );
    assert_eq!(drafts[0].content.as_str(), "hello all");
    assert_eq!(w.history().await, vec!["hello all"]);
}

#[tokio::test]
async fn a_refused_message_is_not_stored_and_the_sender_hears_why() {
    let w = world(OnHookFailure::Open).await;
    w.answer(Answer::Refuse(Some("no links to that site, please")));
    let err = w.send("see evil.example").await.expect_err("refused");
    assert!(
        matches!(&err, ChatError::MessageRefused { reason } if reason == "no links to that site, please"),
        "{err:?}"
    );
    assert_eq!(err.code(), "MESSAGE_REFUSED");

    w.answer(Answer::Refuse(None));
    let err = w.send("again").await.expect_err("refused");
    assert!(err.to_string().contains("moderation"), "{err}");
    assert!(w.history().await.is_empty(), "nothing refused is stored");
}

#[tokio::test]
async fn a_rewrite_is_what_is_stored_and_what_mentions_come_from() {
    let w = world(OnHookFailure::Open).await;
    w.answer(Answer::Censor);
    let sent = w.send("darn it").await.expect("sent");
    assert_eq!(sent.content, "**** it", "the sender gets what was stored");

    // Mentions are read from the text that is stored, not the draft.
    w.answer(Answer::Rewrite("thanks @bob".into()));
    let sent = w.send("thanks everyone").await.expect("sent");
    assert_eq!(sent.mentions, vec![w.bob]);

    // An edit is rewritten the same way.
    w.answer(Answer::Censor);
    w.edit(sent.id, "darn, thanks").await.expect("edited");
    assert_eq!(w.history().await, vec!["**** it", "****, thanks"]);
}

#[tokio::test]
async fn a_refused_edit_keeps_the_text_the_message_had() {
    let w = world(OnHookFailure::Open).await;
    let sent = w.send("fine words").await.expect("sent");
    w.answer(Answer::Refuse(Some("not that")));
    let err = w.edit(sent.id, "bad words").await.expect_err("refused");
    assert_eq!(err.code(), "MESSAGE_REFUSED");
    assert_eq!(w.history().await, vec!["fine words"]);
}

#[tokio::test]
async fn failing_open_lets_the_message_through_unchanged() {
    let w = world(OnHookFailure::Open).await;
    for answer in [Answer::Hang, Answer::Fail, Answer::Rewrite("   ".into())] {
        w.answer(answer);
        w.send("still delivered").await.expect("fails open");
    }
    assert_eq!(w.history().await, vec!["still delivered"; 3]);
}

#[tokio::test]
async fn failing_closed_refuses_what_could_not_be_checked() {
    let w = world(OnHookFailure::Closed).await;
    // A hang (past the 100 ms timeout), an error, and a rewrite that is
    // no valid message text (blank, or past 10,000 characters).
    for answer in [
        Answer::Hang,
        Answer::Fail,
        Answer::Rewrite(" \n ".into()),
        Answer::Rewrite("x".repeat(10_001)),
    ] {
        w.answer(answer);
        let err = w.send("unchecked").await.expect_err("fails closed");
        assert_eq!(err.code(), "MODERATION_UNAVAILABLE", "{err:?}");
    }
    assert!(w.history().await.is_empty(), "nothing unchecked is stored");
    w.answer(Answer::Allow);
    w.send("checked").await.expect("the hook is back");
    assert_eq!(w.history().await, vec!["checked"]);
}

#[tokio::test]
async fn a_repeated_send_gets_its_stored_message_without_asking_again() {
    let w = world(OnHookFailure::Closed).await;
    w.answer(Answer::Censor);
    let keyed =
        |text: &str| OutgoingMessage::parse(text, None, Some("c-1")).expect("a valid message");
    let send = |m| {
        w.engine
            .conversations()
            .send(w.alice, ConversationRef::Group(w.group), m)
    };
    let first = send(keyed("darn")).await.expect("sent");
    assert!(first.rewritten && !first.replayed);
    assert_eq!(first.message.content, "****");
    assert_eq!(w.seen().len(), 1);

    // The ack was lost; the client sends again while the hook refuses
    // everything, then while it is down.
    for answer in [Answer::Refuse(None), Answer::Fail] {
        w.answer(answer);
        let again = send(keyed("darn")).await.expect("the first message");
        assert!(again.replayed);
        assert_eq!(again.message, first.message);
    }
    assert!(w.seen().is_empty(), "the hook was not asked again");
    assert_eq!(w.history().await, vec!["****"]);
}

#[tokio::test]
async fn without_a_hook_nothing_is_asked() {
    let store = Arc::new(MemoryStore::new());
    let engine = ChatEngine::builder()
        .store(store.clone())
        .build()
        .expect("engine");
    let alice = create_user(store.as_ref(), "alice").await.id;
    let bob = create_user(store.as_ref(), "bob").await.id;
    let sent = engine
        .conversations()
        .send(
            alice,
            ConversationRef::Direct(bob),
            OutgoingMessage::text(MessageContent::parse("darn").expect("content")),
        )
        .await
        .expect("sent");
    assert_eq!(sent.message.content, "darn");
}
