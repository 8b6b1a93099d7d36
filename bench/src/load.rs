//! The load generator: N keep-alive HTTP/1.1 connections, each sending the same request
//! again as soon as the previous answer is read (closed loop, like wrk), for a fixed time.
//! Latency is from sending the request to the last byte of the answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hdrhistogram::Histogram;
use http::header::{HeaderName, HeaderValue, HOST};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// One request, sent over and over.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    /// The status a successful answer has; any other counts as an error.
    pub expect: StatusCode,
}

impl Target {
    pub fn get(addr: SocketAddr, path: &str) -> Self {
        Self {
            addr,
            method: Method::GET,
            path: path.to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
            expect: StatusCode::OK,
        }
    }

    pub fn post_json(addr: SocketAddr, path: &str, body: &serde_json::Value) -> Self {
        Self {
            method: Method::POST,
            body: Bytes::from(body.to_string()),
            ..Self::get(addr, path)
        }
        .header("content-type", "application/json")
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((
            HeaderName::from_static(name),
            HeaderValue::from_str(value).expect("a valid header value"),
        ));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn expect(mut self, status: StatusCode) -> Self {
        self.expect = status;
        self
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_str())
            .header(HOST, self.addr.to_string());
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(self.body.clone()))
            .expect("a valid request")
    }
}

/// What a run measured, over the measured window only (the warm-up is not counted).
pub struct Outcome {
    pub window: Duration,
    pub latency_us: Histogram<u64>,
    pub expected: u64,
    /// Answers with another status, by status.
    pub unexpected: BTreeMap<u16, u64>,
    /// Requests that got no answer (connection refused, reset, closed).
    pub transport_errors: u64,
    /// CPU time the process under test spent during the measured window.
    pub server_cpu: Duration,
    /// Answers over warm-up and measured window together: the denominator of counts
    /// taken around the whole run (the AWS calls a route makes).
    pub answers_with_warmup: u64,
}

impl Outcome {
    fn new(window: Duration) -> Self {
        Self {
            window,
            latency_us: Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds"),
            expected: 0,
            unexpected: BTreeMap::new(),
            transport_errors: 0,
            server_cpu: Duration::ZERO,
            answers_with_warmup: 0,
        }
    }

    fn merge(&mut self, other: Outcome) {
        self.latency_us
            .add(other.latency_us)
            .expect("same histogram bounds");
        self.expected += other.expected;
        for (status, count) in other.unexpected {
            *self.unexpected.entry(status).or_default() += count;
        }
        self.transport_errors += other.transport_errors;
        self.answers_with_warmup += other.answers_with_warmup;
    }

    /// Answered requests per second (any status), over the measured window.
    pub fn requests_per_second(&self) -> f64 {
        self.latency_us.len() as f64 / self.window.as_secs_f64()
    }

    /// CPU time of the process under test per answered request, in microseconds: its
    /// cost, whatever else the machine was doing.
    pub fn cpu_per_request_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.latency_us.len().max(1) as f64
    }

    pub fn percentile_ms(&self, percentile: f64) -> f64 {
        self.latency_us.value_at_percentile(percentile) as f64 / 1000.0
    }

    /// `-` when every answer had the expected status, else what went wrong.
    pub fn errors(&self) -> String {
        let mut parts: Vec<String> = self
            .unexpected
            .iter()
            .map(|(status, count)| format!("{count}x{status}"))
            .collect();
        if self.transport_errors > 0 {
            parts.push(format!("{}x io", self.transport_errors));
        }
        if parts.is_empty() {
            "-".to_owned()
        } else {
            parts.join(" ")
        }
    }
}

