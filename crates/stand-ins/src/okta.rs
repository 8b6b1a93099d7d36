//! An Okta org (tests and local runs), following Okta's documented Users API behaviour:
//! Link-header pagination, lifecycle rules (only ACTIVE users can be suspended; DELETE
//! deactivates, a second DELETE deletes), error bodies
//! (`errorCode/errorSummary/errorId/errorCauses`), rate-limit headers on every answer to an
//! authenticated request and 429s, counted per endpoint bucket as Okta does (see
//! [`Bucket`]), with a `Date` header from the org's own clock, and both auth schemes (SSWS API
//! token; OAuth client credentials with a private_key_jwt assertion, optionally bound to a
//! key with DPoP, see [`OktaOrg::require_dpop`]).
use std::collections::btree_map::{Entry, OccupiedEntry};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::dpop;
use crate::Pressure;

#[derive(Debug)]
struct User {
    id: String,
    status: String,
    login: String,
    first_name: &'static str,
    last_name: &'static str,
}

/// Okta's rate-limit buckets of the Users API: each has its own quota and window
/// ("Management rate limits", https://developer.okta.com/docs/reference/rl-global-mgmt/:
/// "Only GET or POST to /api/v1/users", "Only GET to /api/v1/users/${idOrLogin}" and
/// "Only POST, PUT or DELETE to /api/v1/users/${id}" are separate limits, and every other
/// path, lifecycle operations like `/api/v1/users/${id}/lifecycle/suspend` included, falls
/// to "Most other API actions: /api/v1" (where a row means sub-paths too, it says so:
/// "/api/v1/apps/* including /api/v1/apps/${id}/*"); a bucket is "a collection of one or
/// more endpoints that share a defined quota", https://developer.okta.com/docs/reference/rl-previous).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// `GET/POST /api/v1/users`.
    Users,
    /// `GET /api/v1/users/{id}`.
    UserRead,
    /// `POST/PUT/DELETE /api/v1/users/{id}`.
    UserWrite,
    /// "Most other API actions": `/api/v1`, e.g. `/api/v1/users/{id}/lifecycle/suspend`.
    ApiV1,
    /// "OAuth2 requests for the Org Authorization Server: /oauth2/v1" (the token
    /// endpoint), not set by [`OktaOrg::set_rate_limit`].
    OrgAuthorizationServer,
}

/// How the org refuses to suspend a user that is not ACTIVE. Okta's management API
/// documents only that suspend is for ACTIVE users (`suspendUser`, "Perform this operation
/// only on users with an ACTIVE status",
/// https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserLifecycle/#tag/UserLifecycle/operation/suspendUser),
/// and its error table gives both shapes (https://developer.okta.com/docs/reference/error-codes/):
/// E0000001 (400, "the documentation for Suspend User indicates that suspending a user
/// who is not active will result in the E0000001 error code") and E0000038 (403, "This
/// operation is not allowed in the user's current status").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NotActiveSuspend {
    /// `400 E0000001`, cause "Cannot suspend a user that is not active".
    #[default]
    ValidationFailed,
    /// `403 E0000038`.
    NotAllowedInStatus,
}

/// A window of `limit` requests that resets at the advertised epoch second, as Okta's do.
struct RateLimit {
    limit: u64,
    window: Duration,
    used: u64,
    window_reset_epoch: u64,
}

struct OauthClient {
    client_id: String,
    public_key_pem: String,
    token_lifetime: u64,
    /// The Okta API scopes granted to the app (Okta API Scopes tab).
    granted_scopes: Vec<String>,
    /// Whether the app has an admin role. Okta's guide: a service app needs both the
    /// scopes and an admin role; without a role its reads find nothing
    /// (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/#assign-admin-roles-to-the-oauth-2-0-service-app).
    admin_role: bool,
    /// "Require Demonstrating Proof of Possession (DPoP) header in token requests", on by
    /// default for new API Services apps (Okta developer forum, "Client Credentials OAuth
    /// for Okta with DPoP enabled", https://devforum.okta.com/t/client-credentials-oauth-for-okta-with-dpop-enabled/30239).
    dpop_required: bool,
}

