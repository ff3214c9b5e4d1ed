//! The terminal client, scripted against a real server on a free port:
//! commands, sending, and what arrives printed.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{server, sign_up};
use examples::terminal_chat;
use tokio::io::{AsyncWriteExt as _, BufReader};

#[derive(Clone, Default)]
struct Screen(Arc<Mutex<Vec<u8>>>);

impl Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Screen {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    async fn wait_for(&self, needle: &str) {
        for _ in 0..200 {
            if self.text().contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "{needle:?} never appeared; the screen shows:\n{}",
            self.text()
        );
    }
}

#[tokio::test]
async fn a_scripted_session_sends_receives_and_lists() {
    let client = server().await;
    let alice = sign_up(&client, "alice").await;
    let bob = sign_up(&client, "bob").await;
    let group = client
        .user(&bob)
        .create_group("team", &[alice.user_id])
        .await
        .expect("group");
    // Waiting for alice when she connects.
    client
        .user(&bob)
        .send_direct(alice.user_id, "welcome", None)
        .await
        .expect("send");

    let (mut keyboard, input) = tokio::io::duplex(4096);
    let screen = Screen::default();
    let terminal = {
        let (client, alice, screen) = (client.clone(), alice.clone(), screen.clone());
        tokio::spawn(async move {
            terminal_chat::run(&client, &alice, BufReader::new(input), screen).await
        })
    };
    screen.wait_for("1 message(s) while you were away").await;
    screen.wait_for("bob: welcome").await;

    keyboard
        .write_all(b"hello?\n/to nobody\n/to bob\nhi bob\n")
        .await
        .expect("type");
    screen.wait_for("! pick a conversation first").await;
    screen.wait_for("! nobody is called nobody").await;
    screen.wait_for("now writing to bob").await;

    // Bob hears it, and answers in the group.
    let page = loop {
        let conversations = client.user(&bob).conversations().await.expect("list");
        if conversations["conversations"]
            .as_array()
            .is_some_and(|all| all.iter().any(|c| c["last_message"]["content"] == "hi bob"))
        {
            break conversations;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(page.to_string().contains("hi bob"));
    client
        .user(&bob)
        .send_group(group, "standup in 5", None)
        .await
        .expect("send");
    screen.wait_for("#team bob: standup in 5").await;
    // What the terminal printed counts as read: nothing stays unread.
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let list = client.user(&alice).conversations().await.expect("list");
            let all = list["conversations"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !all.is_empty() && all.iter().all(|c| c["unread_count"] == 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("alice's conversations all read within 10 s");

    keyboard
        .write_all(b"/group team\nready\n/list\n/quit\n")
        .await
        .expect("type");
    terminal.await.expect("task").expect("run");
    let text = screen.text();
    assert!(text.contains("now writing to #team"), "{text}");
    let history = client
        .user(&bob)
        .history(group, Some(10), None)
        .await
        .expect("history");
    let contents: Vec<_> = history
        .messages
        .iter()
        .map(|m| m.message.content.as_str())
        .collect();
    assert_eq!(contents, vec!["ready", "standup in 5"]);
    assert!(text.contains("#team"), "{text}");
    assert!(
        text.contains("0 unread") && !text.contains("1 unread"),
        "{text}"
    );
}
