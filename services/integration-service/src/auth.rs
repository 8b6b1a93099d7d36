//! Callers: OpenID Connect bearer access tokens (JWT), checked against the issuer's JWKS
//! (found through its discovery document), with `iss`, `aud`, expiry and scopes.
//!
//! Stopgap: the platform's shared verifier (`common::auth`) did not exist yet when this
//! service was written. It keeps the same contract (401/403 problems with
//! `WWW-Authenticate`, scopes from `scope`/`scp`), so replacing it is local to this file.
use std::collections::HashSet;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use common::Problem;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;
use tokio::time::Instant;

use crate::state::AppState;

/// Unknown key ids trigger a JWKS refresh at most this often (key rotation vs. abuse).
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

pub struct OidcVerifier {
    issuer: String,
    audience: String,
    http: reqwest::Client,
    keys: RwLock<Keys>,
}

#[derive(Default)]
struct Keys {
    set: Option<JwkSet>,
    fetched_at: Option<Instant>,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    client_id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<Vec<String>>,
}

/// A verified caller and its scopes.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: String,
    pub scopes: HashSet<String>,
}

impl Caller {
    /// 403 unless the token carries `scope`.
    pub fn require(&self, scope: &str) -> Result<(), Problem> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(
                Problem::forbidden(format!("This needs scope {scope}")).header(
                    header::WWW_AUTHENTICATE,
                    format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
                ),
            )
        }
    }
}

fn invalid_token(detail: &str) -> Problem {
    Problem::unauthorized(detail.to_owned())
        .header(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")
}

impl OidcVerifier {
    pub fn new(issuer: String, audience: String) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            audience,
            http: common::http_client::client(Duration::from_secs(5)),
            keys: RwLock::new(Keys::default()),
        }
    }

    async fn fetch_keys(&self) -> Result<JwkSet, Problem> {
        let unavailable = |what: &str| {
            tracing::warn!(issuer = %self.issuer, "{what}");
            Problem::unavailable("The identity provider is unavailable; retry shortly")
        };
        let discovery: Discovery = self
            .http
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|_| unavailable("OIDC discovery failed"))?
            .json()
            .await
            .map_err(|_| unavailable("OIDC discovery unreadable"))?;
        self.http
            .get(discovery.jwks_uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|_| unavailable("JWKS fetch failed"))?
            .json()
            .await
            .map_err(|_| unavailable("JWKS unreadable"))
    }

    /// The key for `kid`, refreshing the JWKS when it is unknown (keys rotate).
    async fn key(&self, kid: &str) -> Result<DecodingKey, Problem> {
        {
            let keys = self.keys.read().await;
            if let Some(jwk) = keys.set.as_ref().and_then(|set| set.find(kid)) {
                return DecodingKey::from_jwk(jwk)
                    .map_err(|_| invalid_token("Unusable signing key"));
            }
            let recent = keys
                .fetched_at
                .is_some_and(|at| at.elapsed() < MIN_REFRESH_INTERVAL);
            if recent {
                return Err(invalid_token("The token's signing key is unknown"));
            }
        }
        let mut keys = self.keys.write().await;
        let set = self.fetch_keys().await?;
        keys.set = Some(set);
        keys.fetched_at = Some(Instant::now());
        let jwk = keys
            .set
            .as_ref()
            .and_then(|set| set.find(kid))
            .ok_or_else(|| invalid_token("The token's signing key is unknown"))?;
        DecodingKey::from_jwk(jwk).map_err(|_| invalid_token("Unusable signing key"))
    }

    pub async fn verify(&self, token: &str) -> Result<Caller, Problem> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| invalid_token("The bearer token is not a JWT"))?;
        let kid = header
            .kid
            .ok_or_else(|| invalid_token("The token names no signing key"))?;
        if !matches!(
            header.alg,
            jsonwebtoken::Algorithm::RS256
                | jsonwebtoken::Algorithm::RS384
                | jsonwebtoken::Algorithm::RS512
                | jsonwebtoken::Algorithm::PS256
                | jsonwebtoken::Algorithm::ES256
        ) {
            return Err(invalid_token("Unsupported token algorithm"));
        }
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 30;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|_| invalid_token("The bearer token is invalid or expired"))?
            .claims;
        let mut scopes: HashSet<String> = claims
            .scope
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        scopes.extend(claims.scp.unwrap_or_default());
        Ok(Caller {
            subject: claims.sub.or(claims.client_id).unwrap_or_default(),
            scopes,
        })
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .strip_prefix("Bearer ")
                    .or_else(|| value.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| Problem::unauthorized("A bearer access token is required"))?;
        state.verifier.verify(token).await
    }
}
