//! Whether a sending IP address is on DNS blocklists (DNSBLs, RFC 5782).
//!
//! A list is asked for the address's octets (IPv4) or nibbles (IPv6) in reverse
//! order under its zone, as an A record: an answer in 127.0.0.0/8 means listed,
//! with the list's reason in a TXT record at the same name; NXDOMAIN means not
//! listed. Two things make a plain "not listed" untrustworthy, and both are told
//! apart here rather than read as a clean address:
//!
//! * a list that does not answer its own test entry (127.0.0.2, or
//!   `::FFFF:7F00:2` for IPv6; RFC 5782 §5) is not answering this resolver at all
//!   (a mistyped zone, a list that has shut down and now answers nothing);
//! * Spamhaus answers 127.255.255.252/254/255 for a mistyped zone, a query sent
//!   through a public resolver, and too many queries: refusals, not listings.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::dns::{Dns, DnsError};

/// What one blocklist said about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not on the list.
    Clear,
    /// On the list, with its return codes (which say why, per the list's own
    /// documentation) and its TXT reason when it gives one.
    Listed {
        /// The A records of the answer, each in 127.0.0.0/8.
        codes: Vec<Ipv4Addr>,
        /// The TXT record at the same name, usually a URL explaining the listing.
        reason: Option<String>,
    },
    /// The list could not say: why, in English.
    Unknown(String),
}

/// One list's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneAnswer {
    /// The list's zone, as asked (`zen.spamhaus.org`).
    pub zone: String,
    /// What it said.
    pub verdict: Verdict,
}

/// The name a list is asked for `ip` under `zone` (RFC 5782 §2.1 and §2.4).
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_end_matches('.');
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{zone}")
        }
        IpAddr::V6(v6) => {
            let mut labels = String::with_capacity(64 + zone.len());
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    labels.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    labels.push('.');
                }
            }
            labels + zone
        }
    }
}

/// The entry every list must hold (RFC 5782 §5), in the family of `ip`.
fn test_entry(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x7f00, 2)),
    }
}

/// Why an A answer is a refusal rather than a listing, if it is one.
fn refusal(codes: &[Ipv4Addr]) -> Option<String> {
    if let Some(outside) = codes.iter().find(|c| c.octets()[0] != 127) {
        return Some(format!(
            "the list answered {outside}, which is not a 127.0.0.0/8 code (a wildcard or a mistyped zone?)"
        ));
    }
    let code = codes.iter().find(|c| c.octets()[..3] == [127, 255, 255])?;
    Some(match code.octets()[3] {
        252 => "the list says the zone name is mistyped (127.255.255.252)".to_owned(),
        254 => "the list refuses queries sent through a public resolver (127.255.255.254); ask through your own resolver".to_owned(),
        255 => "the list refuses: too many queries from this resolver (127.255.255.255)".to_owned(),
        _ => format!("the list answered with error code {code}"),
    })
}

/// A checker for a run over many addresses: the lists' test entries and any
/// repeated question come from one cache.
pub struct Blocklists {
    dns: Dns,
}

impl Blocklists {
    /// Asks `resolver` ([`crate::system_resolver`] for the system's), each
    /// question within `timeout`.
    pub fn new(resolver: SocketAddr, timeout: Duration) -> Result<Blocklists, DnsError> {
        Ok(Blocklists {
            dns: Dns::new(resolver, timeout)?,
        })
    }

    /// What each list of `zones` says about `ip`, in the order given.
    pub async fn check(&self, ip: IpAddr, zones: &[String]) -> Vec<ZoneAnswer> {
        let mut answers = Vec::with_capacity(zones.len());
        for zone in zones {
            answers.push(ZoneAnswer {
                zone: zone.clone(),
                verdict: self.verdict(ip, zone).await,
            });
        }
        answers
    }

