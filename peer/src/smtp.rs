//! The SMTP side: a minimal RFC 5321 server, enough for an SMTP client
//! without TLS (lettre's, in our server), that keeps every message it is
//! given.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::{mime, Channel, Received, Shared};

/// Far above RFC 5321's 1000 octets, so that sloppy clients still work, yet
/// small enough that a line with no end cannot exhaust memory.
const MAX_LINE: usize = 64 * 1024;
/// The SIZE we advertise and enforce.
const MAX_MESSAGE: usize = 25 * 1024 * 1024;
const MAX_RECIPIENTS: usize = 100;
/// A client that stops talking should not hold a task forever.
const IDLE: Duration = Duration::from_secs(300);

/// Clients disagree on padding, so AUTH responses decode with or without it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const EHLO_REPLY: &str =
    "250-peer\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 26214400";

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = Arc::clone(&shared);
                    let mut stopped = stopped.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = stopped.changed() => {}
                            () = session(stream, &shared) => {}
                        }
                    });
                }
                // Accept fails for reasons such as running out of file
                // descriptors, which pass; retrying at once would spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

async fn session(stream: TcpStream, shared: &Shared) {
    // Replies are whole lines written at once; Nagle would only delay them.
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let mut conn = Conn {
        reader: BufReader::new(read),
        writer: write,
    };
    conn.serve(|envelope, raw| accept(shared, envelope, &raw))
        .await;
}

/// Stores a message and returns the id it was queued as.
fn accept(shared: &Shared, envelope: Envelope, raw: &[u8]) -> String {
    let parsed = mime::parse(raw);
    let id = parsed
        .message_id
        .clone()
        .unwrap_or_else(|| format!("{}@peer", uuid::Uuid::new_v4().simple()));
    shared.accept(Received {
        id,
        channel: Channel::Email,
        provider: None,
        from: envelope.from,
        to: envelope.to.into_iter().next().unwrap_or_default(),
        subject: parsed.subject,
        body: parsed.text,
        html: parsed.html,
        headers: parsed.headers,
        attachments: parsed.attachments,
        idempotency_key: parsed.message_id,
        times_received: 1,
        events: Vec::new(),
        received_at: chrono::Utc::now(),
    })
}

/// The addresses of one mail transaction.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Envelope {
    from: String,
    to: Vec<String>,
}

/// The result of reading a DATA section.
#[derive(Debug, PartialEq)]
enum Data {
    /// The message with dots unstuffed and `\n` line ends.
    Message(Vec<u8>),
    /// Read to the end but dropped, being over the size limit.
    TooBig,
}

fn too_long() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "line too long")
}

/// Reads one line without its CRLF (or bare LF). `None` at end of input,
/// including a last line cut off without a line end.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(None);
        }
        let (taken, complete) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        // The +2 leaves room for the line end itself.
        if line.len() + taken > max + 2 {
            return Err(too_long());
        }
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if complete {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

/// Reads a DATA section up to the lone "." line, undoing dot-stuffing.
/// `None` if the input ends first.
async fn read_data<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    max_size: usize,
) -> io::Result<Option<Data>> {
    let mut message = Vec::new();
    let mut too_big = false;
    loop {
        let Some(line) = timed(read_line(reader, MAX_LINE)).await? else {
            return Ok(None);
        };
        if line == b"." {
            return Ok(Some(if too_big {
                Data::TooBig
            } else {
                Data::Message(message)
            }));
        }
        let content = line.strip_prefix(b".").unwrap_or(&line);
        if too_big {
            continue;
        }
        if message.len() + content.len() + 1 > max_size {
            // Keep reading so the client hears the refusal in step.
            too_big = true;
            message = Vec::new();
        } else {
            message.extend_from_slice(content);
            message.push(b'\n');
        }
    }
}

async fn timed<T>(read: impl std::future::Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(IDLE, read)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "idle"))?
}

