//! The console's pages. HTML for people: every page is a real link or form first and works
//! without JavaScript; htmx (boost, polling) only makes it smoother.
mod account;
mod ops;
mod public;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// A form that carries a picture: user-service takes up to 5 MiB, plus the form's text.
const PICTURE_FORM_BYTES: usize = 5 * 1024 * 1024 + 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "console",
        description = "The web console for people. Its pages are HTML (open / in a browser); this spec lists only its operations endpoints.",
    ),
    tags((name = "operations", description = "Health, readiness and metrics"))
)]
pub struct ApiDoc;

/// The spec's base: info and tags (the operations endpoints are added by the skeleton).
pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The pages with their state, behind the CSRF check and the browser policies.
pub fn router(state: AppState) -> OpenApiRouter {
    let csp = crate::security::content_security_policy(&state.config);
    let csrf = crate::security::csrf(&state.config);
    let picture_forms = axum::Router::new()
        .route("/signup", get(public::signup_form).post(public::signup))
        .route("/account/avatar", post(account::change_avatar))
        .layer(DefaultBodyLimit::max(PICTURE_FORM_BYTES));
    let pages = axum::Router::new()
        .route("/", get(public::home))
        .route("/login", get(public::login_form).post(public::login))
        .route("/logout", post(public::logout))
        .route("/account", get(account::show).post(account::edit))
        .route(
            "/account/delete",
            get(account::confirm_delete).post(account::delete),
        )
        .merge(picture_forms)
        .merge(ops::router())
        .route("/assets/{name}", get(crate::assets::serve))
        .route("/{*path}", axum::routing::any(public::not_found))
        .with_state(state)
        .layer(csrf)
        .layer(axum::middleware::from_fn_with_state(
            csp,
            crate::security::headers,
        ))
        .layer(tower_http_07::compression::CompressionLayer::new());
    OpenApiRouter::new().merge(OpenApiRouter::from(pages))
}
