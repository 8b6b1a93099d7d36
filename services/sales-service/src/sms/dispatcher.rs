//! Works through the outbox: every SMS of an order is claimed by one dispatcher at a time
//! (a conditional write), sent, and its outcome recorded with the order in one
//! transaction. Any number of replicas may run it; a crash loses nothing, because an
//! unfinished record is claimed again once its lease runs out.
//!
//! A lease only keeps others out while it lasts, so a send must never outlive it:
//! - a claim that has less than [`Dispatcher::send_budget`] of its lease left once it is
//!   checked (a slow store ate it) is released unused instead of sent;
//! - a send is cut off at the SMS timeout;
//! - before the outcome is written, a lease less than half left is extended, and a write
//!   the store refused for being busy is tried again while the claim is held;
//! - every write under a claim is fenced by its claim id, so a dispatcher that lost its
//!   claim writes nothing.
//!
//! Before a send, the number is checked against the allowed destinations and its share
//! of SMS for the hour (counted in the store, across replicas); an SMS refused there is
//! marked failed with the reason, never sent and never dropped unseen.
//!
//! Nothing writes the record while another write of ours to it is in flight: DynamoDB
//! cancels a transaction that meets a concurrent write to one of its items.
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{SendOutcome, SmsSender};
use crate::config::OutboxConfig;
use crate::domain::{Destinations, OutboxRecord};
use crate::store::{Delivery, Outbox, StoreError};
use common::metrics::Metrics;
use common::retry::RetryPolicy;
use common::timestamp::Timestamp;

/// How often the backlog gauge is refreshed (a counting scan of the outbox).
const BACKLOG_REFRESH: Duration = Duration::from_secs(15);
/// Tries at writing an outcome the store refused for being busy (throttled, or a
/// transaction conflict).
const RECORD_TRIES: u32 = 3;

/// What an attempt leaves behind: a finished SMS, or one to try again at a time.
enum Outcome {
    Done(Delivery),
    Retry { at_ms: i64, reason: String },
}

#[derive(Clone)]
pub struct SmsMetrics {
    sent: IntCounter,
    failed: IntCounter,
    retried: IntCounter,
    released: IntCounter,
    ambiguous_resends: IntCounter,
    limited: IntCounter,
    backlog: IntGauge,
    send_seconds: Histogram,
}

impl SmsMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let counter = |name: &str, help: &str| {
            metrics.register(IntCounter::new(name, help).expect("valid metric"))
        };
        Self {
            sent: counter("sms_sent_total", "SMS accepted by the provider"),
            failed: counter(
                "sms_failed_total",
                "SMS given up: refused by the provider or before sending, or out of attempts",
            ),
            retried: counter(
                "sms_retried_total",
                "SMS attempts that failed transiently and were rescheduled",
            ),
            released: counter(
                "sms_claims_released_total",
                "SMS claims given back unsent: the store left too little of the lease for a send",
            ),
            ambiguous_resends: counter(
                "sms_ambiguous_resends_total",
                "SMS rescheduled after an attempt the provider may have sent (timeout, dropped connection): a possible duplicate",
            ),
            limited: counter(
                "sms_destination_limited_total",
                "SMS failed unsent: the number is not an allowed destination, or had its SMS for the hour",
            ),
            backlog: metrics.register(
                IntGauge::new("sms_outbox_backlog", "SMS waiting in the outbox")
                    .expect("valid metric"),
            ),
            send_seconds: metrics.register(
                Histogram::with_opts(
                    HistogramOpts::new(
                        "sms_send_duration_seconds",
                        "Time of one call to the SMS provider",
                    )
                    .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
                )
                .expect("valid metric"),
            ),
        }
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    outbox: Arc<dyn Outbox>,
    sender: Arc<dyn SmsSender>,
    config: OutboxConfig,
    /// The most one send may take; the dispatcher cuts it off there.
    send_timeout: Duration,
    /// Where SMS may go (checked again before each send: a number stored before a rule or
    /// a settings change does not get past it).
    destinations: Destinations,
    /// SMS per number per clock hour, across every replica.
    max_per_number_per_hour: u32,
    retry: RetryPolicy,
    metrics: SmsMetrics,
    /// Names this process in claims (unique per start).
    worker: String,
    clock: Clock,
    wake: Arc<Notify>,
}

/// Unix milliseconds for due times and leases: the wall clock read once, advanced by
/// tokio's monotonic clock. A step of the wall clock (NTP) then never stretches or cuts a
/// lease mid-send, and tests drive it with `tokio::time::pause()`.
#[derive(Clone, Copy)]
struct Clock {
    origin_ms: i64,
    origin: Instant,
}