/// The reverse-path or forward-path after `MAIL FROM:` / `RCPT TO:`, with
/// any ESMTP parameters after it ignored.
fn path(argument: &str, prefix: &str) -> Option<String> {
    let head = argument.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = argument[prefix.len()..].trim_start();
    match rest.strip_prefix('<') {
        Some(inner) => inner.split_once('>').map(|(address, _)| address.to_owned()),
        None => rest.split_whitespace().next().map(str::to_owned),
    }
}

/// Whether an AUTH response decodes; the peer accepts any credentials.
fn valid_response(response: &[u8]) -> bool {
    // A stray space, say a trailing one, does not make a response undecodable.
    let compact: Vec<u8> = response
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    response == b"=" || BASE64.decode(compact).is_ok()
}

struct Conn<R, W> {
    reader: R,
    writer: W,
}

impl<R: AsyncBufRead + Unpin, W: AsyncWrite + Unpin> Conn<R, W> {
    /// Runs a whole conversation; `accept` stores a message and returns the
    /// id it was queued as.
    async fn serve(&mut self, accept: impl Fn(Envelope, Vec<u8>) -> String) {
        if let Err(error) = self.conversation(accept).await {
            let farewell = match error.kind() {
                io::ErrorKind::InvalidData => Some("500 5.5.2 Line too long"),
                io::ErrorKind::TimedOut => Some("421 4.4.2 peer Idle timeout, closing"),
                _ => None,
            };
            if let Some(farewell) = farewell {
                // The client misbehaved and is being dropped; if it cannot
                // hear why, there is no one else to tell.
                let _ = self.reply(farewell).await;
            }
        }
        let _ = self.writer.shutdown().await;
    }

    async fn reply(&mut self, text: &str) -> io::Result<()> {
        // One write per reply: a reply split over two segments waits for the
        // client's delayed ACK (about 40 ms on Linux) before its line end goes out.
        self.writer
            .write_all(format!("{text}\r\n").as_bytes())
            .await?;
        self.writer.flush().await
    }

    async fn line(&mut self) -> io::Result<Option<Vec<u8>>> {
        timed(read_line(&mut self.reader, MAX_LINE)).await
    }

