//! `/api/v1/sales/customers`: create (idempotent), list a page at a time, get one; and
//! their deprecated old-style paths (`/ap1/v1/sales/create-customer/`, `/ap1/v1/sales/customers/`).
use axum::extract::{Path, State};
use axum::response::Response;
use common::auth::Authenticated;
use common::extract::{Json, Query};
use common::paging::{Listed, PageQuery, PageView};
use common::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::legacy::{every_record, successor, up_to};
use super::listed;
use super::replay::{self, Created, IdempotencyHeader};
use crate::domain::{CustomerCode, CustomerRecord, NewCustomer};
use crate::error::{ApiError, Error};
use crate::state::AppState;

/// The counter customer codes are numbered from.
const CUSTOMER_CODES: &str = "customer-code";

/// A new customer. Every problem is reported at once, each naming its field.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Jane Wanjiku", "phone_number": "+254711000000", "email": "jane@example.com"}))]
pub struct CreateCustomer {
    /// 1 to 100 characters of one line of plain text: it goes into the customer's SMS, so
    /// no line breaks, bidirectional or invisible characters, and no web addresses (nor
    /// look-alikes of their dots and slashes). Stored in Unicode NFC with whitespace
    /// collapsed.
    #[schema(value_type = String, required = true)]
    name: Option<String>,
    /// `+`, country code and number (spaces, dashes, dots and brackets are dropped): a
    /// valid mobile number of a country SMS are sent to, stored in E.164 without the trunk
    /// 0 (`+254 0796 546 507` is `+254796546507`); premium-rate, shared-cost, toll-free,
    /// fixed-line and satellite numbers are refused.
    #[schema(value_type = String, required = true)]
    phone_number: Option<String>,
    /// Optional.
    email: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "01a24b15-d0bf-7170-ae5e-7ff8e28e6cfb", "code": "CUS-000001",
    "name": "Jane Wanjiku", "phone_number": "+254711000111", "email": "jane@example.com",
    "created_at": "2026-12-06T11:20:50.623559Z"}))]
pub struct Customer {
    id: String,
    /// Short, human-friendly and never reused, e.g. `CUS-000042`.
    code: String,
    name: String,
    phone_number: String,
    email: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

impl Listed for Customer {
    const ITEMS: &'static str = "customers";
}

/// A page of customers, `{"customers": [..], "next": ..}` (named for the spec).
pub type CustomerPage = PageView<Customer>;

impl From<CustomerRecord> for Customer {
    fn from(record: CustomerRecord) -> Self {
        Self {
            id: record.id,
            code: record.code,
            name: record.name,
            phone_number: record.phone_number,
            email: record.email,
            created_at: record.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CustomersQuery {
    /// Customers per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next` cursor from the previous page.
    next: Option<String>,
}

pub fn location(id: &str) -> String {
    format!("/api/v1/sales/customers/{id}")
}

/// Creates a customer with a server-generated `code`.
#[utoipa::path(post, path = "/api/v1/sales/customers", tag = "customers",
    request_body = CreateCustomer,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key and body return the first response")),
    security(("oidc" = ["sales:write"])),
    responses(
        (status = 201, description = "Created (or replayed: `Idempotent-Replayed: true`)", body = Customer,
            headers(("location" = String, description = "The customer's URL"))),
        (status = 400, description = "Malformed body or Idempotency-Key"),
        (status = 409, description = "A request with this Idempotency-Key is in flight"),
        (status = 422, description = "Invalid fields, or an Idempotency-Key reused for another body"),
    ))]
pub async fn create_customer(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    key: IdempotencyHeader,
    Json(request): Json<CreateCustomer>,
) -> Result<Response, ApiError> {
    caller.require_scope(&state.scopes.write)?;
    let new = NewCustomer::parse(
        request.name,
        request.phone_number,
        request.email,
        &state.destinations,
    )
    .map_err(ApiError::Invalid)?;
    let idempotency = key.scoped("create-customer", &caller, new.fingerprint());
    if let Some(replayed) = replay::stored(&state, idempotency.as_ref()).await? {
        return Ok(replayed);
    }
    let number = state.store.next_number(CUSTOMER_CODES).await?;
    let record = CustomerRecord {
        id: uuid::Uuid::now_v7().to_string(),
        code: CustomerCode::from_sequence(number).as_str().to_owned(),
        name: new.name.as_str().to_owned(),
        phone_number: new.phone_number.as_str().to_owned(),
        email: new.email.map(|email| email.as_str().to_owned()),
        created_at: Timestamp::now().sortable(),
    };
    let created = Created::new(location(&record.id), &Customer::from(record.clone()));
    let (store, record) = (&state.store, &record);
    replay::commit(&state, idempotency.as_ref(), created, |stored| async move {
        store.insert_customer(record, stored.as_ref()).await?;
        tracing::info!(customer_id = %record.id, code = %record.code, "customer created");
        Ok(())
    })
    .await
}

/// Lists customers a page at a time, newest first.
#[utoipa::path(get, path = "/api/v1/sales/customers", tag = "customers",
    params(CustomersQuery),
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "A page of customers", body = CustomerPage),
        (status = 400, description = "Bad cursor or query"),
        (status = 422, description = "Limit out of range"),
    ))]
