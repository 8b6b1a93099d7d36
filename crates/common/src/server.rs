//! Turns a service's routes into the full application (operations endpoints, docs,
//! middleware stack) and serves it with graceful shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::{middleware, BoxError, Router};
use futures::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnectionBuilder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::CommonConfig;
use crate::error::{method_not_allowed_fallback, not_found_fallback, Problem};
use crate::health::{self, Health};
use crate::idle::IdleTimeoutListener;
use crate::metrics::{self, Metrics};
use crate::openapi::Answers;
use crate::shedding::{shed_beyond_limit, ConcurrencyLimit};
use crate::{openapi, telemetry};

/// Everything needed to assemble a service's HTTP application.
pub struct App {
    /// The service's own routes, state applied, documented with `#[utoipa::path]`.
    pub api: OpenApiRouter,
    /// The spec's info, tags and security schemes; paths are added from the routers.
    pub spec: OpenApi,
    pub health: Health,
    pub metrics: Arc<Metrics>,
}

/// A service ready to serve: the complete router and the readiness state that the
/// shutdown sequence turns to "draining".
pub struct Service {
    pub router: Router,
    pub health: Health,
}

/// A task that runs beside the HTTP service (sales' outbox dispatcher) until its token is
/// cancelled.
pub type BackgroundTask = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

/// What every service's `build()` returns: the HTTP service and its background tasks.
pub struct Application {
    pub service: Service,
    pub background: Vec<BackgroundTask>,
}

impl Application {
    /// A service without background tasks.
    pub fn new(service: Service) -> Self {
        Self {
            service,
            background: Vec::new(),
        }
    }

    /// Adds a task that runs beside the service and returns once its token is cancelled.
    pub fn with_background<F, Fut>(mut self, task: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background.push(Box::new(|stop| Box::pin(task(stop))));
        self
    }

    /// Spawns the background tasks; the service is left to the caller to serve.
    pub fn start_background(self) -> (Service, BackgroundTasks) {
        let stop = CancellationToken::new();
        let handles = self
            .background
            .into_iter()
            .map(|task| tokio::spawn(task(stop.clone())))
            .collect();
        (self.service, BackgroundTasks { stop, handles })
    }

    /// Serves as [`Service::run`] does with the background tasks beside it, then stops them
    /// and gives them `SHUTDOWN_GRACE_SECONDS` to finish the work they are in.
    pub async fn run(self, name: &str, config: &CommonConfig) -> anyhow::Result<()> {
        let (service, background) = self.start_background();
        let served = service.run(name, config).await;
        background.stop(config.shutdown_grace).await;
        served
    }
}

/// Running background tasks; dropping this cancels them without waiting.
pub struct BackgroundTasks {
    stop: CancellationToken,
    handles: Vec<JoinHandle<()>>,
}

impl BackgroundTasks {
    /// Cancels the tasks and waits up to `grace` for them to return.
    pub async fn stop(mut self, grace: Duration) {
        self.stop.cancel();
        let handles = std::mem::take(&mut self.handles);
        let _ = tokio::time::timeout(grace, futures::future::join_all(handles)).await;
    }
}

impl Drop for BackgroundTasks {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Service {
    /// Binds `BIND_ADDR` and serves until SIGTERM or SIGINT, then drains and finishes
    /// in-flight requests (see [`serve`]).
    pub async fn run(self, name: &str, config: &CommonConfig) -> anyhow::Result<()> {
        let listener = TcpListener::bind(config.bind_addr)
            .await
            .with_context(|| format!("binding {}", config.bind_addr))?;
        tracing::info!(address = %listener.local_addr()?, "{name} listening");
        serve(
            listener,
            self.router,
            self.health,
            config,
            shutdown_signal(),
        )
        .await;
        tracing::info!("{name} stopped");
        Ok(())
    }
}

impl App {
    /// The service: its routes, `/healthz`, `/readyz`, `/metrics`, `/openapi.json`,
    /// `/swagger`, and the shared middleware. Starts the background readiness checks.
    pub fn into_service(self, config: &CommonConfig) -> Service {
        let health = self.health.clone();
        health.spawn_checks(config.readiness);
        Service {
            router: self.into_router(config),
            health,
        }
    }

