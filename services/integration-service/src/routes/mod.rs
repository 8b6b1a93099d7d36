//! HTTP only: the catalogue of integrations and the one generic route that runs any
//! capability of any integration for a tenant.
mod catalogue;
mod execute;
mod tenant;
mod tenants;

use axum::routing::any;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::capability::openapi::{add_capabilities, name_the_integrations, OIDC_SCHEME};
use crate::capability::Registry;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "integration-service",
        description = "Integration capabilities per tenant: `GET|POST /{integration}/{capability}` with the tenant in the `X-Tenant-Id` header (or the deployment's DEFAULT_TENANT when it is absent). Read capabilities are GET with query parameters and need scope `integrations:read`; write capabilities are POST with a JSON body and need `integrations:write`. The token's client must also be listed for that scope in the tenant's configuration (403 naming the tenant otherwise).",
    ),
    tags(
        (name = "catalogue", description = "Integrations and their capabilities"),
        (name = "tenants", description = "The tenants a caller may act for, and a connection test per integration"),
        (name = "okta", description = "Okta Users API of the tenant's org"),
        (name = "providers", description = "Healthcare providers synced from the partner API"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

pub fn router(state: AppState) -> OpenApiRouter {
    let registry = state.registry.clone();
    let mut router = OpenApiRouter::new()
        .routes(routes!(catalogue::list_integrations))
        .routes(routes!(catalogue::list_capabilities))
        .routes(routes!(tenants::list_tenants))
        .routes(routes!(tenants::test_connection))
        // Documented per capability by `add_capabilities`, not as one templated path.
        .route("/{integration}/{capability}", any(execute::execute))
        .with_state(state);
    name_the_integrations(router.get_openapi_mut(), &registry);
    router
}

/// The spec's base: info, tags, how to get and present an OIDC token, and every
/// capability's operation.
pub fn spec(
    registry: &Registry,
    default_tenant: bool,
    oidc: &common::auth::OidcSettings,
) -> utoipa::openapi::OpenApi {
    let mut spec = ApiDoc::openapi();
    common::openapi::add_oidc_schemes(
        &mut spec,
        OIDC_SCHEME,
        oidc,
        &[
            ("integrations:read", "Read capabilities and the catalogue"),
            ("integrations:write", "Write capabilities"),
        ],
        "The scope is not enough: the token's client must also be listed for it in the \
         tenant's `callers` (ask the platform team; Okta: docs/okta.md).",
    );
    add_capabilities(&mut spec, registry, default_tenant);
    spec
}
