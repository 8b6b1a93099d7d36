//! `/api/v1/sales/sms/...`: the outbox's backlog (for operators and the console), and
//! Africa's Talking's delivery reports, which move an order's SMS from `sent` to
//! `delivered` or `failed`.
//!
//! Africa's Talking posts a report to the callback URL registered on the account as an
//! `application/x-www-form-urlencoded` POST with `id` (the `messageId` of the send),
//! `status`, `phoneNumber`, `networkCode`, `failureReason` (only for `Rejected` and
//! `Failed`) and `retryCount` (premium SMS only). Source: Africa's Talking, "SMS
//! Notifications", <http://docs.africastalking.com/sms/notifications> ("Delivery Report
//! notification contents"; "sent as a POST request ... as application/x-www-form-urlencoded"),
//! and the older <http://docs.africastalking.com/sms/deliveryreports> (same fields; "not all
//! telcos support" `failureReason`). A report carries no
//! signature, so the URL carries a secret token (`SMS_DELIVERY_REPORT_TOKEN[_SECRET_ID]`),
//! checked before the body is read; the provider's source addresses are for the load
//! balancer to allow (docs/services/sales-service.md).
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use common::auth::Authenticated;
use common::extract::{Json, JsonOrForm};
use common::timestamp::Timestamp;
use common::Problem;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::{DeliveryReport, ReportedStatus};
use crate::error::ApiError;
use crate::sms::ReportResult;
use crate::state::AppState;
use crate::store::{OutboxError, ReportApplied, ReportedFinal};

/// The SMS outbox's backlog: what waits to be sent (or retried), counted through the
/// outbox's due index (never a scan of the table).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"queued": 42, "more": false, "counted_up_to": 1000,
    "oldest_due_at": "2026-12-06T11:20:51.512000Z"}))]
pub struct SmsBacklog {
    /// SMS waiting in the outbox: new, being sent, or waiting for a retry.
    queued: u64,
    /// The count stopped at `counted_up_to`: at least `queued` wait.
    more: bool,
    /// The most the count reads (`OUTBOX_BACKLOG_COUNT_MAX`).
    counted_up_to: u64,
    /// When the SMS due first is (or was) due: far in the past means the dispatchers are
    /// behind or stopped. `null` when none waits.
    #[schema(format = DateTime)]
    oldest_due_at: Option<String>,
}

/// How many SMS wait in the outbox, and since when: counted up to
/// `OUTBOX_BACKLOG_COUNT_MAX` through the outbox's due index (one query per partition plus
/// the count), so it costs the same however large the backlog grows.
#[utoipa::path(get, path = "/api/v1/sales/sms/backlog", tag = "sms",
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "The backlog", body = SmsBacklog),
    ))]
pub async fn backlog(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<SmsBacklog>, ApiError> {
    caller.require_scope(&state.scopes.read)?;
    let counted_up_to = state.backlog_count_max;
    let backlog = state
        .outbox
        .backlog(counted_up_to)
        .await
        .map_err(|error| match error {
            OutboxError::Storage(error) => ApiError::Problem(error.into()),
            OutboxError::LostClaim => ApiError::Internal(error.into()),
        })?;
    let oldest_due_at = backlog.oldest_due_ms.map(|ms| {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Timestamp::from(at).sortable()
    });
    Ok(Json(SmsBacklog {
        queued: backlog.queued,
        more: backlog.more,
        counted_up_to,
        oldest_due_at,
    }))
}

/// The delivery-report URL, before its token (the route's path below, without `{token}`).
pub const DELIVERY_REPORTS: &str = "/api/v1/sales/sms/delivery-reports/";

/// When a report names a message id the store does not know yet, it is looked up again
/// after these waits: the report can overtake the write that records the send (the
/// provider answers the send, then the dispatcher records it).
const UNKNOWN_ID_WAITS: [Duration; 2] = [Duration::from_millis(250), Duration::from_secs(1)];

/// The secret path token of the delivery-report URL, checked before the body is read:
/// any other token (or none configured) is a 404, as for a path that does not exist.
pub struct ReportToken;

impl FromRequestParts<AppState> for ReportToken {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let unknown = || Problem::not_found("No delivery-report URL has this token");
        let Path(token) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| unknown())?;
        let Some(expected) = &state.delivery_report_token else {
            return Err(unknown());
        };
        let expected = expected.get().await.map_err(|error| {
            tracing::warn!(%error, "the delivery-report token is not available");
            Problem::unavailable("Delivery reports cannot be checked now; retry shortly")
        })?;
        if bool::from(token.as_bytes().ct_eq(expected.expose().as_bytes())) {
            Ok(Self)
        } else {
            Err(unknown())
        }
    }
}

