//! `GET /users`: the user directory, a page at a time, as the original service answered it,
//! in username order (one Query of the accounts index per page).
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use common::extract::Json;
use common::paging::{CursorParameter, PageQuery, Paging};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::session::DirectoryReader;
use crate::state::AppState;

/// The directory's paging: the cursor is `after`, as the original service named it.
pub struct DirectoryPaging;

impl Paging for DirectoryPaging {
    const CURSOR: CursorParameter = CursorParameter::After;
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
/// time in username order, the next page named by an RFC 8288 `Link` header.
#[utoipa::path(get, path = "/users", tag = "directory",
    params(
        ("limit" = Option<u32>, Query, description = "Entries per page, 1 to 100 (default 20).", minimum = 1, maximum = 100),
        ("after" = Option<String>, Query, description = "The opaque cursor from the previous page's `Link: <...>; rel=\"next\"` header."),
    ),
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
    query: PageQuery<DirectoryPaging>,
) -> Result<Response, ApiError> {
    let limit = query.limit()?;
    let page = state
        .users
        .list_directory(limit, query.cursor())
        .await
        .map_err(|error| query.problem(error))?;
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
    if let Some(next) = page.next {
        // Relative to the request (RFC 8288 §3.1): no Host header is trusted to build it.
        // The cursor is URL-safe base64: nothing in it needs escaping.
        let link = format!("</users?limit={limit}&after={next}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}
