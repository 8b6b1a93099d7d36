//! One timestamp type for every service, with the forms they store and answer with. Each
//! form stays as it was first written: DynamoDB holds items, and sort keys, in it, and
//! clients parse it. A record names the form at the field and holds a [`Timestamp`]:
//!
//! ```ignore
//! #[serde(with = "common::timestamp::sortable")]
//! ordered_at: Timestamp,
//! ```
//!
//! (no attribute: RFC 3339; [`sortable`], [`unix_seconds`] and [`unix_millis`] otherwise).

use std::ops::Add;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Exactly six fraction digits, so that every timestamp has the same length.
const FIXED_MICROSECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// An instant, kept in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// RFC 3339 with the fraction digits the instant needs (`2026-11-29T14:35:00.5Z`):
    /// user-service's items and answers, integration-service's sync records.
    pub fn rfc3339(self) -> String {
        self.0
            .format(&Rfc3339)
            .expect("RFC 3339 formats every date")
    }

    /// UTC with exactly six fraction digits (`2026-11-29T14:35:00.500000Z`): the text sorts
    /// in time order, so sales-service's orders-by-customer index sorts on it.
    pub fn sortable(self) -> String {
        self.0
            .format(FIXED_MICROSECONDS)
            .expect("every UTC time formats")
    }

    /// Unix seconds: DynamoDB's TTL attributes.
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// Unix milliseconds: the SMS outbox's unit (due times and leases).
    pub fn unix_millis(self) -> i64 {
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000)
            .expect("milliseconds since 1970 fit an i64")
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(at: OffsetDateTime) -> Self {
        Self(at.to_offset(UtcOffset::UTC))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Self;

    fn add(self, duration: Duration) -> Self {
        Self(self.0 + duration)
    }
}

/// Serialised as [`Timestamp::rfc3339`], through `time::serde::rfc3339` itself: the form
/// user-service's items and answers held as `OffsetDateTime`s with that attribute.
impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::serialize(&self.0, serializer)
    }
}

/// Any RFC 3339 text, kept in UTC.
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        time::serde::rfc3339::deserialize(deserializer).map(Self::from)
    }
}

/// `#[serde(with = "common::timestamp::sortable")]`: stored as [`Timestamp::sortable`] (the
/// text sorts in time order); read from any RFC 3339 text.
pub mod sortable {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.sortable())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        Timestamp::deserialize(deserializer)
    }
}

/// `#[serde(with = "common::timestamp::unix_seconds")]`: stored as [`Timestamp::unix_seconds`]
/// (DynamoDB's TTL attributes).
pub mod unix_seconds {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(at.unix_seconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let seconds = i64::deserialize(deserializer)?;
        OffsetDateTime::from_unix_timestamp(seconds)
            .map(Timestamp::from)
            .map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "common::timestamp::unix_millis")]`: stored as [`Timestamp::unix_millis`]
/// (the SMS outbox's due times and leases).
pub mod unix_millis {
    use super::*;

    pub fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(at.unix_millis())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let millis = i64::deserialize(deserializer)?;
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .map(Timestamp::from)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn each_form_is_as_stored() {
        let at = Timestamp::from(datetime!(2026-11-29 17:35:00.5 +3));
        assert_eq!(at.rfc3339(), "2026-11-29T14:35:00.5Z");
        assert_eq!(at.sortable(), "2026-11-29T14:35:00.500000Z");
        assert_eq!(at.unix_seconds(), 1_795_962_900);
        assert_eq!(at.unix_millis(), 1_795_962_900_500);
    }

    /// What `#[serde(with = "time::serde::rfc3339")]` wrote for a UTC `OffsetDateTime`.
    #[derive(Serialize)]
    struct AsTimeWrote(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

    #[test]
    fn serde_form_is_time_rfc3339s() {
        for (at, text) in [
            (datetime!(2026-11-29 14:35:00 UTC), "2026-11-29T14:35:00Z"),
            (
                datetime!(2026-11-29 14:35:00.5 UTC),
                "2026-11-29T14:35:00.5Z",
            ),
            (
                datetime!(2026-11-29 14:35:00.123 UTC),
                "2026-11-29T14:35:00.123Z",
            ),
            (
                datetime!(2026-11-29 14:35:00.000001 UTC),
                "2026-11-29T14:35:00.000001Z",
            ),
            (
                datetime!(2026-11-29 14:35:00.123456789 UTC),
                "2026-11-29T14:35:00.123456789Z",
            ),
            (
                datetime!(1970-01-01 00:00:00.000000001 UTC),
                "1970-01-01T00:00:00.000000001Z",
            ),
        ] {
            let json = serde_json::to_string(&Timestamp::from(at)).unwrap();
            assert_eq!(json, serde_json::to_string(&AsTimeWrote(at)).unwrap());
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(
                serde_json::from_str::<Timestamp>(&json).unwrap(),
                Timestamp::from(at)
            );
        }
        let elsewhere: Timestamp = serde_json::from_str("\"2026-11-29T17:35:00.5+03:00\"").unwrap();
        assert_eq!(elsewhere.rfc3339(), "2026-11-29T14:35:00.5Z");
    }

    #[test]
    fn adds_a_duration() {
        let at = Timestamp::from(datetime!(2026-11-29 14:35:00.5 UTC));
        let later = at + Duration::from_secs(24 * 3600);
        assert_eq!(later.rfc3339(), "2026-11-30T14:35:00.5Z");
        assert!(later > at);
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        answered: Timestamp,
        #[serde(with = "sortable")]
        ordered_at: Timestamp,
        #[serde(with = "unix_seconds")]
        expires_at: Timestamp,
        #[serde(with = "unix_millis")]
        due_at: Timestamp,
    }

    #[test]
    fn a_record_names_the_stored_form_at_the_field() {
        let at = Timestamp::from(datetime!(2026-11-29 14:35:00.5 UTC));
        let whole_second = Timestamp::from(datetime!(2026-11-29 14:35:00 UTC));
        let record = Record {
            answered: at,
            ordered_at: at,
            expires_at: whole_second,
            due_at: at,
        };
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "answered": "2026-11-29T14:35:00.5Z",
                "ordered_at": "2026-11-29T14:35:00.500000Z",
                "expires_at": 1_795_962_900,
                "due_at": 1_795_962_900_500_i64,
            })
        );
        assert_eq!(serde_json::from_value::<Record>(json).unwrap(), record);
    }
}
