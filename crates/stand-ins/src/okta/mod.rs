//! An Okta org (tests and local runs), following Okta's documented Users API behaviour:
//! Link-header pagination, lifecycle rules (only ACTIVE users can be suspended; DELETE
//! deactivates, a second DELETE deletes), error bodies
//! (`errorCode/errorSummary/errorId/errorCauses`), rate-limit headers on every answer to an
//! authenticated request and 429s, counted per endpoint bucket as Okta does (see
//! [`Bucket`]), with a `Date` header from the org's own clock, and both auth schemes (SSWS API
//! token; OAuth client credentials with a private_key_jwt assertion, optionally bound to a
//! key with DPoP, see [`OktaOrg::require_dpop`]).
//!
//! # Layout
//!
//! - this file: the org's state, the handle tests drive ([`OktaOrg`]) and its router;
//! - `admission`: who gets in, in Okta's order: credentials (SSWS, Bearer, DPoP-bound),
//!   scopes, injected failures and the per-bucket rate limits ([`Bucket`]);
//! - `users`: the Users API (list with Link paging, get, suspend, two-step delete);
//! - `token`: the OAuth token endpoint (client credentials, private_key_jwt, DPoP).
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::{Call, NextLinks, Pressure};

mod admission;
mod token;
mod users;

pub use admission::Bucket;
pub use token::rsa_key_pair;
pub use users::NotActiveSuspend;

use admission::{BucketCount, RateLimit, USERS_MANAGE, USERS_READ};
use token::{Grant, OauthClient};
use users::User;

#[derive(Default)]
struct Org {
    name: String,
    users: BTreeMap<String, User>,
    api_token: Option<String>,
    oauth: Option<OauthClient>,
    /// Issued access tokens and what each may do.
    access_tokens: HashMap<String, Grant>,
    /// DPoP nonces handed out and still accepted.
    dpop_nonces: HashSet<String>,
    /// Every proof's nonce is stale: a server that never settles on one.
    dpop_nonce_churn: bool,
    /// API calls need a nonce in their proofs too.
    dpop_resource_nonce: bool,
    /// `jti`s of accepted proofs: each is accepted once.
    dpop_jtis: HashSet<String>,
    /// `jti`s of client assertions already used, with their expiry (epoch seconds): each
    /// is accepted once, and forgotten once it could no longer be accepted anyway.
    assertion_jtis: HashMap<String, u64>,
    /// Why proofs were refused, in order.
    dpop_refusals: Vec<String>,
    rates: HashMap<Bucket, RateLimit>,
    /// Per bucket: requests counted against it, and those answered 429.
    bucket_counts: HashMap<Bucket, BucketCount>,
    next_links: NextLinks,
    not_active_suspend: NotActiveSuspend,
    /// How far the org's clock is ahead of ours (its `Date` and `X-Rate-Limit-Reset`).
    clock_ahead: Duration,
    /// Statuses to answer the next requests to /api/v1/users* with, before any logic.
    failures: Vec<StatusCode>,
    /// A list page larger than this takes too long: 500, as Okta answers a listing that
    /// passes its request timeout.
    slow_pages_above: Option<usize>,
    token_requests: usize,
    api_requests: usize,
    rejected_auth: usize,
    next_id: usize,
}

/// A running Okta org. Clones share the org.
#[derive(Clone)]
pub struct OktaOrg {
    /// `http://host:port`: the org's base URL (what a tenant's `base_url` points at).
    pub url: String,
    org: Arc<Mutex<Org>>,
    pressure: Arc<Pressure>,
}