/// What an access token may do: its scopes, and the thumbprint of the DPoP key it is
/// bound to (`cnf.jkt`, RFC 9449 section 6), if any.
struct Grant {
    scopes: Vec<String>,
    jkt: Option<String>,
    /// Okta refuses an expired access token like an unknown one: 401 E0000011 "Invalid
    /// token provided" (developer.okta.com/docs/reference/error-codes/#E0000011).
    expires_at: Instant,
}

const USERS_READ: &str = "okta.users.read";
const USERS_MANAGE: &str = "okta.users.manage";

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
    /// Why proofs were refused, in order.
    dpop_refusals: Vec<String>,
    rates: HashMap<Bucket, RateLimit>,
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

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "status": user.status,
        "created": "2024-01-01T00:00:00.000Z",
        "statusChanged": null,
        "lastUpdated": "2024-01-02T00:00:00.000Z",
        "profile": {
            "login": user.login,
            "email": user.login,
            "firstName": user.first_name,
            "lastName": user.last_name,
        },
        "_links": {},
    })
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
            .route("/api/v1/users", get(list_users))
            .route("/api/v1/users/{id}", get(get_user).delete(delete_user))
            .route("/api/v1/users/{id}/lifecycle/suspend", post(suspend_user))
            .route("/oauth2/v1/token", post(token))
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
    /// Counts a request in `bucket`'s window: the `Date` and rate-limit headers of the
    /// answer, or the 429 once the window is used up.
    fn spend(&mut self, bucket: Bucket) -> Result<HeaderMap, Response> {
        let mut rate_headers = HeaderMap::new();
        // The org's own clock, which `X-Rate-Limit-Reset` is relative to (okta-sdk-golang
        // computes its wait as `X-Rate-Limit-Reset - Date`, okta/requestExecutor.go).
        let now = self.epoch_now();
        rate_headers.insert(
            header::DATE,
            HeaderValue::from_str(&httpdate(now)).expect("a date is a valid header"),
        );
        if let Some(rate) = self.rates.get_mut(&bucket) {
            if now >= rate.window_reset_epoch {
                rate.used = 0;
                rate.window_reset_epoch = now + rate.window.as_secs().max(1);
            }
            rate.used += 1;
            let remaining = rate.limit.saturating_sub(rate.used.min(rate.limit));
            rate_headers.insert("x-rate-limit-limit", rate.limit.into());
            rate_headers.insert("x-rate-limit-remaining", remaining.into());
            rate_headers.insert("x-rate-limit-reset", rate.window_reset_epoch.into());
            if rate.used > rate.limit {
                let mut response = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "E0000047",
                    "API call exceeded rate limit due to too many requests.",
                    &[],
                );
                response.headers_mut().extend(rate_headers);
                return Err(response);
            }
        }
        Ok(rate_headers)
    }

    /// Epoch seconds by the org's clock.
    fn epoch_now(&self) -> u64 {
        epoch_now() + self.clock_ahead.as_secs()
    }

    /// A new DPoP nonce, accepted from now on.
    fn dpop_nonce(&mut self) -> String {
        let nonce = format!("n-{}", uuid::Uuid::new_v4().simple());
        self.dpop_nonces.insert(nonce.clone());
        nonce
    }

    /// Checks the request's one `DPoP` header against `expected` and the org's state
    /// (unused `jti`; a current nonce when `nonce_needed`). `Err` is the refusal.
    fn check_proof(
        &mut self,
        headers: &HeaderMap,
        expected: &dpop::Expected<'_>,
        nonce_needed: bool,
    ) -> Result<dpop::Proof, ProofRefusal> {
        let mut proofs = headers.get_all("dpop").iter();
        let (Some(proof), None) = (proofs.next(), proofs.next()) else {
            return Err(self.refuse("The DPoP proof JWT header is missing."));
        };
        let proof = dpop::verify(proof.to_str().unwrap_or_default(), expected)
            .map_err(|why| self.refuse(&why))?;
        if self.dpop_jtis.contains(&proof.jti) {
            return Err(self.refuse("`jti` was used before (a replayed proof)"));
        }
        let current = proof
            .nonce
            .as_ref()
            .is_some_and(|nonce| self.dpop_nonces.contains(nonce));
        if nonce_needed && (self.dpop_nonce_churn || !current) {
            self.dpop_refusals.push("no current nonce".into());
            return Err(ProofRefusal::NonceNeeded(self.dpop_nonce()));
        }
        self.dpop_jtis.insert(proof.jti.clone());
        Ok(proof)
    }

    fn refuse(&mut self, why: &str) -> ProofRefusal {
        self.dpop_refusals.push(why.to_owned());
        ProofRefusal::Invalid(why.to_owned())
    }
}

