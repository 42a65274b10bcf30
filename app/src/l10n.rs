//! Numbers, dates and times as each language writes and reads them (CLDR):
//! `12,345.67` in English, `12.345,67` in Portuguese and Romanian; `Dec 2, 2026,
//! 9:00 AM`, `2 de dez. de 2026 09:00`, `2 dec. 2026, 09:00`, `02/12/2026، 9:00 ص`.
//! Server and browser run this same code, so hydration sees the same text. Digits
//! stay Latin in Arabic too, the usual choice of Arabic business software in Egypt
//! and the Gulf (CLDR's `latn` system for `ar`), unless the workspace chooses
//! Arabic-Indic digits (`arab`) for its Arabic pages ([`Digits`]).
//!
//! Times are shown in the viewer's zone. The server reads zone rules from chrono-tz;
//! the browser asks its own `Intl`, so no time zone database is in the WASM.

use crate::i18n::Locale;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// The digits numbers are written with (CLDR numbering systems). A workspace picks
/// them for its Arabic pages; every other language writes Latin digits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Digits {
    /// `latn`: 0123456789.
    #[default]
    Latin,
    /// `arab`: ٠١٢٣٤٥٦٧٨٩, with ٫ for the decimal point, ٬ between groups and ٪.
    ArabicIndic,
}

impl Digits {
    /// The stored code (`tenants.number_system`); anything else is Latin.
    pub fn parse(code: &str) -> Digits {
        match code {
            "arab" => Digits::ArabicIndic,
            _ => Digits::Latin,
        }
    }
}

/// The digits of the page being drawn in `locale`: the workspace's choice (a context
/// the app provides from the page, the same on the server and in the browser) on
/// Arabic pages, Latin everywhere else and for text made outside a page (mail).
pub fn digits(locale: Locale) -> Digits {
    if locale != Locale::Ar {
        return Digits::Latin;
    }
    leptos::prelude::use_context::<Digits>().unwrap_or_default()
}

/// `text` with its ASCII digits written in `digits`; for a `number`, its separators
/// and percent sign too.
pub fn shape(digits: Digits, text: &str, number: bool) -> String {
    match digits {
        Digits::Latin => text.to_string(),
        Digits::ArabicIndic => text
            .chars()
            .map(|c| match c {
                '0'..='9' => char::from_u32(0x660 + (c as u32 - '0' as u32)).unwrap_or(c),
                '.' if number => '\u{66b}',
                ',' if number => '\u{66c}',
                '%' if number => '\u{66a}',
                c => c,
            })
            .collect(),
    }
}

/// The decimal and grouping separators of `locale` (CLDR `symbols`, `latn`).
pub fn separators(locale: Locale) -> (char, char) {
    match locale {
        Locale::En | Locale::Ar => ('.', ','),
        Locale::Pt | Locale::Ro => (',', '.'),
    }
}

/// `1234567` → `1,234,567` (en) or `1.234.567` (pt, ro).
pub fn integer(locale: Locale, n: i64) -> String {
    let grouped = group(locale, &n.unsigned_abs().to_string());
    let text = if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    };
    shape(digits(locale), &text, true)
}

/// A whole-number percentage: `45%`, and `45 %` in Romanian (CLDR `#,##0 %`).
pub fn percent(locale: Locale, n: i64) -> String {
    let text = match locale {
        Locale::Ro => format!("{}\u{a0}%", integer(locale, n)),
        _ => format!("{}%", integer(locale, n)),
    };
    shape(digits(locale), &text, true)
}

/// Digits with grouping separators every three places.
fn group(locale: Locale, digits: &str) -> String {
    let (_, separator) = separators(locale);
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// `minor` units of a currency with `exponent` decimals, as the amount's number:
/// whole amounts without decimals (`12,000`), others with all of them (`12,345.60`).
pub fn decimal(locale: Locale, minor: i64, exponent: u32) -> String {
    let scale = 10_u64.pow(exponent);
    let abs = minor.unsigned_abs();
    let (whole, fraction) = (abs / scale, abs % scale);
    let sign = if minor < 0 { "-" } else { "" };
    let whole = group(locale, &whole.to_string());
    let text = if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        let (decimal, _) = separators(locale);
        format!(
            "{sign}{whole}{decimal}{fraction:0width$}",
            width = exponent as usize
        )
    };
    shape(digits(locale), &text, true)
}

