//! Africa's Talking SMS API, as documented for `POST /version1/messaging`:
//!
//! - headers `apiKey: <key>`, `Accept: application/json`, and a
//!   `Content-Type: application/x-www-form-urlencoded` body with `username`, `to`
//!   (comma-separated E.164 numbers), `message` and optional `from` (other documented
//!   fields such as `bulkSMSMode` and `enqueue` are accepted and ignored);
//! - a wrong or missing `apiKey` or `username` is `401` with the plain-text body
//!   `The supplied authentication is invalid`; a missing `to` or `message` is `400`;
//! - otherwise `201` with `{"SMSMessageData":{"Message":"Sent to 1/1 Total Cost: KES
//!   0.8000","Recipients":[{"statusCode":101,"number":"+254711XXXYYY","status":"Success",
//!   "cost":"KES 0.8000","messageId":"ATXid_..."}]}}`, one recipient per number. A number
//!   that is not E.164 gets `403 InvalidPhoneNumber` (cost `0`, messageId `None`).
//!   KES 0.8000 per message part (160 characters, 153 per part when split; 70/67 for
//!   non-ASCII text).
//!
//! - account-level refusals come as the same envelope with a `Message` naming the reason
//!   and no recipient at all: `{"SMSMessageData":{"Message":"InsufficientBalance",
//!   "Recipients":[]}}` when the balance is used up, `"Message":"InvalidSenderId"` when
//!   `from` is not a sender id registered on the account. Africa's Talking's SDKs pass this
//!   body through untouched (africastalking-node `test/mocks.js` fixes only the envelope,
//!   `SMSMessageData.Message` + `Recipients`); the recipient-less form is what live
//!   integrations report (public clients test for `{"Message":"InvalidSenderId",
//!   "Recipients":[]}` with a 201).
//!
//! Like a real server, it finishes a request whose client gave up and sends its SMS (see
//! [`SmsGateway::set_finish_abandoned`]), so a client's resend after a timeout shows as the
//! duplicate it is in production.
//!
//! Delivery reports are posted to a callback for every accepted message ([`reports`]:
//! [`SmsGateway::send_delivery_reports`], per-number outcomes).
//!
//! Knobs for tests: injected HTTP failures, a delay, an outage (connections reset),
//! per-number recipient statuses, an exhausted balance and registered sender ids. For local
//! runs, `GET /__stand-in/messages` lists what was delivered, and every delivered message is
//! logged.
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::gate::{Gate, GatedListener};
use crate::{pressure, Pressure};

mod reports;
pub use reports::{PostedReport, Report};

/// Per-recipient statuses of Africa's Talking, by `statusCode`.
const RECIPIENT_STATUSES: [(u16, &str); 14] = [
    (100, "Processed"),
    (101, "Success"),
    (102, "Queued"),
    (401, "RiskHold"),
    (402, "InvalidSenderId"),
    (403, "InvalidPhoneNumber"),
    (404, "UnsupportedNumberType"),
    (405, "InsufficientBalance"),
    (406, "UserInBlacklist"),
    (407, "CouldNotRoute"),
    (409, "DoNotDisturbRejection"),
    (500, "InternalServerError"),
    (501, "GatewayError"),
    (502, "RejectedByGateway"),
];

/// The recipient status of Nigeria's do-not-disturb hours.
const DO_NOT_DISTURB: u16 = 409;

/// What one message part costs, in ten-thousandths of a shilling (KES 0.8000).
const PART_COST: u64 = 8_000;

/// One message accepted for one recipient (status 101).
#[derive(Debug, Clone, Serialize)]
pub struct Sms {
    /// The recipient, as sent in `to`.
    pub to: String,
    pub message: String,
    /// The sender id, when the request named one.
    pub from: Option<String>,
    pub username: String,
    /// The `messageId` answered for this recipient (`ATXid_...`).
    pub message_id: String,
}

/// A running SMS API. Clones share it.
#[derive(Clone)]
pub struct SmsGateway {
    /// `http://host:port`: the API's base URL (requests go to `{url}/version1/messaging`).
    pub url: String,
    shared: Arc<Shared>,
}

