//! The terminal client's logic (the `terminal_chat` example is its command
//! line): commands and messages read line by line, events printed as they
//! arrive. Input and output are parameters, so the tests can script it.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::Duration;

use chat_client::{ChatClient, ClientError, ServerFrame, Session, UserClient, WsSender, frames};
use chat_core::UserId;
use chat_core::model::{MessageTarget, MessageView};
use chat_core::{ConversationId, MessageId};
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _};

/// Where plain lines go.
#[derive(Debug, Clone)]
enum Target {
    Direct { user: UserId },
    Group { id: ConversationId, name: String },
}

/// The help text (`/help`).
pub const HELP: &str = "\
commands:
  /to USERNAME   write to USERNAME (a direct conversation)
  /group NAME    write to your group NAME
  /list          your conversations, with unread counts
  /help          this text
  /quit          leave
anything else is sent to the current conversation";

struct Terminal<W> {
    out: W,
    rest: UserClient,
    me: UserId,
    names: HashMap<UserId, String>,
    target: Option<Target>,
    sent: u64,
    /// The `client_msg_id`s of sends the server has not answered yet:
    /// `/quit` waits for them, so a line typed just before it is not lost.
    unanswered: HashSet<String>,
}

/// How long `/quit` waits for the server to confirm the last sends.
const QUIT_GRACE: Duration = Duration::from_secs(10);

impl<W: Write> Terminal<W> {
    fn say(&mut self, line: &str) {
        // A terminal that cannot be written to has nobody to tell.
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }

    async fn name_of(&mut self, user: UserId) -> String {
        if let Some(name) = self.names.get(&user) {
            return name.clone();
        }
        let name = match self.rest.profile(user).await {
            Ok(p) => p["username"].as_str().unwrap_or("?").to_owned(),
            Err(_) => user.to_string(),
        };
        self.names.insert(user, name.clone());
        name
    }

    async fn show(&mut self, view: &MessageView) {
        let sender = self.name_of(view.message.sender_id).await;
        let place = match &view.target {
            MessageTarget::Direct { .. } => String::new(),
            MessageTarget::Group { group_id } => format!("#{} ", self.group_name(*group_id).await),
        };
        let content = view.message.content.replace('\n', "\n    ");
        self.say(&format!("{place}{sender}: {content}"));
    }

    async fn group_name(&mut self, id: ConversationId) -> String {
        if let Some(Target::Group { id: t, name }) = &self.target
            && *t == id
        {
            return name.clone();
        }
        self.rest
            .conversations()
            .await
            .ok()
            .and_then(|list| {
                list["conversations"].as_array().and_then(|all| {
                    all.iter()
                        .find(|c| c["conversation_id"] == id.to_string())
                        .and_then(|c| c["name"].as_str().map(str::to_owned))
                })
            })
            .unwrap_or_else(|| "group".to_owned())
    }

    /// Handles one typed line; `None` means quit, otherwise a frame to send.
    async fn command(&mut self, line: &str) -> Option<Option<chat_client::ClientFrame>> {
        let line = line.trim_end_matches(['\r', '\n']);
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "/quit" => return None,
            "/help" => self.say(HELP),
            "/to" => match self.rest.search(rest.trim()).await {
                Ok(hits) => match hits
                    .into_iter()
                    .find(|h| h.username.eq_ignore_ascii_case(rest.trim()))
                {
                    Some(hit) => {
                        self.names.insert(hit.user_id, hit.username.clone());
                        self.say(&format!("now writing to {}", hit.username));
                        self.target = Some(Target::Direct { user: hit.user_id });
                    }
                    None => self.say(&format!("! nobody is called {}", rest.trim())),
                },
                Err(e) => self.error(&e),
            },
            "/group" => match self.rest.conversations().await {
                Ok(list) => {
                    let found = list["conversations"].as_array().and_then(|all| {
                        all.iter()
                            .find(|c| c["kind"] == "group" && c["name"] == rest.trim())
                    });
                    match found.and_then(|c| c["conversation_id"].as_str()?.parse().ok()) {
                        Some(id) => {
                            self.say(&format!("now writing to #{}", rest.trim()));
                            self.target = Some(Target::Group {
                                id,
                                name: rest.trim().to_owned(),
                            });
                        }
                        None => self.say(&format!("! you have no group called {}", rest.trim())),
                    }
                }
                Err(e) => self.error(&e),
            },
            "/list" => match self.rest.conversations().await {
                Ok(list) => {
                    for c in list["conversations"].as_array().into_iter().flatten() {
                        let title = c["name"]
                            .as_str()
                            .map(|n| format!("#{n}"))
                            .or_else(|| c["peer"]["username"].as_str().map(str::to_owned))
                            .unwrap_or_default();
                        self.say(&format!("  {title:<24} {} unread", c["unread_count"]));
                    }
                }
                Err(e) => self.error(&e),
            },
            _ if word.starts_with('/') => {
                self.say(&format!("! unknown command {word}; /help lists them"))
            }
            _ if line.trim().is_empty() => {}
            _ => {
                self.sent += 1;
                let id = format!("tc-{}-{}", self.me, self.sent);
                if self.target.is_some() {
                    self.unanswered.insert(id.clone());
                }
                return Some(match &self.target {
                    Some(Target::Direct { user, .. }) => {
                        Some(frames::send_direct(*user, line, Some(&id)))
                    }
                    Some(Target::Group { id: group, .. }) => {
                        Some(frames::send_group(*group, line, Some(&id)))
                    }
                    None => {
                        self.say("! pick a conversation first: /to USERNAME or /group NAME");
                        None
                    }
                });
            }
        }
        Some(None)
    }

    fn error(&mut self, e: &ClientError) {
        self.say(&format!("! {}: {e}", e.code()));
    }
}

