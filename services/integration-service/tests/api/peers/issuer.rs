//! An OpenID Connect issuer for tests: discovery document, JWKS, and RS256 access tokens
//! minted on demand (stands in for `test_support::oidc::OidcIssuer` until it exists).
use std::sync::OnceLock;

use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};

pub const AUDIENCE: &str = "integration-api";
const KID: &str = "test-key-1";

pub struct Issuer {
    pub url: String,
    key: jsonwebtoken::EncodingKey,
}

/// One key pair for the whole test binary (key generation is the slow part).
fn key_material() -> &'static (String, Value) {
    static KEYS: OnceLock<(String, Value)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (private, public) = stand_ins::okta::rsa_key_pair();
        let mut modulus = std::process::Command::new("openssl")
            .args(["rsa", "-pubin", "-modulus", "-noout"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        modulus
            .stdin
            .take()
            .unwrap()
            .write_all(public.as_bytes())
            .unwrap();
        let output = String::from_utf8(modulus.wait_with_output().unwrap().stdout).unwrap();
        let hex_modulus = output.trim().trim_start_matches("Modulus=");
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
            "n": b64.encode(hex::decode(hex_modulus).unwrap()),
            "e": "AQAB",
        });
        (private, jwk)
    })
}

impl Issuer {
    pub async fn spawn() -> Self {
        let (private, jwk) = key_material();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks")});
        let jwks = json!({"keys": [jwk]});
        let router = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(discovery) }),
            )
            .route("/jwks", get(move || async move { Json(jwks) }));
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url,
            key: jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
        }
    }

    /// A token with these claims over the defaults (iss, aud, exp in an hour, sub).
    pub fn mint(&self, overrides: Value) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut claims = json!({
            "iss": self.url, "aud": AUDIENCE, "sub": "test-client", "client_id": "test-client",
            "iat": now, "exp": now + 3600,
        });
        for (name, value) in overrides.as_object().unwrap() {
            claims[name] = value.clone();
        }
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }

    pub fn token(&self, scope: &str) -> String {
        self.mint(json!({"scope": scope}))
    }
}
