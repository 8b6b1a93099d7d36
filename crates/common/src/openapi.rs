//! OpenAPI plumbing: the spec at `/openapi.json`, Swagger UI at `/swagger` (assets vendored
//! into the binary, nothing fetched at build or run time), and the security schemes.

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// Serves the spec at `/openapi.json` and the UI at `/swagger`.
pub fn docs_router(spec: OpenApi) -> Router {
    Router::new().merge(SwaggerUi::new("/swagger").url("/openapi.json", spec))
}

/// Declares an HTTP bearer scheme that operations reference with
/// `security(("<name>" = []))`.
pub fn add_bearer_scheme(spec: &mut OpenApi, name: &str, bearer_format: &str, description: &str) {
    let components = spec.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        name,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format(bearer_format)
                .description(Some(description))
                .build(),
        ),
    );
}
