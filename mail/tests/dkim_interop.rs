//! Our DKIM signer checked by a verifier we did not write: Stalwart's `mail-auth`.
//!
//! Our own `dkim_verify` shares its canonicalisation with the signer, so a
//! mistake in one would be repeated in the other and go unseen; mail-auth's
//! verifier is what a receiving server runs. The public key reaches it through
//! its TXT cache, pre-filled the way a DNS answer would fill it, with no
//! nameserver configured: a cache miss is an error, never a real lookup.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use mail::{build_message, dkim_sign, DkimKey, OutgoingEmail};
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, ResolverCache, Txt};

const SELECTOR: &str = "ll1";

/// One key for the whole file: RSA generation is slow in debug builds.
fn key() -> &'static DkimKey {
    static KEY: OnceLock<DkimKey> = OnceLock::new();
    KEY.get_or_init(|| DkimKey::generate().unwrap())
}

/// mail-auth's TXT cache, as a map that keeps what it is given.
struct TxtCache(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _valid_until: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

/// What mail-auth's DKIM verifier says of `signed`, with our public key
/// published for `domain` as the DNS record we tell tenants to publish.
async fn verify(signed: &[u8], domain: &str) -> Vec<DkimResult> {
    let record = format!("v=DKIM1; k=rsa; p={}", key().public_key_b64());
    let cache = TxtCache(Mutex::new(HashMap::new()));
    // Keys are fully qualified, as mail-auth looks them up.
    cache.insert(
        format!("{SELECTOR}._domainkey.{domain}.").into(),
        Txt::from(DomainKey::parse(record.as_bytes())),
        Instant::now() + Duration::from_secs(3600),
    );
    let no_nameservers = ResolverConfig::from_name_servers(Vec::new());
    let authenticator = MessageAuthenticator::new(no_nameservers, ResolverOpts::default()).unwrap();
    let message = AuthenticatedMessage::parse(signed).expect("mail-auth parses the message");
    authenticator
        .verify_dkim(mail_auth::Parameters::new(&message).with_txt_cache(&cache))
        .await
        .into_iter()
        .map(|output| output.result().clone())
        .collect()
}

/// `message` with our DKIM-Signature in front, as `send` hands it over.
fn signed(message: &str, domain: &str) -> Vec<u8> {
    let header = dkim_sign(message.as_bytes(), domain, SELECTOR, key()).unwrap();
    [header.as_bytes(), message.as_bytes()].concat()
}

async fn assert_passes(message: &str, domain: &str) {
    let signed = signed(message, domain);
    assert_eq!(
        verify(&signed, domain).await,
        [DkimResult::Pass],
        "{}",
        String::from_utf8_lossy(&signed)
    );
}

#[tokio::test]
async fn plain_message_passes() {
    assert_passes(
        "From: Sam <sam@acme.test>\r\n\
         To: lead@example.test\r\n\
         Subject: Quick question\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         Message-ID: <plain@acme.test>\r\n\
         \r\n\
         Hello there,\r\n\
         \r\n\
         How are you?\r\n",
        "acme.test",
    )
    .await;
}

#[tokio::test]
async fn folded_headers_pass() {
    // Relaxed canonicalisation unfolds and squeezes whitespace; header names
    // in any case are the same header.
    assert_passes(
        "from: Sam <sam@acme.test>\r\n\
         To: Lead One <lead@example.test>,\r\n\
         \tLead Two <two@example.test>\r\n\
         SUBJECT: A subject folded\r\n    \t over   three\r\n lines\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         Message-ID:\r\n <folded@acme.test>\r\n\
         References: <a@acme.test>\r\n <b@acme.test>\r\n\t<c@acme.test>\r\n\
         \r\n\
         Body.\r\n",
        "acme.test",
    )
    .await;
}

#[tokio::test]
async fn trailing_whitespace_passes() {
    // Spaces and tabs at the end of header values and body lines, a line that
    // starts with a tab, and blank lines at the end of the body.
    assert_passes(
        "From: Sam <sam@acme.test>   \r\n\
         To: lead@example.test\t\r\n\
         Subject: Spaces  at   the end \t \r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         \r\n\
         A line with trailing spaces   \r\n\
         \tand one with a tab\t\r\n\
         \r\n\
         \r\n\
         \r\n",
        "acme.test",
    )
    .await;
}

/// The one shape where mail-auth and we disagree, kept so that an upgrade that
/// changes either side is noticed. RFC 6376 §3.4.4 strips whitespace at the end
/// of lines (step a) *before* dropping empty lines at the end of the body (step
/// b), so a last line of only spaces is dropped: the canonical body below is
/// "Hi.\r\n", as dkimpy computes it too. mail-auth 0.13 keeps such lines, so its
/// body hash differs and it reports a mismatch. Messages from `build_message`
/// never end so (their bodies are quoted-printable or base64).
#[tokio::test]
async fn whitespace_only_last_lines_are_where_mail_auth_departs_from_the_rfc() {
    use base64::Engine as _;
    use sha2::{Digest as _, Sha256};

    let message = "From: sam@acme.test\r\n\
                   Subject: Hi\r\n\
                   \r\n\
                   Hi.\r\n\
                   \x20\x20\r\n\
                   \t\r\n";
    let signed = signed(message, "acme.test");
    let rfc_body_hash =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"Hi.\r\n"));
    let text = String::from_utf8_lossy(&signed);
    assert!(text.contains(&format!("bh={rfc_body_hash};")), "{text}");
    assert_eq!(
        verify(&signed, "acme.test").await,
        [DkimResult::Neutral(mail_auth::Error::Dkim(
            mail_auth::dkim::DkimError::FailedBodyHashMatch
        ))]
    );
}