/// A file's size in the reader's number style: `980 B`, `340 KB`, `2.4 MB` (binary
/// multiples, as file managers show them; one decimal below 10 MB).
pub fn file_size(locale: Locale, bytes: i64) -> String {
    const KB: i64 = 1024;
    const MB: i64 = 1024 * 1024;
    const GB: i64 = 1024 * MB;
    let (number, unit) = if bytes < KB {
        (integer(locale, bytes), "B")
    } else if bytes < MB {
        (integer(locale, (bytes + KB / 2) / KB), "KB")
    } else if bytes < 10 * MB {
        (decimal(locale, (bytes * 10 + MB / 2) / MB, 1), "MB")
    } else if bytes < GB {
        (integer(locale, (bytes + MB / 2) / MB), "MB")
    } else {
        // A plan's storage: 2 GB, 19.5 GB.
        let tenths = (bytes * 10 + GB / 2) / GB;
        if tenths % 10 == 0 {
            (integer(locale, tenths / 10), "GB")
        } else {
            (decimal(locale, tenths, 1), "GB")
        }
    };
    format!("{number}\u{a0}{unit}")
}

/// Reads a non-negative number as a person typed it, in any of our languages'
/// styles: `12,500.5`, `12.500,5`, `12 500,5`, `١٢٬٥٠٠٫٥`, `4350000,50`. Returns
/// the whole part's digits and the fraction's digits.
///
/// Both separators present: the last is the decimal one. One separator used
/// several times: grouping. Used once: a decimal unless exactly three digits follow
/// it, and then the reader's language decides (`1.250` is 1250 in Portuguese and
/// 1.25 in English). Groups must be three digits, so a slip such as `1,25,000` is
/// refused rather than guessed at.
pub fn read_number(locale: Locale, input: &str) -> Option<(String, String)> {
    let mut text = String::with_capacity(input.len());
    for c in input.trim().chars() {
        match c {
            '0'..='9' | '.' | ',' => text.push(c),
            // Arabic-Indic and Eastern Arabic-Indic digits, and Arabic separators.
            '\u{660}'..='\u{669}' => text.push(char::from(b'0' + (c as u32 - 0x660) as u8)),
            '\u{6f0}'..='\u{6f9}' => text.push(char::from(b'0' + (c as u32 - 0x6f0) as u8)),
            '\u{66b}' => text.push('.'),
            '\u{66c}' => text.push(','),
            // Spaces of every width, `_` and `'` group digits; direction marks are
            // invisible.
            ' ' | '\u{a0}' | '\u{202f}' | '\u{2009}' | '_' | '\'' | '\u{200e}' | '\u{200f}' => {}
            _ => return None,
        }
    }
    if text.is_empty() {
        return None;
    }
    let last_comma = text.rfind(',');
    let last_dot = text.rfind('.');
    let decimal_at = match (last_comma, last_dot) {
        (Some(c), Some(d)) => Some(c.max(d)),
        (Some(at), None) | (None, Some(at)) => {
            let mark = text.as_bytes()[at] as char;
            let once = text.matches(mark).count() == 1;
            let after = text.len() - at - 1;
            let (locale_decimal, _) = separators(locale);
            (once && (after != 3 || mark == locale_decimal)).then_some(at)
        }
        (None, None) => None,
    };
    let (whole, fraction) = match decimal_at {
        Some(at) => (&text[..at], &text[at + 1..]),
        None => (text.as_str(), ""),
    };
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // The whole part: digits, or groups of three after a first of one to three.
    let separator = whole.bytes().find(|b| !b.is_ascii_digit());
    let digits = match separator {
        None => whole.to_string(),
        Some(sep) => {
            let groups: Vec<&str> = whole.split(sep as char).collect();
            let first_ok = (1..=3).contains(&groups[0].len());
            let rest_ok = groups[1..].iter().all(|g| g.len() == 3);
            let digits_only = groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()));
            if !(first_ok && rest_ok && digits_only) {
                return None;
            }
            groups.concat()
        }
    };
    if digits.is_empty() && fraction.is_empty() {
        return None;
    }
    Some((digits, fraction.to_string()))
}

