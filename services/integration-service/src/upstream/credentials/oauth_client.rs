//! OAuth 2.0 client credentials: the `oauth_private_key_jwt` method (a signed client
//! assertion, optionally DPoP-bound) and the `oauth_client_secret` method (the secret in the
//! form, `client_secret_post`). Both share the token cache, retries and rate-limit waits.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use common::http_client::{classify_status, classify_transport, Idempotency};
use common::retry::{Retry, RetryPolicy};
use common::secrets::{Secret, SecretStore};
use reqwest::header::{HeaderMap, HeaderName, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::{read_secret, sensitive, transport_kind, AuthError, Authenticator};
use crate::upstream::dpop::{self, DpopKey};
use crate::upstream::throttle::{self, RateHeaderNames};

/// OAuth 2.0 client credentials (RFC 6749 section 4.4), the client authenticated by a
/// `private_key_jwt` assertion (RFC 7523, as Okta service apps use) or by its secret
/// (`client_secret_post`). The access token is cached until shortly before it expires.
///
/// With DPoP (configured, or learned from the token endpoint's `invalid_dpop_proof`, as
/// Okta's own SDK does: okta/terraform-provider-okta `sdk/requestExecutor.go`,
/// `getAccessTokenForPrivateKey`), every token request and every API call carries a fresh
/// proof signed with this client's [`DpopKey`], and API calls send `Authorization: DPoP`.
pub struct OauthClient {
    http: reqwest::Client,
    secrets: Arc<dyn SecretStore>,
    secret_name: String,
    client_id: String,
    authentication: ClientAuthentication,
    scopes: String,
    token_url: Url,
    policy: RetryPolicy,
    /// Held while fetching, so concurrent calls share one token request.
    cached: Mutex<Option<CachedToken>>,
    dpop: Dpop,
    /// The vendor's rate-limit headers: a 429 of the token endpoint waits for its reset.
    rate_headers: Option<RateHeaderNames>,
}

/// How the client proves who it is to the token endpoint.
#[derive(Debug, Clone)]
pub enum ClientAuthentication {
    /// A short-lived JWT signed with the tenant's key (`private_key` in the secret), named
    /// by `key_id` or, in the vendor's style, by its certificate.
    PrivateKeyJwt {
        key_id: Option<String>,
        style: AssertionStyle,
    },
    /// The client secret (`client_secret` in the secret) as a form field, Microsoft's
    /// "first case: access token request with a shared secret": `client_id`, `scope`,
    /// `client_secret`, `grant_type=client_credentials`
    /// (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
    ClientSecretPost,
}

/// How a client assertion is signed and names its key: the vendor decides. Okta: RS256
/// and `kid`. Microsoft: "alg: Should be PS256", and `x5t#S256`, the "Base64url-encoded
/// SHA-256 thumbprint of the X.509 certificate's DER encoding"
/// (learn.microsoft.com/entra/identity-platform/certificate-credentials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssertionStyle {
    pub alg: jsonwebtoken::Algorithm,
    /// Name the key by its certificate's `x5t#S256` (the secret then holds `certificate`,
    /// PEM, beside `private_key`) instead of the tenant's `key_id` as `kid`.
    pub certificate_thumbprint: bool,
}

impl Default for AssertionStyle {
    fn default() -> Self {
        Self {
            alg: jsonwebtoken::Algorithm::RS256,
            certificate_thumbprint: false,
        }
    }
}

/// What the client authenticates with, read from the tenant's secret.
enum ClientCredential {
    Key(SigningKey, AssertionStyle),
    Secret(Secret),
}

/// The tenant's signing material, read from its secret.
struct SigningKey {
    private_key: Secret,
    /// `x5t#S256`, when the style names the key by its certificate.
    thumbprint: Option<String>,
}