/// Why a DPoP proof was refused.
enum ProofRefusal {
    Invalid(String),
    /// The proof needs this nonce (handed out in `DPoP-Nonce`).
    NonceNeeded(String),
}

/// The parts of an API request the org's checks read.
struct Call {
    method: Method,
    path: String,
    headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            headers: parts.headers.clone(),
        })
    }
}

impl Call {
    /// `http://host/path`: what a proof's `htu` must be.
    fn htu(&self) -> String {
        let host = self
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}{}", self.path)
    }
}

/// An API call's refusal for its DPoP proof: 401 with the challenge of RFC 9449 section
/// 7.1 (`WWW-Authenticate: DPoP algs=..., error=...`), Okta's E0000011 body, and the nonce
/// to use when that is what was missing (section 9).
fn dpop_challenge(error_code: &str, description: &str, nonce: Option<&str>) -> Response {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "E0000011",
        "Invalid token provided",
        &[],
    );
    let headers = response.headers_mut();
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&format!(
            r#"DPoP algs="ES256 RS256", error="{error_code}", error_description="{}""#,
            description.replace('"', "'")
        ))
        .expect("a valid header"),
    );
    if let Some(nonce) = nonce {
        headers.insert("dpop-nonce", HeaderValue::from_str(nonce).expect("ascii"));
    }
    response
}

/// Auth, injected failures and the bucket's rate limit, in Okta's order; `Err` is the
/// answer. The headers to add to any answer come back either way.
fn admit(org: &mut Org, call: &Call, bucket: Bucket) -> Result<HeaderMap, Response> {
    org.api_requests += 1;
    let authorization = call
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // An API token acts with its admin's permissions; an access token with its scopes.
    let token_scopes = match authorization.split_once(' ') {
        Some(("SSWS", token)) if org.api_token.as_deref() == Some(token) => None,
        Some((scheme @ ("Bearer" | "DPoP"), token))
            if org
                .access_tokens
                .get(token)
                .is_some_and(|grant| grant.expires_at > Instant::now()) =>
        {
            check_binding(org, call, scheme, token).inspect_err(|_| org.rejected_auth += 1)?;
            Some(org.access_tokens[token].scopes.clone())
        }
        _ => {
            org.rejected_auth += 1;
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "E0000011",
                "Invalid token provided",
                &[],
            ));
        }
    };
    let needed = match bucket {
        Bucket::Users | Bucket::UserRead => USERS_READ,
        Bucket::UserWrite | Bucket::ApiV1 | Bucket::OrgAuthorizationServer => USERS_MANAGE,
    };
    if token_scopes.is_some_and(|scopes| !scopes.iter().any(|s| s == needed)) {
        // Okta's answer to a token without the endpoint's scope: 403, the missing scope
        // in `WWW-Authenticate` (RFC 6750 section 3.1 `insufficient_scope`), E0000006 in
        // the body (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/,
        // https://developer.okta.com/docs/reference/error-codes/).
        let mut response = error(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
            &[],
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&format!(
                "Bearer authorization_uri=\"/oauth2/v1/authorize\", realm=\"IdP\", \
                 scope=\"{needed}\", error=\"insufficient_scope\", \
                 error_description=\"The access token provided does not contain the required scopes.\""
            ))
            .expect("a valid header"),
        );
        return Err(response);
    }
    let rate_headers = org.spend(bucket)?;
    if !org.failures.is_empty() {
        let status = org.failures.remove(0);
        return Err(error(status, "E0000009", "Internal Server Error", &[]));
    }
    Ok(rate_headers)
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    after: Option<String>,
    search: Option<String>,
    filter: Option<String>,
}

