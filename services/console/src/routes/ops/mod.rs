//! The operators' pages, and their sign-in. Every page reads each service it needs once.
mod accounts;
mod okta;
mod overview;
mod sales;
mod signin;
mod sync;
mod tenants;

use axum::routing::{get, post};
use axum::Router;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::state::AppState;
use crate::upstream::{Caller, Service, UpstreamError};
use crate::web::Operator;

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
        .route("/ops/tenants/{tenant}/okta", get(okta::okta_users))
        .route("/ops/tenants/{tenant}/okta/{user}", get(okta::okta_user))
        .route(
            "/ops/tenants/{tenant}/okta/{user}/{action}",
            get(okta::confirm_action).post(okta::act),
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

#[derive(Deserialize)]
pub struct TenantIntegration {
    pub name: String,
    pub auth_method: Option<String>,
}

#[derive(Deserialize)]
pub struct Tenant {
    pub id: String,
    #[serde(default)]
    pub integrations: Vec<TenantIntegration>,
    /// The latest provider sync run, when integration-service says.
    #[serde(default)]
    pub last_sync: Option<sync::RunSummary>,
}

impl Tenant {
    pub fn has(&self, integration: &str) -> bool {
        self.integrations.iter().any(|i| i.name == integration)
    }
}

/// The tenants this console may act for, or why there is no list.
pub struct TenantList {
    pub tenants: Vec<Tenant>,
    /// integration-service has no tenant list (an older version): open one by id instead.
    pub unavailable: bool,
}

#[derive(Deserialize)]
struct TenantsAnswer {
    tenants: Vec<Tenant>,
}

/// `GET /tenants` of integration-service, as the operator: the tenants whose callers
/// include the console.
pub async fn fetch_list(
    state: &AppState,
    operator: &mut Operator,
) -> Result<TenantList, ConsoleError> {
    let caller = operator.caller(state, Service::Integrations).await?;
    list_with(state, &caller)
        .await
        .map_err(|error| ConsoleError::from_call(error, true))
}

/// The tenant list with `caller`'s credentials; an integration-service without the route
/// gives an `unavailable` list.
pub async fn list_with(state: &AppState, caller: &Caller) -> Result<TenantList, UpstreamError> {
    let request = state.integrations.request(Method::GET, "/tenants", caller);
    match state.integrations.send::<TenantsAnswer>(request).await {
        Ok(answer) => Ok(TenantList {
            tenants: answer.body.tenants,
            unavailable: false,
        }),
        Err(error) if matches!(error.status(), Some(404 | 405)) => Ok(TenantList {
            tenants: Vec::new(),
            unavailable: true,
        }),
        Err(error) => Err(error),
    }
}

/// An upstream's refusal in words: its detail, and when to try again if it said.
pub fn upstream_sentence(
    problem: &common::error::Problem,
    retry_after: Option<std::time::Duration>,
) -> String {
    let mut text = problem
        .detail
        .clone()
        .unwrap_or_else(|| problem.title.clone());
    if let Some(wait) = retry_after {
        let until = time::OffsetDateTime::now_utc() + wait;
        let format = time::macros::format_description!("[hour]:[minute]:[second] UTC");
        text.push_str(&format!(
            " Rate limited until {} (in {} seconds).",
            until.format(&format).unwrap_or_default(),
            wait.as_secs().max(1)
        ));
    }
    text
}
