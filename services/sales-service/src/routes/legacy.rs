//! The old-style paths (`/ap1/v1/sales/...`, with its typo) kept working for existing
//! clients, answering as the original Django REST Framework API did: listings are bare
//! arrays of every record (up to `LEGACY_LIST_MAX_ITEMS`, then a `Link: rel="next"`), and
//! an order names its customer `customer`, as the request does. Marked deprecated in the
//! spec; each response names its successor (`Deprecation` and `Link` headers).

use std::future::Future;

use axum::extract::State;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use common::auth::Authenticated;
use common::aws::dynamo::Page;
use common::extract::{Json, Query};
use common::paging::PageQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::customers::{self, CreateCustomer};
use super::listed;
use super::orders::{self, CreateOrder, Order, OrderDetails};
use super::replay::IdempotencyHeader;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::StoreError;

/// Tells a client this path is deprecated and where its successor is (RFC 9745, RFC 8288).
fn successor(response: impl IntoResponse, path: &'static str) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("deprecation"),
        HeaderValue::from_static("true"),
    );
    if let Ok(link) = HeaderValue::from_str(&format!("<{path}>; rel=\"successor-version\"")) {
        headers.append(header::LINK, link);
    }
    response
}

/// An order as the original API showed it: the customer's id under `customer`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01a24b15-d461-701c-a46b-eba8b62f15fb",
    "customer": "01a24b15-d0bf-7170-ae5e-7ff8e28e6cfb", "customer_code": "CUS-000001",
    "item": "Bag of rice", "amount": "56000.68", "currency": "KES",
    "ordered_at": "2026-12-06T11:20:51.553746Z",
    "sms": {"status": "pending", "attempts": 0, "reason": null, "sent_at": null,
        "updated_at": "2026-12-06T11:20:51.512204Z"}}))]
pub struct LegacyOrder {
    id: String,
    /// The customer's `id`, named as in the request.
    customer: String,
    #[serde(flatten)]
    details: OrderDetails,
}

impl From<Order> for LegacyOrder {
    fn from(order: Order) -> Self {
        Self {
            id: order.id,
            customer: order.customer_id,
            details: order.details,
        }
    }
}

/// The rest of a legacy listing, resumed where the previous answer stopped.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LegacyCustomersQuery {
    /// The cursor from the previous answer's `Link: rel="next"` header.
    next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LegacyOrdersQuery {
    /// Only this customer's orders (by `id`), newest first.
    customer: Option<String>,
    /// The cursor from the previous answer's `Link: rel="next"` header.
    next: Option<String>,
}

/// Reads page after page from the client's cursor (`next`) until the listing ends or `cap`
/// records are in hand; returns them and, when the cap cut the listing short, the cursor
/// where it resumes.
async fn up_to<T, Fut>(
    cap: usize,
    sent: &PageQuery,
    mut page: impl FnMut(i32, Option<String>) -> Fut,
) -> Result<(Vec<T>, Option<String>), ApiError>
where
    Fut: Future<Output = Result<Page<T, String>, StoreError>>,
{
    let mut records = Vec::new();
    let mut after = sent.cursor().map(str::to_owned);
    while records.len() < cap {
        let wanted = i32::try_from(cap - records.len()).unwrap_or(i32::MAX);
        let next = listed(sent, page(wanted, after).await)?;
        records.extend(next.items);
        after = next.next;
        if after.is_none() {
            break;
        }
    }
    Ok((records, after))
}

/// A bare JSON array, with a `Link: rel="next"` to `path` + the cursor when there is more.
fn every_record(records: &impl Serialize, rest: Option<String>, path: String) -> Response {
    let mut response = Json(records).into_response();
    if let Some(cursor) = rest {
        let separator = if path.contains('?') { '&' } else { '?' };
        let link = format!("<{path}{separator}next={cursor}>; rel=\"next\"");
        if let Ok(link) = HeaderValue::from_str(&link) {
            response.headers_mut().append(header::LINK, link);
        }
    }
    response
}

