//! The SMS outbox at scale: the backlog's copies in the due-index shard the sales-service
//! would give them, and the idle dispatcher's polls watched per backlog.
use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use tokio::time::Instant;

use sales_service::store::{due_shard, DUE_SHARDS};

use crate::bulk;
use crate::emulator::{Counts, EmulatorStats};
use crate::procs::Spec;
use crate::run::Run;

/// What the dispatcher read in one watched window.
pub struct PollWindow {
    pub polls: f64,
    pub window: Duration,
    /// Reads per poll (the Query or Scan calls that find due SMS).
    pub per_poll: Counts,
    /// The backlog gauge's counting reads, per call (`None`: none ran).
    pub gauge: Option<Counts>,
}

/// An outbox copy in its own order's shard, as the service would have written it (the
/// template's shard on every copy put the whole backlog in one partition).
pub fn due_shard_of_order(item: &mut bulk::Item) {
    if let Some(AttributeValue::S(order_id)) = item.get("order_id") {
        let shard = due_shard(order_id);
        item.insert("due_shard".to_owned(), AttributeValue::N(shard.to_string()));
    }
}

/// The records whose stored `due_shard` is not [`due_shard`] of their order id.
fn misplaced(records: &[bulk::Item]) -> Vec<String> {
    records
        .iter()
        .filter_map(|record| {
            let order_id = record.get("order_id")?.as_s().ok()?;
            let stored = record.get("due_shard").and_then(|n| n.as_n().ok());
            let derived = due_shard(order_id).to_string();
            (stored != Some(&derived))
                .then(|| format!("{order_id}: stored {stored:?}, derived {derived}"))
        })
        .collect()
}

/// Stops the run unless every outbox record the sales-service wrote (one per seeded
/// order; with four shards a wrong rule passes 21 records by chance once in 4^21) sits in
/// the shard [`due_shard`] derives.
pub async fn check_due_shards(
    client: &aws_sdk_dynamodb::Client,
    outbox: &str,
) -> anyhow::Result<()> {
    let records = client
        .scan()
        .table_name(outbox)
        .consistent_read(true)
        .send()
        .await?
        .items
        .unwrap_or_default();
    anyhow::ensure!(
        records.len() > crate::seed::SEEDED_ORDERS,
        "{outbox} holds {} records; the seed wrote one per order",
        records.len()
    );
    let wrong = misplaced(&records);
    anyhow::ensure!(
        wrong.is_empty(),
        "the bench's due shard differs from the sales-service's: {wrong:?}"
    );
    eprintln!(
        "bench --scale: the due shard the copies get matches all {} records the sales-service wrote",
        records.len()
    );
    Ok(())
}

/// Non-count outbox queries before the poll window opens: the first pass's, the gauge's
/// Limit-1 ones, and the first of the second pass (one each per shard).
const POLLS_BEFORE_WINDOW: f64 = (2 * DUE_SHARDS + 1) as f64;

/// Whether the first backlog count is surely over, from the non-count outbox queries
/// (first pages) seen since the dispatcher started.
fn gauge_is_over(finding_queries: f64) -> bool {
    finding_queries >= POLLS_BEFORE_WINDOW
}

/// Starts a sales-service with its dispatcher, every other service idle, so everything
/// read is its own. The dispatcher runs one thing at a time: a pass (one due Query per
/// shard, nothing being due), then, after the first pass and every 15 s, the backlog
/// gauge (per shard a Limit-1 Query for the oldest due time, which looks like a poll's,
/// and COUNT pages up to the cap), then a sleep of its poll interval (1 s). So the gauge
/// is over for certain once the second pass has begun: [`POLLS_BEFORE_WINDOW`] first-page
/// queries that are not counts. The gauge's reads are taken from the dispatcher's start;
/// the polls from then on, for `window` (under 15 s, so no count falls in it). Only the
/// outbox's reads count.
pub async fn watch_polls(
    run: &Run,
    dispatcher: (Spec, SocketAddr),
    outbox: &str,
    backlog: usize,
    window: Duration,
) -> anyhow::Result<PollWindow> {
    // The outbox alone: the idle services' own background reads (readiness, sync
    // schedules) are not the dispatcher's.
    let ours = |name: &str| name == outbox;
    let finding =
        |op: &str| (op.starts_with("Query") || op.starts_with("Scan")) && !op.ends_with(" COUNT");
    let counting = |op: &str| op.ends_with(" COUNT");
    let before = EmulatorStats::fetch(&run.http, &run.emulator).await?;
    let (dispatcher, _) = run.start_measured(dispatcher).await?;
    let counted_by = Instant::now() + Duration::from_secs(120);
    let counted = loop {
        let now = EmulatorStats::fetch(&run.http, &run.emulator).await?;
        if gauge_is_over(now.clone().since(&before).first_pages(ours, finding)) {
            break now;
        }
        anyhow::ensure!(
            Instant::now() < counted_by,
            "the dispatcher did not finish its first pass and count within 120 s of its start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let started = Instant::now();
    tokio::time::sleep_until(started + window).await;
    let window = started.elapsed();
    let after = EmulatorStats::fetch(&run.http, &run.emulator).await?;
    dispatcher.proc.stop().await;
    let gauge = EmulatorStats::fetch(&run.http, &run.emulator)
        .await?
        .since(&before);
    let aws = after.since(&counted);
    let polls = aws.first_pages(ours, finding);
    let gauge_calls = gauge.first_pages(ours, counting);
    let row = PollWindow {
        polls,
        window,
        per_poll: aws.dynamodb_where(ours, finding).per(polls),
        gauge: (gauge_calls > 0.0).then(|| gauge.dynamodb_where(ours, counting).per(gauge_calls)),
    };
    eprintln!(
        "bench --scale: backlog {backlog}: {polls} polls in {:.1} s, {:.1} items read and {:.2} RCU per poll; gauge: {}",
        window.as_secs_f64(),
        row.per_poll.items_read,
        row.per_poll.read_units,
        row.gauge.map_or("did not run".to_owned(), |g| format!("{:.0} items read per count", g.items_read)),
    );
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_lands_in_its_own_orders_shard_and_a_record_elsewhere_is_named() {
        let order_id = |n: usize| format!("0193a000-0000-7000-8000-{n:012}");
        let record = |id: &str, shard: u32| {
            bulk::Item::from([
                ("order_id".to_owned(), AttributeValue::S(id.to_owned())),
                ("due_shard".to_owned(), AttributeValue::N(shard.to_string())),
            ])
        };
        let shards: Vec<u32> = (0..64).map(|n| due_shard(&order_id(n))).collect();
        for shard in 0..DUE_SHARDS {
            assert!(shards.contains(&shard), "64 orders spread over every shard");
        }
        let mut copy = record(&order_id(1), 99);
        due_shard_of_order(&mut copy);
        assert_eq!(misplaced(&[copy]), Vec::<String>::new());
        let wrong = (shards[2] + 1) % DUE_SHARDS;
        let named = misplaced(&[record(&order_id(0), shards[0]), record(&order_id(2), wrong)]);
        assert_eq!(named.len(), 1, "{named:?}");
        assert!(named[0].starts_with(&order_id(2)), "{named:?}");
    }

    #[test]
    fn the_poll_window_opens_only_once_the_second_pass_has_begun() {
        // Four shards: 4 due queries of the first pass, 4 Limit-1 queries of the count,
        // then the second pass.
        assert!(!gauge_is_over(4.0), "first pass only");
        assert!(
            !gauge_is_over(8.0),
            "the count's last shard may still be counting"
        );
        assert!(gauge_is_over(9.0));
    }
}
