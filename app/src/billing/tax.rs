//! Tax on invoices by the billing country: the rate and the note printed with it.

/// The rate in basis points (1,500 = 15 %) and the invoice's tax note. A Romanian
/// business with a VAT number is invoiced without VAT under the reverse charge (the
/// buyer accounts for it); other countries not in the table are invoiced without tax.
pub fn rate(country: &str, tax_id: &str) -> (i32, Option<&'static str>) {
    let tax_id = tax_id.trim().to_ascii_uppercase();
    match country {
        "SA" => (1500, Some("VAT 15%")),
        "EG" => (1400, Some("VAT 14%")),
        "BR" => (500, Some("ISS 5%")),
        "RO" if is_ro_vat(&tax_id) => (
            0,
            Some("Reverse charge: VAT to be accounted for by the recipient"),
        ),
        "RO" => (2100, Some("TVA 21%")),
        _ => (0, None),
    }
}

/// A Romanian VAT number: "RO" and 2 to 10 digits.
fn is_ro_vat(id: &str) -> bool {
    id.strip_prefix("RO")
        .is_some_and(|d| (2..=10).contains(&d.len()) && d.chars().all(|c| c.is_ascii_digit()))
}

/// Tax on `subtotal` minor units, rounded half up.
pub fn tax(subtotal: i64, rate_bp: i32) -> i64 {
    (subtotal * i64::from(rate_bp) + 5_000).div_euclid(10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_by_country_and_the_reverse_charge() {
        assert_eq!(rate("SA", "").0, 1500);
        assert_eq!(rate("EG", "").0, 1400);
        assert_eq!(rate("BR", "").0, 500);
        assert_eq!(rate("RO", "").0, 2100);
        assert_eq!(rate("RO", "ro 12345678".replace(' ', "").as_str()).0, 0);
        assert!(rate("RO", "RO12345678")
            .1
            .unwrap()
            .starts_with("Reverse charge"));
        assert_eq!(rate("RO", "12345678").0, 2100, "not a VAT number");
        assert_eq!(rate("US", "").0, 0);
    }

    #[test]
    fn tax_rounds_half_up_in_minor_units() {
        assert_eq!(tax(10_000, 1500), 1_500);
        assert_eq!(tax(333, 1500), 50); // 49.95 → 50
        assert_eq!(tax(1, 1400), 0);
        assert_eq!(tax(0, 2100), 0);
    }
}
