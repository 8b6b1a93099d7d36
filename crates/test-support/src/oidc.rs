//! A real OpenID Connect issuer for tests: `tools/oidc-issuer` (npm `oidc-provider`) on a
//! random loopback port, killed when the [`OidcIssuer`] is dropped.
//!
//! Tokens come from the client-credentials grant, so they are exactly what a production
//! issuer hands a service's callers: RS256 `at+jwt` access tokens with `iss`, `aud` (the
//! requested resource), `scope`, `client_id`, `exp` and a `kid`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// The issuer's default client (`client_secret_basic` or `client_secret_post`).
pub const CLIENT_ID: &str = "platform-dev";
pub const CLIENT_SECRET: &str = "platform-dev-secret";
/// A client whose access tokens live one second.
const SHORT_LIVED_ID: &str = "short-lived";
const SHORT_LIVED_SECRET: &str = "short-lived-secret";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

pub struct OidcIssuer {
    url: String,
    token_endpoint: String,
    jwks_uri: String,
    http: reqwest::Client,
    _process: Child,
}

#[derive(Deserialize)]
struct Started {
    issuer: String,
}

#[derive(Deserialize)]
struct Discovery {
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

fn issuer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/oidc-issuer")
}

impl OidcIssuer {
    /// Starts an issuer (with its test-only key-rotation endpoint) and waits until its
    /// discovery document answers. Panics with the fix when its npm packages are missing.
    pub async fn start() -> Self {
        let dir = issuer_dir();
        if !dir.join("node_modules").is_dir() {
            panic!(
                "the OIDC issuer's npm packages are not installed: run the tests with \
                 scripts/test.sh, or `npm ci` in tools/oidc-issuer"
            );
        }
        let mut process = Command::new("node")
            .arg("issuer.mjs")
            .args(["--port", "0", "--admin"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn `node tools/oidc-issuer/issuer.mjs` (is Node.js installed?)");
        let stdout = process.stdout.take().expect("piped stdout");
        let mut stderr = process.stderr.take().expect("piped stderr");

        let mut first_line = String::new();
        let read = tokio::time::timeout(
            STARTUP_TIMEOUT,
            BufReader::new(stdout).read_line(&mut first_line),
        )
        .await;
        let started: Option<Started> = match read {
            Ok(Ok(_)) => serde_json::from_str(&first_line).ok(),
            _ => None,
        };
        let Some(Started { issuer: url }) = started else {
            let _ = process.start_kill();
            let mut output = String::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(2), stderr.read_to_string(&mut output))
                    .await;
            panic!("the OIDC issuer did not start (stdout: {first_line:?}):\n{output}");
        };
        // Its warnings (in-memory adapter, Node version) are expected; drain them so the
        // process never blocks on a full pipe.
        tokio::spawn(async move { tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await });

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("http client");
        let discovery = wait_for_discovery(&http, &url).await;
        Self {
            url,
            token_endpoint: discovery.token_endpoint,
            jwks_uri: discovery.jwks_uri,
            http,
            _process: process,
        }
    }

    /// The issuer identifier, `http://127.0.0.1:PORT` (its discovery document lives below it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A fresh access token for `audience` (the resource indicator, an absolute URI such as
    /// `api://sales`) with `scopes`, from the default client.
    pub async fn token(&self, audience: &str, scopes: &[&str]) -> String {
        self.client_credentials(CLIENT_ID, CLIENT_SECRET, audience, scopes)
            .await
    }

    /// An access token that has expired by the time this returns (it lives one second;
    /// this waits until the clock is past its `exp`, about two seconds).
    pub async fn expired_token(&self, audience: &str, scopes: &[&str]) -> String {
        let token = self
            .client_credentials(SHORT_LIVED_ID, SHORT_LIVED_SECRET, audience, scopes)
            .await;
        let exp = expiry(&token);
        loop {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock after 1970");
            // Strictly past `exp` in whole seconds, as verifiers compare them.
            if now.as_secs() > exp {
                return token;
            }
            tokio::time::sleep(Duration::from_secs(exp + 1) - now).await;
        }
    }

    /// Replaces the signing key: the JWKS then holds only the new key (a new `kid`), and
    /// new tokens are signed with it. The URL stays the same. Returns the new `kid`.
    pub async fn rotate_keys(&self) -> String {
        #[derive(Deserialize)]
        struct Rotated {
            kid: String,
        }
        let response = self
            .http
            .post(format!("{}/__admin/rotate-keys", self.url))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("rotate the issuer's keys");
        response
            .json::<Rotated>()
            .await
            .expect("rotation answer")
            .kid
    }

    /// The key set the issuer publishes now (found through its discovery document).
    pub async fn jwks(&self) -> serde_json::Value {
        self.http
            .get(&self.jwks_uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("fetch the issuer's JWKS")
            .json()
            .await
            .expect("JWKS is JSON")
    }

    async fn client_credentials(
        &self,
        client_id: &str,
        secret: &str,
        audience: &str,
        scopes: &[&str],
    ) -> String {
        let scope = scopes.join(" ");
        let response = self
            .http
            .post(&self.token_endpoint)
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", audience),
                ("scope", &scope),
            ])
            .send()
            .await
            .expect("reach the issuer's token endpoint");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "token request failed: {status} {body}");
        serde_json::from_str::<TokenResponse>(&body)
            .expect("token response")
            .access_token
    }
}

async fn wait_for_discovery(http: &reqwest::Client, url: &str) -> Discovery {
    let deadline = tokio::time::Instant::now() + STARTUP_TIMEOUT;
    let discovery_url = format!("{url}/.well-known/openid-configuration");
    loop {
        let answer = match http.get(&discovery_url).send().await {
            Ok(response) if response.status().is_success() => response.json().await.ok(),
            _ => None,
        };
        if let Some(discovery) = answer {
            return discovery;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the OIDC issuer at {url} never served its discovery document"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `exp` claim of a JWT (read without verification: it is our own test token).
fn expiry(token: &str) -> u64 {
    #[derive(Deserialize)]
    struct Claims {
        exp: u64,
    }
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice::<Claims>(&json)
        .expect("payload with exp")
        .exp
}
