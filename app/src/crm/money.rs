//! Amounts are whole numbers of a currency's minor unit (cents, fils); these turn them
//! into text and back without floating point.

use serde::{Deserialize, Serialize};

/// An amount in one currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

/// Digits after the decimal point (ISO 4217). Mirrors `currency_exponent()` in SQL.
pub fn exponent(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "UGX" | "XAF" | "XOF" => 0,
        "KWD" | "BHD" | "OMR" | "JOD" | "TND" | "IQD" | "LYD" => 3,
        _ => 2,
    }
}

/// `1234567, "USD"` → `"USD 12,345.67"`; whole amounts drop the decimals.
pub fn format(minor: i64, currency: &str) -> String {
    let exp = exponent(currency);
    let scale = 10_i64.pow(exp);
    let whole = (minor / scale).abs();
    let frac = (minor % scale).abs();
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if minor < 0 { "-" } else { "" };
    if frac == 0 {
        format!("{currency} {sign}{grouped}")
    } else {
        format!(
            "{currency} {sign}{grouped}.{frac:0width$}",
            width = exp as usize
        )
    }
}

/// Reads what a person typed (`"12,500.5"`, `"12500"`) as minor units of `currency`.
/// `None` for anything that is not a non-negative amount with at most the currency's
/// decimals.
pub fn parse(input: &str, currency: &str) -> Option<i64> {
    let cleaned: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '_'))
        .collect();
    if cleaned.is_empty() {
        return Some(0);
    }
    let exp = exponent(currency) as usize;
    let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > exp
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_value: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<exp$}").parse().ok()?
    };
    whole
        .checked_mul(10_i64.pow(exp as u32))?
        .checked_add(frac_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_the_currency_decimals() {
        assert_eq!(format(1_234_567, "USD"), "USD 12,345.67");
        assert_eq!(format(1_200_000, "USD"), "USD 12,000");
        assert_eq!(format(5, "USD"), "USD 0.05");
        assert_eq!(format(1500, "JPY"), "JPY 1,500");
        assert_eq!(
            format(1_234_500, "KWD"),
            "KWD 1,234.5".replace(".5", ".500")
        );
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!(parse("12,500.5", "USD"), Some(1_250_050));
        assert_eq!(parse("12500", "EGP"), Some(1_250_000));
        assert_eq!(parse("", "USD"), Some(0));
        assert_eq!(parse("1.234", "KWD"), Some(1234));
        assert_eq!(parse("1.5", "JPY"), None);
        assert_eq!(parse("-3", "USD"), None);
        assert_eq!(parse("abc", "USD"), None);
        assert_eq!(parse("99999999999999999999", "USD"), None);
    }
}
