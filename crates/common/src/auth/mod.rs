//! OpenID Connect bearer access tokens (JWT), verified against the issuer's published keys.
//!
//! A service builds one [`OidcVerifier`] from [`OidcSettings`], shares it as
//! `Arc<OidcVerifier>` in its state, and takes [`Authenticated`] in its handlers:
//!
//! ```ignore
//! async fn list_orders(Authenticated(caller): Authenticated) -> Result<.., Problem> {
//!     caller.require_scope("sales:read")?;
//!     ..
//! }
//! ```
//!
//! Rejections follow RFC 6750: 401 with `WWW-Authenticate: Bearer` (no token, or an invalid
//! one, with `error="invalid_token"` and why), 403 `insufficient_scope`, and 503 when the
//! issuer cannot be reached for a key it is needed for. Tokens are never logged. A token
//! that verified is not checked again for a minute (`verified`): the cache ends with the
//! token's expiry and with the issuer's key set.

mod jwks;
mod verified;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use crate::config::Env;
use crate::timestamp::Timestamp;
use crate::Problem;
use jwks::KeyStore;
use verified::VerifiedTokens;

/// The `realm` of every `WWW-Authenticate` challenge.
const REALM: &str = "platform";

/// The token endpoint in `issuer`'s discovery document (where clients get tokens).
pub async fn token_endpoint(http: &reqwest::Client, issuer: &str) -> Result<String, String> {
    jwks::discover(http, issuer)
        .await?
        .token_endpoint
        .ok_or_else(|| "its discovery document names no token_endpoint".to_owned())
}

/// Where tokens come from and whom they must be for.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer identifier, exactly as in its tokens' `iss` and its discovery document.
    pub issuer: String,
    /// The `aud` every accepted token must carry.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// The issuer's keys are fetched again for an unknown `kid` at most this often.
    pub min_jwks_refresh_interval: Duration,
}

impl OidcSettings {
    /// Settings with the default leeway (30 s) and refresh interval (10 s).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway: Duration::from_secs(30),
            min_jwks_refresh_interval: Duration::from_secs(10),
        }
    }

    /// `OIDC_ISSUER_URL` (required), `OIDC_AUDIENCE` (default `default_audience`),
    /// `OIDC_LEEWAY_SECONDS` (30), `OIDC_JWKS_MIN_REFRESH_SECONDS` (10).
    pub fn read(env: &mut Env, default_audience: &str) -> Self {
        let issuer: String = env.required("OIDC_ISSUER_URL").unwrap_or_default();
        let is_http_url = url::Url::parse(&issuer)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host());
        if !issuer.is_empty() && !is_http_url {
            env.invalid(format!("OIDC_ISSUER_URL: `{issuer}` is not an http(s) URL"));
        }
        let defaults = Self::new(issuer, env.or("OIDC_AUDIENCE", default_audience.to_owned()));
        Self {
            leeway: env.seconds_or("OIDC_LEEWAY_SECONDS", defaults.leeway),
            min_jwks_refresh_interval: env.seconds_or(
                "OIDC_JWKS_MIN_REFRESH_SECONDS",
                defaults.min_jwks_refresh_interval,
            ),
            ..defaults
        }
    }

    /// [`Self::read`] when `OIDC_ISSUER_URL` is set; `None` without it, for a service that
    /// works without an issuer too.
    pub fn read_optional(env: &mut Env, default_audience: &str) -> Option<Self> {
        env.optional::<String>("OIDC_ISSUER_URL")?;
        Some(Self::read(env, default_audience))
    }
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `sub`, or the client id for tokens without one.
    pub subject: String,
    /// `client_id` (RFC 9068), `azp`, or Okta's `cid` (its custom authorization servers
    /// name the client there: docs/okta.md).
    pub client_id: Option<String>,
    /// From `scope` (space-separated) or `scp` (an array, as Okta sends it).
    pub scopes: BTreeSet<String>,
}

