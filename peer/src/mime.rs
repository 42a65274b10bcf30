//! Just enough RFC 5322 / MIME to read what our server sends: headers,
//! encoded-word subjects, multipart bodies and their transfer encodings, and
//! the tracking URLs in the HTML.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// Multipart nesting deeper than this is not something our mail does, and
/// bounding it keeps a hostile message from recursing without end.
const MAX_DEPTH: usize = 8;

/// Encoders disagree on padding, so decoding accepts either.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The parts of a message the peer keeps.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Parsed {
    pub(crate) headers: Vec<(String, String)>,
    /// Without the angle brackets.
    pub(crate) message_id: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) text: String,
    pub(crate) html: Option<String>,
}

/// Parses a whole message as received after DATA.
pub(crate) fn parse(raw: &[u8]) -> Parsed {
    let raw = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let (headers, body) = split_head(&raw);
    let message_id = header(&headers, "message-id")
        .map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .filter(|id| !id.is_empty());
    let subject = header(&headers, "subject").map(decode_encoded_words);
    let mut bodies = Bodies::default();
    let multipart = collect(&headers, body, &mut bodies, 0);
    let text = if multipart {
        bodies.text.unwrap_or_default()
    } else {
        // A single-part message has only one body; an HTML one still needs
        // to be seen as HTML so its tracking URLs can be found.
        decode_part(&headers, body)
    };
    let html = if multipart {
        bodies.html
    } else {
        content_type(&headers)
            .filter(|(media, _)| media == "text/html")
            .map(|_| text.clone())
    };
    Parsed {
        headers,
        message_id,
        subject,
        text,
        html,
    }
}

/// Splits `\n`-terminated text into unfolded headers and the body after the
/// first empty line.
fn split_head(text: &str) -> (Vec<(String, String)>, &str) {
    let (head, body) = if let Some(rest) = text.strip_prefix('\n') {
        ("", rest)
    } else {
        match text.find("\n\n") {
            Some(at) => (&text[..at], &text[at + 2..]),
            None => (text, ""),
        }
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            // Unfolding removes only the line break; the whitespace stays.
            if let Some((_, value)) = headers.last_mut() {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    for (_, value) in &mut headers {
        let trimmed = value.trim_end().len();
        value.truncate(trimmed);
    }
    (headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The lower-cased media type and the parameters of Content-Type, if present.
fn content_type(headers: &[(String, String)]) -> Option<(String, Vec<(String, String)>)> {
    let value = header(headers, "content-type")?;
    let mut pieces = split_params(value).into_iter();
    let media = pieces.next()?.trim().to_ascii_lowercase();
    let params = pieces
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.trim().to_ascii_lowercase(), value.to_owned()))
        })
        .collect();
    Some((media, params))
}

/// Splits on `;` outside double quotes.
fn split_params(value: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (at, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                pieces.push(&value[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    pieces.push(&value[start..]);
    pieces
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[derive(Default)]
struct Bodies {
    text: Option<String>,
    html: Option<String>,
}

/// Walks a multipart entity, keeping the first inline text/plain and
/// text/html parts. Returns whether the entity was multipart at all.
fn collect(headers: &[(String, String)], body: &str, out: &mut Bodies, depth: usize) -> bool {
    let Some((media, params)) = content_type(headers) else {
        return false;
    };
    if !media.starts_with("multipart/") || depth >= MAX_DEPTH {
        return false;
    }
    let Some(boundary) = param(&params, "boundary") else {
        return false;
    };
    for part in split_multipart(body, boundary) {
        let (part_headers, part_body) = split_head(part);
        if collect(&part_headers, part_body, out, depth + 1) {
            continue;
        }
        let attachment = header(&part_headers, "content-disposition")
            .is_some_and(|d| d.trim().to_ascii_lowercase().starts_with("attachment"));
        if attachment {
            continue;
        }
        // RFC 2046: a part with no Content-Type is text/plain.
        let media = content_type(&part_headers).map_or_else(|| "text/plain".to_owned(), |(m, _)| m);
        let slot = match media.as_str() {
            "text/plain" => &mut out.text,
            "text/html" => &mut out.html,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(decode_part(&part_headers, part_body));
        }
    }
    true
}

/// The raw parts between `--boundary` delimiter lines, up to the closing
/// `--boundary--`.
fn split_multipart<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut at = 0;
    for line in body.split_inclusive('\n') {
        let content = line.trim_end();
        if let Some(rest) = content.strip_prefix(delimiter.as_str()) {
            if rest.is_empty() || rest == "--" {
                if let Some(begin) = start {
                    // The line break before a delimiter belongs to it.
                    let end = if at > begin { at - 1 } else { at };
                    parts.push(&body[begin..end]);
                }
                if rest == "--" {
                    return parts;
                }
                start = Some(at + line.len());
            }
        }
        at += line.len();
    }
    // A missing closing delimiter still leaves a usable last part.
    if let Some(begin) = start {
        parts.push(body[begin..].trim_end_matches('\n'));
    }
    parts
}

/// Decodes a leaf body by its Content-Transfer-Encoding and charset, with
/// `\n` line ends and no trailing line breaks.
fn decode_part(headers: &[(String, String)], body: &str) -> String {
    let encoding = header(headers, "content-transfer-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => decode_base64(body).unwrap_or_else(|| body.as_bytes().to_vec()),
        _ => body.as_bytes().to_vec(),
    };
    let charset = content_type(headers)
        .and_then(|(_, params)| param(&params, "charset").map(str::to_owned))
        .unwrap_or_default();
    decode_charset(&bytes, &charset)
        .replace("\r\n", "\n")
        .trim_end_matches(['\r', '\n'])
        .to_owned()
}

/// UTF-8 unless the part says Latin-1; other charsets are not used by our
/// mail and are read as UTF-8 with replacement characters.
fn decode_charset(bytes: &[u8], charset: &str) -> String {
    match charset.to_ascii_lowercase().as_str() {
        "iso-8859-1" | "latin1" | "latin-1" => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes base64 ignoring line breaks and other whitespace.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact).ok()
}

/// Decodes quoted-printable body text (`\n` line ends). Malformed escapes are
/// kept as they are rather than rejected, as RFC 2045 suggests.
pub(crate) fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        // Trailing whitespace was added in transport, never by the encoder.
        let line = line.trim_end_matches([' ', '\t', '\r']);
        let (line, soft_break) = match line.strip_suffix('=') {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        decode_escapes(line.as_bytes(), false, &mut out);
        if !soft_break && lines.peek().is_some() {
            out.push(b'\n');
        }
    }
    out
}

/// `=XX` escapes, and in an RFC 2047 "Q" word also `_` for a space.
fn decode_escapes(bytes: &[u8], underscore_is_space: bool, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.push(high << 4 | low);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'='),
                }
            }
            b'_' if underscore_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Decodes RFC 2047 encoded-words (`=?charset?B|Q?text?=`) in a header
