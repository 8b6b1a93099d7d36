//! The dispatcher against the in-memory outbox, every call of which can be slowed, under
//! tokio's paused clock: minutes of leases and latency run in milliseconds, and the same
//! interleavings every run.
use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use common::metrics::Metrics;

use super::*;
use crate::store::memory::{Call, MemoryOutbox};

const LEASE: Duration = Duration::from_secs(3);
const SEND_TIMEOUT: Duration = Duration::from_millis(800);

/// A provider that takes `delay` per send and records each one it completes.
struct Provider {
    delay: Duration,
    sent: Mutex<Vec<String>>,
}

impl Provider {
    fn taking(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            delay,
            sent: Mutex::default(),
        })
    }

    /// How often each recipient got its SMS.
    fn per_recipient(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for to in self.sent.lock().unwrap().iter() {
            *counts.entry(to.clone()).or_default() += 1;
        }
        counts
    }
}

#[async_trait]
impl SmsSender for Provider {
    async fn send(&self, to: &str, _message: &str) -> SendOutcome {
        tokio::time::sleep(self.delay).await;
        self.sent.lock().unwrap().push(to.to_owned());
        SendOutcome::Sent {
            message_id: format!("ATXid_{to}"),
        }
    }
}

fn records(count: usize) -> Vec<OutboxRecord> {
    (0..count)
        .map(|n| {
            OutboxRecord::new(
                format!("order-{n:02}"),
                format!("+2547110{n:05}"),
                "Hi".into(),
                0,
            )
        })
        .collect()
}

fn dispatcher(outbox: &Arc<MemoryOutbox>, provider: &Arc<Provider>) -> Dispatcher {
    let config = OutboxConfig {
        enabled: true,
        poll_interval: Duration::from_millis(100),
        max_attempts: 4,
        retry_base: Duration::from_millis(50),
        retry_max: Duration::from_millis(200),
        lease: LEASE,
        batch_size: 25,
        concurrency: 4,
        backlog_count_max: 1000,
    };
    Dispatcher::new(
        outbox.clone(),
        provider.clone(),
        config,
        SEND_TIMEOUT,
        Destinations::default(),
        u32::MAX,
        SmsMetrics::register(&Metrics::new()),
    )
}

