//! An AWS endpoint whose latency is held constant, so that in an overload run the
//! service, not the emulator, is the bottleneck: moto answers DynamoDB calls one at a
//! time in milliseconds of Python and would saturate long before a service does.
//!
//! Every request goes to the emulator until [`Replay::freeze`]; from then on a request
//! the replay has seen (same operation, same body: a route's reads repeat exactly) is
//! answered with the emulator's recorded answer after a fixed delay, as DynamoDB
//! answers in single-digit milliseconds whatever the load. Anything new still goes to
//! the emulator. Signatures are not checked (the emulator does not check them either).
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What the emulator answered: status, headers, body.
type Answer = (http::StatusCode, http::HeaderMap, Bytes);

struct Shared {
    upstream: String,
    latency: Duration,
    frozen: std::sync::atomic::AtomicBool,
    answers: Mutex<HashMap<(String, Bytes), Answer>>,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
}

/// A running replay in front of the emulator, on a thread and runtime of its own: on
/// the bench's thread it would compete with the load generator, and a late send counts
/// against the service (latency counts from each request's scheduled time).
pub struct Replay {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Replay {
    /// Listens on `addr`, in front of `upstream` (`http://...`).
    pub fn start(addr: SocketAddr, upstream: &str, latency: Duration) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            latency,
            frozen: false.into(),
            answers: Mutex::new(HashMap::new()),
            client: hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http(),
        });
        let serving = shared.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("replay".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let serve = async {
                        while let Ok((stream, _)) = listener.accept().await {
                            let shared = serving.clone();
                            tokio::spawn(async move {
                                let service =
                                    service_fn(move |request| answer(shared.clone(), request));
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            });
                        }
                    };
                    tokio::select! {
                        () = serve => {}
                        _ = stopped => {}
                    }
                });
            })?;
        Ok(Self {
            addr,
            shared,
            stop,
            thread,
        })
    }

    /// From now on, answer what was seen before from the record, after the fixed delay.
    pub fn freeze(&self) {
        self.shared
            .frozen
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Stops serving; open connections end with the replay's runtime.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|value| value.to_str().ok())
        .unwrap_or(parts.uri.path())
        .to_owned();
    let key = (operation, body.clone());
    if shared.frozen.load(std::sync::atomic::Ordering::SeqCst) {
        let recorded = shared
            .answers
            .lock()
            .expect("no panic holds the record")
            .get(&key)
            .cloned();
        if let Some(recorded) = recorded {
            tokio::time::sleep(shared.latency).await;
            return Ok(response(recorded));
        }
    }
    let mut forward = Request::builder().method(parts.method).uri(format!(
        "{}{}",
        shared.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    ));
    for (name, value) in &parts.headers {
        if name != http::header::HOST {
            forward = forward.header(name, value);
        }
    }
    let forwarded = match forward.body(Full::new(body)) {
        Ok(request) => shared.client.request(request).await,
        Err(_) => return Ok(bad_gateway()),
    };
    let Ok(upstream) = forwarded else {
        return Ok(bad_gateway());
    };
    let (parts, body) = upstream.into_parts();
    let body = body.collect().await?.to_bytes();
    let recorded = (parts.status, parts.headers, body);
    shared
        .answers
        .lock()
        .expect("no panic holds the record")
        .insert(key, recorded.clone());
    Ok(response(recorded))
}

fn response((status, headers, body): Answer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn bad_gateway() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = http::StatusCode::BAD_GATEWAY;
    response
}
