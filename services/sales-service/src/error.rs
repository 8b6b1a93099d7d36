//! The service's errors, mapped to HTTP in one place.
use axum::http::StatusCode;
use common::{FieldError, Problem};

use crate::store::StoreError;

/// What every handler returns: the shared failures (`Invalid`, `Problem`, `Internal`) and
/// this service's own ([`Error`]).
pub type ApiError = common::ApiError<Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the order names no existing customer")]
    UnknownCustomer,
    #[error("no such customer")]
    CustomerNotFound,
    #[error("no such order")]
    OrderNotFound,
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// Another request holds the key: the replay flow answers with that request's
    /// response instead, when it can read it.
    #[error("a request with the idempotency key is in flight")]
    IdempotencyKeyInFlight,
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Storage(error) => Self::Problem(error.into()),
            StoreError::IdempotencyKeyTaken => Error::IdempotencyKeyInFlight.into(),
        }
    }
}

impl common::ServiceError for Error {
    fn into_problem(self) -> Problem {
        match self {
            Self::UnknownCustomer => Problem::validation(vec![FieldError::new(
                "customer",
                "no customer has this id",
            )]),
            Self::CustomerNotFound => Problem::not_found("No such customer"),
            Self::OrderNotFound => Problem::not_found("No such order"),
            Self::IdempotencyKeyReused => Problem::of_kind(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
            )
            .detail("This Idempotency-Key was already used with a different request body; use a new key for a new request")
            .field("Idempotency-Key", "was used for a different request"),
            // The replay flow answers a taken key with the stored response; reaching here
            // means that record vanished in between (expired): the client's retry succeeds.
            Self::IdempotencyKeyInFlight => Problem::conflict(
                "A request with this Idempotency-Key was being processed; retry it",
            ),
        }
    }
}