    async fn conversation(
        &mut self,
        accept: impl Fn(Envelope, Vec<u8>) -> String,
    ) -> io::Result<()> {
        self.reply("220 peer ESMTP").await?;
        let mut greeted = false;
        let mut authenticated = false;
        let mut envelope: Option<Envelope> = None;
        while let Some(line) = self.line().await? {
            let line = String::from_utf8_lossy(&line).into_owned();
            let (verb, argument) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            let argument = argument.trim();
            let reply = match verb.to_ascii_uppercase().as_str() {
                "EHLO" | "HELO" if argument.is_empty() => {
                    "501 5.5.4 A domain is required".to_owned()
                }
                "EHLO" => {
                    greeted = true;
                    envelope = None;
                    EHLO_REPLY.to_owned()
                }
                "HELO" => {
                    greeted = true;
                    envelope = None;
                    "250 peer".to_owned()
                }
                "AUTH" if !greeted => "503 5.5.1 Send EHLO first".to_owned(),
                "AUTH" if authenticated => "503 5.5.1 Already authenticated".to_owned(),
                "AUTH" if envelope.is_some() => {
                    "503 5.5.1 AUTH is not allowed during a mail transaction".to_owned()
                }
                "AUTH" => {
                    let Some(reply) = self.authenticate(argument).await? else {
                        return Ok(());
                    };
                    authenticated = reply.starts_with("235");
                    reply
                }
                "MAIL" if !greeted => "503 5.5.1 Send EHLO first".to_owned(),
                "MAIL" if envelope.is_some() => "503 5.5.1 Sender already given".to_owned(),
                "MAIL" => match path(argument, "FROM:") {
                    Some(from) => {
                        envelope = Some(Envelope {
                            from,
                            to: Vec::new(),
                        });
                        "250 2.1.0 Ok".to_owned()
                    }
                    None => "501 5.5.4 Syntax: MAIL FROM:<address>".to_owned(),
                },
                "RCPT" => match (envelope.as_mut(), path(argument, "TO:")) {
                    (None, _) => "503 5.5.1 Need MAIL first".to_owned(),
                    (Some(_), None) => "501 5.5.4 Syntax: RCPT TO:<address>".to_owned(),
                    (Some(_), Some(to)) if to.is_empty() => "501 5.1.3 Empty recipient".to_owned(),
                    (Some(e), Some(_)) if e.to.len() >= MAX_RECIPIENTS => {
                        "452 4.5.3 Too many recipients".to_owned()
                    }
                    (Some(e), Some(to)) => {
                        e.to.push(to);
                        "250 2.1.5 Ok".to_owned()
                    }
                },
                "DATA" if !argument.is_empty() => "501 5.5.4 DATA takes no argument".to_owned(),
                "DATA" if envelope.as_ref().is_none_or(|e| e.to.is_empty()) => {
                    "503 5.5.1 Need RCPT first".to_owned()
                }
                "DATA" => {
                    self.reply("354 End data with <CR><LF>.<CR><LF>").await?;
                    let Some(data) = read_data(&mut self.reader, MAX_MESSAGE).await? else {
                        return Ok(());
                    };
                    let envelope = envelope.take().unwrap_or_default();
                    match data {
                        Data::Message(raw) => {
                            format!("250 2.0.0 Ok: queued as {}", accept(envelope, raw))
                        }
                        Data::TooBig => format!("552 5.3.4 Message exceeds {MAX_MESSAGE} bytes"),
                    }
                }
                "RSET" => {
                    envelope = None;
                    "250 2.0.0 Ok".to_owned()
                }
                "NOOP" => "250 2.0.0 Ok".to_owned(),
                "QUIT" => {
                    self.reply("221 2.0.0 Bye").await?;
                    return Ok(());
                }
                _ => "502 5.5.2 Command not recognized".to_owned(),
            };
            self.reply(&reply).await?;
        }
        Ok(())
    }