/// A delivery report, as Africa's Talking posts it (form fields).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"id": "ATXid_f0e2c2b5a1d34c6e9b3f8a7d6c5b4a39", "status": "Failed", "phoneNumber": "+254711000001", "networkCode": "63902", "failureReason": "AbsentSubscriber"}))]
pub struct DeliveryReportForm {
    /// The `messageId` Africa's Talking answered the send with.
    #[schema(value_type = String, required = true)]
    id: Option<String>,
    /// `Sent`, `Submitted`, `Buffered` (on its way), `Success` (delivered), `Failed`,
    /// `Rejected`, `AbsentSubscriber`, `Expired` (not delivered).
    #[schema(value_type = String, required = true)]
    status: Option<String>,
    /// Why it failed (`Failed` and `Rejected` only), e.g. `UserInBlackList`.
    failure_reason: Option<String>,
    /// The telco, e.g. `63902` (Safaricom).
    network_code: Option<String>,
    /// The recipient; not used (the message id names the order).
    #[allow(dead_code)]
    phone_number: Option<String>,
    /// Premium SMS only; not used.
    #[allow(dead_code)]
    retry_count: Option<String>,
}

/// What the report did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportReceipt {
    /// `delivered` or `failed` (the SMS took that state), `on_its_way` (an interim
    /// status), `unknown` (no SMS of ours has this id) or `replayed` (final already).
    result: &'static str,
}

/// Receives a delivery report from Africa's Talking. Unknown message ids and replays are
/// answered 200 and change nothing (logged and counted), so the provider has no reason to
/// send them again.
#[utoipa::path(post, path = "/api/v1/sales/sms/delivery-reports/{token}", tag = "sms",
    request_body(content = DeliveryReportForm, content_type = "application/x-www-form-urlencoded"),
    params(("token" = String, Path, description = "The secret token of the callback URL registered with Africa's Talking")),
    responses(
        (status = 200, description = "Received: what it did", body = ReportReceipt),
        (status = 400, description = "Malformed form"),
        (status = 404, description = "Not the delivery-report URL's token"),
        (status = 415, description = "Not a form"),
        (status = 422, description = "A field is missing or not what Africa's Talking sends"),
    ))]
pub async fn delivery_report(
    State(state): State<AppState>,
    _token: ReportToken,
    JsonOrForm(form): JsonOrForm<DeliveryReportForm>,
) -> Result<Json<ReportReceipt>, ApiError> {
    let report =
        DeliveryReport::parse(form.id, form.status, form.failure_reason, form.network_code)
            .map_err(ApiError::Invalid)?;
    let (result, order_id) = record(&state, &report).await?;
    state.sms_metrics.delivery_report(result);
    tracing::info!(
        order_id = order_id.as_deref().unwrap_or("-"),
        message_id = report.message_id,
        network_code = report.network_code.as_deref().unwrap_or("-"),
        result = result.label(),
        status = ?report.status,
        "SMS delivery report"
    );
    Ok(Json(ReportReceipt {
        result: result.label(),
    }))
}

/// Applies a final report to the order's SMS (looking an unknown id up again shortly, in
/// case the report overtook the send's record); an interim one changes nothing. Returns
/// what it did, and to which order.
async fn record(
    state: &AppState,
    report: &DeliveryReport,
) -> Result<(ReportResult, Option<String>), ApiError> {
    let (reported, result) = match &report.status {
        ReportedStatus::OnItsWay { .. } => return Ok((ReportResult::OnItsWay, None)),
        ReportedStatus::Delivered => (ReportedFinal::Delivered, ReportResult::Delivered),
        ReportedStatus::Undelivered { reason } => (
            ReportedFinal::Failed {
                reason: reason.clone(),
            },
            ReportResult::Failed,
        ),
    };
    let mut waits = UNKNOWN_ID_WAITS.iter();
    loop {
        match state
            .store
            .apply_delivery_report(&report.message_id, &reported)
            .await?
        {
            ReportApplied::Recorded { order_id } => return Ok((result, Some(order_id))),
            ReportApplied::AlreadyFinal { order_id } => {
                return Ok((ReportResult::Replayed, Some(order_id)))
            }
            ReportApplied::Unknown => match waits.next() {
                Some(wait) => tokio::time::sleep(*wait).await,
                None => return Ok((ReportResult::Unknown, None)),
            },
        }
    }
}
