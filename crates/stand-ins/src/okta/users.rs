//! The Users API: list (Link-header paging, `search`/`filter`), get, suspend and Okta's
//! two-step delete, each admitted through its bucket.
use std::collections::btree_map::{Entry, OccupiedEntry};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::admission::{admitted, Bucket};
use super::{error, Call, Org};

#[derive(Debug)]
pub(super) struct User {
    pub(super) id: String,
    pub(super) status: String,
    pub(super) login: String,
    pub(super) first_name: &'static str,
    pub(super) last_name: &'static str,
}

/// How the org refuses to suspend a user that is not ACTIVE. Okta's management API
/// documents only that suspend is for ACTIVE users (`suspendUser`, "Perform this operation
/// only on users with an ACTIVE status",
/// https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserLifecycle/#tag/UserLifecycle/operation/suspendUser),
/// and its error table gives both shapes (https://developer.okta.com/docs/reference/error-codes/):
/// E0000001 (400, "the documentation for Suspend User indicates that suspending a user
/// who is not active will result in the E0000001 error code") and E0000038 (403, "This
/// operation is not allowed in the user's current status").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NotActiveSuspend {
    /// `400 E0000001`, cause "Cannot suspend a user that is not active".
    #[default]
    ValidationFailed,
    /// `403 E0000038`.
    NotAllowedInStatus,
}

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "status": user.status,
        "created": "2024-01-01T00:00:00.000Z",
        "statusChanged": null,
        "lastUpdated": "2024-01-02T00:00:00.000Z",
        "profile": {
            "login": user.login,
            "email": user.login,
            "firstName": user.first_name,
            "lastName": user.last_name,
        },
        "_links": {},
    })
}

const USERS_PATH: &str = "/api/v1/users";

/// The Users API's routes.
pub(super) fn routes() -> Router<Arc<Mutex<Org>>> {
    Router::new()
        .route(USERS_PATH, get(list_users))
        .route("/api/v1/users/{id}", get(get_user).delete(delete_user))
        .route("/api/v1/users/{id}/lifecycle/suspend", post(suspend_user))
}

#[derive(Deserialize)]
struct ListQuery {
    pub(super) limit: Option<usize>,
    pub(super) after: Option<String>,
    pub(super) search: Option<String>,
    pub(super) filter: Option<String>,
}

/// Supports the one expression tests use: `status eq "X"`.
fn matches(expression: Option<&String>, user: &User) -> Result<bool, ()> {
    let Some(expression) = expression else {
        return Ok(true);
    };
    let status = expression
        .strip_prefix("status eq \"")
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or(())?;
    Ok(user.status == status)
}

