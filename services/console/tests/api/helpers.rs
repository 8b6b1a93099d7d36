//! The console under test: its router called in-process (`oneshot`), its session table on
//! the emulator, the real OIDC issuer for operator sign-in, and stub services (small axum
//! apps on loopback ports) standing in for user-, sales- and integration-service, which
//! record every call they get.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::Router;
use common::config::CommonConfig;
use common::secrets::Secret;
use console::config::{Audiences, ClientSecret, Config, OperatorSignIn, Services};
use http_body_util::BodyExt;
use scraper::{Html, Selector};
use test_support::oidc::OidcIssuer;
use tower::ServiceExt;
use url::Url;

/// The console's address in tests: the issuer's `console` client redirects here.
pub const PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// The person's address, as the console's TCP peer.
pub const CLIENT_ADDRESS: &str = "203.0.113.7";

/// A call a stub service received.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: Method,
    /// Path and query.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The claims of the bearer token in `header` (read without verification: the test
    /// checks what the console sent, the issuer signed it).
    pub fn token_claims(&self, name: &str) -> serde_json::Value {
        use base64::Engine;
        let value = self.header(name).expect("the header was sent");
        let token = value.strip_prefix("Bearer ").expect("a bearer token");
        let payload = token.split('.').nth(1).expect("a JWT");
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url");
        serde_json::from_slice(&json).expect("JSON claims")
    }
}

