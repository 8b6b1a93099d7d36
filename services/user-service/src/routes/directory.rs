use axum::extract::State;
use common::extract::{Json, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
pub struct DirectoryQuery {
    /// Entries per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next` cursor from the previous page.
    next: Option<String>,
}

/// One directory entry: exactly these three fields.
#[derive(Serialize, ToSchema)]
pub struct DirectoryEntry {
    name: Option<String>,
    email: Option<String>,
    /// A time-limited link to the avatar image.
    avatar_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DirectoryPage {
    users: Vec<DirectoryEntry>,
    /// Pass as `next` to get the following page; absent on the last page.
    next: Option<String>,
}

/// The user directory, a page at a time.
#[utoipa::path(get, path = "/users", tag = "directory",
    params(DirectoryQuery),
    security(("session" = [])),
    responses(
        (status = 200, description = "A page of users", body = DirectoryPage),
        (status = 400, description = "Bad cursor or query", body = common::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid session", body = common::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Limit out of range", body = common::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The user store is unavailable", body = common::Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    _current: CurrentUser,
    Query(query): Query<DirectoryQuery>,
) -> Result<Json<DirectoryPage>, ApiError> {
    let limit = common::extract::page_limit(query.limit)?;
    let after = query
        .next
        .as_deref()
        .map(|cursor| common::aws::decode_cursor(cursor, &["username"]))
        .transpose()?;
    let page = state.users.list(limit, after).await?;
    let mut users = Vec::with_capacity(page.items.len());
    for record in page.items {
        let avatar_url = match &record.avatar_key {
            Some(key) => Some(state.avatars.url_for(key).await?),
            None => None,
        };
        users.push(DirectoryEntry {
            name: Some(record.name).filter(|n| !n.is_empty()),
            email: Some(record.email).filter(|e| !e.is_empty()),
            avatar_url,
        });
    }
    Ok(Json(DirectoryPage {
        users,
        next: page.next.as_ref().map(common::aws::encode_cursor),
    }))
}
