//! HTTP only: parse requests, call the domain and stores, shape responses.
mod accounts;
mod admin;
mod avatar;
mod directory;
mod home;
mod sessions;
mod signup;
mod upload;
mod views;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::Response;
use http_body_util::Limited;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub const SESSION_SCHEME: &str = "session";
/// Operators' access tokens (`OIDC_ISSUER_URL`), beside sessions on the admin routes.
pub const OIDC_SCHEME: &str = "oidc";

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

/// The service's routes with their state. The two routes that take an avatar accept an
/// upload up to the avatar limit plus room for the form's text: sign-up as a multipart
/// form, the avatar route as a form or as a raw image of exactly a type an avatar may
/// have. Every other body, whatever its route or type (`image/x+json` is JSON), is held to
/// the default limit while it is read.
pub fn router(state: AppState, body_limit: usize) -> OpenApiRouter {
    let upload_limit = state.avatar_max_bytes + 256 * 1024;
    let uploads_only = |is_upload: fn(&HeaderMap) -> bool| {
        middleware::from_fn_with_state(
            SmallUnlessUpload {
                limit: body_limit,
                is_upload,
            },
            small_unless_upload,
        )
    };
    let sign_up = OpenApiRouter::new()
        .routes(routes!(signup::sign_up))
        .layer(uploads_only(upload::is_multipart));
    let avatar = OpenApiRouter::new()
        .routes(routes!(avatar::put_avatar))
        .layer(uploads_only(|headers| {
            upload::is_multipart(headers) || upload::is_avatar_image(headers)
        }));
    OpenApiRouter::new()
        .routes(routes!(home::home))
        .routes(routes!(
            accounts::get_user,
            accounts::update_user,
            accounts::delete_user
        ))
        .routes(routes!(sessions::login, sessions::logout))
        .routes(routes!(directory::list_users))
        .routes(routes!(admin::list_accounts))
        .merge(
            sign_up
                .merge(avatar)
                .layer(DefaultBodyLimit::max(upload_limit)),
        )
        .with_state(state)
}

/// A route's small body limit, and which bodies it takes as uploads instead.
#[derive(Clone, Copy)]
struct SmallUnlessUpload {
    limit: usize,
    is_upload: fn(&HeaderMap) -> bool,
}

/// Holds a body that is not one of the route's uploads to the small limit while it is
/// read: a 5 MiB JSON sign-up labelled `image/pt+json` was parsed whole.
async fn small_unless_upload(
    State(route): State<SmallUnlessUpload>,
    request: Request,
    next: Next,
) -> Response {
    if (route.is_upload)(request.headers()) {
        return next.run(request).await;
    }
    next.run(request.map(|body| Body::new(Limited::new(body, route.limit))))
        .await
}

/// The spec's base: info, tags, the session bearer scheme and the operators' one (with
/// Swagger UI's client-credentials flow when an issuer is configured).
pub fn spec(oidc: Option<&common::auth::OidcSettings>) -> utoipa::openapi::OpenApi {
    let mut spec = ApiDoc::openapi();
    common::openapi::add_bearer_scheme(
        &mut spec,
        SESSION_SCHEME,
        "opaque session token",
        "A session token from POST /auth",
    );
    match oidc {
        Some(oidc) => common::openapi::add_oidc_schemes(
            &mut spec,
            OIDC_SCHEME,
            oidc,
            &[(
                "users:admin",
                "Act as an admin: any account, every account listed",
            )],
            "Operators sign in to the console, which presents their own access tokens.",
        ),
        None => common::openapi::add_bearer_scheme(
            &mut spec,
            OIDC_SCHEME,
            "JWT",
            "An OpenID Connect access token with the scope users:admin; accepted only when \
             OIDC_ISSUER_URL is set (it is not here)",
        ),
    }
    spec
}
