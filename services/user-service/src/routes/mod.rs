//! HTTP only: parse requests, call the domain and stores, shape responses.
mod accounts;
mod avatar;
mod directory;
mod home;
mod sessions;
mod signup;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use common::extract::has_content_type;
use http_body_util::Limited;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub const SESSION_SCHEME: &str = "session";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "user-service",
        description = "Accounts, sessions, avatars and the user directory.",
    ),
    tags(
        (name = "accounts", description = "Sign-up and account management"),
        (name = "sessions", description = "Login and logout"),
        (name = "directory", description = "The user directory"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

/// The service's routes with their state. Routes that take an avatar accept an upload
/// (a multipart form or a raw image) up to the avatar limit plus room for the other form
/// fields; every other body, JSON sign-ups included, keeps the default limit.
pub fn router(state: AppState, body_limit: usize) -> OpenApiRouter {
    let upload_limit = state.avatar_max_bytes + 256 * 1024;
    let uploads = OpenApiRouter::new()
        .routes(routes!(signup::sign_up))
        .routes(routes!(avatar::put_avatar))
        .layer(middleware::from_fn_with_state(
            body_limit,
            small_unless_upload,
        ))
        .layer(DefaultBodyLimit::max(upload_limit));
    OpenApiRouter::new()
        .routes(routes!(home::home))
        .routes(routes!(
            accounts::get_user,
            accounts::update_user,
            accounts::delete_user
        ))
        .routes(routes!(sessions::login, sessions::logout))
        .routes(routes!(directory::list_users))
        .merge(uploads)
        .with_state(state)
}

/// Holds a body that is not an upload to `limit`: a 5 MiB JSON sign-up was parsed whole
/// before any field was checked.
async fn small_unless_upload(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let upload = has_content_type(headers, "multipart/form-data")
        || headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("image/")
            });
    if upload {
        return next.run(request).await;
    }
    next.run(request.map(|body| Body::new(Limited::new(body, limit))))
        .await
}

/// The spec's base: info, tags and the session bearer scheme.
pub fn spec() -> utoipa::openapi::OpenApi {
    let mut spec = ApiDoc::openapi();
    common::openapi::add_bearer_scheme(
        &mut spec,
        SESSION_SCHEME,
        "opaque session token",
        "A session token from POST /auth",
    );
    spec
}
