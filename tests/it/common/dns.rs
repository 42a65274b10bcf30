//! A DNS server for the tests, on one UDP socket (RFC 1035 wire format): NXDOMAIN for
//! a name it has no entry for. An entry's values that are IPv4 addresses answer A
//! questions (a blocklist's return codes); the others answer TXT questions (SPF, DKIM
//! and DMARC records, a blocklist's reason).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

pub type Records = Arc<Mutex<HashMap<String, Vec<String>>>>;

/// Starts the server; it answers from `records` as they are when each question comes.
pub async fn server(records: Records) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let query = &buf[..n];
            // The question: labels from byte 12 to the zero length, then type and class.
            let mut name = Vec::new();
            let mut i = 12;
            while i < n && query[i] != 0 {
                let len = query[i] as usize;
                name.push(String::from_utf8_lossy(&query[i + 1..i + 1 + len]).to_lowercase());
                i += 1 + len;
            }
            let question_end = i + 5;
            let qtype = u16::from_be_bytes([query[i + 1], query[i + 2]]);
            let values = records.lock().unwrap().get(&name.join(".")).cloned();
            let mut reply = query[..2].to_vec();
            let rcode = if values.is_some() { 0 } else { 3 };
            reply.extend([0x81, 0x80 | rcode, 0, 1]);
            let answers: Vec<(u16, Vec<u8>)> = values
                .unwrap_or_default()
                .into_iter()
                .filter_map(|value| match (qtype, value.parse::<Ipv4Addr>()) {
                    (1, Ok(ip)) => Some((1, ip.octets().to_vec())),
                    (16, Err(_)) => {
                        let mut rdata = Vec::new();
                        for chunk in value.as_bytes().chunks(255) {
                            rdata.push(chunk.len() as u8);
                            rdata.extend(chunk);
                        }
                        Some((16, rdata))
                    }
                    _ => None,
                })
                .collect();
            reply.extend((answers.len() as u16).to_be_bytes());
            reply.extend([0, 0, 0, 0]);
            reply.extend(&query[12..question_end]);
            for (kind, rdata) in answers {
                reply.extend([0xc0, 0x0c]);
                reply.extend(kind.to_be_bytes());
                reply.extend([0, 1, 0, 0, 0, 60]);
                reply.extend((rdata.len() as u16).to_be_bytes());
                reply.extend(rdata);
            }
            let _ = socket.send_to(&reply, from).await;
        }
    });
    addr
}
