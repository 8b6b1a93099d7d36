//! A Microsoft Entra ID tenant as Microsoft Graph v1.0 shows its users (tests and local
//! runs), following Microsoft's documented behaviour: the identity platform's token
//! endpoint (`/{tenant}/oauth2/v2.0/token`, client credentials with `client_secret_post`,
//! AADSTS errors), `/v1.0/users` with `$top` (1..999), `$select`, `$filter` and
//! `@odata.nextLink` paging, suspend as `PATCH {"accountEnabled": false}` (204), `DELETE`
//! (204), Graph's error body (`{"error": {"code", "message", "innerError"}}`), and
//! throttling as Graph does it for identity: quotas per app and tenant, a 429 with
//! `Retry-After` and `x-ms-throttle-scope` naming the quota, and no remaining/limit
//! headers at all (see [`Quota`]).
//!
//! One server plays both hosts: `login.microsoftonline.com` ([`GraphTenant::token_url`])
//! and `graph.microsoft.com` ([`GraphTenant::graph_url`]).
//!
//! # Layout
//!
//! - this file: the tenant's state, the handle tests drive ([`GraphTenant`]), its router
//!   and Graph's error body;
//! - `token`: the token endpoint (client credentials, client_secret_post, AADSTS errors);
//! - `admission`: who gets in, in order: the access token, the app's permissions, the
//!   throttling quotas ([`Quota`]) and injected failures;
//! - `users`: `/v1.0/users` (list, get, update, delete).
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{Call, NextLinks, Pressure};

mod admission;
mod token;
mod users;

pub use admission::Quota;

use admission::Window;
use token::{App, Grant};
use users::User;

/// The most requests [`GraphTenant::received`] keeps (the oldest go first).
const RECEIVED_KEPT: usize = 10_000;

#[derive(Default)]
struct Tenant {
    name: String,
    tenant_id: String,
    /// Users by object id; ids sort in the order the users were added.
    users: BTreeMap<String, User>,
    /// Deleted users: "moved to a temporary container and can be restored within 30 days"
    /// (microsoft-graph-docs-contrib api-reference/v1.0/api/user-delete.md).
    deleted: BTreeMap<String, User>,
    app: Option<App>,
    access_tokens: HashMap<String, Grant>,
    quotas: HashMap<Quota, Window>,
    /// Requests answered 429, per quota that ran out.
    throttled: HashMap<Quota, usize>,
    next_links: NextLinks,
    /// Statuses to answer the next `/v1.0` requests with, before any logic.
    failures: Vec<StatusCode>,
    received: Vec<Received>,
    token_requests: usize,
    api_requests: usize,
    rejected_auth: usize,
    next_id: usize,
}

/// A request the tenant's `/v1.0` API received, as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub method: String,
    /// `/v1.0/users?$top=5`, percent-encoding as sent.
    pub path_and_query: String,
    /// The JSON body, if the request had one that parsed.
    pub body: Option<Value>,
}

/// A running tenant. Clones share the tenant.
#[derive(Clone)]
pub struct GraphTenant {
    /// `http://host:port`: the server playing both login.microsoftonline.com and
    /// graph.microsoft.com.
    pub url: String,
    /// The directory (tenant) id: a GUID derived from the name, the same on every start.
    pub tenant_id: String,
    tenant: Arc<Mutex<Tenant>>,
    pressure: Arc<Pressure>,
}

/// Graph's error body (https://learn.microsoft.com/graph/errors, "Error resource type":
/// one `error` object with `code`, `message` and `innerError`, whose `request-id` and
/// `date` identify the request).
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": now_iso8601(),
                    "request-id": uuid::Uuid::new_v4().to_string(),
                    "client-request-id": uuid::Uuid::new_v4().to_string(),
                },
            },
        })),
    )
        .into_response()
}

/// `2026-12-06T13:30:00`, as Graph writes `innerError.date`.
fn now_iso8601() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("formats")
}