/// Supports the one expression tests use: `status eq "X"`.
fn matches(expression: &Option<String>, user: &User) -> Result<bool, ()> {
    let Some(expression) = expression else {
        return Ok(true);
    };
    let status = expression
        .strip_prefix("status eq \"")
        .and_then(|rest| rest.strip_suffix('"'))
        .ok_or(())?;
    Ok(user.status == status)
}

/// A token bound to a key must come as `Authorization: DPoP` with a proof of that key for
/// this request and token (RFC 9449 section 7; Okta: "Make a request to an Okta resource",
/// okta/okta-developer-docs `guides/dpop/main/oktaresourceserver/requestresource.md`); an
/// unbound one only as `Bearer`.
fn check_binding(org: &mut Org, call: &Call, scheme: &str, token: &str) -> Result<(), Response> {
    let jkt = org.access_tokens[token].jkt.clone();
    let Some(jkt) = jkt else {
        return match scheme {
            "Bearer" => Ok(()),
            _ => Err(dpop_challenge(
                "invalid_token",
                "The token is not DPoP-bound.",
                None,
            )),
        };
    };
    if scheme != "DPoP" {
        org.dpop_refusals
            .push("a DPoP-bound token sent as a bearer token".into());
        return Err(dpop_challenge(
            "invalid_token",
            "The DPoP-bound access token is sent with the Bearer scheme.",
            None,
        ));
    }
    let htu = call.htu();
    let expected = dpop::Expected {
        method: call.method.as_str(),
        htu: &htu,
        now: org.epoch_now(),
        access_token: Some(token),
    };
    let nonce_needed = org.dpop_resource_nonce;
    match org.check_proof(&call.headers, &expected, nonce_needed) {
        Ok(proof) if proof.jkt == jkt => Ok(()),
        Ok(_) => {
            org.dpop_refusals
                .push("the proof's key is not the token's".into());
            Err(dpop_challenge(
                "invalid_dpop_proof",
                "The DPoP proof is not signed by the key the token is bound to.",
                None,
            ))
        }
        Err(ProofRefusal::Invalid(why)) => Err(dpop_challenge("invalid_dpop_proof", &why, None)),
        Err(ProofRefusal::NonceNeeded(nonce)) => Err(dpop_challenge(
            "use_dpop_nonce",
            "Resource server requires nonce in DPoP proof.",
            Some(&nonce),
        )),
    }
}

/// Runs `act` on an admitted request; the rate-limit headers go on whatever it answers.
fn admitted(
    org: &Mutex<Org>,
    call: &Call,
    bucket: Bucket,
    act: impl FnOnce(&mut Org) -> Response,
) -> Response {
    let mut org = org.lock().unwrap();
    match admit(&mut org, call, bucket) {
        Ok(rate_headers) => {
            let mut response = act(&mut org);
            response.headers_mut().extend(rate_headers);
            response
        }
        Err(response) => response,
    }
}

