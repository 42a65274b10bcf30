//! Amounts are whole numbers of a currency's minor unit (cents, fils); these turn them
//! into text and back without floating point.

use crate::i18n::Locale;
use crate::l10n;
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

/// An amount with its ISO code where the language puts the currency (CLDR
/// `currencyFormat` with the code): `USD 12,345.67` (en), `USD 12.345,67` (pt),
/// `12.345,67 USD` (ro, ar). Whole amounts drop the decimals. The code rather than a
/// symbol, because one pipeline holds deals in several currencies that share `$`.
pub fn format(locale: Locale, minor: i64, currency: &str) -> String {
    let number = l10n::decimal(locale, minor, exponent(currency));
    match locale {
        Locale::En | Locale::Pt => match number.strip_prefix('-') {
            Some(positive) => format!("-{currency} {positive}"),
            None => format!("{currency} {number}"),
        },
        Locale::Ro => format!("{number} {currency}"),
        // The right-to-left mark keeps the number first when the line is Arabic.
        Locale::Ar => format!("\u{200f}{number} {currency}"),
    }
}

/// Reads what a person typed (`"12,500.5"`, `"12.500,5"`, `"12500"`) as minor units
/// of `currency`, in the styles `l10n::read_number` accepts. Empty is zero. `None`
/// for anything that is not a non-negative amount with at most the currency's
/// decimals.
pub fn parse(locale: Locale, input: &str, currency: &str) -> Option<i64> {
    if input.trim().is_empty() {
        return Some(0);
    }
    let (whole, fraction) = l10n::read_number(locale, input)?;
    let exp = exponent(currency) as usize;
    if fraction.len() > exp {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<exp$}").parse().ok()?
    };
    whole
        .checked_mul(10_i64.pow(exp as u32))?
        .checked_add(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_the_currency_decimals() {
        let en = Locale::En;
        assert_eq!(format(en, 1_234_567, "USD"), "USD 12,345.67");
        assert_eq!(format(en, 1_200_000, "USD"), "USD 12,000");
        assert_eq!(format(en, 5, "USD"), "USD 0.05");
        assert_eq!(format(en, -5, "USD"), "-USD 0.05");
        assert_eq!(format(en, 1500, "JPY"), "JPY 1,500");
        assert_eq!(format(en, 1_234_500, "KWD"), "KWD 1,234.500");
        assert_eq!(format(Locale::Pt, 1_234_567, "BRL"), "BRL 12.345,67");
        assert_eq!(format(Locale::Ro, 1_234_567, "RON"), "12.345,67 RON");
        assert_eq!(format(Locale::Ro, -1_234_567, "RON"), "-12.345,67 RON");
        assert_eq!(
            format(Locale::Ar, 435_000_000, "EGP"),
            "\u{200f}4,350,000 EGP"
        );
    }

    #[test]
    fn parses_what_people_type() {
        let en = Locale::En;
        assert_eq!(parse(en, "12,500.5", "USD"), Some(1_250_050));
        assert_eq!(parse(en, "12500", "EGP"), Some(1_250_000));
        assert_eq!(parse(en, "", "USD"), Some(0));
        assert_eq!(parse(en, "1.234", "KWD"), Some(1234));
        assert_eq!(parse(en, "1.5", "JPY"), None);
        assert_eq!(parse(en, "-3", "USD"), None);
        assert_eq!(parse(en, "abc", "USD"), None);
        assert_eq!(parse(en, "99999999999999999999", "USD"), None);
        // A decimal comma is never read as a thousands separator: this was 435000050.
        assert_eq!(parse(en, "4350000,50", "EGP"), Some(435_000_050));
        assert_eq!(parse(Locale::Pt, "4.350.000,50", "BRL"), Some(435_000_050));
        assert_eq!(parse(Locale::Ro, "12.500", "RON"), Some(1_250_000));
        assert_eq!(parse(Locale::Ar, "٤٬٣٥٠٬٠٠٠", "EGP"), Some(435_000_000));
        assert_eq!(
            parse(Locale::Pt, "1,234", "USD"),
            None,
            "three decimals for cents"
        );
    }
}
