//! Structured logs with `tracing`, and the request-id / access-log layers.

use std::borrow::Cow;
use std::sync::RwLock;
use std::time::Duration;

use axum::http::{HeaderName, Request, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{MakeSpan, OnFailure, OnResponse, TraceLayer};
use tracing::Span;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

use crate::config::LogFormat;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global subscriber: JSON lines (or pretty text), filtered by `RUST_LOG`
/// (default `info`). Safe to call more than once (tests): later calls are no-ops.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).try_init(),
    };
}

/// Generates an `x-request-id` when the caller sent none (a caller's id is kept, so one id
/// follows a request across services; [`drop_unsafe_request_id`] runs first).
pub fn set_request_id_layer() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid)
}

/// Longest caller-chosen request id kept.
pub const MAX_REQUEST_ID: usize = 64;

/// A caller's request id is kept only if it is one header of 1 to 64 of
/// `[A-Za-z0-9._-]`: it is echoed and logged, and an 8000-byte id with `}` and spaces
/// forged fields in the text logs (security review F6). Anything else is dropped, so a
/// new id is made.
pub async fn drop_unsafe_request_id(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut ids = request.headers().get_all(REQUEST_ID).iter();
    let safe = match (ids.next(), ids.next()) {
        (Some(id), None) => is_safe_request_id(id.as_bytes()),
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !safe {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Echoes the request id on the response.
pub fn propagate_request_id_layer() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(REQUEST_ID)
}

/// One span per request carrying the request id, and one access-log line per response.
pub fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    RequestSpan,
    (),
    AccessLog,
    (),
    (),
    AccessLog,
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(AccessLog)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(AccessLog)
}

/// Path prefixes whose next segment is a secret (a callback URL's token), registered by
/// the services that serve them: see [`redact_path_segment_after`].
static SECRET_PATH_PREFIXES: RwLock<Vec<&'static str>> = RwLock::new(Vec::new());

/// From now on, the path segment after `prefix` (e.g. the token in
/// `/api/v1/sales/sms/delivery-reports/<token>`) is logged as `{redacted}`: a secret a
/// caller must put in the URL (a provider's callback carries no other credential) never
/// reaches the logs.
pub fn redact_path_segment_after(prefix: &'static str) {
    let mut prefixes = SECRET_PATH_PREFIXES
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !prefixes.contains(&prefix) {
        prefixes.push(prefix);
    }
}

/// `path` as the access log shows it: a registered secret segment replaced.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    let prefixes = SECRET_PATH_PREFIXES
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for prefix in prefixes.iter() {
        if let Some(rest) = path.strip_prefix(prefix) {
            let after = rest.find('/').map_or("", |at| &rest[at..]);
            return Cow::Owned(format!("{prefix}{{redacted}}{after}"));
        }
    }
    Cow::Borrowed(path)
}

#[derive(Clone, Copy, Debug)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        // The path, never the query: query strings can carry cursors and search terms.
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = crate::metrics::method_label(request.method()),
            path = %loggable_path(request.uri().path()),
        )
    }
}

#[derive(Clone, Copy, Debug)]
pub struct AccessLog;

impl<B> OnResponse<B> for AccessLog {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &Span) {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = latency.as_secs_f64() * 1000.0,
            "response"
        );
    }
}

impl<F: std::fmt::Display> OnFailure<F> for AccessLog {
    fn on_failure(&mut self, failure: F, latency: Duration, _span: &Span) {
        tracing::warn!(
            %failure,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_short_tokens_of_a_closed_alphabet() {
        for kept in ["trace-me-123", "a", "A.b_C-9", &"x".repeat(64)] {
            assert!(is_safe_request_id(kept.as_bytes()), "{kept}");
        }
        for dropped in [
            "",
            &"x".repeat(65),
            "pt1}: status=200 method=DELETE",
            "a b",
            "id\u{e9}",
            "a/b",
        ] {
            assert!(!is_safe_request_id(dropped.as_bytes()), "{dropped}");
        }
    }

    #[test]
    fn a_registered_secret_segment_is_never_logged() {
        redact_path_segment_after("/callbacks/test-only/");
        assert_eq!(
            loggable_path("/callbacks/test-only/s3cr3t-token"),
            "/callbacks/test-only/{redacted}"
        );
        assert_eq!(
            loggable_path("/callbacks/test-only/s3cr3t/more"),
            "/callbacks/test-only/{redacted}/more"
        );
        assert_eq!(loggable_path("/callbacks/other/x"), "/callbacks/other/x");
    }
}
