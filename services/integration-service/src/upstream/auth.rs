//! How the service authenticates to a tenant's upstream API. One implementation per
//! method; the tenant configuration picks one, so an integration never sees credentials.
//!
//! Credentials come from the [`SecretStore`]; when the upstream rejects them the
//! [`Upstream`](super::Upstream) calls [`Authenticator::invalidate`] and tries once more,
//! which picks up a rotated secret without a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use common::http_client::{classify_status, classify_transport, Idempotency};
use common::retry::{Retry, RetryPolicy};
use common::secrets::{Secret, SecretError, SecretStore};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::dpop::{self, DpopKey};

/// Why a request could not be given credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// The upstream's token endpoint refused the tenant's credentials.
    #[error("credentials rejected: {0}")]
    Rejected(String),
    /// The tenant's secret does not exist or is not usable (operator mistake).
    #[error("credentials missing: {0}")]
    Missing(String),
    /// The secret store or the token endpoint did not answer (after retries).
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Authenticator: Send + Sync {
    /// Adds credentials to `request` (fetching and caching whatever they need).
    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        deadline: Instant,
    ) -> Result<(), AuthError>;
    /// The upstream rejected the credentials: forget every cached piece of them.
    async fn invalidate(&self);
    /// Reads what an upstream answer tells the credentials (a DPoP nonce). True when the
    /// answer is a 401 asking for a nonce just handed out: the request should be sent again
    /// at once, with the same credentials and a fresh proof.
    fn challenged(&self, _status: StatusCode, _headers: &HeaderMap) -> bool {
        false
    }
}

fn sensitive(value: String) -> HeaderValue {
    let mut value = HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// Reads one credential from a secret that is either the bare value or a JSON object
/// holding it under `field` (so one secret can carry several fields).
async fn read_secret(
    secrets: &dyn SecretStore,
    name: &str,
    field: &str,
) -> Result<Secret, AuthError> {
    let secret = secrets.get(name).await.map_err(|error| match error {
        SecretError::NotFound(_) => AuthError::Missing(format!("secret {name} does not exist")),
        SecretError::Unavailable(_) => {
            tracing::warn!(%error, "secret store unavailable");
            AuthError::Unavailable("the secret store is unavailable".into())
        }
    })?;
    let raw = secret.expose().trim();
    if !raw.starts_with('{') {
        return Ok(Secret::new(raw));
    }
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|json| json.get(field)?.as_str().map(Secret::new))
        .ok_or_else(|| AuthError::Missing(format!("secret {name} has no string field `{field}`")))
}

// ---------------------------------------------------------------------------------------

/// Okta API token: `Authorization: SSWS <token>`.
pub struct ApiToken {
    secrets: Arc<dyn SecretStore>,
    secret_name: String,
}

impl ApiToken {
    pub fn new(secrets: Arc<dyn SecretStore>, secret_name: String) -> Self {
        Self {
            secrets,
            secret_name,
        }
    }
}

#[async_trait]
impl Authenticator for ApiToken {
    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        _deadline: Instant,
    ) -> Result<(), AuthError> {
        let token = read_secret(self.secrets.as_ref(), &self.secret_name, "api_token").await?;
        request
            .headers_mut()
            .insert(AUTHORIZATION, sensitive(format!("SSWS {}", token.expose())));
        Ok(())
    }

    async fn invalidate(&self) {
        self.secrets.invalidate(&self.secret_name).await;
    }
}

// ---------------------------------------------------------------------------------------

/// OAuth 2.0 client credentials with a `private_key_jwt` client assertion (RFC 7523),
/// as Okta service apps use. The access token is cached until shortly before it expires.
///
/// With DPoP (configured, or learned from the token endpoint's `invalid_dpop_proof`, as
/// Okta's own SDK does: okta/terraform-provider-okta `sdk/requestExecutor.go`,
/// `getAccessTokenForPrivateKey`), every token request and every API call carries a fresh
/// proof signed with this client's [`DpopKey`], and API calls send `Authorization: DPoP`.
pub struct OauthPrivateKeyJwt {
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    secret_name: String,
    client_id: String,
    key_id: Option<String>,
    scopes: String,
    token_url: Url,
    policy: RetryPolicy,
    /// Held while fetching, so concurrent calls share one token request.
    cached: Mutex<Option<CachedToken>>,
    dpop: Dpop,
}