impl Principal {
    /// 403 `insufficient_scope` naming `scope` unless the token carries it.
    pub fn require_scope(&self, scope: &str) -> Result<(), Problem> {
        if self.scopes.contains(scope) {
            return Ok(());
        }
        Err(
            Problem::forbidden(format!("This needs the scope {scope}")).header(
                header::WWW_AUTHENTICATE,
                format!(r#"Bearer realm="{REALM}", error="insufficient_scope", scope="{scope}""#),
            ),
        )
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No bearer token was sent.
    #[error("no bearer token")]
    Missing,
    /// The token was refused; the reason is safe to show to the caller.
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// The token names a key the issuer could not be asked for.
    #[error("the OIDC issuer cannot be reached for its keys")]
    IssuerUnavailable,
}

impl From<AuthError> for Problem {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Missing => Problem::new(StatusCode::UNAUTHORIZED)
                .detail("A bearer access token is required")
                .header(header::WWW_AUTHENTICATE, format!(r#"Bearer realm="{REALM}""#)),
            AuthError::Invalid(why) => Problem::new(StatusCode::UNAUTHORIZED)
                .detail(format!("The bearer token is not accepted: {why}"))
                .header(
                    header::WWW_AUTHENTICATE,
                    format!(
                        r#"Bearer realm="{REALM}", error="invalid_token", error_description="{why}""#
                    ),
                ),
            AuthError::IssuerUnavailable => Problem::unavailable(
                "The identity provider cannot be reached to check the token; retry shortly",
            ),
        }
    }
}

/// Verifies bearer tokens of one issuer for one audience. Share it behind an `Arc`.
pub struct OidcVerifier {
    settings: OidcSettings,
    keys: KeyStore,
    verified: VerifiedTokens,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("issuer", &self.settings.issuer)
            .field("audience", &self.settings.audience)
            .finish_non_exhaustive()
    }
}

/// The parts of the JOSE header the key and algorithm are chosen by.
#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    /// Required (the validation checks it first); a float is taken too, as some issuers
    /// send one.
    exp: Option<f64>,
    sub: Option<String>,
    client_id: Option<String>,
    azp: Option<String>,
    /// Okta's client id claim in access tokens of its authorization servers.
    cid: Option<String>,
    scope: Option<ScopeClaim>,
    scp: Option<ScopeClaim>,
}

/// Issuers disagree on the shape: a space-separated string or an array.
#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeClaim {
    Joined(String),
    List(Vec<String>),
}

fn scopes(claims: [Option<ScopeClaim>; 2]) -> BTreeSet<String> {
    claims
        .into_iter()
        .flatten()
        .flat_map(|claim| match claim {
            ScopeClaim::Joined(joined) => joined.split_whitespace().map(str::to_owned).collect(),
            ScopeClaim::List(list) => list,
        })
        .collect()
}

impl OidcVerifier {
    /// `http` should come from [`crate::http_client::client`] (its timeouts bound a key
    /// fetch; so does a deadline of its own).
    pub fn new(settings: OidcSettings, http: reqwest::Client) -> Self {
        let keys = KeyStore::new(
            settings.issuer.clone(),
            http,
            settings.min_jwks_refresh_interval,
        );
        Self {
            settings,
            keys,
            verified: VerifiedTokens::default(),
        }
    }

    /// The caller behind `token` (the bearer token, without the scheme).
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let result = self.check(token).await;
        if let Err(error) = &result {
            tracing::debug!(%error, "bearer token refused");
        }
        result
    }

    async fn check(&self, token: &str) -> Result<Principal, AuthError> {
        let now = Timestamp::now().unix_seconds();
        if let Some(principal) = self.verified.get(token, self.keys.generation(), now) {
            return Ok(principal);
        }
        let header = jose_header(token)?;
        let alg = accepted_algorithm(&header.alg)
            .ok_or(AuthError::Invalid("the token's algorithm is not accepted"))?;
        let kid = header
            .kid
            .ok_or(AuthError::Invalid("the token names no signing key"))?;
        let (key, generation) = self.keys.key(&kid).await?;
        // The key, not the token, decides the algorithm (no RS256 key read as HS256).
        if !key.algorithms.contains(&alg) {
            return Err(AuthError::Invalid(
                "the token's algorithm does not match its signing key",
            ));
        }

        let mut validation = Validation::new(alg);
        validation.leeway = self.settings.leeway.as_secs_f64().ceil() as u64;
        let leeway = validation.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
            .map_err(|err| AuthError::Invalid(refusal(err.kind())))?
            .claims;

        let client_id = claims.client_id.or(claims.azp).or(claims.cid);
        let subject = claims
            .sub
            .or_else(|| client_id.clone())
            .ok_or(AuthError::Invalid("the token names no subject"))?;
        let principal = Principal {
            subject,
            client_id,
            scopes: scopes([claims.scope, claims.scp]),
        };
        if let Some(exp) = claims.exp {
            let valid_until = (exp as i64).saturating_add_unsigned(leeway);
            self.verified
                .insert(token, principal.clone(), valid_until, generation);
        }
        Ok(principal)
    }
}

fn jose_header(token: &str) -> Result<JoseHeader, AuthError> {
    let not_a_jwt = AuthError::Invalid("the token is not a signed JWT");
    let segments: Vec<&str> = token.split('.').collect();
    let [header, _, _] = segments[..] else {
        return Err(not_a_jwt);
    };
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| not_a_jwt)?;
    serde_json::from_slice(&json).map_err(|_| not_a_jwt)
}