impl Clock {
    fn start() -> Self {
        Self {
            origin_ms: Timestamp::now().unix_millis(),
            origin: Instant::now(),
        }
    }

    fn now_ms(&self) -> i64 {
        self.origin_ms + millis(self.origin.elapsed())
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Dispatcher {
    pub fn new(
        outbox: Arc<dyn Outbox>,
        sender: Arc<dyn SmsSender>,
        config: OutboxConfig,
        send_timeout: Duration,
        destinations: Destinations,
        max_per_number_per_hour: u32,
        metrics: SmsMetrics,
    ) -> Self {
        let retry = RetryPolicy {
            max_attempts: config.max_attempts,
            base_delay: config.retry_base,
            max_delay: config.retry_max,
            // The attempt count bounds retries; a message is worth days of trying.
            deadline: Duration::MAX,
        };
        Self {
            outbox,
            sender,
            config,
            send_timeout,
            destinations,
            max_per_number_per_hour,
            retry,
            metrics,
            worker: format!("dispatcher-{}", uuid::Uuid::new_v4().simple()),
            clock: Clock::start(),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The lease a claim must have left before its SMS is sent: a whole send, and as long
    /// again to record the outcome (the lease keeps being extended meanwhile, so this is
    /// the margin for when the store is too slow to extend it).
    fn send_budget(&self) -> Duration {
        self.send_timeout * 2
    }

    /// Wakes the dispatcher at once (a new order), instead of at the next poll.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Dispatches until `shutdown`; a pass in progress finishes first, so no claimed
    /// record is left mid-send by a clean stop.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(worker = %self.worker, "SMS dispatcher started");
        let mut backlog_refreshed: Option<Instant> = None;
        loop {
            if let Err(error) = self.dispatch_due().await {
                tracing::warn!(%error, "SMS dispatch pass failed; retrying at the next poll");
            }
            if backlog_refreshed.is_none_or(|at| at.elapsed() >= BACKLOG_REFRESH) {
                match self.outbox.backlog().await {
                    Ok(count) => {
                        self.metrics
                            .backlog
                            .set(count.try_into().unwrap_or(i64::MAX));
                        backlog_refreshed = Some(Instant::now());
                    }
                    Err(error) => tracing::warn!(%error, "could not count the SMS backlog"),
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        tracing::info!(worker = %self.worker, "SMS dispatcher stopped");
    }

    /// One pass: claims what is due and sends it, a bounded number at a time. Returns how
    /// many SMS this dispatcher handled (sent, failed or rescheduled).
    pub async fn dispatch_due(&self) -> Result<usize, StoreError> {
        let due = self
            .outbox
            .due(self.clock.now_ms(), self.config.batch_size)
            .await?;
        let results: Vec<Result<bool, StoreError>> = futures::stream::iter(due)
            .map(|record| self.deliver(record))
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
        let mut handled = 0;
        for result in results {
            match result {
                Ok(true) => handled += 1,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "recording an SMS outcome failed; it will be retried after its lease")
                }
            }
        }
        Ok(handled)
    }

    /// Claims, sends and records one SMS; `false` when another dispatcher had it, or the
    /// claim came back too late to send.
    async fn deliver(&self, record: OutboxRecord) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        let lease_until = now + millis(self.config.lease);
        let claim_id = uuid::Uuid::new_v4().simple().to_string();
        let Some(claimed) = self
            .outbox
            .claim(&record.order_id, &self.worker, &claim_id, now, lease_until)
            .await?
        else {
            return Ok(false);
        };
        let refusal = self.refusal(&claimed).await?;
        // Only a send needs the budget: a refusal is recorded without one.
        let left = lease_until - self.clock.now_ms();
        if refusal.is_none() && left < millis(self.send_budget()) {
            return self.release(&claimed, left).await;
        }
        let recorded = self.send_and_record(&claimed, lease_until, refusal).await;
        match recorded {
            Ok(()) => Ok(true),
            // The lease could not be kept (the store was unreachable for longer than it)
            // and another dispatcher took the record over: it owns the outcome now.
            Err(StoreError::LostClaim) => {
                tracing::warn!(
                    order_id = claimed.order_id.as_str(),
                    "SMS claim lost to another dispatcher after its lease ran out"
                );
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    /// Gives back a claim the store took so long to grant that a send could outlive it.
    async fn release(&self, claimed: &OutboxRecord, left_ms: i64) -> Result<bool, StoreError> {
        tracing::warn!(
            order_id = claimed.order_id.as_str(),
            lease_left_ms = left_ms,
            "SMS claim released unsent: too little of its lease was left for a send"
        );
        self.metrics.released.inc();
        match self.outbox.release(claimed).await {
            // Already expired and taken: nothing of ours to give back.
            Ok(()) | Err(StoreError::LostClaim) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Why the claimed SMS must not be sent at all, if it must not: its number is not an
    /// allowed destination, or already had its SMS for the hour. Such an SMS fails with
    /// the reason on its order; nothing is dropped unseen.
    async fn refusal(&self, claimed: &OutboxRecord) -> Result<Option<String>, StoreError> {
        if let Err(why) = self.destinations.check_e164(&claimed.to) {
            return Ok(Some(format!(
                "not sent: the number is not an allowed destination: it {why}"
            )));
        }
        let max = self.max_per_number_per_hour;
        let counted = self
            .outbox
            .count_send(&claimed.to, &claimed.order_id, self.clock.now_ms(), max)
            .await?;
        Ok((!counted).then(|| {
            format!(
                "not sent: at most {max} SMS per hour go to one number, and this one has had them"
            )
        }))
    }

    /// Sends the claimed SMS (cut off at the send timeout) unless it was refused, and
    /// records the outcome.
    async fn send_and_record(
        &self,
        claimed: &OutboxRecord,
        lease_until: i64,
        refusal: Option<String>,
    ) -> Result<(), StoreError> {
        let (outcome, ambiguous) = match refusal {
            Some(reason) => {
                self.metrics.limited.inc();
                (Outcome::Done(Delivery::Failed { reason }), false)
            }
            None => self.send(claimed).await,
        };
        self.record(claimed, lease_until, &outcome).await?;
        let order_id = claimed.order_id.as_str();
        let attempt = claimed.attempts;
        match outcome {
            Outcome::Done(Delivery::Sent { .. }) => {
                self.metrics.sent.inc();
                tracing::info!(order_id, attempt, "SMS sent");
            }
            Outcome::Done(Delivery::Failed { reason }) => {
                self.metrics.failed.inc();
                tracing::warn!(order_id, attempt, %reason, "SMS failed");
            }
            Outcome::Retry { at_ms, reason } => {
                self.metrics.retried.inc();
                if ambiguous {
                    self.metrics.ambiguous_resends.inc();
                }
                let retry_in_ms = at_ms - self.clock.now_ms();
                tracing::warn!(order_id, attempt, retry_in_ms, %reason, "SMS not sent; will retry");
            }
        }
        Ok(())
    }

    /// The next attempt after `attempt` failed: the backoff, or the provider's wait if longer.
    fn retry_at(&self, attempt: u32, reason: String, after: Option<Duration>) -> Outcome {
        let wait = after
            .unwrap_or_default()
            .max(self.retry.backoff(attempt))
            .min(self.config.retry_max);
        Outcome::Retry {
            at_ms: self.clock.now_ms() + millis(wait),
            reason,
        }
    }

    /// One send, cut off at the send timeout, and what it leaves behind; `true` when the
    /// provider may have sent it all the same (a retry is then a possible duplicate).
    async fn send(&self, claimed: &OutboxRecord) -> (Outcome, bool) {
        let started = Instant::now();
        let sent = tokio::time::timeout(
            self.send_timeout,
            self.sender.send(&claimed.to, &claimed.message),
        )
        .await
        .unwrap_or_else(|_| SendOutcome::Unknown {
            reason: "the SMS provider timed out".into(),
        });
        let ambiguous = matches!(sent, SendOutcome::Unknown { .. });
        self.metrics
            .send_seconds
            .observe(started.elapsed().as_secs_f64());
        let attempt = claimed.attempts;
        let outcome = match sent {
            SendOutcome::Sent { message_id } => Outcome::Done(Delivery::Sent {
                message_id,
                at: Timestamp::now().sortable(),
            }),
            SendOutcome::Reject { reason } => Outcome::Done(Delivery::Failed { reason }),
            SendOutcome::Retry { reason, .. } | SendOutcome::Unknown { reason }
                if attempt >= self.config.max_attempts =>
            {
                Outcome::Done(Delivery::Failed {
                    reason: format!("gave up after {attempt} attempts: {reason}"),
                })
            }
            SendOutcome::Retry { reason, after } => self.retry_at(attempt, reason, after),
            SendOutcome::Unknown { reason } => self.retry_at(attempt, reason, None),
        };
        (outcome, ambiguous)
    }

    /// Writes the outcome under the claim (held until `lease_until`). A lease less than
    /// half left (a slow send or store) is extended first, and a write refused for a busy
    /// store is tried again: an outcome left unwritten means a second send once the lease
    /// runs out.
    async fn record(
        &self,
        claimed: &OutboxRecord,
        mut lease_until: i64,
        outcome: &Outcome,
    ) -> Result<(), StoreError> {
        let lease = millis(self.config.lease);
        let mut tries = 0;
        loop {
            tries += 1;
            let written = async {
                let now = self.clock.now_ms();
                if lease_until - now < lease / 2 {
                    self.outbox.extend(claimed, now + lease).await?;
                    lease_until = now + lease;
                }
                match outcome {
                    Outcome::Done(delivery) => self.outbox.complete(claimed, delivery).await,
                    Outcome::Retry { at_ms, reason } => {
                        self.outbox.reschedule(claimed, *at_ms, reason).await
                    }
                }
            }
            .await;
            match written {
                Err(StoreError::Storage(error)) if tries < RECORD_TRIES => {
                    tracing::warn!(order_id = claimed.order_id.as_str(), %error, "recording an SMS outcome failed; trying again");
                    tokio::time::sleep(self.retry.backoff(tries)).await;
                }
                written => return written,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The dispatcher against an in-memory outbox whose every call can be slowed, under
    //! tokio's paused clock: minutes of leases and latency run in milliseconds, and the
    //! same interleavings every run.
    use std::collections::HashMap;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use common::aws::StorageError;

    use super::*;

    const LEASE: Duration = Duration::from_secs(3);
    const SEND_TIMEOUT: Duration = Duration::from_millis(800);

    /// Which outbox call is being made, to slow some and not others.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Call {
        Due,
        Claim,
        Extend,
        Release,
        Complete,
        Reschedule,
    }

    type Latency = Box<dyn Fn(Call) -> Duration + Send + Sync>;

    /// The DynamoDB outbox's conditions over a map. A call takes its latency in two
    /// halves: the request travels (then the write happens at once), the answer travels.
    struct MemoryOutbox {
        records: Mutex<HashMap<String, OutboxRecord>>,
        outcomes: Mutex<HashMap<String, Delivery>>,
        latency: Mutex<Latency>,
        /// Calls to refuse once each, as a busy store does (a transaction conflict).
        busy: Mutex<Vec<Call>>,
        /// The per-number hourly windows: order ids by window key.
        sends: Mutex<HashMap<String, std::collections::HashSet<String>>>,
    }

    impl MemoryOutbox {
        fn with(records: impl IntoIterator<Item = OutboxRecord>) -> Arc<Self> {
            Arc::new(Self {
                records: Mutex::new(
                    records
                        .into_iter()
                        .map(|r| (r.order_id.clone(), r))
                        .collect(),
                ),
                outcomes: Mutex::default(),
                latency: Mutex::new(Box::new(|_| Duration::ZERO)),
                busy: Mutex::default(),
                sends: Mutex::default(),
            })
        }

        fn slow(&self, latency: impl Fn(Call) -> Duration + Send + Sync + 'static) {
            *self.latency.lock().unwrap() = Box::new(latency);
        }

        async fn call<T>(
            &self,
            call: Call,
            apply: impl FnOnce(&mut HashMap<String, OutboxRecord>) -> Result<T, StoreError>,
        ) -> Result<T, StoreError> {
            let latency = (self.latency.lock().unwrap())(call);
            tokio::time::sleep(latency / 2).await;
            let busy = {
                let mut busy = self.busy.lock().unwrap();
                let refused = busy.iter().position(|&refused| refused == call);
                refused.map(|at| busy.remove(at)).is_some()
            };
            let result = if busy {
                Err(StorageError::Unavailable("busy".into()).into())
            } else {
                apply(&mut self.records.lock().unwrap())
            };
            tokio::time::sleep(latency / 2).await;
            result
        }

        fn record(&self, order_id: &str) -> Option<OutboxRecord> {
            self.records.lock().unwrap().get(order_id).cloned()
        }

        fn is_empty(&self) -> bool {
            self.records.lock().unwrap().is_empty()
        }
    }

    fn held<'a>(
        records: &'a mut HashMap<String, OutboxRecord>,
        claimed: &OutboxRecord,
    ) -> Result<&'a mut OutboxRecord, StoreError> {
        records
            .get_mut(&claimed.order_id)
            .filter(|record| record.claim_id.is_some() && record.claim_id == claimed.claim_id)
            .ok_or(StoreError::LostClaim)
    }

    #[async_trait]
    impl Outbox for MemoryOutbox {
        async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<OutboxRecord>, StoreError> {
            self.call(Call::Due, |records| {
                let mut due: Vec<_> = records
                    .values()
                    .filter(|r| r.next_attempt_at <= now_ms)
                    .filter(|r| r.lease_until.is_none_or(|until| until < now_ms))
                    .cloned()
                    .collect();
                due.sort_by(|a, b| a.order_id.cmp(&b.order_id));
                due.truncate(limit);
                Ok(due)
            })
            .await
        }

        async fn claim(
            &self,
            order_id: &str,
            worker: &str,
            claim_id: &str,
            now_ms: i64,
            lease_until_ms: i64,
        ) -> Result<Option<OutboxRecord>, StoreError> {
            self.call(Call::Claim, |records| {
                let Some(record) = records.get_mut(order_id) else {
                    return Ok(None);
                };
                if record.next_attempt_at > now_ms
                    || record.lease_until.is_some_and(|until| until >= now_ms)
                {
                    return Ok(None);
                }
                record.claimed_by = Some(worker.to_owned());
                record.claim_id = Some(claim_id.to_owned());
                record.lease_until = Some(lease_until_ms);
                record.attempts += 1;
                Ok(Some(record.clone()))
            })
            .await
        }

        async fn extend(
            &self,
            claimed: &OutboxRecord,
            lease_until_ms: i64,
        ) -> Result<(), StoreError> {
            self.call(Call::Extend, |records| {
                held(records, claimed)?.lease_until = Some(lease_until_ms);
                Ok(())
            })
            .await
        }

        async fn release(&self, claimed: &OutboxRecord) -> Result<(), StoreError> {
            self.call(Call::Release, |records| {
                let record = held(records, claimed)?;
                record.claimed_by = None;
                record.claim_id = None;
                record.lease_until = None;
                record.attempts -= 1;
                Ok(())
            })
            .await
        }

        async fn complete(
            &self,
            claimed: &OutboxRecord,
            delivery: &Delivery,
        ) -> Result<(), StoreError> {
            self.call(Call::Complete, |records| {
                held(records, claimed)?;
                records.remove(&claimed.order_id);
                Ok(())
            })
            .await?;
            self.outcomes
                .lock()
                .unwrap()
                .insert(claimed.order_id.clone(), delivery.clone());
            Ok(())
        }

        async fn reschedule(
            &self,
            claimed: &OutboxRecord,
            next_attempt_at_ms: i64,
            _error: &str,
        ) -> Result<(), StoreError> {
            self.call(Call::Reschedule, |records| {
                let record = held(records, claimed)?;
                record.next_attempt_at = next_attempt_at_ms;
                record.claimed_by = None;
                record.claim_id = None;
                record.lease_until = None;
                Ok(())
            })
            .await
        }

        async fn backlog(&self) -> Result<u64, StoreError> {
            Ok(self.records.lock().unwrap().len() as u64)
        }

        async fn count_send(
            &self,
            to: &str,
            order_id: &str,
            now_ms: i64,
            max: u32,
        ) -> Result<bool, StoreError> {
            let (window, _) = crate::store::send_window(to, now_ms);
            let mut sends = self.sends.lock().unwrap();
            let orders = sends.entry(window).or_default();
            if orders.contains(order_id) || orders.len() < max as usize {
                orders.insert(order_id.to_owned());
                Ok(true)
            } else {
                Ok(false)
            }
        }
    }

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
    async fn a_claim_granted_too_late_to_send_is_released_uncounted() {
        let outbox = MemoryOutbox::with(records(1));
        // The claim's answer arrives with 400 ms of its 3 s lease left.
        outbox.slow(|call| {
            if call == Call::Claim {
                Duration::from_millis(2600)
            } else {
                Duration::ZERO
            }
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
            late.send_and_record(&claimed, 1, None).await,
            Err(StoreError::LostClaim)
        ));
        assert!(matches!(
            outbox.extend(&claimed, 10_000).await,
            Err(StoreError::LostClaim)
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
        outbox
            .busy
            .lock()
            .unwrap()
            .extend([Call::Complete, Call::Complete]);
        let provider = Provider::taking(Duration::from_millis(100));
        let racing = vec![
            dispatcher(&outbox, &provider),
            dispatcher(&outbox, &provider),
        ];
        assert_each_once(&run_until_sent(&outbox, &provider, racing).await, 1);
        assert!(
            outbox.busy.lock().unwrap().is_empty(),
            "both refusals happened"
        );
        assert!(matches!(
            outbox.outcomes.lock().unwrap()["order-00"],
            Delivery::Sent { .. }
        ));
    }
}
