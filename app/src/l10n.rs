//! Numbers as each language writes and reads them (CLDR): `12,345.67` in English,
//! `12.345,67` in Portuguese and Romanian. Server and browser run this same code, so
//! hydration sees the same text. Digits stay Latin in Arabic too, the usual choice of
//! Arabic business software in Egypt and the Gulf (CLDR's `latn` system for `ar`).

use crate::i18n::Locale;

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
    if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// A whole-number percentage: `45%`, and `45 %` in Romanian (CLDR `#,##0 %`).
pub fn percent(locale: Locale, n: i64) -> String {
    match locale {
        Locale::Ro => format!("{}\u{a0}%", integer(locale, n)),
        _ => format!("{}%", integer(locale, n)),
    }
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
    if fraction == 0 {
        format!("{sign}{whole}")
    } else {
        let (decimal, _) = separators(locale);
        format!(
            "{sign}{whole}{decimal}{fraction:0width$}",
            width = exponent as usize
        )
    }
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
}