pub async fn list_customers(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<CustomersQuery>,
) -> Result<Json<CustomerPage>, ApiError> {
    caller.require_scope(&state.scopes.read)?;
    let page = PageQuery::new(query.limit, query.next.as_deref());
    let limit = page.limit().map_err(ApiError::Problem)?;
    let customers = listed(&page, state.store.customers(limit, page.cursor()).await)?;
    Ok(Json(PageView::from(customers.map(Customer::from))))
}

/// One customer.
#[utoipa::path(get, path = "/api/v1/sales/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "The customer's id")),
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "The customer", body = Customer),
        (status = 404, description = "No such customer"),
    ))]
pub async fn get_customer(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Customer>, ApiError> {
    caller.require_scope(&state.scopes.read)?;
    // Ids are UUIDs: anything else names no customer, and never reaches the store.
    uuid::Uuid::parse_str(&id).map_err(|_| Error::CustomerNotFound)?;
    let record = state
        .store
        .customer(&id)
        .await?
        .ok_or(Error::CustomerNotFound)?;
    Ok(Json(record.into()))
}

/// The rest of a legacy listing, resumed where the previous answer stopped.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LegacyCustomersQuery {
    /// The cursor from the previous answer's `Link: rel="next"` header.
    next: Option<String>,
}

/// Deprecated: use `POST /api/v1/sales/customers`.
#[utoipa::path(post, path = "/ap1/v1/sales/create-customer/", tag = "deprecated",
    operation_id = "legacy_create_customer",
    request_body = CreateCustomer,
    params(("Idempotency-Key" = Option<String>, Header, description = "As on the current route")),
    security(("oidc" = ["sales:write"])),
    responses(
        (status = 201, description = "Created", body = Customer),
        (status = 400, description = "Malformed body"),
        (status = 409, description = "A request with this Idempotency-Key is in flight"),
        (status = 422, description = "Invalid fields"),
    ))]
#[deprecated(note = "use POST /api/v1/sales/customers")]
pub async fn legacy_create_customer(
    state: State<AppState>,
    caller: Authenticated,
    key: IdempotencyHeader,
    request: Json<CreateCustomer>,
) -> Result<Response, ApiError> {
    let response = create_customer(state, caller, key, request).await?;
    Ok(successor(response, "/api/v1/sales/customers"))
}

/// Deprecated: use `GET /api/v1/sales/customers`. Every customer as a bare array.
#[utoipa::path(get, path = "/ap1/v1/sales/customers/", tag = "deprecated",
    operation_id = "legacy_list_customers",
    params(LegacyCustomersQuery),
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "Every customer, up to LEGACY_LIST_MAX_ITEMS", body = Vec<Customer>,
            headers(("link" = String, description = "The successor route; and `rel=\"next\"` with the rest when the cap cut the list"))),
        (status = 400, description = "Bad cursor or query"),
    ))]
#[deprecated(note = "use GET /api/v1/sales/customers")]
pub async fn legacy_list_customers(
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
    let customers: Vec<Customer> = records.into_iter().map(Into::into).collect();
    let path = "/ap1/v1/sales/customers/".to_owned();
    Ok(successor(
        every_record(&customers, rest, path),
        "/api/v1/sales/customers",
    ))
}
