//! Runs a service the way `main` does, on a random loopback port, inside the test's runtime.

use common::config::CommonConfig;
use common::server::{Application, BackgroundTasks};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A served app. Dropping it starts the service's graceful shutdown.
pub struct RunningApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// Cancelled when the app is dropped, as `main` cancels them once serving ends.
    _background: BackgroundTasks,
}

/// Serves `application` with `config`'s drain and grace periods on a random port, its
/// background tasks beside it, once its readiness checks have run (as a startup probe
/// would wait).
pub async fn spawn(application: Application, config: &CommonConfig) -> RunningApp {
    crate::logs::init();
    let (service, background) = application.start_background();
    service.health.first_round().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = format!("http://{}", listener.local_addr().expect("local address"));
    let (shutdown, stop) = oneshot::channel::<()>();
    let config = config.clone();
    let task = tokio::spawn(async move {
        common::server::serve(listener, service.router, service.health, &config, async {
            let _ = stop.await;
        })
        .await;
    });
    RunningApp {
        address,
        shutdown: Some(shutdown),
        task,
        _background: background,
    }
}

impl RunningApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// SIGTERM: readiness turns 503, the listener closes after the drain period, and the
    /// call returns once in-flight requests have finished.
    pub async fn shut_down(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
