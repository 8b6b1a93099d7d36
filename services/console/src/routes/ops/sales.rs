//! Orders with their SMS status (filter by status and customer), an order's SMS in
//! detail, customers, and forms to create a customer and an order.
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{listing_path, page_href, Pager, UrlId};
use crate::error::ConsoleError;
use crate::forms::{FormErrors, SummaryLine};
use crate::page::{page, see_other, Chrome, Page, When};
use crate::state::AppState;
use crate::upstream::Service;
use crate::web::Operator;

const ORDERS_PER_PAGE: u32 = 25;
const CUSTOMERS_PER_PAGE: u32 = 25;
/// SMS statuses an order can be filtered by.
pub const SMS_STATUSES: &[(&str, &str)] = &[
    ("pending", "Pending"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("failed", "Failed"),
];

#[derive(Deserialize)]
pub struct Sms {
    pub status: String,
    #[serde(default)]
    pub attempts: u32,
    pub reason: Option<String>,
    pub sent_at: Option<String>,
}

impl Sms {
    pub fn status_text(&self) -> (&'static str, &'static str) {
        match self.status.as_str() {
            "pending" => ("Pending", "info"),
            "sent" => ("Sent", "ok"),
            "delivered" => ("Delivered", "ok"),
            "failed" => ("Failed", "bad"),
            _ => ("Unknown", "warn"),
        }
    }

    pub fn sent(&self) -> Option<When> {
        self.sent_at.as_deref().and_then(When::parse)
    }
}

#[derive(Deserialize)]
pub struct Order {
    pub id: String,
    pub customer_id: String,
    pub customer_code: String,
    pub item: String,
    pub amount: String,
    pub currency: String,
    pub ordered_at: String,
    pub sms: Sms,
}

impl Order {
    pub fn ordered(&self) -> Option<When> {
        When::parse(&self.ordered_at)
    }
}

#[derive(Deserialize)]
struct OrdersAnswer {
    orders: Vec<Order>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct OrdersQuery {
    #[serde(default)]
    sms_status: String,
    #[serde(default)]
    customer: String,
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "ops/orders.html")]
struct OrdersPage {
    chrome: Chrome,
    orders: Vec<Order>,
    sms_status: String,
    customer: String,
    statuses: &'static [(&'static str, &'static str)],
    /// sales-service answered orders of another status than the filter asked for.
    filter_ignored: bool,
    pager: Pager,
}

/// `GET /ops/orders`: newest first, by SMS status and customer.
pub async fn orders(
    State(state): State<AppState>,
    mut operator: Operator,
    Query(query): Query<OrdersQuery>,
) -> Result<Response, ConsoleError> {
    let status = SMS_STATUSES
        .iter()
        .find(|(s, _)| *s == query.sms_status)
        .map(|(s, _)| *s)
        .unwrap_or("");
    let customer = UrlId::parse(query.customer.trim())
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    let mut keep: Vec<(&str, &str)> = Vec::new();
    if !status.is_empty() {
        keep.push(("sms_status", status));
    }
    if !customer.is_empty() {
        keep.push(("customer", customer.as_str()));
    }
    let path = listing_path(
        "/api/v1/sales/orders",
        &keep,
        ORDERS_PER_PAGE,
        "next",
        query.next.as_deref(),
    );
    let answer: OrdersAnswer = operator.fetch(&state, Service::Sales, &path).await?;
    let filter_ignored = !status.is_empty() && answer.orders.iter().any(|o| o.sms.status != status);
    Ok(page(OrdersPage {
        chrome: operator.visitor.chrome("orders"),
        pager: Pager::new(
            "/ops/orders",
            &keep,
            query.next.is_some(),
            answer.next.as_deref(),
            "next",
        ),
        orders: answer.orders,
        sms_status: status.to_owned(),
        customer,
        statuses: SMS_STATUSES,
        filter_ignored,
    })
    .into_response())
}

#[derive(Template)]
#[template(path = "ops/order.html")]
struct OrderPage {
    chrome: Chrome,
    order: Order,
}

/// `GET /ops/orders/{id}`: an order and where its SMS stands.
pub async fn order(
    State(state): State<AppState>,
    mut operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let id = UrlId::parse(&id)?;
    let path = format!("/api/v1/sales/orders/{}", id.as_str());
    let order: Order = operator.fetch(&state, Service::Sales, &path).await?;
    Ok(page(OrderPage {
        chrome: operator.visitor.chrome("orders"),
        order,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct Customer {
    pub id: String,
    pub code: String,
    pub name: String,
    pub phone_number: String,
    pub email: Option<String>,
    pub created_at: String,
}

impl Customer {
    pub fn created(&self) -> Option<When> {
        When::parse(&self.created_at)
    }
}

#[derive(Deserialize)]
struct CustomersAnswer {
    customers: Vec<Customer>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct CustomersQuery {
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "ops/customers.html")]
struct CustomersPage {
    chrome: Chrome,
    customers: Vec<Customer>,
    pager: Pager,
}

/// `GET /ops/customers`.
pub async fn customers(
    State(state): State<AppState>,
    mut operator: Operator,
    Query(query): Query<CustomersQuery>,
) -> Result<Response, ConsoleError> {
    let path = listing_path(
        "/api/v1/sales/customers",
        &[],
        CUSTOMERS_PER_PAGE,
        "next",
        query.next.as_deref(),
    );
    let answer: CustomersAnswer = operator.fetch(&state, Service::Sales, &path).await?;
    Ok(page(CustomersPage {
        chrome: operator.visitor.chrome("customers"),
        pager: Pager::new(
            "/ops/customers",
            &[],
            query.next.is_some(),
            answer.next.as_deref(),
            "next",
        ),
        customers: answer.customers,
    })
    .into_response())
}

const CUSTOMER_FIELDS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("phone_number", "Mobile number"),
    ("email", "Email address"),
];

#[derive(Deserialize, Default)]
pub struct CustomerForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone_number: String,
    #[serde(default)]
    email: String,
    /// Generated when the form is shown: sending it twice creates one customer.
    #[serde(default)]
    idempotency_key: String,
}

#[derive(Template)]
#[template(path = "ops/customer_new.html")]
struct NewCustomerPage {
    chrome: Chrome,
    form: CustomerForm,
    errors: FormErrors,
    summary: Vec<SummaryLine>,
}

/// `GET /ops/customers/new`.
pub async fn new_customer(operator: Operator) -> impl IntoResponse {
    page(NewCustomerPage {
        chrome: operator.visitor.chrome("customers"),
        form: CustomerForm {
            idempotency_key: uuid::Uuid::new_v4().to_string(),
            ..CustomerForm::default()
        },
        errors: FormErrors::new(),
        summary: Vec::new(),
    })
}

/// `POST /ops/customers`.
pub async fn create_customer(
    State(state): State<AppState>,
    mut operator: Operator,
    Form(form): Form<CustomerForm>,
) -> Result<Response, ConsoleError> {
    let mut body = json!({ "name": form.name.trim(), "phone_number": form.phone_number.trim() });
    if !form.email.trim().is_empty() {
        body["email"] = json!(form.email.trim());
    }
    let key = idempotency_key(&form.idempotency_key);
    let result: Result<Customer, _> = operator
        .call(
            &state,
            Service::Sales,
            Method::POST,
            "/api/v1/sales/customers",
            |request| request.header("idempotency-key", key.as_str()).json(&body),
        )
        .await?;
    match result {
        Ok(customer) => Ok(see_other(&page_href(
            "/ops/orders/new",
            &[
                ("customer", customer.id.as_str()),
                ("done", "customer-created"),
            ],
        ))),
        Err(error) => {
            let fields: Vec<&str> = CUSTOMER_FIELDS.iter().map(|(f, _)| *f).collect();
            let errors = FormErrors::from_upstream(error, &fields)
                .map_err(|e| ConsoleError::from_call(e, true))?;
            Ok(Page(
                StatusCode::UNPROCESSABLE_ENTITY,
                NewCustomerPage {
                    chrome: operator.visitor.chrome("customers"),
                    summary: errors.summary(CUSTOMER_FIELDS),
                    form,
                    errors,
                },
            )
            .into_response())
        }
    }
}

/// The form's key if it is one we made, else a new one.
fn idempotency_key(sent: &str) -> String {
    uuid::Uuid::parse_str(sent)
        .map(|key| key.to_string())
        .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string())
}

const ORDER_FIELDS: &[(&str, &str)] = &[
    ("customer", "Customer"),
    ("item", "Item"),
    ("amount", "Amount"),
    ("currency", "Currency"),
];

#[derive(Deserialize, Default)]
pub struct OrderForm {
    #[serde(default)]
    customer: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    idempotency_key: String,
}

#[derive(Template)]
#[template(path = "ops/order_new.html")]
struct NewOrderPage {
    chrome: Chrome,
    form: OrderForm,
    /// The first page of customers, to choose from.
    customers: Vec<Customer>,
    errors: FormErrors,
    summary: Vec<SummaryLine>,
}

#[derive(Deserialize)]
pub struct NewOrderQuery {
    #[serde(default)]
    customer: String,
}

async fn order_form(
    state: &AppState,
    operator: &mut Operator,
    status: StatusCode,
    form: OrderForm,
    errors: FormErrors,
) -> Result<Response, ConsoleError> {
    let path = listing_path("/api/v1/sales/customers", &[], 100, "next", None);
    let customers = operator
        .fetch::<CustomersAnswer>(state, Service::Sales, &path)
        .await?
        .customers;
    Ok(Page(
        status,
        NewOrderPage {
            chrome: operator.visitor.chrome("orders"),
            summary: errors.summary(ORDER_FIELDS),
            form,
            customers,
            errors,
        },
    )
    .into_response())
}

/// `GET /ops/orders/new?customer=`.
pub async fn new_order(
    State(state): State<AppState>,
    mut operator: Operator,
    Query(query): Query<NewOrderQuery>,
) -> Result<Response, ConsoleError> {
    let form = OrderForm {
        customer: query.customer,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
        ..OrderForm::default()
    };
    order_form(
        &state,
        &mut operator,
        StatusCode::OK,
        form,
        FormErrors::new(),
    )
    .await
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// `POST /ops/orders`: the order is created with the form's idempotency key, so sending the
/// form twice creates one order (and one SMS).
pub async fn create_order(
    State(state): State<AppState>,
    mut operator: Operator,
    Form(form): Form<OrderForm>,
) -> Result<Response, ConsoleError> {
    let mut body = json!({
        "customer": form.customer.trim(),
        "item": form.item.trim(),
        "amount": form.amount.trim(),
    });
    if !form.currency.trim().is_empty() {
        body["currency"] = json!(form.currency.trim().to_ascii_uppercase());
    }
    let key = idempotency_key(&form.idempotency_key);
    let result: Result<Created, _> = operator
        .call(
            &state,
            Service::Sales,
            Method::POST,
            "/api/v1/sales/orders",
            |request| request.header("idempotency-key", key.as_str()).json(&body),
        )
        .await?;
    match result {
        Ok(created) => Ok(see_other(&format!(
            "/ops/orders/{}?done=order-created",
            created.id
        ))),
        Err(error) => {
            let fields: Vec<&str> = ORDER_FIELDS.iter().map(|(f, _)| *f).collect();
            let errors = FormErrors::from_upstream(error, &fields)
                .map_err(|e| ConsoleError::from_call(e, true))?;
            order_form(
                &state,
                &mut operator,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                errors,
            )
            .await
        }
    }
}