/// The UTC offset, in seconds, of the IANA zone `zone` at `at`. An unknown zone is
/// UTC (zones are checked against PostgreSQL's list when saved).
pub fn offset_at(zone: &str, at: DateTime<Utc>) -> i64 {
    #[cfg(feature = "ssr")]
    {
        use chrono::{Offset, TimeZone};
        zone.parse::<chrono_tz::Tz>()
            .map(|tz| {
                i64::from(
                    tz.offset_from_utc_datetime(&at.naive_utc())
                        .fix()
                        .local_minus_utc(),
                )
            })
            .unwrap_or(0)
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        browser_zone::offset_at(zone, at).unwrap_or(0)
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        let _ = (zone, at);
        0
    }
}

/// The wall-clock time in `zone` at `at`.
pub fn to_local(zone: &str, at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc() + Duration::seconds(offset_at(zone, at))
}

/// The instant a wall-clock time in `zone` names. A time a daylight-saving change
/// skips (02:30 on a spring-forward night) is read with the offset before the
/// change, so it lands just after it (03:30), as calendar apps do; a time that
/// happens twice is the first.
pub fn from_local(zone: &str, local: NaiveDateTime) -> DateTime<Utc> {
    let naive_utc = local.and_utc();
    let before = offset_at(zone, naive_utc - Duration::days(1));
    let after = offset_at(zone, naive_utc + Duration::days(1));
    // Of the offsets around it, the one that maps back to this wall-clock time; the
    // larger first, as it gives the earlier instant. Neither does only inside a
    // skipped hour.
    [before.max(after), before.min(after)]
        .into_iter()
        .map(|offset| naive_utc - Duration::seconds(offset))
        .find(|at| to_local(zone, *at) == local)
        .unwrap_or(naive_utc - Duration::seconds(before))
}

#[cfg(all(feature = "hydrate", not(feature = "ssr")))]
mod browser_zone {
    use chrono::{DateTime, NaiveDate, Utc};
    use js_sys::{Array, Function, Object, Reflect};
    use std::cell::RefCell;
    use std::collections::HashMap;
    use wasm_bindgen::{JsCast, JsValue};

    thread_local! {
        /// One formatter per zone: making one is far slower than using it.
        static FORMATS: RefCell<HashMap<String, Option<js_sys::Intl::DateTimeFormat>>> =
            RefCell::new(HashMap::new());
    }

    /// `Intl.DateTimeFormat` for `zone` with numeric parts and a 0–23 hour, or
    /// `None` when the browser does not know the zone (the constructor throws).
    fn formatter(zone: &str) -> Option<js_sys::Intl::DateTimeFormat> {
        let options = Object::new();
        for (key, value) in [
            ("timeZone", zone),
            ("hourCycle", "h23"),
            ("year", "numeric"),
            ("month", "numeric"),
            ("day", "numeric"),
            ("hour", "numeric"),
            ("minute", "numeric"),
            ("second", "numeric"),
        ] {
            Reflect::set(&options, &key.into(), &value.into()).ok()?;
        }
        let intl = Reflect::get(&js_sys::global(), &"Intl".into()).ok()?;
        let constructor: Function = Reflect::get(&intl, &"DateTimeFormat".into())
            .ok()?
            .dyn_into()
            .ok()?;
        let args = Array::of2(&"en-US".into(), &options);
        Reflect::construct(&constructor, &args)
            .ok()?
            .dyn_into()
            .ok()
    }

    pub fn offset_at(zone: &str, at: DateTime<Utc>) -> Option<i64> {
        let format = FORMATS.with(|cache| {
            cache
                .borrow_mut()
                .entry(zone.to_string())
                .or_insert_with(|| formatter(zone))
                .clone()
        })?;
        let seconds = at.timestamp();
        let date = js_sys::Date::new(&JsValue::from_f64(seconds as f64 * 1000.0));
        let parts = format.format_to_parts(&date);
        let mut fields = [0_i64; 6];
        for part in parts.iter() {
            let kind = Reflect::get(&part, &"type".into()).ok()?.as_string()?;
            // Literal parts ("/", ", ", ":") sit between the numbers.
            let Some(slot) = ["year", "month", "day", "hour", "minute", "second"]
                .iter()
                .position(|k| *k == kind)
            else {
                continue;
            };
            fields[slot] = Reflect::get(&part, &"value".into())
                .ok()?
                .as_string()?
                .parse()
                .ok()?;
        }
        let [y, mo, d, h, mi, s] = fields;
        let local = NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32)?
            .and_hms_opt(h as u32, mi as u32, s as u32)?;
        Some((local.and_utc().timestamp() - seconds).clamp(-18 * 3600, 18 * 3600))
    }
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_PT: [&str; 12] = [
    "jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.", "dez.",
];
const MONTHS_RO: [&str; 12] = [
    "ian.", "feb.", "mar.", "apr.", "mai", "iun.", "iul.", "aug.", "sept.", "oct.", "nov.", "dec.",
];

