//! Africa's Talking messaging API: `POST {base}/version1/messaging` with the form fields
//! `username`, `to`, `message` (and `from`), authenticated by the `apiKey` header. The
//! per-recipient `statusCode` of the answer decides between sent, retry and reject.
use std::time::Duration;

use async_trait::async_trait;
use prometheus::IntCounter;
use reqwest::header::ACCEPT;
use reqwest::StatusCode;
use serde::Deserialize;
use time::{OffsetDateTime, Time, UtcOffset};
use url::Url;

use super::{SendOutcome, SmsMetrics, SmsSender};
use crate::secret::SecretValue;

/// Africa's Talking's API hosts. Its SDKs use the sandbox if and only if the username is
/// `sandbox` (africastalking-python `africastalking/Service.py`: `_is_sandbox` and
/// `APIService._init_service`; africastalking-node `lib/index.js`).
const LIVE_HOST: &str = "api.africastalking.com";
const SANDBOX_HOST: &str = "api.sandbox.africastalking.com";
const SANDBOX_USERNAME: &str = "sandbox";

/// The API's base URL for `username`: the host the SDKs would pick, unless `configured`
/// overrides it (a stand-in, a proxy). A pair that cannot work is refused: the sandbox
/// knows only the username `sandbox`, and the live API never knows it, so either mix-up
/// answers every send 401, retried as a rotating key until the attempts run out.
pub fn base_url(username: &str, configured: Option<&Url>) -> Result<Url, String> {
    let sandbox = username == SANDBOX_USERNAME;
    let Some(url) = configured else {
        let host = if sandbox { SANDBOX_HOST } else { LIVE_HOST };
        return Ok(Url::parse(&format!("https://{host}")).expect("a valid URL"));
    };
    match url.host_str() {
        Some(SANDBOX_HOST) if !sandbox => Err(format!(
            "AFRICASTALKING_BASE_URL is the sandbox ({SANDBOX_HOST}), which knows only the \
             username `sandbox`, not `{username}`: leave it unset for the live API"
        )),
        Some(LIVE_HOST) if sandbox => Err(format!(
            "AFRICASTALKING_BASE_URL is the live API ({LIVE_HOST}), which has no user \
             `sandbox`: set AFRICASTALKING_USERNAME to the application's username"
        )),
        _ => Ok(url.clone()),
    }
}

pub struct AfricasTalking {
    http: reqwest::Client,
    endpoint: Url,
    username: String,
    sender_id: Option<String>,
    api_key: SecretValue,
    /// `sms_provider_insufficient_balance_total`: sends refused until the account is
    /// topped up (an alert: only a person can fix it).
    insufficient_balance: IntCounter,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "SMSMessageData")]
    data: MessageData,
}

#[derive(Deserialize)]
struct MessageData {
    #[serde(rename = "Message", default)]
    message: String,
    #[serde(rename = "Recipients", default)]
    recipients: Vec<Recipient>,
}

#[derive(Deserialize)]
struct Recipient {
    #[serde(rename = "statusCode")]
    status_code: u16,
    #[serde(default)]
    status: String,
    #[serde(rename = "messageId", default)]
    message_id: String,
}

impl AfricasTalking {
    pub fn new(
        http: reqwest::Client,
        base_url: &Url,
        username: String,
        sender_id: Option<String>,
        api_key: SecretValue,
        metrics: &SmsMetrics,
    ) -> Result<Self, String> {
        let endpoint = self::base_url(&username, Some(base_url))?
            .join("/version1/messaging")
            .expect("a path joins any base URL");
        Ok(Self {
            http,
            endpoint,
            username,
            sender_id,
            api_key,
            insufficient_balance: metrics.insufficient_balance.clone(),
        })
    }
}

/// How long from `now` until Nigeria's hours for promotional SMS open again: the next
/// 08:00 West Africa Time (UTC+1, no daylight saving), when a do-not-disturb refusal no
/// longer applies.
fn until_promotional_hours(now: OffsetDateTime) -> Duration {
    let wat = UtcOffset::from_hms(1, 0, 0).expect("a valid offset");
    let local = now.to_offset(wat);
    let mut opens = local.replace_time(Time::from_hms(8, 0, 0).expect("a valid time"));
    if opens <= local {
        opens += time::Duration::days(1);
    }
    (opens - local).try_into().unwrap_or_default()
}

impl AfricasTalking {
    /// The provider's per-recipient status codes: 100 Processed, 101 Sent and 102 Queued
    /// are accepted; 405 InsufficientBalance and 500-502 (its own or a gateway's error) may
    /// pass later; 409 DoNotDisturbRejection passes in the morning; the rest (401 RiskHold,
    /// 402 InvalidSenderId, 403 InvalidPhoneNumber, 404 UnsupportedNumberType,
    /// 406 UserInBlacklist, 407 CouldNotRoute) will not.
    fn recipient_outcome(&self, recipient: Recipient) -> SendOutcome {
        let described = format!("{} ({})", recipient.status, recipient.status_code);
        match recipient.status_code {
            100..=102 => SendOutcome::Sent {
                message_id: recipient.message_id,
            },
            405 => self.out_of_balance(&described),
            // Nigeria's do-not-disturb rule: promotional sender ids may not text from 8 pm to
            // 8 am (AT's "SMS Notifications" page, quoted in the vendor review's AT-notif),
            // answered as HTTP 409 with this recipient status. Not the number's fault.
            409 => SendOutcome::Deferred {
                reason: format!(
                    "the provider refused it outside Nigeria's hours for promotional SMS: \
                     {described}; tried again at 08:00 WAT"
                ),
                after: until_promotional_hours(OffsetDateTime::now_utc()),
            },
            500..=502 => SendOutcome::Retry {
                reason: format!("the provider could not send it now: {described}"),
                after: None,
            },
            _ => SendOutcome::Reject {
                reason: format!("the provider refused the recipient: {described}"),
            },
        }
    }