/// Runs `connections` closed loops against `target`: `warmup` unmeasured, then `duration`
/// measured, over which the CPU time of process `pid` (the server) is taken too.
pub async fn run(
    target: Target,
    pid: u32,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> Outcome {
    let target = Arc::new(target);
    let measure_from = Instant::now() + warmup;
    let end = measure_from + duration;
    let loops: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(one_connection(target.clone(), measure_from, end, duration)))
        .collect();
    tokio::time::sleep_until(measure_from).await;
    let cpu_before = crate::procs::cpu_time(&pid.to_string());
    tokio::time::sleep_until(end).await;
    let server_cpu = crate::procs::cpu_time(&pid.to_string()).saturating_sub(cpu_before);
    let mut total = Outcome::new(duration);
    total.server_cpu = server_cpu;
    for handle in loops {
        total.merge(handle.await.expect("a load loop does not panic"));
    }
    total
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Option<Sender> {
    let stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    Some(sender)
}

async fn one_connection(
    target: Arc<Target>,
    measure_from: Instant,
    end: Instant,
    window: Duration,
) -> Outcome {
    let mut outcome = Outcome::new(window);
    let mut sender: Option<Sender> = None;
    while Instant::now() < end {
        let started = Instant::now();
        let answer = async {
            if let Some(open) = sender.as_mut() {
                if open.ready().await.is_err() {
                    sender = None;
                }
            }
            if sender.is_none() {
                sender = connect(target.addr).await;
            }
            let response = sender.as_mut()?.send_request(target.request()).await.ok()?;
            let status = response.status();
            response.into_body().collect().await.ok()?;
            Some(status)
        }
        .await;
        let finished = Instant::now();
        if answer.is_some() && finished <= end {
            outcome.answers_with_warmup += 1;
        }
        if started < measure_from || finished > end {
            if answer.is_none() {
                sender = None;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            continue;
        }
        match answer {
            Some(status) => {
                let micros = (finished - started).as_micros().max(1) as u64;
                outcome.latency_us.saturating_record(micros);
                if status == target.expect {
                    outcome.expected += 1;
                } else {
                    *outcome.unexpected.entry(status.as_u16()).or_default() += 1;
                }
            }
            None => {
                outcome.transport_errors += 1;
                sender = None;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    outcome
}

/// Sends `target` once on a fresh connection: its status, or `None` without an answer.
pub async fn once(target: &Target) -> Option<StatusCode> {
    let mut sender = connect(target.addr).await?;
    let response = sender.send_request(target.request()).await.ok()?;
    let status = response.status();
    response.into_body().collect().await.ok()?;
    Some(status)
}

/// Sends `target` `count` times, one after another on one keep-alive connection, or
/// fewer when `budget` runs out first; the CPU time of process `pid` is taken around them
/// precisely ([`crate::procs::cpu_time_precise`]): few requests of a slow route suffice.
pub async fn sequential(target: &Target, pid: u32, count: usize, budget: Duration) -> Outcome {
    let started = Instant::now();
    let mut outcome = Outcome::new(budget);
    let mut sender = connect(target.addr).await;
    let cpu_before = crate::procs::cpu_time_precise(pid);
    for _ in 0..count {
        if started.elapsed() >= budget {
            break;
        }
        let sent = Instant::now();
        let answer = async {
            let response = sender.as_mut()?.send_request(target.request()).await.ok()?;
            let status = response.status();
            response.into_body().collect().await.ok()?;
            Some(status)
        }
        .await;
        match answer {
            Some(status) => {
                let micros = sent.elapsed().as_micros().max(1) as u64;
                outcome.latency_us.saturating_record(micros);
                outcome.answers_with_warmup += 1;
                if status == target.expect {
                    outcome.expected += 1;
                } else {
                    *outcome.unexpected.entry(status.as_u16()).or_default() += 1;
                }
            }
            None => {
                outcome.transport_errors += 1;
                sender = connect(target.addr).await;
            }
        }
    }
    outcome.server_cpu = crate::procs::cpu_time_precise(pid).saturating_sub(cpu_before);
    outcome.window = started.elapsed();
    outcome
}

/// What an open-loop run measured: answers by kind, latency from each request's
/// scheduled send time (so a slow answer delays no later request's clock).
pub struct OpenOutcome {
    pub offered: u64,
    pub window: Duration,
    /// Answers with the expected status.
    pub accepted: Histogram<u64>,
    /// 503 answers (shed).
    pub shed: Histogram<u64>,
    /// How late each request left against its schedule (us): the load generator's own
    /// delay, which the latencies above include; large means the machine, not the
    /// service, held the requests back.
    pub send_lag: Histogram<u64>,
    /// Other statuses, and requests that got no answer before the run ended.
    pub failed: BTreeMap<String, u64>,
}

impl OpenOutcome {
    pub fn accepted_per_second(&self) -> f64 {
        self.accepted.len() as f64 / self.window.as_secs_f64()
    }

    pub fn shed_share(&self) -> f64 {
        self.shed.len() as f64 / self.offered.max(1) as f64
    }
}

/// A pool of keep-alive connections to one server, opened as needed up to `max`.
struct Pool {
    idle: std::sync::Mutex<Vec<Sender>>,
    opened: std::sync::atomic::AtomicUsize,
    max: usize,
}

/// Sends `target` at a fixed `rate` for `duration` whatever the answers (an open loop,
/// as independent clients arrive), on up to `max_connections` keep-alive connections;
/// answers still missing 10 s after the last send count as failed.
pub async fn open_loop(
    target: Target,
    rate: f64,
    duration: Duration,
    max_connections: usize,
) -> OpenOutcome {
    use std::sync::atomic::Ordering;
    let target = Arc::new(target);
    let pool = Arc::new(Pool {
        idle: std::sync::Mutex::new(Vec::new()),
        opened: 0.into(),
        max: max_connections,
    });
    let histogram = || Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("valid bounds");
    let outcome = Arc::new(std::sync::Mutex::new(OpenOutcome {
        offered: 0,
        window: duration,
        accepted: histogram(),
        shed: histogram(),
        send_lag: histogram(),
        failed: BTreeMap::new(),
    }));
    let started = Instant::now();
    let count = (rate * duration.as_secs_f64()) as u64;
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..count {
        let scheduled = started + Duration::from_secs_f64(index as f64 / rate);
        tokio::time::sleep_until(scheduled).await;
        let (target, pool, outcome) = (target.clone(), pool.clone(), outcome.clone());
        tasks.spawn(async move {
            let lag = scheduled.elapsed().as_micros().max(1) as u64;
            let sender = pool.idle.lock().expect("pool").pop();
            let sender = match sender {
                Some(sender) => Some(sender),
                None if pool.opened.fetch_add(1, Ordering::SeqCst) < pool.max => {
                    connect(target.addr).await
                }
                None => {
                    pool.opened.fetch_sub(1, Ordering::SeqCst);
                    None
                }
            };
            let answer = match sender {
                Some(mut sender) => {
                    let status = async {
                        sender.ready().await.ok()?;
                        let response = sender.send_request(target.request()).await.ok()?;
                        let status = response.status();
                        response.into_body().collect().await.ok()?;
                        Some(status)
                    }
                    .await;
                    match status {
                        Some(status) => {
                            pool.idle.lock().expect("pool").push(sender);
                            Ok(status)
                        }
                        None => {
                            pool.opened.fetch_sub(1, Ordering::SeqCst);
                            Err("io")
                        }
                    }
                }
                None => Err("no free connection"),
            };
            let micros = scheduled.elapsed().as_micros().max(1) as u64;
            let mut outcome = outcome.lock().expect("outcome");
            outcome.offered += 1;
            outcome.send_lag.saturating_record(lag);
            match answer {
                Ok(status) if status == target.expect => {
                    outcome.accepted.saturating_record(micros);
                }
                Ok(StatusCode::SERVICE_UNAVAILABLE) => outcome.shed.saturating_record(micros),
                Ok(status) => *outcome.failed.entry(status.to_string()).or_default() += 1,
                Err(kind) => *outcome.failed.entry(kind.to_owned()).or_default() += 1,
            }
        });
    }
    let late = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(late);
    loop {
        tokio::select! {
            done = tasks.join_next() => if done.is_none() { break },
            () = &mut late => break,
        }
    }
    let unanswered = tasks.len() as u64;
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    let mut outcome = Arc::try_unwrap(outcome)
        .ok()
        .map(|outcome| outcome.into_inner().expect("outcome"))
        .expect("every task has ended");
    if unanswered > 0 {
        outcome.offered += unanswered;
        *outcome
            .failed
            .entry("no answer within 10 s".to_owned())
            .or_default() += unanswered;
    }
    outcome
}
