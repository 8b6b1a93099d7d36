use std::fmt;
use std::str::FromStr;

use common::{FieldError, FieldErrors};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::ToSchema;

/// A money amount: exact (a decimal, never a float), positive, at most two decimal
/// places and below one trillion. Shown with two decimals: "56000.68", "10.00".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount(Decimal);

impl Amount {
    const MAX_WHOLE_DIGITS: usize = 12;

    /// Parses the plain decimal notation only (`56000.68`, `10`, `0.5`): no sign,
    /// exponent, separators or more than two decimals.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        let shape = || {
            "must be a positive decimal with at most 2 decimal places, such as \"56000.68\""
                .to_owned()
        };
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        let dangling_point = text.ends_with('.');
        if whole.is_empty()
            || !digits(whole)
            || !digits(fraction)
            || fraction.len() > 2
            || dangling_point
        {
            return Err(shape());
        }
        if whole.trim_start_matches('0').len() > Self::MAX_WHOLE_DIGITS {
            return Err("must be less than 1000000000000".into());
        }
        let mut value = Decimal::from_str_exact(text).map_err(|_| shape())?;
        if value.is_zero() {
            return Err("must be greater than zero".into());
        }
        value.rescale(2);
        Ok(Self(value))
    }

    /// An amount from a JSON body, read from the text the client wrote: a string, or a
    /// number's own literal (never an `f64`, so `0.1` is exactly one tenth and `1.005`
    /// has three decimals). A number in exponent form is read exactly too (`5.600068e4`
    /// is 56000.68); the same rules apply after that.
    pub fn from_json(raw: &RawValue) -> Result<Self, String> {
        let literal = raw.get().trim();
        match literal.bytes().next() {
            Some(b'"') => {
                let text: String = serde_json::from_str(literal)
                    .map_err(|_| "must be a decimal string such as \"56000.68\"".to_owned())?;
                Self::parse(&text)
            }
            Some(b'-' | b'0'..=b'9') if literal.contains(['e', 'E']) => {
                let exact = Decimal::from_scientific(literal)
                    .map_err(|_| "is out of range".to_owned())?
                    .normalize();
                if exact.scale() > 2 {
                    return Err("must have at most 2 decimal places".into());
                }
                Self::parse(&exact.to_string())
            }
            Some(b'-' | b'0'..=b'9') => Self::parse(literal),
            _ => Err("must be a decimal such as 56000.68 or \"56000.68\"".into()),
        }
    }

    pub fn as_decimal(&self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The scale is always 2, so this prints exactly two decimals.
        self.0.fmt(f)
    }
}

