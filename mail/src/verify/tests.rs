//! The domain checks against the test DNS server (`crate::testserver`).

use super::*;
use crate::testserver::{start, Behaviour, Zone};

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

    let server = zone_with(&[("ll1._domainkey.acme.test", Some(txt(&[&["v=DKIM1; p="]])))]).await;
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
async fn internationalised_domain_is_checked_in_punycode() {
    // شركة.example ("company"), as its owner publishes it: xn--ogbpi5d.example.
    let zone = Zone::new(&[
        (
            "xn--ogbpi5d.example",
            txt(&[&["v=spf1 include:_spf.leadline.test ~all"]]),
        ),
        (
            "ll1._domainkey.xn--ogbpi5d.example",
            txt(&[&[&format!("v=DKIM1; k=rsa; p={KEY}")]]),
        ),
        (
            "_dmarc.xn--ogbpi5d.example",
            txt(&[&["v=DMARC1; p=reject"]]),
        ),
    ]);
    let asked = zone.asked();
    let server = start(zone).await;
    let setup = DomainSetup {
        domain: " شركة.Example. ".into(),
        ..setup()
    };
    let checks = verify_domain(server, &setup, T).await.unwrap();
    for c in &checks {
        assert!(c.ok, "{c:?}");
    }
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "xn--ogbpi5d.example",
            "ll1._domainkey.xn--ogbpi5d.example",
            "_dmarc.xn--ogbpi5d.example"
        ]
    );
    assert_eq!(
        by_kind(&checks, RecordKind::Dmarc).expected,
        "v=DMARC1; p=quarantine; rua=mailto:dmarc@xn--ogbpi5d.example"
    );
    assert!(
        asked.names().iter().all(|n| n.is_ascii()),
        "{:?}",
        asked.names()
    );

    // A name that is not a domain at all is refused before any lookup.
    let setup = DomainSetup {
        domain: "not a domain".into(),
        ..setup
    };
    let err = verify_domain(server, &setup, T).await.unwrap_err();
    assert!(matches!(err, DnsError::InvalidName { .. }), "{err:?}");
}

#[tokio::test]
async fn spf_reached_through_a_provider_in_a_whole_check() {
    // acme → provider (include) → relay (redirect) → our include.
    let zone = Zone::new(&[
        (
            "acme.test",
            txt(&[&["v=spf1 mx include:provider.test -all"]]),
        ),
        (
            "provider.test",
            txt(&[&["v=spf1 ip4:192.0.2.0/24 redirect=relay.test"]]),
        ),
        (
            "relay.test",
            txt(&[&["v=spf1 include:_spf.leadline.test ~all"]]),
        ),
        (
            "ll1._domainkey.acme.test",
            txt(&[&[&format!("v=DKIM1; p={KEY}")]]),
        ),
        ("_dmarc.acme.test", txt(&[&["v=DMARC1; p=none"]])),
    ]);
    let asked = zone.asked();
    let server = start(zone).await;
    let checks = verify_domain(server, &setup(), T).await.unwrap();
    assert!(by_kind(&checks, RecordKind::Spf).ok, "{checks:?}");
    let asked = asked.names();
    for name in ["provider.test", "relay.test"] {
        assert!(asked.iter().any(|n| n == name), "{asked:?}");
    }
    // Our own include is recognised by name, never looked up.
    assert!(
        !asked.iter().any(|n| n == "_spf.leadline.test"),
        "{asked:?}"
    );
}

/// Checks `domain` against a zone holding our SPF and DKIM records for it
/// plus `dmarc` (name, record) pairs; returns the DMARC check and the
/// names the server was asked.
async fn dmarc_of(domain: &str, dmarc: &[(&str, &str)]) -> (DnsRecordCheck, Vec<String>) {
    let dkim_name = format!("ll1._domainkey.{domain}");
    let dkim = format!("v=DKIM1; p={KEY}");
    let mut entries = vec![
        (domain, txt(&[&["v=spf1 include:_spf.leadline.test -all"]])),
        (dkim_name.as_str(), txt(&[&[dkim.as_str()]])),
    ];
    entries.extend(
        dmarc
            .iter()
            .map(|(name, record)| (*name, txt(&[&[record]]))),
    );
    let zone = Zone::new(&entries);
    let asked = zone.asked();
    let server = start(zone).await;
    let setup = DomainSetup {
        domain: domain.into(),
        ..setup()
    };
    let checks = verify_domain(server, &setup, T).await.unwrap();
    (by_kind(&checks, RecordKind::Dmarc).clone(), asked.names())
}

