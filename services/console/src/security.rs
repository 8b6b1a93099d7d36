//! The browser-facing controls every console answer carries, beside the skeleton's
//! (`no-store`, `nosniff`, `X-Frame-Options: DENY`, `no-referrer`):
//!
//! - **CSRF**: tower-http's `csrf` layer (Go 1.25's `CrossOriginProtection` scheme): an
//!   unsafe request (POST, PUT, DELETE, ...) from another site is a 403, by `Sec-Fetch-Site`
//!   or, from browsers without it, by `Origin` against `PUBLIC_URL`. With `SameSite=Lax`
//!   cookies and no state change on GET, no token plumbing is needed.
//! - **CSP**: scripts and styles from this origin only (no inline script, and htmx never
//!   evaluates), images from this origin and the avatar store, forms post here (and to
//!   the issuer, for signing out), no framing, no `<base>`.

use askama::Template;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Response, StatusCode};
use axum::middleware::Next;
use tower_http_07::csrf::{CsrfLayer, ProtectionError};

use crate::config::Config;
use crate::error::ErrorPage;

/// The `Content-Security-Policy` of every console answer.
pub fn content_security_policy(config: &Config) -> HeaderValue {
    let mut images = vec!["'self'".to_owned(), "data:".to_owned()];
    images.extend(config.image_origins.iter().cloned());
    let mut forms = vec!["'self'".to_owned()];
    if let Some(operators) = &config.operators {
        forms.push(operators.issuer.origin().ascii_serialization());
    }
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src {}; connect-src 'self'; form-action {}; frame-ancestors 'none'; base-uri 'none'",
        images.join(" "),
        forms.join(" ")
    );
    HeaderValue::try_from(policy).expect("origins are valid header text")
}

/// Adds the CSP and the other browser policies to every answer.
pub async fn headers(
    State(csp): State<HeaderValue>,
    request: Request,
    next: Next,
) -> Response<Body> {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    response
}

/// The CSRF layer: `PUBLIC_URL`'s origin is trusted; a refused request gets a page that
/// says why.
pub fn csrf(config: &Config) -> CsrfLayer<impl FnMut(ProtectionError) -> Response<Body> + Clone> {
    let origin = config.public_url.origin().ascii_serialization();
    CsrfLayer::new()
        .add_trusted_origin(&origin)
        .expect("PUBLIC_URL was checked to be an origin")
        .with_rejection_response(|error: ProtectionError| {
            tracing::warn!(%error, "cross-site request refused");
            let page = ErrorPage::plain(
                "Request refused",
                "This form was sent from another site, so the console refused it. Nothing was changed. If you sent it yourself, go back, reload the page and send it again.",
                Some(("/", "Go to the start page")),
            );
            let html = page.render().unwrap_or_default();
            Response::builder()
                .status(StatusCode::FORBIDDEN)
                .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
                .body(Body::from(html))
                .expect("static response parts are valid")
        })
}
