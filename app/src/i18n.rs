//! The interface's strings in English, Arabic, Portuguese (Brazil) and Romanian.
//! Every user-visible string comes from `app/locales/*.json`. The server embeds every
//! table; the browser fetches only its page's table (`/assets/i18n/…`, cached for
//! good) before hydrating, so adding a language costs the WASM bundle nothing.
//!
//! Messages may use ICU MessageFormat plurals, `{count, plural, one {# day} other
//! {# days}}`, chosen by CLDR's plural rules ([`plural_category`]).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Locale {
    #[default]
    En,
    Ar,
    Pt,
    Ro,
}

impl Locale {
    pub const ALL: [Locale; 4] = [Locale::En, Locale::Ar, Locale::Pt, Locale::Ro];

    /// The code stored in preferences and tenants.
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ar => "ar",
            Locale::Pt => "pt",
            Locale::Ro => "ro",
        }
    }

    /// The BCP 47 tag for `lang`: Portuguese is Brazil's (seed 002).
    pub fn tag(self) -> &'static str {
        match self {
            Locale::Pt => "pt-BR",
            other => other.code(),
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Locale::Ar => "rtl",
            _ => "ltr",
        }
    }

    /// Reads a code or a language tag (`pt-BR`, `ro_RO`): the language decides.
    pub fn parse(code: &str) -> Option<Locale> {
        let language = code.trim().split(['-', '_']).next().unwrap_or("");
        match language.to_ascii_lowercase().as_str() {
            "en" => Some(Locale::En),
            "ar" => Some(Locale::Ar),
            "pt" => Some(Locale::Pt),
            "ro" => Some(Locale::Ro),
            _ => None,
        }
    }

    /// Picks the first supported language of an `Accept-Language` header.
    pub fn from_accept_language(header: &str) -> Locale {
        header
            .split(',')
            .filter_map(|part| part.split(';').next())
            .filter_map(Locale::parse)
            .next()
            .unwrap_or_default()
    }

    /// The language's own name, shown in language pickers.
    pub fn native_name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Ar => "العربية",
            Locale::Pt => "Português (Brasil)",
            Locale::Ro => "Română",
        }
    }
}

type Table = HashMap<String, String>;

/// The locale files, one per area so work on different areas does not collide.
#[cfg(not(feature = "hydrate"))]
macro_rules! locale_files {
    ($lang:literal) => {
        &[
            (
                concat!($lang, ".json"),
                include_str!(concat!("../locales/", $lang, ".json")),
            ),
            (
                concat!("crm.", $lang, ".json"),
                include_str!(concat!("../locales/crm.", $lang, ".json")),
            ),
            (
                concat!("import.", $lang, ".json"),
                include_str!(concat!("../locales/import.", $lang, ".json")),
            ),
            (
                concat!("outreach.", $lang, ".json"),
                include_str!(concat!("../locales/outreach.", $lang, ".json")),
            ),
            (
                concat!("outreach_admin.", $lang, ".json"),
                include_str!(concat!("../locales/outreach_admin.", $lang, ".json")),
            ),
            (
                concat!("review.", $lang, ".json"),
                include_str!(concat!("../locales/review.", $lang, ".json")),
            ),
            (
                concat!("inventory.", $lang, ".json"),
                include_str!(concat!("../locales/inventory.", $lang, ".json")),
            ),
            (
                concat!("billing.", $lang, ".json"),
                include_str!(concat!("../locales/billing.", $lang, ".json")),
            ),
            (
                concat!("developers.", $lang, ".json"),
                include_str!(concat!("../locales/developers.", $lang, ".json")),
            ),
            (
                concat!("approvals.", $lang, ".json"),
                include_str!(concat!("../locales/approvals.", $lang, ".json")),
            ),
        ]
    };
}

/// Each locale's files as (name, text).
#[cfg(not(feature = "hydrate"))]
fn files(locale: Locale) -> &'static [(&'static str, &'static str)] {
    match locale {
        Locale::En => locale_files!("en"),
        Locale::Ar => locale_files!("ar"),
        Locale::Pt => locale_files!("pt"),
        Locale::Ro => locale_files!("ro"),
    }
}

#[cfg(not(feature = "hydrate"))]
fn table(locale: Locale) -> &'static Table {
    static TABLES: [OnceLock<Table>; 4] = [const { OnceLock::new() }; 4];
    let index = Locale::ALL.iter().position(|l| *l == locale).unwrap_or(0);
    TABLES[index].get_or_init(|| {
        files(locale)
            .iter()
            // A file that does not parse fails `every_locale_file_parses`.
            .flat_map(|(_, text)| serde_json::from_str::<Table>(text).unwrap_or_default())
            .collect()
    })
}

#[cfg(not(feature = "hydrate"))]
fn lookup(locale: Locale, key: &str) -> Option<&'static String> {
    table(locale)
        .get(key)
        .or_else(|| table(Locale::En).get(key))
}