/// value. Whitespace between two encoded-words is dropped, as the RFC says;
/// words that cannot be decoded are left as they are.
pub(crate) fn decode_encoded_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let Some((decoded, len)) = encoded_word(&rest[start..]) else {
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            after_word = false;
            continue;
        };
        let between = &rest[..start];
        if !(after_word && between.chars().all(char::is_whitespace)) {
            out.push_str(between);
        }
        out.push_str(&decoded);
        rest = &rest[start + len..];
        after_word = true;
    }
    out.push_str(rest);
    out
}

/// Decodes one encoded-word at the start of `text`, returning it and how many
/// bytes it took.
fn encoded_word(text: &str) -> Option<(String, usize)> {
    let inner = text.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let payload = &inner[..end];
    let spaced = |s: &str| s.contains(char::is_whitespace);
    if charset.is_empty() || spaced(charset) || spaced(payload) {
        return None;
    }
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    // RFC 2231 lets a language follow the charset: "UTF-8*ar".
    let charset = charset.split('*').next().unwrap_or(charset);
    let bytes = match encoding {
        "B" | "b" => decode_base64(payload)?,
        "Q" | "q" => {
            let mut bytes = Vec::new();
            decode_escapes(payload.as_bytes(), true, &mut bytes);
            bytes
        }
        _ => return None,
    };
    Some((decode_charset(&bytes, charset), len))
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

    #[test]
    fn quoted_printable_decodes_escapes_and_soft_breaks() {
        let decoded =
            decode_quoted_printable("=D9=85=D8=B1=D8=AD=D8=A8=D8=A7 caf=C3=A9 a=3Db=\nc  \nnext");
        assert_eq!(String::from_utf8(decoded).unwrap(), "مرحبا café a=bc\nnext");
    }

    #[test]
    fn quoted_printable_keeps_malformed_escapes() {
        assert_eq!(decode_quoted_printable("100% =ZZ end="), b"100% =ZZ end");
    }

    #[test]
    fn base64_ignores_line_breaks_and_missing_padding() {
        assert_eq!(
            decode_base64("2LnYsdi2\r\nINiu2KfYtQ==").unwrap(),
            "عرض خاص".as_bytes()
        );
        assert_eq!(decode_base64("aGk").unwrap(), b"hi");
        assert_eq!(decode_base64("not base64!"), None);
    }

    #[test]
    fn arabic_subject_decodes_from_b_and_q_words() {
        assert_eq!(
            decode_encoded_words("=?utf-8?b?2LnYsdi2INiu2KfYtQ==?="),
            "عرض خاص"
        );
        assert_eq!(
            decode_encoded_words(
                "=?UTF-8?Q?=D9=85=D8=B1=D8=AD=D8=A8=D8=A7_?=\r\n =?UTF-8?B?2LnYsdi2?= !"
            ),
            "مرحبا عرض !"
        );
        assert_eq!(decode_encoded_words("Plain =?x?y"), "Plain =?x?y");
    }

    #[test]
    fn headers_unfold_continuation_lines() {
        let (headers, body) = split_head("Subject: a\n b\nTo: x@y\n\nbody\n");
        assert_eq!(
            headers,
            vec![
                ("Subject".to_owned(), "a b".to_owned()),
                ("To".to_owned(), "x@y".to_owned())
            ]
        );
        assert_eq!(body, "body\n");
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
    fn single_part_body_is_the_whole_decoded_body() {
        let parsed = parse(b"Subject: hi\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n");
        assert_eq!(parsed.text, "hello");
        assert_eq!(parsed.message_id, None);
        let html = parse(b"Content-Type: text/html\r\n\r\n<p>x</p>\r\n");
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

/// Whatever bytes arrive over SMTP, the parser returns something and never panics.
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
        fn decoders_never_panic(text in "\\PC{0,200}") {
            let _ = decode_base64(&text);
            let _ = decode_quoted_printable(&text);
            let _ = decode_encoded_words(&text);
            let _ = open_pixel(&text);
            let _ = tracked_link(&text);
        }
    }
}