/// A stand-in for one of the services, on a loopback port.
#[derive(Clone)]
pub struct Stub {
    pub address: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl Stub {
    /// Serves `routes`, recording each call first.
    pub async fn spawn(routes: Router) -> Self {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let recorder = calls.clone();
        let app = routes.layer(axum::middleware::from_fn(
            move |request: Request, next: axum::middleware::Next| {
                let recorder = recorder.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let bytes = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    recorder.lock().unwrap().push(Call {
                        method: parts.method.clone(),
                        target: parts
                            .uri
                            .path_and_query()
                            .map_or(String::new(), |p| p.to_string()),
                        headers: parts.headers.clone(),
                        body: bytes.clone(),
                    });
                    next.run(Request::from_parts(parts, Body::from(bytes)))
                        .await
                }
            },
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { address, calls }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The calls to `path` (without query).
    pub fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|call| call.target.split('?').next() == Some(path))
            .collect()
    }
}

/// The services' stand-ins for one test; each is given the routes the test needs.
#[derive(Default)]
pub struct Upstreams {
    pub users: Router,
    pub sales: Router,
    pub integrations: Router,
}

pub struct TestConsole {
    router: Router,
    pub config: Config,
    pub users: Stub,
    pub sales: Stub,
    pub integrations: Stub,
    /// The emulator, to see what the session table holds.
    pub dynamodb: aws_sdk_dynamodb::Client,
    _background: common::server::BackgroundTasks,
}

pub async fn spawn_console(upstreams: Upstreams) -> TestConsole {
    spawn_console_with(upstreams, |_| {}).await
}

pub async fn spawn_console_with(
    upstreams: Upstreams,
    adjust: impl FnOnce(&mut Config),
) -> TestConsole {
    test_support::logs::init();
    let issuer = OidcIssuer::shared().await;
    let (users, sales, integrations) = tokio::join!(
        Stub::spawn(upstreams.users),
        Stub::spawn(upstreams.sales),
        Stub::spawn(upstreams.integrations),
    );
    let mut config = Config {
        common: CommonConfig::for_tests(test_support::emulator::unique_prefix()),
        public_url: Url::parse(PUBLIC_URL).unwrap(),
        services: Services {
            users: users.address.parse().unwrap(),
            sales: sales.address.parse().unwrap(),
            integrations: integrations.address.parse().unwrap(),
            timeout: Duration::from_secs(10),
        },
        operators: Some(OperatorSignIn {
            issuer: issuer.url().parse().unwrap(),
            client_id: "console".into(),
            client_secret: ClientSecret::Plain(Secret::new("console-dev-secret")),
            scopes: vec!["openid".into(), "profile".into(), "groups".into()],
            audiences: Audiences {
                users: "api://users".into(),
                sales: "api://sales".into(),
                integrations: "api://integrations".into(),
            },
            operator_claim: "groups".into(),
            operator_value: "platform-operators".into(),
        }),
        session_ttl: Duration::from_secs(3600),
        client_addresses: Default::default(),
        image_origins: vec!["http://images.test".into()],
    };
    adjust(&mut config);
    let emulator = test_support::emulator::endpoint();
    let sdk = common::aws::load_sdk_config(Some(&emulator)).await;
    let application = console::build(&config, &sdk)
        .await
        .expect("the console builds");
    let (service, background) = application.start_background();
    let peer: SocketAddr = format!("{CLIENT_ADDRESS}:40000").parse().unwrap();
    TestConsole {
        router: service.router.layer(MockConnectInfo(peer)),
        config,
        users,
        sales,
        integrations,
        dynamodb: common::aws::dynamodb(&sdk),
        _background: background,
    }
}

/// An answer of the console.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    /// The trimmed texts of the elements `css` selects.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let selector = Selector::parse(css).expect("a valid selector");
        self.html()
            .select(&selector)
            .map(|e| {
                e.text()
                    .collect::<String>()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    /// The value of `attribute` of each element `css` selects.
    pub fn attributes(&self, css: &str, attribute: &str) -> Vec<String> {
        let selector = Selector::parse(css).expect("a valid selector");
        self.html()
            .select(&selector)
            .filter_map(|e| e.value().attr(attribute).map(str::to_owned))
            .collect()
    }

    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location on a {} answer: {}", self.status, self.body))
    }

    /// The session cookie this answer sets (its value; empty when it clears it).
    pub fn session_cookie(&self) -> Option<String> {
        self.set_cookie()
            .and_then(|line| line.split(';').next().map(str::to_owned))
            .and_then(|pair| pair.strip_prefix("__Host-console=").map(str::to_owned))
    }

    pub fn set_cookie(&self) -> Option<String> {
        self.headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the status, showing the page when it differs.
    #[track_caller]
    pub fn assert_status(&self, expected: StatusCode) -> &Self {
        assert_eq!(self.status, expected, "{}", self.body);
        self
    }
}

/// How a request is sent: as the console's own pages send it (same origin), or forged.
#[derive(Clone, Copy)]
pub enum From {
    SameOrigin,
    CrossSite,
}

impl TestConsole {
    pub async fn send(&self, request: axum::http::Request<Body>) -> Page {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    fn builder(method: Method, path: &str, cookie: Option<&str>) -> axum::http::request::Builder {
        let mut builder = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1:8080");
        if let Some(cookie) = cookie {
            builder = builder.header(header::COOKIE, format!("__Host-console={cookie}"));
        }
        builder
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Page {
        self.send(
            Self::builder(Method::GET, path, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    /// A form post, as a browser sends it from `from`.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        cookie: Option<&str>,
        from: From,
    ) -> Page {
        let (site, origin) = match from {
            From::SameOrigin => ("same-origin", PUBLIC_URL),
            From::CrossSite => ("cross-site", "https://evil.example"),
        };
        let request = Self::builder(Method::POST, path, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("sec-fetch-site", site)
            .header(header::ORIGIN, origin)
            .body(Body::from(serde_urlencoded::to_string(form).unwrap()))
            .unwrap();
        self.send(request).await
    }

    /// A multipart post from the console's own page: `fields` as text, `file` as the
    /// `avatar` part.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &[u8])>,
        cookie: Option<&str>,
    ) -> Page {
        let boundary = "console-test-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(format!("--{boundary}\r\ncontent-disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        }
        if let Some((content_type, bytes)) = file {
            body.extend(format!("--{boundary}\r\ncontent-disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\ncontent-type: {content_type}\r\n\r\n").as_bytes());
            body.extend(bytes);
            body.extend(b"\r\n");
        }
        body.extend(format!("--{boundary}--\r\n").as_bytes());
        let request = Self::builder(Method::POST, path, cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("sec-fetch-site", "same-origin")
            .header(header::ORIGIN, PUBLIC_URL)
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Logs an account holder in through the console's form (user-service's `/auth` is the
    /// stub's); their session cookie.
    pub async fn log_in(&self, username: &str) -> String {
        let page = self
            .post_form(
                "/login",
                &[("username", username), ("password", "correct horse")],
                None,
                From::SameOrigin,
            )
            .await;
        page.assert_status(StatusCode::SEE_OTHER);
        page.session_cookie().expect("a session cookie")
    }

    /// Signs `username` in at the real issuer as a browser would: the console's redirect,
    /// the issuer's sign-in form, back to the console's callback. The callback's answer.
    pub async fn operator_sign_in(&self, username: &str, password: &str) -> Page {
        let start = self.get("/ops/login?next=/ops/orders", None).await;
        start.assert_status(StatusCode::SEE_OTHER);
        let pending = start.session_cookie().expect("a pending sign-in cookie");
        let callback = issuer_sign_in(start.location(), username, password).await;
        let target = callback
            .strip_prefix(PUBLIC_URL)
            .expect("back to the console");
        self.get(target, Some(&pending)).await
    }

    /// An operator's session cookie.
    pub async fn operator(&self) -> String {
        let answer = self
            .operator_sign_in("operator", "operator-password-1")
            .await;
        answer.assert_status(StatusCode::SEE_OTHER);
        answer.session_cookie().expect("a session cookie")
    }
}

/// Walks the issuer's pages from `authorize` with the given credentials; the URL the
/// browser is finally sent to (the console's callback).
pub async fn issuer_sign_in(authorize: &str, username: &str, password: &str) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut cookies: Vec<(String, String)> = Vec::new();
    let mut url = Url::parse(authorize).unwrap();
    let mut form: Option<Vec<(String, String)>> = None;
    for _ in 0..10 {
        let cookie = cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let request = match form.take() {
            Some(fields) => http.post(url.clone()).form(&fields),
            None => http.get(url.clone()),
        };
        let response = request.header(header::COOKIE, cookie).send().await.unwrap();
        for line in response.headers().get_all(header::SET_COOKIE) {
            let pair = line.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            cookies.retain(|(k, _)| k != name);
            cookies.push((name.to_owned(), value.to_owned()));
        }
        if let Some(location) = response.headers().get(header::LOCATION) {
            let next = url.join(location.to_str().unwrap()).unwrap();
            if next.as_str().starts_with(PUBLIC_URL) {
                return next.to_string();
            }
            url = next;
            continue;
        }
        let html = response.text().await.unwrap();
        let action = Html::parse_document(&html)
            .select(&Selector::parse("form[action$='/login']").unwrap())
            .next()
            .and_then(|f| f.value().attr("action").map(str::to_owned))
            .unwrap_or_else(|| panic!("no sign-in form at {url}: {html}"));
        url = url.join(&action).unwrap();
        form = Some(vec![
            ("username".into(), username.into()),
            ("password".into(), password.into()),
        ]);
    }
    panic!("the issuer never sent the browser back to the console")
}

/// A 1x1 PNG.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];
