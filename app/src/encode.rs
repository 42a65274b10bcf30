//! Text into URLs and HTML, with the crates everyone uses rather than loops of our own.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters (`A–Z a–z 0–9 - . _ ~`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// As [`COMPONENT`], keeping `/`, so a path carried in a query stays readable
/// (`/login?next=/contacts%3Fq%3Dx`).
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

/// One URL query value or path segment.
pub fn component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// A path and query to carry inside another URL's query.
pub fn path(text: &str) -> String {
    utf8_percent_encode(text, PATH).to_string()
}

/// Text for HTML we write by hand (emails, plain pages): safe in element content and in
/// quoted attribute values alike.
#[cfg(feature = "ssr")]
pub fn html(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_keep_only_unreserved_characters() {
        assert_eq!(component("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
        assert_eq!(path("/settings?x=1&y=2"), "/settings%3Fx%3D1%26y%3D2");
        assert_eq!(component("lead+1@example.com"), "lead%2B1%40example.com");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn html_escapes_markup_and_both_quotes() {
        assert_eq!(
            html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
    }
}