/// Runs `act` on user `id` of an admitted request, or answers Okta's 404.
fn on_user(
    org: &Mutex<Org>,
    call: &Call,
    bucket: Bucket,
    id: &str,
    act: impl FnOnce(OccupiedEntry<'_, String, User>) -> Response,
) -> Response {
    admitted(org, call, bucket, |org| {
        match org.users.entry(id.to_owned()) {
            Entry::Occupied(user) => act(user),
            Entry::Vacant(_) => error(
                StatusCode::NOT_FOUND,
                "E0000007",
                &format!("Not found: Resource not found: {id} (User)"),
                &[],
            ),
        }
    })
}

async fn list_users(
    State(org): State<Arc<Mutex<Org>>>,
    call: Call,
    Query(query): Query<ListQuery>,
) -> Response {
    let (base, origin) = (call.htu(), call.origin());
    let access_token = call
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| !value.starts_with("SSWS "));
    admitted(&org, &call, Bucket::Users, |org| {
        // Okta error E0000033, 400: "Bad request. Can't specify a search query and filter
        // in the same request." (https://developer.okta.com/docs/reference/error-codes/#E0000033;
        // okta/okta-developer-docs data/error-codes.json).
        if query.search.is_some() && query.filter.is_some() {
            return error(
                StatusCode::BAD_REQUEST,
                "E0000033",
                "Bad request. Can't specify a search query and filter in the same request.",
                &[],
            );
        }
        if access_token && org.oauth.as_ref().is_some_and(|app| !app.admin_role) {
            // A service app without an admin role sees no users: `200 []`, not a 403.
            return Json(Vec::<Value>::new()).into_response();
        }
        let limit = query.limit.unwrap_or(200).clamp(1, 200);
        if org.slow_pages_above.is_some_and(|most| limit > most) {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "E0000009",
                "Internal Server Error",
                &[],
            );
        }
        // "This operation omits users that have a status of DEPROVISIONED in the
        // response. To return all users, use a filter or search query instead" (Okta
        // management API, listUsers,
        // https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/#tag/User/operation/listUsers).
        let unfiltered = query.search.is_none() && query.filter.is_none();
        let mut selected = Vec::new();
        for user in org.users.values() {
            if query
                .after
                .as_ref()
                .is_some_and(|after| user.id.as_str() <= after.as_str())
                || (unfiltered && user.status == "DEPROVISIONED")
            {
                continue;
            }
            match matches(query.search.as_ref().or(query.filter.as_ref()), user) {
                Ok(true) => selected.push(user),
                Ok(false) => {}
                Err(()) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "E0000031",
                        "Invalid search criteria.",
                        &["Unsupported expression"],
                    )
                }
            }
        }
        let more = selected.len() > limit;
        selected.truncate(limit);
        let mut links = HeaderMap::new();
        links.append(
            header::LINK,
            HeaderValue::from_str(&format!("<{base}?limit={limit}>; rel=\"self\"")).unwrap(),
        );
        let vendor_next = selected
            .last()
            .filter(|_| more)
            .map(|last| last.id.as_str());
        if let Some(after) = org.next_links.cursor(query.after.as_deref(), vendor_next) {
            links.append(
                header::LINK,
                HeaderValue::from_str(&format!(
                    "<{}{USERS_PATH}?after={after}&limit={limit}>; rel=\"next\"",
                    org.next_links.origin(&origin)
                ))
                .unwrap(),
            );
        }
        let body: Vec<Value> = selected.into_iter().map(user_json).collect();
        (links, Json(body)).into_response()
    })
}

async fn get_user(
    State(org): State<Arc<Mutex<Org>>>,
    call: Call,
    Path(id): Path<String>,
) -> Response {
    on_user(&org, &call, Bucket::UserRead, &id, |user| {
        Json(user_json(user.get())).into_response()
    })
}

/// Only ACTIVE users can be suspended (see [`NotActiveSuspend`]). A bodiless POST must say
/// `Content-Length: 0`: "Any PUT or POST request with no Content-Length header nor a body
/// will return a 411 error. To get around this, include a `Content-Length: 0` header"
/// (okta/okta-developer-docs, reference/api-overview).
async fn suspend_user(
    State(org): State<Arc<Mutex<Org>>>,
    call: Call,
    Path(id): Path<String>,
) -> Response {
    if !call.headers.contains_key(header::CONTENT_LENGTH)
        && !call.headers.contains_key(header::TRANSFER_ENCODING)
    {
        return StatusCode::LENGTH_REQUIRED.into_response();
    }
    let refusal = org.lock().unwrap().not_active_suspend;
    on_user(&org, &call, Bucket::ApiV1, &id, |mut user| {
        if user.get().status != "ACTIVE" {
            return match refusal {
                NotActiveSuspend::ValidationFailed => error(
                    StatusCode::BAD_REQUEST,
                    "E0000001",
                    "Api validation failed: suspend",
                    &["Cannot suspend a user that is not active"],
                ),
                NotActiveSuspend::NotAllowedInStatus => error(
                    StatusCode::FORBIDDEN,
                    "E0000038",
                    "This operation is not allowed in the user's current status.",
                    &[],
                ),
            };
        }
        user.get_mut().status = "SUSPENDED".into();
        Json(json!({})).into_response()
    })
}

/// Okta's two steps: the first DELETE deactivates (DEPROVISIONED), the second deletes.
async fn delete_user(
    State(org): State<Arc<Mutex<Org>>>,
    call: Call,
    Path(id): Path<String>,
) -> Response {
    on_user(&org, &call, Bucket::UserWrite, &id, |mut user| {
        if user.get().status == "DEPROVISIONED" {
            user.remove();
        } else {
            user.get_mut().status = "DEPROVISIONED".into();
        }
        StatusCode::NO_CONTENT.into_response()
    })
}
