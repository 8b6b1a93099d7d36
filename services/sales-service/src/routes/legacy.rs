//! The old-style paths (`/ap1/v1/sales/...`, with its typo) kept working for existing
//! clients: same bodies and answers as the current routes, marked deprecated in the
//! spec, and each response names its successor (`Deprecation` and `Link` headers).

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use common::auth::Authenticated;
use common::extract::{Json, Query};

use super::customers::{self, CreateCustomer, CustomersQuery};
use super::idempotency::IdempotencyHeader;
use super::orders::{self, CreateOrder, OrdersQuery};
use crate::error::ApiError;
use crate::state::AppState;

/// Tells a client this path is deprecated and where its successor is (RFC 9745, RFC 8288).
fn successor(response: impl IntoResponse, path: &'static str) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("deprecation"),
        HeaderValue::from_static("true"),
    );
    if let Ok(link) = HeaderValue::from_str(&format!("<{path}>; rel=\"successor-version\"")) {
        headers.insert(axum::http::header::LINK, link);
    }
    response
}

/// Deprecated: use `POST /api/v1/sales/customers`.
#[utoipa::path(post, path = "/ap1/v1/sales/create-customer/", tag = "deprecated",
    request_body = CreateCustomer,
    params(("Idempotency-Key" = Option<String>, Header, description = "As on the current route")),
    security(("oidc" = ["sales:write"])),
    responses(
        (status = 201, description = "Created", body = customers::Customer),
        (status = 400, description = "Malformed body", body = common::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = common::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the write scope", body = common::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is in flight", body = common::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = common::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = common::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = common::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A dependency is unavailable", body = common::Problem, content_type = "application/problem+json"),
    ))]
#[deprecated(note = "use POST /api/v1/sales/customers")]
pub async fn create_customer(
    state: State<AppState>,
    caller: Authenticated,
    key: IdempotencyHeader,
    request: Json<CreateCustomer>,
) -> Result<Response, ApiError> {
    let response = customers::create_customer(state, caller, key, request).await?;
    Ok(successor(response, "/api/v1/sales/customers"))
}

/// Deprecated: use `POST /api/v1/sales/orders`.
#[utoipa::path(post, path = "/ap1/v1/sales/create-order/", tag = "deprecated",
    request_body = CreateOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "As on the current route")),
    security(("oidc" = ["sales:write"])),
    responses(
        (status = 201, description = "Created", body = orders::Order),
        (status = 400, description = "Malformed body", body = common::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = common::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the write scope", body = common::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request with this Idempotency-Key is in flight", body = common::Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = common::Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = common::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or an unknown customer", body = common::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A dependency is unavailable", body = common::Problem, content_type = "application/problem+json"),
    ))]
#[deprecated(note = "use POST /api/v1/sales/orders")]
pub async fn create_order(
    state: State<AppState>,
    caller: Authenticated,
    key: IdempotencyHeader,
    request: Json<CreateOrder>,
) -> Result<Response, ApiError> {
    let response = orders::create_order(state, caller, key, request).await?;
    Ok(successor(response, "/api/v1/sales/orders"))
}

/// Deprecated: use `GET /api/v1/sales/customers`.
#[utoipa::path(get, path = "/ap1/v1/sales/customers/", tag = "deprecated",
    params(CustomersQuery),
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "A page of customers", body = customers::CustomerPage),
        (status = 400, description = "Bad cursor or query", body = common::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = common::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the read scope", body = common::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Limit out of range", body = common::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A dependency is unavailable", body = common::Problem, content_type = "application/problem+json"),
    ))]
#[deprecated(note = "use GET /api/v1/sales/customers")]
pub async fn list_customers(
    state: State<AppState>,
    caller: Authenticated,
    query: Query<CustomersQuery>,
) -> Result<Response, ApiError> {
    let page = customers::list_customers(state, caller, query).await?;
    Ok(successor(page, "/api/v1/sales/customers"))
}

/// Deprecated: use `GET /api/v1/sales/orders`.
#[utoipa::path(get, path = "/ap1/v1/sales/orders/", tag = "deprecated",
    params(OrdersQuery),
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "A page of orders", body = orders::OrderPage),
        (status = 400, description = "Bad cursor or query", body = common::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid access token", body = common::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the read scope", body = common::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Limit out of range or a malformed customer id", body = common::Problem, content_type = "application/problem+json"),
        (status = 503, description = "A dependency is unavailable", body = common::Problem, content_type = "application/problem+json"),
    ))]
#[deprecated(note = "use GET /api/v1/sales/orders")]
pub async fn list_orders(
    state: State<AppState>,
    caller: Authenticated,
    query: Query<OrdersQuery>,
) -> Result<Response, ApiError> {
    let page = orders::list_orders(state, caller, query).await?;
    Ok(successor(page, "/api/v1/sales/orders"))
}