fn error(status: StatusCode, code: &str, summary: &str, causes: &[&str]) -> Response {
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    (
        status,
        Json(json!({
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": format!("oae{}", uuid::Uuid::new_v4().simple()),
            "errorCauses": causes,
        })),
    )
        .into_response()
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HTTP date (RFC 9110 IMF-fixdate) of `epoch` seconds.
fn httpdate(epoch: u64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::from_unix_timestamp(epoch as i64)
        .expect("a current time")
        .format(&format)
        .expect("formats")
}

impl OktaOrg {
    /// An org whose user ids and logins carry `name`, so two orgs never share a user, on a
    /// random loopback port. It has no users and accepts no credentials until told to.
    pub async fn spawn(name: &str) -> Self {
        Self::spawn_on(crate::LOOPBACK, name).await
    }

    /// The same on `addr` (local runs). Panics if `addr` cannot be bound.
    pub async fn spawn_on(addr: SocketAddr, name: &str) -> Self {
        let org = Arc::new(Mutex::new(Org {
            name: name.to_owned(),
            ..Org::default()
        }));
        let pressure = Arc::<Pressure>::default();
        let router = Router::new()
            .merge(users::routes())
            .merge(token::routes())
            .route_layer(axum::middleware::from_fn_with_state(
                pressure.clone(),
                crate::pressure,
            ))
            .with_state(org.clone())
            .layer(axum::middleware::from_fn_with_state(
                Arc::from(format!("okta {name}")),
                crate::log_request,
            ));
        let (listener, url) = crate::bind(addr).await;
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { url, org, pressure }
    }

    /// Every request waits this long before it is answered (`None`: no wait): a slow org.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.pressure.set_delay(delay);
    }

    /// The most requests that were in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.pressure.peak_in_flight()
    }

    fn org(&self) -> std::sync::MutexGuard<'_, Org> {
        self.org.lock().unwrap()
    }

    /// Accepts `Authorization: SSWS <token>` (replacing any earlier token: rotation).
    pub fn set_api_token(&self, token: &str) {
        self.org().api_token = Some(token.to_owned());
    }

    /// Registers an OAuth service app whose assertions are checked with `public_key_pem`.
    pub fn set_oauth_client(&self, client_id: &str, public_key_pem: &str, token_lifetime: u64) {
        self.org().oauth = Some(OauthClient {
            client_id: client_id.to_owned(),
            public_key_pem: public_key_pem.to_owned(),
            token_lifetime,
            granted_scopes: vec![USERS_READ.into(), USERS_MANAGE.into()],
            admin_role: true,
            dpop_required: false,
        });
    }

    /// The OAuth app's "Require DPoP header in token requests" (on for new API Services
    /// apps). When on, a token request without a valid proof is `400 invalid_dpop_proof`,
    /// one without a current nonce `400 use_dpop_nonce` with a `DPoP-Nonce` header, and
    /// the token is bound to the proof's key (`token_type: DPoP`): API calls must then
    /// send `Authorization: DPoP <token>` with a proof of that key carrying `ath`. When
    /// off, proofs are ignored and tokens are Bearer tokens. Panics without an OAuth app.
    pub fn require_dpop(&self, required: bool) {
        self.org().oauth.as_mut().unwrap().dpop_required = required;
    }

    /// API calls with a DPoP-bound token must carry a nonce the org handed out, or get
    /// `401` `WWW-Authenticate: DPoP error="use_dpop_nonce"` with a `DPoP-Nonce` (RFC 9449
    /// section 9). Okta does not ask for it today ("The nonce parameter isn't currently
    /// required in this DPoP JWT": okta/okta-developer-docs,
    /// `guides/dpop/main/oktaresourceserver/requestresource.md`); a server may.
    pub fn require_dpop_nonce_on_api_calls(&self, required: bool) {
        self.org().dpop_resource_nonce = required;
    }

    /// While on, no proof's nonce is current: every one is answered `use_dpop_nonce` with
    /// a fresh nonce (nonces rotated faster than a client can use them).
    pub fn churn_dpop_nonces(&self, churn: bool) {
        self.org().dpop_nonce_churn = churn;
    }

    /// Why DPoP proofs were refused so far (token endpoint and API), in order.
    pub fn dpop_refusals(&self) -> Vec<String> {
        self.org().dpop_refusals.clone()
    }

    /// `limit` API requests per `window` in every bucket (each counted on its own), then
    /// 429 until that bucket's window resets.
    pub fn set_rate_limit(&self, limit: u64, window: Duration) {
        for bucket in [
            Bucket::Users,
            Bucket::UserRead,
            Bucket::UserWrite,
            Bucket::ApiV1,
        ] {
            self.set_bucket_rate_limit(bucket, limit, window);
        }
    }

    /// `limit` requests per `window` in `bucket` only.
    pub fn set_bucket_rate_limit(&self, bucket: Bucket, limit: u64, window: Duration) {
        let mut org = self.org();
        let reset = org.epoch_now() + window.as_secs().max(1);
        org.rates.insert(
            bucket,
            RateLimit {
                limit,
                window,
                used: 0,
                window_reset_epoch: reset,
            },
        );
    }

    /// Requests counted in `bucket` so far (authenticated ones that reached its limit,
    /// throttled ones included).
    pub fn requests_in(&self, bucket: Bucket) -> usize {
        self.org()
            .bucket_counts
            .get(&bucket)
            .map_or(0, |count| count.requests)
    }

    /// Requests of `bucket` answered 429 so far.
    pub fn throttled(&self, bucket: Bucket) -> usize {
        self.org()
            .bucket_counts
            .get(&bucket)
            .map_or(0, |count| count.throttled)
    }

    /// How list pages link to the next one (see [`NextLinks`]): Okta's `Link: <...>;
    /// rel="next"` as Okta sends it, repeating the `after` cursor it was asked with, or
    /// on another origin.
    pub fn set_next_links(&self, next_links: NextLinks) {
        self.org().next_links = next_links;
    }

    /// Which documented shape a suspend of a non-ACTIVE user is refused with.
    pub fn set_not_active_suspend(&self, answer: NotActiveSuspend) {
        self.org().not_active_suspend = answer;
    }

    /// The org's clock runs `ahead` of this machine's: its `Date` header and rate-limit
    /// resets say so, as a real org's do when the local clock is off.
    pub fn set_clock_ahead(&self, ahead: Duration) {
        self.org().clock_ahead = ahead;
    }

    /// The next API requests answer these statuses (with an Okta error body).
    pub fn fail_next(&self, statuses: &[StatusCode]) {
        self.org().failures.extend_from_slice(statuses);
    }

    /// List pages of more than `limit` users answer 500 (`None`: any page works). Okta: "An
    /// HTTP 500 status code usually indicates that you have exceeded the request timeout.
    /// Retry your request with a smaller limit" (okta-developer-docs, reference/api/users,
    /// List Users).
    pub fn set_slow_pages_above(&self, limit: Option<usize>) {
        self.org().slow_pages_above = limit;
    }

    /// Adds a user with this lifecycle status (`ACTIVE`, `STAGED`, `SUSPENDED`, ...): the
    /// n-th user of org `acme` is `00uacme00000n`, login `usern@acme.example.com`.
    pub fn add_user(&self, status: &str) -> String {
        let mut org = self.org();
        org.next_id += 1;
        let id = format!("00u{}{:06}", org.name, org.next_id);
        let login = format!("user{}@{}.example.com", org.next_id, org.name);
        let (first_name, last_name) = crate::sample::person(org.next_id - 1);
        org.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                status: status.to_owned(),
                login,
                first_name,
                last_name,
            },
        );
        id
    }

    /// Adds `count` ACTIVE users and returns their ids.
    pub fn add_users(&self, count: usize) -> Vec<String> {
        (0..count).map(|_| self.add_user("ACTIVE")).collect()
    }

    /// The user's lifecycle status, `None` once deleted.
    pub fn status_of(&self, id: &str) -> Option<String> {
        self.org().users.get(id).map(|u| u.status.clone())
    }

    /// Sets a user's status directly (behind the API's back). Panics on an unknown id.
    pub fn set_status(&self, id: &str, status: &str) {
        self.org().users.get_mut(id).unwrap().status = status.to_owned();
    }

    /// Grants the OAuth app exactly `scopes` (tokens already issued keep theirs).
    /// Panics without an OAuth app.
    pub fn set_granted_scopes(&self, scopes: &[&str]) {
        self.org().oauth.as_mut().unwrap().granted_scopes =
            scopes.iter().map(|s| s.to_string()).collect();
    }

    /// Gives the OAuth app an admin role or takes it away. Panics without an OAuth app.
    pub fn set_admin_role(&self, assigned: bool) {
        self.org().oauth.as_mut().unwrap().admin_role = assigned;
    }

    /// Forgets every issued access token (as if they expired early).
    pub fn revoke_access_tokens(&self) {
        self.org().access_tokens.clear();
    }

    /// Requests to the OAuth token endpoint so far.
    pub fn token_requests(&self) -> usize {
        self.org().token_requests
    }

    /// Requests to `/api/v1/users*` so far, rejected ones included.
    pub fn api_requests(&self) -> usize {
        self.org().api_requests
    }

    /// API requests answered 401 (no, or a wrong or expired, credential).
    pub fn rejected_auth(&self) -> usize {
        self.org().rejected_auth
    }
}

impl Org {
    /// Epoch seconds by the org's clock.
    fn epoch_now(&self) -> u64 {
        epoch_now() + self.clock_ahead.as_secs()
    }
}

impl Call {
    /// `http://host/path` (no query): what a DPoP proof's `htu` must be, and the base of
    /// the org's links.
    fn htu(&self) -> String {
        let path = self.path_and_query.split('?').next().unwrap_or_default();
        format!("{}{path}", self.origin())
    }
}
