//! The AWS emulator every integration test talks to (started by `scripts/test.sh`, or by
//! hand with `scripts/emulator.sh start`).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Once};

use aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::scan::ScanOutput;

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

/// A DynamoDB client on the emulator that counts the items its Queries and Scans read
/// (`ScannedCount`: what DynamoDB bills), for tests that show a listing's cost does not
/// grow with the data. Build a store on it as the service would.
pub async fn counted_dynamodb() -> (aws_sdk_dynamodb::Client, ItemsRead) {
    let sdk = common::aws::load_sdk_config(Some(&endpoint())).await;
    let items_read = ItemsRead::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(items_read.clone())
            .build(),
    );
    (client, items_read)
}

/// Sums the `ScannedCount` of every Query and Scan answer the client reads.
#[derive(Debug, Clone, Default)]
pub struct ItemsRead(Arc<AtomicI64>);

impl ItemsRead {
    /// Items read since the last call.
    pub fn take(&self) -> i64 {
        self.0.swap(0, Ordering::SeqCst)
    }
}

impl Intercept for ItemsRead {
    fn name(&self) -> &'static str {
        "ItemsRead"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Ok(output) = context.output_or_error() {
            let scanned = output
                .downcast_ref::<QueryOutput>()
                .map(|query| query.scanned_count)
                .or_else(|| {
                    output
                        .downcast_ref::<ScanOutput>()
                        .map(|scan| scan.scanned_count)
                });
            self.0
                .fetch_add(i64::from(scanned.unwrap_or_default()), Ordering::SeqCst);
        }
        Ok(())
    }
}
