//! A delivery report as Africa's Talking posts it (form fields `id`, `status`,
//! `phoneNumber`, `networkCode`, `failureReason`, `retryCount`), read into what it means
//! for the order's SMS. Source: AT's "SMS Notifications" page,
//! <http://docs.africastalking.com/sms/notifications>, "Delivery Reports" (quoted verbatim in
//! the vendor review's AT-notif source): statuses `Sent`, `Submitted`, `Buffered` (on the
//! way), `Success` (delivered: final), `Rejected`, `Failed` (final), `AbsentSubscriber` (SIM
//! unreachable) and `Expired` (discarded by the telco); `failureReason` only with `Rejected`
//! or `Failed`: `InsufficientCredit`, `InvalidLinkId`, `UserIsInactive`, `UserInBlackList`,
//! `UserAccountSuspended`, `NotNetworkSubcriber` (sic), `UserNotSubscribedToProduct`,
//! `UserDoesNotExist`, `DeliveryFailure`.
use common::{FieldError, FieldErrors};

/// The longest `id` (AT's are `ATXid_` and 32 hex digits) and status or reason accepted.
const MAX_ID: usize = 100;
const MAX_WORD: usize = 64;

/// What a report says of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportedStatus {
    /// `Success`: delivered to the phone (final).
    Delivered,
    /// `Failed`, `Rejected`, `AbsentSubscriber`, `Expired` (final), with why.
    Undelivered { reason: String },
    /// `Sent`, `Submitted`, `Buffered`, or a status AT adds later: on its way, nothing to
    /// record yet.
    OnItsWay { status: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The `messageId` of the send this reports on.
    pub message_id: String,
    pub status: ReportedStatus,
    /// The telco that handled it (`63902`: Safaricom), for the log.
    pub network_code: Option<String>,
}

/// A word of letters and digits (AT's statuses and reasons are CamelCase words): anything
/// else is refused, so the log and the order's reason carry only such words.
fn word(raw: &str) -> Result<String, String> {
    let word = raw.trim();
    if word.is_empty() || word.len() > MAX_WORD || !word.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(format!(
            "must be one word of 1 to {MAX_WORD} letters and digits"
        ));
    }
    Ok(word.to_owned())
}

impl DeliveryReport {
    /// Checks every field AT sends that the service reads, and reports all problems at once.
    pub fn parse(
        id: Option<String>,
        status: Option<String>,
        failure_reason: Option<String>,
        network_code: Option<String>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let message_id = errors.required("id", id, |id| {
            let id = id.trim();
            let printable = id.bytes().all(|b| b.is_ascii_graphic());
            if id.is_empty() || id.len() > MAX_ID || !printable {
                return Err(format!(
                    "must be a message id of 1 to {MAX_ID} visible characters"
                ));
            }
            Ok(id.to_owned())
        });
        let status = errors.required("status", status, |status| word(&status));
        let reason = errors.optional("failureReason", failure_reason, |reason| word(&reason));
        let network_code = errors.optional("networkCode", network_code, |code| word(&code));
        let (Some(message_id), Some(status)) = (message_id, status) else {
            return Err(errors.into_vec());
        };
        if !errors.is_empty() {
            return Err(errors.into_vec());
        }
        let status = match status.as_str() {
            "Success" => ReportedStatus::Delivered,
            "Failed" | "Rejected" | "AbsentSubscriber" | "Expired" => ReportedStatus::Undelivered {
                reason: match reason {
                    Some(reason) => format!("not delivered: {status} ({reason})"),
                    None => format!("not delivered: {status}"),
                },
            },
            _ => ReportedStatus::OnItsWay { status },
        };
        Ok(Self {
            message_id,
            status,
            network_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(status: &str, reason: Option<&str>) -> Result<DeliveryReport, Vec<FieldError>> {
        DeliveryReport::parse(
            Some("ATXid_0f5e8b".into()),
            Some(status.into()),
            reason.map(Into::into),
            Some("63902".into()),
        )
    }

    #[test]
    fn final_statuses_deliver_or_fail_with_the_reason_and_the_rest_are_on_their_way() {
        assert_eq!(
            report("Success", None).unwrap().status,
            ReportedStatus::Delivered
        );
        assert_eq!(
            report("Failed", Some("AbsentSubscriber")).unwrap().status,
            ReportedStatus::Undelivered {
                reason: "not delivered: Failed (AbsentSubscriber)".into()
            }
        );
        assert_eq!(
            report("Rejected", None).unwrap().status,
            ReportedStatus::Undelivered {
                reason: "not delivered: Rejected".into()
            }
        );
        for interim in ["Sent", "Submitted", "Buffered", "SomethingNew"] {
            assert!(matches!(
                report(interim, None).unwrap().status,
                ReportedStatus::OnItsWay { .. }
            ));
        }
    }

    #[test]
    fn malformed_reports_name_every_field() {
        let errors = DeliveryReport::parse(None, Some("Fail ed".into()), Some("<b>".into()), None)
            .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "status", "failureReason"]);
        assert!(report(&"x".repeat(65), None).is_err());
    }
}
