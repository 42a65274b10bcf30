//! Checks that a tenant's sending domain publishes the SPF, DKIM and DMARC
//! records we need, and says in plain English what is wrong when it does not.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dns::{lookup_txt, DnsError};

/// What we ask a tenant to publish for one sending domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSetup {
    /// The domain in the From address, e.g. `acme.example`.
    pub domain: String,
    /// The DKIM selector; the key lives at `<selector>._domainkey.<domain>`.
    pub dkim_selector: String,
    /// Our DKIM public key: SubjectPublicKeyInfo DER, base64 (see
    /// [`crate::DkimKey::public_key_b64`]).
    pub dkim_public_key_b64: String,
    /// The SPF mechanism our senders need, as in `include:<spf_include>`,
    /// e.g. `_spf.leadline.test`.
    pub spf_include: String,
}

/// Which record a [`DnsRecordCheck`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordKind {
    /// Sender Policy Framework (RFC 7208), a TXT record at the domain itself.
    Spf,
    /// DomainKeys Identified Mail public key (RFC 6376).
    Dkim,
    /// DMARC policy (RFC 7489), at `_dmarc.<domain>`.
    Dmarc,
}

/// The outcome of checking one record, ready to show in the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecordCheck {
    /// Which record.
    pub kind: RecordKind,
    /// The DNS name where the TXT record must be published.
    pub name: String,
    /// The value to publish.
    pub expected: String,
    /// The relevant TXT records found at `name` (for SPF only those starting
    /// with `v=spf1`, since the domain's apex often carries unrelated tokens).
    pub found: Vec<String>,
    /// Whether the record is acceptable.
    pub ok: bool,
    /// Why not, in English, when `ok` is false.
    pub problem: Option<String>,
}

/// Looks up the three records of `setup.domain` (in parallel) and checks them.
///
/// Returns the checks in the order SPF, DKIM, DMARC. A DNS failure (timeout,
/// SERVFAIL, …) on any of the three is an `Err`: we could not tell, which is
/// different from "the record is wrong". SPF is followed through `include:` and
/// `redirect=` within RFC 7208's ten lookups. Only the exact domain is checked for
/// DMARC, not its organisational parent.
pub async fn verify_domain(
    resolver: SocketAddr,
    setup: &DomainSetup,
    timeout: Duration,
) -> Result<Vec<DnsRecordCheck>, DnsError> {
    let domain = setup
        .domain
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let dkim_name = format!("{}._domainkey.{domain}", setup.dkim_selector.trim());
    let dmarc_name = format!("_dmarc.{domain}");

    let (spf, dkim, dmarc) = tokio::join!(
        lookup_txt(resolver, &domain, timeout),
        lookup_txt(resolver, &dkim_name, timeout),
        lookup_txt(resolver, &dmarc_name, timeout),
    );
    let spf = spf?;
    // Only a single record is followed; two or more are an error of their own.
    let reach = match spf
        .iter()
        .filter(|r| is_spf(r))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [record] => {
            let mut lookups = 0;
            reaches(resolver, record, &setup.spf_include, &mut lookups, timeout).await?
        }
        _ => Reach::No,
    };
    Ok(vec![
        check_spf(&domain, &setup.spf_include, spf, reach),
        check_dkim(dkim_name, &setup.dkim_public_key_b64, dkim?),
        check_dmarc(&domain, dmarc_name, dmarc?),
    ])
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn is_spf(record: &str) -> bool {
    // RFC 7208 §4.5: exactly "v=spf1" followed by a space or the end, so that
    // "v=spf10" is not mistaken for one.
    let r = record.trim_start();
    starts_with_ignore_case(r, "v=spf1") && r[6..].chars().next().is_none_or(|c| c == ' ')
}

/// RFC 7208 §4.6.4: at most ten terms that cause DNS lookups in one evaluation.
const SPF_LOOKUP_LIMIT: u32 = 10;

