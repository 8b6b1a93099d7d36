//! `/api/v1/sales/orders`: create (idempotent, with its SMS in the outbox), list, get one; and
//! their deprecated old-style paths (`/ap1/v1/sales/create-order/`, `/ap1/v1/sales/orders/`).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::Response;
use common::auth::Authenticated;
use common::extract::{Json, Query};
use common::paging::{Listed, PageQuery, PageView};
use common::timestamp::Timestamp;
use common::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use super::legacy::{every_record, successor, up_to};
use super::listed;
use super::replay::{self, Created, IdempotencyHeader};
use crate::domain::{MessageValues, NewOrder, OrderRecord, OutboxRecord, SmsCaller, SmsStatus};
use crate::error::{ApiError, Error};
use crate::state::AppState;
use crate::store::OrderFilter;

/// A new order; the server sets its time. Every problem is reported at once.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"customer": "01937b2e-7c1a-7d2e-9b1a-2f3c4d5e6f70", "item": "Bag of rice", "amount": "56000.68"}))]
pub struct CreateOrder {
    /// The customer's `id`.
    #[schema(value_type = String, required = true)]
    customer: Option<String>,
    /// What was ordered, 1 to 200 characters of one line of plain text: it goes into the
    /// customer's SMS, so the same rules as a customer's name. Stored in Unicode NFC with
    /// whitespace collapsed.
    #[schema(value_type = String, required = true)]
    item: Option<String>,
    /// Positive, at most 2 decimals: the string "56000.68" or the number 56000.68 (read from
    /// its literal text, never through a float, so it is exact).
    #[schema(schema_with = amount_schema, required = true)]
    amount: Option<Box<RawValue>>,
    /// An ISO 4217 currency code; the service's default (e.g. KES) when absent.
    currency: Option<String>,
}

/// A string or a number: both are read exactly.
fn amount_schema() -> Schema {
    let variant = |kind, example| {
        ObjectBuilder::new()
            .schema_type(kind)
            .examples([example])
            .build()
    };
    OneOfBuilder::new()
        .item(variant(Type::String, json!("56000.68")))
        .item(variant(Type::Number, json!(56000.68)))
        .build()
        .into()
}

/// Where the order's SMS stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "delivered", "attempts": 1, "reason": null,
    "sent_at": "2026-12-06T11:20:51.749844Z", "updated_at": "2026-12-06T11:20:58.102311Z"}))]
pub struct SmsDelivery {
    status: SmsStatus,
    /// Attempts made so far.
    attempts: u32,
    /// Why it failed, or while pending why the last attempt did not go through.
    reason: Option<String>,
    #[schema(format = DateTime)]
    sent_at: Option<String>,
    /// When it last changed: an attempt, its outcome, or its delivery report.
    #[schema(format = DateTime)]
    updated_at: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "01a24b15-d461-701c-a46b-eba8b62f15fb",
    "customer_id": "01a24b15-d0bf-7170-ae5e-7ff8e28e6cfb", "customer_code": "CUS-000001",
    "item": "Bag of rice", "amount": "56000.68", "currency": "KES",
    "ordered_at": "2026-12-06T11:20:51.553746Z",
    "sms": {"status": "pending", "attempts": 0, "reason": null, "sent_at": null,
        "updated_at": "2026-12-06T11:20:51.512204Z"}}))]
pub struct Order {
    id: String,
    customer_id: String,
    #[serde(flatten)]
    details: OrderDetails,
}

/// What an order says besides its id and its customer's id (named differently on the
/// legacy paths).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderDetails {
    customer_code: String,
    item: String,
    /// Exact decimal with two places.
    #[schema(example = "56000.68")]
    amount: String,
    currency: String,
    #[schema(format = DateTime)]
    ordered_at: String,
    sms: SmsDelivery,
}

