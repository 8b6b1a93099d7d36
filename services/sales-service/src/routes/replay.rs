//! The replay flow of `Idempotency-Key` on POST (the key type is
//! `domain::IdempotencyKey`): the first response to a key is stored in the same
//! transaction as what the request created; a retry with the same key and the same
//! request gets that response again (and creates nothing); the same key with another
//! request is a 422.
use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use common::auth::Principal;
use common::Problem;
use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::{IdempotencyKey, IdempotencyRecord};
use crate::error::{ApiError, Error};
use crate::state::AppState;
use crate::store::StoreError;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response that replays the first answer to an `Idempotency-Key`.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The request's `Idempotency-Key`, if it sent one; a malformed one is a 400.
pub struct IdempotencyHeader(Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyHeader {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Problem> {
        let Some(value) = parts.headers.get(&IDEMPOTENCY_KEY) else {
            return Ok(Self(None));
        };
        value
            .to_str()
            .map_err(|_| "must be visible ASCII characters".to_owned())
            .and_then(IdempotencyKey::parse)
            .map(|key| Self(Some(key)))
            .map_err(|message| {
                Problem::malformed(format!("Idempotency-Key: {message}"))
                    .field("Idempotency-Key", message)
            })
    }
}

/// A key scoped to one operation and one caller, with the request it stands for.
pub struct Idempotency {
    key: String,
    fingerprint: String,
}

impl IdempotencyHeader {
    /// Scopes the client's key: two callers (or two operations) never share a record.
    pub fn scoped(
        self,
        operation: &str,
        caller: &Principal,
        fingerprint: String,
    ) -> Option<Idempotency> {
        self.0.map(|key| Idempotency {
            key: serde_json::to_string(&[operation, &caller.subject, key.as_str()])
                .expect("strings encode"),
            fingerprint,
        })
    }
}

/// A 201 with its `Location`, kept as text so it can be stored and replayed unchanged.
pub struct Created {
    location: String,
    body: String,
}

impl Created {
    pub fn new(location: String, body: &impl Serialize) -> Self {
        Self {
            location,
            body: serde_json::to_string(body).expect("views serialise"),
        }
    }

    /// What to store for the key, alive for `ttl` from now.
    pub fn record(&self, idempotency: &Idempotency, ttl: std::time::Duration) -> IdempotencyRecord {
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        IdempotencyRecord {
            key: idempotency.key.clone(),
            fingerprint: idempotency.fingerprint.clone(),
            status: StatusCode::CREATED.as_u16(),
            body: self.body.clone(),
            location: self.location.clone(),
            expires_at: OffsetDateTime::now_utc()
                .unix_timestamp()
                .saturating_add(ttl),
        }
    }
}

impl IntoResponse for Created {
    fn into_response(self) -> Response {
        created(StatusCode::CREATED, &self.location, self.body, false)
    }
}

fn created(status: StatusCode, location: &str, body: String, replayed: bool) -> Response {
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// Writes what the request created together with its idempotency record (`write` does it
/// in one transaction) and answers `created`. When a concurrent request with the same key
/// won the race (the store found the key taken), answers what that request answered.
pub async fn commit<Fut>(
    state: &AppState,
    idempotency: Option<&Idempotency>,
    created: Created,
    write: impl FnOnce(Option<IdempotencyRecord>) -> Fut,
) -> Result<Response, ApiError>
where
    Fut: Future<Output = Result<(), StoreError>>,
{
    let record = idempotency.map(|key| created.record(key, state.idempotency_ttl));
    match write(record).await {
        Ok(()) => Ok(created.into_response()),
        Err(StoreError::IdempotencyKeyTaken) => stored(state, idempotency)
            .await?
            .ok_or(Error::IdempotencyKeyInFlight.into()),
        Err(other) => Err(other.into()),
    }
}

/// The stored answer for the key, if there is one: replayed when the request is the same,
/// a 422 when the key was used for another request.
pub async fn stored(
    state: &AppState,
    idempotency: Option<&Idempotency>,
) -> Result<Option<Response>, ApiError> {
    let Some(idempotency) = idempotency else {
        return Ok(None);
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    match state
        .store
        .idempotency_record(&idempotency.key, now)
        .await?
    {
        None => Ok(None),
        Some(record) if record.fingerprint == idempotency.fingerprint => {
            let status = StatusCode::from_u16(record.status).unwrap_or(StatusCode::OK);
            Ok(Some(created(status, &record.location, record.body, true)))
        }
        Some(_) => Err(Error::IdempotencyKeyReused.into()),
    }
}