    /// An answer without recipients: the account, not the number, was refused, and
    /// `Message` says why (see the stand-in, `stand_ins::sms`). A used-up balance passes once
    /// someone tops it up: retried with the outbox's backoff, and counted for an alert. An
    /// unregistered sender id, or anything else, will not pass by itself.
    fn account_outcome(&self, message: &str) -> SendOutcome {
        match message {
            "InsufficientBalance" => self.out_of_balance(message),
            "InvalidSenderId" => SendOutcome::Reject {
                reason: format!(
                    "the provider refused the sender id {:?}: InvalidSenderId (register it on the account)",
                    self.sender_id.as_deref().unwrap_or_default()
                ),
            },
            _ => SendOutcome::Reject {
                reason: format!("the provider accepted no recipient: {message}"),
            },
        }
    }

    fn out_of_balance(&self, described: &str) -> SendOutcome {
        self.insufficient_balance.inc();
        tracing::warn!(
            "the SMS provider account has no balance left: SMS wait until it is topped up"
        );
        SendOutcome::Retry {
            reason: format!("the provider account's balance is used up: {described}"),
            after: None,
        }
    }
}

#[async_trait]
impl SmsSender for AfricasTalking {
    async fn send(&self, to: &str, message: &str) -> SendOutcome {
        let key = match self.api_key.get().await {
            Ok(key) => key,
            // A missing or unreachable secret is an operations problem that a fix or a
            // recovery resolves: retry (bounded) rather than lose the message.
            Err(error) => {
                tracing::warn!(%error, "the SMS API key is not available");
                return SendOutcome::Retry {
                    reason: format!("the SMS API key is not available: {error}"),
                    after: None,
                };
            }
        };
        let mut form = vec![
            ("username", self.username.as_str()),
            ("to", to),
            ("message", message),
        ];
        if let Some(from) = &self.sender_id {
            form.push(("from", from));
        }
        let response = self
            .http
            .post(self.endpoint.clone())
            .header("apiKey", key.expose())
            .header(ACCEPT, "application/json")
            .form(&form)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            // Never connected: nothing reached the provider.
            Err(error) if error.is_connect() => {
                return SendOutcome::Retry {
                    reason: "the SMS provider could not connect".into(),
                    after: None,
                };
            }
            // The request may have been sent: the provider keeps going without us.
            Err(error) => {
                let what = if error.is_timeout() {
                    "timed out"
                } else {
                    "the connection failed"
                };
                return SendOutcome::Unknown {
                    reason: format!("the SMS provider {what}"),
                };
            }
        };
        let status = response.status();
        let retry_after = common::http_client::retry_after(response.headers());
        match status {
            // 409 carries the usual body, its recipient DoNotDisturbRejection (AT-notif).
            StatusCode::OK | StatusCode::CREATED | StatusCode::CONFLICT => {
                match response.json::<Answer>().await {
                    Ok(answer) => match answer.data.recipients.into_iter().next() {
                        Some(recipient) => self.recipient_outcome(recipient),
                        None => self.account_outcome(&answer.data.message),
                    },
                    Err(_) => SendOutcome::Retry {
                        reason: "the SMS provider's answer was unreadable".into(),
                        after: None,
                    },
                }
            }
            StatusCode::UNAUTHORIZED => {
                self.api_key.forget().await;
                SendOutcome::Retry {
                    reason: "the SMS provider rejected the API key".into(),
                    after: None,
                }
            }
            status if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() => {
                SendOutcome::Retry {
                    reason: format!("the SMS provider answered {status}"),
                    after: retry_after,
                }
            }
            status => SendOutcome::Reject {
                reason: format!("the SMS provider refused the request: {status}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_host_follows_the_username_as_the_sdks_choose_it() {
        assert_eq!(
            base_url("sandbox", None).unwrap().as_str(),
            "https://api.sandbox.africastalking.com/"
        );
        assert_eq!(
            base_url("shop", None).unwrap().as_str(),
            "https://api.africastalking.com/"
        );
        let stand_in = Url::parse("http://127.0.0.1:9101").unwrap();
        assert_eq!(base_url("shop", Some(&stand_in)).unwrap(), stand_in);
        let sandbox = Url::parse("https://api.sandbox.africastalking.com").unwrap();
        let live = Url::parse("https://api.africastalking.com").unwrap();
        assert!(base_url("shop", Some(&sandbox))
            .unwrap_err()
            .contains("`shop`"));
        assert!(base_url("sandbox", Some(&live))
            .unwrap_err()
            .contains("AFRICASTALKING_USERNAME"));
        assert!(
            base_url("sandbox", Some(&sandbox)).is_ok() && base_url("shop", Some(&live)).is_ok()
        );
    }

    #[test]
    fn do_not_disturb_waits_for_eight_in_the_morning_in_lagos() {
        // 21:30 WAT is 20:30 UTC: 10.5 hours to 08:00 WAT.
        let evening = datetime!(2026-12-06 20:30 UTC);
        assert_eq!(
            until_promotional_hours(evening),
            Duration::from_secs(37_800)
        );
        // 06:00 WAT: two hours.
        assert_eq!(
            until_promotional_hours(datetime!(2026-12-07 05:00 UTC)),
            Duration::from_secs(7_200)
        );
        // Exactly 08:00 WAT: the next morning.
        assert_eq!(
            until_promotional_hours(datetime!(2026-12-07 07:00 UTC)),
            Duration::from_secs(86_400)
        );
    }
}
