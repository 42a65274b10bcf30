//! iCalendar (RFC 5545) text for a member's feed: one VCALENDAR of VEVENTs, with
//! TEXT values escaped (§3.3.11), lines folded at 75 octets without splitting a
//! character (§3.1), and CRLF line ends.

use chrono::{DateTime, Utc};

pub struct Calendar {
    pub name: String,
    pub events: Vec<Event>,
}

pub struct Person {
    pub name: String,
    pub email: String,
}

pub struct Event {
    /// Globally unique and stable across fetches, so an app updates rather than adds.
    pub uid: String,
    /// When this text was made (DTSTAMP).
    pub stamp: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: String,
    pub description: Option<String>,
    pub url: Option<String>,
    pub organizer: Option<Person>,
    pub attendees: Vec<Person>,
    /// A task: shown in the calendar but not busy time.
    pub transparent: bool,
    pub category: Option<String>,
}

pub fn render(calendar: &Calendar) -> String {
    let mut out = String::new();
    let mut line = |text: String| push_folded(&mut out, &text);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line("PRODID:-//Leadline//Calendar feed//EN".into());
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    line(format!("X-WR-CALNAME:{}", text(&calendar.name)));
    // How often subscribers should fetch again (RFC 7986, and Outlook's older name).
    line("REFRESH-INTERVAL;VALUE=DURATION:PT15M".into());
    line("X-PUBLISHED-TTL:PT15M".into());
    for e in &calendar.events {
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}", text(&e.uid)));
        line(format!("DTSTAMP:{}", utc(e.stamp)));
        line(format!("DTSTART:{}", utc(e.start)));
        line(format!("DTEND:{}", utc(e.end)));
        line(format!("SUMMARY:{}", text(&e.summary)));
        if let Some(d) = e.description.as_deref().filter(|d| !d.is_empty()) {
            line(format!("DESCRIPTION:{}", text(d)));
        }
        if let Some(u) = &e.url {
            line(format!("URL:{u}"));
        }
        if let Some(c) = &e.category {
            line(format!("CATEGORIES:{}", text(c)));
        }
        if let Some(o) = &e.organizer {
            line(format!(
                "ORGANIZER;CN={}:mailto:{}",
                param(&o.name),
                o.email
            ));
        }
        for a in &e.attendees {
            line(format!(
                "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT:mailto:{}",
                param(&a.name),
                a.email
            ));
        }
        line(format!(
            "TRANSP:{}",
            if e.transparent {
                "TRANSPARENT"
            } else {
                "OPAQUE"
            }
        ));
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

/// A UTC DATE-TIME (form #2 of §3.3.5).
fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value: backslash, semicolon and comma escaped, line breaks as `\n`.
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push_str("\\n");
                }
            }
            '\n' => out.push_str("\\n"),
            // Other control characters are not allowed in TEXT.
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value (a CN): quoted, since names hold `,` `;` and `:`; DQUOTE and
/// control characters cannot appear even quoted, so they are dropped.
fn param(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    format!("\"{clean}\"")
}

/// Appends `line` with CRLF, folded so no physical line exceeds 75 octets; a
/// continuation starts with one space, which unfolding removes.
fn push_folded(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(summary: &str) -> Event {
        Event {
            uid: "a1@leadline".into(),
            stamp: Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap(),
            start: Utc.with_ymd_and_hms(2026, 12, 8, 14, 0, 0).unwrap(),
            end: Utc.with_ymd_and_hms(2026, 12, 8, 15, 30, 0).unwrap(),
            summary: summary.into(),
            description: Some("Line one\nLine two".into()),
            url: Some("https://crm.example.com/leads/1".into()),
            organizer: Some(Person {
                name: "Lina Haddad".into(),
                email: "lina@example.com".into(),
            }),
            attendees: vec![Person {
                name: "Omar, \"the closer\"".into(),
                email: "omar@example.com".into(),
            }],
            transparent: false,
            category: None,
        }
    }

    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "")
    }

    #[test]
    fn text_values_escape_what_rfc_5545_reserves() {
        // §3.3.11: "\\" "\;" "\," and "\n" for a line break.
        assert_eq!(
            text("Project XYZ Final Review\nConference Room - 3B\nCome Prepared."),
            "Project XYZ Final Review\\nConference Room - 3B\\nCome Prepared."
        );
        assert_eq!(text(r"a\b;c,d"), r"a\\b\;c\,d");
        assert_eq!(text("crlf\r\nand cr\rend"), "crlf\\nand cr\\nend");
        assert_eq!(text("bell\u{7}gone"), "bellgone");
    }

    #[test]
    fn a_feed_is_a_calendar_of_events_with_crlf_lines() {
        let cal = Calendar {
            name: "Leadline — Acme".into(),
            events: vec![event("Viewing, Nile Towers; flat 4B")],
        };
        let out = render(&cal);
        assert!(out.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:"));
        assert!(out.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        assert!(
            !out.replace("\r\n", "").contains('\n'),
            "only CRLF ends lines"
        );
        let text = unfold(&out);
        for expected in [
            "UID:a1@leadline\r\n",
            "DTSTAMP:20261206T090000Z\r\n",
            "DTSTART:20261208T140000Z\r\n",
            "DTEND:20261208T153000Z\r\n",
            "SUMMARY:Viewing\\, Nile Towers\\; flat 4B\r\n",
            "DESCRIPTION:Line one\\nLine two\r\n",
            "ORGANIZER;CN=\"Lina Haddad\":mailto:lina@example.com\r\n",
            "ATTENDEE;CN=\"Omar, the closer\";ROLE=REQ-PARTICIPANT:mailto:omar@example.com\r\n",
            "TRANSP:OPAQUE\r\n",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from {text}");
        }
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_a_character() {
        let long = "اجتماع مع العميل لمناقشة عقد الشقة في البرج الشمالي ".repeat(4);
        let cal = Calendar {
            name: "x".repeat(200),
            events: vec![event(&long)],
        };
        let out = render(&cal);
        for physical in out.split("\r\n") {
            assert!(
                physical.len() <= 75,
                "{} octets: {physical}",
                physical.len()
            );
        }
        let text = unfold(&out);
        assert!(text.contains(&format!("SUMMARY:{long}\r\n")));
        assert!(text.contains(&format!("X-WR-CALNAME:{}\r\n", "x".repeat(200))));
    }
}
