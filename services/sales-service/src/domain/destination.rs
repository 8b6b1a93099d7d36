//! Where an SMS may go: numbers of the allowed countries (a setting), never a premium-rate
//! or satellite number. Sending to those costs the sender far more than a local SMS and
//! pays whoever holds the number: the "SMS pumping" fraud a public sign-up form invites.
use std::str::FromStr;

use super::PhoneNumber;

/// Refused whatever the allowed countries (E.164 digits after the `+`):
/// - `1900`, `1976`: premium-rate numbers of the North American Numbering Plan;
/// - `870`: Inmarsat; `881`: Global Mobile Satellite System (Iridium, Globalstar);
/// - `882`, `883`: ITU "International Networks" (satellite and other carriers, Thuraya);
/// - `979`: ITU International Premium Rate Service.
const PREMIUM_OR_SATELLITE: [&str; 7] = ["1900", "1976", "870", "881", "882", "883", "979"];

/// The country calling codes SMS may be sent to (`SMS_ALLOWED_COUNTRY_CODES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinations {
    country_codes: Vec<String>,
}

impl Destinations {
    /// Kenya, Tanzania, Uganda, Rwanda: the East African markets the service sells in
    /// (prices in KES by default, SMS through Africa's Talking).
    pub const DEFAULT: &'static str = "254,255,256,250";

    /// Whether an SMS may go to `number`; why not otherwise.
    pub fn check(&self, number: &PhoneNumber) -> Result<(), String> {
        let digits = number.as_str().trim_start_matches('+');
        if PREMIUM_OR_SATELLITE
            .iter()
            .any(|prefix| digits.starts_with(prefix))
        {
            return Err("is a premium-rate or satellite number, which receives no SMS".into());
        }
        // Country codes are a prefix code (ITU-T E.164): at most one of them matches.
        if self
            .country_codes
            .iter()
            .any(|code| digits.starts_with(code.as_str()))
        {
            Ok(())
        } else {
            Err(format!(
                "must be a number of a country SMS are sent to (country codes {})",
                self.country_codes.join(", ")
            ))
        }
    }
}

impl FromStr for Destinations {
    type Err = String;

    /// Comma-separated country calling codes: `254,255,256,250`.
    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut country_codes = Vec::new();
        for code in list.split(',').map(str::trim) {
            let code = code.strip_prefix('+').unwrap_or(code);
            let well_formed = (1..=3).contains(&code.len())
                && code.bytes().all(|b| b.is_ascii_digit())
                && !code.starts_with('0');
            if !well_formed {
                return Err(format!(
                    "`{code}` is not a country calling code (1-3 digits)"
                ));
            }
            if PREMIUM_OR_SATELLITE.contains(&code) {
                return Err(format!("{code} is a premium-rate or satellite code"));
            }
            country_codes.push(code.to_owned());
        }
        Ok(Self { country_codes })
    }
}

impl Default for Destinations {
    fn default() -> Self {
        Self::DEFAULT.parse().expect("the default list is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(raw: &str) -> PhoneNumber {
        PhoneNumber::parse(raw).unwrap()
    }

    /// Why an SMS may not go to `raw`: it is no mobile number, or not an allowed one.
    fn refusal(destinations: &Destinations, raw: &str) -> Option<String> {
        match PhoneNumber::parse(raw) {
            Ok(number) => destinations.check(&number).err(),
            Err(why) => Some(why),
        }
    }

    #[test]
    fn only_allowed_countries_and_never_premium_or_satellite() {
        let east_africa = Destinations::default();
        for ok in [
            "+254711000001",
            "+255712000001",
            "+256772000001",
            "+250788000001",
        ] {
            assert!(east_africa.check(&number(ok)).is_ok(), "{ok}");
        }
        for refused in [
            "+12125550123",
            "+447700900123",
            "+251911000001",
            "+881612345678",
        ] {
            assert!(refusal(&east_africa, refused).is_some(), "{refused}");
        }
        let with_nanp: Destinations = "1, +254".parse().unwrap();
        assert!(with_nanp.check(&number("+12125550123")).is_ok());
        let why = refusal(&with_nanp, "+19005550123").unwrap();
        assert!(why.contains("premium"), "{why}");
        // libphonenumber does not number 1-976 at all; the prefix list refuses it anyway.
        assert!(refusal(&with_nanp, "+19765550123").is_some());
    }

    #[test]
    fn the_setting_takes_country_codes_only() {
        for bad in ["", "254,", "0254", "2545", "25a", "881", "254,882"] {
            assert!(bad.parse::<Destinations>().is_err(), "{bad:?}");
        }
    }
}