/// Whether following an SPF policy lets our servers pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// Our include is reached with a pass qualifier, directly or through `include:`
    /// and `redirect=` of other domains.
    Yes,
    No,
    /// More than ten lookups: receivers give up with a permerror.
    TooManyLookups,
}

/// Follows `record`'s `include:` and `redirect=` terms, left to right as a receiver
/// evaluates them, counting every term that costs a DNS lookup. An included domain
/// with no SPF record is passed over: it cannot authorise us either way.
fn reaches<'a>(
    resolver: SocketAddr,
    record: &'a str,
    ours: &'a str,
    lookups: &'a mut u32,
    timeout: Duration,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reach, DnsError>> + Send + 'a>> {
    Box::pin(async move {
        let ours = ours.trim().trim_end_matches('.').to_ascii_lowercase();
        let mut redirect = None;
        let mut has_all = false;
        for term in record.split_whitespace().skip(1) {
            let term = term.to_ascii_lowercase();
            let (qualifier, mechanism) = match term.chars().next() {
                Some(q @ ('+' | '-' | '~' | '?')) => (q, &term[1..]),
                _ => ('+', term.as_str()),
            };
            let name = mechanism.split([':', '/', '=']).next().unwrap_or("");
            if matches!(name, "include" | "a" | "mx" | "ptr" | "exists" | "redirect") {
                *lookups += 1;
                if *lookups > SPF_LOOKUP_LIMIT {
                    return Ok(Reach::TooManyLookups);
                }
            }
            if name == "all" {
                has_all = true;
                break;
            }
            if let Some(target) = mechanism.strip_prefix("redirect=") {
                redirect = Some(target.trim_end_matches('.').to_string());
                continue;
            }
            let Some(target) = mechanism.strip_prefix("include:") else {
                continue;
            };
            // "~", "-" or "?" before an include would not let our servers pass.
            if qualifier != '+' {
                continue;
            }
            let target = target.trim_end_matches('.');
            if target == ours {
                return Ok(Reach::Yes);
            }
            match nested(resolver, target, &ours, lookups, timeout).await? {
                Reach::No => {}
                found => return Ok(found),
            }
        }
        // A redirect applies only when the record has no "all" of its own.
        match redirect {
            Some(target) if !has_all && target == ours => Ok(Reach::Yes),
            Some(target) if !has_all => nested(resolver, &target, &ours, lookups, timeout).await,
            _ => Ok(Reach::No),
        }
    })
}

/// The SPF record at `domain`, followed.
async fn nested(
    resolver: SocketAddr,
    domain: &str,
    ours: &str,
    lookups: &mut u32,
    timeout: Duration,
) -> Result<Reach, DnsError> {
    let records = lookup_txt(resolver, domain, timeout).await?;
    match records
        .iter()
        .filter(|r| is_spf(r))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [record] => reaches(resolver, record, ours, lookups, timeout).await,
        _ => Ok(Reach::No),
    }
}

fn check_spf(domain: &str, include: &str, records: Vec<String>, reach: Reach) -> DnsRecordCheck {
    let include = include.trim().trim_end_matches('.');
    let expected = format!("v=spf1 include:{include} ~all");
    let found: Vec<String> = records.into_iter().filter(|r| is_spf(r)).collect();

    let problem = match found.as_slice() {
        [] => Some(format!(
            "No SPF record found at {domain}. Publish a TXT record: {expected}"
        )),
        [_] => match reach {
            Reach::Yes => None,
            Reach::No => Some(format!(
                "The SPF record does not include {include}, so receivers will not \
                 accept our servers for {domain}. Add \"include:{include}\" to the \
                 existing record before its final \"all\" term (do not publish a \
                 second SPF record)."
            )),
            Reach::TooManyLookups => Some(format!(
                "Following the SPF record of {domain} takes more than \
                 {SPF_LOOKUP_LIMIT} DNS lookups, which receivers treat as an error \
                 (permerror) and so accept no server at all. Remove includes you no \
                 longer use, or replace them with the addresses they stand for."
            )),
        },
        _ => Some(format!(
            "{domain} has {} SPF records; more than one is an SPF error (permerror) and \
             receivers ignore them all. Merge them into a single record that contains \
             \"include:{include}\".",
            found.len()
        )),
    };
    DnsRecordCheck {
        kind: RecordKind::Spf,
        name: domain.to_owned(),
        expected,
        found,
        ok: problem.is_none(),
        problem,
    }
}

