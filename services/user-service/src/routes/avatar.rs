//! `/user/{username}/avatar`: uploading an avatar, and the upload pieces sign-up shares.
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use bytes::{Bytes, BytesMut};
use common::extract::Json;
use utoipa::ToSchema;

use super::accounts::{parse_username, UserView};
use crate::domain::{AvatarError, AvatarImage, Username};
use crate::error::{ApiError, Error};
use crate::session::CurrentUser;
use crate::state::AppState;

/// A new avatar as a form field.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the multipart body for the OpenAPI spec only
pub struct AvatarForm {
    /// A PNG, JPEG, GIF or WebP image.
    #[schema(value_type = String, format = Binary)]
    avatar: Vec<u8>,
}

/// A new avatar as the body itself: the image's bytes, with its `image/*` content type.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // documents the raw-image body for the OpenAPI spec only
pub struct RawImage(Vec<u8>);

/// Uploads or replaces the avatar (owner or admin): a multipart form with an `avatar`
/// file, or the raw image as the body with an `image/*` content type.
#[utoipa::path(put, path = "/user/{username}/avatar", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    request_body(content(
        (AvatarForm = "multipart/form-data"),
        (RawImage = "image/png"),
        (RawImage = "image/jpeg"),
        (RawImage = "image/gif"),
        (RawImage = "image/webp"),
    )),
    security(("session" = [])),
    responses(
        (status = 200, description = "The account with its new avatar", body = UserView),
        (status = 400, description = "Malformed body"),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
        (status = 413, description = "The avatar is too large"),
        (status = 422, description = "Not an image"),
    ))]
pub async fn put_avatar(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(username): Path<String>,
    request: Request,
) -> Result<Json<UserView>, ApiError> {
    let username = parse_username(&username)?;
    current.may_act_on(&username)?;
    let bytes = read_avatar_body(request, &state).await?;
    let avatar = AvatarImage::parse(bytes, state.avatar_max_bytes)?;
    if state.users.get(&username).await?.is_none() {
        return Err(Error::UserNotFound.into());
    }
    let key = avatar_key(&username);
    state
        .avatars
        .put(&key, avatar.bytes(), avatar.content_type())
        .await?;
    state
        .users
        .set_avatar(&username, &key, &state.avatars.stored_url(&key))
        .await?;
    let user = state
        .users
        .get(&username)
        .await?
        .ok_or(Error::UserNotFound)?;
    Ok(Json(UserView::from_record(user, &state).await?))
}

async fn read_avatar_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(multipart_problem)?;
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_problem)? {
            if field.name() == Some("avatar") {
                return read_limited(&mut field, state.avatar_max_bytes).await;
            }
        }
        Err(ApiError::field("avatar", "is required"))
    } else if content_type.starts_with("image/") {
        let body = axum::body::to_bytes(request.into_body(), state.avatar_max_bytes + 1)
            .await
            .map_err(|_| AvatarError::TooLarge {
                size: state.avatar_max_bytes + 1,
                limit: state.avatar_max_bytes,
            })?;
        Ok(body)
    } else {
        Err(ApiError::Problem(
            common::Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .detail("Send multipart/form-data with an `avatar` file, or the image itself with an image/* content type"),
        ))
    }
}

pub(super) fn avatar_key(username: &Username) -> String {
    format!("avatars/{username}")
}

/// Reads a file field, stopping as soon as it passes the limit (never buffering more).
pub(super) async fn read_limited(
    field: &mut axum::extract::multipart::Field<'_>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_problem)? {
        if buffer.len() + chunk.len() > limit {
            return Err(AvatarError::TooLarge {
                size: buffer.len() + chunk.len(),
                limit,
            }
            .into());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
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

impl From<axum::extract::multipart::MultipartError> for MultipartFailure {
    fn from(error: axum::extract::multipart::MultipartError) -> Self {
        Self {
            status: error.status(),
            text: error.body_text(),
        }
    }
}

impl From<axum::extract::multipart::MultipartRejection> for MultipartFailure {
    fn from(rejection: axum::extract::multipart::MultipartRejection) -> Self {
        Self {
            status: rejection.status(),
            text: rejection.body_text(),
        }
    }
}
