//! Building the RFC 5322 bytes of one outgoing email.

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use std::sync::Arc;

use crate::dkim::{dkim_sign, DkimKey};
use crate::MailError;

/// One email to one recipient, as the outreach engine describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    /// Display name of the sender; may be empty. Non-ASCII is encoded.
    pub from_name: String,
    /// The sender's address (also what DMARC aligns against).
    pub from_address: String,
    /// The recipient: `lead@example.com` or `Name <lead@example.com>`.
    pub to: String,
    /// Subject; non-ASCII (Arabic, …) is RFC 2047 encoded.
    pub subject: String,
    /// The plain-text body (always sent).
    pub text: String,
    /// An HTML alternative; when set the message is multipart/alternative.
    pub html: Option<String>,
    /// The Message-ID without `<>`, e.g. `3f2c…@mail.acme.example`. Derive it
    /// from the idempotency key so that a retried send carries the same id
    /// (receivers then see one message, and replies thread onto it).
    pub message_id: String,
    /// The Message-ID being replied to (with or without `<>`), for follow-ups.
    pub in_reply_to: Option<String>,
    /// The thread's earlier Message-IDs, oldest first (with or without `<>`).
    pub references: Vec<String>,
    /// When set, adds `List-Unsubscribe: <url>` and
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): the
    /// one-click unsubscribe that Gmail and Yahoo require from bulk senders.
    /// The URL must accept a POST.
    pub list_unsubscribe_url: Option<String>,
    /// Further headers (e.g. `Reply-To`, `X-Campaign`). Names this crate sets
    /// itself are rejected, as is the same name twice. Values are encoded.
    pub extra_headers: Vec<(String, String)>,
    /// Files sent with it; when there are any the message is multipart/mixed, the
    /// body (plain, or plain and HTML) first.
    pub attachments: Vec<EmailAttachment>,
}

/// A file attached to an email, base64-encoded in its own part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAttachment {
    /// The name the recipient sees; non-ASCII is RFC 2231 encoded.
    pub file_name: String,
    /// A MIME type, e.g. `application/pdf`.
    pub content_type: String,
    /// Shared: the same file goes with every message of a campaign.
    pub bytes: Arc<Vec<u8>>,
}

/// Headers that `build_message` writes itself; an extra header with one of
/// these names would duplicate or contradict them. Cc/Bcc are refused because
/// a message goes to exactly the one envelope recipient.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "dkim-signature",
];

/// The one check of an email address, on every path that takes one: sign-up and
/// invites, CRM records, imports, senders. What lettre (which sends it) parses as an
/// address, with no display name, at most 254 characters, and a domain with a dot
/// and no empty label: the Internet's addresses, not `root@localhost`. Domains may be
/// internationalised (`sales@مثال.مصر`); whether the mailbox exists is for its mail
/// server to say.
pub fn valid_address(s: &str) -> bool {
    let Some((_, domain)) = s.rsplit_once('@') else {
        return false;
    };
    s.len() <= 254
        && domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'))
        && s.parse::<Address>().is_ok()
}

fn parse_address(s: &str) -> Result<Address, MailError> {
    s.parse::<Address>().map_err(|e| MailError::InvalidAddress {
        address: s.to_owned(),
        reason: e.to_string(),
    })
}