struct Shared {
    username: String,
    api_key: String,
    gate: Arc<Gate>,
    pressure: Arc<Pressure>,
    state: Mutex<GatewayState>,
    /// Posts delivery reports to the service's callback.
    reports_client: reqwest::Client,
}

#[derive(Default)]
struct GatewayState {
    delivered: Vec<Sms>,
    failures: VecDeque<StatusCode>,
    recipient_statuses: HashMap<String, u16>,
    balance_exhausted: bool,
    finish_abandoned: bool,
    /// Sender ids registered on the account; `None`: any `from` is accepted.
    sender_ids: Option<Vec<String>>,
    reports: reports::Reports,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, GatewayState> {
        self.state
            .lock()
            .expect("no test panics while holding the gateway state")
    }
}

impl SmsGateway {
    /// An account `username` with API key `api_key`, on a random loopback port.
    pub async fn spawn(username: &str, api_key: &str) -> Self {
        Self::spawn_on(crate::LOOPBACK, username, api_key).await
    }

    /// The same on `addr` (local runs). Panics if `addr` cannot be bound.
    pub async fn spawn_on(addr: SocketAddr, username: &str, api_key: &str) -> Self {
        let (listener, url) = crate::bind(addr).await;
        let shared = Arc::new(Shared {
            username: username.to_owned(),
            api_key: api_key.to_owned(),
            gate: Arc::default(),
            pressure: Arc::default(),
            state: Mutex::new(GatewayState {
                finish_abandoned: true,
                ..GatewayState::default()
            }),
            reports_client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("static client settings are valid"),
        });
        let router = Router::new()
            .route("/version1/messaging", post(send))
            .route_layer(from_fn_with_state(shared.clone(), fail_if_due))
            .route_layer(from_fn_with_state(shared.pressure.clone(), pressure))
            .route_layer(from_fn_with_state(shared.clone(), finish_if_abandoned))
            .route("/__stand-in/messages", get(messages))
            .with_state(shared.clone())
            .layer(from_fn_with_state(Arc::from("sms"), crate::log_request));
        let listener = GatedListener {
            listener,
            gate: shared.gate.clone(),
        };
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, shared }
    }

    /// Every message accepted so far (recipient status 101), in order.
    pub fn delivered(&self) -> Vec<Sms> {
        self.shared.state().delivered.clone()
    }

    /// Requests to `/version1/messaging` that reached the server, failed ones included
    /// (not the connections refused while down).
    pub fn requests(&self) -> usize {
        self.shared.pressure.requests()
    }

    /// Requests to `/version1/messaging` being answered now.
    pub fn in_flight(&self) -> usize {
        self.shared.pressure.in_flight()
    }

    /// The most requests to `/version1/messaging` that were in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.shared.pressure.peak_in_flight()
    }

    /// The next requests are answered these HTTP statuses, one each, before any other
    /// logic (auth included), with a plain-text reason; 429 carries `Retry-After: 1`.
    /// Panics on a number that is not an HTTP status.
    pub fn fail_next(&self, statuses: &[u16]) {
        let statuses = statuses.iter().map(|&status| {
            StatusCode::from_u16(status)
                .unwrap_or_else(|_| panic!("{status} is not an HTTP status"))
        });
        self.shared.state().failures.extend(statuses);
    }

    /// Every request waits this long before anything else happens (`None`: no wait). A
    /// client that gives up meanwhile closes the connection, which cancels the request:
    /// nothing is sent for it.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.shared.pressure.set_delay(delay);
    }

    /// While down, new connections are accepted and reset at once without an answer, and
    /// open (keep-alive) connections are reset when next used, as with a dead host.
    pub fn set_down(&self, down: bool) {
        self.shared.gate.set_down(down);
    }

    /// From now on, recipient `number` gets this per-recipient `status_code` (e.g. 403
    /// InvalidPhoneNumber, 406 UserInBlacklist, 102 Queued, 409 DoNotDisturbRejection, which
    /// makes the whole answer an HTTP 409) instead of 101 Success; only 101 counts as
    /// delivered. Panics on a code Africa's Talking does not define.
    pub fn reject_number(&self, number: &str, status_code: u16) {
        assert!(
            status_name(status_code).is_some(),
            "{status_code} is not an Africa's Talking recipient status"
        );
        self.shared
            .state()
            .recipient_statuses
            .insert(number.to_owned(), status_code);
    }
}