struct CachedToken {
    token: Secret,
    refresh_at: Instant,
    /// `token_type: DPoP`: bound to the DPoP key, sent as `Authorization: DPoP`.
    bound: bool,
}

/// The client's DPoP state: whether it is on, its key, and the last nonce each server
/// (token endpoint, API) handed out (RFC 9449 sections 8 and 9).
#[derive(Default)]
struct Dpop {
    enabled: AtomicBool,
    key: OnceLock<DpopKey>,
    token_nonce: std::sync::Mutex<Option<String>>,
    resource_nonce: std::sync::Mutex<Option<String>>,
}

impl Dpop {
    fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    fn key(&self) -> &DpopKey {
        self.key.get_or_init(DpopKey::generate)
    }

    fn remember(slot: &std::sync::Mutex<Option<String>>, headers: &HeaderMap) {
        if let Some(nonce) = dpop::nonce_of(headers) {
            *slot.lock().expect("never poisoned") = Some(nonce);
        }
    }

    fn nonce(slot: &std::sync::Mutex<Option<String>>) -> Option<String> {
        slot.lock().expect("never poisoned").clone()
    }
}

/// What a token endpoint asked of DPoP (RFC 9449 sections 5 and 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DpopDemand {
    /// `400 invalid_dpop_proof`: a proof is missing or was refused.
    Proof,
    /// `400 use_dpop_nonce`: the proof must carry the nonce of `DPoP-Nonce`.
    Nonce,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    token_type: Option<String>,
}

/// What one token request came to.
enum TokenFailure {
    Retryable(String, Retry),
    Final(AuthError),
    /// A DPoP demand that the request loop answers, or that ends it (see `bound_token`).
    Dpop(DpopDemand),
}

