//! Who gets in, in Okta's order: the credential (SSWS API token, or an access token sent
//! as Bearer or DPoP-bound), the scope the endpoint needs, injected failures, then the
//! endpoint's rate-limit bucket.
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::{error, httpdate, Call, Org};
use crate::dpop;

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

/// What one bucket has seen: requests counted against it, and those answered 429.
#[derive(Default)]
pub(super) struct BucketCount {
    pub(super) requests: usize,
    pub(super) throttled: usize,
}

/// A window of `limit` requests that resets at the advertised epoch second, as Okta's do.
pub(super) struct RateLimit {
    pub(super) limit: u64,
    pub(super) window: Duration,
    pub(super) used: u64,
    pub(super) window_reset_epoch: u64,
}

pub(super) const USERS_READ: &str = "okta.users.read";
pub(super) const USERS_MANAGE: &str = "okta.users.manage";

impl Org {
    /// Counts a request in `bucket`'s window: the `Date` and rate-limit headers of the
    /// answer, or the 429 once the window is used up.
    pub(super) fn spend(&mut self, bucket: Bucket) -> Result<HeaderMap, Response> {
        let mut rate_headers = HeaderMap::new();
        // The org's own clock, which `X-Rate-Limit-Reset` is relative to (okta-sdk-golang
        // computes its wait as `X-Rate-Limit-Reset - Date`, okta/requestExecutor.go).
        let now = self.epoch_now();
        rate_headers.insert(
            header::DATE,
            HeaderValue::from_str(&httpdate(now)).expect("a date is a valid header"),
        );
        let count = self.bucket_counts.entry(bucket).or_default();
        count.requests += 1;
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
                count.throttled += 1;
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

    /// A new DPoP nonce, accepted from now on.
    fn dpop_nonce(&mut self) -> String {
        let nonce = format!("n-{}", uuid::Uuid::new_v4().simple());
        self.dpop_nonces.insert(nonce.clone());
        nonce
    }

    /// Checks the request's one `DPoP` header against `expected` and the org's state
    /// (unused `jti`; a current nonce when `nonce_needed`). `Err` is the refusal.
    pub(super) fn check_proof(
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
pub(super) enum ProofRefusal {
    Invalid(String),
    /// The proof needs this nonce (handed out in `DPoP-Nonce`).
    NonceNeeded(String),
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
pub(super) fn admitted(
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
