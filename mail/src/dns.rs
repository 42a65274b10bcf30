//! TXT lookups (SPF, DKIM, DMARC records) through `hickory-resolver`.
//!
//! The resolver brings what a hand-written client lacked: every nameserver of
//! `/etc/resolv.conf` in turn, EDNS0 (long DKIM keys arrive in one UDP answer),
//! retransmission, TCP when an answer is truncated, CNAME chains and a cache.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as Answer, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;

/// A name on the wire is at most 255 octets (RFC 1035 §3.1), 253 as text.
const MAX_NAME_LEN: usize = 253;
/// A label is at most 63 octets (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

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
    #[error("DNS server {resolver} answered {name} with error {rcode} ({})", <ResponseCode as From<u16>>::from(*rcode).to_str())]
    ErrorResponse {
        /// The name queried.
        name: String,
        /// The server asked.
        resolver: SocketAddr,
        /// The RCODE of the answer (extended RCODEs included).
        rcode: u16,
    },
    /// The answer could not be used: it did not parse, or was still truncated
    /// over TCP.
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

/// The first nameserver of `/etc/resolv.conf`, port 53; `127.0.0.1:53` when the
/// file is missing or names none (a local caching resolver is the most likely
/// thing to be there).
///
/// This address stands for the whole system configuration: lookups addressed to
/// it ask every nameserver the file lists, in turn, not only the first.
pub fn system_resolver() -> SocketAddr {
    system_config()
        .and_then(|config| first_server(&config))
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 53)))
}

/// Read anew each time: the file changes under DHCP or a VPN, and reading it is
/// cheap next to the lookups that follow.
fn system_config() -> Option<ResolverConfig> {
    hickory_resolver::system_conf::read_system_conf()
        .ok()
        .map(|(config, _)| config)
}

fn first_server(config: &ResolverConfig) -> Option<SocketAddr> {
    let server = config.name_servers().first()?;
    let port = server.connections.first()?.port;
    Some(SocketAddr::new(server.ip, port))
}

/// A resolver for one check: the lookups of a domain verification share its
/// cache (an SPF include met twice is asked once), and a check started later
/// asks DNS again, so that a record the tenant has just published is seen.
pub(crate) struct Dns {
    resolver: TokioResolver,
    server: SocketAddr,
    timeout: Duration,
}

impl Dns {
    /// Asks `server`, or every system nameserver when `server` is
    /// [`system_resolver`]. Each lookup takes at most `timeout`.
    pub(crate) fn new(server: SocketAddr, timeout: Duration) -> Result<Dns, DnsError> {
        let config = config_for(server, system_config());
        let mut options = ResolverOpts::default();
        // Two tries of half the time each (hickory also retransmits over UDP
        // within a try), so a lost packet or a flaky server need not fail the
        // check; the whole lookup is bounded by `timeout` below anyway.
        options.timeout = timeout / 2;
        options.attempts = 1;
        // DKIM keys are 400+ bytes: EDNS0 lets them come in one UDP answer.
        options.edns0 = true;
        // /etc/hosts has no TXT records.
        options.use_hosts_file = ResolveHosts::Never;
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            // Only TLS set-up can fail in build(), and no TLS is compiled in;
            // should that change, this says so rather than panicking.
            .map_err(|e| DnsError::Network {
                name: "(resolver set-up)".into(),
                resolver: server,
                reason: e.to_string(),
            })?;
        Ok(Dns {
            resolver,
            server,
            timeout,
        })
    }