impl SmsGateway {
    /// When on (the default), a request whose client gave up (timed out, closed the
    /// connection) is still processed to the end, and its SMS sent, as a real HTTP server
    /// does: it only learns of the disconnect when it writes the answer (RFC 9110 section
    /// 9.2.2: a client cannot know whether a request it gave up on took effect). Off, an
    /// abandoned request is cancelled (nothing sent), which no real provider does: only for
    /// tests that measure what the client alone has in flight.
    pub fn set_finish_abandoned(&self, finish: bool) {
        self.shared.state().finish_abandoned = finish;
    }

    /// While exhausted, every send is refused as a whole with `Message: InsufficientBalance`
    /// and no recipients (topping up, `false`, ends it).
    pub fn set_balance_exhausted(&self, exhausted: bool) {
        self.shared.state().balance_exhausted = exhausted;
    }

    /// Only these sender ids may be used as `from`; any other is refused as a whole with
    /// `Message: InvalidSenderId` and no recipients.
    pub fn register_sender_ids(&self, sender_ids: &[&str]) {
        self.shared.state().sender_ids = Some(sender_ids.iter().map(|s| s.to_string()).collect());
    }
}

fn status_name(code: u16) -> Option<&'static str> {
    RECIPIENT_STATUSES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, name)| *name)
}

