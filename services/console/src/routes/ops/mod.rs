//! The operators' pages, and their sign-in. Every page reads each service it needs once.
mod accounts;
mod overview;
mod sales;
mod signin;
mod sync;
mod tenants;

use axum::routing::{get, post};
use axum::Router;
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::error::ConsoleError;
use crate::state::AppState;
use crate::web::{Operator, Service};

pub use overview::ReadinessWatch;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops/login", get(signin::start))
        .route("/ops/callback", get(signin::callback))
        .route("/ops/logout", post(signin::logout))
        .route("/ops", get(overview::show))
        .route("/ops/sync", get(sync::index))
        .route("/ops/sync/{tenant}", get(sync::runs).post(sync::sync_now))
        .route("/ops/sync/{tenant}/providers", get(sync::providers))
        .route("/ops/orders", get(sales::orders).post(sales::create_order))
        .route("/ops/orders/new", get(sales::new_order))
        .route("/ops/orders/{id}", get(sales::order))
        .route(
            "/ops/customers",
            get(sales::customers).post(sales::create_customer),
        )
        .route("/ops/customers/new", get(sales::new_customer))
        .route("/ops/tenants", get(tenants::index))
        .route("/ops/open", get(tenants::open))
        .route(
            "/ops/tenants/{tenant}/test/{integration}",
            post(tenants::test_connection),
        )
        .route("/ops/tenants/{tenant}/okta", get(tenants::okta_users))
        .route("/ops/tenants/{tenant}/okta/{user}", get(tenants::okta_user))
        .route(
            "/ops/tenants/{tenant}/okta/{user}/{action}",
            get(tenants::confirm_action).post(tenants::act),
        )
        .route("/ops/accounts", get(accounts::index))
        .route(
            "/ops/accounts/{username}/delete",
            get(accounts::confirm_delete).post(accounts::delete),
        )
}

/// An id from a URL (a tenant, an integration, an Okta user): 1 to 64 letters, digits, `-`
/// or `_`, so it can travel in a header or a query as it is; anything else is a 404.
pub struct UrlId(String);

impl UrlId {
    pub fn parse(raw: &str) -> Result<Self, ConsoleError> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ConsoleError::NotFound)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One call to integration-service for `tenant`, as the operator: the service's answer,
/// or its problem, or why no call could be made (outer).
pub async fn integration_call<T: DeserializeOwned>(
    state: &AppState,
    operator: &mut Operator,
    tenant: &UrlId,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<T, ConsoleError> {
    operator
        .call(state, Service::Integrations, method, path, |request| {
            let request = request.header("x-tenant-id", tenant.as_str());
            match body {
                Some(body) => request.json(&body),
                None => request,
            }
        })
        .await?
        .map_err(|error| ConsoleError::from_call(error, true))
}

/// A listing's path: `path?<filters>&limit=<limit>&<cursor_param>=<cursor>`.
pub fn listing_path(
    path: &str,
    filters: &[(&str, &str)],
    limit: u32,
    cursor_param: &str,
    cursor: Option<&str>,
) -> String {
    let limit = limit.to_string();
    let mut pairs = filters.to_vec();
    pairs.push(("limit", &limit));
    if let Some(cursor) = cursor {
        pairs.push((cursor_param, cursor));
    }
    page_href(path, &pairs)
}

/// `base?query`, the query from `pairs` (values percent-encoded).
pub fn page_href(base: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return base.to_owned();
    }
    format!(
        "{base}?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

/// A listing's paging links: the services' cursors go forward only, so "next page" and,
/// once past the first, "first page".
pub struct Pager {
    pub first: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `keep`: the filters every link carries; `param`: the service's cursor parameter.
    pub fn new(
        base: &str,
        keep: &[(&str, &str)],
        on_later_page: bool,
        cursor: Option<&str>,
        param: &str,
    ) -> Self {
        Self {
            first: on_later_page.then(|| page_href(base, keep)),
            next: cursor.map(|cursor| {
                let mut pairs = keep.to_vec();
                pairs.push((param, cursor));
                page_href(base, &pairs)
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_none() && self.next.is_none()
    }
}