/// Runs the terminal until `/quit`, the end of `input`, or the server
/// closing the connection.
///
/// # Errors
/// Connection failures.
pub async fn run<R, W>(
    client: &ChatClient,
    session: &Session,
    input: R,
    out: W,
) -> chat_client::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: Write,
{
    let ws = client.connect(&session.access_token).await?;
    let (mut tx, mut rx) = ws.split();
    let mut term = Terminal {
        out,
        rest: client.user(session),
        me: session.user_id,
        names: HashMap::new(),
        target: None,
        sent: 0,
        unanswered: HashSet::new(),
    };
    let mut lines = input.lines();
    term.say("connected; /help lists the commands");
    let mut open = true;
    while open {
        tokio::select! {
            line = lines.next_line() => {
                let Ok(Some(line)) = line else { break };
                match term.command(&line).await {
                    None => break,
                    Some(Some(frame)) => tx.send(&frame).await?,
                    Some(None) => {}
                }
            }
            frame = rx.next() => open = term.on_frame(frame?, &mut tx).await?,
        }
    }
    if open && !term.unanswered.is_empty() {
        let waiting = term.unanswered.len();
        term.say(&format!(
            "-- waiting for {waiting} message(s) to be sent --"
        ));
        let deadline = tokio::time::sleep(QUIT_GRACE);
        tokio::pin!(deadline);
        while open && !term.unanswered.is_empty() {
            tokio::select! {
                () = &mut deadline => break,
                frame = rx.next() => open = term.on_frame(frame?, &mut tx).await?,
            }
        }
        if !term.unanswered.is_empty() {
            let lost = term.unanswered.len();
            term.say(&format!(
                "! {lost} message(s) were not confirmed by the server"
            ));
        }
    }
    let _ = tx.close().await;
    Ok(())
}

impl<W: Write> Terminal<W> {
    /// Shows one server frame (`None`: the server closed the connection)
    /// and answers it; returns whether the connection is still open.
    async fn on_frame(
        &mut self,
        frame: Option<ServerFrame>,
        tx: &mut WsSender,
    ) -> chat_client::Result<bool> {
        let Some(frame) = frame else {
            self.say("the server closed the connection");
            return Ok(false);
        };
        match frame {
            ServerFrame::MessageNew(view) | ServerFrame::GroupMessageNew(view) => {
                self.show(&view).await;
                tx.send(&frames::ack_through(
                    view.message.conversation_id,
                    view.message.seq,
                ))
                .await?;
                // The terminal prints every message in full as it comes:
                // what was shown has been read.
                tx.send(&frames::read(view.message.id)).await?;
            }
            ServerFrame::Offline { messages, .. } => {
                self.say(&format!(
                    "-- {} message(s) while you were away --",
                    messages.len()
                ));
                let ids = messages.iter().map(|m| m.message.message.id).collect();
                let mut newest: HashMap<ConversationId, MessageId> = HashMap::new();
                for m in &messages {
                    self.show(&m.message).await;
                    newest.insert(m.message.message.conversation_id, m.message.message.id);
                }
                tx.send(&frames::ack_ids(ids)).await?;
                for id in newest.into_values() {
                    tx.send(&frames::read(id)).await?;
                }
            }
            ServerFrame::MessageSent(sent) => {
                if let Some(id) = &sent.client_msg_id {
                    self.unanswered.remove(id);
                }
            }
            ServerFrame::Typing(t) if t.is_typing => {
                let who = self.name_of(t.user_id).await;
                self.say(&format!("({who} is typing…)"));
            }
            ServerFrame::Error(e) => {
                if let Some(id) = &e.client_msg_id {
                    self.unanswered.remove(id);
                }
                self.say(&format!("! {}: {}", e.code, e.message));
            }
            _ => {}
        }
        Ok(true)
    }
}
