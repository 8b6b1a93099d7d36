//! Works through the outbox: every SMS of an order is claimed by one dispatcher at a time
//! (a conditional write), sent, and its outcome recorded with the order in one
//! transaction. Any number of replicas may run it; a crash loses nothing, because an
//! unfinished record is claimed again once its lease runs out.
//!
//! A lease only keeps others out while it lasts, so a send must never outlive it:
//! - a claim that has less than [`Dispatcher::send_budget`] of its lease left once it is
//!   checked (a slow store ate it) is extended once, and released unused instead of sent
//!   if even the extension came back too late (without the extension, a store slower than
//!   a third of the lease would release every claim and send nothing, ever);
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
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{SendOutcome, SmsMetrics, SmsSender};
use crate::config::OutboxConfig;
use crate::domain::{Delivery, Destinations, OutboxRecord, PhoneNumber};
use crate::store::{Outbox, OutboxError};
use common::retry::RetryPolicy;
use common::timestamp::Timestamp;

/// How often the backlog gauge is refreshed (a count of the due index, capped).
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
                match self.outbox.backlog(self.config.backlog_count_max).await {
                    Ok(backlog) => {
                        self.metrics
                            .backlog
                            .set(backlog.queued.try_into().unwrap_or(i64::MAX));
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
    pub async fn dispatch_due(&self) -> Result<usize, OutboxError> {
        let due = self
            .outbox
            .due(self.clock.now_ms(), self.config.batch_size)
            .await?;
        let results: Vec<Result<bool, OutboxError>> = futures::stream::iter(due)
            .map(|order_id| self.deliver(order_id))
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
    async fn deliver(&self, order_id: String) -> Result<bool, OutboxError> {
        let now = self.clock.now_ms();
        let lease_until = now + millis(self.config.lease);
        let claim_id = uuid::Uuid::new_v4().simple().to_string();
        let Some(claimed) = self
            .outbox
            .claim(&order_id, &self.worker, &claim_id, now, lease_until)
            .await?
        else {
            return Ok(false);
        };
        let destination = self.destination(&claimed).await?;
        // Only a send needs the budget: a refusal is recorded without one.
        let budget = millis(self.send_budget());
        let mut lease_until = lease_until;
        if destination.is_ok() && lease_until - self.clock.now_ms() < budget {
            // One store call costs less than the claim and the count took together.
            let extended_until = self.clock.now_ms() + millis(self.config.lease);
            match self.outbox.extend(&claimed, extended_until).await {
                Ok(()) => lease_until = extended_until,
                Err(OutboxError::LostClaim) => return Ok(false),
                Err(other) => return Err(other),
            }
            let left = lease_until - self.clock.now_ms();
            if left < budget {
                return self.release(&claimed, left).await;
            }
        }
        let recorded = self
            .send_and_record(&claimed, lease_until, destination)
            .await;
        match recorded {
            Ok(()) => Ok(true),
            // The lease could not be kept (the store was unreachable for longer than it)
            // and another dispatcher took the record over: it owns the outcome now.
            Err(OutboxError::LostClaim) => {
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
    async fn release(&self, claimed: &OutboxRecord, left_ms: i64) -> Result<bool, OutboxError> {
        tracing::warn!(
            order_id = claimed.order_id.as_str(),
            lease_left_ms = left_ms,
            "SMS claim released unsent: too little of its lease was left for a send"
        );
        self.metrics.released.inc();
        match self.outbox.release(claimed, self.clock.now_ms()).await {
            // Already expired and taken: nothing of ours to give back.
            Ok(()) | Err(OutboxError::LostClaim) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Where the claimed SMS goes (its number parsed again: one stored before today's rules
    /// is normalised and checked like a new one), or why it must not be sent at all: the
    /// number is not an allowed destination, or has had its SMS for the hour. Such an SMS
    /// fails with the reason on its order; nothing is dropped unseen.
    async fn destination(
        &self,
        claimed: &OutboxRecord,
    ) -> Result<Result<PhoneNumber, String>, OutboxError> {
        let number = match PhoneNumber::parse(&claimed.to).and_then(|number| {
            self.destinations.check(&number)?;
            Ok(number)
        }) {
            Ok(number) => number,
            Err(why) => {
                return Ok(Err(format!(
                    "not sent: the number is not an allowed destination: it {why}"
                )))
            }
        };
        let max = self.max_per_number_per_hour;
        let counted = self
            .outbox
            .count_send(number.as_str(), &claimed.order_id, self.clock.now_ms(), max)
            .await?;
        Ok(if counted {
            Ok(number)
        } else {
            Err(format!(
                "not sent: at most {max} SMS per hour go to one number, and this one has had them"
            ))
        })
    }

    /// Sends the claimed SMS to `destination` (cut off at the send timeout) unless it was
    /// refused, and records the outcome.
    async fn send_and_record(
        &self,
        claimed: &OutboxRecord,
        lease_until: i64,
        destination: Result<PhoneNumber, String>,
    ) -> Result<(), OutboxError> {
        let (outcome, ambiguous) = match destination {
            Err(reason) => {
                self.metrics.limited.inc();
                (Outcome::Done(Delivery::Failed { reason }), false)
            }
            Ok(number) => self.send(claimed, &number).await,
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
    async fn send(&self, claimed: &OutboxRecord, to: &PhoneNumber) -> (Outcome, bool) {
        let started = Instant::now();
        let sent = tokio::time::timeout(
            self.send_timeout,
            self.sender.send(to.as_str(), &claimed.message),
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
            SendOutcome::Retry { reason, .. }
            | SendOutcome::Unknown { reason }
            | SendOutcome::Deferred { reason, .. }
                if attempt >= self.config.max_attempts =>
            {
                Outcome::Done(Delivery::Failed {
                    reason: format!("gave up after {attempt} attempts: {reason}"),
                })
            }
            SendOutcome::Retry { reason, after } => self.retry_at(attempt, reason, after),
            SendOutcome::Unknown { reason } => self.retry_at(attempt, reason, None),
            // A rule with a time, not a failure: its hour, however far beyond the backoff.
            SendOutcome::Deferred { reason, after } => Outcome::Retry {
                at_ms: self.clock.now_ms() + millis(after),
                reason,
            },
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
    ) -> Result<(), OutboxError> {
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
                Err(OutboxError::Storage(error)) if tries < RECORD_TRIES => {
                    tracing::warn!(order_id = claimed.order_id.as_str(), %error, "recording an SMS outcome failed; trying again");
                    tokio::time::sleep(self.retry.backoff(tries)).await;
                }
                written => return written,
            }
        }
    }
}

#[cfg(test)]
mod tests;