/// In the browser: the page's table, fetched by [`load_page_table`] before hydration.
#[cfg(feature = "hydrate")]
static PAGE_TABLE: OnceLock<Table> = OnceLock::new();

#[cfg(feature = "hydrate")]
fn lookup(_locale: Locale, key: &str) -> Option<&'static String> {
    PAGE_TABLE.get()?.get(key)
}

/// The id of the `<link rel=preload>` that names the page's table.
pub const TABLE_LINK_ID: &str = "ll-i18n";

/// The address the browser fetches `locale`'s table from: the name carries a hash
/// of the content, so it is cached for good and a new build is a new address.
#[cfg(feature = "ssr")]
pub fn table_url(locale: Locale) -> &'static str {
    &served_table(locale).0
}

/// The body served at [`table_url`], if `file` (`pt.1a2b….json`) is the current one.
#[cfg(feature = "ssr")]
pub fn table_file(file: &str) -> Option<&'static str> {
    Locale::ALL.into_iter().find_map(|locale| {
        let (url, json) = served_table(locale);
        (url.rsplit('/').next() == Some(file)).then_some(json.as_str())
    })
}

#[cfg(feature = "ssr")]
fn served_table(locale: Locale) -> &'static (String, String) {
    use sha2::{Digest, Sha256};
    static SERVED: [OnceLock<(String, String)>; 4] = [const { OnceLock::new() }; 4];
    let index = Locale::ALL.iter().position(|l| *l == locale).unwrap_or(0);
    SERVED[index].get_or_init(|| {
        // English fills any gap, as on the server, so both render the same text.
        let mut merged: std::collections::BTreeMap<&str, &str> = table(Locale::En)
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        merged.extend(table(locale).iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let json = serde_json::to_string(&merged).unwrap_or_default();
        let digest = Sha256::digest(json.as_bytes());
        let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        (format!("/assets/i18n/{}.{hash}.json", locale.code()), json)
    })
}

/// Fetches the table the page's `<link id="ll-i18n">` names. Hydration waits for it:
/// without it, the browser's first render would not match the server's.
#[cfg(feature = "hydrate")]
pub async fn load_page_table() -> Result<(), wasm_bindgen::JsValue> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let window = web_sys::window().ok_or("no window")?;
    let url = window
        .document()
        .and_then(|d| d.get_element_by_id(TABLE_LINK_ID))
        .and_then(|link| link.get_attribute("href"))
        .ok_or("no table link")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(&url))
        .await?
        .dyn_into()?;
    if !response.ok() {
        return Err(format!("{url}: {}", response.status()).into());
    }
    let text = JsFuture::from(response.text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    let table: Table = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let _ = PAGE_TABLE.set(table);
    Ok(())
}

/// The string for `key`, falling back to English, then to the key itself so a
/// missing translation is visible rather than blank.
pub fn t(locale: Locale, key: &str) -> String {
    lookup(locale, key)
        .cloned()
        .unwrap_or_else(|| key.to_string())
}

/// Like [`t`], filling `{name}` placeholders and choosing plural branches.
pub fn tf(locale: Locale, key: &str, args: &[(&str, String)]) -> String {
    match lookup(locale, key) {
        Some(pattern) => format_message(locale, pattern, args),
        None => key.to_string(),
    }
}

/// CLDR plural categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plural {
    Zero,
    One,
    Two,
    Few,
    Many,
    Other,
}

impl Plural {
    fn name(self) -> &'static str {
        match self {
            Plural::Zero => "zero",
            Plural::One => "one",
            Plural::Two => "two",
            Plural::Few => "few",
            Plural::Many => "many",
            Plural::Other => "other",
        }
    }
}

/// The CLDR (v46) cardinal plural category of `number`, written as digits with an
/// optional `.` fraction ("3", "1.50"): the visible fraction digits matter ("1.0" is
/// not "one" in English).
pub fn plural_category(locale: Locale, number: &str) -> Plural {
    let number = number.trim().trim_start_matches('-');
    let (int_part, fraction) = number.split_once('.').unwrap_or((number, ""));
    let Ok(i) = int_part.parse::<u64>() else {
        return Plural::Other;
    };
    let v = fraction.len();
    let fraction_zero = fraction.bytes().all(|b| b == b'0');
    // `n` as an integer, when it is one (3.0 counts as 3 for `n = …` rules).
    let n = fraction_zero.then_some(i);
    match locale {
        Locale::En => match (i, v) {
            (1, 0) => Plural::One,
            _ => Plural::Other,
        },
        Locale::Pt => {
            if i <= 1 {
                Plural::One
            } else if v == 0 && i % 1_000_000 == 0 {
                Plural::Many
            } else {
                Plural::Other
            }
        }
        Locale::Ro => {
            if i == 1 && v == 0 {
                Plural::One
            } else if v != 0 || n == Some(0) || n.is_some_and(|n| (1..=19).contains(&(n % 100))) {
                Plural::Few
            } else {
                Plural::Other
            }
        }
        Locale::Ar => match n {
            Some(0) => Plural::Zero,
            Some(1) => Plural::One,
            Some(2) => Plural::Two,
            Some(n) if (3..=10).contains(&(n % 100)) => Plural::Few,
            Some(n) if (11..=99).contains(&(n % 100)) => Plural::Many,
            _ => Plural::Other,
        },
    }
}