#[tokio::test]
async fn dmarc_is_found_at_the_organisational_domain() {
    // RFC 7489 §6.6.3: no record at the subdomain, so the organisational
    // domain's (by the Public Suffix List: co.uk is a suffix) applies.
    let (dmarc, asked) = dmarc_of(
        "mail.acme.co.uk",
        &[("_dmarc.acme.co.uk", "v=DMARC1; p=reject")],
    )
    .await;
    assert!(dmarc.ok, "{dmarc:?}");
    assert_eq!(dmarc.name, "_dmarc.acme.co.uk");
    assert_eq!(dmarc.found, ["v=DMARC1; p=reject"]);
    assert!(asked.contains(&"_dmarc.mail.acme.co.uk".to_owned()));
    assert!(asked.contains(&"_dmarc.acme.co.uk".to_owned()));

    // A record of the subdomain's own is used, and the parent not asked; so
    // is a TXT record there that is not DMARC passed over.
    let (dmarc, asked) = dmarc_of(
        "mail.acme.co.uk",
        &[
            ("_dmarc.mail.acme.co.uk", "v=DMARC1; p=none"),
            ("_dmarc.acme.co.uk", "v=DMARC1; p=reject"),
        ],
    )
    .await;
    assert!(
        dmarc.ok && dmarc.name == "_dmarc.mail.acme.co.uk",
        "{dmarc:?}"
    );
    assert!(
        !asked.contains(&"_dmarc.acme.co.uk".to_owned()),
        "{asked:?}"
    );

    // Neither has one: the problem names the sending domain's own name.
    let (dmarc, _) = dmarc_of(
        "mail.acme.co.uk",
        &[("_dmarc.mail.acme.co.uk", "google-site-verification=x")],
    )
    .await;
    assert!(!dmarc.ok);
    assert_eq!(dmarc.name, "_dmarc.mail.acme.co.uk");
    assert_eq!(dmarc.found, ["google-site-verification=x"]);
    assert!(dmarc
        .problem
        .unwrap()
        .starts_with("No DMARC record found at _dmarc.mail.acme.co.uk"));

    // An internationalised subdomain, under Egypt's مصر (xn--wgbh1c): the
    // organisational domain is found on the punycode form.
    let zone = Zone::new(&[(
        "_dmarc.xn--mgbh0fb.xn--wgbh1c",
        txt(&[&["v=DMARC1; p=quarantine"]]),
    )]);
    let server = start(zone).await;
    let setup = DomainSetup {
        domain: "mail.مثال.مصر".into(),
        ..setup()
    };
    let checks = verify_domain(server, &setup, T).await.unwrap();
    let dmarc = by_kind(&checks, RecordKind::Dmarc);
    assert!(dmarc.ok, "{dmarc:?}");
    assert_eq!(dmarc.name, "_dmarc.xn--mgbh0fb.xn--wgbh1c");
}

#[tokio::test]
async fn a_registered_domain_never_asks_its_public_suffix() {
    // acme.co.uk is its own organisational domain: with no DMARC record
    // there, _dmarc.co.uk (which a registry could publish) is not asked.
    let (dmarc, asked) = dmarc_of("acme.co.uk", &[("_dmarc.co.uk", "v=DMARC1; p=none")]).await;
    assert!(!dmarc.ok);
    assert_eq!(dmarc.name, "_dmarc.acme.co.uk");
    assert!(!asked.iter().any(|n| n == "_dmarc.co.uk"), "{asked:?}");
}

#[test]
fn organisational_domains() {
    assert_eq!(organisational_domain("mail.acme.co.uk"), Some("acme.co.uk"));
    assert_eq!(organisational_domain("a.b.acme.com"), Some("acme.com"));
    assert_eq!(organisational_domain("acme.co.uk"), None);
    assert_eq!(organisational_domain("co.uk"), None);
    // A TLD not on the list counts as a suffix of one label (the "*" rule).
    assert_eq!(organisational_domain("mail.acme.test"), Some("acme.test"));
    assert_eq!(
        organisational_domain("mail.xn--mgbh0fb.xn--wgbh1c"),
        Some("xn--mgbh0fb.xn--wgbh1c")
    );
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
    let dns = Dns::new(server, T).unwrap();
    let found = reaches(&dns, record, "_spf.leadline.test", &mut lookups)
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
