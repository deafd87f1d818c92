//! International phone numbers as WhatsApp and CAMS use them: digits only, country code first.

use std::fmt;

use crate::{CamsError, Code};

/// An E.164 phone number without the `+`: 8 to 15 digits, not starting with 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses a recipient (`To`): digits with an optional leading `+`.
    /// `param` names the parameter in the error message.
    pub fn parse(param: &str, raw: &str) -> Result<Self, CamsError> {
        let code = if param == "From" {
            Code::FromOnlyNumeric
        } else {
            Code::ToOnlyNumeric
        };
        let digits = raw.trim().strip_prefix('+').unwrap_or(raw.trim());
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CamsError::new(
                code,
                format!(
                    "{param} must be an international phone number of digits only with its country code (e.g. 8613800000000), got {raw:?}."
                ),
            ));
        }
        Self::check_digits(param, digits)
    }

    /// Parses a business number (`From`): digits only, no `+` (CAMS: `FromOnlyNumeric`).
    pub fn parse_sender(param: &str, raw: &str) -> Result<Self, CamsError> {
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CamsError::new(
                Code::FromOnlyNumeric,
                format!(
                    "{param} must be the business phone number in digits only with its country code and no '+' (e.g. 8613800000000), got {raw:?}."
                ),
            ));
        }
        Self::check_digits(param, raw)
    }

    fn check_digits(param: &str, digits: &str) -> Result<Self, CamsError> {
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(CamsError::new(
                Code::PhoneNumberError,
                format!(
                    "{param} is not a valid international phone number: it needs a country code and 8 to 15 digits in all, not starting with 0, got {digits:?}."
                ),
            ));
        }
        Ok(Self(digits.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_international_numbers() {
        assert_eq!(
            PhoneNumber::parse("To", "+8613900000000").unwrap().as_str(),
            "8613900000000"
        );
        assert_eq!(
            PhoneNumber::parse("To", "447700900123").unwrap().as_str(),
            "447700900123"
        );
        assert!(PhoneNumber::parse_sender("From", "8613800000000").is_ok());
    }

    #[test]
    fn rejects_malformed_numbers_with_named_codes() {
        assert_eq!(
            PhoneNumber::parse("To", "12ab").unwrap_err().code,
            Code::ToOnlyNumeric
        );
        assert_eq!(
            PhoneNumber::parse("To", "").unwrap_err().code,
            Code::ToOnlyNumeric
        );
        assert_eq!(
            PhoneNumber::parse("To", "1234").unwrap_err().code,
            Code::PhoneNumberError
        );
        assert_eq!(
            PhoneNumber::parse("To", "0123456789").unwrap_err().code,
            Code::PhoneNumberError
        );
        assert_eq!(
            PhoneNumber::parse_sender("From", "+8613800000000")
                .unwrap_err()
                .code,
            Code::FromOnlyNumeric
        );
    }
}
