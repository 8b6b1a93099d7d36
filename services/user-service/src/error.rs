//! The service's errors, mapped to HTTP in one place.
use axum::http::StatusCode;
use common::{FieldError, Problem};

use crate::domain::AvatarError;
use crate::session::HashError;
use crate::store::StoreError;

/// What every handler returns: the shared failures (`Invalid`, `Problem`, `Internal`) and
/// this service's own ([`Error`]).
pub type ApiError = common::ApiError<Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    #[error("forbidden")]
    Forbidden,
    #[error("admins only")]
    AdminsOnly,
    #[error("no such user")]
    UserNotFound,
    #[error("username taken")]
    UsernameTaken,
    #[error("the account changed while it was being updated")]
    ConcurrentUpdate,
    #[error("the last admin account")]
    LastAdmin,
    #[error(transparent)]
    Avatar(#[from] AvatarError),
}

impl From<AvatarError> for ApiError {
    fn from(error: AvatarError) -> Self {
        Self::Service(error.into())
    }
}

impl From<HashError> for ApiError {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => Self::Problem(Problem::unavailable(
                "Too many passwords are being checked right now; retry shortly",
            )),
            HashError::Failed(error) => Self::Internal(error),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists => Error::UsernameTaken.into(),
            StoreError::NotFound => Error::UserNotFound.into(),
            StoreError::Conflict => Error::ConcurrentUpdate.into(),
            StoreError::LastAdmin => Error::LastAdmin.into(),
            StoreError::Storage(error) => Self::Problem(error.into()),
        }
    }
}

impl common::ServiceError for Error {
    fn into_problem(self) -> Problem {
        match self {
            Self::Unauthenticated(why) => Problem::unauthorized(why),
            Self::Forbidden => {
                Problem::forbidden("Only the account's owner or an admin may do this")
            }
            Self::AdminsOnly => Problem::forbidden("Only an admin may do this"),
            Self::UserNotFound => Problem::not_found("No such user"),
            Self::UsernameTaken => {
                Problem::of_kind(StatusCode::CONFLICT, "username-taken", "Username taken")
                    .detail("That username is already registered")
                    .field("username", "is already taken")
            }
            Self::ConcurrentUpdate => {
                Problem::conflict("The account was changed by another request; retry")
            }
            Self::LastAdmin => Problem::conflict(
                "This is the last admin account: make another admin before deleting it",
            ),
            Self::Avatar(error @ AvatarError::TooLarge { .. }) => Problem::of_kind(
                StatusCode::PAYLOAD_TOO_LARGE,
                "avatar-too-large",
                "Avatar too large",
            )
            .detail(error.to_string())
            .field("avatar", error.to_string()),
            Self::Avatar(error) => {
                Problem::validation(vec![FieldError::new("avatar", error.to_string())])
            }
        }
    }
}
