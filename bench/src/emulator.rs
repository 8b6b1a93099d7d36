//! What the AWS emulator counted (scripts/emulator_server.py, `GET /__emulator/stats`):
//! connections, calls per AWS operation, and per DynamoDB table and operation the items
//! read and the capacity units DynamoDB would bill (scripts/emulator_capacity.py); and
//! what its tables store (`GET /__emulator/sizes`).
//! Counts only grow; a measurement takes the difference of two snapshots.
use std::collections::BTreeMap;
use std::ops::AddAssign;
use std::time::Duration;

use serde::Deserialize;

/// A DynamoDB client for `endpoint` as the services configure theirs (`common::aws`:
/// retries, protections), with the emulator's fixed region and credentials, which the
/// bench's own environment lacks, and long timeouts: a batch write into a table of 100k
/// items can take moto longer than the services' default 10 s on a busy machine.
pub async fn dynamodb(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let patient =
        common::aws::AwsTimeouts::checked(Duration::from_secs(60), Duration::from_secs(120))
            .expect("an attempt within its call");
    let config = common::aws::load_sdk_config_with(Some(endpoint), patient)
        .await
        .to_builder()
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "bench"),
        ))
        .build();
    common::aws::dynamodb(&config)
}

/// Per DynamoDB table and operation (`Query@index`, `Scan COUNT`, ...).
#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq)]
pub struct Counts {
    pub calls: f64,
    pub items_read: f64,
    pub items_returned: f64,
    pub read_units: f64,
    pub write_units: f64,
}

impl Counts {
    fn minus(self, other: Counts) -> Counts {
        Counts {
            calls: self.calls - other.calls,
            items_read: self.items_read - other.items_read,
            items_returned: self.items_returned - other.items_returned,
            read_units: self.read_units - other.read_units,
            write_units: self.write_units - other.write_units,
        }
    }

    /// Each count divided by `by` (per request, per poll).
    pub fn per(self, by: f64) -> Counts {
        let by = by.max(1.0);
        Counts {
            calls: self.calls / by,
            items_read: self.items_read / by,
            items_returned: self.items_returned / by,
            read_units: self.read_units / by,
            write_units: self.write_units / by,
        }
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.calls += other.calls;
        self.items_read += other.items_read;
        self.items_returned += other.items_returned;
        self.read_units += other.read_units;
        self.write_units += other.write_units;
    }
}

/// The operations the meter lists twice: ` (first pages)` counts the Query and Scan calls
/// without a start key (a poll or a listing's first page), not more items.
const FIRST_PAGES: &str = " (first pages)";

#[derive(Deserialize, Default, Clone)]
pub struct EmulatorStats {
    connections_accepted: u64,
    requests: BTreeMap<String, u64>,
    #[serde(default)]
    dynamodb: BTreeMap<String, BTreeMap<String, Counts>>,
}