/// A day in CLDR's medium style: `Dec 2, 2026`, `2 de dez. de 2026`, `2 dec. 2026`,
/// `02/12/2026` (Arabic, with right-to-left marks after the slashes' numbers).
pub fn date(locale: Locale, day: NaiveDate) -> String {
    shape(digits(locale), &latin_date(locale, day), false)
}

fn latin_date(locale: Locale, day: NaiveDate) -> String {
    let month = day.month0() as usize;
    match locale {
        Locale::En => format!("{} {}, {}", MONTHS_EN[month], day.day(), day.year()),
        Locale::Pt => format!("{} de {} de {}", day.day(), MONTHS_PT[month], day.year()),
        Locale::Ro => format!("{} {} {}", day.day(), MONTHS_RO[month], day.year()),
        Locale::Ar => format!(
            "{:02}\u{200f}/{:02}\u{200f}/{}",
            day.day(),
            day.month(),
            day.year()
        ),
    }
}

/// A month in CLDR's `yMMM` style: `Dec 2026`, `dez. de 2026`, `dec. 2026`,
/// `12\u{200f}/2026` (Arabic).
pub fn month_year(locale: Locale, day: NaiveDate) -> String {
    let month = day.month0() as usize;
    let text = match locale {
        Locale::En => format!("{} {}", MONTHS_EN[month], day.year()),
        Locale::Pt => format!("{} de {}", MONTHS_PT[month], day.year()),
        Locale::Ro => format!("{} {}", MONTHS_RO[month], day.year()),
        Locale::Ar => format!("{:02}\u{200f}/{}", day.month(), day.year()),
    };
    shape(digits(locale), &text, false)
}

/// A time of day in CLDR's short style: `9:05 AM` (en), `9:05 ص` (ar), `09:05`.
pub fn time(locale: Locale, at: NaiveTime) -> String {
    shape(digits(locale), &latin_time(locale, at), false)
}

fn latin_time(locale: Locale, at: NaiveTime) -> String {
    let (hour, minute) = (at.hour(), at.minute());
    let twelve = match hour % 12 {
        0 => 12,
        h => h,
    };
    match locale {
        // CLDR puts a narrow no-break space before the day period.
        Locale::En => format!(
            "{twelve}:{minute:02}\u{202f}{}",
            if hour < 12 { "AM" } else { "PM" }
        ),
        Locale::Ar => format!("{twelve}:{minute:02} {}", if hour < 12 { "ص" } else { "م" }),
        Locale::Pt | Locale::Ro => format!("{hour:02}:{minute:02}"),
    }
}

/// A day and time in CLDR's medium and short styles, joined as the language does.
pub fn date_time(locale: Locale, at: NaiveDateTime) -> String {
    join(locale, date(locale, at.date()), time(locale, at.time()))
}

/// Like [`date_time`], to the second (CLDR's medium time), for logs.
pub fn date_time_seconds(locale: Locale, at: NaiveDateTime) -> String {
    let short = latin_time(locale, at.time());
    // The seconds go after the minutes, before any day period.
    let cut = short
        .find(|c: char| !c.is_ascii_digit() && c != ':')
        .unwrap_or(short.len());
    let time = format!("{}:{:02}{}", &short[..cut], at.second(), &short[cut..]);
    join(
        locale,
        date(locale, at.date()),
        shape(digits(locale), &time, false),
    )
}

fn join(locale: Locale, day: String, time: String) -> String {
    match locale {
        Locale::En | Locale::Ro => format!("{day}, {time}"),
        Locale::Pt => format!("{day} {time}"),
        Locale::Ar => format!("{day}، {time}"),
    }
}

