//! Reading uploads: which bodies are uploads, and multipart fields read chunk by chunk
//! under a cap, so no field is ever held beyond its limit (security review F1: a 5 MiB
//! `profile` field was read whole and parsed).
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::http::{HeaderMap, StatusCode};
use bytes::{Bytes, BytesMut};
use common::extract::has_content_type;
use common::Problem;

use crate::domain::{AvatarError, AvatarImage, Username};
use crate::error::ApiError;

/// A `multipart/form-data` body.
pub(super) fn is_multipart(headers: &HeaderMap) -> bool {
    has_content_type(headers, "multipart/form-data")
}

/// A raw image body of exactly a type an avatar may have (`image/png`, not `image/*`:
/// `image/x+json` is JSON, and held to the JSON limit).
pub(super) fn is_avatar_image(headers: &HeaderMap) -> bool {
    AvatarImage::CONTENT_TYPES
        .iter()
        .any(|image| has_content_type(headers, image))
}

/// Where an account's avatar is stored.
pub(super) fn avatar_key(username: &Username) -> String {
    format!("avatars/{username}")
}

/// Reads the avatar file field, stopping as soon as it passes `limit` bytes.
pub(super) async fn read_avatar(field: &mut Field<'_>, limit: usize) -> Result<Bytes, ApiError> {
    read_limited(field, limit)
        .await?
        .map_err(|size| AvatarError::TooLarge { size, limit }.into())
}

/// Reads a text field of at most `limit` bytes of UTF-8, stopping as soon as it passes
/// the limit (a 413 naming the field).
pub(super) async fn read_text(
    field: &mut Field<'_>,
    name: &str,
    limit: usize,
) -> Result<String, ApiError> {
    let bytes = read_limited(field, limit)
        .await?
        .map_err(|_| field_too_large(name, limit))?;
    String::from_utf8(bytes.into()).map_err(|_| ApiError::field(name, "must be UTF-8 text"))
}

/// The 413 for a form part (or the form itself, `body`) over its limit.
pub(super) fn field_too_large(name: &str, limit: usize) -> ApiError {
    let message = format!("is over its limit of {limit} bytes");
    Problem::of_kind(
        StatusCode::PAYLOAD_TOO_LARGE,
        "field-too-large",
        "Form field too large",
    )
    .detail(format!("{name} {message}"))
    .field(name, message)
    .into()
}

/// A field's bytes, or how many it had reached when it passed `limit` (never buffering
/// more than `limit` and one chunk).
async fn read_limited(
    field: &mut Field<'_>,
    limit: usize,
) -> Result<Result<Bytes, usize>, ApiError> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_problem)? {
        if buffer.len() + chunk.len() > limit {
            return Ok(Err(buffer.len() + chunk.len()));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Ok(buffer.freeze()))
}

pub(super) fn multipart_problem(error: impl Into<MultipartFailure>) -> ApiError {
    let MultipartFailure { status, text } = error.into();
    ApiError::Problem(common::extract::body_problem(status, text))
}

/// A multipart extraction or parsing failure with the status axum chose for it.
pub(super) struct MultipartFailure {
    status: StatusCode,
    text: String,
}

impl From<MultipartError> for MultipartFailure {
    fn from(error: MultipartError) -> Self {
        Self {
            status: error.status(),
            text: error.body_text(),
        }
    }
}

impl From<MultipartRejection> for MultipartFailure {
    fn from(rejection: MultipartRejection) -> Self {
        Self {
            status: rejection.status(),
            text: rejection.body_text(),
        }
    }
}
