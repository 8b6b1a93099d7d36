//! The org authorization server's token endpoint (`/oauth2/v1/token`): client
//! credentials with a private_key_jwt assertion, optionally DPoP-bound.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::admission::{Bucket, ProofRefusal};
use super::{Call, Org};
use crate::dpop;

pub(super) struct OauthClient {
    pub(super) client_id: String,
    pub(super) public_key_pem: String,
    pub(super) token_lifetime: u64,
    /// The Okta API scopes granted to the app (Okta API Scopes tab).
    pub(super) granted_scopes: Vec<String>,
    /// Whether the app has an admin role. Okta's guide: a service app needs both the
    /// scopes and an admin role; without a role its reads find nothing
    /// (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/#assign-admin-roles-to-the-oauth-2-0-service-app).
    pub(super) admin_role: bool,
    /// "Require Demonstrating Proof of Possession (DPoP) header in token requests", on by
    /// default for new API Services apps (Okta developer forum, "Client Credentials OAuth
    /// for Okta with DPoP enabled", https://devforum.okta.com/t/client-credentials-oauth-for-okta-with-dpop-enabled/30239).
    pub(super) dpop_required: bool,
}

/// What an access token may do: its scopes, and the thumbprint of the DPoP key it is
/// bound to (`cnf.jkt`, RFC 9449 section 6), if any.
pub(super) struct Grant {
    pub(super) scopes: Vec<String>,
    pub(super) jkt: Option<String>,
    /// Okta refuses an expired access token like an unknown one: 401 E0000011 "Invalid
    /// token provided" (developer.okta.com/docs/reference/error-codes/#E0000011).
    pub(super) expires_at: Instant,
}

/// The token endpoint's route.
pub(super) fn routes() -> Router<Arc<Mutex<Org>>> {
    Router::new().route("/oauth2/v1/token", post(token))
}

#[derive(Deserialize)]
struct TokenForm {
    pub(super) grant_type: String,
    pub(super) scope: Option<String>,
    pub(super) client_assertion_type: Option<String>,
    pub(super) client_assertion: Option<String>,
}

#[derive(Deserialize)]
struct Assertion {
    pub(super) iss: String,
    pub(super) sub: String,
    pub(super) exp: u64,
    pub(super) jti: Option<String>,
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
    let (granted_scopes, lifetime, dpop_required) = (
        client.granted_scopes.clone(),
        client.token_lifetime,
        client.dpop_required,
    );
    // An assertion with a `jti` is good for one request: "If jti is specified, the token
    // can only be used once. So, for example, subsequent token requests won't succeed"
    // (https://developer.okta.com/docs/api/openapi/okta-oauth/guides/client-auth/,
    // "Parameter details"). It is used up by any request that gets this far, even one
    // then refused for its DPoP proof: "Okta's authorization server consumes the client
    // assertion JWT's jti on every request, including requests that return 400
    // use_dpop_nonce. Reusing the same JWT on a retry would cause 401 invalid_client --
    // The client_assertion token has already been used" (okta/okta-sdk-python
    // okta/oauth.py, `_retry_token_with_dpop_nonce`).
    if let Some(jti) = claims.jti {
        let now = org.epoch_now();
        org.assertion_jtis.retain(|_, exp| *exp >= now);
        if org.assertion_jtis.insert(jti, claims.exp).is_some() {
            return (
                StatusCode::UNAUTHORIZED,
                Json(json!({
                    "error": "invalid_client",
                    "error_description": "The client_assertion token has already been used.",
                })),
            )
                .into_response();
        }
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
            .any(|scope| !granted_scopes.contains(scope))
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
