//! `GET /users`: the user directory, a page at a time, as the original service answered it.
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use common::extract::{Json, Query};
use common::{Cursor, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::session::DirectoryReader;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
pub struct DirectoryQuery {
    /// Entries per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The opaque cursor from the previous page's `Link: <...>; rel="next"` header.
    after: Option<String>,
}

/// One directory entry: exactly these three fields.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"avatar_url": null, "email": "ada@example.com", "name": "Ada Lovelace"}))]
pub struct DirectoryEntry {
    /// A link a browser can load: presigned (time-limited) or under `AVATAR_PUBLIC_BASE_URL`.
    avatar_url: Option<String>,
    /// `null` for members unless the directory is public: only admins see emails.
    email: Option<String>,
    name: Option<String>,
}

/// The user directory as the original service answered it: a bare array, a page at a
/// time, the next page named by an RFC 8288 `Link` header.
#[utoipa::path(get, path = "/users", tag = "directory",
    params(DirectoryQuery),
    security((), ("session" = []), ("oidc" = ["users:admin"])),
    responses(
        (status = 200, description = "A page of users; a session is needed unless USER_DIRECTORY_PUBLIC is set, and only admins see emails (everyone does when it is set)", body = Vec<DirectoryEntry>,
            headers(("link" = String, description = "`</users?limit=..&after=..>; rel=\"next\"` when there are more users"))),
        (status = 400, description = "Bad cursor or query"),
        (status = 401, description = "No valid session (private directory)"),
        (status = 422, description = "Limit out of range"),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    reader: DirectoryReader,
    Query(query): Query<DirectoryQuery>,
) -> Result<Response, ApiError> {
    let limit = common::extract::page_limit(query.limit)?;
    let after = query
        .after
        .as_deref()
        .map(|cursor| Cursor::parse(cursor, &["username"]))
        .transpose()
        .map_err(|error| named_after(Problem::from(error).into()))?;
    let page = state
        .users
        .list(limit, after)
        .await
        .map_err(|error| named_after(error.into()))?;
    let mut users = Vec::with_capacity(page.items.len());
    for record in page.items {
        let avatar_url = state.avatar_link(record.avatar_key.as_deref()).await?;
        users.push(DirectoryEntry {
            avatar_url,
            email: Some(record.email).filter(|e| reader.sees_emails && !e.is_empty()),
            name: Some(record.name).filter(|n| !n.is_empty()),
        });
    }
    let mut response = Json(users).into_response();
    if let Some(next) = page.next.as_ref().map(Cursor::encode) {
        // Relative to the request (RFC 8288 §3.1): no Host header is trusted to build it.
        let link = format!("</users?limit={limit}&after={next}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// The shared cursor helpers name the parameter `next`; here it is `after`.
fn named_after(error: ApiError) -> ApiError {
    match error {
        ApiError::Problem(problem) if problem.errors.iter().any(|e| e.field == "next") => {
            Problem::malformed("after: not a cursor returned by this API")
                .field("after", "invalid cursor")
                .into()
        }
        other => other,
    }
}