impl OauthPrivateKeyJwt {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        http: reqwest::Client,
        secrets: Arc<dyn SecretStore>,
        secret_name: String,
        client_id: String,
        key_id: Option<String>,
        scopes: &[String],
        token_url: Url,
        policy: RetryPolicy,
        dpop: bool,
    ) -> Self {
        let client = Self {
            http,
            secrets,
            secret_name,
            client_id,
            key_id,
            scopes: scopes.join(" "),
            token_url,
            policy,
            cached: Mutex::new(None),
            dpop: Dpop::default(),
        };
        if dpop {
            client.dpop.enabled.store(true, Ordering::Relaxed);
            client.dpop.key();
        }
        client
    }

    /// A fresh, short-lived client assertion signed with the tenant's RSA key.
    fn assertion(&self, private_key: &Secret) -> Result<String, AuthError> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key.expose().as_bytes())
            .map_err(|_| {
                AuthError::Missing(format!(
                    "secret {} does not hold an RSA private key in PEM",
                    self.secret_name
                ))
            })?;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.key_id.clone();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = AssertionClaims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: self.token_url.as_str(),
            iat: now,
            exp: now + 300,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&header, &claims, &key)
            .map_err(|error| AuthError::Missing(format!("signing the client assertion: {error}")))
    }

    async fn request_token(
        &self,
        private_key: &Secret,
        deadline: Instant,
    ) -> Result<CachedToken, TokenFailure> {
        let assertion = self.assertion(private_key).map_err(TokenFailure::Final)?;
        let timeout = deadline.saturating_duration_since(Instant::now());
        let mut request = self.http.post(self.token_url.clone());
        if self.dpop.enabled() {
            let nonce = Dpop::nonce(&self.dpop.token_nonce);
            let proof =
                self.dpop
                    .key()
                    .proof(&Method::POST, &self.token_url, nonce.as_deref(), None);
            request = request.header(dpop::DPOP_HEADER, sensitive(proof));
        }
        let response = request
            .timeout(timeout.max(Duration::from_millis(1)))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", self.scopes.as_str()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|error| {
                let retry = classify_transport(&error, Idempotency::Idempotent);
                TokenFailure::Retryable(
                    format!("token endpoint: {}", transport_kind(&error)),
                    retry,
                )
            })?;
        let status = response.status();
        let headers = response.headers().clone();
        if self.dpop.enabled() {
            Dpop::remember(&self.dpop.token_nonce, &headers);
        }
        let body = response.bytes().await.map_err(|error| {
            TokenFailure::Retryable(
                format!("token endpoint: {}", transport_kind(&error)),
                Retry::Backoff,
            )
        })?;
        if status.is_success() {
            let token: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
                TokenFailure::Retryable(
                    "token endpoint: unreadable response".into(),
                    Retry::Backoff,
                )
            })?;
            let lifetime = Duration::from_secs(token.expires_in.unwrap_or(300));
            // Refresh a little early so no request leaves with a token about to expire.
            let margin = (lifetime / 10).min(Duration::from_secs(60));
            // A server that ignored the proof issues a Bearer token (RFC 9449 section 5).
            let bound = self.dpop.enabled()
                && token
                    .token_type
                    .is_some_and(|kind| kind.eq_ignore_ascii_case("DPoP"));
            return Ok(CachedToken {
                token: Secret::new(token.access_token),
                refresh_at: Instant::now() + lifetime - margin,
                bound,
            });
        }
        let retry = classify_status(status, &headers, Idempotency::Idempotent);
        if retry != Retry::No {
            return Err(TokenFailure::Retryable(
                format!("token endpoint answered {status}"),
                retry,
            ));
        }
        // The OAuth error code (`invalid_client`, ...) is safe to surface; descriptions may
        // echo request details, so they stay out.
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|json| json.get("error")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| status.to_string());
        Err(match code.as_str() {
            "invalid_dpop_proof" => TokenFailure::Dpop(DpopDemand::Proof),
            "use_dpop_nonce" => TokenFailure::Dpop(DpopDemand::Nonce),
            _ => TokenFailure::Final(AuthError::Rejected(format!(
                "token endpoint refused the client assertion ({code})"
            ))),
        })
    }

    /// One token, answering the token endpoint's DPoP demands: a refusal for want of a
    /// proof turns DPoP on, and a demand for a nonce is answered once with the nonce just
    /// handed out. At most three requests; a demand repeated after it was answered ends
    /// it (a server that never settles on a nonce is not helped by more requests).
    async fn bound_token(
        &self,
        private_key: &Secret,
        deadline: Instant,
    ) -> Result<CachedToken, TokenFailure> {
        let mut nonce_answered = false;
        loop {
            match self.request_token(private_key, deadline).await {
                Err(TokenFailure::Dpop(DpopDemand::Proof)) if !self.dpop.enabled() => {
                    tracing::warn!(
                        client_id = %self.client_id,
                        "the token endpoint requires DPoP proofs; using them from now on \
                         (\"dpop\": true in the tenant's auth saves this refused request)"
                    );
                    self.dpop.enabled.store(true, Ordering::Relaxed);
                }
                Err(TokenFailure::Dpop(DpopDemand::Nonce)) if !nonce_answered => {
                    nonce_answered = true;
                }
                other => return other,
            }
        }
    }

    async fn fetch(&self, deadline: Instant) -> Result<CachedToken, AuthError> {
        let policy = RetryPolicy {
            deadline: deadline.saturating_duration_since(Instant::now()),
            ..self.policy.clone()
        };
        let mut reread_secret = true;
        loop {
            let key = read_secret(self.secrets.as_ref(), &self.secret_name, "private_key").await?;
            let result = policy
                .run(
                    |_| self.bound_token(&key, deadline),
                    |failure| match failure {
                        TokenFailure::Retryable(_, retry) => *retry,
                        TokenFailure::Final(_) | TokenFailure::Dpop(_) => Retry::No,
                    },
                    |attempt, failure, _| {
                        if let TokenFailure::Retryable(why, _) = failure {
                            tracing::warn!(attempt, why, "token request failed; retrying");
                        }
                    },
                )
                .await;
            match result {
                Ok(token) => return Ok(token),
                Err(TokenFailure::Retryable(why, _)) => return Err(AuthError::Unavailable(why)),
                // A rejected key may have been rotated since we cached it: read it again once.
                Err(TokenFailure::Final(AuthError::Rejected(why))) if reread_secret => {
                    tracing::warn!(why, "client assertion rejected; re-reading the key");
                    self.secrets.invalidate(&self.secret_name).await;
                    reread_secret = false;
                }
                Err(TokenFailure::Final(error)) => return Err(error),
                // Not the key's fault: re-reading it would change nothing.
                Err(TokenFailure::Dpop(DpopDemand::Proof)) => {
                    return Err(AuthError::Rejected(
                        "token endpoint refused the DPoP proof (invalid_dpop_proof)".into(),
                    ))
                }
                Err(TokenFailure::Dpop(DpopDemand::Nonce)) => {
                    return Err(AuthError::Rejected(
                        "token endpoint asked for a new DPoP nonce again after one was sent \
                         (use_dpop_nonce)"
                            .into(),
                    ))
                }
            }
        }
    }
}

