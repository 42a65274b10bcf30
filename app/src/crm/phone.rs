//! Phone numbers are stored in E.164 (`+201001234567`) so the same number typed three
//! ways dedupes to one contact. Parsing uses libphonenumber's metadata.

use phonenumber::{Mode, PhoneNumber};

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    /// Not a phone number at all, or not a valid one for its country.
    Invalid,
    /// A national number (no `+` or `00`) and the tenant has no default country.
    NeedsCountryCode,
}

/// The E.164 form of `input`, `None` for blank input. National numbers are read as
/// `region`'s (ISO 3166 alpha-2), when the tenant has set one.
pub fn normalize(input: &str, region: Option<&str>) -> Result<Option<String>, PhoneError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let international = match trimmed.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => trimmed.to_string(),
    };
    let country = match (international.starts_with('+'), region) {
        (true, _) => None,
        (false, Some(code)) => Some(code.parse().map_err(|_| PhoneError::Invalid)?),
        (false, None) => return Err(PhoneError::NeedsCountryCode),
    };
    let number: PhoneNumber =
        phonenumber::parse(country, &international).map_err(|_| PhoneError::Invalid)?;
    if !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid);
    }
    Ok(Some(number.format().mode(Mode::E164).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_number_written_three_ways_is_one() {
        let forms = ["+20 100 123 4567", "0020 100 123 4567", "0100 123 4567"];
        for form in forms {
            assert_eq!(
                normalize(form, Some("EG")),
                Ok(Some("+201001234567".to_string())),
                "{form}"
            );
        }
    }

    #[test]
    fn national_numbers_need_a_country() {
        assert_eq!(
            normalize("0100 123 4567", None),
            Err(PhoneError::NeedsCountryCode)
        );
        assert_eq!(
            normalize("+1 415 555 2671", None),
            Ok(Some("+14155552671".into()))
        );
    }

    #[test]
    fn nonsense_and_blank() {
        assert_eq!(normalize("call me", Some("US")), Err(PhoneError::Invalid));
        assert_eq!(normalize("+1 23", None), Err(PhoneError::Invalid));
        assert_eq!(normalize("   ", None), Ok(None));
    }
}
