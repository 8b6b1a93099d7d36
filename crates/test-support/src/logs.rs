//! The services' logs in a failing test's output.
//!
//! With `TEST_LOG` set (`1` for `info`, or a `RUST_LOG`-style filter such as
//! `warn,sales_service=debug`), tracing output goes to the test harness's captured
//! output, which `cargo test` prints only for the tests that fail: a 500's cause shows
//! beside the assertion that saw it. Unset, nothing is logged.

use tracing_subscriber::EnvFilter;

/// Installs the test subscriber once per test binary; later calls do nothing.
pub fn init() {
    let Ok(directive) = std::env::var("TEST_LOG") else {
        return;
    };
    let filter = match directive.as_str() {
        "" | "1" | "true" => EnvFilter::new("info"),
        directive => EnvFilter::new(directive),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .compact()
        .try_init();
}
