//! Serving the spec and Swagger UI: `/openapi.json` with the OAuth2 token URL read from
//! the issuer's discovery document, and Swagger UI's vendored assets (nothing fetched at
//! build or run time) under `/swagger`, titled after the service, remembering the
//! authorization across reloads, revalidated by ETag and gzipped once.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use utoipa::openapi::OpenApi;

use super::TOKEN_URL_FROM;

/// How long one discovery fetch may take, and how often a failed one is tried again.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(3);
const DISCOVERY_RETRY: Duration = Duration::from_secs(10);

/// `/openapi.json` and `/swagger`.
pub fn docs_router(spec: OpenApi) -> Router {
    let title = spec.info.title.clone();
    let spec = Arc::new(ServedSpec::new(
        serde_json::to_value(&spec).expect("a spec serialises"),
    ));
    let assets = Arc::new(Assets::new(&title));
    Router::new()
        .route("/openapi.json", get(serve_spec).with_state(spec))
        .route("/swagger", get(|| async { Redirect::to("/swagger/") }))
        .route("/swagger/", get(serve_index).with_state(assets.clone()))
        .route("/swagger/{*file}", get(serve_asset).with_state(assets))
}

/// The spec as served: OAuth2 flows whose token URL comes from an issuer's discovery get
/// it once it is known; until then (issuer unreachable) the spec goes out without them.
struct ServedSpec {
    /// The spec without the discovered flows, for when discovery fails.
    without_discovered: Bytes,
    discovered: Vec<Discovered>,
    resolved: OnceLock<Bytes>,
    spec: Value,
    http: reqwest::Client,
    last_attempt: Mutex<Option<Instant>>,
}

/// A security scheme whose client-credentials token URL is the issuer's `token_endpoint`.
struct Discovered {
    scheme: String,
    issuer: String,
}

impl ServedSpec {
    fn new(spec: Value) -> Self {
        let discovered: Vec<Discovered> = spec["components"]["securitySchemes"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(scheme, value)| {
                let issuer = value["flows"]["clientCredentials"][TOKEN_URL_FROM].as_str()?;
                Some(Discovered {
                    scheme: scheme.clone(),
                    issuer: issuer.to_owned(),
                })
            })
            .collect();
        let mut without = spec.clone();
        for discovered in &discovered {
            remove_scheme(&mut without, &discovered.scheme);
        }
        Self {
            without_discovered: Bytes::from(serde_json::to_vec(&without).expect("serialises")),
            resolved: OnceLock::new(),
            discovered,
            spec,
            http: crate::http_client::client(DISCOVERY_TIMEOUT),
            last_attempt: Mutex::new(None),
        }
    }

    async fn body(&self) -> Bytes {
        if self.discovered.is_empty() {
            return self.without_discovered.clone();
        }
        if let Some(resolved) = self.resolved.get() {
            return resolved.clone();
        }
        {
            let mut last = self
                .last_attempt
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < DISCOVERY_RETRY) {
                return self.without_discovered.clone();
            }
            *last = Some(Instant::now());
        }
        let mut spec = self.spec.clone();
        for discovered in &self.discovered {
            let flow = &mut spec["components"]["securitySchemes"][&discovered.scheme]["flows"]
                ["clientCredentials"];
            match crate::auth::token_endpoint(&self.http, &discovered.issuer).await {
                Ok(token_url) => flow["tokenUrl"] = Value::String(token_url),
                Err(why) => {
                    tracing::warn!(issuer = %discovered.issuer, "the spec goes out without its OAuth2 flow for now: {why}");
                    return self.without_discovered.clone();
                }
            }
        }
        let body = Bytes::from(serde_json::to_vec(&spec).expect("serialises"));
        self.resolved.get_or_init(|| body).clone()
    }
}

/// Drops the security scheme `name` and every security requirement naming it.
fn remove_scheme(spec: &mut Value, name: &str) {
    if let Some(schemes) = spec["components"]["securitySchemes"].as_object_mut() {
        schemes.remove(name);
    }
    let Some(paths) = spec["paths"].as_object_mut() else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        if let Some(security) = operation.get_mut("security").and_then(Value::as_array_mut) {
            security.retain(|requirement| requirement.get(name).is_none());
        }
    }
}

