//! What sales-service writes to its logs, captured from the process's subscriber: a
//! secret in a URL never reaches them. A binary of its own: it installs the subscriber.
use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// The API tests' harness.
#[allow(dead_code, unused_imports)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::{spawn_app, DELIVERY_REPORT_TOKEN};

/// Every log line the process writes, kept.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tokio::test]
async fn the_delivery_report_token_never_reaches_the_logs() {
    let captured = Captured::default();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_writer(captured.clone())
        .init();
    let app = spawn_app().await;
    let path = format!("/api/v1/sales/sms/delivery-reports/{DELIVERY_REPORT_TOKEN}");
    for token in [
        DELIVERY_REPORT_TOKEN,
        "a-wrong-token-a-caller-guessed-0123456789",
    ] {
        let path = format!("/api/v1/sales/sms/delivery-reports/{token}");
        let answer = app
            .client
            .post(app.url(&path))
            .form(&[("id", "ATXid_unknown"), ("status", "Buffered")])
            .send()
            .await
            .unwrap();
        assert!(answer.status().as_u16() < 500);
    }
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("/api/v1/sales/sms/delivery-reports/{redacted}"),
        "the requests were logged: {logs}"
    );
    assert!(!logs.contains(DELIVERY_REPORT_TOKEN), "{path} in {logs}");
    assert!(!logs.contains("a-wrong-token"), "{logs}");
}
