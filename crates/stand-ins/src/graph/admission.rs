//! Who gets in, in order: the access token, the app's permissions, the throttling quotas,
//! then injected failures.
//!
//! Throttling follows Microsoft Graph's "Identity and access service limits"
//! (https://learn.microsoft.com/graph/throttling-limits, source
//! microsoft-graph-docs-contrib concepts/throttling-limits.md): token buckets per app and
//! tenant, one in resource units ("S: 3500, M:5000, L:8000 per 10 seconds") and one for
//! writes ("3000 per 2 minutes and 30 seconds"); a request's cost is its base cost
//! ("GET users" 2, any other identity path 1; writes 1 write unit) less 1 with `$select`
//! and less 1 with `$top` under 20, never below 1. Answers say what a request cost in
//! `x-ms-resource-unit`, and `x-ms-throttle-limit-percentage` "only when the application
//! consumed more than 0.8 of its limit"; a throttled answer is a 429 with `Retry-After`
//! (https://learn.microsoft.com/graph/throttling: "The failed response includes the
//! Retry-After field in the response header"; users are among the resources that send it)
//! and `x-ms-throttle-scope: <Scope>/<Limit>/<ApplicationId>/<TenantId>`, Limit being
//! "Read: Read requests for the scope (GET)", "Write: Write requests for the scope (POST,
//! PATCH, PUT, DELETE...)" or "ReadWrite: All Requests for the scope (any)", plus
//! `x-ms-throttle-information` (e.g. `WriteLimitExceeded`, `ResourceUnitLimitExceeded`).
//! Graph sends no limit/remaining/reset headers: clients react to 429s.
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::{error, Call, Received, Tenant};

/// A throttling quota of the app + tenant pair, named by the `Limit` part of
/// `x-ms-throttle-scope` when it runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    /// Reads (GET), counted in resource units.
    Read,
    /// Writes (PATCH, DELETE, ...), one write unit each.
    Write,
    /// Every request, counted in resource units.
    ReadWrite,
}

impl Quota {
    fn limit_name(self) -> &'static str {
        match self {
            Quota::Read => "Read",
            Quota::Write => "Write",
            Quota::ReadWrite => "ReadWrite",
        }
    }

    fn information(self) -> &'static str {
        match self {
            Quota::Write => "WriteLimitExceeded",
            Quota::Read | Quota::ReadWrite => "ResourceUnitLimitExceeded",
        }
    }

    /// What `cost` takes from this quota (0: the quota does not count it).
    fn charge(self, cost: &Cost) -> u64 {
        match self {
            Quota::Read if !cost.write => cost.resource_units,
            Quota::Write if cost.write => 1,
            Quota::ReadWrite => cost.resource_units,
            _ => 0,
        }
    }
}

/// A quota's window: `limit` units until `ends`, then a fresh window.
pub(super) struct Window {
    limit: u64,
    length: Duration,
    used: u64,
    ends: Instant,
}

impl Window {
    pub(super) fn new(limit: u64, length: Duration) -> Self {
        Self {
            limit,
            length,
            used: 0,
            ends: Instant::now() + length,
        }
    }
}

/// What a request costs (throttling-limits.md, request costs).
pub(super) struct Cost {
    pub(super) resource_units: u64,
    pub(super) write: bool,
}

impl Cost {
    /// A read with this base cost, `$select` and `$top` as the query has them.
    pub(super) fn read(base: u64, select: bool, top: Option<u64>) -> Self {
        let discount = u64::from(select) + u64::from(top.is_some_and(|top| top < 20));
        Self {
            resource_units: base.saturating_sub(discount).max(1),
            write: false,
        }
    }

    pub(super) fn write() -> Self {
        Self {
            resource_units: 1,
            write: true,
        }
    }
}

/// Permissions that let an app read users, and those that let it change them
/// (microsoft-graph-docs-contrib api-reference/v1.0/api/user-list.md and user-update.md,
/// "Permissions", Application).
const READ_ROLES: [&str; 4] = [
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const WRITE_ROLES: [&str; 2] = ["User.ReadWrite.All", "Directory.ReadWrite.All"];

/// Graph's 401 for a missing or bad token: `InvalidAuthenticationToken`, with the
/// `WWW-Authenticate: Bearer` challenge naming the authority.
fn unauthenticated(message: &str) -> Response {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthenticationToken",
        message,
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
        ),
    );
    response
}

