//! The return date an out-of-office reply states.

use chrono::{Datelike, NaiveDate};

const MONTHS: [(&str, u32); 24] = [
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

/// The first date on or after `today` that an out-of-office text names: ISO
/// (2026-12-15), day/month/year (15/12/2026, 15.12.2026) or English ("15 December",
/// "December 15th").
pub fn return_date(text: &str, today: NaiveDate) -> Option<NaiveDate> {
    let lower = text.to_lowercase();
    let mut found: Vec<NaiveDate> = Vec::new();
    let cleaned: String = lower
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-/.".contains(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    let words: Vec<&str> = cleaned
        .split_whitespace()
        .map(|w| w.trim_matches('.'))
        .collect();
    for w in &words {
        if let Ok(d) = NaiveDate::parse_from_str(w, "%Y-%m-%d") {
            found.push(d);
        }
        for fmt in ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"] {
            if let Ok(d) = NaiveDate::parse_from_str(w, fmt) {
                found.push(d);
            }
        }
    }
    let day_of = |w: &str| -> Option<u32> {
        let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        digits.parse::<u32>().ok().filter(|d| (1..=31).contains(d))
    };
    let month_of = |w: &str| MONTHS.iter().find(|(m, _)| *m == w).map(|(_, n)| *n);
    for (i, w) in words.iter().enumerate() {
        if let Some(month) = month_of(w) {
            let day = words
                .get(i + 1)
                .and_then(|n| day_of(n))
                .or_else(|| i.checked_sub(1).and_then(|p| day_of(words[p])));
            if let Some(day) = day {
                let this_year = NaiveDate::from_ymd_opt(today.year(), month, day);
                let next_year = NaiveDate::from_ymd_opt(today.year() + 1, month, day);
                if let Some(d) = this_year.filter(|d| *d >= today).or(next_year) {
                    found.push(d);
                }
            }
        }
    }
    found.into_iter().filter(|d| *d >= today).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 2).unwrap()
    }

    #[test]
    fn return_dates_in_the_forms_people_write_them() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
        assert_eq!(return_date("back on 2026-12-20", day()), d(2026, 12, 20));
        assert_eq!(return_date("until 03/01/2027", day()), d(2027, 1, 3));
        assert_eq!(return_date("pana pe 15.12.2026", day()), d(2026, 12, 15));
        assert_eq!(return_date("returning January 5th", day()), d(2027, 1, 5));
        assert_eq!(return_date("back 14 December", day()), d(2026, 12, 14));
        // A date already past is not a return date.
        assert_eq!(return_date("since 2026-11-01", day()), None);
        assert_eq!(return_date("back soon", day()), None);
    }
}
