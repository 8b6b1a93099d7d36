//! HTTP only: parse requests, call the domain and store, shape responses.
mod customers;
mod legacy;
mod orders;
mod replay;
mod sms;

pub use sms::DELIVERY_REPORTS;

use common::paging::PageQuery;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::StoreError;

/// A listing's store error as the client sees it: a cursor the store could not open is a
/// 400 naming the route's cursor parameter.
fn listed<T>(page: &PageQuery, result: Result<T, StoreError>) -> Result<T, ApiError> {
    result.map_err(|error| match error {
        StoreError::Storage(error) => ApiError::Problem(page.problem(error)),
        other => other.into(),
    })
}

pub const OIDC_SCHEME: &str = "oidc";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sales-service",
        description = "Customers and orders; each order sends its customer an SMS through a transactional outbox. \
                       Every route needs an OpenID Connect access token: scope sales:read to read, sales:write to write.",
    ),
    tags(
        (name = "customers", description = "Customers"),
        (name = "orders", description = "Orders and the delivery status of their SMS"),
        (name = "sms", description = "The SMS outbox's backlog, and the SMS provider's delivery reports"),
        (name = "deprecated", description = "Old-style paths kept for existing clients"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

/// The service's routes with their state.
pub fn router(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(
            customers::create_customer,
            customers::list_customers
        ))
        .routes(routes!(customers::get_customer))
        .routes(routes!(orders::create_order, orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(sms::delivery_report))
        .routes(routes!(sms::backlog))
        .merge(legacy_router())
        .with_state(state)
}

#[allow(deprecated)] // serving the deprecated aliases is the point
fn legacy_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(customers::legacy_create_customer))
        .routes(routes!(orders::legacy_create_order))
        .routes(routes!(customers::legacy_list_customers))
        .routes(routes!(orders::legacy_list_orders))
}

/// The spec's base: info, tags and how to get and present an OIDC token.
pub fn spec(oidc: &common::auth::OidcSettings) -> utoipa::openapi::OpenApi {
    let mut spec = ApiDoc::openapi();
    common::openapi::add_oidc_schemes(
        &mut spec,
        OIDC_SCHEME,
        oidc,
        &[
            ("sales:read", "Read customers and orders"),
            ("sales:write", "Create customers and orders"),
        ],
        "Production callers get a client from the platform team: an application of the \
         issuer's authorization server allowed these scopes (Okta: docs/okta.md).",
    );
    spec
}