#[tokio::test]
async fn empty_body_passes() {
    assert_passes(
        "From: sam@acme.test\r\n\
         To: lead@example.test\r\n\
         Subject: Nothing to say\r\n\
         \r\n",
        "acme.test",
    )
    .await;
}

#[tokio::test]
async fn non_ascii_utf8_passes() {
    // An 8-bit UTF-8 body (Arabic, an emoji), a raw UTF-8 display name
    // (RFC 6532) and an RFC 2047 encoded subject.
    assert_passes(
        "From: =?utf-8?b?2LPYp9mF?= <sam@acme.test>\r\n\
         To: ليلى <lead@example.test>\r\n\
         Subject: =?utf-8?q?=D9=85=D8=B1=D8=AD=D8=A8=D8=A7?=\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n\
         مرحبا يا ليلى،  \r\n\
         هل أنت متاحة الأسبوع القادم؟ 🙂\r\n",
        "acme.test",
    )
    .await;
}

#[tokio::test]
async fn internationalised_domain_passes() {
    // شركة.example signs as d=xn--ogbpi5d.example, its punycode form.
    let domain = mail::ascii_name("شركة.example").unwrap();
    assert_eq!(domain, "xn--ogbpi5d.example");
    assert_passes(
        &format!(
            "From: sam@{domain}\r\n\
             To: lead@example.test\r\n\
             Subject: Hello\r\n\
             \r\n\
             Hi.\r\n"
        ),
        &domain,
    )
    .await;
}

#[tokio::test]
async fn built_message_passes() {
    // What the outreach engine sends: lettre's multipart/alternative output
    // with Arabic text, signed by build_message.
    let email = OutgoingEmail {
        from_name: "سام من أكمي".into(),
        from_address: "sam@acme.test".into(),
        to: "Lead Person <lead@example.test>".into(),
        subject: "سؤال سريع".into(),
        text: "مرحبا،\n\nهل أنت متاح الأسبوع القادم؟\n".into(),
        html: Some("<p>مرحبا،</p><p>هل أنت متاح؟</p>".into()),
        message_id: "built-1@acme.test".into(),
        in_reply_to: Some("<parent-1@acme.test>".into()),
        references: vec!["root-0@acme.test".into(), "<parent-1@acme.test>".into()],
        list_unsubscribe_url: Some("https://app.leadline.test/u/abc123?t=9".into()),
        extra_headers: vec![("X-Campaign".into(), "spring-42".into())],
        attachments: Vec::new(),
    };
    let raw = build_message(&email, Some(("acme.test", SELECTOR, key()))).unwrap();
    assert_eq!(verify(&raw, "acme.test").await, [DkimResult::Pass]);
}

#[tokio::test]
async fn tampered_messages_fail() {
    let message = "From: Sam <sam@acme.test>\r\n\
                   To: lead@example.test\r\n\
                   Subject: Invoice\r\n\
                   \r\n\
                   Please pay 100 EUR.\r\n";
    let good = signed(message, "acme.test");

    // The body changed on the way: the body hash no longer matches (which
    // mail-auth reports as "neutral", RFC 6376 §6.1.3's PERMFAIL).
    let body = String::from_utf8(good.clone())
        .unwrap()
        .replace("100 EUR", "900 EUR");
    let results = verify(body.as_bytes(), "acme.test").await;
    assert!(
        matches!(
            results.as_slice(),
            [DkimResult::Neutral(mail_auth::Error::Dkim(
                mail_auth::dkim::DkimError::FailedBodyHashMatch
            ))]
        ),
        "{results:?}"
    );

    // A signed header changed: the signature no longer matches.
    let header = String::from_utf8(good)
        .unwrap()
        .replace("Subject: Invoice", "Subject: Invoice (urgent)");
    let results = verify(header.as_bytes(), "acme.test").await;
    assert!(
        matches!(results.as_slice(), [DkimResult::Fail(_)]),
        "{results:?}"
    );
}
