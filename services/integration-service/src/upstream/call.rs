//! One call upstream: its attempts (credentials, the rate-limit turn, the concurrency
//! permit, a capped body), how each failure is classified for the retry policy, and the
//! error the caller gets at the end.
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::http_client::{
    classify_status, classify_transport, read_capped, BodyError, Idempotency,
};
use common::retry::{Retry, RetryPolicy};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use super::credentials::transport_kind;
use super::dpop;
use super::errors::{AttemptError, UpstreamError};
use super::request::{join, Exchange, UpstreamRequest};
use super::Upstream;

/// The largest upstream body read: a bigger one is an invalid answer, not a memory spike.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// What one call may do only once, whatever the number of attempts.
#[derive(Default)]
struct OnceOnly {
    reauthenticated: AtomicBool,
    nonce_answered: AtomicBool,
}

impl Upstream {
    /// Sends `request`, retrying within `deadline` as its idempotency allows. Any final
    /// HTTP answer other than 401, 429 and 5xx is returned for the integration to map.
    pub async fn call(
        &self,
        request: &UpstreamRequest,
        deadline: Instant,
    ) -> Result<Exchange, UpstreamError> {
        let _permit = tokio::time::timeout_at(deadline, self.permits.acquire())
            .await
            .map_err(|_| UpstreamError::Busy)?
            .expect("the semaphore is never closed");
        let policy = RetryPolicy {
            deadline: deadline.saturating_duration_since(Instant::now()),
            ..self.policy.clone()
        };
        let once = OnceOnly::default();
        let result = policy
            .run(
                |_| self.attempt(request, deadline, &once),
                |error| self.classify(error, request, deadline),
                |attempt, error, wait| {
                    self.metrics
                        .retries
                        .with_label_values(&[
                            &*self.integration,
                            &*request.operation,
                            error.reason(),
                        ])
                        .inc();
                    tracing::warn!(
                        tenant = %self.tenant,
                        integration = &*self.integration,
                        operation = &*request.operation,
                        attempt,
                        reason = error.reason(),
                        wait_ms = wait.as_millis() as u64,
                        "upstream call failed; retrying"
                    );
                },
            )
            .await;
        match result {
            Ok(exchange) if exchange.status == StatusCode::UNAUTHORIZED => {
                Err(UpstreamError::CredentialsRejected(format!(
                    "the upstream answered 401 to fresh credentials{}",
                    dpop::challenge_error(&exchange.headers)
                        .map(|error| format!(" ({error})"))
                        .unwrap_or_default()
                )))
            }
            Ok(exchange) => Ok(exchange),
            Err(error) => Err(self.final_error(error, request)),
        }
    }

    async fn attempt(
        &self,
        request: &UpstreamRequest,
        deadline: Instant,
        once: &OnceOnly,
    ) -> Result<Exchange, AttemptError> {
        self.limiter
            .wait_turn(&request.bucket, deadline)
            .await
            .map_err(AttemptError::Throttled)?;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(AttemptError::DeadlineExceeded);
        }
        let mut url = join(&self.base_url, &request.path);
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        let mut http_request = reqwest::Request::new(request.method.clone(), url);
        *http_request.timeout_mut() = Some(self.attempt_timeout.min(left));
        http_request.headers_mut().insert(
            reqwest::header::ACCEPT,
            "application/json".parse().expect("static"),
        );
        if let Some(body) = &request.json {
            http_request.headers_mut().insert(
                reqwest::header::CONTENT_TYPE,
                reqwest::header::HeaderValue::from_static("application/json"),
            );
            *http_request.body_mut() = Some(body.to_string().into());
        } else if matches!(request.method, Method::POST | Method::PUT | Method::PATCH) {
            // hyper sends an HTTP/1.1 request without a body with neither Content-Length
            // nor Transfer-Encoding, which Okta answers 411 ("include a Content-Length: 0
            // header", okta-developer-docs reference/api-overview); Go's net/http and
            // aiohttp, which Okta's SDKs use, send it.
            http_request.headers_mut().insert(
                reqwest::header::CONTENT_LENGTH,
                reqwest::header::HeaderValue::from_static("0"),
            );
        }
        self.authenticator
            .authorize(&mut http_request, deadline)
            .await
            .map_err(AttemptError::Auth)?;