impl From<OrderRecord> for Order {
    fn from(record: OrderRecord) -> Self {
        Self {
            id: record.id,
            customer_id: record.customer_id,
            details: OrderDetails {
                customer_code: record.customer_code,
                item: record.item,
                amount: record.amount,
                currency: record.currency,
                ordered_at: record.ordered_at,
                sms: SmsDelivery {
                    status: record.sms_status,
                    attempts: record.sms_attempts,
                    reason: record.sms_error,
                    sent_at: record.sms_sent_at,
                    updated_at: record.sms_updated_at,
                },
            },
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OrdersQuery {
    /// Only this customer's orders (by `id`), newest first.
    customer: Option<String>,
    /// Only the orders whose SMS is in this status (`pending`, `sent`, `delivered` or
    /// `failed`). With `customer` too, a page may hold fewer than `limit` orders and still
    /// have a `next`: follow it.
    #[param(value_type = Option<SmsStatus>)]
    sms_status: Option<String>,
    /// Orders per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next` cursor from the previous page (with the same `customer` and `sms_status`).
    next: Option<String>,
}

impl Listed for Order {
    const ITEMS: &'static str = "orders";
    const ITEMS_DOC: Option<&'static str> = Some("Newest first.");
}

/// A page of orders, `{"orders": [..], "next": ..}` (named for the spec).
pub type OrderPage = PageView<Order>;

pub fn location(id: &str) -> String {
    format!("/api/v1/sales/orders/{id}")
}

/// Creates an order and, in the same transaction, its SMS to the customer.
#[utoipa::path(post, path = "/api/v1/sales/orders", tag = "orders",
    request_body = CreateOrder,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key and body return the first response, and no second order or SMS")),
    security(("oidc" = ["sales:write"])),
    responses(
        (status = 201, description = "Created (or replayed: `Idempotent-Replayed: true`); the SMS is pending, or failed when the caller has had its SMS for the hour", body = Order,
            headers(("location" = String, description = "The order's URL"))),
        (status = 400, description = "Malformed body or Idempotency-Key"),
        (status = 409, description = "A request with this Idempotency-Key is in flight"),
        (status = 422, description = "Invalid fields, an unknown customer, or an Idempotency-Key reused for another body",
            body = common::Problem, content_type = "application/problem+json",
            example = json!({"type": "urn:problem:validation", "title": "Invalid request fields", "status": 422,
                "detail": "amount: must be a positive decimal with at most 2 decimal places, such as \"56000.68\"",
                "errors": [{"field": "amount",
                            "message": "must be a positive decimal with at most 2 decimal places, such as \"56000.68\""}]})),
    ))]
pub async fn create_order(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    key: IdempotencyHeader,
    Json(request): Json<CreateOrder>,
) -> Result<Response, ApiError> {
    caller.require_scope(&state.scopes.write)?;
    let new = NewOrder::parse(
        request.customer,
        request.item,
        request.amount.as_deref(),
        request.currency,
        &state.default_currency,
    )
    .map_err(ApiError::Invalid)?;
    let idempotency = key.scoped("create-order", &caller, new.fingerprint());
    if let Some(replayed) = replay::stored(&state, idempotency.as_ref()).await? {
        return Ok(replayed);
    }
    let customer = state
        .store
        .customer(&new.customer_id)
        .await?
        .ok_or(Error::UnknownCustomer)?;
    let now = Timestamp::now();
    let id = uuid::Uuid::now_v7().to_string();
    let amount = new.amount.to_string();
    let message = state.template.render(&MessageValues {
        customer_name: &customer.name,
        customer_code: &customer.code,
        item: new.item.as_str(),
        amount: &amount,
        currency: new.currency.as_str(),
        order_id: &id,
    });
    // The caller's hourly share of SMS, counted now: an SMS over it is never queued.
    let max = state.max_sms_per_caller_per_hour;
    let refused = !state
        .store
        .count_caller_sms(&SmsCaller::of(&caller), now.unix_millis(), max)
        .await?;
    let mut order = OrderRecord {
        id: id.clone(),
        customer_id: customer.id,
        customer_code: customer.code,
        item: new.item.as_str().to_owned(),
        amount,
        currency: new.currency.as_str().to_owned(),
        ordered_at: now.sortable(),
        sms_status: SmsStatus::Pending,
        sms_attempts: 0,
        sms_error: None,
        sms_sent_at: None,
        sms_message_id: None,
        sms_updated_at: Some(now.sortable()),
    };
    let sms = if refused {
        state.sms_metrics.caller_limited();
        order.sms_status = SmsStatus::Failed;
        order.sms_error = Some(format!(
            "not sent: at most {max} SMS per hour for one caller, and this caller has had them"
        ));
        None
    } else {
        Some(OutboxRecord::new(
            id.clone(),
            customer.phone_number,
            message,
            now.unix_millis(),
        ))
    };
    let created = Created::new(location(&id), &Order::from(order.clone()));
    let (store, dispatcher, order, sms) = (&state.store, &state.dispatcher, &order, &sms);
    replay::commit(&state, idempotency.as_ref(), created, |stored| async move {
        store
            .insert_order(order, sms.as_ref(), stored.as_ref())
            .await?;
        tracing::info!(order_id = %order.id, customer_id = %order.customer_id, "order created");
        if let (Some(dispatcher), Some(_)) = (dispatcher, sms) {
            dispatcher.notify();
        }
        Ok(())
    })
    .await
}

/// Lists orders a page at a time, newest first: all of them, or one customer's.
#[utoipa::path(get, path = "/api/v1/sales/orders", tag = "orders",
    params(OrdersQuery),
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "A page of orders, newest first", body = OrderPage),
        (status = 400, description = "Bad cursor (one from another listing or filter) or query"),
        (status = 422, description = "Limit out of range, a malformed customer id or an unknown SMS status"),
    ))]