/// `<id>` from an id given with or without angle brackets.
fn msg_id(header: &str, id: &str) -> Result<String, MailError> {
    let bare = id.trim();
    let bare = bare
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(bare);
    let invalid = |reason: &str| MailError::InvalidHeader {
        name: header.to_owned(),
        reason: format!("{id:?} {reason}"),
    };
    if !bare
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>')
    {
        return Err(invalid(
            "may only hold printable ASCII without spaces or <>",
        ));
    }
    // RFC 5322 §3.6.4: id-left "@" id-right. A bare token would still be
    // delivered, but spam filters count it against the sender.
    match bare.split_once('@') {
        Some((left, right)) if !left.is_empty() && !right.is_empty() => Ok(format!("<{bare}>")),
        _ => Err(invalid("must look like unique-part@domain")),
    }
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// The RFC 5322 bytes of `mail`: CRLF line ends, 7-bit clean (non-ASCII
/// headers are RFC 2047 encoded and bodies quoted-printable or base64 as
/// lettre chooses), so no 8BITMIME is needed and nothing gets re-encoded on
/// the way, which would break the DKIM signature.
///
/// With `dkim = Some((domain, selector, key))` the result starts with a
/// `DKIM-Signature` header for `domain` (see [`dkim_sign`]).
pub fn build_message(
    mail: &OutgoingEmail,
    dkim: Option<(&str, &str, &DkimKey)>,
) -> Result<Vec<u8>, MailError> {
    let name = mail.from_name.trim();
    let from = Mailbox::new(
        (!name.is_empty()).then(|| name.to_owned()),
        parse_address(mail.from_address.trim())?,
    );
    let to: Mailbox = mail
        .to
        .trim()
        .parse()
        .map_err(
            |e: lettre::address::AddressError| MailError::InvalidAddress {
                address: mail.to.clone(),
                reason: e.to_string(),
            },
        )?;

    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(msg_id("Message-ID", &mail.message_id)?));
    if let Some(parent) = &mail.in_reply_to {
        builder = builder.in_reply_to(msg_id("In-Reply-To", parent)?);
    }
    if !mail.references.is_empty() {
        let ids = mail
            .references
            .iter()
            .map(|r| msg_id("References", r))
            .collect::<Result<Vec<_>, _>>()?;
        builder = builder.references(ids.join(" "));
    }
    if let Some(url) = &mail.list_unsubscribe_url {
        let url = url.trim();
        let plausible = (url.starts_with("https://") || url.starts_with("http://"))
            && url
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
        if !plausible {
            return Err(MailError::InvalidHeader {
                name: "List-Unsubscribe".into(),
                reason: format!("{url:?} is not an http(s) URL without spaces or <>"),
            });
        }
        builder = builder
            .raw_header(header("List-Unsubscribe", format!("<{url}>")))
            .raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".into(),
            ));
    }

    let mut seen: Vec<String> = Vec::new();
    for (name, value) in &mail.extra_headers {
        let lower = name.to_ascii_lowercase();
        let reason = if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        {
            Some("is not a valid header name")
        } else if RESERVED_HEADERS.contains(&lower.as_str()) {
            Some("is set by the mail builder itself")
        } else if seen.contains(&lower) {
            Some("is given twice")
        } else {
            None
        };
        let header_name = match (reason, HeaderName::new_from_ascii(name.clone())) {
            (None, Ok(header_name)) => header_name,
            (reason, _) => {
                return Err(MailError::InvalidHeader {
                    name: name.clone(),
                    reason: reason.unwrap_or("is not a valid header name").into(),
                })
            }
        };
        seen.push(lower);
        // HeaderValue::new encodes CR/LF and non-ASCII, so a value cannot
        // inject further headers.
        builder = builder.raw_header(HeaderValue::new(header_name, value.clone()));
    }

    let message = if mail.attachments.is_empty() {
        match &mail.html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            )),
            None => builder.singlepart(SinglePart::plain(mail.text.clone())),
        }
    } else {
        let mut mixed = match &mail.html {
            Some(html) => MultiPart::mixed().multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                html.clone(),
            )),
            None => MultiPart::mixed().singlepart(SinglePart::plain(mail.text.clone())),
        };
        for file in &mail.attachments {
            let content_type =
                ContentType::parse(&file.content_type).map_err(|e| MailError::InvalidHeader {
                    name: "Content-Type".into(),
                    reason: format!("{:?}: {e}", file.content_type),
                })?;
            let name = file.file_name.trim();
            if name.is_empty() || name.chars().any(char::is_control) {
                return Err(MailError::InvalidHeader {
                    name: "Content-Disposition".into(),
                    reason: format!("{:?} is not a usable file name", file.file_name),
                });
            }
            mixed = mixed.singlepart(
                Attachment::new(name.to_owned()).body(file.bytes.to_vec(), content_type),
            );
        }
        builder.multipart(mixed)
    }
    .map_err(|e| MailError::Build(e.to_string()))?;

    let raw = message.formatted();
    match dkim {
        None => Ok(raw),
        Some((domain, selector, key)) => {
            let signature = dkim_sign(&raw, domain, selector, key)?;
            let mut signed = signature.into_bytes();
            signed.extend_from_slice(&raw);
            Ok(signed)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;

    use super::*;
    use crate::dkim::split_message;
    use crate::dkim::test_key::key;
    use crate::dkim_verify;

    pub fn sample() -> OutgoingEmail {
        OutgoingEmail {
            from_name: "Sam from Acme".into(),
            from_address: "sam@acme.test".into(),
            to: "Lead Person <lead@example.test>".into(),
            subject: "Quick question".into(),
            text: "Hi Lead,\n\nAre you free next week?\n".into(),
            html: None,
            message_id: "0190f3c2-7f7e-7d41-9a1b-2f9e5b0c1d2e@acme.test".into(),
            in_reply_to: Some("<parent-1@acme.test>".into()),
            references: vec!["root-0@acme.test".into(), "<parent-1@acme.test>".into()],
            list_unsubscribe_url: Some("https://app.leadline.test/u/abc123?t=9".into()),
            extra_headers: vec![("X-Campaign".into(), "spring-42".into())],
            attachments: Vec::new(),
        }
    }

    /// Unfolded header values by lowercase name, in message order.
    pub fn headers_of(raw: &[u8]) -> Vec<(String, String)> {
        let (headers, _) = split_message(raw).unwrap();
        headers
            .iter()
            .map(|h| {
                let text = String::from_utf8(h.raw.to_vec()).unwrap();
                let value = text[h.colon + 1..].replace("\r\n", "");
                (
                    String::from_utf8(h.name().to_vec())
                        .unwrap()
                        .to_ascii_lowercase(),
                    value.trim().to_owned(),
                )
            })
            .collect()
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
    }

    /// Decodes RFC 2047 encoded-words (B and Q), dropping the whitespace
    /// between adjacent encoded-words as the RFC says.
    fn decode_words(value: &str) -> String {
        let mut out = String::new();
        let mut prev_encoded = false;
        for token in value.split_whitespace() {
            let parts: Vec<&str> = token.split('?').collect();
            let encoded = parts.len() == 5 && parts[0] == "=" && parts[4] == "=";
            if !(out.is_empty() || encoded && prev_encoded) {
                out.push(' ');
            }
            if encoded {
                assert!(parts[1].eq_ignore_ascii_case("utf-8"), "{token}");
                let bytes = match parts[2] {
                    "b" | "B" => B64.decode(parts[3]).unwrap(),
                    "q" | "Q" => {
                        let s = parts[3].replace('_', " ");
                        let mut bytes = Vec::new();
                        let mut i = 0;
                        while i < s.len() {
                            if &s[i..i + 1] == "=" {
                                bytes.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                                i += 3;
                            } else {
                                bytes.push(s.as_bytes()[i]);
                                i += 1;
                            }
                        }
                        bytes
                    }
                    other => panic!("unknown encoding {other}"),
                };
                // Words may split a character, so decode after joining.
                out.push_str(&String::from_utf8_lossy(&bytes));
            } else {
                out.push_str(token);
            }
            prev_encoded = encoded;
        }
        out
    }

    #[test]
    fn headers_present() {
        let raw = build_message(&sample(), None).unwrap();
        assert!(raw.is_ascii(), "the message must be 7-bit clean");
        let h = headers_of(&raw);
        assert_eq!(get(&h, "from"), "\"Sam from Acme\" <sam@acme.test>");
        assert_eq!(get(&h, "to"), "\"Lead Person\" <lead@example.test>");
        assert_eq!(
            get(&h, "message-id"),
            "<0190f3c2-7f7e-7d41-9a1b-2f9e5b0c1d2e@acme.test>"
        );
        assert_eq!(get(&h, "in-reply-to"), "<parent-1@acme.test>");
        assert_eq!(
            get(&h, "references"),
            "<root-0@acme.test> <parent-1@acme.test>"
        );
        assert_eq!(
            get(&h, "list-unsubscribe"),
            "<https://app.leadline.test/u/abc123?t=9>"
        );
        assert_eq!(
            get(&h, "list-unsubscribe-post"),
            "List-Unsubscribe=One-Click"
        );
        assert_eq!(get(&h, "x-campaign"), "spring-42");
        assert_eq!(get(&h, "mime-version"), "1.0");
        assert!(get(&h, "content-type").starts_with("text/plain"));
        assert!(!get(&h, "date").is_empty());
        // The body's bare LFs were turned into CRLF.
        let text = String::from_utf8(raw).unwrap();
        assert!(
            text.contains("\r\n\r\nHi Lead,\r\n\r\nAre you free next week?\r\n"),
            "{text}"
        );
    }

    #[test]
    fn optional_headers_absent() {
        let mut mail = sample();
        mail.in_reply_to = None;
        mail.references.clear();
        mail.list_unsubscribe_url = None;
        mail.extra_headers.clear();
        mail.from_name.clear();
        let h = headers_of(&build_message(&mail, None).unwrap());
        for name in [
            "in-reply-to",
            "references",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(h.iter().all(|(n, _)| n != name), "{name} in {h:?}");
        }
        assert_eq!(get(&h, "from"), "sam@acme.test");
    }

    #[test]
    fn arabic_subject_round_trips() {
        let mut mail = sample();
        mail.subject = "عرض خاص لشركة Acme — لفترة محدودة فقط، لا تفوّت الفرصة اليوم".into();
        mail.from_name = "سامي".into();
        mail.text = "مرحبا، هل لديك وقت الأسبوع القادم؟".into();
        let raw = build_message(&mail, None).unwrap();
        assert!(raw.is_ascii());
        let h = headers_of(&raw);
        let subject = get(&h, "subject");
        assert!(subject.contains("=?"), "{subject}");
        assert_eq!(decode_words(subject), mail.subject);
        assert!(decode_words(get(&h, "from")).contains("سامي"));
        // Encoded lines stay within the 78-character recommendation.
        for line in String::from_utf8(raw).unwrap().lines() {
            assert!(line.len() <= 78, "{line}");
        }
    }

    #[test]
    fn multipart_when_html() {
        let mut mail = sample();
        mail.html = Some("<p>Hi Lead,</p><p>Are you free next week?</p>".into());
        let raw = build_message(&mail, None).unwrap();
        let h = headers_of(&raw);
        let content_type = get(&h, "content-type");
        assert!(
            content_type.starts_with("multipart/alternative"),
            "{content_type}"
        );
        let boundary = content_type
            .split("boundary=")
            .nth(1)
            .unwrap()
            .trim_matches('"')
            .to_owned();
        let text = String::from_utf8(raw).unwrap();
        assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 2);
        assert!(text.contains(&format!("--{boundary}--")));
        assert!(text.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(text.contains("Content-Type: text/html; charset=utf-8"));
        assert!(text.contains("<p>Hi Lead,</p>"));
    }

    #[test]
    fn attachments_make_a_mixed_message_that_still_verifies() {
        let mut mail = sample();
        mail.html = Some("<p>Brochure attached</p>".into());
        let pdf: Vec<u8> = b"%PDF-1.7\n".iter().copied().chain(0..=255u8).collect();
        mail.attachments = vec![EmailAttachment {
            file_name: "كتيب المشروع.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: Arc::new(pdf.clone()),
        }];
        let raw = build_message(&mail, Some(("acme.test", "ll1", key()))).unwrap();
        assert_eq!(dkim_verify(&raw, &key().public_key_b64()), Ok(true));
        let h = headers_of(&raw);
        assert!(get(&h, "content-type").starts_with("multipart/mixed"));
        let text = String::from_utf8(raw).unwrap();
        // The body keeps its alternatives inside the mixed part.
        assert!(text.contains("Content-Type: multipart/alternative"));
        assert!(text.contains("Content-Type: application/pdf"));
        // The Arabic name is RFC 2231 encoded (in continued pieces), nothing raw.
        assert!(text.contains("filename*0*=utf-8''%D9%83"), "{text}");
        assert!(text.is_ascii());
        // The part's base64 decodes to the very bytes.
        let part = text.split("Content-Type: application/pdf").nth(1).unwrap();
        let body = part.split("\r\n\r\n").nth(1).unwrap();
        let body: String = body
            .lines()
            .take_while(|l| !l.starts_with("--"))
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(B64.decode(body.trim()).unwrap(), pdf);
    }

    #[test]
    fn an_attachment_with_a_bad_name_or_type_is_refused() {
        let mut mail = sample();
        mail.attachments = vec![EmailAttachment {
            file_name: "a\r\nBcc: x@y.test".into(),
            content_type: "application/pdf".into(),
            bytes: Arc::new(vec![1]),
        }];
        assert!(build_message(&mail, None).is_err());
        mail.attachments[0].file_name = "ok.pdf".into();
        mail.attachments[0].content_type = "not a type".into();
        assert!(build_message(&mail, None).is_err());
    }

    #[test]
    fn signed_message_verifies() {
        let mut mail = sample();
        mail.subject = "عرض خاص".into();
        mail.html = Some("<b>hello</b>".into());
        let raw = build_message(&mail, Some(("acme.test", "ll1", key()))).unwrap();
        assert!(raw.starts_with(b"DKIM-Signature: "));
        let h = headers_of(&raw);
        let sig = get(&h, "dkim-signature").replace([' ', '\t'], "");
        assert!(
            sig.contains(
                "h=from:to:subject:date:message-id:mime-version:content-type:\
                 list-unsubscribe:list-unsubscribe-post:in-reply-to:references;"
            ),
            "{sig}"
        );
        assert_eq!(dkim_verify(&raw, &key().public_key_b64()), Ok(true));
    }

    #[test]
    fn invalid_input_is_rejected() {
        let check = |tweak: fn(&mut OutgoingEmail)| {
            let mut mail = sample();
            tweak(&mut mail);
            build_message(&mail, None).unwrap_err()
        };
        assert!(matches!(
            check(|m| m.to = "not an address".into()),
            MailError::InvalidAddress { .. }
        ));
        assert!(matches!(
            check(|m| m.from_address = "a@".into()),
            MailError::InvalidAddress { .. }
        ));
        assert!(matches!(
            check(|m| m.message_id = "no-at-sign".into()),
            MailError::InvalidHeader { .. }
        ));
        assert!(matches!(
            check(|m| m.message_id = "a b@c".into()),
            MailError::InvalidHeader { .. }
        ));
        assert!(matches!(
            check(|m| m.list_unsubscribe_url = Some("javascript:alert(1)".into())),
            MailError::InvalidHeader { .. }
        ));
        assert!(matches!(
            check(|m| m.extra_headers.push(("Subject".into(), "x".into()))),
            MailError::InvalidHeader { .. }
        ));
        assert!(matches!(
            check(|m| m.extra_headers.push(("X-Campaign".into(), "again".into()))),
            MailError::InvalidHeader { .. }
        ));
        assert!(matches!(
            check(|m| m.extra_headers.push(("Bad Name".into(), "x".into()))),
            MailError::InvalidHeader { .. }
        ));
    }

    #[test]
    fn header_injection_is_neutralised() {
        let mut mail = sample();
        mail.subject = "Hello\r\nBcc: victim@example.test".into();
        mail.extra_headers = vec![("X-Note".into(), "a\r\nBcc: victim@example.test".into())];
        let raw = build_message(&mail, None).unwrap();
        let h = headers_of(&raw);
        assert!(h.iter().all(|(n, _)| n != "bcc"), "{h:?}");
    }

    #[test]
    fn address_validation() {
        assert!(valid_address("lead@example.com"));
        assert!(valid_address("first.last+tag@sub.example.co"));
        assert!(!valid_address("lead@"));
        assert!(!valid_address("@example.com"));
        assert!(!valid_address("lead example.com"));
        assert!(!valid_address("Lead <lead@example.com>"));
        assert!(!valid_address(""));
        assert!(valid_address("sales@مثال.مصر"), "an Arabic IDN domain");
        assert!(valid_address("sales@xn--mgbh0fb.xn--wgbh1c"));
        assert!(!valid_address("root@localhost"));
        assert!(!valid_address("lead@example..com"));
        assert!(!valid_address("lead@.example.com"));
        assert!(!valid_address("lead@example.com."));
        assert!(!valid_address("lead@-example.com"));
        assert!(!valid_address("two@at@example.com"));
        assert!(!valid_address("tab\t@example.com"));
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(!valid_address(&long));
    }
}