        let labels = [&*self.integration, &*request.operation];
        let started = Instant::now();
        let sent = self.http.execute(http_request).await;
        let observe = |status: &str| {
            self.metrics
                .upstream_latency
                .with_label_values(&labels)
                .observe(started.elapsed().as_secs_f64());
            self.metrics
                .upstream_requests
                .with_label_values(&[&*self.integration, &*request.operation, status])
                .inc();
        };
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                observe("error");
                return Err(AttemptError::Transport(error));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        self.limiter.observe(&request.bucket, status, &headers);
        let nonce_demanded = self.authenticator.challenged(status, &headers);
        let body = match read_capped(response, MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(BodyError::Transport(error)) => {
                observe("error");
                return Err(AttemptError::Transport(error));
            }
            Err(BodyError::TooLarge { .. }) => {
                observe(status.as_str());
                return Err(AttemptError::Invalid(format!(
                    "the answer is larger than {} MiB",
                    MAX_BODY_BYTES / (1024 * 1024)
                )));
            }
        };
        observe(status.as_str());
        let exchange = Exchange {
            status,
            headers,
            body,
        };
        if nonce_demanded && !once.nonce_answered.swap(true, Ordering::SeqCst) {
            return Err(AttemptError::DpopNonce);
        }
        if status == StatusCode::UNAUTHORIZED && !once.reauthenticated.swap(true, Ordering::SeqCst)
        {
            self.metrics
                .auth_refreshes
                .with_label_values(&[&self.tenant, &*self.integration])
                .inc();
            tracing::warn!(tenant = %self.tenant, integration = &*self.integration, "credentials rejected; refreshing them once");
            self.authenticator.invalidate().await;
            return Err(AttemptError::Reauthenticate);
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(AttemptError::Status(exchange));
        }
        if status.is_success() {
            if let Some(accept) = request.accept {
                accept(&exchange).map_err(AttemptError::Invalid)?;
            }
        }
        Ok(exchange)
    }

    fn classify(
        &self,
        error: &AttemptError,
        request: &UpstreamRequest,
        deadline: Instant,
    ) -> Retry {
        let idempotency = request.idempotency;
        match error {
            AttemptError::Transport(error) => classify_transport(error, idempotency),
            AttemptError::Status(exchange) if exchange.status == StatusCode::TOO_MANY_REQUESTS => {
                // A 429 is a refusal: safe to repeat, but only after the reset.
                let wait = self
                    .limiter
                    .until_reset(&request.bucket)
                    .unwrap_or(Duration::from_secs(1));
                if Instant::now() + wait > deadline {
                    Retry::No
                } else {
                    Retry::After(wait)
                }
            }
            AttemptError::Status(exchange)
                if !request.repeat_server_errors && exchange.status.is_server_error() =>
            {
                Retry::No
            }
            AttemptError::Status(exchange) => {
                classify_status(exchange.status, &exchange.headers, idempotency)
            }
            AttemptError::Reauthenticate | AttemptError::DpopNonce => Retry::After(Duration::ZERO),
            AttemptError::Invalid(_) if idempotency == Idempotency::Idempotent => Retry::Backoff,
            AttemptError::Invalid(_)
            | AttemptError::Throttled(_)
            | AttemptError::Auth(_)
            | AttemptError::DeadlineExceeded => Retry::No,
        }
    }

    fn final_error(&self, error: AttemptError, request: &UpstreamRequest) -> UpstreamError {
        let attempts = self.policy.max_attempts;
        let idempotent = request.idempotency == Idempotency::Idempotent;
        let call = format!("{} {}", request.method, request.path);
        let error = match error {
            AttemptError::Transport(error) if error.is_connect() || idempotent => {
                UpstreamError::Unavailable(format!(
                    "{call} {} (gave up after at most {attempts} attempts)",
                    match transport_kind(&error) {
                        "timed out" => "timed out",
                        "connection failed" => "could not be reached",
                        _ => "dropped the connection",
                    }
                ))
            }
            AttemptError::Transport(error) => UpstreamError::OutcomeUnknown(format!(
                "{call} {} before answering; the upstream may or may not have applied it",
                transport_kind(&error)
            )),
            AttemptError::Status(exchange) if exchange.status == StatusCode::TOO_MANY_REQUESTS => {
                UpstreamError::RateLimited {
                    retry_after: self
                        .limiter
                        .until_reset(&request.bucket)
                        .unwrap_or(Duration::from_secs(1)),
                }
            }
            AttemptError::Status(exchange)
                if idempotent || exchange.status == StatusCode::SERVICE_UNAVAILABLE =>
            {
                UpstreamError::Unavailable(format!(
                    "{call} answered {} (gave up after at most {attempts} attempts)",
                    exchange.status
                ))
            }
            AttemptError::Status(exchange) => UpstreamError::OutcomeUnknown(format!(
                "{call} answered {}; the upstream may or may not have applied it",
                exchange.status
            )),
            AttemptError::Reauthenticate => {
                UpstreamError::CredentialsRejected("the upstream rejected the credentials".into())
            }
            AttemptError::DpopNonce => UpstreamError::CredentialsRejected(
                "the upstream kept asking for a new DPoP nonce (use_dpop_nonce)".into(),
            ),
            AttemptError::Throttled(retry_after) => UpstreamError::RateLimited { retry_after },
            AttemptError::Auth(error) => error.into(),
            AttemptError::Invalid(why) => UpstreamError::InvalidResponse(format!(
                "{call}: {why} (gave up after at most {attempts} attempts)"
            )),
            AttemptError::DeadlineExceeded => {
                UpstreamError::Unavailable(format!("{call} did not answer in time"))
            }
        };
        tracing::warn!(
            tenant = %self.tenant,
            integration = &*self.integration,
            operation = &*request.operation,
            %error,
            "upstream call failed"
        );
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upstream whose every path redirects to `/elsewhere`, counting what reaches it.
    async fn redirecting_upstream() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use axum::response::Redirect;
        let followed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = followed.clone();
        let router = axum::Router::new()
            .route(
                "/start",
                axum::routing::get(|| async { Redirect::temporary("/elsewhere") }),
            )
            .route(
                "/elsewhere",
                axum::routing::get(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async { "[]" }
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (url, followed)
    }

    #[tokio::test]
    async fn a_redirect_is_an_answer_not_a_place_to_go() {
        let (url, followed) = redirecting_upstream().await;
        let tenants = crate::tenants::Tenants::parse(&format!(
            r#"{{"acme": {{"callers": {{}}, "partner": {{"base_url": "{url}", "auth": {{"method": "api_token"}},
                 "secret": "redirect-test/partner"}}}}}}"#
        ))
        .unwrap();
        let settings = tenants.get("acme", "partner").unwrap();
        let metrics =
            crate::metrics::ServiceMetrics::register(&common::metrics::Metrics::new()).unwrap();
        let config = crate::upstream::UpstreamConfig {
            attempt_timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(4),
            max_attempts: 1,
            retry_base_delay: Duration::from_millis(10),
            max_concurrency: 1,
            slowdown_below: 0.1,
        };
        let upstream = Upstream::new(
            "acme",
            "partner",
            settings,
            &Default::default(),
            &config,
            std::sync::Arc::new(common::secrets::EnvSecretStore),
            metrics,
        )
        .unwrap();
        std::env::set_var("SECRET_REDIRECT_TEST_PARTNER", "token");
        let request = UpstreamRequest::get("start", "/start");
        let deadline = Instant::now() + Duration::from_secs(4);
        let answer = upstream.call(&request, deadline).await.unwrap();
        assert_eq!(
            answer.status,
            StatusCode::TEMPORARY_REDIRECT,
            "the redirect is the answer"
        );
        assert_eq!(
            followed.load(Ordering::SeqCst),
            0,
            "and it was not followed"
        );
    }

    #[tokio::test]
    async fn bodies_past_the_cap_are_refused_as_they_stream_in() {
        let response = |bytes: usize| {
            reqwest::Response::from(
                axum::http::Response::builder()
                    .body(vec![b'x'; bytes])
                    .unwrap(),
            )
        };
        assert_eq!(
            read_capped(response(MAX_BODY_BYTES), MAX_BODY_BYTES)
                .await
                .ok()
                .map(|b| b.len()),
            Some(MAX_BODY_BYTES)
        );
        assert!(matches!(
            read_capped(response(MAX_BODY_BYTES + 1), MAX_BODY_BYTES).await,
            Err(BodyError::TooLarge { .. })
        ));
    }
}
