//! Fakes of the external APIs the platform calls, each following its vendor's documented
//! behaviour, with knobs for the faults tests need. Every stand-in is a real HTTP server on
//! its own port: in process for tests (`spawn`, on a random loopback port), or from the
//! `stand-ins` binary for local runs and docker-compose (`spawn_on`).
//!
//! # Layout
//!
//! - [`sms`]: Africa's Talking SMS API (`POST /version1/messaging`).
//! - [`okta`]: an Okta org's Users API and OAuth token endpoint (`dpop`: how it checks
//!   DPoP proofs).
//! - [`graph`]: a Microsoft Entra ID tenant's users through Microsoft Graph v1.0 and the
//!   identity platform's token endpoint.
//! - [`partner`]: the partner's providers API (token + checksum auth, transport faults).
//! - `gate`: a listener that can play dead (outages); `sample`: deterministic sample data.
//! - `main.rs`: the `stand-ins` binary, every stand-in in one process.
//!
//! A request's path: each stand-in is an axum router over its in-memory state; its fault
//! knobs are methods on the handle `spawn` returns, or flags of the binary.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use tokio::net::TcpListener;

mod dpop;
mod gate;
pub mod graph;
pub mod okta;
pub mod partner;
mod sample;
pub mod sms;

/// What a stand-in's list pages say about the page after them: its vendor's own next
/// link, or one a broken (or hostile) server would send and a client must refuse to follow.
/// Set with `OktaOrg::set_next_links` and `GraphTenant::set_next_links`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NextLinks {
    /// As the vendor links its pages.
    #[default]
    Faithful,
    /// A page asked for with a cursor names that same cursor as the next page, with or
    /// without more records after it (the first page links on as the vendor does): a
    /// server stuck in a loop, which a client that follows next links blindly never leaves.
    Repeat,
    /// Next links name this origin (e.g. `http://elsewhere.example:9`) instead of the
    /// stand-in's own, with the vendor's path and query: following one would send the
    /// client's credentials to another host.
    Foreign(String),
}

impl NextLinks {
    /// The origin next links name, the stand-in's own being `own`.
    fn origin<'a>(&'a self, own: &'a str) -> &'a str {
        match self {
            NextLinks::Foreign(origin) => origin,
            NextLinks::Faithful | NextLinks::Repeat => own,
        }
    }

    /// The cursor of the next page: `asked` again when repeating, else the vendor's.
    fn cursor<'a>(&self, asked: Option<&'a str>, vendor: Option<&'a str>) -> Option<&'a str> {
        match (self, asked) {
            (NextLinks::Repeat, Some(asked)) => Some(asked),
            _ => vendor,
        }
    }
}

/// Where `spawn` puts a stand-in: a random free port on the loopback interface.
const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// Binds `addr` and returns the listener with its `http://` URL. Panics naming the address:
/// a stand-in that cannot have its port is of no use to a test or a local run.
async fn bind(addr: SocketAddr) -> (TcpListener, String) {
    let listener = TcpListener::bind(addr)
        .await
        .unwrap_or_else(|error| panic!("cannot bind {addr}: {error}"));
    let url = format!(
        "http://{}",
        listener
            .local_addr()
            .expect("a bound listener has an address")
    );
    (listener, url)
}

/// One log line per request, naming the stand-in (`State`), for local runs; tests install
/// no subscriber, so there it costs nothing.
async fn log_request(State(stand_in): State<Arc<str>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    tracing::info!(stand_in = &*stand_in, %method, path, status = response.status().as_u16(), "request");
    response
}

/// How a stand-in is being pushed: requests seen, in flight now and at most at once, and a
/// delay before each answer (a slow peer). Tests read the peak to prove a client bounds
/// its concurrency.
#[derive(Default)]
struct Pressure {
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    delay: Mutex<Option<Duration>>,
}

impl Pressure {
    fn set_delay(&self, delay: Option<Duration>) {
        *self.delay.lock().expect("no panic while holding the delay") = delay;
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn peak_in_flight(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

/// Leaves the in-flight count when the request ends, answered or cancelled.
struct InFlight(Arc<Pressure>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts the request, tracks it in flight, then waits the delay before anything else.
/// A client that gives up meanwhile closes the connection, which cancels the request.
async fn pressure(State(pressure): State<Arc<Pressure>>, request: Request, next: Next) -> Response {
    pressure.requests.fetch_add(1, Ordering::SeqCst);
    let now = pressure.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    pressure.peak.fetch_max(now, Ordering::SeqCst);
    let _in_flight = InFlight(pressure.clone());
    let delay = *pressure
        .delay
        .lock()
        .expect("no panic while holding the delay");
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

/// The parts of a request a stand-in's checks read (its body, if any, is the handler's).
struct Call {
    method: Method,
    /// `/v1.0/users?$top=5`, as sent.
    path_and_query: String,
    headers: HeaderMap,
}

impl<S: Send + Sync> FromRequestParts<S> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self {
            method: parts.method.clone(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
            headers: parts.headers.clone(),
        })
    }
}

impl Call {
    /// `http://host`: the origin the client called, for links back to it.
    fn origin(&self) -> String {
        let host = self
            .headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    }
}
