//! Delivery reports, as Africa's Talking posts them once the network has answered for a
//! message. Source: AT's "SMS Notifications" page,
//! <http://docs.africastalking.com/sms/notifications>, "Delivery Reports" (and the older
//! <http://docs.africastalking.com/sms/deliveryreports>, which lists the same fields and the
//! first six statuses):
//!
//! - a POST to the callback URL registered on the account, `application/x-www-form-urlencoded`,
//!   with `id` (the `messageId` the send answered), `status`, `phoneNumber`, `networkCode`,
//!   and `failureReason` only when the status is `Rejected` or `Failed` (`retryCount` is
//!   for premium SMS only, so it is left out); `failureReason` is one of AT's
//!   words, e.g. `UserInBlackList`, `UserDoesNotExist`, `InsufficientCredit`, or
//!   `DeliveryFailure` (the catch-all);
//! - statuses `Sent`, `Submitted`, `Buffered` on the way, then one final `Success`,
//!   `Failed`, `Rejected` (and, on the newer page, `AbsentSubscriber` and `Expired`);
//! - `networkCode` names the telco (`63902` Safaricom, `64002` Tigo Tanzania, `64110` MTN
//!   Uganda, `63510` MTN Rwanda, `62130` MTN Nigeria; `99999` "Athena", the sandbox's).
//!
//! AT documents no retry of a callback that failed; the stand-in posts each report once
//! and records what the callback answered. By default every accepted message (statuses
//! 100-102) gets one `Success` report, `delay` after it was accepted.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{Shared, SmsGateway};

/// One report the stand-in posts for a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub status: String,
    /// Sent with `Failed` and `Rejected` only, as AT does.
    pub failure_reason: Option<String>,
}

impl Report {
    /// `Success`: delivered to the phone.
    pub fn success() -> Self {
        Self::interim("Success")
    }

    /// `Failed` with AT's `failureReason` (e.g. `AbsentSubscriber`, `UserInBlackList`,
    /// `DeliveryFailure`).
    pub fn failed(reason: &str) -> Self {
        Self {
            status: "Failed".into(),
            failure_reason: Some(reason.into()),
        }
    }

    /// `Rejected` by the network, with AT's `failureReason`.
    pub fn rejected(reason: &str) -> Self {
        Self {
            status: "Rejected".into(),
            failure_reason: Some(reason.into()),
        }
    }

    /// A status without a reason (`Sent`, `Submitted`, `Buffered`).
    pub fn interim(status: &str) -> Self {
        Self {
            status: status.into(),
            failure_reason: None,
        }
    }
}

/// A report the stand-in posted, and the HTTP status the callback answered (`None`: no
/// answer, the callback could not be reached).
#[derive(Debug, Clone, Serialize)]
pub struct PostedReport {
    pub message_id: String,
    pub phone_number: String,
    pub report: Report,
    pub answer: Option<u16>,
}

#[derive(Default)]
pub(super) struct Reports {
    callback: Option<String>,
    delay: Duration,
    /// The reports each message to a number gets, in order; `[Success]` otherwise.
    per_number: HashMap<String, Vec<Report>>,
    posted: Vec<PostedReport>,
}

impl SmsGateway {
    /// From now on, every accepted message gets its delivery reports posted to `callback`
    /// (the URL registered on the account), each `delay` after the one before.
    pub fn send_delivery_reports(&self, callback: &str, delay: Duration) {
        let mut state = self.shared.state();
        state.reports.callback = Some(callback.to_owned());
        state.reports.delay = delay;
    }

    /// The reports each message to `number` gets from now on, in order (e.g.
    /// `[Report::interim("Buffered"), Report::failed("AbsentSubscriber")]`).
    pub fn report_to(&self, number: &str, reports: Vec<Report>) {
        self.shared
            .state()
            .reports
            .per_number
            .insert(number.to_owned(), reports);
    }

    /// Every report posted so far, in order.
    pub fn posted_reports(&self) -> Vec<PostedReport> {
        self.shared.state().reports.posted.clone()
    }

    /// Posts the last report of `message_id` again, as a provider retrying a callback
    /// would; returns what the callback answered (`None` when no report of it was posted).
    pub async fn repost_report(&self, message_id: &str) -> Option<u16> {
        let (callback, last) = {
            let state = self.shared.state();
            let last = state
                .reports
                .posted
                .iter()
                .rev()
                .find(|posted| posted.message_id == message_id)?
                .clone();
            (state.reports.callback.clone()?, last)
        };
        post(
            &self.shared,
            &callback,
            last.phone_number,
            last.message_id,
            last.report,
        )
        .await
    }
}

/// Schedules the reports of a message just accepted for `number`, if a callback is set.
pub(super) fn schedule(shared: &Arc<Shared>, reports: &Reports, number: &str, message_id: &str) {
    let Some(callback) = reports.callback.clone() else {
        return;
    };
    let sequence = reports
        .per_number
        .get(number)
        .cloned()
        .unwrap_or_else(|| vec![Report::success()]);
    let (shared, delay) = (shared.clone(), reports.delay);
    let (number, message_id) = (number.to_owned(), message_id.to_owned());
    tokio::spawn(async move {
        for report in sequence {
            tokio::time::sleep(delay).await;
            post(
                &shared,
                &callback,
                number.clone(),
                message_id.clone(),
                report,
            )
            .await;
        }
    });
}

/// Posts one report and records it with the callback's answer.
async fn post(
    shared: &Shared,
    callback: &str,
    phone_number: String,
    message_id: String,
    report: Report,
) -> Option<u16> {
    let mut form = vec![
        ("id", message_id.clone()),
        ("status", report.status.clone()),
        ("phoneNumber", phone_number.clone()),
        ("networkCode", network_code(&phone_number).to_owned()),
    ];
    if let Some(reason) = &report.failure_reason {
        form.push(("failureReason", reason.clone()));
    }
    let answer = shared
        .reports_client
        .post(callback)
        .form(&form)
        .send()
        .await
        .ok()
        .map(|response| response.status().as_u16());
    tracing::info!(
        message_id,
        status = report.status,
        ?answer,
        "sms delivery report posted"
    );
    shared.state().reports.posted.push(PostedReport {
        message_id,
        phone_number,
        report,
        answer,
    });
    answer
}

/// The `networkCode` of a number's telco, by its country (one telco each: enough for the
/// service, which only logs it); the sandbox's `99999` elsewhere.
fn network_code(number: &str) -> &'static str {
    [
        ("+254", "63902"),
        ("+255", "64002"),
        ("+256", "64110"),
        ("+250", "63510"),
        ("+234", "62130"),
    ]
    .iter()
    .find(|(prefix, _)| number.starts_with(prefix))
    .map_or("99999", |(_, code)| code)
}