async fn serve_spec(State(spec): State<Arc<ServedSpec>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        spec.body().await,
    )
        .into_response()
}

/// Swagger UI's files, as `utoipa_swagger_ui` vendors them, with this service's settings:
/// the page title, one spec URL, the base layout (no "Explore" bar: there is one spec),
/// and the authorization kept across reloads. Each file is prepared once.
struct Assets {
    config: Arc<utoipa_swagger_ui::Config<'static>>,
    title: String,
    prepared: Mutex<HashMap<String, Option<Arc<Asset>>>>,
}

struct Asset {
    content_type: String,
    etag: HeaderValue,
    plain: Bytes,
    /// Worth it for the text files (the bundle: 1.4 MB, about 0.4 MB gzipped).
    gzipped: Option<Bytes>,
}

impl Assets {
    fn new(title: &str) -> Self {
        let config = utoipa_swagger_ui::Config::new(["/openapi.json"])
            .use_base_layout()
            .persist_authorization(true)
            .display_request_duration(true)
            .try_it_out_enabled(true);
        Self {
            config: Arc::new(config),
            title: title.to_owned(),
            prepared: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, file: &str) -> Option<Arc<Asset>> {
        let mut prepared = self.prepared.lock().unwrap_or_else(PoisonError::into_inner);
        prepared
            .entry(file.to_owned())
            .or_insert_with(|| self.prepare(file).map(Arc::new))
            .clone()
    }

    fn prepare(&self, file: &str) -> Option<Asset> {
        let found = utoipa_swagger_ui::serve(file, self.config.clone()).ok()??;
        let mut plain = found.bytes.into_owned();
        if file == "index.html" {
            let page = String::from_utf8_lossy(&plain).replace(
                "<title>Swagger UI</title>",
                &format!(
                    "<title>{} API · Swagger UI</title>",
                    html_escape(&self.title)
                ),
            );
            plain = page.into_bytes();
        }
        let digest = Sha256::digest(&plain);
        let etag = format!("\"{}\"", hex(&digest[..12]));
        let text = found.content_type.starts_with("text/")
            || found.content_type.contains("javascript")
            || found.content_type.contains("json");
        let gzipped = (text && plain.len() > 1024).then(|| gzip(&plain));
        Some(Asset {
            content_type: found.content_type,
            etag: HeaderValue::from_str(&etag).expect("hex is a valid header"),
            plain: Bytes::from(plain),
            gzipped,
        })
    }
}

async fn serve_index(State(assets): State<Arc<Assets>>, headers: HeaderMap) -> Response {
    respond(&assets, "index.html", &headers)
}

async fn serve_asset(
    State(assets): State<Arc<Assets>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    respond(&assets, &file, &headers)
}

fn respond(assets: &Assets, file: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = assets.get(file) else {
        return crate::Problem::not_found(format!("No file {file} in Swagger UI")).into_response();
    };
    // Revalidated on every use (`no-cache`): a new binary may carry a new Swagger UI.
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response_headers.insert(header::ETAG, asset.etag.clone());
    response_headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|tag| tag.as_bytes() == asset.etag.as_bytes() || tag == "*")
    {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&asset.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    match &asset.gzipped {
        Some(gzipped) if accepts_gzip(headers) => {
            response_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (response_headers, gzipped.clone()).into_response()
        }
        _ => (response_headers, asset.plain.clone()).into_response(),
    }
}

/// `Accept-Encoding` names gzip with a non-zero quality.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|param| {
                param
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn gzip(bytes: &[u8]) -> Bytes {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    Bytes::from(encoder.finish().expect("writing to memory"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use crate::auth::OidcSettings;

    fn spec_with_issuer(issuer: &str) -> OpenApi {
        let operation: utoipa::openapi::path::Operation =
            serde_json::from_value(serde_json::json!({
                "security": [{"oidc": ["sales:read"]}], "responses": {},
            }))
            .unwrap();
        let mut spec = utoipa::openapi::OpenApiBuilder::new()
            .info(utoipa::openapi::Info::new("sales-service", "1"))
            .paths(utoipa::openapi::PathsBuilder::new().path(
                "/a",
                utoipa::openapi::PathItem::new(utoipa::openapi::HttpMethod::Get, operation),
            ))
            .build();
        super::super::add_oidc_schemes(
            &mut spec,
            "oidc",
            &OidcSettings::new(issuer, "api://sales"),
            &[("sales:read", "Read")],
            "",
        );
        super::super::finish(&mut spec);
        spec
    }

    async fn get(router: &Router, uri: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn json(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn the_token_url_comes_from_the_issuers_discovery() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let discovery = serde_json::json!({
            "issuer": issuer, "jwks_uri": format!("{issuer}/jwks"),
            "token_endpoint": format!("{issuer}/oauth2/v1/token"),
        });
        let served = Router::new().route("/.well-known/openid-configuration", get_route(discovery));
        tokio::spawn(async move { axum::serve(listener, served).await });
        let router = docs_router(spec_with_issuer(&issuer));
        let spec = json(get(&router, "/openapi.json", &[]).await).await;
        let flow = &spec["components"]["securitySchemes"]["oidc-client-credentials"]["flows"]
            ["clientCredentials"];
        assert_eq!(flow["tokenUrl"], format!("{issuer}/oauth2/v1/token"));
    }

    fn get_route(body: Value) -> axum::routing::MethodRouter {
        axum::routing::get(move || async move { axum::Json(body) })
    }

    #[tokio::test]
    async fn without_the_issuer_the_spec_goes_out_without_the_flow() {
        // A port nobody listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let router = docs_router(spec_with_issuer(&issuer));
        let spec = json(get(&router, "/openapi.json", &[]).await).await;
        let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
        assert_eq!(schemes.keys().collect::<Vec<_>>(), ["oidc"]);
        assert_eq!(
            spec["paths"]["/a"]["get"]["security"],
            serde_json::json!([{"oidc": ["sales:read"]}])
        );
    }

    #[tokio::test]
    async fn swagger_ui_is_titled_cached_by_etag_and_gzipped() {
        let router = docs_router(spec_with_issuer("http://127.0.0.1:9"));
        let page = get(&router, "/swagger/", &[]).await;
        assert_eq!(page.status(), StatusCode::OK);
        let body = axum::body::to_bytes(page.into_body(), usize::MAX)
            .await
            .unwrap();
        let page = String::from_utf8_lossy(&body);
        assert!(
            page.contains("<title>sales-service API · Swagger UI</title>"),
            "{page}"
        );

        let bundle = get(
            &router,
            "/swagger/swagger-ui-bundle.js",
            &[("accept-encoding", "gzip, br")],
        )
        .await;
        assert_eq!(bundle.status(), StatusCode::OK);
        assert_eq!(bundle.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(bundle.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = bundle.headers()[header::ETAG].to_str().unwrap().to_owned();
        let gzipped = axum::body::to_bytes(bundle.into_body(), usize::MAX)
            .await
            .unwrap();
        let plain = get(&router, "/swagger/swagger-ui-bundle.js", &[]).await;
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let plain = axum::body::to_bytes(plain.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(
            gzipped.len() * 2 < plain.len(),
            "{} vs {}",
            gzipped.len(),
            plain.len()
        );

        let again = get(
            &router,
            "/swagger/swagger-ui-bundle.js",
            &[("if-none-match", &etag)],
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

        let initializer = get(&router, "/swagger/swagger-initializer.js", &[]).await;
        let initializer = axum::body::to_bytes(initializer.into_body(), usize::MAX)
            .await
            .unwrap();
        let initializer = String::from_utf8_lossy(&initializer);
        assert!(
            initializer.contains(r#""persistAuthorization": true"#),
            "{initializer}"
        );
        assert!(
            initializer.contains(r#""layout": "BaseLayout""#),
            "{initializer}"
        );
        assert_eq!(
            get(&router, "/swagger/nothing.js", &[]).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get(&router, "/swagger", &[]).await.status(),
            StatusCode::SEE_OTHER
        );
    }
}
