//! The AWS emulator every integration test talks to (started by `scripts/test.sh`, or by
//! hand with `scripts/emulator.sh start`).

use std::sync::Once;

pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:4566";

/// The emulator's endpoint, after making sure the AWS SDK will talk to it with dummy
/// credentials. Panics with the fix when nothing answers there.
pub fn endpoint() -> String {
    static ENV: Once = Once::new();
    ENV.call_once(|| {
        // Set once, before any test spawns an app, so no thread reads them mid-change.
        for (name, value) in [
            ("AWS_ENDPOINT_URL", DEFAULT_ENDPOINT),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ] {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
        std::env::remove_var("AWS_PROFILE");
    });
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("set above");
    let address = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    if std::net::TcpStream::connect(&address).is_err() {
        panic!(
            "no AWS emulator answers at {endpoint}: run the tests with scripts/test.sh, \
             or start one with scripts/emulator.sh start"
        );
    }
    endpoint
}

/// A fresh table/bucket prefix, so every test works on its own resources.
pub fn unique_prefix() -> String {
    format!("t{}-", &uuid::Uuid::new_v4().simple().to_string()[..12])
}
