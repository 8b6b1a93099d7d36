//! A TCP proxy that can be cut and restored, standing in for "the dependency went away":
//! while cut, new connections are accepted and closed at once, and open ones are dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct TcpProxy {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    cut_signal: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Forwards a random loopback port to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("local addr");
        let cut = Arc::new(AtomicBool::new(false));
        let (cut_signal, _) = watch::channel(0u64);
        let target = target.to_owned();
        let task = tokio::spawn({
            let cut = cut.clone();
            let cut_signal = cut_signal.clone();
            async move {
                loop {
                    let Ok((inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    if cut.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let mut cuts = cut_signal.subscribe();
                    let target = target.clone();
                    tokio::spawn(async move {
                        let Ok(outbound) = TcpStream::connect(&target).await else {
                            return;
                        };
                        let (mut inbound, mut outbound) = (inbound, outbound);
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = cuts.changed() => {}
                        }
                    });
                }
            }
        });
        Self {
            address,
            cut,
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
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Four loops send create requests while the dependency behind `proxy` is up for 0.7 s,
/// cut for 1.5 s, and up again for 2 s. `send(worker, n)` makes one request and returns its
/// status and the id of what it created. Asserts that every answer was a 201 or a 503
/// within 12 s (the AWS timeouts), that the outage was noticed (some 503s), and that
/// creates went through before and after it (more than four 201s); returns the ids of
/// everything acknowledged, for the caller to find again.
pub async fn creates_through_outage<F, Fut>(proxy: &TcpProxy, send: F) -> Vec<String>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = (reqwest::StatusCode, Option<String>)> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let (send, stop) = (send.clone(), stop.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let started = std::time::Instant::now();
                    let (status, id) = send(worker, n).await;
                    outcomes.push((status, id, started.elapsed()));
                }
                outcomes
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.restore();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::SeqCst);

    let mut acknowledged = Vec::new();
    let mut refused = 0;
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
                reqwest::StatusCode::SERVICE_UNAVAILABLE => refused += 1,
                other => panic!("only 201 or 503 while the store comes and goes, got {other}"),
            }
        }
    }
    assert!(refused > 0, "the outage was noticed");
    assert!(
        acknowledged.len() > 4,
        "creates went through before and after: {}",
        acknowledged.len()
    );
    acknowledged
}