#[async_trait]
impl Authenticator for OauthPrivateKeyJwt {
    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        deadline: Instant,
    ) -> Result<(), AuthError> {
        let mut cached = self.cached.lock().await;
        let (token, bound) = match cached.as_ref() {
            Some(token) if Instant::now() < token.refresh_at => (token.token.clone(), token.bound),
            _ => {
                let fresh = self.fetch(deadline).await?;
                let token = (fresh.token.clone(), fresh.bound);
                *cached = Some(fresh);
                token
            }
        };
        drop(cached);
        if !bound {
            request.headers_mut().insert(
                AUTHORIZATION,
                sensitive(format!("Bearer {}", token.expose())),
            );
            return Ok(());
        }
        // RFC 9449 section 7: `Authorization: DPoP <token>` and a proof of this very
        // request, `ath` tying it to the token (Okta: "Make a request to an Okta resource",
        // okta/okta-developer-docs `guides/dpop/main/oktaresourceserver/requestresource.md`).
        let nonce = Dpop::nonce(&self.dpop.resource_nonce);
        let proof = self.dpop.key().proof(
            request.method(),
            request.url(),
            nonce.as_deref(),
            Some(token.expose()),
        );
        let headers = request.headers_mut();
        headers.insert(AUTHORIZATION, sensitive(format!("DPoP {}", token.expose())));
        headers.insert(HeaderName::from_static(dpop::DPOP_HEADER), sensitive(proof));
        Ok(())
    }

    async fn invalidate(&self) {
        *self.cached.lock().await = None;
        self.secrets.invalidate(&self.secret_name).await;
    }

    fn challenged(&self, status: StatusCode, headers: &HeaderMap) -> bool {
        if !self.dpop.enabled() {
            return false;
        }
        Dpop::remember(&self.dpop.resource_nonce, headers);
        status == StatusCode::UNAUTHORIZED
            && dpop::asks_for_nonce(headers)
            && dpop::nonce_of(headers).is_some()
    }
}

// ---------------------------------------------------------------------------------------

pub const CHECKSUM_HEADER: &str = "x-request-checksum";
pub const TOKEN_HEADER: &str = "super-secure-token";

/// `hex(sha256(token + request_path))`.
pub fn checksum(token: &str, request_path: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    hasher.update(request_path.as_bytes());
    hex::encode(hasher.finalize())
}

/// The partner scheme: `GET <base>/auth` answers with a token in `Super-Secure-Token`;
/// every call carries `X-Request-Checksum: hex(sha256(token + request path))`. The token
/// is kept until the partner rejects a checksum made with it.
pub struct ChecksumToken {
    http: reqwest::Client,
    auth_url: Url,
    timeout: Duration,
    policy: RetryPolicy,
    token: Mutex<Option<Secret>>,
}