/// Runs `act` on user `id` of an admitted request, or answers Okta's 404.
fn on_user(
    org: &Mutex<Org>,
    call: &Call,
    bucket: Bucket,
    id: &str,
    act: impl FnOnce(OccupiedEntry<'_, String, User>) -> Response,
) -> Response {
    admitted(org, call, bucket, |org| {
        match org.users.entry(id.to_owned()) {
            Entry::Occupied(user) => act(user),
            Entry::Vacant(_) => error(
                StatusCode::NOT_FOUND,
                "E0000007",
                &format!("Not found: Resource not found: {id} (User)"),
                &[],
            ),
        }
    })
}

async fn list_users(
    State(org): State<Arc<Mutex<Org>>>,
    call: Call,
    Query(query): Query<ListQuery>,
) -> Response {
    let base = call.htu();
    let access_token = call
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| !value.starts_with("SSWS "));
    admitted(&org, &call, Bucket::Users, |org| {
        if access_token && org.oauth.as_ref().is_some_and(|app| !app.admin_role) {
            // A service app without an admin role sees no users: `200 []`, not a 403.
            return Json(Vec::<Value>::new()).into_response();
        }
        let limit = query.limit.unwrap_or(200).clamp(1, 200);
        if org.slow_pages_above.is_some_and(|most| limit > most) {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "E0000009",
                "Internal Server Error",
                &[],
            );
        }
        let mut selected = Vec::new();
        for user in org.users.values() {
            if query
                .after
                .as_ref()
                .is_some_and(|after| user.id.as_str() <= after.as_str())
            {
                continue;
            }
            match (matches(&query.search, user), matches(&query.filter, user)) {
                (Ok(true), Ok(true)) => selected.push(user),
                (Ok(_), Ok(_)) => {}
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "E0000031",
                        "Invalid search criteria.",
                        &["Unsupported expression"],
                    )
                }
            }
        }
        let more = selected.len() > limit;
        selected.truncate(limit);
        let mut links = HeaderMap::new();
        links.append(
            header::LINK,
            HeaderValue::from_str(&format!("<{base}?limit={limit}>; rel=\"self\"")).unwrap(),
        );
        if let (true, Some(last)) = (more, selected.last()) {
            links.append(
                header::LINK,
                HeaderValue::from_str(&format!(
                    "<{base}?after={}&limit={limit}>; rel=\"next\"",
                    last.id
                ))
                .unwrap(),
            );
        }
        let body: Vec<Value> = selected.into_iter().map(user_json).collect();
        (links, Json(body)).into_response()
    })
}

async fn get_user(
    State(org): State<Arc<Mutex<Org>>>,
    call: Call,
    Path(id): Path<String>,
) -> Response {
    on_user(&org, &call, Bucket::UserRead, &id, |user| {
        Json(user_json(user.get())).into_response()
    })
}

/// Only ACTIVE users can be suspended (see [`NotActiveSuspend`]). A bodiless POST must say
/// `Content-Length: 0`: "Any PUT or POST request with no Content-Length header nor a body
/// will return a 411 error. To get around this, include a `Content-Length: 0` header"
/// (okta/okta-developer-docs, reference/api-overview).
async fn suspend_user(
    State(org): State<Arc<Mutex<Org>>>,
    call: Call,
    Path(id): Path<String>,
) -> Response {
    if !call.headers.contains_key(header::CONTENT_LENGTH)
        && !call.headers.contains_key(header::TRANSFER_ENCODING)
    {
        return StatusCode::LENGTH_REQUIRED.into_response();
    }
    let refusal = org.lock().unwrap().not_active_suspend;
    on_user(&org, &call, Bucket::ApiV1, &id, |mut user| {
        if user.get().status != "ACTIVE" {
            return match refusal {
                NotActiveSuspend::ValidationFailed => error(
                    StatusCode::BAD_REQUEST,
                    "E0000001",
                    "Api validation failed: suspend",
                    &["Cannot suspend a user that is not active"],
                ),
                NotActiveSuspend::NotAllowedInStatus => error(
                    StatusCode::FORBIDDEN,
                    "E0000038",
                    "This operation is not allowed in the user's current status.",
                    &[],
                ),
            };
        }
        user.get_mut().status = "SUSPENDED".into();
        Json(json!({})).into_response()
    })
}

/// Okta's two steps: the first DELETE deactivates (DEPROVISIONED), the second deletes.
async fn delete_user(
    State(org): State<Arc<Mutex<Org>>>,
    call: Call,
    Path(id): Path<String>,
) -> Response {
    on_user(&org, &call, Bucket::UserWrite, &id, |mut user| {
        if user.get().status == "DEPROVISIONED" {
            user.remove();
        } else {
            user.get_mut().status = "DEPROVISIONED".into();
        }
        StatusCode::NO_CONTENT.into_response()
    })
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    scope: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
}

#[derive(Deserialize)]
struct Assertion {
    iss: String,
    sub: String,
}