    /// The TXT records at `name`, each with its character-strings concatenated
    /// (long DKIM keys are split into 255-byte strings). A name that does not
    /// exist (NXDOMAIN) or has no TXT records gives `Ok(vec![])`.
    pub(crate) async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        Ok(self
            .records(name, RecordType::TXT)
            .await?
            .into_iter()
            .filter_map(|data| match data {
                RData::TXT(txt) => {
                    Some(String::from_utf8_lossy(&txt.txt_data.concat()).into_owned())
                }
                _ => None,
            })
            .collect())
    }

    /// The IPv4 addresses at `name` (its A records); none when it does not exist.
    pub(crate) async fn ipv4(&self, name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
        Ok(self
            .records(name, RecordType::A)
            .await?
            .into_iter()
            .filter_map(|data| match data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect())
    }

    /// The records of `kind` at `name`, at the end of any CNAME chain (the CNAMEs
    /// the resolver followed are among its answers, and are left out here).
    async fn records(&self, name: &str, kind: RecordType) -> Result<Vec<RData>, DnsError> {
        let (qname, query) = query_name(name)?;
        let lookup = tokio::time::timeout(self.timeout, self.resolver.lookup(query, kind)).await;
        let lookup = match lookup {
            Err(_elapsed) => Err(NetError::Timeout),
            Ok(result) => result,
        };
        match lookup {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter(|record| record.record_type() == kind)
                .map(|record| record.data.clone())
                .collect()),
            Err(e) => self.classify(qname, e),
        }
    }

    /// Sorts hickory's errors into ours: "no such record" is an empty answer.
    fn classify<T>(&self, name: String, e: NetError) -> Result<Vec<T>, DnsError> {
        let resolver = self.server;
        Err(match e {
            NetError::Dns(Answer::NoRecordsFound(NoRecords { .. })) => return Ok(Vec::new()),
            NetError::Dns(Answer::ResponseCode(ResponseCode::ServFail)) => {
                DnsError::ServerFailure { name, resolver }
            }
            NetError::Dns(Answer::ResponseCode(code)) => DnsError::ErrorResponse {
                name,
                resolver,
                rcode: code.into(),
            },
            NetError::Timeout => DnsError::Timeout {
                name,
                resolver,
                timeout: self.timeout,
            },
            NetError::Io(e) => DnsError::Network {
                name,
                resolver,
                reason: describe_io(&e),
            },
            NetError::NoConnections => DnsError::Network {
                name,
                resolver,
                reason: "no connection to the server could be made".into(),
            },
            other => DnsError::Malformed {
                name,
                resolver,
                reason: other.to_string(),
            },
        })
    }
}

/// The system's configuration when `server` is its first nameserver (what
/// [`system_resolver`] returned), else `server` alone.
fn config_for(server: SocketAddr, system: Option<ResolverConfig>) -> ResolverConfig {
    system
        .filter(|config| first_server(config) == Some(server))
        .unwrap_or_else(|| ResolverConfig::from_name_servers(vec![nameserver(server)]))
}