    /// Runs an AUTH exchange and returns its final reply, or `None` if the
    /// client left in the middle.
    async fn authenticate(&mut self, argument: &str) -> io::Result<Option<String>> {
        let mut words = argument.split_whitespace();
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(|w| w.as_bytes().to_vec());
        let prompts: &[&str] = match mechanism.as_str() {
            "PLAIN" => &["334 "],
            // "Username:" and "Password:", base64-encoded as lettre expects.
            "LOGIN" => &["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"],
            _ => {
                return Ok(Some(
                    "504 5.5.4 Unrecognized authentication type".to_owned(),
                ))
            }
        };
        // An initial response answers the first prompt.
        let mut responses = Vec::new();
        responses.extend(initial);
        for prompt in &prompts[responses.len()..] {
            self.reply(prompt).await?;
            let Some(response) = self.line().await? else {
                return Ok(None);
            };
            if response == b"*" {
                return Ok(Some("501 5.7.0 Authentication cancelled".to_owned()));
            }
            responses.push(response);
        }
        if responses.iter().all(|r| valid_response(r)) {
            Ok(Some("235 2.7.0 Authentication successful".to_owned()))
        } else {
            Ok(Some("501 5.5.2 Cannot decode response".to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Runs a scripted conversation and returns the server's replies and the
    /// messages it accepted.
    async fn converse(script: &str) -> (String, Vec<(Envelope, String)>) {
        let accepted = Mutex::new(Vec::new());
        let mut conn = Conn {
            reader: script.as_bytes(),
            writer: Vec::new(),
        };
        conn.serve(|envelope, raw| {
            accepted
                .lock()
                .unwrap()
                .push((envelope, String::from_utf8(raw).unwrap()));
            "id-1".to_owned()
        })
        .await;
        (
            String::from_utf8(conn.writer).unwrap(),
            accepted.into_inner().unwrap(),
        )
    }

    #[tokio::test]
    async fn data_is_dot_unstuffed_up_to_the_lone_dot() {
        let mut input: &[u8] = b"Subject: x\r\n\r\n..leading dot\r\n...\nbare LF\r\n.\r\nafter\r\n";
        let data = read_data(&mut input, MAX_MESSAGE).await.unwrap();
        assert_eq!(
            data,
            Some(Data::Message(
                b"Subject: x\n\n.leading dot\n..\nbare LF\n".to_vec()
            ))
        );
        assert_eq!(input, b"after\r\n");
    }

    #[tokio::test]
    async fn data_over_the_limit_is_read_but_dropped() {
        let mut input: &[u8] = b"0123456789\r\n0123456789\r\n.\r\nNOOP\r\n";
        assert_eq!(read_data(&mut input, 15).await.unwrap(), Some(Data::TooBig));
        assert_eq!(input, b"NOOP\r\n");
        let mut cut: &[u8] = b"no end\r\n";
        assert_eq!(read_data(&mut cut, 15).await.unwrap(), None);
    }

    #[tokio::test]
    async fn lines_over_the_limit_are_refused() {
        let mut input: &[u8] = b"abcdef\r\n";
        let error = read_line(&mut input, 3).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let long = format!("NOOP {}\r\n", "x".repeat(MAX_LINE));
        let (replies, _) = converse(&long).await;
        assert_eq!(replies, "220 peer ESMTP\r\n500 5.5.2 Line too long\r\n");
    }

    #[tokio::test]
    async fn commands_out_of_sequence_get_503() {
        let (replies, accepted) = converse(
            "MAIL FROM:<a@x>\r\nEHLO c\r\nRCPT TO:<b@x>\r\nDATA\r\nMAIL FROM:<a@x>\r\nDATA\r\n\
             MAIL FROM:<a@x>\r\nVRFY b\r\nQUIT\r\n",
        )
        .await;
        let codes: Vec<&str> = replies.lines().map(|l| &l[..4]).collect();
        assert_eq!(
            codes,
            [
                "220 ", "503 ", "250-", "250-", "250-", "250-", "250 ", "503 ", "503 ", "250 ",
                "503 ", "503 ", "502 ", "221 "
            ]
        );
        assert!(accepted.is_empty());
    }

    #[tokio::test]
    async fn auth_login_and_plain_with_challenge_accept_anything() {
        let (replies, _) =
            converse("EHLO c\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\nAUTH PLAIN\r\nQUIT\r\n")
                .await;
        assert!(replies.contains(
            "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n"
        ));
        assert!(replies.contains("503 5.5.1 Already authenticated\r\n"));
        let (replies, _) = converse("EHLO c\r\nAUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\nQUIT\r\n").await;
        assert!(replies.contains("334 \r\n235 2.7.0"));
        let (replies, _) = converse("EHLO c\r\nAUTH PLAIN !!!\r\nAUTH CRAM-MD5\r\nQUIT\r\n").await;
        assert!(replies.contains("501 5.5.2 Cannot decode response\r\n504 5.5.4"));
    }

    #[tokio::test]
    async fn a_transaction_delivers_every_recipient_and_resets() {
        let (replies, accepted) = converse(
            "HELO c\r\nMAIL FROM:<a@x> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<b@x>\r\nRCPT TO: <c@x> NOTIFY=NEVER\r\n\
             DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nRCPT TO:<d@x>\r\nRSET\r\nNOOP\r\nFOO\r\nQUIT\r\n",
        )
        .await;
        assert!(replies.contains("354 "));
        assert!(replies.contains("250 2.0.0 Ok: queued as id-1\r\n503 5.5.1 Need MAIL first\r\n"));
        assert!(replies.ends_with(
            "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n502 5.5.2 Command not recognized\r\n221 2.0.0 Bye\r\n"
        ));
        assert_eq!(
            accepted,
            [(
                Envelope {
                    from: "a@x".to_owned(),
                    to: vec!["b@x".to_owned(), "c@x".to_owned()]
                },
                "Subject: hi\n\nbody\n".to_owned()
            )]
        );
    }
}
