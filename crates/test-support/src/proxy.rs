//! A TCP proxy that can be cut and restored, standing in for "the dependency went away":
//! while cut, new connections are accepted and closed at once, and open ones are dropped.
//! It can also slow the dependency down without cutting it: with a latency set, every
//! chunk forwarded either way waits that long first (a throttled or overloaded store).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::wait::eventually;

pub struct TcpProxy {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    /// Milliseconds each forwarded chunk waits.
    latency_ms: Arc<AtomicU64>,
    /// Connections refused or dropped because of a cut.
    dropped: Arc<AtomicUsize>,
    /// Connections accepted, cut or not.
    accepted: Arc<AtomicUsize>,
    cut_signal: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Forwards a random loopback port to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("local addr");
        let cut = Arc::new(AtomicBool::new(false));
        let latency_ms = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (cut_signal, _) = watch::channel(0u64);
        let target = target.to_owned();
        let task = tokio::spawn({
            let cut = cut.clone();
            let latency_ms = latency_ms.clone();
            let dropped = dropped.clone();
            let accepted = accepted.clone();
            let cut_signal = cut_signal.clone();
            async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    if cut.load(Ordering::SeqCst) {
                        dropped.fetch_add(1, Ordering::SeqCst);
                        drop(inbound);
                        continue;
                    }
                    let mut cuts = cut_signal.subscribe();
                    let target = target.clone();
                    let latency_ms = latency_ms.clone();
                    let dropped = dropped.clone();
                    tokio::spawn(async move {
                        let Ok(outbound) = TcpStream::connect(&target).await else {
                            return;
                        };
                        let (from_client, to_client) = inbound.into_split();
                        let (from_target, to_target) = outbound.into_split();
                        tokio::select! {
                            _ = forward(from_client, to_target, &latency_ms) => {}
                            _ = forward(from_target, to_client, &latency_ms) => {}
                            _ = cuts.changed() => {
                                dropped.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    });
                }
            }
        });
        Self {
            address,
            cut,
            latency_ms,
            dropped,
            accepted,
            cut_signal,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`, to use as an endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The dependency goes away: open connections drop, new ones close at once.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.cut_signal.send_modify(|generation| *generation += 1);
    }

    /// The dependency comes back.
    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// Connections refused or dropped by cuts so far.
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Connections accepted so far: how many a client opened.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Every chunk forwarded from now on, either way, waits `latency` first (zero: none).
    pub fn set_latency(&self, latency: Duration) {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        self.latency_ms.store(ms, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either side closes, each chunk after the current latency.
async fn forward(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    latency_ms: &AtomicU64,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let latency = latency_ms.load(Ordering::SeqCst);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Four loops send create requests while the dependency behind `proxy` goes away and comes
/// back: up until four creates were acknowledged, cut until the outage has hit the
/// service's connections and four more requests were answered, then up again until four
/// more creates were acknowledged (each phase waits for its condition, 30 s at most, not
/// for a fixed time: a busy machine only makes it longer). `send(worker, n)` makes one
/// request and returns its status and the id of what it created. Asserts that every
/// answer was a 201 or a 503 within 12 s (the AWS timeouts), that the outage hit the
/// service's traffic (connections dropped or refused: whether that becomes a 503 or a
/// success after the SDK's retries is timing), and that creates went through before and
/// after it (more than four 201s); returns the ids of everything acknowledged, for the
/// caller to find again.
pub async fn creates_through_outage<F, Fut>(proxy: &TcpProxy, send: F) -> Vec<String>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = (reqwest::StatusCode, Option<String>)> + Send,
{
    const PHASE: Duration = Duration::from_secs(30);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let (send, stop) = (send.clone(), stop.clone());
            let (answered, created) = (answered.clone(), created.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let started = std::time::Instant::now();
                    let (status, id) = send(worker, n).await;
                    answered.fetch_add(1, Ordering::SeqCst);
                    if status == reqwest::StatusCode::CREATED {
                        created.fetch_add(1, Ordering::SeqCst);
                    }
                    outcomes.push((status, id, started.elapsed()));
                }
                outcomes
            })
        })
        .collect();
    let count = |counter: &Arc<AtomicUsize>| counter.load(Ordering::SeqCst);
    eventually(
        PHASE,
        "four creates acknowledged before the outage",
        || async { count(&created) >= 4 },
    )
    .await;
    proxy.cut();
    let answered_before_cut = count(&answered);
    eventually(PHASE, "the outage met by the service's traffic", || async {
        proxy.dropped() > 0 && count(&answered) >= answered_before_cut + 4
    })
    .await;
    proxy.restore();
    let created_before_restore = count(&created);
    eventually(
        PHASE,
        "four creates acknowledged after the outage",
        || async { count(&created) >= created_before_restore + 4 },
    )
    .await;
    stop.store(true, Ordering::SeqCst);

    let mut acknowledged = Vec::new();
    for worker in workers {
        for (status, id, took) in worker.await.expect("a load loop panicked") {
            assert!(
                took < Duration::from_secs(12),
                "bounded by the AWS timeouts: {took:?}"
            );
            match status {
                reqwest::StatusCode::CREATED => {
                    acknowledged.push(id.expect("a 201 names what it created"));
                }
                reqwest::StatusCode::SERVICE_UNAVAILABLE => {}
                other => panic!("only 201 or 503 while the store comes and goes, got {other}"),
            }
        }
    }
    assert!(
        proxy.dropped() > 0,
        "the outage hit the service's connections"
    );
    assert!(
        acknowledged.len() > 4,
        "creates went through before and after: {}",
        acknowledged.len()
    );
    acknowledged
}