/// UDP with TCP for truncated answers, at the address's own port.
fn nameserver(server: SocketAddr) -> NameServerConfig {
    let mut config = NameServerConfig::udp_and_tcp(server.ip());
    for connection in &mut config.connections {
        connection.port = server.port();
    }
    config
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

/// Look up the TXT records at `name`, asking `resolver` (a recursive resolver,
/// e.g. [`system_resolver`], which stands for every nameserver of the system).
///
/// Each returned string is one TXT record with its character-strings
/// concatenated (long DKIM keys are split into several 255-byte strings).
/// CNAMEs are followed. A name that does not exist (NXDOMAIN) or has no TXT
/// records gives `Ok(vec![])`; no answer within `timeout` is
/// [`DnsError::Timeout`].
pub async fn lookup_txt(
    resolver: SocketAddr,
    name: &str,
    timeout: Duration,
) -> Result<Vec<String>, DnsError> {
    Dns::new(resolver, timeout)?.txt(name).await
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

/// `name` in ASCII, and as the fully qualified name to ask (so that no search
/// domain of resolv.conf is appended). Labels are checked here rather than left
/// to hickory's parser, which would read `\` escapes in a tenant's input.
fn query_name(name: &str) -> Result<(String, Name), DnsError> {
    let invalid = |reason: String| DnsError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    let ascii = ascii_name(name).map_err(invalid)?;
    if ascii.is_empty() {
        return Err(invalid("the name is empty".into()));
    }
    if ascii.len() > MAX_NAME_LEN {
        return Err(invalid("name is longer than 253 characters".into()));
    }
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(invalid("empty label (two dots in a row?)".into()));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(invalid(format!("label {label:?} is longer than 63 bytes")));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid(format!(
                "label {label:?} may only hold letters, digits, '-' and '_'"
            )));
        }
    }
    let mut fqdn = Name::from_labels(ascii.split('.').map(str::as_bytes))
        .map_err(|e| invalid(e.to_string()))?;
    fqdn.set_fqdn(true);
    Ok((ascii, fqdn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testserver::{start, Behaviour, Zone};

    const T: Duration = Duration::from_millis(2000);

    #[test]
    fn bad_names_are_rejected() {
        assert!(query_name("a..b").is_err());
        assert!(query_name(&"x".repeat(64)).is_err());
        let long = vec!["abcdefghij"; 26].join(".");
        assert!(query_name(&long).is_err());
        assert!(query_name("bad name.com").is_err());
        assert!(query_name("esc\\046aped.com").is_err());
        assert!(query_name("").is_err());
        let (ascii, fqdn) = query_name("_dmarc.Example.com.").unwrap();
        assert_eq!(ascii, "_dmarc.example.com");
        assert_eq!(fqdn.to_ascii(), "_dmarc.example.com.");
        assert!(fqdn.is_fqdn());
    }

    #[test]
    fn system_resolver_stands_for_every_system_nameserver() {
        // Whatever the machine has, the answer is an address on port 53.
        assert_eq!(system_resolver().port(), 53);

        let servers = |config: &ResolverConfig| -> Vec<SocketAddr> {
            config
                .name_servers()
                .iter()
                .flat_map(|ns| {
                    ns.connections
                        .iter()
                        .map(|c| SocketAddr::new(ns.ip, c.port))
                })
                .collect()
        };
        let text = "# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver 1.1.1.1\n";
        let (system, _) = hickory_resolver::system_conf::parse_resolv_conf(text).unwrap();
        let first: SocketAddr = "10.0.0.2:53".parse().unwrap();
        assert_eq!(first_server(&system), Some(first));
        // Asking the first nameserver asks them all (over UDP and TCP each)…
        let all = config_for(first, Some(system.clone()));
        assert_eq!(
            servers(&all),
            ["10.0.0.2:53", "10.0.0.2:53", "1.1.1.1:53", "1.1.1.1:53"]
                .map(|a| a.parse::<SocketAddr>().unwrap())
        );
        // …while any other address, port included, is asked alone.
        let other: SocketAddr = "127.0.0.1:5353".parse().unwrap();
        assert_eq!(servers(&config_for(other, Some(system))), [other, other]);
        assert_eq!(servers(&config_for(other, None)), [other, other]);
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
        // مثال.مصر and شركة.example, as their owners publish them.
        let zone = Zone::new(&[
            (
                "_dmarc.xn--mgbh0fb.xn--wgbh1c",
                Behaviour::Txt(vec![vec!["v=DMARC1; p=reject".into()]]),
            ),
            (
                "xn--ogbpi5d.example",
                Behaviour::Txt(vec![vec!["v=spf1 -all".into()]]),
            ),
        ]);
        let asked = zone.asked();
        let server = start(zone).await;
        let got = lookup_txt(server, "_dmarc.مثال.مصر", T).await.unwrap();
        assert_eq!(got, vec!["v=DMARC1; p=reject".to_owned()]);
        let got = lookup_txt(server, "شركة.example", T).await.unwrap();
        assert_eq!(got, vec!["v=spf1 -all".to_owned()]);
        assert_eq!(
            asked.names(),
            ["_dmarc.xn--mgbh0fb.xn--wgbh1c", "xn--ogbpi5d.example"]
        );
        assert_eq!(
            ascii_name("Mail.مثال.مصر.").unwrap(),
            "mail.xn--mgbh0fb.xn--wgbh1c"
        );
        assert_eq!(ascii_name("شركة.example").unwrap(), "xn--ogbpi5d.example");
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

        // An answer with another query id is not an answer to our question: it
        // is ignored, and nothing else comes.
        let err = lookup_txt(server, "spoofed.test", short).await.unwrap_err();
        assert!(matches!(err, DnsError::Timeout { .. }), "{err:?}");

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
    async fn nothing_listening_fails_within_the_timeout() {
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

        // A port with no socket at all: hickory's UDP sockets are not connected,
        // so the kernel's "port unreachable" does not reach it, and this too ends
        // as a timeout, on time.
        let free = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let started = std::time::Instant::now();
        let err = lookup_txt(free, "example.test", Duration::from_millis(500))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(err, DnsError::Timeout { .. }), "{err:?}");
    }
}
