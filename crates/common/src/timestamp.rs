//! One timestamp type for every service, with the forms they store and answer with. Each
//! form stays as it was first written: DynamoDB holds items, and sort keys, in it, and
//! clients parse it.

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
}
