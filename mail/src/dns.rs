//! A minimal DNS client: TXT queries over UDP with a TCP retry on truncation.
//!
//! Hand-written because the only thing we ask DNS is "what TXT records are at
//! this name" (SPF, DKIM, DMARC), and a resolver crate would cost far more
//! compile time than the few hundred lines below.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use rsa::rand_core::{OsRng, RngCore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

pub(crate) const TYPE_CNAME: u16 = 5;
pub(crate) const TYPE_TXT: u16 = 16;
pub(crate) const CLASS_IN: u16 = 1;

const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;

const RCODE_NOERROR: u8 = 0;
const RCODE_SERVFAIL: u8 = 2;
const RCODE_NXDOMAIN: u8 = 3;

/// A name on the wire is at most 255 octets (RFC 1035 §3.1).
const MAX_NAME_LEN: usize = 255;
/// A label is at most 63 octets (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;
/// Upper bound on compression pointers followed while reading one name. A
/// legitimate name has at most 127 labels, so anything beyond that is a loop.
const MAX_POINTER_HOPS: usize = 128;

/// Why a TXT lookup failed. NXDOMAIN is *not* an error: it is an empty answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The name cannot be put in a DNS query.
    #[error("invalid DNS name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The resolver did not answer in time.
    #[error("no answer from DNS server {resolver} for {name} within {} ms", timeout.as_millis())]
    Timeout {
        /// The name queried.
        name: String,
        /// The server asked.
        resolver: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
    /// A socket error: unreachable network, connection refused (nothing
    /// listening on that port), …
    #[error("could not query DNS server {resolver} for {name}: {reason}")]
    Network {
        /// The name queried.
        name: String,
        /// The server asked.
        resolver: SocketAddr,
        /// The operating system's error, in words.
        reason: String,
    },
    /// The resolver answered SERVFAIL: it could not get an answer itself
    /// (broken delegation, DNSSEC failure, upstream timeout). Usually temporary.
    #[error("DNS server {resolver} could not resolve {name} (SERVFAIL); try again later")]
    ServerFailure {
        /// The name queried.
        name: String,
        /// The server asked.
        resolver: SocketAddr,
    },
    /// The resolver answered with another error code (REFUSED, FORMERR, …).
    #[error("DNS server {resolver} answered {name} with error {rcode} ({})", rcode_name(*rcode))]
    ErrorResponse {
        /// The name queried.
        name: String,
        /// The server asked.
        resolver: SocketAddr,
        /// The RCODE of the answer.
        rcode: u8,
    },
    /// Only answers carrying another query id arrived: they are not answers to
    /// our question (late answers to an earlier query, or spoofing attempts).
    #[error("DNS server {resolver} answered {name} with query id {got}, expected {expected}")]
    IdMismatch {
        /// The name queried.
        name: String,
        /// The server asked.
        resolver: SocketAddr,
        /// The id we sent.
        expected: u16,
        /// The id that came back.
        got: u16,
    },
    /// The answer could not be parsed.
    #[error("malformed DNS answer from {resolver} for {name}: {reason}")]
    Malformed {
        /// The name queried.
        name: String,
        /// The server asked.
        resolver: SocketAddr,
        /// What was wrong with it.
        reason: String,
    },
}

fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "unknown",
    }
}

/// The first `nameserver` of `/etc/resolv.conf`, port 53; `127.0.0.1:53` when
/// the file is missing or names none (a local caching resolver is the most
/// likely thing to be there).
pub fn system_resolver() -> SocketAddr {
    std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .and_then(|text| parse_resolv_conf(&text))
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 53)))
}

fn parse_resolv_conf(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            return None;
        }
        // A link-local IPv6 server may carry a zone ("fe80::1%eth0"); we
        // cannot bind to the zone without more plumbing, so drop it.
        let addr = words.next()?.split('%').next()?;
        let ip: std::net::IpAddr = addr.parse().ok()?;
        Some(SocketAddr::new(ip, 53))
    })
}