/// Fills a message: `{name}` takes its argument (left as written when none is given)
/// and `{name, plural, =0 {…} one {…} other {…}}` picks the exact match, else the
/// CLDR category, else `other`, with `#` inside it standing for the number.
pub fn format_message(locale: Locale, pattern: &str, args: &[(&str, String)]) -> String {
    if !pattern.contains('{') {
        return pattern.to_string();
    }
    let mut out = String::with_capacity(pattern.len() + 16);
    write_message(locale, pattern, args, None, false, &mut out);
    out
}

/// Marks around a filled-in value in [`tf_parts`]' working string: private-use code
/// points, which no message or value of ours contains.
const VALUE_START: char = '\u{e000}';
const VALUE_END: char = '\u{e001}';

/// Like [`tf`], as pieces: `(true, value)` for each filled-in value, `(false, text)`
/// for the message around them. A view wraps each value in `<bdi>`, so a Latin name
/// or a date inside Arabic (or the reverse) keeps its own order.
pub fn tf_parts(locale: Locale, key: &str, args: &[(&str, String)]) -> Vec<(bool, String)> {
    let Some(pattern) = lookup(locale, key) else {
        return vec![(false, key.to_string())];
    };
    let mut marked = String::with_capacity(pattern.len() + 16);
    write_message(locale, pattern, args, None, true, &mut marked);
    let mut parts = Vec::new();
    for (i, piece) in marked.split([VALUE_START, VALUE_END]).enumerate() {
        if !piece.is_empty() {
            parts.push((i % 2 == 1, piece.to_string()));
        }
    }
    parts
}

fn write_message(
    locale: Locale,
    pattern: &str,
    args: &[(&str, String)],
    number: Option<&str>,
    isolate: bool,
    out: &mut String,
) {
    let mut rest = pattern;
    while let Some(at) = rest.find(['{', '#']) {
        out.push_str(&rest[..at]);
        if rest[at..].starts_with('#') {
            out.push_str(number.unwrap_or("#"));
            rest = &rest[at + 1..];
            continue;
        }
        let Some((name, plural, end)) = placeholder_at(rest, at) else {
            // A literal brace: template syntax shown to users, like `{{first_name}}`.
            out.push('{');
            rest = &rest[at + 1..];
            continue;
        };
        let value = args
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str());
        match (plural, value) {
            (Some(branches), value) => {
                let value = value.unwrap_or("");
                if let Some(branch) = choose_branch(locale, branches, value) {
                    write_message(locale, branch, args, Some(value), isolate, out);
                }
            }
            (None, Some(value)) if isolate => {
                out.push(VALUE_START);
                out.push_str(value);
                out.push(VALUE_END);
            }
            (None, Some(value)) => out.push_str(value),
            (None, None) => out.push_str(&rest[at..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
}

/// The placeholder whose `{` is at `open`: its name, its plural branches if it is
/// `{name, plural, …}`, and the index of its closing `}`. `None` for a brace that
/// opens no placeholder, which is then literal text.
fn placeholder_at(text: &str, open: usize) -> Option<(&str, Option<&str>, usize)> {
    let inner = &text[open + 1..];
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let name = &inner[..name_len];
    if name.is_empty() {
        return None;
    }
    let after = inner[name_len..].trim_start();
    if after.starts_with('}') {
        return Some((name, None, open + 1 + inner.len() - after.len()));
    }
    let branches_start = after
        .strip_prefix(',')?
        .trim_start()
        .strip_prefix("plural")?
        .trim_start()
        .strip_prefix(',')?;
    let end = matching_brace(text, open)?;
    let branches_at = text.len() - branches_start.len();
    Some((name, Some(&text[branches_at..end]), end))
}

/// The index of the `}` closing the `{` at `open`.
fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The text of the branch for `value` among `one {…} other {…}`.
fn choose_branch<'a>(locale: Locale, branches: &'a str, value: &str) -> Option<&'a str> {
    let category = plural_category(locale, &value.replace([',', '\u{a0}', ' '], ""));
    let mut exact = None;
    let mut by_category = None;
    let mut other = None;
    let mut rest = branches;
    while let Some(open) = rest.find('{') {
        let selector = rest[..open].trim();
        let close = matching_brace(rest, open)?;
        let text = &rest[open + 1..close];
        if selector.strip_prefix('=') == Some(value.trim()) {
            exact = Some(text);
        } else if selector == category.name() {
            by_category = Some(text);
        } else if selector == "other" {
            other = Some(text);
        }
        rest = &rest[close + 1..];
    }
    exact.or(by_category).or(other)
}

#[cfg(test)]
mod tests;