/// Records the request, then runs the checks in order; `Err` is the answer. The headers
/// to add to any answer (`x-ms-resource-unit`, ...) come back when admitted.
pub(super) fn admit(
    tenant: &mut Tenant,
    call: &Call,
    body: Option<serde_json::Value>,
    cost: Cost,
) -> Result<HeaderMap, Response> {
    tenant.api_requests += 1;
    tenant.record(Received {
        method: call.method.to_string(),
        path_and_query: call.path_and_query.clone(),
        body,
    });
    let token = call
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let roles = match tenant.access_tokens.get(token) {
        _ if token.is_empty() => {
            tenant.rejected_auth += 1;
            return Err(unauthenticated("Access token is empty."));
        }
        Some(grant) if grant.expires_at > Instant::now() => grant.roles.clone(),
        Some(_) => {
            tenant.rejected_auth += 1;
            return Err(unauthenticated(
                "Lifetime validation failed, the token is expired.",
            ));
        }
        None => {
            tenant.rejected_auth += 1;
            return Err(unauthenticated("Access token validation failure."));
        }
    };
    let allowed: &[&str] = if cost.write {
        &WRITE_ROLES
    } else {
        &READ_ROLES
    };
    if !roles.iter().any(|role| allowed.contains(&role.as_str())) {
        // "Authorization_RequestDenied": the app lacks the application permission
        // (https://learn.microsoft.com/graph/resolve-auth-errors, 403 Forbidden).
        return Err(error(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    let headers = spend(tenant, &cost)?;
    if !tenant.failures.is_empty() {
        let status = tenant.failures.remove(0);
        let code = match status {
            StatusCode::SERVICE_UNAVAILABLE => "serviceNotAvailable",
            _ => "generalException",
        };
        return Err(error(status, code, "The service failed to answer."));
    }
    Ok(headers)
}

/// Takes the request's cost from every quota that counts it, or answers the 429 of the
/// first quota it does not fit in.
fn spend(tenant: &mut Tenant, cost: &Cost) -> Result<HeaderMap, Response> {
    let now = Instant::now();
    let scope_of = |quota: Quota| {
        let app = tenant.app.as_ref().map_or("", |app| app.client_id.as_str());
        format!(
            "Tenant_Application/{}/{app}/{}",
            quota.limit_name(),
            tenant.tenant_id
        )
    };
    let mut refusal = None;
    let mut busiest: f64 = 0.0;
    for quota in [Quota::Read, Quota::Write, Quota::ReadWrite] {
        let charge = quota.charge(cost);
        let Some(window) = tenant.quotas.get_mut(&quota).filter(|_| charge > 0) else {
            continue;
        };
        if now >= window.ends {
            window.used = 0;
            window.ends = now + window.length;
        }
        if window.used + charge > window.limit {
            let retry_after = window
                .ends
                .saturating_duration_since(now)
                .as_secs_f64()
                .ceil();
            refusal = Some((quota, (retry_after as u64).max(1)));
            break;
        }
        window.used += charge;
        busiest = busiest.max(window.used as f64 / window.limit.max(1) as f64);
    }
    if let Some((quota, retry_after)) = refusal {
        *tenant.throttled.entry(quota).or_default() += 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests.",
        );
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, retry_after.into());
        headers.insert(
            "x-ms-throttle-scope",
            HeaderValue::from_str(&scope_of(quota)).expect("ascii"),
        );
        headers.insert(
            "x-ms-throttle-information",
            HeaderValue::from_static(quota.information()),
        );
        return Err(response);
    }
    let mut headers = HeaderMap::new();
    headers.insert("x-ms-resource-unit", cost.resource_units.into());
    if busiest > 0.8 {
        headers.insert(
            "x-ms-throttle-limit-percentage",
            HeaderValue::from_str(&format!("{:.1}", busiest.min(1.8))).expect("ascii"),
        );
    }
    Ok(headers)
}