impl EmulatorStats {
    pub async fn fetch(http: &reqwest::Client, emulator: &str) -> anyhow::Result<Self> {
        Ok(http
            .get(format!("{emulator}/__emulator/stats"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    pub fn since(self, before: &EmulatorStats) -> EmulatorStats {
        let dynamodb = self
            .dynamodb
            .into_iter()
            .map(|(table, operations)| {
                let earlier = before.dynamodb.get(&table);
                let operations = operations
                    .into_iter()
                    .map(|(operation, counts)| {
                        let then = earlier
                            .and_then(|ops| ops.get(&operation))
                            .copied()
                            .unwrap_or_default();
                        (operation, counts.minus(then))
                    })
                    .filter(|(_, counts)| counts.calls > 0.0 || counts.write_units > 0.0)
                    .collect::<BTreeMap<_, _>>();
                (table, operations)
            })
            .filter(|(_, operations)| !operations.is_empty())
            .collect();
        EmulatorStats {
            connections_accepted: self.connections_accepted - before.connections_accepted,
            requests: self
                .requests
                .into_iter()
                .map(|(operation, count)| {
                    let earlier = before.requests.get(&operation).copied().unwrap_or(0);
                    (operation, count - earlier)
                })
                .filter(|(_, count)| *count > 0)
                .collect(),
            dynamodb,
        }
    }

    /// Everything the DynamoDB tables whose name passes `table` counted, summed.
    pub fn dynamodb_total(&self, table: impl Fn(&str) -> bool) -> Counts {
        self.dynamodb_where(table, |_| true)
    }

    /// The counts of the tables and operations that pass both filters, summed.
    pub fn dynamodb_where(
        &self,
        table: impl Fn(&str) -> bool,
        operation: impl Fn(&str) -> bool,
    ) -> Counts {
        let mut total = Counts::default();
        for (name, operations) in &self.dynamodb {
            if !table(name) {
                continue;
            }
            for (op, counts) in operations {
                if !op.ends_with(FIRST_PAGES) && operation(op) {
                    total += *counts;
                }
            }
        }
        total
    }

    /// Query and Scan calls without a start key on the tables that pass `table`, of the
    /// operations that pass `operation`: how many listings or polls began.
    pub fn first_pages(
        &self,
        table: impl Fn(&str) -> bool,
        operation: impl Fn(&str) -> bool,
    ) -> f64 {
        self.dynamodb
            .iter()
            .filter(|(name, _)| table(name))
            .flat_map(|(_, operations)| operations.iter())
            .filter_map(|(op, counts)| {
                let op = op.strip_suffix(FIRST_PAGES)?;
                operation(op).then_some(counts.calls)
            })
            .sum()
    }

    /// `GetItem 1.00`: each operation's calls per answered request, and new connections.
    pub fn per_request(&self, answers: u64) -> String {
        let answers = answers.max(1) as f64;
        // Background work (readiness checks, the SMS outbox) shows as small fractions.
        let mut parts: Vec<String> = self
            .requests
            .iter()
            .map(|(operation, count)| (operation, *count as f64 / answers))
            .filter(|(_, per_request)| *per_request >= 0.005)
            .map(|(operation, per_request)| {
                let name = operation.rsplit('.').next().unwrap_or(operation);
                format!("{name} {per_request:.2}")
            })
            .collect();
        if parts.is_empty() {
            parts.push("none".to_owned());
        }
        parts.push(format!(
            "(connections opened: {})",
            self.connections_accepted
        ));
        parts.join(", ")
    }

    /// AWS calls of any service (DynamoDB, S3, Secrets Manager), all operations.
    pub fn calls(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// One table's items and bytes, and those of its indexes (the emulator's
/// `/__emulator/sizes`, item sizes counted as DynamoDB counts them).
pub struct Storage {
    pub table: String,
    pub items: f64,
    pub bytes: f64,
    /// Index entries and their projected bytes, all indexes together.
    pub index_entries: f64,
    pub index_bytes: f64,
}

/// DynamoDB's storage overhead per item, and per index entry.
pub const ITEM_OVERHEAD: f64 = 100.0;

impl Storage {
    /// Bytes DynamoDB bills per item of this table, its index entries included: the MB
    /// that a million such items take.
    pub fn billed_bytes_per_item(&self) -> f64 {
        let items = self.items.max(1.0);
        (self.bytes
            + ITEM_OVERHEAD * self.items
            + self.index_bytes
            + ITEM_OVERHEAD * self.index_entries)
            / items
    }
}

/// What each table whose name starts with `prefix` stores, named without the prefix.
pub async fn storage(
    http: &reqwest::Client,
    emulator: &str,
    prefix: &str,
) -> anyhow::Result<Vec<Storage>> {
    let sizes: serde_json::Value = http
        .get(format!("{emulator}/__emulator/sizes?prefix={prefix}"))
        // Sizing every item of 100k-item tables in the emulator's Python takes a while.
        .timeout(Duration::from_secs(600))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let number = |value: &serde_json::Value| value.as_f64().unwrap_or_default();
    Ok(sizes
        .as_object()
        .into_iter()
        .flatten()
        .map(|(table, size)| {
            let indexes = size["indexes"].as_object().into_iter().flatten();
            let (index_entries, index_bytes) =
                indexes.fold((0.0, 0.0), |(entries, bytes), (_, index)| {
                    (
                        entries + number(&index["items"]),
                        bytes + number(&index["bytes"]),
                    )
                });
            Storage {
                table: table.trim_start_matches(prefix).to_owned(),
                items: number(&size["items"]),
                bytes: number(&size["bytes"]),
                index_entries,
                index_bytes,
            }
        })
        .collect())
}
