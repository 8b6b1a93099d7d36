//! `/user/{username}/avatar`: uploading an avatar.
use axum::extract::{FromRequest, Multipart, Request, State};
use bytes::Bytes;
use common::extract::{unsupported_media_type, Json};
use utoipa::ToSchema;

use super::upload::{avatar_key, is_avatar_image, is_multipart, multipart_problem, read_avatar};
use super::views::UserView;
use crate::domain::{AvatarError, AvatarImage};
use crate::error::{ApiError, Error};
use crate::session::Account;
use crate::state::AppState;

/// A new avatar as a form field.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the multipart body for the OpenAPI spec only
pub struct AvatarForm {
    /// A PNG, JPEG, GIF or WebP image.
    #[schema(value_type = String, format = Binary)]
    avatar: Vec<u8>,
}

/// A new avatar as the body itself: the image's bytes, with its own content type.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // documents the raw-image body for the OpenAPI spec only
pub struct RawImage(Vec<u8>);

/// Uploads or replaces the avatar (owner or admin): a multipart form with an `avatar`
/// file, or the raw image as the body with its content type (`image/png`, `image/jpeg`,
/// `image/gif` or `image/webp`; any other type is a 415).
#[utoipa::path(put, path = "/user/{username}/avatar", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    request_body(content(
        (AvatarForm = "multipart/form-data"),
        (RawImage = "image/png"),
        (RawImage = "image/jpeg"),
        (RawImage = "image/gif"),
        (RawImage = "image/webp"),
    )),
    security(("session" = []), ("oidc" = ["users:admin"])),
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
    account: Account,
    request: Request,
) -> Result<Json<UserView>, ApiError> {
    let username = &account.username;
    let bytes = read_avatar_body(request, &state).await?;
    let avatar = AvatarImage::parse(bytes, state.avatar_max_bytes)?;
    if state.users.get(username).await?.is_none() {
        return Err(Error::UserNotFound.into());
    }
    let key = avatar_key(username);
    state
        .avatars
        .put(&key, avatar.bytes(), avatar.content_type())
        .await?;
    state
        .users
        .set_avatar(username, &key, &state.avatars.stored_url(&key))
        .await?;
    let user = account.read(&state).await?;
    Ok(Json(UserView::from_record(user, &state).await?))
}

/// The image from a multipart form's `avatar` field or from a raw image body; anything
/// else is refused before a byte of it is read.
async fn read_avatar_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    if is_multipart(request.headers()) {
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(multipart_problem)?;
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_problem)? {
            if field.name() == Some("avatar") {
                return read_avatar(&mut field, state.avatar_max_bytes).await;
            }
        }
        Err(ApiError::field("avatar", "is required"))
    } else if is_avatar_image(request.headers()) {
        let body = axum::body::to_bytes(request.into_body(), state.avatar_max_bytes + 1)
            .await
            .map_err(|_| AvatarError::TooLarge {
                size: state.avatar_max_bytes + 1,
                limit: state.avatar_max_bytes,
            })?;
        Ok(body)
    } else {
        Err(unsupported_media_type(&format!(
            "multipart/form-data with an `avatar` file, or the image itself as {}",
            AvatarImage::CONTENT_TYPES.join(", ")
        ))
        .into())
    }
}