/// A token endpoint's OAuth error (RFC 6749 section 5.2), with a DPoP nonce when given.
fn oauth_error(code: &str, description: &str, nonce: Option<&str>) -> Response {
    let mut response = (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response();
    if let Some(nonce) = nonce {
        response
            .headers_mut()
            .insert("dpop-nonce", HeaderValue::from_str(nonce).expect("ascii"));
    }
    response
}

async fn token(
    State(org): State<Arc<Mutex<Org>>>,
    call: Call,
    Form(form): Form<TokenForm>,
) -> Response {
    let headers = &call.headers;
    let mut org = org.lock().unwrap();
    org.token_requests += 1;
    let rate_headers = match org.spend(Bucket::OrgAuthorizationServer) {
        Ok(rate_headers) => rate_headers,
        Err(too_many) => return too_many,
    };
    let invalid_client = || {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client", "error_description": "The client assertion is invalid."})),
        )
            .into_response()
    };
    let Some(client) = org.oauth.as_ref() else {
        return invalid_client();
    };
    if form.grant_type != "client_credentials"
        || form.client_assertion_type.as_deref()
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request"})),
        )
            .into_response();
    }
    let audience = call.htu();
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(client.public_key_pem.as_bytes()) else {
        return invalid_client();
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&audience]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let assertion = form.client_assertion.unwrap_or_default();
    let claims = match jsonwebtoken::decode::<Assertion>(&assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(_) => return invalid_client(),
    };
    if claims.iss != client.client_id || claims.sub != client.client_id {
        return invalid_client();
    }
    // Client credentials must ask for scopes, and only granted ones: Okta answers
    // `400 invalid_scope` otherwise (RFC 6749 section 5.2;
    // https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/#get-an-access-token).
    let requested: Vec<String> = form
        .scope
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if requested.is_empty()
        || requested
            .iter()
            .any(|scope| !client.granted_scopes.contains(scope))
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": "invalid_scope",
                "error_description": "One or more scopes are not configured for the authorization server resource.",
            })),
        )
            .into_response();
    }
    let (lifetime, dpop_required) = (client.token_lifetime, client.dpop_required);
    // DPoP at the token endpoint (RFC 9449 sections 5 and 8), with Okta's answers: no proof
    // is `invalid_dpop_proof` "The DPoP proof JWT header is missing." (Okta support, "The
    // DPoP Proof JWT Header Is Missing",
    // https://support.okta.com/help/s/article/the-dpop-proof-jwt-header-is-missing), a
    // proof without the current nonce `use_dpop_nonce` "Authorization server requires
    // nonce in DPoP proof." with the nonce in `DPoP-Nonce` (devforum thread above).
    let jkt = if dpop_required {
        let expected = dpop::Expected {
            method: "POST",
            htu: &audience,
            now: org.epoch_now(),
            access_token: None,
        };
        match org.check_proof(headers, &expected, true) {
            Ok(proof) => Some(proof.jkt),
            Err(ProofRefusal::Invalid(why)) => {
                return oauth_error("invalid_dpop_proof", &why, None)
            }
            Err(ProofRefusal::NonceNeeded(nonce)) => {
                return oauth_error(
                    "use_dpop_nonce",
                    "Authorization server requires nonce in DPoP proof.",
                    Some(&nonce),
                )
            }
        }
    } else {
        None
    };
    let access = format!("at-{}", uuid::Uuid::new_v4().simple());
    let scope = requested.join(" ");
    let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
    org.access_tokens.insert(
        access.clone(),
        Grant {
            scopes: requested,
            jkt,
            expires_at: Instant::now() + Duration::from_secs(lifetime),
        },
    );
    (
        rate_headers,
        Json(json!({
            "token_type": token_type,
            "expires_in": lifetime,
            "access_token": access,
            "scope": scope,
        })),
    )
        .into_response()
}

/// A fresh RSA key pair (private PKCS#8 PEM, public SPKI PEM) from the openssl CLI.
pub fn rsa_key_pair() -> (String, String) {
    let private = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl is installed");
    assert!(private.status.success());
    let mut public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    public
        .stdin
        .take()
        .unwrap()
        .write_all(&private.stdout)
        .unwrap();
    let public = public.wait_with_output().unwrap();
    (
        String::from_utf8(private.stdout).unwrap(),
        String::from_utf8(public.stdout).unwrap(),
    )
}