/// Splits a DKIM/DMARC tag list (`tag=value; tag=value`) into pairs, names
/// and values trimmed. Malformed parts (no `=`) are skipped, as verifiers do.
fn tags(record: &str) -> Vec<(String, String)> {
    record
        .split(';')
        .filter_map(|part| {
            let (name, value) = part.split_once('=')?;
            Some((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn strip_ws(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn check_dkim(name: String, public_key_b64: &str, found: Vec<String>) -> DnsRecordCheck {
    let ours = strip_ws(public_key_b64);
    let expected = format!("v=DKIM1; k=rsa; p={ours}");

    let problem = match found.as_slice() {
        [] => Some(format!(
            "No DKIM record found at {name}. Publish a TXT record: {expected}"
        )),
        [record] => {
            let t = tags(record);
            match (tag(&t, "v"), tag(&t, "k"), tag(&t, "p")) {
                (Some(v), _, _) if v != "DKIM1" => Some(format!(
                    "The DKIM record at {name} has v={v}; it must be v=DKIM1."
                )),
                (_, Some(k), _) if !k.eq_ignore_ascii_case("rsa") => Some(format!(
                    "The DKIM record at {name} is for a {k} key; ours is rsa (k=rsa)."
                )),
                (_, _, None) => Some(format!(
                    "The DKIM record at {name} has no public key (p= tag)."
                )),
                (_, _, Some(p)) if strip_ws(p).is_empty() => Some(format!(
                    "The DKIM key at {name} is revoked (empty p=). Publish our key instead."
                )),
                (_, _, Some(p)) if strip_ws(p) != ours => Some(format!(
                    "The DKIM key published at {name} is not ours, so our signatures will \
                     fail. Replace the record with: {expected}"
                )),
                _ => None,
            }
        }
        _ => Some(format!(
            "There are {} TXT records at {name}; there must be exactly one DKIM key.",
            found.len()
        )),
    };
    DnsRecordCheck {
        kind: RecordKind::Dkim,
        name,
        expected,
        found,
        ok: problem.is_none(),
        problem,
    }
}

fn check_dmarc(domain: &str, name: String, records: Vec<String>) -> DnsRecordCheck {
    let expected = format!("v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}");
    let dmarc: Vec<&String> = records
        .iter()
        .filter(|r| {
            let t = tags(r);
            t.first()
                .is_some_and(|(n, v)| n == "v" && v.eq_ignore_ascii_case("DMARC1"))
        })
        .collect();

    let problem = match dmarc.as_slice() {
        [] => Some(format!(
            "No DMARC record found at {name}. Publish a TXT record: {expected}"
        )),
        [record] => {
            let t = tags(record);
            match tag(&t, "p") {
                Some(p)
                    if ["none", "quarantine", "reject"]
                        .iter()
                        .any(|ok| p.eq_ignore_ascii_case(ok)) =>
                {
                    None
                }
                Some(p) => Some(format!(
                    "The DMARC record at {name} has an invalid policy p={p}; use none, \
                     quarantine or reject."
                )),
                None => Some(format!(
                    "The DMARC record at {name} has no policy (p= tag). Use: {expected}"
                )),
            }
        }
        _ => Some(format!(
            "There are {} DMARC records at {name}; receivers ignore them all when there \
             is more than one. Keep a single record.",
            dmarc.len()
        )),
    };
    DnsRecordCheck {
        kind: RecordKind::Dmarc,
        name,
        expected,
        found: records,
        ok: problem.is_none(),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::testserver::{start, Behaviour, Zone};

    const KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtestkey";
    const T: Duration = Duration::from_secs(2);

    fn setup() -> DomainSetup {
        DomainSetup {
            domain: "acme.test".into(),
            dkim_selector: "ll1".into(),
            dkim_public_key_b64: KEY.into(),
            spf_include: "_spf.leadline.test".into(),
        }
    }

    fn txt(records: &[&[&str]]) -> Behaviour {
        Behaviour::Txt(
            records
                .iter()
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .collect(),
        )
    }

    /// A zone where everything is right; `tweak` replaces entries.
    async fn zone_with(tweak: &[(&str, Option<Behaviour>)]) -> SocketAddr {
        let mut entries = vec![
            (
                "acme.test",
                txt(&[
                    &["google-site-verification=abc"],
                    &["v=spf1 include:_spf.google.com include:_spf.leadline.test ~all"],
                ]),
            ),
            (
                "ll1._domainkey.acme.test",
                // Key split across two strings with whitespace, as DNS UIs do.
                txt(&[&[
                    "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOC",
                    "AQ8AMIIBCgKC AQEAtestkey",
                ]]),
            ),
            (
                "_dmarc.acme.test",
                txt(&[&["v=DMARC1; p=none; rua=mailto:d@acme.test"]]),
            ),
        ];
        for (name, behaviour) in tweak {
            entries.retain(|(n, _)| n != name);
            if let Some(b) = behaviour {
                entries.push((name, b.clone()));
            }
        }
        start(Zone::new(&entries)).await
    }

    fn by_kind(checks: &[DnsRecordCheck], kind: RecordKind) -> &DnsRecordCheck {
        checks.iter().find(|c| c.kind == kind).unwrap()
    }

    #[tokio::test]
    async fn all_ok() {
        let server = zone_with(&[]).await;
        let checks = verify_domain(server, &setup(), T).await.unwrap();
        assert_eq!(checks.len(), 3);
        for c in &checks {
            assert!(c.ok, "{c:?}");
            assert_eq!(c.problem, None);
        }
        let spf = by_kind(&checks, RecordKind::Spf);
        assert_eq!(spf.name, "acme.test");
        assert_eq!(spf.expected, "v=spf1 include:_spf.leadline.test ~all");
        assert_eq!(spf.found.len(), 1, "only the SPF record is reported");
        let dkim = by_kind(&checks, RecordKind::Dkim);
        assert_eq!(dkim.name, "ll1._domainkey.acme.test");
        assert_eq!(dkim.expected, format!("v=DKIM1; k=rsa; p={KEY}"));
        let dmarc = by_kind(&checks, RecordKind::Dmarc);
        assert_eq!(dmarc.name, "_dmarc.acme.test");
        assert_eq!(
            dmarc.expected,
            "v=DMARC1; p=quarantine; rua=mailto:dmarc@acme.test"
        );
    }

    #[tokio::test]
    async fn spf_include_missing() {
        let server = zone_with(&[(
            "acme.test",
            Some(txt(&[&[
                "v=spf1 include:_spf.google.com ~include:_spf.leadline.test -all",
            ]])),
        )])
        .await;
        let checks = verify_domain(server, &setup(), T).await.unwrap();
        let spf = by_kind(&checks, RecordKind::Spf);
        assert!(!spf.ok);
        assert!(spf
            .problem
            .as_ref()
            .unwrap()
            .contains("does not include _spf.leadline.test"));
        assert!(by_kind(&checks, RecordKind::Dkim).ok);
        assert!(by_kind(&checks, RecordKind::Dmarc).ok);
    }

    #[tokio::test]
    async fn spf_missing_entirely() {
        let server = zone_with(&[("acme.test", None)]).await;
        let checks = verify_domain(server, &setup(), T).await.unwrap();
        let spf = by_kind(&checks, RecordKind::Spf);
        assert!(!spf.ok && spf.found.is_empty());
        assert!(spf
            .problem
            .as_ref()
            .unwrap()
            .starts_with("No SPF record found"));
    }

    #[tokio::test]
    async fn two_spf_records() {
        let server = zone_with(&[(
            "acme.test",
            Some(txt(&[
                &["v=spf1 include:_spf.leadline.test ~all"],
                &["V=SPF1 include:_spf.google.com ~all"],
                &["v=spf10 not-spf"],
            ])),
        )])
        .await;
        let checks = verify_domain(server, &setup(), T).await.unwrap();
        let spf = by_kind(&checks, RecordKind::Spf);
        assert!(!spf.ok);
        assert_eq!(spf.found.len(), 2);
        assert!(spf.problem.as_ref().unwrap().contains("permerror"));
    }

    #[tokio::test]
    async fn dkim_key_mismatch_and_revoked() {
        let server = zone_with(&[(
            "ll1._domainkey.acme.test",
            Some(txt(&[&["v=DKIM1; k=rsa; p=MIIBsomeoneelse"]])),
        )])
        .await;
        let checks = verify_domain(server, &setup(), T).await.unwrap();
        let dkim = by_kind(&checks, RecordKind::Dkim);
        assert!(!dkim.ok);
        assert!(dkim.problem.as_ref().unwrap().contains("not ours"));
        assert_eq!(
            dkim.found,
            vec!["v=DKIM1; k=rsa; p=MIIBsomeoneelse".to_owned()]
        );

        let server =
            zone_with(&[("ll1._domainkey.acme.test", Some(txt(&[&["v=DKIM1; p="]])))]).await;
        let checks = verify_domain(server, &setup(), T).await.unwrap();
        let dkim = by_kind(&checks, RecordKind::Dkim);
        assert!(dkim.problem.as_ref().unwrap().contains("revoked"));

        let server = zone_with(&[("ll1._domainkey.acme.test", None)]).await;
        let checks = verify_domain(server, &setup(), T).await.unwrap();
        let dkim = by_kind(&checks, RecordKind::Dkim);
        assert!(dkim.problem.as_ref().unwrap().starts_with("No DKIM record"));
    }

    #[tokio::test]
    async fn dmarc_missing_or_without_policy() {
        let server = zone_with(&[("_dmarc.acme.test", None)]).await;
        let checks = verify_domain(server, &setup(), T).await.unwrap();
        let dmarc = by_kind(&checks, RecordKind::Dmarc);
        assert!(!dmarc.ok);
        assert!(dmarc
            .problem
            .as_ref()
            .unwrap()
            .starts_with("No DMARC record found"));
        assert!(by_kind(&checks, RecordKind::Spf).ok);

        let server = zone_with(&[(
            "_dmarc.acme.test",
            Some(txt(&[&["v=DMARC1; rua=mailto:d@acme.test"]])),
        )])
        .await;
        let checks = verify_domain(server, &setup(), T).await.unwrap();
        let dmarc = by_kind(&checks, RecordKind::Dmarc);
        assert!(!dmarc.ok);
        assert!(dmarc.problem.as_ref().unwrap().contains("no policy"));
    }

    #[tokio::test]
    async fn dns_failure_is_an_error_not_a_verdict() {
        let server = zone_with(&[("_dmarc.acme.test", Some(Behaviour::ServFail))]).await;
        let err = verify_domain(server, &setup(), T).await.unwrap_err();
        assert!(matches!(err, DnsError::ServerFailure { .. }), "{err:?}");

        // Nothing answering at all: a quick, clear timeout.
        let mute = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let started = std::time::Instant::now();
        let err = verify_domain(
            mute.local_addr().unwrap(),
            &setup(),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            err.to_string().contains("no answer from DNS server"),
            "{err}"
        );
    }

    #[test]
    fn spf_term_rules() {
        assert!(is_spf("v=spf1"));
        assert!(is_spf("v=spf1 -all"));
        assert!(!is_spf("v=spf10"));
        assert!(!is_spf("spf1"));
    }

    async fn reach(server: SocketAddr, record: &str) -> (Reach, u32) {
        let mut lookups = 0;
        let found = reaches(server, record, "_spf.leadline.test", &mut lookups, T)
            .await
            .unwrap();
        (found, lookups)
    }

    #[tokio::test]
    async fn spf_is_followed_through_includes_and_redirects() {
        let server = start(Zone::new(&[
            (
                "provider.test",
                txt(&[&["v=spf1 include:_spf.leadline.test ~all"]]),
            ),
            (
                "deeper.test",
                txt(&[&["v=spf1 a mx redirect=provider.test"]]),
            ),
            (
                "soft.test",
                txt(&[&["v=spf1 ~include:_spf.leadline.test -all"]]),
            ),
            ("other.test", txt(&[&["v=spf1 ip4:192.0.2.1 -all"]])),
        ]))
        .await;
        // Directly, in any case and with a trailing dot, or by redirect.
        assert_eq!(
            reach(server, "v=spf1 +include:_SPF.leadline.test. -all")
                .await
                .0,
            Reach::Yes
        );
        assert_eq!(
            reach(server, "v=spf1 redirect=_spf.leadline.test").await.0,
            Reach::Yes
        );
        // Through a provider's record, two levels down.
        assert_eq!(
            reach(
                server,
                "v=spf1 include:other.test include:provider.test -all"
            )
            .await,
            (Reach::Yes, 3)
        );
        assert_eq!(
            reach(server, "v=spf1 include:deeper.test -all").await,
            (Reach::Yes, 5)
        );
        // Not with a qualifier that does not pass, after "all", when "all" overrides
        // the redirect, or when the provider's own include is soft.
        assert_eq!(
            reach(server, "v=spf1 ?include:provider.test -all").await.0,
            Reach::No
        );
        assert_eq!(
            reach(server, "v=spf1 -all include:provider.test").await.0,
            Reach::No
        );
        assert_eq!(
            reach(server, "v=spf1 ~all redirect=provider.test").await.0,
            Reach::No
        );
        assert_eq!(
            reach(server, "v=spf1 include:soft.test -all").await.0,
            Reach::No
        );
        // An include of a name with no SPF record authorises nothing.
        assert_eq!(
            reach(server, "v=spf1 include:missing.test -all").await.0,
            Reach::No
        );
    }

    #[tokio::test]
    async fn more_than_ten_lookups_is_an_error() {
        let chain: Vec<(String, Behaviour)> = (0..12)
            .map(|i| {
                let next = if i == 11 {
                    "_spf.leadline.test".to_string()
                } else {
                    format!("hop{}.test", i + 1)
                };
                (
                    format!("hop{i}.test"),
                    txt(&[&[&format!("v=spf1 include:{next} -all")]]),
                )
            })
            .collect();
        let entries: Vec<(&str, Behaviour)> =
            chain.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
        let server = start(Zone::new(&entries)).await;
        assert_eq!(
            reach(server, "v=spf1 include:hop0.test -all").await.0,
            Reach::TooManyLookups
        );
        // Ten lookups (nine hops and our include) are fine.
        assert_eq!(
            reach(server, "v=spf1 include:hop3.test -all").await,
            (Reach::Yes, 10)
        );
        let check = check_spf(
            "d.test",
            "_spf.leadline.test",
            vec!["v=spf1 include:hop0.test -all".into()],
            Reach::TooManyLookups,
        );
        assert!(!check.ok);
        assert!(check.problem.unwrap().contains("more than 10 DNS lookups"));
    }
}
