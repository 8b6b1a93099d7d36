use common::domain::{DisplayName, Email};
use common::{FieldError, FieldErrors};

use super::Destinations;

/// A phone number in E.164 form: `+`, then 7 to 15 digits (country code first, never 0).
/// Spaces, dashes, dots and parentheses people type are dropped first, so
/// `+254 711 000-000` is stored as `+254711000000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let invalid =
            || "must be an E.164 number: + and the country code, e.g. +254711000000".to_owned();
        let digits = compact.strip_prefix('+').ok_or_else(invalid)?;
        let well_formed = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if well_formed {
            Ok(Self(compact))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A customer's short, human-friendly code: `CUS-` and a sequence number of at least six
/// digits. The numbers come from an atomic counter, so no code is ever handed out twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerCode(String);

impl CustomerCode {
    pub fn from_sequence(number: u64) -> Self {
        Self(format!("CUS-{number:06}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A customer that passed validation.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub name: DisplayName,
    pub phone_number: PhoneNumber,
    pub email: Option<Email>,
}

impl NewCustomer {
    /// Checks every field and reports all problems at once. The name goes into SMS, so it
    /// must be text an SMS may carry (stored normalised); the number must be one SMS may
    /// be sent to.
    pub fn parse(
        name: Option<String>,
        phone_number: Option<String>,
        email: Option<String>,
        destinations: &Destinations,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let name = errors.required("name", name, |n| {
            DisplayName::parse(&super::sms_text::checked(&n)?)
        });
        let phone_number = errors.required("phone_number", phone_number, |p| {
            let number = PhoneNumber::parse(&p)?;
            destinations.check(&number)?;
            Ok(number)
        });
        let email = errors.optional("email", email, |e| Email::parse(&e));
        match (name, phone_number) {
            (Some(name), Some(phone_number)) if errors.is_empty() => Ok(Self {
                name,
                phone_number,
                email,
            }),
            _ => Err(errors.into_vec()),
        }
    }

    pub fn fingerprint(&self) -> String {
        super::fingerprint(&[
            self.name.as_str(),
            self.phone_number.as_str(),
            self.email.as_ref().map_or("", Email::as_str),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_e164_after_dropping_separators() {
        assert_eq!(
            PhoneNumber::parse(" +254 (711) 000-000 ").unwrap().as_str(),
            "+254711000000"
        );
        assert!(
            PhoneNumber::parse("+1234567").is_ok(),
            "7 digits is the shortest"
        );
        assert!(
            PhoneNumber::parse("+123456789012345").is_ok(),
            "15 is the longest"
        );
        for bad in [
            "",
            "0711000000",
            "254711000000",
            "+0711000000",
            "+123456",
            "+1234567890123456",
            "+2547110000a0",
            "++254711000000",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn codes_are_padded_and_grow() {
        assert_eq!(CustomerCode::from_sequence(42).as_str(), "CUS-000042");
        assert_eq!(
            CustomerCode::from_sequence(1_234_567).as_str(),
            "CUS-1234567"
        );
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = NewCustomer::parse(
            None,
            Some("12".into()),
            Some("nope".into()),
            &Destinations::default(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "phone_number", "email"]);
        assert!(errors[0].message.contains("required"));
    }

    #[test]
    fn email_is_optional_and_fingerprints_follow_content() {
        let parse = |name: &str, phone: &str| {
            NewCustomer::parse(
                Some(name.into()),
                Some(phone.into()),
                None,
                &Destinations::default(),
            )
            .unwrap()
        };
        let a = parse("Ada", "+254711000000");
        let b = parse(" Ada ", "+254 711 000000");
        let c = parse("Ada", "+254711000001");
        assert_eq!(
            a.fingerprint(),
            b.fingerprint(),
            "same content after normalising"
        );
        assert_ne!(a.fingerprint(), c.fingerprint());
    }
}
