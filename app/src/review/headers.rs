//! What a reply's mail headers say before its words are read: a delivery report is a
//! bounce (RFC 3464), a feedback report a complaint (RFC 5965), and `Auto-Submitted`
//! (RFC 3834), `X-Autoreply` or a bulk `Precedence` an automatic reply.

use super::model::Intent;

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// What the headers alone decide, with the reason.
pub fn from_headers(headers: &[(String, String)]) -> Option<(Intent, String)> {
    let content_type = header(headers, "Content-Type")
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/report") {
        if content_type.contains("feedback-report") {
            return Some((Intent::Complaint, "ARF feedback report (RFC 5965)".into()));
        }
        if content_type.contains("delivery-status") {
            return Some((
                Intent::Bounce,
                "delivery status notification (RFC 3464)".into(),
            ));
        }
    }
    if let Some(v) = header(headers, "Auto-Submitted") {
        if !v.eq_ignore_ascii_case("no") {
            return Some((Intent::AutoReply, format!("Auto-Submitted: {v}")));
        }
    }
    for name in ["X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"] {
        if let Some(v) = header(headers, name) {
            return Some((Intent::AutoReply, format!("{name}: {v}")));
        }
    }
    if let Some(v) = header(headers, "Precedence") {
        if ["bulk", "auto_reply", "junk", "list"].contains(&v.to_ascii_lowercase().as_str()) {
            return Some((Intent::AutoReply, format!("Precedence: {v}")));
        }
    }
    None
}
