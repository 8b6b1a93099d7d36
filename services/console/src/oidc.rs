//! The console as an OpenID Connect client: operators sign in with the authorization code
//! flow and PKCE (RFC 7636) at the issuer, and the console gets one access token per API
//! audience (resource indicators, RFC 8707): the code for the first, the refresh token for
//! the others. It also takes its own client-credentials tokens, which name it to the
//! services as the forwarder of a person's address (contract 5).
//!
//! The ID token comes straight from the token endpoint over the console's own connection,
//! so its issuer is the one the console called: OpenID Connect Core 1.0 §3.1.3.7 (6) lets
//! such a client rely on that instead of checking the signature. Its `iss`, `aud`, `exp`
//! and `nonce` are checked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::timestamp::Timestamp;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;
use url::Url;

use crate::config::{ClientSecret, OperatorSignIn};
use crate::session::AccessToken;
use common::secrets::{Secret, SecretStore};
use std::sync::Arc;

/// Scopes each API's routes require (the services' `SCOPE_*` defaults).
const USERS_SCOPES: &[&str] = &["users:admin"];
const SALES_SCOPES: &[&str] = &["sales:read", "sales:write"];
const INTEGRATIONS_SCOPES: &[&str] = &["integrations:read", "integrations:write"];

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the sign-in service cannot be reached; try again shortly")]
    Unreachable,
    /// The issuer refused (its `error` and `error_description`).
    #[error("{0}")]
    Refused(String),
    #[error("the sign-in answer does not check out: {0}")]
    Invalid(&'static str),
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    authorization_endpoint: String,
    token_endpoint: String,
    end_session_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: Option<i64>,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
}

impl TokenResponse {
    pub fn access(&self, now: Timestamp) -> AccessToken {
        AccessToken {
            value: self.access_token.clone(),
            expires_at: now.unix_seconds() + self.expires_in.unwrap_or(300),
        }
    }
}

/// Who signed in, from the ID token.
#[derive(Debug, Clone)]
pub struct Identity {
    pub subject: String,
    pub name: String,
    pub is_operator: bool,
}

/// What the authorization request is bound to; kept in the pending session.
pub struct Challenge {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl Challenge {
    pub fn new() -> Self {
        Self {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
        }
    }
}

impl Default for Challenge {
    fn default() -> Self {
        Self::new()
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub struct OidcClient {
    settings: OperatorSignIn,
    /// Where a `ClientSecret::SecretId` is read from.
    secrets: Option<Arc<dyn SecretStore>>,
    redirect_uri: String,
    http: reqwest::Client,
    discovery: OnceCell<Discovery>,
    /// The console's own client-credentials tokens, by audience.
    forwarder_tokens: Mutex<HashMap<String, AccessToken>>,
}

impl OidcClient {
    pub fn new(
        settings: OperatorSignIn,
        secrets: Option<Arc<dyn SecretStore>>,
        public_url: &Url,
        timeout: Duration,
    ) -> Self {
        Self {
            secrets,
            redirect_uri: public_url
                .join("/ops/callback")
                .expect("valid path")
                .to_string(),
            settings,
            http: common::http_client::client(timeout),
            discovery: OnceCell::new(),
            forwarder_tokens: Mutex::default(),
        }
    }

    pub fn settings(&self) -> &OperatorSignIn {
        &self.settings
    }

    /// The issuer's origin (pages post to it when signing out).
    pub fn issuer_origin(&self) -> String {
        self.settings.issuer.origin().ascii_serialization()
    }

    /// The distinct audiences, first the one the code is redeemed for.
    pub fn audiences(&self) -> Vec<String> {
        let a = &self.settings.audiences;
        let mut out: Vec<String> = Vec::new();
        for audience in [&a.users, &a.sales, &a.integrations] {
            if !out.contains(audience) {
                out.push(audience.clone());
            }
        }
        out
    }

    async fn discovery(&self) -> Result<&Discovery, OidcError> {
        self.discovery
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.as_str().trim_end_matches('/')
                );
                let response = self.http.get(url).send().await.map_err(|error| {
                    tracing::warn!(%error, "OIDC discovery failed");
                    OidcError::Unreachable
                })?;
                response
                    .error_for_status()
                    .map_err(|_| OidcError::Unreachable)?
                    .json::<Discovery>()
                    .await
                    .map_err(|_| OidcError::Invalid("the issuer's discovery document"))
            })
            .await
    }

