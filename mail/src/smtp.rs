//! Handing a built message to an SMTP server.

use std::fmt;
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::Address;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use crate::egress::{self, Egress};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmtpSecurity {
    /// Plain text throughout: only for a relay on localhost or a test server.
    None,
    /// Plain connection upgraded with STARTTLS, which is *required* (a server
    /// not offering it is an error, not a silent downgrade). Usually port 587.
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS). Usually port 465.
    Tls,
}

/// Where and how to submit mail. Certificates are checked against the
/// Mozilla root set (webpki-roots) and `host`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Server host name (also the name its certificate must carry).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// Login, when the server requires authentication (PLAIN or LOGIN).
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
    /// Bound on the whole SMTP conversation, connecting included.
    pub timeout: Duration,
    /// Which addresses `host` may resolve to: [`Egress::PublicOnly`] for settings a
    /// tenant typed.
    pub egress: Egress,
}

impl fmt::Debug for SmtpSettings {
    // Hand-written so that the password never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("egress", &self.egress)
            .finish()
    }
}

/// Why a send failed, split by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later: a 4xx reply (greylisting, mailbox busy, rate limit),
    /// a connection or TLS failure, or a timeout.
    ///
    /// After a timeout the server may have accepted the message before the
    /// connection broke; a retry then delivers it twice, which is why the
    /// Message-ID is derived from the idempotency key.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// Do not retry this message: a 5xx reply (unknown recipient, rejected
    /// content, failed authentication) or an address we cannot use.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Submits `raw` (e.g. from [`crate::build_message`]) to the server, with