/// The asymmetric signature algorithms; `none`, HMAC and anything unknown are refused.
fn accepted_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

fn refusal(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet",
        ErrorKind::InvalidIssuer => "the token is from another issuer",
        ErrorKind::InvalidAudience => "the token is for another audience",
        ErrorKind::InvalidSignature => "the token's signature does not verify",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks exp, iss or aud",
        ErrorKind::InvalidAlgorithm => "the token's algorithm does not match its signing key",
        _ => "the token is malformed",
    }
}

/// The verified caller of a request, from `Authorization: Bearer <jwt>`; for any state
/// that holds an `Arc<OidcVerifier>`. Rejections are problem+json (see [`AuthError`]).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl<S> FromRequestParts<S> for Authenticated
where
    Arc<OidcVerifier>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let token = bearer_token(&parts.headers)?;
        let verifier = Arc::<OidcVerifier>::from_ref(state);
        Ok(Authenticated(verifier.verify(token).await?))
    }
}

/// The token of an `Authorization: Bearer` header (scheme case-insensitive). Any other
/// scheme counts as no token: the challenge then tells the client what to send.
fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(AuthError::Missing);
    };
    let value = value
        .to_str()
        .map_err(|_| AuthError::Invalid("the Authorization header is malformed"))?;
    match value.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some(token.trim()).filter(|token| !token.is_empty())
        }
        _ => None,
    }
    .ok_or(AuthError::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, authorization.parse().unwrap());
        headers
    }

    #[test]
    fn reads_bearer_tokens_only() {
        assert_eq!(bearer_token(&headers("Bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc ")), Ok("abc"));
        assert_eq!(
            bearer_token(&headers("Basic dXNlcjpwYXNz")),
            Err(AuthError::Missing)
        );
        assert_eq!(bearer_token(&headers("Bearer ")), Err(AuthError::Missing));
        assert_eq!(bearer_token(&HeaderMap::new()), Err(AuthError::Missing));
    }

    #[test]
    fn refuses_unsigned_symmetric_and_unknown_algorithms() {
        for alg in ["none", "None", "HS256", "HS512", "ES512", ""] {
            assert_eq!(accepted_algorithm(alg), None, "{alg}");
        }
        assert_eq!(accepted_algorithm("EdDSA"), Some(Algorithm::EdDSA));
    }

    #[test]
    fn rejects_what_is_not_a_compact_jws() {
        let encode = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        let header = encode(r#"{"alg":"RS256","kid":"k"}"#);
        assert!(jose_header(&format!("{header}.e30.sig")).is_ok());
        for token in [
            "opaque-token".to_owned(),
            format!("{header}.e30"),
            format!("{header}.e30.sig.iv.tag"),
            format!("{}.e30.sig", encode("[]")),
            "!!.e30.sig".to_owned(),
        ] {
            assert!(jose_header(&token).is_err(), "{token}");
        }
    }

    #[test]
    fn scopes_come_as_a_string_or_a_list() {
        let claims: Claims =
            serde_json::from_str(r#"{"scope":"a b","scp":["c"],"sub":"s"}"#).unwrap();
        assert_eq!(
            scopes([claims.scope, claims.scp]),
            ["a", "b", "c"].map(String::from).into()
        );
    }

    #[test]
    fn reads_settings_with_defaults_and_checks_the_issuer() {
        for name in ["OIDC_ISSUER_URL", "OIDC_AUDIENCE", "OIDC_LEEWAY_SECONDS"] {
            std::env::remove_var(name);
        }
        let mut env = Env::new();
        let settings = OidcSettings::read(&mut env, "api://sales");
        assert_eq!(settings.audience, "api://sales");
        assert_eq!(settings.leeway, Duration::from_secs(30));
        assert_eq!(settings.min_jwks_refresh_interval, Duration::from_secs(10));
        let errors = env.finish().unwrap_err().0;
        assert_eq!(errors, ["OIDC_ISSUER_URL is required"]);

        std::env::set_var("OIDC_ISSUER_URL", "issuer.example");
        let mut env = Env::new();
        OidcSettings::read(&mut env, "api://sales");
        assert!(env.finish().unwrap_err().0[0].contains("not an http(s) URL"));

        std::env::set_var("OIDC_ISSUER_URL", "https://issuer.example/");
        std::env::set_var("OIDC_LEEWAY_SECONDS", "5");
        let mut env = Env::new();
        let settings = OidcSettings::read(&mut env, "api://sales");
        env.finish().unwrap();
        assert_eq!(settings.issuer, "https://issuer.example/");
        assert_eq!(settings.leeway, Duration::from_secs(5));
        for name in ["OIDC_ISSUER_URL", "OIDC_LEEWAY_SECONDS"] {
            std::env::remove_var(name);
        }
    }
}
