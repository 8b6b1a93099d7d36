//! Africa's Talking messaging API: `POST {base}/version1/messaging` with the form fields
//! `username`, `to`, `message` (and `from`), authenticated by the `apiKey` header. The
//! per-recipient `statusCode` of the answer decides between sent, retry and reject.
use std::sync::Arc;

use async_trait::async_trait;
use common::secrets::{Secret, SecretError, SecretStore};
use prometheus::IntCounter;
use reqwest::header::ACCEPT;
use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

use super::{SendOutcome, SmsMetrics, SmsSender};

/// Where the API key comes from: fixed (development) or a secret store (production).
pub enum ApiKey {
    Fixed(Secret),
    Stored {
        store: Arc<dyn SecretStore>,
        name: String,
    },
}

pub struct AfricasTalking {
    http: reqwest::Client,
    endpoint: Url,
    username: String,
    sender_id: Option<String>,
    api_key: ApiKey,
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
        api_key: ApiKey,
        metrics: &SmsMetrics,
    ) -> Self {
        let endpoint = base_url
            .join("/version1/messaging")
            .expect("a path joins any base URL");
        Self {
            http,
            endpoint,
            username,
            sender_id,
            api_key,
            insufficient_balance: metrics.insufficient_balance.clone(),
        }
    }

    async fn key(&self) -> Result<Secret, SecretError> {
        match &self.api_key {
            ApiKey::Fixed(secret) => Ok(secret.clone()),
            ApiKey::Stored { store, name } => store.get(name).await,
        }
    }

    /// After the provider rejected the key, read it again next time (it may have rotated).
    async fn forget_key(&self) {
        if let ApiKey::Stored { store, name } = &self.api_key {
            store.invalidate(name).await;
        }
    }
}

impl AfricasTalking {
    /// The provider's per-recipient status codes: 100 Processed, 101 Sent and 102 Queued
    /// are accepted; 405 InsufficientBalance and 500-502 (its own or a gateway's error) may
    /// pass later; the rest (401 RiskHold, 402 InvalidSenderId, 403 InvalidPhoneNumber,
    /// 404 UnsupportedNumberType, 406 UserInBlacklist, 407 CouldNotRoute,
    /// 409 DoNotDisturbRejection) will not.
    fn recipient_outcome(&self, recipient: Recipient) -> SendOutcome {
        let described = format!("{} ({})", recipient.status, recipient.status_code);
        match recipient.status_code {
            100..=102 => SendOutcome::Sent {
                message_id: recipient.message_id,
            },
            405 => self.out_of_balance(&described),
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
        let key = match self.key().await {
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
            StatusCode::OK | StatusCode::CREATED => match response.json::<Answer>().await {
                Ok(answer) => match answer.data.recipients.into_iter().next() {
                    Some(recipient) => self.recipient_outcome(recipient),
                    None => self.account_outcome(&answer.data.message),
                },
                Err(_) => SendOutcome::Retry {
                    reason: "the SMS provider's answer was unreadable".into(),
                    after: None,
                },
            },
            StatusCode::UNAUTHORIZED => {
                self.forget_key().await;
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
