//! The service's errors, mapped to HTTP in one place.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::{FieldError, Problem};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("the order names no existing customer")]
    UnknownCustomer,
    #[error("no such customer")]
    CustomerNotFound,
    #[error("no such order")]
    OrderNotFound,
    #[error("the idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("{}", .0.title)]
    Problem(Problem),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Aws(problem) => Self::Problem(problem),
            // Routes resolve a taken key by replaying it; reaching here means the record
            // vanished in between (expired): the client's retry will succeed.
            StoreError::IdempotencyKeyTaken => Self::Problem(Problem::conflict(
                "A request with this Idempotency-Key was being processed; retry it",
            )),
            StoreError::LostClaim => {
                tracing::error!("an outbox claim error reached a route");
                Self::Problem(Problem::internal())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = match self {
            Self::Invalid(errors) => Problem::validation(errors),
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
            Self::Problem(problem) => problem,
        };
        problem.into_response()
    }
}
