//! What the peer keeps of a received message, read with `mail-parser`, and
//! the tracking URLs in its HTML.

use std::borrow::Cow;

use mail_parser::{HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType};

use crate::ReceivedFile;

/// The parts of a message the peer keeps.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Parsed {
    /// As sent: names as spelled, values unfolded and trimmed, not decoded.
    pub(crate) headers: Vec<(String, String)>,
    /// Without the angle brackets.
    pub(crate) message_id: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) text: String,
    pub(crate) html: Option<String>,
    /// The attachments, as a mail client lists them.
    pub(crate) attachments: Vec<ReceivedFile>,
}

/// Parses a whole message as received after DATA.
pub(crate) fn parse(raw: &[u8]) -> Parsed {
    // mail-parser gives up only when not even one header can be read, and
    // then there is nothing to keep.
    let Some(message) = MessageParser::new().parse(raw) else {
        return Parsed::default();
    };
    let text = if message.root_part().is_multipart() {
        // mail-parser offers an HTML part as the text body when there is no
        // text/plain one; the peer shows only what was sent as text.
        message
            .text_bodies()
            .find(|part| matches!(part.body, PartType::Text(_)))
            .map(body)
            .unwrap_or_default()
    } else {
        // A single-part message has only one body, kept as the text whatever
        // its type; an HTML one is also the HTML, so that its tracking URLs
        // can be found.
        body(message.root_part())
    };
    // Likewise a text/plain part stands in for a missing HTML one.
    let html = message
        .html_bodies()
        .find(|part| part.is_text_html())
        .map(body);
    Parsed {
        headers: raw_headers(&message),
        message_id: message
            .message_id()
            .filter(|id| !id.is_empty())
            .map(str::to_owned),
        // mail-parser reads an empty Subject as none; it is still a subject.
        subject: message
            .header(HeaderName::Subject)
            .map(|subject| subject.as_text().unwrap_or_default().to_owned()),
        text,
        html,
        attachments: message
            .attachments()
            .map(|part| {
                let content_type = part.content_type().map_or_else(
                    || "application/octet-stream".to_owned(),
                    |t| match t.subtype() {
                        Some(sub) => format!("{}/{sub}", t.ctype()),
                        None => t.ctype().to_owned(),
                    },
                );
                ReceivedFile::of(
                    part.attachment_name().map(str::to_owned),
                    content_type,
                    part.contents(),
                )
            })
            .collect(),
    }
}

/// The top-level headers as the sender wrote them, since tests look for
/// exactly what our server sent (a `DKIM-Signature`, a `List-Unsubscribe`).
fn raw_headers(message: &Message<'_>) -> Vec<(String, String)> {
    let raw = message.raw_message.as_ref();
    message
        .headers()
        .iter()
        .filter_map(|header| {
            let [field, start, end] = [header.offset_field, header.offset_start, header.offset_end]
                .map(|offset| offset as usize);
            // The name runs up to the colon, which ends just before the value.
            let name = raw.get(field..start.checked_sub(1)?)?;
            let value = raw.get(start..end)?;
            // Unfolding removes only the line breaks; the whitespace stays.
            let value: String = String::from_utf8_lossy(value).lines().collect();
            Some((
                String::from_utf8_lossy(name).trim().to_owned(),
                value.trim().to_owned(),
            ))
        })
        .collect()
}

/// A body decoded as text, with `\n` line ends and no trailing line breaks.
fn body(part: &MessagePart<'_>) -> String {
    let text = part
        .text_contents()
        .map_or_else(|| String::from_utf8_lossy(part.contents()), Cow::Borrowed);
    text.replace("\r\n", "\n")
        .trim_end_matches(['\r', '\n'])
        .to_owned()
}

/// The `src` of the first `<img>` pointing at an open-tracking pixel.
pub(crate) fn open_pixel(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find("<img") {
        let start = from + found;
        let end = lower[start..].find('>').map_or(html.len(), |e| start + e);
        let tag = &html[start..end];
        if let Some(src) = attribute_values(tag, "src").find(|src| src.contains("/t/o/")) {
            return Some(src);
        }
        from = end;
    }
    None
}

/// The first `href` pointing at a click-tracking redirect.
pub(crate) fn tracked_link(html: &str) -> Option<String> {
    attribute_values(html, "href").find(|href| href.contains("/t/c/"))
}

