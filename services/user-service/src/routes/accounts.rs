//! `/user/{username}`: the account: read, update, delete.
use axum::extract::{Path, State};
use axum::http::StatusCode;
use common::extract::Json;
use common::timestamp::Timestamp;
use common::FieldErrors;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::{DetailsUpdate, DisplayName, Email, Profile, Role, UserRecord, Username};
use crate::error::{ApiError, Error};
use crate::session::CurrentUser;
use crate::state::AppState;

/// An account as its owner (or an admin) sees it. Never includes the password hash.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"username": "ada", "name": "Ada Lovelace", "email": "ada@example.com",
    "avatar_url": null, "role": "user", "profile": {"city": "London"},
    "created_at": "2026-12-06T11:20:46.448986242Z", "updated_at": "2026-12-06T11:20:46.448986242Z"}))]
pub struct UserView {
    username: String,
    name: Option<String>,
    email: Option<String>,
    /// A time-limited link to the avatar image.
    avatar_url: Option<String>,
    role: Role,
    /// Free-form profile data.
    #[schema(value_type = Object)]
    profile: Map<String, Value>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl UserView {
    pub async fn from_record(user: UserRecord, state: &AppState) -> Result<Self, ApiError> {
        let avatar_url = match &user.avatar_key {
            Some(key) => Some(state.avatars.url_for(key).await?),
            None => None,
        };
        Ok(Self {
            username: user.username,
            name: Some(user.name).filter(|n| !n.is_empty()),
            email: Some(user.email).filter(|e| !e.is_empty()),
            avatar_url,
            role: user.role,
            profile: user.profile,
            created_at: user.created_at,
            updated_at: user.updated_at,
        })
    }
}

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

pub(super) fn parse_username(raw: &str) -> Result<Username, ApiError> {
    // An invalid name cannot exist, so it is not found rather than a validation error.
    Username::parse(raw).map_err(|_| Error::UserNotFound.into())
}

/// Reads an account (owner or admin).
#[utoipa::path(get, path = "/user/{username}", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The account", body = UserView),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(username): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let username = parse_username(&username)?;
    current.may_act_on(&username)?;
    let user = state
        .users
        .get(&username)
        .await?
        .ok_or(Error::UserNotFound)?;
    Ok(Json(UserView::from_record(user, &state).await?))
}

/// Updates name, email and profile data (owner or admin).
#[utoipa::path(put, path = "/user/{username}", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    request_body(content = UpdateRequest, content_type = "application/json"),
    security(("session" = [])),
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
    current: CurrentUser,
    Path(username): Path<String>,
    Json(request): Json<UpdateRequest>,
) -> Result<Json<UserView>, ApiError> {
    let username = parse_username(&username)?;
    current.may_act_on(&username)?;
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
        let user = state
            .users
            .get(&username)
            .await?
            .ok_or(Error::UserNotFound)?;
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
            .update_details(&username, &update, user.updated_at)
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
    security(("session" = [])),
    responses(
        (status = 204, description = "The account, its sessions and its avatar are gone"),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "The last admin account, which cannot be deleted"),
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let username = parse_username(&username)?;
    current.may_act_on(&username)?;
    let user = state
        .users
        .get(&username)
        .await?
        .ok_or(Error::UserNotFound)?;
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
            state.audit.admin_deleted(&username, &current.user.username);
        }
        None => state.users.delete(&username).await?,
    }
    tracing::info!(%username, revoked, by = %current.user.username, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}
