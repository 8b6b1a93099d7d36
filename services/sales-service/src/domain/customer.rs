use common::domain::{DisplayName, Email};
use common::{FieldError, FieldErrors};
use phonenumber::{Mode, Type};

use super::Destinations;

/// A mobile number that can receive SMS, parsed with its country's numbering plan
/// (libphonenumber's metadata, through the `phonenumber` crate) and kept in E.164 form:
/// `+`, the country code and the national number without its trunk prefix. So
/// `+254 0796-546 507` and `+254796546507` are the same number (the key of the per-number
/// limit), a number too short or too long for its country is refused, and so is any
/// number that is not a mobile one: premium-rate, shared-cost, toll-free, fixed lines and
/// the rest receive no SMS, or cost the sender to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid =
            || "must be an E.164 number: + and the country code, e.g. +254711000000".to_owned();
        let raw = raw.trim();
        // The international form only (a national number needs a country to guess): `+`, a
        // country code (never starting with 0), digits and the separators people type; no
        // letters (libphonenumber would read them as a keypad's digits) or extensions.
        let Some(digits) = raw.strip_prefix('+') else {
            return Err(invalid());
        };
        let well_formed = digits.starts_with(|c: char| matches!(c, '1'..='9'))
            && digits
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
            && raw.len() <= 32;
        if !well_formed {
            return Err(invalid());
        }
        let parsed = phonenumber::parse(None, raw).map_err(|_| invalid())?;
        if !parsed.is_valid() {
            return Err(
                "is not a valid number of its country (check the length and the digits)".into(),
            );
        }
        match parsed.number_type(&phonenumber::metadata::DATABASE) {
            Type::Mobile | Type::FixedLineOrMobile => {}
            Type::PremiumRate | Type::SharedCost => {
                return Err("is a premium-rate or shared-cost number, which receives no SMS".into())
            }
            other => {
                return Err(format!(
                    "must be a mobile number; this one is {}",
                    describe(other)
                ))
            }
        }
        Ok(Self(parsed.format().mode(Mode::E164).to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A number type in words, for the field's message.
fn describe(kind: Type) -> &'static str {
    match kind {
        Type::FixedLine => "a fixed line",
        Type::TollFree => "a toll-free number",
        Type::Voip => "a voice-over-IP number",
        Type::Pager => "a pager number",
        Type::PersonalNumber => "a personal (forwarding) number",
        Type::Uan => "a company number",
        Type::Voicemail => "a voicemail number",
        Type::ShortCode | Type::Emergency => "a short code",
        _ => "not a kind that receives SMS",
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
    fn phone_numbers_are_parsed_per_country_and_kept_in_e164() {
        for (raw, e164) in [
            (" +254 (711) 000-000 ", "+254711000000"),
            ("+2540796546507", "+254796546507"),
            ("+254796546507", "+254796546507"),
            ("+255 712 000 001", "+255712000001"),
            ("+256772000001", "+256772000001"),
            ("+250788000001", "+250788000001"),
            ("+12125550123", "+12125550123"),
        ] {
            assert_eq!(PhoneNumber::parse(raw).unwrap().as_str(), e164, "{raw}");
        }
        for (bad, why) in [
            ("", "E.164"),
            ("0711000000", "E.164"),
            ("254711000000", "E.164"),
            ("+0711000000", "E.164"),
            ("++254711000000", "E.164"),
            ("+2547110000a0", "E.164"),
            ("+2541234", "valid"),
            ("+2547965465070", "valid"),
            // The review's 0900 number is outside Kenya's numbering plan altogether.
            ("+254900123456", "valid"),
            ("+254900223456", "premium"),
            ("+254800223456", "toll-free"),
            ("+254202012345", "fixed line"),
            ("+19005550123", "premium"),
            ("+447700900123;ext=1", "E.164"),
        ] {
            let error = PhoneNumber::parse(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
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
