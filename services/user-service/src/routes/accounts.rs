//! `/user/{username}`: the account: read, update, delete.
use axum::extract::State;
use axum::http::StatusCode;
use common::extract::Json;
use common::FieldErrors;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::views::UserView;
use crate::domain::{DetailsUpdate, DisplayName, Email, Profile, Role};
use crate::error::{ApiError, Error};
use crate::session::Account;
use crate::state::AppState;

/// Replaces name and email when given and merges profile data (RFC 7396: a key set to
/// `null` is removed). Username and password cannot be changed here.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Ada King", "city": "Paris", "age": null}))]
pub struct UpdateRequest {
    name: Option<String>,
    email: Option<String>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    profile: Map<String, Value>,
}

/// Reads an account (owner or admin).
#[utoipa::path(get, path = "/user/{username}", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    security(("session" = []), ("oidc" = ["users:admin"])),
    responses(
        (status = 200, description = "The account", body = UserView),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    account: Account,
) -> Result<Json<UserView>, ApiError> {
    let user = account.read(&state).await?;
    Ok(Json(UserView::from_record(user, &state).await?))
}

/// Updates name, email and profile data (owner or admin).
#[utoipa::path(put, path = "/user/{username}", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    request_body(content = UpdateRequest, content_type = "application/json"),
    security(("session" = []), ("oidc" = ["users:admin"])),
    responses(
        (status = 200, description = "The updated account", body = UserView),
        (status = 400, description = "Malformed body"),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "Changed concurrently; retry"),
        (status = 422, description = "Invalid fields"),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    account: Account,
    Json(request): Json<UpdateRequest>,
) -> Result<Json<UserView>, ApiError> {
    let mut errors = FieldErrors::new();
    let name = errors.optional("name", request.name, |n| DisplayName::parse(&n));
    let email = errors.optional("email", request.email, |e| Email::parse(&e));
    let patch = Profile::parse(request.profile).map_err(|problems| {
        for (field, message) in problems {
            errors.push(field, message);
        }
    });
    let (Ok(patch), true) = (patch, errors.is_empty()) else {
        return Err(ApiError::Invalid(errors.into_vec()));
    };
    let name = name.map(|n| n.as_str().to_owned());
    let email = email.map(|e| e.as_str().to_owned());

    // Optimistic concurrency: merge onto what was read, write only if nobody changed it
    // since, and re-read and retry a few times if somebody did.
    for _ in 0..3 {
        let user = account.read(&state).await?;
        let current_profile = Profile::parse(user.profile.clone()).unwrap_or_default();
        let merged = Profile::parse(current_profile.merged(&patch))
            .map_err(|problems| ApiError::field("profile", problems[0].1.clone()))?;
        let update = DetailsUpdate {
            name: name.clone(),
            email: email.clone(),
            profile: merged.into_inner(),
        };
        match state
            .users
            .update_details(&account.username, &update, user.updated_at)
            .await
            .map_err(ApiError::from)
        {
            Ok(updated) => return Ok(Json(UserView::from_record(updated, &state).await?)),
            Err(ApiError::Service(Error::ConcurrentUpdate)) => continue,
            Err(other) => return Err(other),
        }
    }
    Err(Error::ConcurrentUpdate.into())
}

/// Deletes an account with its sessions and avatar (owner or admin). Safe to retry.
#[utoipa::path(delete, path = "/user/{username}", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    security(("session" = []), ("oidc" = ["users:admin"])),
    responses(
        (status = 204, description = "The account, its sessions and its avatar are gone"),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "The last admin account, which cannot be deleted"),
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    account: Account,
) -> Result<StatusCode, ApiError> {
    let user = account.read(&state).await?;
    let Account { username, by } = account;
    // Sessions and avatar first, the item last: if anything fails midway the account
    // still exists and a retry finishes the job.
    // An admin goes only while another remains: checked before anything is undone, and
    // again atomically with the delete (against the admin found here, first).
    let keeper = match user.role {
        Role::Admin => Some(
            state
                .users
                .another_admin(&username)
                .await?
                .ok_or(Error::LastAdmin)?,
        ),
        Role::User => None,
    };
    let revoked = state.sessions.delete_all_for(&username).await?;
    if let Some(key) = &user.avatar_key {
        state.avatars.delete(key).await?;
    }
    match keeper {
        Some(keeper) => {
            state.users.delete_admin(&username, keeper).await?;
            state.audit.admin_deleted(&username, &by.to_string());
        }
        None => state.users.delete(&username).await?,
    }
    tracing::info!(%username, revoked, by = %by, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}