pub async fn list_orders(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<OrdersQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    caller.require_scope(&state.scopes.read)?;
    let filter = order_filter(query.customer.as_deref(), query.sms_status.as_deref())?;
    let page = PageQuery::new(query.limit, query.next.as_deref());
    let limit = page.limit().map_err(ApiError::Problem)?;
    let orders = listed(
        &page,
        state.store.orders(&filter, limit, page.cursor()).await,
    )?;
    Ok(Json(PageView::from(orders.map(Order::from))))
}

/// The orders a listing asks for: every malformed filter is named at once.
fn order_filter(customer: Option<&str>, sms_status: Option<&str>) -> Result<OrderFilter, ApiError> {
    let mut errors = Vec::new();
    let customer_id = customer.and_then(|customer| match uuid::Uuid::parse_str(customer) {
        Ok(_) => Some(customer.to_owned()),
        Err(_) => {
            errors.push(FieldError::new("customer", "must be a customer id"));
            None
        }
    });
    let sms_status = sms_status.and_then(|status| {
        let parsed = SmsStatus::parse(status);
        if parsed.is_none() {
            errors.push(FieldError::new(
                "sms_status",
                "must be one of pending, sent, delivered, failed",
            ));
        }
        parsed
    });
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(OrderFilter {
        customer_id,
        sms_status,
    })
}

/// One order, with where its SMS stands.
#[utoipa::path(get, path = "/api/v1/sales/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "The order's id")),
    security(("oidc" = ["sales:read"])),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 404, description = "No such order"),
    ))]
pub async fn get_order(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    caller.require_scope(&state.scopes.read)?;
    // Ids are UUIDs: anything else names no order, and never reaches the store.
    uuid::Uuid::parse_str(&id).map_err(|_| Error::OrderNotFound)?;
    let record = state.store.order(&id).await?.ok_or(Error::OrderNotFound)?;
    Ok(Json(record.into()))
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

#[derive(Debug, Deserialize, IntoParams)]
pub struct LegacyOrdersQuery {
    /// Only this customer's orders (by `id`), newest first.
    customer: Option<String>,
    /// The cursor from the previous answer's `Link: rel="next"` header.
    next: Option<String>,
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
pub async fn legacy_create_order(
    state: State<AppState>,
    caller: Authenticated,
    key: IdempotencyHeader,
    request: Json<CreateOrder>,
) -> Result<Response, ApiError> {
    let response = create_order(state, caller, key, request).await?;
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
pub async fn legacy_list_orders(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(query): Query<LegacyOrdersQuery>,
) -> Result<Response, ApiError> {
    caller.require_scope(&state.scopes.read)?;
    let customer = query.customer.as_deref();
    let filter = order_filter(customer, None)?;
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