/// Look up the TXT records at `name`, asking `resolver` (a recursive resolver,
/// e.g. [`system_resolver`]).
///
/// Each returned string is one TXT record with its character-strings
/// concatenated (long DKIM keys are split into several 255-byte strings).
/// CNAMEs in the answer are followed, as a resolver hands back the chain. A
/// name that does not exist (NXDOMAIN) or has no TXT records gives `Ok(vec![])`.
///
/// The UDP query is sent once more halfway through `timeout` in case a packet
/// was lost; when the answer is truncated (TC bit) the query is repeated over
/// TCP, which has its own `timeout`. So the worst case is about twice `timeout`.
pub async fn lookup_txt(
    resolver: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<String>, DnsError> {
    let qname = ascii_name(name).map_err(|reason| DnsError::InvalidName {
        name: name.to_owned(),
        reason,
    })?;
    let malformed = |reason: String| DnsError::Malformed {
        name: qname.clone(),
        resolver,
        reason,
    };

    let id = random_id();
    let query = encode_query(id, &qname, TYPE_TXT).map_err(|reason| DnsError::InvalidName {
        name: name.to_owned(),
        reason,
    })?;
    let reply = udp_exchange(resolver, &qname, &query, id, timeout).await?;
    let mut msg = parse_message(&reply).map_err(malformed)?;

    if msg.truncated {
        // The answer did not fit in a UDP datagram: RFC 7766 says retry over TCP.
        let id = random_id();
        let query = encode_query(id, &qname, TYPE_TXT).map_err(malformed)?;
        let reply = tcp_exchange(resolver, &qname, &query, timeout).await?;
        msg = parse_message(&reply).map_err(malformed)?;
        if msg.id != id {
            return Err(DnsError::IdMismatch {
                name: qname,
                resolver,
                expected: id,
                got: msg.id,
            });
        }
        if msg.truncated {
            return Err(malformed("answer truncated even over TCP".into()));
        }
    }

    interpret(msg, &qname, resolver)
}

/// The name as DNS carries it: lower case, with each internationalised label in its
/// punycode form (`مثال.مصر` → `xn--mgbh0fb.xn--wgbh1c`), as it is published. This is
/// the form sending domains are stored, checked and signed (DKIM `d=`) in.
pub fn ascii_name(name: &str) -> Result<String, String> {
    name.trim_end_matches('.')
        .split('.')
        .map(|label| {
            if label.is_ascii() {
                Ok(label.to_ascii_lowercase())
            } else {
                idna::domain_to_ascii(label)
                    .map_err(|_| format!("label {label:?} is not a valid internationalised name"))
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|labels| labels.join("."))
}

fn random_id() -> u16 {
    // A random id is what makes blind spoofing of UDP answers hard.
    (OsRng.next_u32() & 0xffff) as u16
}

/// Turns a parsed answer into the TXT strings, applying the RCODE rules.
fn interpret(msg: Message, qname: &str, resolver: SocketAddr) -> Result<Vec<String>, DnsError> {
    let malformed = |reason: &str| DnsError::Malformed {
        name: qname.to_owned(),
        resolver,
        reason: reason.to_owned(),
    };
    if !msg.is_response {
        return Err(malformed("the packet is a query, not a response"));
    }
    // Not every server echoes the question on errors, but when it is there it
    // must be ours; otherwise the answer is for something else.
    if let Some(q) = msg.questions.first() {
        if !same_name(&q.name, qname) || q.qtype != TYPE_TXT || q.qclass != CLASS_IN {
            return Err(malformed("the answer is for a different question"));
        }
    }
    match msg.rcode {
        RCODE_NOERROR => {}
        RCODE_NXDOMAIN => return Ok(Vec::new()),
        RCODE_SERVFAIL => {
            return Err(DnsError::ServerFailure {
                name: qname.to_owned(),
                resolver,
            })
        }
        rcode => {
            return Err(DnsError::ErrorResponse {
                name: qname.to_owned(),
                resolver,
                rcode,
            })
        }
    }

    // Follow the CNAME chain the resolver included; bounded by the number of
    // records so a CNAME loop cannot spin.
    let mut owner = qname.to_owned();
    for _ in 0..msg.answers.len() {
        let next = msg.answers.iter().find_map(|rr| match &rr.data {
            RData::Cname(target) if rr.class == CLASS_IN && same_name(&rr.name, &owner) => {
                Some(target.clone())
            }
            _ => None,
        });
        match next {
            Some(target) => owner = target,
            None => break,
        }
    }

    Ok(msg
        .answers
        .iter()
        .filter(|rr| rr.class == CLASS_IN && same_name(&rr.name, &owner))
        .filter_map(|rr| match &rr.data {
            RData::Txt(parts) => Some(String::from_utf8_lossy(&parts.concat()).into_owned()),
            _ => None,
        })
        .collect())
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

async fn udp_exchange(
    resolver: SocketAddr,
    qname: &str,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<u8>, DnsError> {
    let net = |e: std::io::Error| DnsError::Network {
        name: qname.to_owned(),
        resolver,
        reason: describe_io(&e),
    };
    let local: SocketAddr = if resolver.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await.map_err(net)?;
    // A connected socket only receives datagrams from the resolver's address,
    // and surfaces ICMP "port unreachable" as an error instead of a silent wait.
    socket.connect(resolver).await.map_err(net)?;
    socket.send(query).await.map_err(net)?;

    let start = Instant::now();
    let deadline = start + timeout;
    let mut resend_at = Some(start + timeout / 2);
    let mut wrong_id = None;
    let mut buf = vec![0u8; 65_535];
    loop {
        let wake = resend_at.unwrap_or(deadline);
        match tokio::time::timeout_at(wake, socket.recv(&mut buf)).await {
            Err(_elapsed) => {
                if resend_at.take().is_some() {
                    socket.send(query).await.map_err(net)?;
                    continue;
                }
                return Err(match wrong_id {
                    Some(got) => DnsError::IdMismatch {
                        name: qname.to_owned(),
                        resolver,
                        expected: id,
                        got,
                    },
                    None => DnsError::Timeout {
                        name: qname.to_owned(),
                        resolver,
                        timeout,
                    },
                });
            }
            Ok(Err(e)) => return Err(net(e)),
            Ok(Ok(n)) => {
                let packet = &buf[..n];
                if n < 12 {
                    return Err(DnsError::Malformed {
                        name: qname.to_owned(),
                        resolver,
                        reason: format!("{n}-byte packet is shorter than a DNS header"),
                    });
                }
                let got = u16::from_be_bytes([packet[0], packet[1]]);
                if got != id {
                    // Keep listening: the real answer may still come.
                    wrong_id = Some(got);
                    continue;
                }
                return Ok(packet.to_vec());
            }
        }
    }
}

async fn tcp_exchange(
    resolver: SocketAddr,
    qname: &str,
    query: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, DnsError> {
    let exchange = async {
        let mut stream = TcpStream::connect(resolver).await?;
        // Over TCP each message is preceded by its length (RFC 1035 §4.2.2).
        let len = u16::try_from(query.len()).unwrap_or(u16::MAX);
        let mut framed = Vec::with_capacity(query.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(query);
        stream.write_all(&framed).await?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_elapsed) => Err(DnsError::Timeout {
            name: qname.to_owned(),
            resolver,
            timeout,
        }),
        Ok(Err(e)) => Err(DnsError::Network {
            name: qname.to_owned(),
            resolver,
            reason: format!("over TCP: {}", describe_io(&e)),
        }),
        Ok(Ok(reply)) => Ok(reply),
    }
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is a DNS server listening there?)".to_owned()
        }
        std::io::ErrorKind::UnexpectedEof => "the server closed the connection early".to_owned(),
        _ => e.to_string(),
    }
}

// ---------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------

/// A standard recursive query for `name`/`qtype`/IN.
pub(crate) fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(17 + name.len() + 1);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&FLAG_RD.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
    out.extend_from_slice(&[0; 6]); // ANCOUNT, NSCOUNT, ARCOUNT
    encode_name(name, &mut out)?;
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let start = out.len();
    if !name.is_empty() {
        for label in name.split('.') {
            if label.is_empty() {
                return Err("empty label (two dots in a row?)".into());
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(format!("label {label:?} is longer than 63 bytes"));
            }
            // IDNs arrive in punycode (xn--…, see `ascii_name`); raw UTF-8
            // labels would not match what is published.
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(format!(
                    "label {label:?} may only hold letters, digits, '-' and '_'"
                ));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() - start > MAX_NAME_LEN {
        return Err("name is longer than 255 bytes".into());
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Question {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RData {
    /// The character-strings, still separate.
    Txt(Vec<Vec<u8>>),
    Cname(String),
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub data: RData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub id: u16,
    pub is_response: bool,
    pub truncated: bool,
    pub rcode: u8,
    pub questions: Vec<Question>,
    /// The answer section only; authority and additional are not needed.
    pub answers: Vec<Record>,
}

/// Bounds-checked reads over a DNS message.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.buf.len())
            .ok_or_else(|| format!("message ends early at byte {}", self.buf.len()))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn name(&mut self) -> Result<String, String> {
        let (name, next) = read_name(self.buf, self.pos)?;
        self.pos = next;
        Ok(name)
    }
}

/// Reads a possibly compressed name starting at `pos`. Returns the dotted name
/// (no trailing dot, root is `""`) and the offset just after the name *where it
/// started* (a pointer ends the name in place, RFC 1035 §4.1.4).
pub(crate) fn read_name(buf: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let mut name = String::new();
    let mut wire_len = 0usize;
    let mut hops = 0usize;
    let mut resume = None;
    loop {
        let len = *buf
            .get(pos)
            .ok_or_else(|| format!("name runs past the end of the message at byte {pos}"))?;
        match len & 0xC0 {
            0x00 if len == 0 => {
                let next = resume.unwrap_or(pos + 1);
                return Ok((name, next));
            }
            0x00 => {
                let len = usize::from(len);
                let label = buf
                    .get(pos + 1..pos + 1 + len)
                    .ok_or_else(|| "label runs past the end of the message".to_owned())?;
                wire_len += len + 1;
                if wire_len + 1 > MAX_NAME_LEN {
                    return Err("name is longer than 255 bytes".into());
                }
                if !name.is_empty() {
                    name.push('.');
                }
                push_label(&mut name, label);
                pos += 1 + len;
            }
            0xC0 => {
                let low = *buf
                    .get(pos + 1)
                    .ok_or_else(|| "compression pointer cut off".to_owned())?;
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return Err("compression pointer loop".into());
                }
                let target = usize::from(u16::from_be_bytes([len & 0x3F, low]));
                if resume.is_none() {
                    resume = Some(pos + 2);
                }
                pos = target;
            }
            _ => return Err(format!("unsupported label type 0x{len:02x}")),
        }
    }
}

fn push_label(name: &mut String, label: &[u8]) {
    // Escape what would make the dotted form ambiguous (RFC 4343 style).
    for &b in label {
        match b {
            b'.' | b'\\' => {
                name.push('\\');
                name.push(char::from(b));
            }
            0x21..=0x7e => name.push(char::from(b)),
            _ => {
                let _ = write!(name, "\\{b:03}");
            }
        }
    }
}

/// Parses a whole DNS message (header, questions, answers).
pub(crate) fn parse_message(buf: &[u8]) -> Result<Message, String> {
    let mut r = Reader { buf, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    let qdcount = r.u16()?;
    let ancount = r.u16()?;
    let _nscount = r.u16()?;
    let _arcount = r.u16()?;

    let truncated = flags & FLAG_TC != 0;
    let mut msg = Message {
        id,
        is_response: flags & FLAG_QR != 0,
        truncated,
        rcode: (flags & 0x000F) as u8,
        questions: Vec::new(),
        answers: Vec::new(),
    };
    let sections = (|| {
        for _ in 0..qdcount {
            let name = r.name()?;
            let qtype = r.u16()?;
            let qclass = r.u16()?;
            msg.questions.push(Question {
                name,
                qtype,
                qclass,
            });
        }
        for _ in 0..ancount {
            msg.answers.push(read_record(&mut r)?);
        }
        Ok::<_, String>(())
    })();
    match sections {
        Ok(()) => Ok(msg),
        // A truncated answer may legitimately stop mid-record; we only need its
        // header to know to retry over TCP.
        Err(_) if truncated => Ok(msg),
        Err(e) => Err(e),
    }
}

fn read_record(r: &mut Reader<'_>) -> Result<Record, String> {
    let name = r.name()?;
    let rtype = r.u16()?;
    let class = r.u16()?;
    let _ttl = r.take(4)?;
    let rdlen = usize::from(r.u16()?);
    let rdata_start = r.pos;
    let rdata = r.take(rdlen)?;
    let data = match rtype {
        TYPE_TXT => {
            let mut parts = Vec::new();
            let mut i = 0;
            while i < rdata.len() {
                let len = usize::from(rdata[i]);
                let part = rdata
                    .get(i + 1..i + 1 + len)
                    .ok_or_else(|| "TXT character-string overruns its record".to_owned())?;
                parts.push(part.to_vec());
                i += 1 + len;
            }
            RData::Txt(parts)
        }
        TYPE_CNAME => {
            // The target may be compressed against the whole message.
            let (target, end) = read_name(r.buf, rdata_start)?;
            if end != rdata_start + rdlen {
                return Err("CNAME target does not fill its record".into());
            }
            RData::Cname(target)
        }
        _ => RData::Other,
    };
    Ok(Record {
        name,
        rtype,
        class,
        data,
    })
}

#[cfg(test)]
pub(crate) mod testserver {
    //! A tiny authoritative-looking DNS server for tests, on 127.0.0.1, UDP and
    //! TCP on the same port. Its encoder is written separately from the
    //! crate's so that a bug in one is not mirrored in the other.

    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, UdpSocket};

    /// What the server does for one (lowercase) name.
    #[derive(Clone, Debug)]
    pub enum Behaviour {
        /// Answer with these TXT records, each given as its character-strings.
        Txt(Vec<Vec<String>>),
        /// Over UDP: an empty answer with TC set; over TCP: these records.
        Truncated(Vec<Vec<String>>),
        /// A CNAME to another name, followed by that name's TXT records.
        Cname(String),
        /// RCODE 2.
        ServFail,
        /// Answer with a query id one off from the query's.
        WrongId,
        /// Never answer.
        Silent,
    }

    pub struct Zone(pub HashMap<String, Behaviour>);

    impl Zone {
        pub fn new(entries: &[(&str, Behaviour)]) -> Self {
            Zone(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect(),
            )
        }
    }

    /// Starts the server; it lives until the test's runtime ends.
    pub async fn start(zone: Zone) -> SocketAddr {
        let zone = Arc::new(zone);
        // Bind TCP on a free port, then UDP on the same number; retry in the
        // unlikely case that the UDP port is taken.
        let (udp, tcp) = loop {
            let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = tcp.local_addr().unwrap().port();
            if let Ok(udp) = UdpSocket::bind(("127.0.0.1", port)).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();

        let udp_zone = Arc::clone(&zone);
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while let Ok((n, peer)) = udp.recv_from(&mut buf).await {
                if let Some(reply) = respond(&udp_zone, &buf[..n], false) {
                    let _ = udp.send_to(&reply, peer).await;
                }
            }
        });
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                let zone = Arc::clone(&zone);
                tokio::spawn(async move {
                    let mut len = [0u8; 2];
                    if stream.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
                    if stream.read_exact(&mut query).await.is_err() {
                        return;
                    }
                    if let Some(reply) = respond(&zone, &query, true) {
                        let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&reply);
                        let _ = stream.write_all(&framed).await;
                    }
                });
            }
        });
        addr
    }

    fn respond(zone: &Zone, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        if query.len() < 12 {
            return None;
        }
        // The question: uncompressed labels from byte 12.
        let mut pos = 12;
        let mut labels = Vec::new();
        while query[pos] != 0 {
            let len = usize::from(query[pos]);
            labels.push(String::from_utf8_lossy(&query[pos + 1..pos + 1 + len]).to_string());
            pos += 1 + len;
        }
        let question_end = pos + 1 + 4;
        let name = labels.join(".").to_ascii_lowercase();
        let question = &query[12..question_end];

        let mut id = u16::from_be_bytes([query[0], query[1]]);
        let mut flags: u16 = 0x8180; // QR, RD, RA
        let mut answers: Vec<Vec<u8>> = Vec::new();
        let txt_rr = |owner: &[u8], strings: &[String]| {
            let mut rdata = Vec::new();
            for s in strings {
                rdata.push(s.len() as u8);
                rdata.extend_from_slice(s.as_bytes());
            }
            let mut rr = owner.to_vec();
            rr.extend_from_slice(&[0, 16, 0, 1, 0, 0, 1, 0x2c]);
            rr.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            rr.extend_from_slice(&rdata);
            rr
        };
        // Owner names point back at the question (offset 12): compression in
        // every ordinary answer.
        let to_question = [0xC0, 12];
        match zone.0.get(&name) {
            None => flags |= 3,
            Some(Behaviour::Silent) => return None,
            Some(Behaviour::ServFail) => flags |= 2,
            Some(Behaviour::WrongId) => id = id.wrapping_add(1),
            Some(Behaviour::Txt(records)) => {
                answers.extend(records.iter().map(|r| txt_rr(&to_question, r)));
            }
            Some(Behaviour::Truncated(records)) => {
                if tcp {
                    answers.extend(records.iter().map(|r| txt_rr(&to_question, r)));
                } else {
                    flags |= 0x0200;
                }
            }
            Some(Behaviour::Cname(target)) => {
                // CNAME rdata written in full; the TXT owner then points at
                // the CNAME's rdata (offset: header + question + owner ptr +
                // type/class/ttl/rdlen = 12 + question.len() + 2 + 10).
                let mut target_wire = Vec::new();
                for label in target.split('.') {
                    target_wire.push(label.len() as u8);
                    target_wire.extend_from_slice(label.as_bytes());
                }
                target_wire.push(0);
                let mut rr = to_question.to_vec();
                rr.extend_from_slice(&[0, 5, 0, 1, 0, 0, 1, 0x2c]);
                rr.extend_from_slice(&(target_wire.len() as u16).to_be_bytes());
                rr.extend_from_slice(&target_wire);
                answers.push(rr);
                let target_offset = (12 + question.len() + 12) as u16;
                let ptr = (0xC000 | target_offset).to_be_bytes();
                if let Some(Behaviour::Txt(records)) = zone.0.get(&target.to_ascii_lowercase()) {
                    answers.extend(records.iter().map(|r| txt_rr(&ptr, r)));
                }
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&[0, 1]);
        out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(question);
        for rr in answers {
            out.extend_from_slice(&rr);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::testserver::{start, Behaviour, Zone};
    use super::*;

    const T: Duration = Duration::from_millis(2000);

    fn header(id: u16, flags: u16, qd: u16, an: u16) -> Vec<u8> {
        let mut h = Vec::new();
        for v in [id, flags, qd, an, 0, 0] {
            h.extend_from_slice(&v.to_be_bytes());
        }
        h
    }

    #[test]
    fn query_encoding_is_standard() {
        let q = encode_query(0xBEEF, "_dmarc.Example.com.", TYPE_TXT).unwrap();
        let mut want = vec![0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x06_dmarc\x07Example\x03com\x00");
        want.extend_from_slice(&[0, 16, 0, 1]);
        assert_eq!(q, want);
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(encode_query(1, "a..b", TYPE_TXT).is_err());
        assert!(encode_query(1, &"x".repeat(64), TYPE_TXT).is_err());
        let long = vec!["abcdefghij"; 26].join(".");
        assert!(encode_query(1, &long, TYPE_TXT).is_err());
        assert!(encode_query(1, "bad name.com", TYPE_TXT).is_err());
        assert!(encode_query(1, "مثال.com", TYPE_TXT).is_err());
        assert!(encode_query(1, "", TYPE_TXT).is_ok()); // the root
    }

    #[test]
    fn parses_compressed_answers() {
        let mut m = header(7, 0x8180, 1, 2);
        m.extend_from_slice(b"\x07example\x03com\x00\x00\x10\x00\x01");
        // Answer 1: owner = pointer to the question name; two strings.
        m.extend_from_slice(&[0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 8]);
        m.extend_from_slice(b"\x03abc\x03def");
        // Answer 2: owner "www" + pointer into the middle ("com" at 12+8).
        m.extend_from_slice(b"\x03www\xC0\x14");
        m.extend_from_slice(&[0, 16, 0, 1, 0, 0, 0, 60, 0, 3]);
        m.extend_from_slice(b"\x02hi");
        let msg = parse_message(&m).unwrap();
        assert_eq!(msg.id, 7);
        assert!(msg.is_response && !msg.truncated);
        assert_eq!(msg.questions[0].name, "example.com");
        assert_eq!(msg.answers[0].name, "example.com");
        assert_eq!(
            msg.answers[0].data,
            RData::Txt(vec![b"abc".to_vec(), b"def".to_vec()])
        );
        assert_eq!(msg.answers[1].name, "www.com");
        assert_eq!(msg.answers[1].data, RData::Txt(vec![b"hi".to_vec()]));

        let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let txt = interpret(msg, "example.com", addr).unwrap();
        assert_eq!(txt, vec!["abcdef".to_owned()]);
    }

    #[test]
    fn pointer_after_labels_resumes_correctly() {
        // "a" + ptr → "example.com"; the name ends right after the pointer.
        let mut m = header(1, 0x8180, 1, 0);
        m.extend_from_slice(b"\x07example\x03com\x00\x00\x10\x00\x01");
        let start = m.len();
        m.extend_from_slice(b"\x01a\xC0\x0C\xFF");
        let (name, next) = read_name(&m, start).unwrap();
        assert_eq!(name, "a.example.com");
        assert_eq!(next, start + 4);
    }

    #[test]
    fn pointer_loops_error_out() {
        // A pointer to itself.
        let mut m = header(1, 0x8180, 1, 0);
        m.extend_from_slice(&[0xC0, 12, 0, 16, 0, 1]);
        let err = parse_message(&m).unwrap_err();
        assert!(err.contains("loop"), "{err}");

        // Two pointers pointing at each other, with a label in between, so
        // the loop also grows the name.
        let mut m = header(1, 0x8180, 1, 0);
        m.extend_from_slice(b"\x01a\xC0\x10\x01b\xC0\x0C");
        m.extend_from_slice(&[0, 16, 0, 1]);
        assert!(parse_message(&m).is_err());

        // A pointer beyond the message.
        let mut m = header(1, 0x8180, 1, 0);
        m.extend_from_slice(&[0xC1, 0, 0, 16, 0, 1]);
        assert!(parse_message(&m).is_err());
    }

    #[test]
    fn truncated_and_bogus_packets() {
        let mut m = header(1, 0x8180, 1, 1);
        m.extend_from_slice(b"\x01a\x00\x00\x10\x00\x01");
        m.extend_from_slice(&[0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 9]);
        m.extend_from_slice(b"\x03abc"); // rdlength claims 9
        assert!(parse_message(&m).is_err());
        // The same cut-off with TC set is fine: the client retries over TCP.
        m[2] |= 0x02;
        assert!(parse_message(&m).unwrap().truncated);

        // A character-string longer than its record.
        let mut m = header(1, 0x8180, 1, 1);
        m.extend_from_slice(b"\x01a\x00\x00\x10\x00\x01");
        m.extend_from_slice(&[0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2]);
        m.extend_from_slice(b"\x05a");
        assert!(parse_message(&m).is_err());

        assert!(parse_message(&[0, 1, 2]).is_err());
        // Reserved label type.
        let mut m = header(1, 0x8180, 1, 0);
        m.extend_from_slice(&[0x40, 0, 0, 16, 0, 1]);
        assert!(parse_message(&m).unwrap_err().contains("label type"));
    }

    #[test]
    fn resolv_conf_parsing() {
        let text = "# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver 1.1.1.1\n";
        assert_eq!(
            parse_resolv_conf(text),
            Some("10.0.0.2:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolv_conf("nameserver fe80::1%eth0\n"),
            Some("[fe80::1]:53".parse().unwrap())
        );
        assert_eq!(parse_resolv_conf("options ndots:5\n"), None);
        // Whatever the machine has, the answer is usable.
        assert_eq!(system_resolver().port(), 53);
    }

    #[tokio::test]
    async fn lookup_over_udp_tcp_and_cname() {
        let long_key = "k".repeat(300);
        let server = start(Zone::new(&[
            (
                "example.test",
                Behaviour::Txt(vec![
                    vec!["v=spf1 ".into(), "-all".into()],
                    vec!["other".into()],
                ]),
            ),
            (
                "big.example.test",
                Behaviour::Truncated(vec![vec![long_key[..255].into(), long_key[255..].into()]]),
            ),
            (
                "alias.example.test",
                Behaviour::Cname("real.example.test".into()),
            ),
            (
                "real.example.test",
                Behaviour::Txt(vec![vec!["real".into()]]),
            ),
        ]))
        .await;

        let got = lookup_txt(server, "Example.test.", T).await.unwrap();
        assert_eq!(got, vec!["v=spf1 -all".to_owned(), "other".to_owned()]);

        let got = lookup_txt(server, "big.example.test", T).await.unwrap();
        assert_eq!(got, vec![long_key]);

        let got = lookup_txt(server, "alias.example.test", T).await.unwrap();
        assert_eq!(got, vec!["real".to_owned()]);

        // NXDOMAIN is an empty answer, not an error.
        let got = lookup_txt(server, "nope.example.test", T).await.unwrap();
        assert!(got.is_empty());
    }

    #[tokio::test]
    async fn internationalised_names_are_asked_in_punycode() {
        // مثال.مصر, as its owner publishes it.
        let server = start(Zone::new(&[(
            "_dmarc.xn--mgbh0fb.xn--wgbh1c",
            Behaviour::Txt(vec![vec!["v=DMARC1; p=reject".into()]]),
        )]))
        .await;
        let got = lookup_txt(server, "_dmarc.مثال.مصر", T).await.unwrap();
        assert_eq!(got, vec!["v=DMARC1; p=reject".to_owned()]);
        assert_eq!(
            ascii_name("Mail.مثال.مصر.").unwrap(),
            "mail.xn--mgbh0fb.xn--wgbh1c"
        );
    }

    #[tokio::test]
    async fn lookup_errors_are_clear() {
        let server = start(Zone::new(&[
            ("broken.test", Behaviour::ServFail),
            ("spoofed.test", Behaviour::WrongId),
            ("silent.test", Behaviour::Silent),
        ]))
        .await;
        let short = Duration::from_millis(300);

        let err = lookup_txt(server, "broken.test", T).await.unwrap_err();
        assert!(matches!(err, DnsError::ServerFailure { .. }), "{err:?}");
        assert!(err.to_string().contains("SERVFAIL"));

        let err = lookup_txt(server, "spoofed.test", short).await.unwrap_err();
        assert!(matches!(err, DnsError::IdMismatch { .. }), "{err:?}");

        let started = std::time::Instant::now();
        let err = lookup_txt(server, "silent.test", short).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(err, DnsError::Timeout { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("no answer from DNS server {server} for silent.test within 300 ms")
        );

        let err = lookup_txt(server, "bad..name", short).await.unwrap_err();
        assert!(matches!(err, DnsError::InvalidName { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn nothing_listening_fails_fast() {
        // A socket that is bound but never reads: nothing answers, no ICMP
        // either, so this exercises the timeout path.
        let mute = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = mute.local_addr().unwrap();
        let started = std::time::Instant::now();
        let err = lookup_txt(addr, "example.test", Duration::from_millis(250))
            .await
            .unwrap_err();
        assert!(matches!(err, DnsError::Timeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));

        // A port with no socket at all: Linux reports "port unreachable",
        // which surfaces as a refused connection well before the timeout.
        let free = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let started = std::time::Instant::now();
        let err = lookup_txt(free, "example.test", Duration::from_secs(3))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(matches!(err, DnsError::Network { .. }), "{err:?}");
        assert!(err.to_string().contains("connection refused"), "{err}");
    }
}

/// Arbitrary bytes as DNS answers: whatever a resolver (or someone spoofing one) sends,
/// parsing ends with a message or an error, never a panic or an endless pointer loop.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_answer_parses_or_is_refused(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_message(&bytes);
            for start in [0, 12, bytes.len() / 2] {
                let _ = read_name(&bytes, start);
            }
        }

        #[test]
        fn our_queries_read_back(id: u16, labels in proptest::collection::vec("[a-z0-9-]{1,20}", 1..5)) {
            let name = labels.join(".");
            let query = encode_query(id, &name, 16).unwrap();
            let message = parse_message(&query).unwrap();
            prop_assert_eq!(message.id, id);
            prop_assert_eq!(&message.questions[0].name, &name);
        }

        #[test]
        fn mutated_queries_never_panic(
            id: u16,
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        ) {
            let mut query = encode_query(id, "_dmarc.example.com", 16).unwrap();
            for (at, byte) in flips {
                let at = at % query.len();
                query[at] = byte;
            }
            let _ = parse_message(&query);
        }
    }
}
