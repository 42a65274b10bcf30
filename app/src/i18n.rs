//! English and Arabic strings. Every user-visible string comes from
//! `app/locales/*.json`; the same tables serve the server render and the browser.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    En,
    Ar,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Ar];

    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ar => "ar",
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Locale::En => "ltr",
            Locale::Ar => "rtl",
        }
    }

    pub fn parse(code: &str) -> Option<Locale> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Locale::En),
            "ar" => Some(Locale::Ar),
            _ => None,
        }
    }

    /// Picks the first supported language of an `Accept-Language` header.
    pub fn from_accept_language(header: &str) -> Locale {
        header
            .split(',')
            .filter_map(|part| part.split(';').next())
            .filter_map(|tag| Locale::parse(tag.split('-').next().unwrap_or("")))
            .next()
            .unwrap_or_default()
    }

    /// The language's own name, shown in language pickers.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Ar => "العربية",
        }
    }
}

type Table = HashMap<String, String>;

fn table(locale: Locale) -> &'static Table {
    static EN: OnceLock<Table> = OnceLock::new();
    static AR: OnceLock<Table> = OnceLock::new();
    // One file per area, so work on different areas does not collide in one file.
    let (cell, sources): (_, &[&str]) = match locale {
        Locale::En => (
            &EN,
            &[
                include_str!("../locales/en.json"),
                include_str!("../locales/crm.en.json"),
                include_str!("../locales/import.en.json"),
                include_str!("../locales/outreach.en.json"),
                include_str!("../locales/outreach_admin.en.json"),
                include_str!("../locales/review.en.json"),
                include_str!("../locales/inventory.en.json"),
                include_str!("../locales/billing.en.json"),
                include_str!("../locales/developers.en.json"),
                include_str!("../locales/approvals.en.json"),
            ],
        ),
        Locale::Ar => (
            &AR,
            &[
                include_str!("../locales/ar.json"),
                include_str!("../locales/crm.ar.json"),
                include_str!("../locales/import.ar.json"),
                include_str!("../locales/outreach.ar.json"),
                include_str!("../locales/outreach_admin.ar.json"),
                include_str!("../locales/review.ar.json"),
                include_str!("../locales/inventory.ar.json"),
                include_str!("../locales/billing.ar.json"),
                include_str!("../locales/developers.ar.json"),
                include_str!("../locales/approvals.ar.json"),
            ],
        ),
    };
    cell.get_or_init(|| {
        sources
            .iter()
            .flat_map(|src| serde_json::from_str::<Table>(src).unwrap_or_default())
            .collect()
    })
}

/// The string for `key`, falling back to English, then to the key itself so a
/// missing translation is visible rather than blank.
pub fn t(locale: Locale, key: &str) -> String {
    table(locale)
        .get(key)
        .or_else(|| table(Locale::En).get(key))
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

/// Like [`t`], replacing `{name}` placeholders.
pub fn tf(locale: Locale, key: &str, args: &[(&str, String)]) -> String {
    let mut text = t(locale, key);
    for (name, value) in args {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_locales_have_the_same_keys() {
        let en: Vec<_> = {
            let mut k: Vec<_> = table(Locale::En).keys().collect();
            k.sort();
            k
        };
        let ar: Vec<_> = {
            let mut k: Vec<_> = table(Locale::Ar).keys().collect();
            k.sort();
            k
        };
        assert!(en.len() > 50, "the English table failed to parse");
        assert_eq!(en, ar);
    }

    #[test]
    fn placeholders_are_filled() {
        let text = tf(Locale::En, "auth.totp_locked", &[("minutes", "15".into())]);
        assert!(text.contains("15"), "{text}");
        assert!(!text.contains('{'), "{text}");
    }

    #[test]
    fn accept_language_prefers_the_first_supported() {
        assert_eq!(
            Locale::from_accept_language("ar-SA,ar;q=0.9,en;q=0.8"),
            Locale::Ar
        );
        assert_eq!(Locale::from_accept_language("fr-FR, en;q=0.5"), Locale::En);
        assert_eq!(Locale::from_accept_language(""), Locale::En);
    }

    #[test]
    fn unknown_keys_show_the_key() {
        assert_eq!(t(Locale::Ar, "no.such.key"), "no.such.key");
    }
}
