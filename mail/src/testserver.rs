//! A tiny authoritative-looking DNS server for tests, on 127.0.0.1, UDP and
//! TCP on the same port. Its wire encoding is written by hand, apart from
//! hickory's, so that the resolver is checked against bytes we can read here.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

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
    /// A blocklist entry: these A records to an A question, and this reason as a
    /// TXT record to a TXT question (RFC 5782 §2.1).
    Listed(Vec<std::net::Ipv4Addr>, String),
    /// RCODE 2.
    ServFail,
    /// Answer with a query id one off from the query's.
    WrongId,
    /// Never answer.
    Silent,
}

pub struct Zone {
    names: HashMap<String, Behaviour>,
    asked: Asked,
}

/// The names the server was asked about, to check what a lookup did not ask.
#[derive(Clone, Default)]
pub struct Asked(Arc<Mutex<Vec<String>>>);

impl Asked {
    /// Each name once, sorted (a resolver may retransmit or retry over TCP).
    pub fn names(&self) -> Vec<String> {
        let mut names = self.0.lock().unwrap().clone();
        names.sort();
        names.dedup();
        names
    }
}

impl Zone {
    pub fn new(entries: &[(&str, Behaviour)]) -> Self {
        Zone {
            names: entries
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            asked: Asked::default(),
        }
    }

    /// A handle on the log of the names asked, kept once the server started.
    pub fn asked(&self) -> Asked {
        self.asked.clone()
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
    let qtype = u16::from_be_bytes([query[pos + 1], query[pos + 2]]);
    let name = labels.join(".").to_ascii_lowercase();
    zone.asked.0.lock().unwrap().push(name.clone());
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
    match zone.names.get(&name) {
        None => flags |= 3,
        Some(Behaviour::Silent) => return None,
        Some(Behaviour::ServFail) => flags |= 2,
        Some(Behaviour::WrongId) => id = id.wrapping_add(1),
        Some(Behaviour::Txt(records)) => {
            answers.extend(records.iter().map(|r| txt_rr(&to_question, r)));
        }
        Some(Behaviour::Listed(codes, reason)) => {
            if qtype == 16 {
                answers.push(txt_rr(&to_question, std::slice::from_ref(reason)));
            } else {
                answers.extend(codes.iter().map(|code| {
                    let mut rr = to_question.to_vec();
                    rr.extend_from_slice(&[0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4]);
                    rr.extend_from_slice(&code.octets());
                    rr
                }));
            }
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
            if let Some(Behaviour::Txt(records)) = zone.names.get(&target.to_ascii_lowercase()) {
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