/// A GUID-shaped id from `seed`: the same seed gives the same id.
fn guid_from(seed: &str) -> String {
    let hex = hex::encode(&Sha256::digest(seed.as_bytes())[..16]);
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

impl GraphTenant {
    /// A tenant named `name` (its users' names end in `@{name}.onmicrosoft.com`) on a
    /// random loopback port. It has no users and no app registration until told to.
    pub async fn spawn(name: &str) -> Self {
        Self::spawn_on(crate::LOOPBACK, name).await
    }

    /// The same on `addr` (local runs). Panics if `addr` cannot be bound.
    pub async fn spawn_on(addr: SocketAddr, name: &str) -> Self {
        let tenant_id = guid_from(&format!("tenant {name}"));
        let tenant = Arc::new(Mutex::new(Tenant {
            name: name.to_owned(),
            tenant_id: tenant_id.clone(),
            ..Tenant::default()
        }));
        let pressure = Arc::<Pressure>::default();
        let router = Router::new()
            .merge(token::routes())
            .merge(users::routes())
            .route_layer(axum::middleware::from_fn_with_state(
                pressure.clone(),
                crate::pressure,
            ))
            .with_state(tenant.clone())
            .layer(axum::middleware::from_fn_with_state(
                Arc::from(format!("graph {name}")),
                crate::log_request,
            ));
        let (listener, url) = crate::bind(addr).await;
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url,
            tenant_id,
            tenant,
            pressure,
        }
    }

    /// `{url}/v1.0`: what stands for `https://graph.microsoft.com/v1.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.url)
    }

    /// `{url}/{tenant_id}/oauth2/v2.0/token`: what stands for
    /// `https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.url, self.tenant_id)
    }

    fn tenant(&self) -> MutexGuard<'_, Tenant> {
        self.tenant.lock().unwrap()
    }

    /// Every request waits this long before it is answered (`None`: no wait).
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.pressure.set_delay(delay);
    }

    /// The most requests that were in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.pressure.peak_in_flight()
    }

    /// Registers an app (client credentials with `client_secret_post`) granted the
    /// application permission `User.ReadWrite.All`, whose tokens live 3599 s as Entra's
    /// do. Replaces any earlier app (a rotated secret).
    pub fn set_client_secret(&self, client_id: &str, client_secret: &str) {
        self.tenant().app = Some(App {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            roles: vec!["User.ReadWrite.All".to_owned()],
            token_lifetime: Duration::from_secs(3599),
        });
    }

    /// The application permissions (app roles) granted to the app, e.g. `User.Read.All`
    /// only; tokens issued later carry them. Panics without an app.
    pub fn set_app_roles(&self, roles: &[&str]) {
        self.tenant().app.as_mut().expect("an app").roles =
            roles.iter().map(|role| role.to_string()).collect();
    }

    /// How long tokens issued from now on live. Panics without an app.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.tenant().app.as_mut().expect("an app").token_lifetime = lifetime;
    }

    /// Forgets every issued access token (as if they expired early).
    pub fn revoke_access_tokens(&self) {
        self.tenant().access_tokens.clear();
    }

    /// Adds a user, enabled or not, and returns its object id. The n-th user of tenant
    /// `globex` is `user{n}@globex.onmicrosoft.com`; ids sort in the order users are added.
    pub fn add_user(&self, account_enabled: bool) -> String {
        let mut tenant = self.tenant();
        tenant.next_id += 1;
        let n = tenant.next_id;
        let id = format!("{}-0000-4000-8000-{n:012}", &tenant.tenant_id[..8]);
        let user = User::sample(&id, n, &tenant.name, account_enabled);
        tenant.users.insert(id.clone(), user);
        id
    }

    /// Adds `count` enabled users and returns their ids.
    pub fn add_users(&self, count: usize) -> Vec<String> {
        (0..count).map(|_| self.add_user(true)).collect()
    }

    /// Whether the user's account is enabled; `None` once deleted (or never there).
    pub fn account_enabled(&self, id: &str) -> Option<bool> {
        self.tenant().users.get(id).map(|user| user.account_enabled)
    }

    /// Enables or disables an account behind the API's back. Panics on an unknown id.
    pub fn set_account_enabled(&self, id: &str, enabled: bool) {
        self.tenant()
            .users
            .get_mut(id)
            .expect("a user")
            .account_enabled = enabled;
    }

    /// Whether the user was deleted and can still be restored (deleted items).
    pub fn is_deleted(&self, id: &str) -> bool {
        self.tenant().deleted.contains_key(id)
    }

    /// The next `/v1.0` requests answer these statuses (with Graph's error body).
    pub fn fail_next(&self, statuses: &[StatusCode]) {
        self.tenant().failures.extend_from_slice(statuses);
    }

    /// Throttles: `limit` units per `window` in `quota` (see [`Quota`] for what a request
    /// costs), then 429 until the window ends. Each quota counts on its own.
    pub fn set_quota(&self, quota: Quota, limit: u64, window: Duration) {
        self.tenant()
            .quotas
            .insert(quota, Window::new(limit, window));
    }

    /// Requests answered 429 because `quota` ran out, so far.
    pub fn throttled(&self, quota: Quota) -> usize {
        self.tenant().throttled.get(&quota).copied().unwrap_or(0)
    }

    /// How list pages link to the next one (see [`NextLinks`]): `@odata.nextLink` as
    /// Graph writes it, repeating the `$skiptoken` it was asked with, or on another
    /// origin.
    pub fn set_next_links(&self, next_links: NextLinks) {
        self.tenant().next_links = next_links;
    }

    /// Requests to the token endpoint so far.
    pub fn token_requests(&self) -> usize {
        self.tenant().token_requests
    }

    /// Requests to `/v1.0/*` so far, refused ones included.
    pub fn api_requests(&self) -> usize {
        self.tenant().api_requests
    }

    /// `/v1.0` requests answered 401 (no, or an unknown or expired, access token).
    pub fn rejected_auth(&self) -> usize {
        self.tenant().rejected_auth
    }

    /// The `/v1.0` requests received so far, in order (at most the last 10,000).
    pub fn received(&self) -> Vec<Received> {
        self.tenant().received.clone()
    }
}

impl Tenant {
    fn record(&mut self, received: Received) {
        if self.received.len() == RECEIVED_KEPT {
            self.received.remove(0);
        }
        self.received.push(received);
    }
}