/// Runs the request detached from its connection when abandoned requests must finish.
async fn finish_if_abandoned(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    if !shared.state().finish_abandoned {
        return next.run(request).await;
    }
    tokio::spawn(next.run(request))
        .await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Answers an injected failure if one is due (after the delay, before any other logic).
async fn fail_if_due(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let failure = shared.state().failures.pop_front();
    let Some(status) = failure else {
        return next.run(request).await;
    };
    let mut response = (status, status.canonical_reason().unwrap_or("Error")).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

#[derive(Deserialize)]
struct SendForm {
    username: Option<String>,
    to: Option<String>,
    message: Option<String>,
    from: Option<String>,
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, text.to_owned()).into_response()
}

fn unauthorized() -> Response {
    plain(
        StatusCode::UNAUTHORIZED,
        "The supplied authentication is invalid",
    )
}

fn missing(field: &str) -> Response {
    plain(
        StatusCode::BAD_REQUEST,
        &format!("Request is missing required form field '{field}'"),
    )
}

fn header_value<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// `+`, a country code that does not start with 0, at most 15 digits in all.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// How many parts the text is billed as.
fn parts(message: &str) -> u64 {
    let (single, per_part) = if message.is_ascii() {
        (160, 153)
    } else {
        (70, 67)
    };
    let length = message.chars().count();
    if length <= single {
        1
    } else {
        length.div_ceil(per_part) as u64
    }
}

fn kes(ten_thousandths: u64) -> String {
    format!(
        "KES {}.{:04}",
        ten_thousandths / 10_000,
        ten_thousandths % 10_000
    )
}

async fn send(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if headers.get("apikey").map(|key| key.as_bytes()) != Some(shared.api_key.as_bytes()) {
        return unauthorized();
    }
    if !header_value(&headers, "accept").contains("application/json") {
        return plain(
            StatusCode::NOT_ACCEPTABLE,
            "This stand-in answers JSON only: send Accept: application/json \
             (without it, Africa's Talking answers XML)",
        );
    }
    if !header_value(&headers, "content-type").starts_with("application/x-www-form-urlencoded") {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the fields as application/x-www-form-urlencoded",
        );
    }
    let form: SendForm = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(error) => return plain(StatusCode::BAD_REQUEST, &format!("Invalid form: {error}")),
    };
    if form.username.as_deref() != Some(shared.username.as_str()) {
        return unauthorized();
    }
    let numbers: Vec<&str> = form
        .to
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|number| !number.is_empty())
        .collect();
    if numbers.is_empty() {
        return missing("to");
    }
    let Some(message) = form.message.filter(|message| !message.is_empty()) else {
        return missing("message");
    };
    let from = form.from.filter(|from| !from.trim().is_empty());
    let part_cost = parts(&message) * PART_COST;

    let mut state = shared.state();
    let unregistered_sender = match (&state.sender_ids, &from) {
        (Some(registered), Some(from)) => !registered.contains(from),
        _ => false,
    };
    let refusal = if state.balance_exhausted {
        Some("InsufficientBalance")
    } else if unregistered_sender {
        Some("InvalidSenderId")
    } else {
        None
    };
    if let Some(refusal) = refusal {
        return (
            StatusCode::CREATED,
            Json(json!({"SMSMessageData": {"Message": refusal, "Recipients": []}})),
        )
            .into_response();
    }
    let mut recipients = Vec::with_capacity(numbers.len());
    let mut codes = Vec::with_capacity(numbers.len());
    let (mut sent, mut total_cost) = (0, 0);
    for number in &numbers {
        let default = if is_e164(number) { 101 } else { 403 };
        let code = state
            .recipient_statuses
            .get(*number)
            .copied()
            .unwrap_or(default);
        codes.push(code);
        let accepted = matches!(code, 100..=102);
        let (cost, message_id) = if accepted {
            sent += 1;
            total_cost += part_cost;
            let id = format!("ATXid_{}", uuid::Uuid::new_v4().simple());
            (kes(part_cost), id)
        } else {
            ("0".to_owned(), "None".to_owned())
        };
        if accepted {
            reports::schedule(&shared, &state.reports, number, &message_id);
        }
        if code == 101 {
            tracing::info!(to = number, from = ?from, text = message, message_id, "sms delivered");
            state.delivered.push(Sms {
                to: (*number).to_owned(),
                message: message.clone(),
                from: from.clone(),
                username: shared.username.clone(),
                message_id: message_id.clone(),
            });
        }
        recipients.push(json!({
            "statusCode": code,
            "number": number,
            "status": status_name(code),
            "cost": cost,
            "messageId": message_id,
        }));
    }
    let total = if sent == 0 {
        "0".to_owned()
    } else {
        kes(total_cost)
    };
    let summary = format!("Sent to {sent}/{} Total Cost: {total}", numbers.len());
    // Nigeria's do-not-disturb refusal comes as HTTP 409 with the usual body (AT's "SMS
    // Notifications" page: `{"SMSMessageData":{"Message":"Sent to 0/1 Total Cost: 0",
    // "Recipients":[{"cost":"0","messageId":"None","number":"+2348XXXXXXX",
    // "status":"DoNotDisturbRejection","statusCode":409}]}}`).
    let status = if codes.iter().all(|&code| code == DO_NOT_DISTURB) {
        StatusCode::CONFLICT
    } else {
        StatusCode::CREATED
    };
    (
        status,
        Json(json!({"SMSMessageData": {"Message": summary, "Recipients": recipients}})),
    )
        .into_response()
}

/// `GET /__stand-in/messages`: what was delivered, for a developer's curl.
async fn messages(State(shared): State<Arc<Shared>>) -> Json<Vec<Sms>> {
    Json(shared.state().delivered.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_are_a_plus_and_7_to_15_digits() {
        for valid in ["+254711000111", "+14155550100", "+2907123"] {
            assert!(is_e164(valid), "{valid}");
        }
        for invalid in [
            "0711000111",
            "254711000111",
            "+0711000111",
            "+2547110001112222",
            "+254 711",
            "+",
        ] {
            assert!(!is_e164(invalid), "{invalid}");
        }
    }

    #[test]
    fn long_and_non_ascii_texts_are_billed_per_part() {
        assert_eq!(parts(&"a".repeat(160)), 1);
        assert_eq!(parts(&"a".repeat(161)), 2);
        assert_eq!(parts(&"a".repeat(306)), 2);
        assert_eq!(parts(&"a".repeat(307)), 3);
        assert_eq!(parts(&"é".repeat(70)), 1);
        assert_eq!(parts(&"é".repeat(71)), 2);
        assert_eq!(kes(2 * PART_COST), "KES 1.6000");
    }
}