/// How long ago (or ahead) `at` is from `now`, in words and CLDR plurals: "just now",
/// "5 minutes ago", "in 2 days". `None` beyond a week, where a date says more.
pub fn relative(locale: Locale, now: DateTime<Utc>, at: DateTime<Utc>) -> Option<String> {
    let seconds = (at - now).num_seconds();
    let span = seconds.abs();
    let future = seconds > 0;
    let (unit, n) = match span {
        s if s < 60 => return Some(crate::i18n::t(locale, "time.now")),
        s if s < 3_600 => ("minutes", s / 60),
        s if s < 86_400 => ("hours", s / 3_600),
        s if s < 7 * 86_400 => ("days", s / 86_400),
        _ => return None,
    };
    let key = if future {
        format!("time.in_{unit}")
    } else {
        format!("time.{unit}_ago")
    };
    Some(crate::i18n::tf(
        locale,
        &key,
        &[("n", shape(digits(locale), &n.to_string(), false))],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_as_cldr_writes_them() {
        assert_eq!(integer(Locale::En, 1_234_567), "1,234,567");
        assert_eq!(integer(Locale::Ar, 1_234_567), "1,234,567");
        assert_eq!(integer(Locale::Pt, 1_234_567), "1.234.567");
        assert_eq!(integer(Locale::Ro, -1_234), "-1.234");
        assert_eq!(integer(Locale::En, 999), "999");
        assert_eq!(decimal(Locale::Pt, 1_234_560, 2), "12.345,60");
        assert_eq!(decimal(Locale::En, 1_200_000, 2), "12,000");
        assert_eq!(decimal(Locale::Ro, 5, 2), "0,05");
        assert_eq!(decimal(Locale::En, 1_234_500, 3), "1,234.500");
        assert_eq!(percent(Locale::En, 45), "45%");
        assert_eq!(percent(Locale::Ro, 45), "45\u{a0}%");
    }

    #[test]
    fn a_month_reads_as_cldr_writes_it() {
        let dec = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(month_year(Locale::En, dec), "Dec 2026");
        assert_eq!(month_year(Locale::Pt, dec), "dez. de 2026");
        assert_eq!(month_year(Locale::Ro, dec), "dec. 2026");
        assert_eq!(month_year(Locale::Ar, dec), "12\u{200f}/2026");
    }

    #[test]
    fn file_sizes_read_as_file_managers_show_them() {
        assert_eq!(file_size(Locale::En, 980), "980\u{a0}B");
        assert_eq!(file_size(Locale::En, 348_160), "340\u{a0}KB");
        assert_eq!(file_size(Locale::En, 2_516_582), "2.4\u{a0}MB");
        assert_eq!(file_size(Locale::Pt, 2_516_582), "2,4\u{a0}MB");
        assert_eq!(file_size(Locale::En, 2 * 1024 * 1024), "2\u{a0}MB");
        assert_eq!(file_size(Locale::En, 10 * 1024 * 1024), "10\u{a0}MB");
        assert_eq!(file_size(Locale::En, 500 * 1024 * 1024), "500\u{a0}MB");
        assert_eq!(file_size(Locale::En, 2048 * 1024 * 1024), "2\u{a0}GB");
        assert_eq!(file_size(Locale::Ro, 19_968 * 1024 * 1024), "19,5\u{a0}GB");
    }

    #[test]
    fn a_workspace_may_write_arabic_pages_in_arabic_indic_digits() {
        use leptos::prelude::{provide_context, Owner};
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let at = day.and_hms_opt(9, 5, 7).unwrap();
        // Outside a page (mail), and on a page that did not choose them: Latin.
        assert_eq!(integer(Locale::Ar, 12_500), "12,500");
        let owner = Owner::new();
        owner.with(|| {
            provide_context(Digits::ArabicIndic);
            assert_eq!(integer(Locale::Ar, 12_500), "١٢٬٥٠٠");
            assert_eq!(integer(Locale::Ar, -7), "-٧");
            assert_eq!(decimal(Locale::Ar, 1_234_560, 2), "١٢٬٣٤٥٫٦٠");
            assert_eq!(percent(Locale::Ar, 45), "٤٥٪");
            assert_eq!(date(Locale::Ar, day), "٠٢\u{200f}/١٢\u{200f}/٢٠٢٦");
            assert_eq!(time(Locale::Ar, at.time()), "٩:٠٥ ص");
            assert_eq!(
                date_time_seconds(Locale::Ar, at),
                "٠٢\u{200f}/١٢\u{200f}/٢٠٢٦، ٩:٠٥:٠٧ ص"
            );
            // Other languages keep Latin digits in the same workspace.
            assert_eq!(integer(Locale::En, 12_500), "12,500");
            assert_eq!(date(Locale::Pt, day), "2 de dez. de 2026");
            // What is shown is read back.
            assert_eq!(
                read_number(Locale::Ar, &decimal(Locale::Ar, 1_234_560, 2)),
                Some(("12345".to_string(), "60".to_string()))
            );
        });
        assert_eq!(shape(Digits::Latin, "1.5%", true), "1.5%");
        assert_eq!(
            shape(Digits::ArabicIndic, "09:05 - 1.5", false),
            "٠٩:٠٥ - ١.٥"
        );
    }

    #[test]
    fn typed_numbers_are_read_in_every_style() {
        let read = |l, s| read_number(l, s).map(|(w, f)| format!("{w}|{f}"));
        for l in Locale::ALL {
            assert_eq!(read(l, "12,500.5").as_deref(), Some("12500|5"), "{l:?}");
            assert_eq!(read(l, "12.500,5").as_deref(), Some("12500|5"), "{l:?}");
            assert_eq!(
                read(l, "4350000,50").as_deref(),
                Some("4350000|50"),
                "{l:?}"
            );
            assert_eq!(read(l, "4.350.000").as_deref(), Some("4350000|"), "{l:?}");
            assert_eq!(
                read(l, "4 350 000,5").as_deref(),
                Some("4350000|5"),
                "{l:?}"
            );
            assert_eq!(read(l, "١٢٬٥٠٠٫٥").as_deref(), Some("12500|5"), "{l:?}");
            assert_eq!(read(l, ".5").as_deref(), Some("|5"), "{l:?}");
            for bad in [
                "",
                "abc",
                "1,25,000",
                "1.2.3,4,5",
                "12a",
                "-3",
                ",",
                "1,2345.6",
            ] {
                assert_eq!(read(l, bad), None, "{l:?} {bad}");
            }
        }
        // One separator before exactly three digits: the reader's language decides.
        assert_eq!(read(Locale::En, "1,250").as_deref(), Some("1250|"));
        assert_eq!(read(Locale::En, "1.250").as_deref(), Some("1|250"));
        assert_eq!(read(Locale::Pt, "1.250").as_deref(), Some("1250|"));
        assert_eq!(read(Locale::Ro, "1,250").as_deref(), Some("1|250"));
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    /// Cairo and Bucharest change their clocks; Riyadh and São Paulo (since 2019)
    /// do not.
    #[test]
    fn zones_follow_daylight_saving_where_it_exists() {
        // Egypt: +02 in winter, +03 from the last Friday of April 2026 (24 April).
        assert_eq!(
            offset_at("Africa/Cairo", at("2026-01-15T12:00:00Z")),
            2 * 3600
        );
        assert_eq!(
            offset_at("Africa/Cairo", at("2026-07-15T12:00:00Z")),
            3 * 3600
        );
        // Romania: EET, EEST from 29 March 2026 03:00 local to 25 October 04:00.
        assert_eq!(
            offset_at("Europe/Bucharest", at("2026-03-29T00:59:00Z")),
            2 * 3600
        );
        assert_eq!(
            offset_at("Europe/Bucharest", at("2026-03-29T01:00:00Z")),
            3 * 3600
        );
        assert_eq!(
            offset_at("Europe/Bucharest", at("2026-10-25T00:59:00Z")),
            3 * 3600
        );
        assert_eq!(
            offset_at("Europe/Bucharest", at("2026-10-25T01:00:00Z")),
            2 * 3600
        );
        for month in ["01", "04", "07", "10"] {
            let when = at(&format!("2026-{month}-15T12:00:00Z"));
            assert_eq!(offset_at("Asia/Riyadh", when), 3 * 3600);
            assert_eq!(offset_at("America/Sao_Paulo", when), -3 * 3600);
        }
        assert_eq!(offset_at("Not/AZone", at("2026-07-15T12:00:00Z")), 0);
    }

    #[test]
    fn typed_times_are_read_in_the_viewers_zone() {
        assert_eq!(
            from_local("Africa/Cairo", local("2026-12-03 09:00")),
            at("2026-12-03T07:00:00Z")
        );
        assert_eq!(
            from_local("Africa/Cairo", local("2026-07-03 09:00")),
            at("2026-07-03T06:00:00Z")
        );
        assert_eq!(
            from_local("Asia/Riyadh", local("2026-12-03 09:00")),
            at("2026-12-03T06:00:00Z")
        );
        assert_eq!(
            from_local("America/Sao_Paulo", local("2026-12-03 09:00")),
            at("2026-12-03T12:00:00Z")
        );
        assert_eq!(
            from_local("UTC", local("2026-12-03 09:00")),
            at("2026-12-03T09:00:00Z")
        );
        // Bucharest skips 03:00–04:00 on 29 March: 03:30 is read as 04:30 EEST.
        assert_eq!(
            from_local("Europe/Bucharest", local("2026-03-29 03:30")),
            at("2026-03-29T01:30:00Z")
        );
        // …and has 03:00–04:00 twice on 25 October: the first, still EEST.
        assert_eq!(
            from_local("Europe/Bucharest", local("2026-10-25 03:30")),
            at("2026-10-25T00:30:00Z")
        );
        // Round trips away from the changes.
        for zone in [
            "Africa/Cairo",
            "Europe/Bucharest",
            "Asia/Riyadh",
            "America/Sao_Paulo",
        ] {
            let typed = local("2026-06-01 23:45");
            assert_eq!(to_local(zone, from_local(zone, typed)), typed, "{zone}");
        }
    }

    #[test]
    fn dates_and_times_are_written_as_cldr_does() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let morning = local("2026-12-02 09:05");
        let evening = local("2026-12-02 21:30");
        assert_eq!(date(Locale::En, day), "Dec 2, 2026");
        assert_eq!(date(Locale::Pt, day), "2 de dez. de 2026");
        assert_eq!(date(Locale::Ro, day), "2 dec. 2026");
        assert_eq!(date(Locale::Ar, day), "02\u{200f}/12\u{200f}/2026");
        assert_eq!(
            date_time(Locale::En, morning),
            "Dec 2, 2026, 9:05\u{202f}AM"
        );
        assert_eq!(
            date_time(Locale::En, evening),
            "Dec 2, 2026, 9:30\u{202f}PM"
        );
        assert_eq!(date_time(Locale::Pt, morning), "2 de dez. de 2026 09:05");
        assert_eq!(date_time(Locale::Ro, evening), "2 dec. 2026, 21:30");
        assert_eq!(
            date_time(Locale::Ar, evening),
            "02\u{200f}/12\u{200f}/2026، 9:30 م"
        );
        assert_eq!(
            time(Locale::En, NaiveTime::from_hms_opt(0, 15, 0).unwrap()),
            "12:15\u{202f}AM"
        );
        assert_eq!(
            time(Locale::Ar, NaiveTime::from_hms_opt(12, 0, 0).unwrap()),
            "12:00 م"
        );
        let log = local("2026-12-02 21:30") + Duration::seconds(7);
        assert_eq!(
            date_time_seconds(Locale::En, log),
            "Dec 2, 2026, 9:30:07\u{202f}PM"
        );
        assert_eq!(date_time_seconds(Locale::Ro, log), "2 dec. 2026, 21:30:07");
    }

    #[test]
    fn relative_times_use_each_languages_plurals() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let ago = |secs: i64, l: Locale| relative(l, now, now - Duration::seconds(secs));
        let ahead = |secs: i64, l: Locale| relative(l, now, now + Duration::seconds(secs));
        assert_eq!(ago(20, Locale::En).as_deref(), Some("just now"));
        assert_eq!(ago(60, Locale::En).as_deref(), Some("1 minute ago"));
        assert_eq!(
            ago(3 * 3_600 + 59, Locale::En).as_deref(),
            Some("3 hours ago")
        );
        assert_eq!(ahead(2 * 86_400, Locale::En).as_deref(), Some("in 2 days"));
        assert_eq!(ago(8 * 86_400, Locale::En), None, "a date beyond a week");
        // Arabic: two is its own form, 3–10 "few", 11–99 "many".
        assert_eq!(ago(2 * 3_600, Locale::Ar).as_deref(), Some("قبل ساعتين"));
        assert_eq!(ago(3 * 3_600, Locale::Ar).as_deref(), Some("قبل 3 ساعات"));
        assert_eq!(ago(11 * 60, Locale::Ar).as_deref(), Some("قبل 11 دقيقة"));
        // Romanian: "de" from 20 on.
        assert_eq!(ago(5 * 60, Locale::Ro).as_deref(), Some("acum 5 minute"));
        assert_eq!(
            ago(21 * 60, Locale::Ro).as_deref(),
            Some("acum 21 de minute")
        );
        assert_eq!(ahead(3_600, Locale::Pt).as_deref(), Some("em 1 hora"));
        assert_eq!(ago(2 * 86_400, Locale::Pt).as_deref(), Some("há 2 dias"));
    }
}