/// Deprecated: use `POST /api/v1/sales/customers`.
#[utoipa::path(post, path = "/ap1/v1/sales/create-customer/", tag = "deprecated",
    operation_id = "legacy_create_customer",
    request_body = CreateCustomer,
    params(("Idempotency-Key" = Option<String>, Header, description = "As on the current route")),
    security(("oidc" = ["sales:write"])),
    responses(
        (status = 201, description = "Created", body = customers::Customer),
        (status = 400, description = "Malformed body"),
        (status = 409, description = "A request with this Idempotency-Key is in flight"),
        (status = 422, description = "Invalid fields"),
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
    operation_id = "legacy_create_order",
    request_body = CreateOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "As on the current route")),
    security(("oidc" = ["sales:write"])),
    responses(
        (status = 201, description = "Created", body = LegacyOrder),
        (status = 400, description = "Malformed body"),
        (status = 409, description = "A request with this Idempotency-Key is in flight"),
        (status = 422, description = "Invalid fields or an unknown customer"),
    ))]
#[deprecated(note = "use POST /api/v1/sales/orders")]
pub async fn create_order(
    state: State<AppState>,
    caller: Authenticated,
    key: IdempotencyHeader,
    request: Json<CreateOrder>,
) -> Result<Response, ApiError> {
    let response = orders::create_order(state, caller, key, request).await?;
    Ok(successor(
        as_legacy_order(response).await?,
        "/api/v1/sales/orders",
    ))
}

/// The created (or replayed) order of the current route, as a legacy order.
async fn as_legacy_order(response: Response) -> Result<Response, ApiError> {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .map_err(internal)?;
    let order: Order = serde_json::from_slice(&bytes).map_err(internal)?;
    let body = serde_json::to_vec(&LegacyOrder::from(order)).map_err(internal)?;
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, body.into()))
}

/// Our own answer could not be read back: a bug, not the client's fault.
fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(anyhow::anyhow!(
        "the order answer could not be rewritten for the legacy path: {error}"
    ))
}

/// Deprecated: use `GET /api/v1/sales/customers`. Every customer as a bare array.
#[utoipa::path(get, path = "/ap1/v1/sales/customers/", tag = "deprecated",
    operation_id = "legacy_list_customers",
    params(LegacyCustomersQuery),
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "Every customer, up to LEGACY_LIST_MAX_ITEMS", body = Vec<customers::Customer>,
            headers(("link" = String, description = "The successor route; and `rel=\"next\"` with the rest when the cap cut the list"))),
        (status = 400, description = "Bad cursor or query"),
    ))]
#[deprecated(note = "use GET /api/v1/sales/customers")]
pub async fn list_customers(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<LegacyCustomersQuery>,
) -> Result<Response, ApiError> {
    caller.require_scope(&state.scopes.read)?;
    let sent = PageQuery::new(None, query.next.as_deref());
    let store = &state.store;
    let (records, rest) = up_to(
        state.legacy_list_max_items,
        &sent,
        |limit, after| async move { store.customers(limit, after.as_deref()).await },
    )
    .await?;
    let customers: Vec<customers::Customer> = records.into_iter().map(Into::into).collect();
    let path = "/ap1/v1/sales/customers/".to_owned();
    Ok(successor(
        every_record(&customers, rest, path),
        "/api/v1/sales/customers",
    ))
}

/// Deprecated: use `GET /api/v1/sales/orders`. Every order (or a customer's) as a bare array.
#[utoipa::path(get, path = "/ap1/v1/sales/orders/", tag = "deprecated",
    operation_id = "legacy_list_orders",
    params(LegacyOrdersQuery),
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "Every order, up to LEGACY_LIST_MAX_ITEMS", body = Vec<LegacyOrder>,
            headers(("link" = String, description = "The successor route; and `rel=\"next\"` with the rest when the cap cut the list"))),
        (status = 400, description = "Bad cursor or query"),
        (status = 422, description = "A malformed customer id"),
    ))]
#[deprecated(note = "use GET /api/v1/sales/orders")]
pub async fn list_orders(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<LegacyOrdersQuery>,
) -> Result<Response, ApiError> {
    caller.require_scope(&state.scopes.read)?;
    let customer = query.customer.as_deref();
    let filter = orders::order_filter(customer, None)?;
    let sent = PageQuery::new(None, query.next.as_deref());
    let (store, filter) = (&state.store, &filter);
    let (records, rest) = up_to(
        state.legacy_list_max_items,
        &sent,
        |limit, after| async move { store.orders(filter, limit, after.as_deref()).await },
    )
    .await?;
    let legacy: Vec<LegacyOrder> = records
        .into_iter()
        .map(|record| Order::from(record).into())
        .collect();
    let path = match customer {
        Some(customer) => format!("/ap1/v1/sales/orders/?customer={customer}"),
        None => "/ap1/v1/sales/orders/".to_owned(),
    };
    Ok(successor(
        every_record(&legacy, rest, path),
        "/api/v1/sales/orders",
    ))
}
