//! HTTP only: parse requests, call the domain and stores, shape responses.
mod accounts;
mod directory;
mod home;
mod sessions;

use axum::extract::DefaultBodyLimit;
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

/// The service's routes with their state. Routes that take an avatar accept bodies up to
/// the avatar limit plus room for the other form fields; the rest keep the default limit.
pub fn router(state: AppState) -> OpenApiRouter {
    let upload_limit = state.avatar_max_bytes + 256 * 1024;
    let uploads = OpenApiRouter::new()
        .routes(routes!(accounts::sign_up))
        .routes(routes!(accounts::put_avatar))
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
