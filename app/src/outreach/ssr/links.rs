//! Links we put in emails — the open pixel, click redirects and the one-click
//! unsubscribe — carry the message id and a MAC of it, so nobody can forge an open, a
//! click or, worse, someone else's unsubscribe.

use crate::crypto::{constant_time_eq, hex, hmac_sha256};
use crate::encode;
use uuid::Uuid;

fn mac(key: &[u8; 32], purpose: &str, id: Uuid) -> String {
    hex(&hmac_sha256(key, format!("{purpose}:{id}").as_bytes())[..16])
}

/// `<message id>.<mac>` for one purpose ("open", "click", "unsubscribe").
pub fn token(key: &[u8; 32], purpose: &str, id: Uuid) -> String {
    format!("{}.{}", id.simple(), mac(key, purpose, id))
}

/// The message a token names, if its MAC is right for this purpose.
pub fn verify(key: &[u8; 32], purpose: &str, token: &str) -> Option<Uuid> {
    let (id, given) = token.split_once('.')?;
    let id = Uuid::parse_str(id).ok()?;
    constant_time_eq(mac(key, purpose, id).as_bytes(), given.as_bytes()).then_some(id)
}

/// A click link's token: the message id and a MAC of the message *and* the target, so
/// a link cannot be pointed anywhere but where the email pointed it.
pub fn click_token(key: &[u8; 32], id: Uuid, url: &str) -> String {
    format!("{}.{}", id.simple(), click_mac(key, id, url))
}

fn click_mac(key: &[u8; 32], id: Uuid, url: &str) -> String {
    hex(&hmac_sha256(key, format!("click:{id}:{url}").as_bytes())[..16])
}

/// The message a click link names, if its MAC covers this target and the target is a
/// web address (never `javascript:`, `data:` or a custom scheme).
pub fn verify_click(key: &[u8; 32], token: &str, url: &str) -> Option<Uuid> {
    let (id, given) = token.split_once('.')?;
    let id = Uuid::parse_str(id).ok()?;
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let web = lower.starts_with("https://") || lower.starts_with("http://");
    (web && constant_time_eq(click_mac(key, id, url).as_bytes(), given.as_bytes())).then_some(id)
}

/// What an email to a lead says of us under its unsubscribe link, unless the
/// workspace's plan has white label.
pub const ATTRIBUTION: &str = "Sent with Leadline";

/// The text and HTML bodies of an outgoing email: links in the text become tracked
/// redirects in the HTML, an open pixel and an unsubscribe link are added to both, and
/// with `attributed` the line that names us.
pub fn email_bodies(
    key: &[u8; 32],
    public_url: &str,
    id: Uuid,
    text: &str,
    attributed: bool,
) -> (String, String) {
    let base = public_url.trim_end_matches('/');
    let unsubscribe = unsubscribe_url(key, public_url, id);
    let mut html = String::from("<!doctype html><html><body>");
    for paragraph in text.split("\n\n") {
        html.push_str("<p>");
        let mut first_line = true;
        for line in paragraph.lines() {
            if !first_line {
                html.push_str("<br>");
            }
            first_line = false;
            for (i, word) in line.split(' ').enumerate() {
                if i > 0 {
                    html.push(' ');
                }
                if word.starts_with("https://") || word.starts_with("http://") {
                    html.push_str(&format!(
                        "<a href=\"{base}/t/c/{}?u={}\">{}</a>",
                        click_token(key, id, word),
                        encode::component(word),
                        encode::html(word)
                    ));
                } else {
                    html.push_str(&encode::html(word));
                }
            }
        }
        html.push_str("</p>");
    }
    let attribution = if attributed {
        format!(" · {ATTRIBUTION}")
    } else {
        String::new()
    };
    html.push_str(&format!(
        "<p style=\"font-size:12px;color:#667\"><a href=\"{}\">Unsubscribe</a>{attribution}</p>\
         <img src=\"{base}/t/o/{}\" width=\"1\" height=\"1\" alt=\"\"></body></html>",
        encode::html(&unsubscribe),
        token(key, "open", id)
    ));
    let attribution = if attributed {
        format!("{ATTRIBUTION}\n")
    } else {
        String::new()
    };
    let text = format!("{text}\n\n--\nUnsubscribe: {unsubscribe}\n{attribution}");
    (text, html)
}

pub fn unsubscribe_url(key: &[u8; 32], public_url: &str, id: Uuid) -> String {
    format!(
        "{}/u/{}",
        public_url.trim_end_matches('/'),
        token(key, "unsubscribe", id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_purpose_and_key() {
        let key = [1u8; 32];
        let id = Uuid::now_v7();
        let t = token(&key, "open", id);
        assert_eq!(verify(&key, "open", &t), Some(id));
        assert_eq!(verify(&key, "unsubscribe", &t), None);
        assert_eq!(verify(&[2u8; 32], "open", &t), None);
        let mut forged = t.clone();
        forged.pop();
        forged.push(if t.ends_with('0') { '1' } else { '0' });
        assert_eq!(verify(&key, "open", &forged), None);
        assert_eq!(verify(&key, "open", "nonsense"), None);
    }

    #[test]
    fn bodies_track_links_and_escape_text() {
        let key = [1u8; 32];
        let id = Uuid::now_v7();
        let (text, html) = email_bodies(
            &key,
            "http://app.test/",
            id,
            "Hi <b>Mona</b>,\nsee https://example.com/a?b=1\n\nBye",
            false,
        );
        assert!(text.contains("Unsubscribe: http://app.test/u/"));
        assert!(html.contains("&lt;b&gt;Mona&lt;/b&gt;"));
        assert!(html.contains("/t/c/"));
        assert!(html.contains("u=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1"));
        assert!(html.contains("/t/o/"));
        assert!(html.contains("<p>Bye</p>"));
        assert!(!text.contains("Leadline") && !html.contains("Leadline"));
    }

    #[test]
    fn without_white_label_an_email_names_us_under_its_unsubscribe_link() {
        let (text, html) = email_bodies(&[1u8; 32], "http://app.test", Uuid::now_v7(), "Hi", true);
        assert!(text.ends_with("\nSent with Leadline\n"), "{text}");
        assert!(
            html.contains("Unsubscribe</a> · Sent with Leadline</p>"),
            "{html}"
        );
    }
}
