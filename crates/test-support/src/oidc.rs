//! A real OpenID Connect issuer for tests: `tools/oidc-issuer` (npm `oidc-provider`) on a
//! random loopback port.
//!
//! Tokens come from the client-credentials grant, so they are exactly what a production
//! issuer hands a service's callers: RS256 `at+jwt` access tokens with `iss`, `aud` (the
//! requested resource), `scope`, `client_id`, `exp` and a `kid`.
//!
//! Most tests share one issuer per test binary ([`OidcIssuer::shared`]): a Node process
//! costs about a second of CPU to start, and dozens of them starting at once on a busy
//! machine is what made the suite flaky. Tests that change the issuer (key rotation, its
//! outage) or need a second one start their own ([`OidcIssuer::start`]).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::Deserialize;
use tokio::sync::OnceCell;

/// The issuer's default client (`client_secret_basic` or `client_secret_post`).
pub const CLIENT_ID: &str = "platform-dev";
pub const CLIENT_SECRET: &str = "platform-dev-secret";
/// Another calling service, for tests of what one caller may do that another may not.
pub const SECOND_CLIENT_ID: &str = "second-service";
const SECOND_CLIENT_SECRET: &str = "second-service-secret";
/// A client whose access tokens live one second.
const SHORT_LIVED_ID: &str = "short-lived";
const SHORT_LIVED_SECRET: &str = "short-lived-secret";

/// A running issuer. Clones share it; an issuer from [`OidcIssuer::start`] stops when
/// its last clone is dropped, the shared one when the test binary exits.
#[derive(Clone)]
pub struct OidcIssuer {
    inner: Arc<Inner>,
}

struct Inner {
    url: String,
    token_endpoint: String,
    jwks_uri: String,
    /// Only an issuer of its own may rotate its keys: the shared one serves other tests.
    admin: bool,
    /// No idle connections are kept: tests run on runtimes of their own, and a pooled
    /// connection would belong to a runtime that may be gone.
    http: reqwest::Client,
    process: Child,
    /// Held open for the process's life: the issuer exits when it closes, so no issuer
    /// outlives a test binary that was killed or exited without dropping it.
    _lifeline: ChildStdin,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

static SHARED: OnceCell<OidcIssuer> = OnceCell::const_new();

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

/// How long a starting issuer may stay silent, and how many starts a test tries. The
/// issuer prints its line within a second or two, even on a saturated machine.
const STARTUP_DEADLINE: Duration = Duration::from_secs(60);
const STARTUP_ATTEMPTS: u32 = 3;

/// Starts `node issuer.mjs` and reads its first line: the issuer's URL, the process and
/// its stdin (the issuer exits when that closes). `None` when it stays silent past the
/// deadline (it is killed); panics with its stderr when it exits without starting.
fn spawn_issuer(dir: &std::path::Path, admin: bool) -> Option<(String, Child, ChildStdin)> {
    let mut command = Command::new("node");
    command
        .arg("issuer.mjs")
        .args(["--port", "0", "--exit-with-stdin"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if admin {
        command.arg("--admin");
    }
    let mut process = command
        .spawn()
        .expect("spawn `node tools/oidc-issuer/issuer.mjs` (is Node.js installed?)");
    let lifeline = process.stdin.take().expect("piped stdin");
    let mut stdout = BufReader::new(process.stdout.take().expect("piped stdout"));
    let mut stderr = process.stderr.take().expect("piped stderr");
    let (line_sender, first_line) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let _ = line_sender.send(line);
        // Its warnings (in-memory adapter, Node version) are expected; drain the pipe so
        // the process never blocks on a full one.
        std::io::copy(&mut stdout, &mut std::io::sink())
    });
    let Ok(first_line) = first_line.recv_timeout(STARTUP_DEADLINE) else {
        let _ = process.kill();
        let _ = process.wait();
        return None;
    };
    let Ok(Started { issuer }) = serde_json::from_str(&first_line) else {
        let _ = process.kill();
        let mut output = String::new();
        let _ = stderr.read_to_string(&mut output);
        panic!("the OIDC issuer did not start (stdout: {first_line:?}):\n{output}");
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    Some((issuer, process, lifeline))
}

impl OidcIssuer {
    /// This test binary's issuer, started by the first test that asks for it. Its keys
    /// never change; take your own ([`OidcIssuer::start`]) to rotate them or stop it.
    pub async fn shared() -> Self {
        SHARED.get_or_init(|| Self::launch(false)).await.clone()
    }

    /// An issuer of this test's own, with its test-only key-rotation endpoint, stopped
    /// when dropped.
    pub async fn start() -> Self {
        Self::launch(true).await
    }

    /// Starts the process and waits until it says it listens (or exits), then until its
    /// discovery document answers. Panics with the fix when its npm packages are missing.
    async fn launch(admin: bool) -> Self {
        let dir = issuer_dir();
        if !dir.join("node_modules").is_dir() {
            panic!(
                "the OIDC issuer's npm packages are not installed: run the tests with \
                 scripts/test.sh, or `npm ci` in tools/oidc-issuer"
            );
        }
        // The issuer's first line ends the wait as soon as it listens. Node has been seen
        // to hang before printing it (main thread stuck on a futex, port already bound,
        // for minutes), so a start silent for STARTUP_DEADLINE is killed and retried.
        let (url, process, lifeline) = tokio::task::spawn_blocking(move || {
            for attempt in 1..=STARTUP_ATTEMPTS {
                match spawn_issuer(&dir, admin) {
                    Some(started) => return started,
                    None => eprintln!(
                        "the OIDC issuer said nothing for {STARTUP_DEADLINE:?} \
                         (attempt {attempt} of {STARTUP_ATTEMPTS}); starting another"
                    ),
                }
            }
            panic!("the OIDC issuer never started in {STARTUP_ATTEMPTS} attempts")
        })
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));

        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let discovery = discover(&http, &url).await;
        Self {
            inner: Arc::new(Inner {
                url,
                token_endpoint: discovery.token_endpoint,
                jwks_uri: discovery.jwks_uri,
                admin,
                http,
                process,
                _lifeline: lifeline,
            }),
        }
    }

    /// The issuer identifier, `http://127.0.0.1:PORT` (its discovery document lives below it).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// A fresh access token for `audience` (the resource indicator, an absolute URI such as
    /// `api://sales`) with `scopes`, from the default client.
    pub async fn token(&self, audience: &str, scopes: &[&str]) -> String {
        self.client_credentials(CLIENT_ID, CLIENT_SECRET, audience, scopes)
            .await
    }

    /// A fresh access token like [`OidcIssuer::token`], from [`SECOND_CLIENT_ID`].
    pub async fn second_client_token(&self, audience: &str, scopes: &[&str]) -> String {
        self.client_credentials(SECOND_CLIENT_ID, SECOND_CLIENT_SECRET, audience, scopes)
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
        assert!(
            self.inner.admin,
            "the shared issuer serves other tests: rotate the keys of your own (OidcIssuer::start)"
        );
        let response = self
            .inner
            .http
            .post(format!("{}/__admin/rotate-keys", self.inner.url))
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
        self.inner
            .http
            .get(&self.inner.jwks_uri)
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
            .inner
            .http
            .post(&self.inner.token_endpoint)
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

/// The discovery document (the issuer already listens: it said so).
async fn discover(http: &reqwest::Client, url: &str) -> Discovery {
    http.get(format!("{url}/.well-known/openid-configuration"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|error| {
            panic!("the OIDC issuer at {url} serves no discovery document: {error}")
        })
        .json()
        .await
        .expect("a discovery document")
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