    fn into_router(self, config: &CommonConfig) -> Router {
        let operations = OpenApiRouter::new()
            .routes(routes!(health::healthz))
            .routes(routes!(health::readyz))
            .with_state(self.health)
            .merge(
                OpenApiRouter::new()
                    .routes(routes!(metrics_endpoint))
                    .with_state(self.metrics.clone()),
            );
        let (router, mut spec) = OpenApiRouter::with_openapi(self.spec)
            .merge(self.api)
            .merge(operations)
            .split_for_parts();
        // What the layers below and the shared extractors answer before a handler decides
        // anything; each operation documents only its own statuses.
        let shared = [
            (
                "401",
                "No valid credentials: the bearer token is missing, invalid or expired",
                Answers::Authenticated,
            ),
            (
                "403",
                "The token lacks a scope this operation needs (see its security)",
                Answers::Scoped,
            ),
            ("413", "Request body too large", Answers::WithBody),
            ("414", "URI too long", Answers::Every),
            (
                "415",
                "The body's content type is none this operation takes (see its request body)",
                Answers::WithBody,
            ),
            ("431", "Request headers too large", Answers::Every),
            (
                "503",
                "Unavailable for now: a dependency is down, the request ran past REQUEST_TIMEOUT_SECONDS, or MAX_CONCURRENT_REQUESTS are in flight (then with Retry-After); retry later",
                Answers::Every,
            ),
        ];
        for (status, description, answers) in shared {
            openapi::add_shared_response(&mut spec, status, description, answers);
        }
        openapi::add_problem_bodies(&mut spec);
        openapi::finish(&mut spec);

        let request_timeout = config.request_timeout;
        let limit = ConcurrencyLimit::new(config.max_concurrent_requests, &self.metrics);
        router
            .merge(openapi::docs_router(spec))
            .fallback(not_found_fallback)
            .method_not_allowed_fallback(method_not_allowed_fallback)
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .layer(middleware::from_fn(security_headers))
            .layer(middleware::from_fn_with_state(
                config.max_header_bytes,
                limit_request_head,
            ))
            // Inside the request metrics and the access log (a shed request shows as a 503
            // there), before anything that works for the request.
            .layer(middleware::from_fn_with_state(limit, shed_beyond_limit))
            .layer(middleware::from_fn_with_state(
                self.metrics,
                metrics::track_http,
            ))
            .layer(
                ServiceBuilder::new()
                    .layer(middleware::from_fn(telemetry::drop_unsafe_request_id))
                    .layer(telemetry::set_request_id_layer())
                    .layer(SetSensitiveRequestHeadersLayer::new([
                        header::AUTHORIZATION,
                        header::COOKIE,
                    ]))
                    .layer(telemetry::trace_layer())
                    .layer(telemetry::propagate_request_id_layer())
                    .layer(CatchPanicLayer::custom(|_| {
                        tracing::error!("handler panicked");
                        axum::response::IntoResponse::into_response(Problem::internal())
                    }))
                    .layer(HandleErrorLayer::new(|error: BoxError| async move {
                        if error.is::<tower::timeout::error::Elapsed>() {
                            Problem::new(StatusCode::SERVICE_UNAVAILABLE).detail(
                                "The request took too long and was abandoned; retry shortly",
                            )
                        } else {
                            tracing::error!(%error, "middleware error");
                            Problem::internal()
                        }
                    }))
                    .timeout(request_timeout),
            )
    }
}

/// Headers every answer carries unless its handler chose otherwise: answers hold tokens and
/// account data, so no cache keeps them; no browser sniffs a JSON body into HTML; no page
/// (`/swagger` included) is framed by another site; no URL leaks through `Referer`.
async fn security_headers(request: Request, next: Next) -> axum::response::Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers
            .entry(name)
            .or_insert(header::HeaderValue::from_static(value));
    }
    response
}

/// Longest URI (path and query) accepted; longer is a 414.
const MAX_URI_BYTES: usize = 8 * 1024;

/// Refuses oversized request heads before routing: hyper alone allows about 400 KiB.
async fn limit_request_head(
    State(max_header_bytes): State<usize>,
    request: Request,
    next: Next,
) -> axum::response::Response {
    let uri_bytes = request
        .uri()
        .path_and_query()
        .map_or(0, |path| path.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return Problem::new(StatusCode::URI_TOO_LONG)
            .detail(format!(
                "The URI is {uri_bytes} bytes; at most {MAX_URI_BYTES} are accepted"
            ))
            .into_response();
    }
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > max_header_bytes {
        return Problem::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .detail(format!(
                "The headers are {header_bytes} bytes; at most {max_header_bytes} are accepted"
            ))
            .into_response();
    }
    next.run(request).await
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
async fn metrics_endpoint(
    state: axum::extract::State<Arc<Metrics>>,
) -> impl axum::response::IntoResponse {
    metrics::serve_metrics(state).await
}

/// Resolves on SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Serves until `shutdown` resolves, then: readiness turns 503 at once, the listener stays
/// open for the drain period (load balancers notice and stop sending), then closes, and
/// in-flight requests get the grace period to finish.
///
/// The connection loop is hyper-util's (as inside `axum::serve`) because `axum::serve`
/// gives hyper no timer: without one, hyper has no header-read deadline, and a client
/// that trickles a request head a byte at a time keeps its connection for ever.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    health: Health,
    config: &CommonConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (closing_tx, closing_rx) = watch::channel(false);
    let drain = config.shutdown_drain;
    let grace = config.shutdown_grace;
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!(
            drain_secs = drain.as_secs_f64(),
            "shutdown requested: draining"
        );
        health.start_draining();
        tokio::time::sleep(drain).await;
        tracing::info!("closing the listener; finishing in-flight requests");
        let _ = closing_tx.send(true);
    });

    let mut listener = IdleTimeoutListener {
        inner: listener,
        idle: config.idle_connection_timeout,
    };
    let header_read_timeout = config.header_read_timeout;
    // Each connection holds a receiver: when the last one is dropped, every connection
    // has finished.
    let (connections_tx, connections_rx) = watch::channel(());
    // One wait for the closing signal across every accept (a new one per accept would
    // subscribe again each time).
    let closed = wait_for(closing_rx.clone());
    let mut closed = std::pin::pin!(closed);
    loop {
        let (io, peer) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = closed.as_mut() => break,
        };
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(Body::new)
            });
        let closing = closing_rx.clone();
        let connection_open = connections_rx.clone();
        tokio::spawn(async move {
            let mut builder = ConnectionBuilder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(io),
                TowerToHyperService::new(service),
            );
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_connection_end(result),
                () = wait_for(closing) => {
                    connection.as_mut().graceful_shutdown();
                    log_connection_end(connection.await);
                }
            }
            drop(connection_open);
        });
    }
    drop(listener);
    drop(connections_rx);

    tokio::select! {
        () = connections_tx.closed() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_secs = grace.as_secs_f64(), "grace period over; abandoning in-flight requests");
        }
    }
}

/// A connection that ends in an error (a reset, a head too slow) is the client's doing.
fn log_connection_end(result: Result<(), BoxError>) {
    if let Err(error) = result {
        tracing::debug!(error = %error, "connection ended");
    }
}

async fn wait_for(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|closing| *closing).await;
}