/// base64url(SHA-256(DER)) of the first certificate of a PEM text.
pub fn certificate_thumbprint(pem: &str) -> Result<String, String> {
    use base64::Engine;
    let body: String = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END CERTIFICATE-----").next())
        .ok_or("no CERTIFICATE block")?
        .split_whitespace()
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "the CERTIFICATE block is not base64")?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der)))
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
    /// A 429: the token endpoint's quota comes back after this long.
    RateLimited(Duration),
    Final(AuthError),
    /// A DPoP demand that the request loop answers, or that ends it (see `bound_token`).
    Dpop(DpopDemand),
}

impl OauthClient {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        http: reqwest::Client,
        secrets: Arc<dyn SecretStore>,
        secret_name: String,
        client_id: String,
        authentication: ClientAuthentication,
        scopes: &[String],
        token_url: Url,
        policy: RetryPolicy,
        dpop: bool,
        rate_headers: Option<RateHeaderNames>,
    ) -> Self {
        let client = Self {
            http,
            secrets,
            secret_name,
            client_id,
            authentication,
            scopes: scopes.join(" "),
            token_url,
            policy,
            cached: Mutex::new(None),
            dpop: Dpop::default(),
            rate_headers,
        };
        if dpop {
            client.dpop.enabled.store(true, Ordering::Relaxed);
            client.dpop.key();
        }
        client
    }

    /// A fresh, short-lived client assertion signed with the tenant's RSA key.
    fn assertion(&self, signing: &SigningKey, style: AssertionStyle) -> Result<String, AuthError> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(signing.private_key.expose().as_bytes())
            .map_err(|_| {
                AuthError::Missing(format!(
                    "secret {} does not hold an RSA private key in PEM",
                    self.secret_name
                ))
            })?;
        let mut header = jsonwebtoken::Header::new(style.alg);
        match (&signing.thumbprint, &self.authentication) {
            (Some(thumbprint), _) => header.x5t_s256 = Some(thumbprint.clone()),
            (None, ClientAuthentication::PrivateKeyJwt { key_id, .. }) => {
                header.kid = key_id.clone()
            }
            (None, ClientAuthentication::ClientSecretPost) => {}
        }
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
        credential: &ClientCredential,
        deadline: Instant,
    ) -> Result<CachedToken, TokenFailure> {
        let mut form = vec![
            ("grant_type", "client_credentials".to_owned()),
            ("scope", self.scopes.clone()),
        ];
        match credential {
            ClientCredential::Key(signing, style) => {
                let assertion = self
                    .assertion(signing, *style)
                    .map_err(TokenFailure::Final)?;
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ));
                form.push(("client_assertion", assertion));
            }
            ClientCredential::Secret(secret) => {
                form.push(("client_id", self.client_id.clone()));
                form.push(("client_secret", secret.expose().to_owned()));
            }
        }
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
            .form(&form)
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
        if status == StatusCode::TOO_MANY_REQUESTS {
            // Okta's org authorization server is its own bucket (`/oauth2/v1`,
            // developer.okta.com/docs/reference/rl-global-mgmt) and says when it resets in
            // X-Rate-Limit-Reset, not Retry-After: wait for that, not a 200 ms backoff.
            let wait = self
                .rate_headers
                .as_ref()
                .and_then(|names| throttle::wait_for_reset(&headers, &names.reset))
                .or_else(|| common::http_client::retry_after(&headers))
                .unwrap_or(Duration::from_secs(1));
            return Err(TokenFailure::RateLimited(wait));
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
                "token endpoint refused the client's credentials ({code})"
            ))),
        })
    }

    /// One token, answering the token endpoint's DPoP demands: a refusal for want of a
    /// proof turns DPoP on, and a demand for a nonce is answered once with the nonce just
    /// handed out. At most three requests; a demand repeated after it was answered ends
    /// it (a server that never settles on a nonce is not helped by more requests).
    async fn bound_token(
        &self,
        credential: &ClientCredential,
        deadline: Instant,
    ) -> Result<CachedToken, TokenFailure> {
        let mut nonce_answered = false;
        loop {
            match self.request_token(credential, deadline).await {
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

    /// The client secret, or the private key and the certificate's thumbprint when the
    /// style needs it.
    async fn credential(&self) -> Result<ClientCredential, AuthError> {
        let style = match &self.authentication {
            ClientAuthentication::ClientSecretPost => {
                return Ok(ClientCredential::Secret(
                    read_secret(self.secrets.as_ref(), &self.secret_name, "client_secret").await?,
                ))
            }
            ClientAuthentication::PrivateKeyJwt { style, .. } => *style,
        };
        let private_key =
            read_secret(self.secrets.as_ref(), &self.secret_name, "private_key").await?;
        let thumbprint = if style.certificate_thumbprint {
            let certificate =
                read_secret(self.secrets.as_ref(), &self.secret_name, "certificate").await?;
            Some(certificate_thumbprint(certificate.expose()).map_err(|why| {
                AuthError::Missing(format!(
                    "secret {}: `certificate` is not a PEM certificate ({why})",
                    self.secret_name
                ))
            })?)
        } else {
            None
        };
        Ok(ClientCredential::Key(
            SigningKey {
                private_key,
                thumbprint,
            },
            style,
        ))
    }

    async fn fetch(&self, deadline: Instant) -> Result<CachedToken, AuthError> {
        let policy = RetryPolicy {
            deadline: deadline.saturating_duration_since(Instant::now()),
            ..self.policy.clone()
        };
        let mut reread_secret = true;
        loop {
            let key = self.credential().await?;
            let result = policy
                .run(
                    |_| self.bound_token(&key, deadline),
                    |failure| match failure {
                        TokenFailure::Retryable(_, retry) => *retry,
                        TokenFailure::RateLimited(wait) if Instant::now() + *wait <= deadline => {
                            Retry::After(*wait)
                        }
                        TokenFailure::RateLimited(_)
                        | TokenFailure::Final(_)
                        | TokenFailure::Dpop(_) => Retry::No,
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
                Err(TokenFailure::RateLimited(wait)) => return Err(AuthError::RateLimited(wait)),
                // A rejected key may have been rotated since we cached it: read it again once.
                Err(TokenFailure::Final(AuthError::Rejected(why))) if reread_secret => {
                    tracing::warn!(why, "client credentials rejected; re-reading the secret");
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
impl Authenticator for OauthClient {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh RSA key (PKCS#8 PEM) and a self-signed certificate of it, from openssl.
    fn key_and_certificate() -> (String, String) {
        let output = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "-",
            ])
            .args(["-subj", "/CN=integration-test", "-days", "1"])
            .output()
            .expect("openssl is installed");
        assert!(output.status.success());
        let pem = String::from_utf8(output.stdout).unwrap();
        let (key, certificate) = pem.split_once("-----BEGIN CERTIFICATE-----").unwrap();
        (
            key.to_owned(),
            format!("-----BEGIN CERTIFICATE-----{certificate}"),
        )
    }

    fn openssl_sha256_fingerprint(certificate: &str) -> Vec<u8> {
        use std::io::Write;
        let mut child = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(certificate.as_bytes())
            .unwrap();
        let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        let hex = out.trim().rsplit('=').next().unwrap().replace(':', "");
        hex::decode(hex).unwrap()
    }

    /// `client_secret_post` as Microsoft's identity platform takes it: the secret and the
    /// client id in the form, no assertion; the token then authorises API calls.
    #[tokio::test]
    async fn a_client_secret_is_posted_in_the_form_and_its_token_is_the_bearer() {
        use std::sync::Mutex as StdMutex;
        let forms = Arc::new(StdMutex::new(Vec::<Vec<(String, String)>>::new()));
        let seen = forms.clone();
        let router = axum::Router::new().route(
            "/t1/oauth2/v2.0/token",
            axum::routing::post(
                move |axum::extract::Form(form): axum::extract::Form<Vec<(String, String)>>| {
                    let seen = seen.clone();
                    async move {
                        seen.lock().unwrap().push(form);
                        axum::Json(serde_json::json!({
                            "token_type": "Bearer", "expires_in": 3599, "access_token": "at-1"
                        }))
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let token_url = Url::parse(&format!(
            "http://{}/t1/oauth2/v2.0/token",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        std::env::set_var("SECRET_CLIENT_SECRET_TEST_GRAPH", "s3cret~value");
        let client = OauthClient::new(
            common::http_client::client(Duration::from_secs(2)),
            Arc::new(common::secrets::EnvSecretStore),
            "client-secret-test/graph".into(),
            "app-1".into(),
            ClientAuthentication::ClientSecretPost,
            &["https://graph.microsoft.com/.default".to_owned()],
            token_url,
            RetryPolicy::default(),
            false,
            None,
        );
        for _ in 0..2 {
            let mut request = reqwest::Request::new(
                Method::GET,
                Url::parse("https://graph.microsoft.com/v1.0/users").unwrap(),
            );
            client
                .authorize(&mut request, Instant::now() + Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(request.headers()[AUTHORIZATION], "Bearer at-1");
        }
        let forms = forms.lock().unwrap().clone();
        assert_eq!(forms.len(), 1, "the token is cached");
        let mut form = forms[0].clone();
        form.sort();
        assert_eq!(
            form,
            [
                ("client_id".to_owned(), "app-1".to_owned()),
                ("client_secret".to_owned(), "s3cret~value".to_owned()),
                ("grant_type".to_owned(), "client_credentials".to_owned()),
                (
                    "scope".to_owned(),
                    "https://graph.microsoft.com/.default".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_ps256_assertion_names_its_key_by_the_certificate_s_sha256_thumbprint() {
        use base64::Engine;
        let (private_key, certificate) = key_and_certificate();
        let thumbprint = certificate_thumbprint(&certificate).unwrap();
        assert_eq!(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&thumbprint)
                .unwrap(),
            openssl_sha256_fingerprint(&certificate),
            "base64url of the SHA-256 of the DER, as openssl computes it"
        );
        let token_url =
            Url::parse("https://login.microsoftonline.com/t1/oauth2/v2.0/token").unwrap();
        let style = AssertionStyle {
            alg: jsonwebtoken::Algorithm::PS256,
            certificate_thumbprint: true,
        };
        let client = OauthClient::new(
            common::http_client::client(Duration::from_secs(1)),
            Arc::new(common::secrets::EnvSecretStore),
            "unused".into(),
            "app-1".into(),
            ClientAuthentication::PrivateKeyJwt {
                key_id: Some("ignored-kid".into()),
                style,
            },
            &["https://graph.microsoft.com/.default".to_owned()],
            token_url.clone(),
            RetryPolicy::default(),
            false,
            None,
        );
        let assertion = client
            .assertion(
                &SigningKey {
                    private_key: Secret::new(private_key),
                    thumbprint: Some(thumbprint.clone()),
                },
                style,
            )
            .unwrap();
        let header = jsonwebtoken::decode_header(&assertion).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::PS256);
        assert_eq!(header.x5t_s256.as_deref(), Some(thumbprint.as_str()));
        assert_eq!(header.kid, None, "the thumbprint names the key, not kid");
        // It verifies with the certificate's public key, for the token endpoint.
        let public = std::process::Command::new("sh")
            .args([
                "-c",
                &format!("printf '%s' \"{certificate}\" | openssl x509 -noout -pubkey"),
            ])
            .output()
            .unwrap()
            .stdout;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::PS256);
        validation.set_audience(&[token_url.as_str()]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            &assertion,
            &jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(
            (claims["iss"].as_str(), claims["sub"].as_str()),
            (Some("app-1"), Some("app-1"))
        );
        assert!(certificate_thumbprint("no certificate here").is_err());
    }
}
