//! The dev page: what arrived, and buttons to play the recipient.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::webhooks::DEFAULT_REPLY;
use crate::{Channel, Received};

/// Everything shown comes from whoever sent to the peer, so all of it goes
/// through here, attribute values included.
pub(crate) fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// Percent-encodes a path segment, since Message-IDs may hold `/`, `?` or `#`.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1a1a1a}\
table{border-collapse:collapse;width:100%}\
th,td{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}\
th{background:#f2f2f2}\
td.body{white-space:pre-wrap;max-width:32rem;overflow-wrap:anywhere}\
form{display:inline-block;margin:.1rem}\
button{padding:.25rem .6rem;cursor:pointer}\
input{padding:.2rem}\
code{background:#f2f2f2;padding:0 .2rem}";

/// The whole page for these messages, newest first.
pub(crate) fn render(messages: &[Received], http_base: &str, smtp_addr: SocketAddr) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Leadline provider peer</title><style>{STYLE}</style></head><body>\
         <h1>Leadline provider peer</h1>\
         <p>WhatsApp Graph base: <code>{}</code> &middot; SMTP: <code>{}</code> &middot; \
         JSON: <a href=\"/_peer/messages\">/_peer/messages</a></p>",
        escape(http_base),
        escape(&smtp_addr.to_string()),
    );
    if messages.is_empty() {
        html.push_str("<p>No messages received yet.</p>");
    } else {
        html.push_str(
            "<table><caption>Received messages, newest first</caption><thead><tr>\
             <th scope=\"col\">Channel</th><th scope=\"col\">From</th><th scope=\"col\">To</th>\
             <th scope=\"col\">Subject</th><th scope=\"col\">Body</th>\
             <th scope=\"col\">Received</th><th scope=\"col\">Events</th>\
             <th scope=\"col\">Actions</th></tr></thead><tbody>",
        );
        for message in messages.iter().rev() {
            row(&mut html, message);
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</body></html>");
    html
}

/// The body, then a line per file it carried.
fn body_with_files(message: &Received) -> String {
    let mut text = message.body.clone();
    for file in &message.attachments {
        let _ = write!(
            text,
            "\n[file: {} · {} · {} bytes]",
            file.name.as_deref().unwrap_or("unnamed"),
            file.content_type,
            file.size
        );
    }
    text
}

fn row(html: &mut String, message: &Received) {
    let channel = match (message.channel, message.provider) {
        (Channel::WhatsApp, Some(crate::WaApi::Dialog360)) => "WhatsApp (360dialog)",
        (Channel::WhatsApp, _) => "WhatsApp (Meta)",
        (Channel::Email, _) => "Email",
    };
    let repeats = if message.times_received > 1 {
        format!(" (&times;{})", message.times_received)
    } else {
        String::new()
    };
    let _ = write!(
        html,
        "<tr data-message-id=\"{}\" data-to=\"{}\"><td>{channel}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td class=\"body\">{}</td><td>{}{repeats}</td><td>{}</td><td>",
        escape(&message.id),
        escape(&message.to),
        escape(&message.from),
        escape(&message.to),
        escape(message.subject.as_deref().unwrap_or("")),
        escape(&body_with_files(message)),
        escape(&message.received_at.format("%H:%M:%S").to_string()),
        escape(&message.events.join(", ")),
    );
    let action = |action: &str| {
        format!(
            "/_peer/messages/{}/{action}",
            escape(&path_segment(&message.id))
        )
    };
    let buttons: &[(&str, &str)] = match message.channel {
        Channel::WhatsApp => &[("deliver", "Deliver"), ("read", "Read"), ("fail", "Fail")],
        Channel::Email => &[
            ("open", "Open"),
            ("click", "Click"),
            ("bounce", "Bounce"),
            ("complaint", "Complaint"),
        ],
    };
    for (name, label) in buttons {
        let _ = write!(
            html,
            "<form method=\"post\" action=\"{}\">\
             <button type=\"submit\" data-action=\"{name}\">{label}</button></form>",
            action(name),
        );
    }
    let _ = write!(
        html,
        "<form method=\"post\" action=\"{}\"><label>Reply text \
         <input type=\"text\" name=\"text\" value=\"{}\"></label> \
         <button type=\"submit\" data-action=\"reply\">Reply</button></form></td></tr>",
        action("reply"),
        escape(DEFAULT_REPLY),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str) -> Received {
        Received {
            id: "a/b?c\"@x".to_owned(),
            channel: Channel::Email,
            provider: None,
            from: "sales@leadline.test".to_owned(),
            to: "\"Lead\" <lead@example.com>".to_owned(),
            subject: Some("<b>Hi</b>".to_owned()),
            body: body.to_owned(),
            html: None,
            headers: Vec::new(),
            attachments: Vec::new(),
            idempotency_key: None,
            times_received: 1,
            events: vec!["open & <click>".to_owned()],
            received_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x' & "y")</script>"#),
            "&lt;script&gt;alert(&#x27;x&#x27; &amp; &quot;y&quot;)&lt;/script&gt;"
        );
    }

    #[test]
    fn page_escapes_every_untrusted_field() {
        let page = render(
            &[message("<script>alert(1)</script>")],
            "http://127.0.0.1:1",
            "127.0.0.1:2".parse().unwrap(),
        );
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;b&gt;Hi&lt;/b&gt;"));
        assert!(page.contains("open &amp; &lt;click&gt;"));
        assert!(page.contains("data-to=\"&quot;Lead&quot; &lt;lead@example.com&gt;\""));
        assert!(page.contains("data-message-id=\"a/b?c&quot;@x\""));
        assert!(page.contains("action=\"/_peer/messages/a%2Fb%3Fc%22@x/open\""));
        assert!(page.contains("<title>Leadline provider peer</title>"));
    }

    #[test]
    fn rows_are_newest_first_with_channel_buttons() {
        let mut whatsapp = message("body-two");
        whatsapp.id = "wamid.2".to_owned();
        whatsapp.channel = Channel::WhatsApp;
        let page = render(
            &[message("body-one"), whatsapp],
            "http://127.0.0.1:1",
            "127.0.0.1:2".parse().unwrap(),
        );
        assert!(page.find("body-two").unwrap() < page.find("body-one").unwrap());
        for action in ["deliver", "read", "reply", "open", "click", "bounce"] {
            assert!(
                page.contains(&format!("data-action=\"{action}\"")),
                "{action}"
            );
        }
        assert!(page.contains("<label>Reply text"));
    }

    #[test]
    fn files_are_listed_under_the_body_escaped() {
        let mut email = message("See attached");
        email.attachments = vec![crate::ReceivedFile::of(
            Some("<b>plan</b>.pdf".into()),
            "application/pdf".into(),
            b"%PDF",
        )];
        let page = render(
            &[email],
            "http://127.0.0.1:1",
            "127.0.0.1:2".parse().unwrap(),
        );
        assert!(page.contains(
            "See attached\n[file: &lt;b&gt;plan&lt;/b&gt;.pdf · application/pdf · 4 bytes]"
        ));
    }
}