impl ChecksumToken {
    pub fn new(
        http: reqwest::Client,
        base_url: &Url,
        timeout: Duration,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            http,
            auth_url: super::join(base_url, "/auth"),
            timeout,
            policy,
            token: Mutex::new(None),
        }
    }

    async fn request_token(&self, deadline: Instant) -> Result<Secret, (String, Retry)> {
        let timeout = self
            .timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let response = self
            .http
            .get(self.auth_url.clone())
            .timeout(timeout.max(Duration::from_millis(1)))
            .send()
            .await
            .map_err(|error| {
                (
                    format!("GET /auth: {}", transport_kind(&error)),
                    classify_transport(&error, Idempotency::Idempotent),
                )
            })?;
        let status = response.status();
        if !status.is_success() {
            let retry = classify_status(status, response.headers(), Idempotency::Idempotent);
            return Err((format!("GET /auth answered {status}"), retry));
        }
        let token = response
            .headers()
            .get(TOKEN_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(Secret::new);
        // Read the body so a connection dropped mid-response counts as a failed attempt.
        response.bytes().await.map_err(|error| {
            (
                format!("GET /auth: {}", transport_kind(&error)),
                Retry::Backoff,
            )
        })?;
        token.ok_or_else(|| {
            (
                "GET /auth answered without a Super-Secure-Token header".to_owned(),
                Retry::Backoff,
            )
        })
    }
}

#[async_trait]
impl Authenticator for ChecksumToken {
    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        deadline: Instant,
    ) -> Result<(), AuthError> {
        let mut cached = self.token.lock().await;
        let token = match cached.as_ref() {
            Some(token) => token.clone(),
            None => {
                let policy = RetryPolicy {
                    deadline: deadline.saturating_duration_since(Instant::now()),
                    ..self.policy.clone()
                };
                let token = policy
                    .run(
                        |_| self.request_token(deadline),
                        |(_, retry)| *retry,
                        |attempt, (why, _), _| {
                            tracing::warn!(attempt, why, "partner auth failed; retrying")
                        },
                    )
                    .await
                    .map_err(|(why, retry)| match retry {
                        Retry::No => AuthError::Rejected(why),
                        _ => AuthError::Unavailable(format!(
                            "{why} (after {} attempts)",
                            self.policy.max_attempts
                        )),
                    })?;
                *cached = Some(token.clone());
                token
            }
        };
        drop(cached);
        let path = match request.url().query() {
            Some(query) => format!("{}?{query}", request.url().path()),
            None => request.url().path().to_owned(),
        };
        request.headers_mut().insert(
            HeaderName::from_static(CHECKSUM_HEADER),
            sensitive(checksum(token.expose(), &path)),
        );
        Ok(())
    }

    async fn invalidate(&self) {
        *self.token.lock().await = None;
    }
}

/// A transport error described without its URL (which may carry query data).
pub fn transport_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "connection dropped while reading the response"
    } else {
        "request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_the_partner_vector() {
        assert_eq!(
            checksum("12345", "/providers"),
            "bf6fa075e6d928d530fd4516e1671526ff1fe7f953209f0941553927bf16e9f8"
        );
    }

    #[tokio::test]
    async fn secrets_may_be_bare_or_json_fields() {
        std::env::set_var("SECRET_AUTH_TEST_BARE", "tok-1");
        std::env::set_var(
            "SECRET_AUTH_TEST_JSON",
            r#"{"api_token": "tok-2", "other": 1}"#,
        );
        let store = common::secrets::EnvSecretStore;
        let bare = read_secret(&store, "auth-test/bare", "api_token")
            .await
            .unwrap();
        assert_eq!(bare.expose(), "tok-1");
        let json = read_secret(&store, "auth-test/json", "api_token")
            .await
            .unwrap();
        assert_eq!(json.expose(), "tok-2");
        let missing = read_secret(&store, "auth-test/json", "private_key").await;
        assert!(matches!(missing, Err(AuthError::Missing(m)) if m.contains("private_key")));
        let absent = read_secret(&store, "auth-test/absent", "api_token").await;
        assert!(matches!(absent, Err(AuthError::Missing(_))));
    }
}