    /// Where to send the browser: the issuer's authorization endpoint with PKCE (S256),
    /// `state`, `nonce`, every API's scopes and every audience as a `resource`.
    pub async fn authorization_url(&self, challenge: &Challenge) -> Result<Url, OidcError> {
        let discovery = self.discovery().await?;
        let mut url = Url::parse(&discovery.authorization_endpoint)
            .map_err(|_| OidcError::Invalid("the issuer's authorization endpoint"))?;
        let mut scopes: Vec<&str> = vec!["openid"];
        scopes.extend(self.settings.scopes.iter().map(String::as_str));
        scopes.extend(
            USERS_SCOPES
                .iter()
                .chain(SALES_SCOPES)
                .chain(INTEGRATIONS_SCOPES),
        );
        scopes.dedup();
        let code_challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(challenge.verifier.as_bytes()));
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &self.settings.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("scope", &scopes.join(" "))
                .append_pair("state", &challenge.state)
                .append_pair("nonce", &challenge.nonce)
                .append_pair("code_challenge", &code_challenge)
                .append_pair("code_challenge_method", "S256");
            for audience in self.audiences() {
                query.append_pair("resource", &audience);
            }
        }
        Ok(url)
    }

    /// The console's client secret, now.
    async fn client_secret(&self) -> Result<Secret, OidcError> {
        match (&self.settings.client_secret, &self.secrets) {
            (ClientSecret::Plain(secret), _) => Ok(secret.clone()),
            (ClientSecret::SecretId(name), Some(store)) => store.get(name).await.map_err(|error| {
                tracing::warn!(%error, "the console's client secret cannot be read");
                OidcError::Unreachable
            }),
            (ClientSecret::SecretId(_), None) => Err(OidcError::Unreachable),
        }
    }

    /// After the issuer refused the client: a rotated secret is read again next time.
    async fn forget_client_secret(&self) {
        if let (ClientSecret::SecretId(name), Some(store)) =
            (&self.settings.client_secret, &self.secrets)
        {
            store.invalidate(name).await;
        }
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<TokenResponse, OidcError> {
        let discovery = self.discovery().await?;
        let secret = self.client_secret().await?;
        let response = self
            .http
            .post(&discovery.token_endpoint)
            .basic_auth(&self.settings.client_id, Some(secret.expose()))
            .form(form)
            .send()
            .await
            .map_err(|error| {
                tracing::warn!(%error, "OIDC token request failed");
                OidcError::Unreachable
            })?;
        if response.status().is_server_error() {
            return Err(OidcError::Unreachable);
        }
        if !response.status().is_success() {
            #[derive(Deserialize)]
            struct Refusal {
                error: String,
                error_description: Option<String>,
            }
            let refusal = response
                .json::<Refusal>()
                .await
                .map_err(|_| OidcError::Invalid("the issuer's error answer"))?;
            tracing::warn!(error = %refusal.error, "the issuer refused a token request");
            if refusal.error == "invalid_client" {
                self.forget_client_secret().await;
            }
            return Err(OidcError::Refused(
                refusal.error_description.unwrap_or(refusal.error),
            ));
        }
        response
            .json()
            .await
            .map_err(|_| OidcError::Invalid("the issuer's token answer"))
    }

    /// Redeems the code (with its PKCE verifier) for the first audience's token, the ID
    /// token and a refresh token.
    pub async fn redeem(&self, code: &str, verifier: &str) -> Result<TokenResponse, OidcError> {
        let audience = &self.audiences()[0];
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", verifier),
            ("resource", audience),
        ])
        .await
    }

    /// An access token for `audience` from the refresh token.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        audience: &str,
    ) -> Result<TokenResponse, OidcError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("resource", audience),
        ])
        .await
    }

    /// The console's own token for `audience` (client credentials), cached until shortly
    /// before it expires.
    pub async fn forwarder_token(&self, audience: &str) -> Result<String, OidcError> {
        let now = Timestamp::now();
        if let Some(token) = self
            .forwarder_tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(audience)
            .filter(|token| token.is_fresh(now))
        {
            return Ok(token.value.clone());
        }
        let answer = self
            .token(&[("grant_type", "client_credentials"), ("resource", audience)])
            .await?;
        let token = answer.access(now);
        self.forwarder_tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(audience.to_owned(), token);
        Ok(answer.access_token)
    }

    /// Checks the ID token of a code exchange (see the module's note) and reads who it is.
    pub fn identity(&self, id_token: &str, nonce: &str) -> Result<Identity, OidcError> {
        #[derive(Deserialize)]
        struct Claims {
            sub: String,
            nonce: Option<String>,
            name: Option<String>,
            preferred_username: Option<String>,
            #[serde(flatten)]
            other: HashMap<String, serde_json::Value>,
        }
        let mut validation = jsonwebtoken::Validation::default();
        validation.insecure_disable_signature_validation();
        validation.set_issuer(&[self.settings.issuer.as_str().trim_end_matches('/')]);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(
            id_token,
            &jsonwebtoken::DecodingKey::from_secret(&[]),
            &validation,
        )
        .map_err(|_| OidcError::Invalid("the ID token"))?
        .claims;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(OidcError::Invalid("the ID token's nonce"));
        }
        let is_operator = match claims.other.get(&self.settings.operator_claim) {
            Some(serde_json::Value::Array(values)) => values
                .iter()
                .any(|v| v.as_str() == Some(self.settings.operator_value.as_str())),
            Some(serde_json::Value::String(value)) => value
                .split_whitespace()
                .any(|v| v == self.settings.operator_value),
            _ => false,
        };
        Ok(Identity {
            name: claims
                .name
                .or(claims.preferred_username)
                .unwrap_or_else(|| claims.sub.clone()),
            subject: claims.sub,
            is_operator,
        })
    }

    /// Where to send the browser to end the issuer's session too, if it has such an
    /// endpoint (RP-initiated logout). By `client_id`, not `id_token_hint`: no token ever
    /// travels through the browser.
    pub async fn end_session_url(&self, after: &Url) -> Option<Url> {
        let endpoint = self.discovery().await.ok()?.end_session_endpoint.clone()?;
        let mut url = Url::parse(&endpoint).ok()?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("post_logout_redirect_uri", after.as_str());
        Some(url)
    }

    /// Revokes a refresh token at sign-out (best effort: it dies with the issuer's session
    /// anyway).
    pub async fn revoke(&self, refresh_token: &str) {
        let Ok(discovery) = self.discovery().await else {
            return;
        };
        let Some(endpoint) = &discovery.revocation_endpoint else {
            return;
        };
        let Ok(secret) = self.client_secret().await else {
            return;
        };
        let sent = self
            .http
            .post(endpoint)
            .basic_auth(&self.settings.client_id, Some(secret.expose()))
            .form(&[
                ("token", refresh_token),
                ("token_type_hint", "refresh_token"),
            ])
            .send()
            .await;
        if let Err(error) = sent {
            tracing::warn!(%error, "could not revoke a refresh token at sign-out");
        }
    }
}