/// Runs `dispatchers` until the outbox is empty and returns how many SMS each
/// recipient got.
async fn run_until_sent(
    outbox: &MemoryOutbox,
    provider: &Provider,
    dispatchers: Vec<Dispatcher>,
) -> HashMap<String, usize> {
    let stop = CancellationToken::new();
    let running: Vec<_> = dispatchers
        .into_iter()
        .map(|d| tokio::spawn(d.run(stop.clone())))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    while !outbox.is_empty() {
        assert!(Instant::now() < deadline, "the outbox never emptied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    for task in running {
        task.await.unwrap();
    }
    provider.per_recipient()
}

fn assert_each_once(counts: &HashMap<String, usize>, expected: usize) {
    assert_eq!(counts.len(), expected, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "each exactly once: {counts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lease_running_short_is_extended_before_a_slow_record_write() {
    // One SMS: the dispatcher that loses the claim is free to try again at every poll.
    let outbox = MemoryOutbox::with(records(1));
    // The claim comes back with 1.8 s of its 3 s lease left, the send takes 0.7 s, and
    // recording the outcome then takes longer than what is left (it lands after 2.5 s).
    outbox.slow(|call| match call {
        Call::Claim => Duration::from_millis(1200),
        Call::Complete => Duration::from_secs(5),
        _ => Duration::ZERO,
    });
    let provider = Provider::taking(Duration::from_millis(700));
    let racing = vec![
        dispatcher(&outbox, &provider),
        dispatcher(&outbox, &provider),
    ];
    assert_each_once(&run_until_sent(&outbox, &provider, racing).await, 1);
}

#[tokio::test(start_paused = true)]
async fn a_claim_granted_too_late_to_send_is_extended_once_then_sent() {
    let outbox = MemoryOutbox::with(records(1));
    // The claim's answer arrives with 400 ms of its 3 s lease left; the extension is quick.
    outbox.slow(|call| match call {
        Call::Claim => Duration::from_millis(2600),
        _ => Duration::ZERO,
    });
    let provider = Provider::taking(Duration::from_millis(100));
    let one = dispatcher(&outbox, &provider);
    assert_eq!(one.dispatch_due().await.unwrap(), 1);
    assert_each_once(&provider.per_recipient(), 1);
    assert_eq!(one.metrics.released.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_store_slower_than_a_third_of_the_lease_still_gets_every_sms_sent_once() {
    // Every store call takes 1.1 s: the claim and the hourly count together leave 0.8 s
    // of the 3 s lease, less than the 1.6 s a send needs; the extension leaves 1.9 s.
    let outbox = MemoryOutbox::with(records(5));
    outbox.slow(|_| Duration::from_millis(1100));
    let provider = Provider::taking(Duration::from_millis(100));
    let racing = vec![
        dispatcher(&outbox, &provider),
        dispatcher(&outbox, &provider),
    ];
    assert_each_once(&run_until_sent(&outbox, &provider, racing).await, 5);
}

#[tokio::test(start_paused = true)]
async fn a_claim_still_short_after_its_extension_is_released_uncounted() {
    let outbox = MemoryOutbox::with(records(1));
    // The claim's answer arrives with 400 ms of its 3 s lease left, the extension's with
    // 400 ms of the new one.
    outbox.slow(|call| match call {
        Call::Claim | Call::Extend => Duration::from_millis(2600),
        _ => Duration::ZERO,
    });
    let provider = Provider::taking(Duration::from_millis(100));
    let one = dispatcher(&outbox, &provider);
    assert_eq!(one.dispatch_due().await.unwrap(), 0);
    assert!(provider.sent.lock().unwrap().is_empty(), "nothing sent");
    let record = outbox.record("order-00").expect("still in the outbox");
    assert_eq!(record.attempts, 0, "the release undid the attempt");
    assert!(record.claim_id.is_none() && record.lease_until.is_none());
    assert!(one.metrics.released.get() == 1);

    outbox.slow(|_| Duration::ZERO);
    assert_eq!(one.dispatch_due().await.unwrap(), 1);
    assert_each_once(&provider.per_recipient(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_send_that_hangs_is_cut_off_at_the_timeout_and_retried() {
    let outbox = MemoryOutbox::with(records(1));
    let hanging = Provider::taking(Duration::from_secs(3600));
    let one = dispatcher(&outbox, &hanging);
    let started = Instant::now();
    assert_eq!(one.dispatch_due().await.unwrap(), 1);
    assert_eq!(started.elapsed(), SEND_TIMEOUT);
    let record = outbox.record("order-00").expect("rescheduled");
    assert_eq!(record.attempts, 1);
    assert!(record.claim_id.is_none(), "the claim was given back");
}

#[tokio::test(start_paused = true)]
async fn a_dispatcher_that_lost_its_claim_records_nothing() {
    let outbox = MemoryOutbox::with(records(1));
    let provider = Provider::taking(Duration::ZERO);
    let late = dispatcher(&outbox, &provider);
    let claimed = outbox
        .claim("order-00", "late", "claim-1", 0, 1)
        .await
        .unwrap()
        .unwrap();
    // Its lease ran out and another dispatcher claimed and finished the SMS.
    let taken = outbox.claim("order-00", "other", "claim-2", 2, 3_000).await;
    assert!(taken.unwrap().is_some());
    assert!(matches!(
        late.send_and_record(&claimed, 1, Ok(PhoneNumber::parse(&claimed.to).unwrap()))
            .await,
        Err(OutboxError::LostClaim)
    ));
    assert!(matches!(
        outbox.extend(&claimed, 10_000).await,
        Err(OutboxError::LostClaim)
    ));
    assert_eq!(
        late.metrics.sent.get(),
        0,
        "a fenced write is not a sent SMS"
    );
    assert_eq!(
        outbox.record("order-00").unwrap().claim_id.as_deref(),
        Some("claim-2")
    );
}

#[tokio::test(start_paused = true)]
async fn an_outcome_the_busy_store_refused_is_written_again_not_sent_again() {
    let outbox = MemoryOutbox::with(records(1));
    outbox.refuse_once(&[Call::Complete, Call::Complete]);
    let provider = Provider::taking(Duration::from_millis(100));
    let racing = vec![
        dispatcher(&outbox, &provider),
        dispatcher(&outbox, &provider),
    ];
    assert_each_once(&run_until_sent(&outbox, &provider, racing).await, 1);
    assert_eq!(outbox.refusals_pending(), 0, "both refusals happened");
    assert!(matches!(
        outbox.outcome("order-00"),
        Some(Delivery::Sent { .. })
    ));
}