/// envelope sender `envelope_from` (where bounces go) and the single envelope
/// recipient `to`. The bytes go out unchanged (apart from SMTP dot-stuffing),
/// so a DKIM signature stays valid.
///
/// Returns the server's final reply, e.g. `250 2.0.0 Ok: queued as 4Xz9`.
/// One connection per call; the EHLO name is the sender's domain.
pub async fn send(
    settings: &SmtpSettings,
    envelope_from: &str,
    to: &str,
    raw: &[u8],
) -> Result<String, SendError> {
    let address = |role: &str, s: &str| {
        s.parse::<Address>()
            .map_err(|e| SendError::Permanent(format!("invalid {role} address {s:?}: {e}")))
    };
    let from = address("envelope sender", envelope_from)?;
    let rcpt = address("recipient", to)?;
    let envelope = Envelope::new(Some(from.clone()), vec![rcpt])
        .map_err(|e| SendError::Permanent(format!("invalid envelope: {e}")))?;

    let server = format!("{}:{}", settings.host, settings.port);
    let tls_parameters = || {
        TlsParameters::new(settings.host.clone())
            .map_err(|e| SendError::Transient(format!("{server}: TLS setup failed: {e}")))
    };
    let refused = |e: lettre::transport::smtp::Error| {
        let text = format!("{server}: {e}");
        // Client-side refusals (e.g. the server lacks SMTPUTF8 for a
        // non-ASCII address) will not change on retry.
        if e.is_permanent() || e.is_client() {
            SendError::Permanent(text)
        } else {
            SendError::Transient(text)
        }
    };
    // Without lettre's `hostname` feature the EHLO name would be the literal
    // "[127.0.0.1]", which receivers score as suspicious; the sender's domain
    // is what we can vouch for.
    let hello = ClientId::Domain(from.domain().to_owned());
    // lettre always ends DATA with "\r\n.\r\n". When the message already ends
    // in CRLF, that CRLF *is* the first half of the terminator (RFC 5321
    // §4.1.1.4); without trimming it the recipient would get an extra empty
    // line, i.e. not the bytes we built (and signed).
    let payload = raw.strip_suffix(b"\r\n").unwrap_or(raw);
    let exchange = async {
        // The checked address is the one connected to; `host` still names the server
        // for TLS.
        let address = egress::resolve(&settings.host, settings.port, settings.egress)
            .await
            .map_err(|e| match e {
                egress::EgressError::Unresolved => SendError::Transient(format!("{server}: {e}")),
                egress::EgressError::NotAllowed => SendError::Permanent(e.to_string()),
            })?;
        let mut conn = match settings.security {
            // lettre opens the socket itself for implicit TLS, so Nagle stays on
            // there: about 40 ms more per message, correct all the same.
            SmtpSecurity::Tls => AsyncSmtpConnection::connect_tokio1(
                address,
                Some(settings.timeout),
                &hello,
                Some(tls_parameters()?),
                None,
            )
            .await
            .map_err(refused)?,
            SmtpSecurity::None | SmtpSecurity::StartTls => {
                let tcp = TcpStream::connect(address)
                    .await
                    .map_err(|e| SendError::Transient(format!("{server}: {e}")))?;
                // lettre writes the message and its terminating "." line
                // separately; with Nagle on, the second waits for the server's
                // delayed ACK (about 40 ms on Linux) on every message.
                tcp.set_nodelay(true)
                    .map_err(|e| SendError::Transient(format!("{server}: {e}")))?;
                let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello)
                    .await
                    .map_err(refused)?;
                if settings.security == SmtpSecurity::StartTls {
                    conn.starttls(tls_parameters()?, &hello)
                        .await
                        .map_err(refused)?;
                }
                conn
            }
        };
        if let Some(user) = &settings.username {
            let credentials =
                Credentials::new(user.clone(), settings.password.clone().unwrap_or_default());
            conn.auth(DEFAULT_MECHANISMS, &credentials)
                .await
                .map_err(refused)?;
        }
        let response = conn.send(&envelope, payload).await.map_err(refused)?;
        // The message is accepted; a failed goodbye changes nothing.
        let _ = conn.quit().await;
        Ok::<_, SendError>(response)
    };

    // lettre's async connection only times out the TCP connect; a server that
    // stops answering mid-conversation would hang us forever without this.
    match tokio::time::timeout(settings.timeout, exchange).await {
        Err(_elapsed) => Err(SendError::Transient(format!(
            "{server}: no complete SMTP exchange within {} ms",
            settings.timeout.as_millis()
        ))),
        Ok(Err(e)) => Err(e),
        Ok(Ok(response)) => {
            let lines: Vec<&str> = response.message().collect();
            Ok(format!("{} {}", response.code(), lines.join(" ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    use super::*;
    use crate::dkim::test_key::key;
    use crate::message::tests::sample;
    use crate::{build_message, dkim_verify};

    #[derive(Clone, Copy, PartialEq)]
    enum Rcpt {
        Accept,
        Reject550,
        Defer451,
    }

    #[derive(Default, Debug)]
    struct Transcript {
        commands: Vec<String>,
        /// The DATA payload, dot-unstuffed, terminator removed.
        data: Option<Vec<u8>>,
    }

    /// A one-connection SMTP server speaking just enough of RFC 5321.
    async fn smtp_server(rcpt: Rcpt) -> (SocketAddr, tokio::task::JoinHandle<Transcript>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let (read, mut write) = stream.into_split();
            let mut read = BufReader::new(read);
            let mut t = Transcript::default();
            write
                .write_all(b"220 test.local ESMTP ready\r\n")
                .await
                .unwrap();
            loop {
                let mut line = Vec::new();
                if read.read_until(b'\n', &mut line).await.unwrap() == 0 {
                    break;
                }
                let command = String::from_utf8_lossy(&line).trim_end().to_string();
                t.commands.push(command.clone());
                let verb = command
                    .split([' ', ':'])
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-test.local\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 10000000\r\n",
                    "AUTH" => b"235 2.7.0 Authentication successful\r\n",
                    "MAIL" => b"250 2.1.0 Ok\r\n",
                    "RCPT" => match rcpt {
                        Rcpt::Accept => b"250 2.1.5 Ok\r\n",
                        Rcpt::Reject550 => b"550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown\r\n",
                        Rcpt::Defer451 => b"451 4.7.1 Greylisted, try again later\r\n",
                    },
                    "DATA" => {
                        write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await.unwrap();
                        let mut data = Vec::new();
                        loop {
                            let mut line = Vec::new();
                            read.read_until(b'\n', &mut line).await.unwrap();
                            if line == b".\r\n" {
                                break;
                            }
                            // Undo dot-stuffing (RFC 5321 §4.5.2).
                            let unstuffed = if line.starts_with(b".") { &line[1..] } else { &line[..] };
                            data.extend_from_slice(unstuffed);
                        }
                        t.data = Some(data);
                        b"250 2.0.0 Ok: queued as 4Xz9\r\n"
                    }
                    "QUIT" => {
                        let _ = write.write_all(b"221 2.0.0 Bye\r\n").await;
                        break;
                    }
                    _ => b"250 Ok\r\n",
                };
                write.write_all(reply).await.unwrap();
            }
            t
        });
        (addr, handle)
    }

    fn settings(addr: SocketAddr) -> SmtpSettings {
        SmtpSettings {
            host: addr.ip().to_string(),
            port: addr.port(),
            security: SmtpSecurity::None,
            username: None,
            password: None,
            timeout: Duration::from_secs(5),
            egress: Egress::AnyAddress,
        }
    }

    #[tokio::test]
    async fn tenant_settings_never_reach_a_private_address() {
        let (addr, _server) = smtp_server(Rcpt::Accept).await;
        let mut settings = settings(addr);
        settings.egress = Egress::PublicOnly;
        let raw = build_message(&sample(), None).unwrap();
        let err = send(&settings, "ada@acme.example", "lead@example.com", &raw)
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
        assert!(
            !err.to_string().contains("127.0.0.1"),
            "no address in: {err}"
        );
    }

    #[tokio::test]
    async fn delivers_exact_bytes() {
        let (addr, server) = smtp_server(Rcpt::Accept).await;
        let mut mail = sample();
        // Lines starting with a dot must survive dot-stuffing.
        mail.text = "Hi,\n.hidden line\n..two dots\n.\nend\n".into();
        let raw = build_message(&mail, Some(("acme.test", "ll1", key()))).unwrap();

        let mut s = settings(addr);
        s.username = Some("user".into());
        s.password = Some("secret".into());
        let reply = send(&s, "bounces@acme.test", "lead@example.test", &raw)
            .await
            .unwrap();
        assert_eq!(reply, "250 2.0.0 Ok: queued as 4Xz9");

        let t = server.await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(t.data.as_deref().unwrap()),
            String::from_utf8_lossy(&raw)
        );
        assert!(
            t.commands.iter().any(|c| c == "EHLO acme.test"),
            "{:?}",
            t.commands
        );
        assert!(
            t.commands.iter().any(|c| c.starts_with("AUTH PLAIN")),
            "{:?}",
            t.commands
        );
        assert!(
            t.commands
                .iter()
                .any(|c| c == "MAIL FROM:<bounces@acme.test>"),
            "{:?}",
            t.commands
        );
        assert!(
            t.commands
                .iter()
                .any(|c| c == "RCPT TO:<lead@example.test>"),
            "{:?}",
            t.commands
        );
        assert_eq!(
            dkim_verify(&t.data.unwrap(), &key().public_key_b64()),
            Ok(true)
        );
    }

    #[tokio::test]
    async fn rejected_recipient_is_permanent() {
        let (addr, server) = smtp_server(Rcpt::Reject550).await;
        let err = send(
            &settings(addr),
            "b@acme.test",
            "nobody@example.test",
            b"Subject: x\r\n\r\nx\r\n",
        )
        .await
        .unwrap_err();
        match &err {
            SendError::Permanent(text) => assert!(text.contains("User unknown"), "{text}"),
            other => panic!("expected Permanent, got {other:?}"),
        }
        let t = server.await.unwrap();
        assert!(t.data.is_none(), "no DATA after a rejected recipient");
    }

    #[tokio::test]
    async fn deferral_is_transient() {
        let (addr, server) = smtp_server(Rcpt::Defer451).await;
        let err = send(
            &settings(addr),
            "b@acme.test",
            "lead@example.test",
            b"Subject: x\r\n\r\nx\r\n",
        )
        .await
        .unwrap_err();
        match &err {
            SendError::Transient(text) => assert!(text.contains("Greylisted"), "{text}"),
            other => panic!("expected Transient, got {other:?}"),
        }
        server.await.unwrap();
    }

    #[tokio::test]
    async fn nothing_listening_is_transient() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let err = send(
            &settings(addr),
            "b@acme.test",
            "lead@example.test",
            b"x\r\n",
        )
        .await
        .unwrap_err();
        assert!(matches!(err, SendError::Transient(_)), "{err:?}");
    }

    #[tokio::test]
    async fn silent_server_times_out_as_transient() {
        // Accepts the connection, never greets.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _keep = tokio::spawn(async move {
            let (_stream, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let mut s = settings(addr);
        s.timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let err = send(&s, "b@acme.test", "lead@example.test", b"x\r\n")
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        match err {
            SendError::Transient(text) => assert!(text.contains("within 300 ms"), "{text}"),
            other => panic!("expected Transient, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn bad_addresses_are_permanent() {
        let s = settings("127.0.0.1:9".parse().unwrap());
        let err = send(&s, "not-an-address", "lead@example.test", b"x\r\n")
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
        let err = send(&s, "b@acme.test", "lead@", b"x\r\n")
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Permanent(_)), "{err:?}");
    }

    #[test]
    fn debug_redacts_password() {
        let mut s = settings("127.0.0.1:25".parse().unwrap());
        s.password = Some("hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
