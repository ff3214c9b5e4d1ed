//! The SMTP mailer against a minimal SMTP server on a local port.

use chat_core::{Mailer, OutgoingMail};
use chat_server::smtp::SmtpMailer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Accepts one SMTP session and returns the envelope and the DATA.
async fn fake_smtp_server() -> (u16, oneshot::Receiver<(Vec<String>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accept");
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let mut commands = Vec::new();
        let mut data = String::new();
        write
            .write_all(b"220 fake.test ESMTP\r\n")
            .await
            .expect("greet");
        while let Ok(Some(line)) = lines.next_line().await {
            let upper = line.to_ascii_uppercase();
            commands.push(line.clone());
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250-fake.test\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("DATA") {
                write.write_all(b"354 go ahead\r\n").await.expect("write");
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    data.push_str(&l);
                    data.push('\n');
                }
                b"250 queued\r\n"
            } else if upper.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await.expect("write");
                break;
            } else {
                b"250 ok\r\n"
            };
            write.write_all(reply).await.expect("write");
        }
        let _ = tx.send((commands, data));
    });
    (port, rx)
}

#[tokio::test]
async fn the_smtp_mailer_delivers_the_message_to_the_server() {
    let (port, received) = fake_smtp_server().await;
    let mailer = SmtpMailer::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Chat <no-reply@chat.test>",
    )
    .expect("mailer");
    mailer
        .send(OutgoingMail {
            to: "alice@example.com".into(),
            subject: "Reset your chat password".into(),
            body: "open http://chat.test/#reset-token=abc".into(),
        })
        .await
        .expect("send");
    drop(mailer);
    let (commands, data) = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .expect("in time")
        .expect("session");
    assert!(
        commands
            .iter()
            .any(|c| c.contains("MAIL FROM:<no-reply@chat.test>")),
        "{commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.contains("RCPT TO:<alice@example.com>")),
        "{commands:?}"
    );
    assert!(data.contains("Subject: Reset your chat password"), "{data}");
    assert!(data.contains("#reset-token=abc"), "{data}");
}

#[test]
fn a_malformed_smtp_url_is_a_configuration_error() {
    let err = SmtpMailer::new("ftp://nowhere", "a@b.co").expect_err("bad scheme");
    assert_eq!(err.code(), "INVALID_CONFIG");
}