/// The values of every `name=` attribute in `html`, entities decoded.
fn attribute_values<'a>(html: &'a str, name: &'a str) -> impl Iterator<Item = String> + 'a {
    let lower = html.to_ascii_lowercase();
    let pattern = format!("{name}=");
    let mut from = 0;
    std::iter::from_fn(move || loop {
        let found = lower[from..].find(&pattern)?;
        let at = from + found;
        from = at + pattern.len();
        // "data-src=" is not "src=".
        let standalone = lower[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || c == '<' || c == '"' || c == '\'');
        if !standalone {
            continue;
        }
        let rest = &html[from..];
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next().unwrap_or(""),
            _ => rest
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        return Some(decode_entities(value));
    })
}

/// The few entities that appear in URLs written into HTML.
fn decode_entities(value: &str) -> String {
    value
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A single-part message with this transfer encoding and body.
    fn single_part(encoding: &str, body: &str) -> Parsed {
        parse(
            format!("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: {encoding}\n\n{body}")
                .as_bytes(),
        )
    }

    fn subject(value: &str) -> Option<String> {
        parse(format!("Subject: {value}\r\n\r\nbody\r\n").as_bytes()).subject
    }

    #[test]
    fn quoted_printable_decodes_escapes_and_soft_breaks() {
        let parsed = single_part(
            "quoted-printable",
            "=D9=85=D8=B1=D8=AD=D8=A8=D8=A7 caf=C3=A9 a=3Db=\nc  \nnext\n",
        );
        assert_eq!(parsed.text, "مرحبا café a=bc\nnext");
    }

    #[test]
    fn quoted_printable_keeps_malformed_escapes() {
        assert_eq!(
            single_part("quoted-printable", "100% =ZZ end=").text,
            "100% =ZZ end"
        );
    }

    #[test]
    fn base64_ignores_line_breaks_and_keeps_what_does_not_decode() {
        assert_eq!(
            single_part("base64", "2LnYsdi2\r\nINiu2KfYtQ==\r\n").text,
            "عرض خاص"
        );
        assert_eq!(single_part("base64", "not base64!").text, "not base64!");
    }

    #[test]
    fn latin1_and_windows_1256_bodies_are_decoded() {
        let latin1 = parse(b"Content-Type: text/plain; charset=iso-8859-1\n\ncaf\xe9\n");
        assert_eq!(latin1.text, "café");
        let arabic = parse(b"Content-Type: text/plain; charset=windows-1256\n\n\xc7\xe4\n");
        assert_eq!(arabic.text, "ان");
    }

    #[test]
    fn arabic_subject_decodes_from_b_and_q_words() {
        assert_eq!(
            subject("=?utf-8?b?2LnYsdi2INiu2KfYtQ==?=").as_deref(),
            Some("عرض خاص")
        );
        assert_eq!(
            subject("=?UTF-8?Q?=D9=85=D8=B1=D8=AD=D8=A8=D8=A7_?=\r\n =?UTF-8?B?2LnYsdi2?= !")
                .as_deref(),
            Some("مرحبا عرض !")
        );
        assert_eq!(subject("Plain =?x?y").as_deref(), Some("Plain =?x?y"));
    }

    #[test]
    fn attachments_are_listed_with_their_decoded_names_and_digests() {
        let raw = "Content-Type: multipart/mixed; boundary=b1\r\n\r\n\
                   --b1\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n\
                   --b1\r\nContent-Disposition: attachment;\r\n \
                   filename*0*=utf-8''%D9%83%D8%AA%D9%8A%D8%A8;\r\n filename*1*=.pdf\r\n\
                   Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                   YWJj\r\n--b1--\r\n";
        let parsed = parse(raw.as_bytes());
        assert_eq!(parsed.text, "See attached");
        assert_eq!(
            parsed.attachments,
            [ReceivedFile {
                name: Some("كتيب.pdf".into()),
                content_type: "application/pdf".into(),
                size: 3,
                // FIPS 180-2's "abc".
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            }]
        );
    }

    #[test]
    fn an_empty_subject_is_not_a_missing_one() {
        assert_eq!(subject("").as_deref(), Some(""));
        assert_eq!(parse(b"To: x@y\n\nbody\n").subject, None);
    }

    #[test]
    fn headers_unfold_continuation_lines_and_keep_their_spelling() {
        let parsed =
            parse(b"Subject: a\n b\nX-Long: first\n\tsecond\nMessage-Id: <x@y>\nTo: x@y\n\nbody\n");
        assert_eq!(
            parsed.headers,
            [
                ("Subject", "a b"),
                ("X-Long", "first\tsecond"),
                ("Message-Id", "<x@y>"),
                ("To", "x@y")
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
        );
        assert_eq!(parsed.message_id.as_deref(), Some("x@y"));
        assert_eq!(parsed.text, "body");
    }

    #[test]
    fn multipart_alternative_yields_decoded_text_and_html() {
        let raw = "Message-ID: <abc@leadline.test>\r\n\
            Subject: =?UTF-8?B?2LnYsdi2INiu2KfYtQ==?=\r\n\
            MIME-Version: 1.0\r\n\
            Content-Type: multipart/alternative;\r\n boundary=\"b1; x\"\r\n\
            \r\n\
            preamble\r\n\
            --b1; x\r\n\
            Content-Type: text/plain; charset=utf-8\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\
            \r\n\
            Hello caf=C3=A9\r\n\
            \r\n\
            --b1; x\r\n\
            Content-Type: text/html; charset=utf-8\r\n\
            Content-Transfer-Encoding: base64\r\n\
            \r\n\
            PHA+SGk8L3A+\r\n\
            --b1; x--\r\n\
            epilogue\r\n";
        let parsed = parse(raw.as_bytes());
        assert_eq!(parsed.message_id.as_deref(), Some("abc@leadline.test"));
        assert_eq!(parsed.subject.as_deref(), Some("عرض خاص"));
        assert_eq!(parsed.text, "Hello café");
        assert_eq!(parsed.html.as_deref(), Some("<p>Hi</p>"));
        assert_eq!(parsed.headers.len(), 4);
        // What arrives over SMTP has bare LF line ends; it reads the same.
        assert_eq!(parse(raw.replace("\r\n", "\n").as_bytes()), parsed);
    }

    #[test]
    fn nested_multipart_skips_attachments() {
        let raw = "Content-Type: multipart/mixed; boundary=outer\n\n\
            --outer\n\
            Content-Type: multipart/alternative; boundary=inner\n\n\
            --inner\n\
            Content-Type: text/plain\n\nplain\n\
            --inner--\n\
            --outer\n\
            Content-Type: text/html\nContent-Disposition: attachment; filename=a.html\n\n<b>no</b>\n\
            --outer--\n";
        let parsed = parse(raw.as_bytes());
        assert_eq!(parsed.text, "plain");
        assert_eq!(parsed.html, None);
    }

    #[test]
    fn html_only_multipart_has_no_text() {
        let raw = "Content-Type: multipart/alternative; boundary=b\n\n\
            --b\nContent-Type: text/html\n\n<p>only</p>\n--b--\n";
        let parsed = parse(raw.as_bytes());
        assert_eq!(parsed.text, "");
        assert_eq!(parsed.html.as_deref(), Some("<p>only</p>"));
    }

    #[test]
    fn single_part_body_is_the_whole_decoded_body() {
        let parsed = parse(b"Subject: hi\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n");
        assert_eq!(parsed.text, "hello");
        assert_eq!(parsed.html, None);
        assert_eq!(parsed.message_id, None);
        let html = parse(b"Content-Type: text/html\r\n\r\n<p>x</p>\r\n");
        assert_eq!(html.text, "<p>x</p>");
        assert_eq!(html.html.as_deref(), Some("<p>x</p>"));
    }

    #[test]
    fn tracking_urls_are_found_in_html() {
        let html = r#"<p><a data-href="/t/c/no" href="https://x.test/t/c/abc?u=1&amp;v=2">Go</a>
            <img alt="" src="https://x.test/logo.png"><IMG width=1 SRC='https://x.test/t/o/px.gif'></p>"#;
        assert_eq!(
            open_pixel(html).as_deref(),
            Some("https://x.test/t/o/px.gif")
        );
        assert_eq!(
            tracked_link(html).as_deref(),
            Some("https://x.test/t/c/abc?u=1&v=2")
        );
        assert_eq!(open_pixel("<p>no images</p>"), None);
        assert_eq!(tracked_link("<a href=\"https://x.test/\">x</a>"), None);
    }
}

/// Whatever bytes arrive over SMTP, reading them never panics, slicing the
/// headers out of the raw message included.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn mime_like() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b"Content-Type: multipart/alternative; boundary=\"b\"\r\n".to_vec()),
                Just(b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec()),
                Just(b"Content-Transfer-Encoding: base64\r\n".to_vec()),
                Just(b"Subject: =?UTF-8?B?2YXYsdit2KjYpw==?=\r\n".to_vec()),
                Just(b"\r\n--b\r\n".to_vec()),
                Just(b"\r\n--b--\r\n".to_vec()),
                Just(b"=E2=80=\r\n".to_vec()),
                Just(b"\r\n\r\n".to_vec()),
                proptest::collection::vec(any::<u8>(), 0..40),
            ],
            0..30,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn any_message_parses(raw in mime_like()) {
            let _ = parse(&raw);
        }

        #[test]
        fn tracking_url_finders_never_panic(text in "\\PC{0,200}") {
            let _ = open_pixel(&text);
            let _ = tracked_link(&text);
        }
    }
}