/// An ISO 4217 alphabetic currency code of a real currency, upper case (`KES`, `USD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let code = raw.trim();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err("must be a three-letter ISO 4217 code such as KES".into());
        }
        let code = code.to_ascii_uppercase();
        if super::iso4217::is_currency(&code) {
            Ok(Self(code))
        } else {
            Err(format!("{code} is not an ISO 4217 currency code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// What was ordered: 1 to 200 characters of text an SMS may carry (it goes into the
/// customer's SMS: one line, no bidirectional or invisible characters, nothing a phone
/// would show as a link; see `sms_text::checked`), stored in Unicode NFC with whitespace
/// collapsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item(String);

impl Item {
    pub const MAX: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let item = super::sms_text::checked(raw)?;
        if item.is_empty() {
            return Err("must not be empty".into());
        }
        if item.chars().count() > Self::MAX {
            return Err(format!("must be at most {} characters long", Self::MAX));
        }
        Ok(Self(item))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An order that passed validation (the customer's existence is the store's to check).
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub customer_id: String,
    pub item: Item,
    pub amount: Amount,
    pub currency: Currency,
}

impl NewOrder {
    /// Checks every field and reports all problems at once; `currency` falls back to
    /// the configured default.
    pub fn parse(
        customer: Option<String>,
        item: Option<String>,
        amount: Option<&RawValue>,
        currency: Option<String>,
        default_currency: &Currency,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let customer_id = errors.required("customer", customer, |id| {
            uuid::Uuid::parse_str(id.trim())
                .map(|id| id.to_string())
                .map_err(|_| "must be a customer id as returned by POST /customers".to_owned())
        });
        let item = errors.required("item", item, |i| Item::parse(&i));
        let amount = errors.required("amount", amount, Amount::from_json);
        let currency = errors
            .optional("currency", currency, |c| Currency::parse(&c))
            .unwrap_or_else(|| default_currency.clone());
        match (customer_id, item, amount) {
            (Some(customer_id), Some(item), Some(amount)) if errors.is_empty() => Ok(Self {
                customer_id,
                item,
                amount,
                currency,
            }),
            _ => Err(errors.into_vec()),
        }
    }

    pub fn fingerprint(&self) -> String {
        super::fingerprint(&[
            &self.customer_id,
            self.item.as_str(),
            &self.amount.to_string(),
            self.currency.as_str(),
        ])
    }
}

/// Where an order's SMS stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmsStatus {
    /// Not sent yet: waiting for its first attempt or for a retry.
    Pending,
    /// The provider accepted it for delivery; its delivery report has not come yet.
    Sent,
    /// The network reported it delivered to the phone.
    Delivered,
    /// Given up: a permanent refusal (e.g. an invalid number), retries exhausted, or the
    /// network reported it undelivered; the reason says which.
    Failed,
}

impl SmsStatus {
    pub const ALL: [Self; 4] = [Self::Pending, Self::Sent, Self::Delivered, Self::Failed];

    /// The status as the API and the store write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// A status as a client names it (`sms_status=`); `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_statuses_are_named_as_the_api_and_the_store_write_them() {
        for status in SmsStatus::ALL {
            let written = serde_json::to_value(status).unwrap();
            assert_eq!(written, status.as_str());
            assert_eq!(SmsStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(SmsStatus::parse("Sent"), None);
    }

    #[test]
    fn amounts_are_exact_positive_and_two_decimals_at_most() {
        assert_eq!(Amount::parse("56000.68").unwrap().to_string(), "56000.68");
        assert_eq!(Amount::parse("10").unwrap().to_string(), "10.00");
        assert_eq!(Amount::parse(" 0.5 ").unwrap().to_string(), "0.50");
        assert_eq!(
            Amount::parse("999999999999.99").unwrap().to_string(),
            "999999999999.99"
        );
        let sum = Amount::parse("0.10").unwrap().as_decimal()
            + Amount::parse("0.20").unwrap().as_decimal();
        assert_eq!(sum.to_string(), "0.30", "no float rounding");
        for bad in [
            "",
            "0",
            "0.00",
            "-5",
            "+5",
            "1.234",
            "1e3",
            "1,000",
            "12.",
            ".5",
            "abc",
            "1 000",
            "1000000000000",
        ] {
            assert!(Amount::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn json(literal: &str) -> Result<String, String> {
        let raw = RawValue::from_string(literal.to_owned()).unwrap();
        Amount::from_json(&raw).map(|amount| amount.to_string())
    }

    #[test]
    fn json_amounts_are_read_from_their_literal_text() {
        assert_eq!(json(r#""12.50""#).unwrap(), "12.50");
        assert_eq!(json("56000.68").unwrap(), "56000.68");
        assert_eq!(json("0.1").unwrap(), "0.10", "one tenth exactly");
        assert_eq!(json("999999999999.99").unwrap(), "999999999999.99");
        assert_eq!(json("1e3").unwrap(), "1000.00");
        assert_eq!(json("5.600068E+4").unwrap(), "56000.68");
        assert_eq!(json("1500e-2").unwrap(), "15.00");
        // As an f64, 1.005 is 1.00499999999999989...: read exactly, it has 3 decimals.
        for bad in [
            "1.005", "1e-3", "-5", "0", "0e0", "1e400", "1e-400", "1e12", "null", "true", "{}",
            "[1]",
        ] {
            assert!(json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn currencies_are_three_letters_upper_cased() {
        assert_eq!(Currency::parse("kes").unwrap().as_str(), "KES");
        for bad in ["", "KE", "KESH", "K3S", "€UR", "ZZZ", "XTS"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn items_are_bounded_text() {
        assert_eq!(
            Item::parse("  Bag of rice ").unwrap().as_str(),
            "Bag of rice"
        );
        assert_eq!(
            Item::parse("Bag  of\trice").unwrap().as_str(),
            "Bag of rice"
        );
        assert!(Item::parse(" ").is_err());
        assert!(Item::parse("a\nb").is_err());
        assert!(Item::parse("Rice, see pay\u{2024}example").is_err());
        assert!(Item::parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn orders_report_every_bad_field_and_default_the_currency() {
        let kes = Currency::parse("KES").unwrap();
        let errors = NewOrder::parse(
            Some("not-an-id".into()),
            None,
            Some(&RawValue::from_string("3.555".into()).unwrap()),
            Some("x".into()),
            &kes,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["customer", "item", "amount", "currency"]);

        let id = uuid::Uuid::now_v7().to_string();
        let order = NewOrder::parse(
            Some(id.clone()),
            Some("Rice".into()),
            Some(&RawValue::from_string(r#""100""#.into()).unwrap()),
            None,
            &kes,
        )
        .unwrap();
        assert_eq!(order.currency.as_str(), "KES");
        let same = NewOrder::parse(
            Some(id),
            Some(" Rice".into()),
            Some(&RawValue::from_string("100.00".into()).unwrap()),
            Some("kes".into()),
            &kes,
        )
        .unwrap();
        assert_eq!(
            order.fingerprint(),
            same.fingerprint(),
            "same order after normalising"
        );
    }
}