    async fn verdict(&self, ip: IpAddr, zone: &str) -> Verdict {
        let probe = match self.dns.ipv4(&query_name(test_entry(ip), zone)).await {
            Ok(codes) => codes,
            Err(e) => return Verdict::Unknown(e.to_string()),
        };
        if let Some(why) = refusal(&probe) {
            return Verdict::Unknown(why);
        }
        if probe.is_empty() {
            return Verdict::Unknown(format!(
                "the list does not hold its test entry {}: it is not answering this resolver",
                test_entry(ip)
            ));
        }
        let name = query_name(ip, zone);
        let codes = match self.dns.ipv4(&name).await {
            Ok(codes) => codes,
            Err(e) => return Verdict::Unknown(e.to_string()),
        };
        if codes.is_empty() {
            return Verdict::Clear;
        }
        if let Some(why) = refusal(&codes) {
            return Verdict::Unknown(why);
        }
        // The reason is a courtesy: a list that gives none, or a lookup of it that
        // fails, leaves the listing as it is.
        let reason = self
            .dns
            .txt(&name)
            .await
            .ok()
            .and_then(|texts| texts.into_iter().next());
        Verdict::Listed { codes, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testserver::{start, Behaviour, Zone};

    const T: Duration = Duration::from_millis(2000);

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn names_follow_rfc_5782() {
        // The examples of RFC 5782 §2.1 and §2.4.
        assert_eq!(
            query_name(v4("192.0.2.99"), "bad.example.com"),
            "99.2.0.192.bad.example.com"
        );
        assert_eq!(
            query_name(v4("2001:db8:1:2:3:4:567:89ab"), "ugly.example.com."),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com"
        );
        // The test entries of §5.
        assert_eq!(
            query_name(test_entry(v4("192.0.2.99")), "bl.test"),
            "2.0.0.127.bl.test"
        );
        assert_eq!(
            query_name(test_entry(v4("2001:db8::1")), "bl.test"),
            "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.test"
        );
    }

    #[test]
    fn error_codes_are_refusals_not_listings() {
        let code = |s: &str| vec![s.parse::<Ipv4Addr>().unwrap()];
        assert_eq!(refusal(&code("127.0.0.2")), None);
        assert_eq!(refusal(&code("127.0.0.11")), None);
        assert!(refusal(&code("127.255.255.254"))
            .unwrap()
            .contains("public resolver"));
        assert!(refusal(&code("127.255.255.255"))
            .unwrap()
            .contains("too many"));
        assert!(refusal(&code("127.255.255.252"))
            .unwrap()
            .contains("mistyped"));
        assert!(refusal(&code("198.51.100.7")).unwrap().contains("wildcard"));
    }

    #[tokio::test]
    async fn listed_clear_and_unusable_lists_are_told_apart() {
        let listed = |codes: &[&str], reason: &str| {
            Behaviour::Listed(
                codes.iter().map(|c| c.parse().unwrap()).collect(),
                reason.into(),
            )
        };
        let test_point = || listed(&["127.0.0.2"], "test entry");
        let server = start(Zone::new(&[
            ("2.0.0.127.good.test", test_point()),
            (
                "9.113.0.203.good.test",
                listed(
                    &["127.0.0.2", "127.0.0.4"],
                    "https://good.test/lookup?203.0.113.9",
                ),
            ),
            ("2.0.0.127.public.test", listed(&["127.255.255.254"], "")),
            // A list that answers nothing, its test entry included.
            ("2.0.0.127.dead.test", Behaviour::ServFail),
            ("9.113.0.203.dead.test", Behaviour::ServFail),
        ]))
        .await;
        let lists = Blocklists::new(server, T).unwrap();
        let zones: Vec<String> = ["good.test", "public.test", "gone.test", "dead.test"]
            .map(String::from)
            .into();

        let answers = lists.check(v4("203.0.113.9"), &zones).await;
        assert_eq!(answers.len(), 4);
        assert_eq!(
            answers[0].verdict,
            Verdict::Listed {
                codes: vec![Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 4)],
                reason: Some("https://good.test/lookup?203.0.113.9".into()),
            }
        );
        let unknown = |i: usize| match &answers[i].verdict {
            Verdict::Unknown(why) => why.clone(),
            other => panic!("{}: {other:?}", answers[i].zone),
        };
        assert!(unknown(1).contains("public resolver"), "{}", unknown(1));
        assert!(
            unknown(2).contains("test entry 127.0.0.2"),
            "{}",
            unknown(2)
        );
        assert!(unknown(3).contains("SERVFAIL"), "{}", unknown(3));

        let clean = lists.check(v4("203.0.113.10"), &zones[..1]).await;
        assert_eq!(clean[0].verdict, Verdict::Clear);
        // An IPv4-only list has no IPv6 test entry: it cannot vouch for an IPv6 address.
        let six = lists.check(v4("2001:db8::25"), &zones[..1]).await;
        assert!(
            matches!(&six[0].verdict, Verdict::Unknown(why) if why.contains("::ffff:127.0.0.2"))
        );
    }
}
