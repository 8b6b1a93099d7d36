//! Works through the outbox: every SMS of an order is claimed by one dispatcher at a time
//! (a conditional write), sent, and its outcome recorded with the order in one
//! transaction. Any number of replicas may run it; a crash loses nothing, because an
//! unfinished record is claimed again once its lease runs out.
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge};
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{SendOutcome, SmsSender};
use crate::config::OutboxConfig;
use crate::store::{timestamp, unix_millis, Delivery, Outbox, OutboxRecord, StoreError};
use common::metrics::Metrics;
use common::retry::RetryPolicy;

/// How often the backlog gauge is refreshed (a counting scan of the outbox).
const BACKLOG_REFRESH: Duration = Duration::from_secs(15);

#[derive(Clone)]
pub struct SmsMetrics {
    sent: IntCounter,
    failed: IntCounter,
    retried: IntCounter,
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
                "SMS given up: refused by the provider or out of attempts",
            ),
            retried: counter(
                "sms_retried_total",
                "SMS attempts that failed transiently and were rescheduled",
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
    retry: RetryPolicy,
    metrics: SmsMetrics,
    /// Names this process in claims (unique per start).
    worker: String,
    wake: Arc<Notify>,
}

fn now_ms() -> i64 {
    unix_millis(time::OffsetDateTime::now_utc())
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Dispatcher {
    pub fn new(
        outbox: Arc<dyn Outbox>,
        sender: Arc<dyn SmsSender>,
        config: OutboxConfig,
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
            retry,
            metrics,
            worker: format!("dispatcher-{}", uuid::Uuid::new_v4().simple()),
            wake: Arc::new(Notify::new()),
        }
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
        let due = self.outbox.due(now_ms(), self.config.batch_size).await?;
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

    /// Claims, sends and records one SMS; `false` when another dispatcher had it.
    async fn deliver(&self, record: OutboxRecord) -> Result<bool, StoreError> {
        let now = now_ms();
        let lease_until = now + millis(self.config.lease);
        let Some(claimed) = self
            .outbox
            .claim(&record.order_id, &self.worker, now, lease_until)
            .await?
        else {
            return Ok(false);
        };
        let started = Instant::now();
        let outcome = self.sender.send(&claimed.to, &claimed.message).await;
        self.metrics
            .send_seconds
            .observe(started.elapsed().as_secs_f64());
        let order_id = claimed.order_id.as_str();
        let attempt = claimed.attempts;
        let recorded = match outcome {
            SendOutcome::Sent { message_id } => {
                let delivery = Delivery::Sent {
                    message_id,
                    at: timestamp(time::OffsetDateTime::now_utc()),
                };
                self.outbox.complete(&claimed, &delivery).await.map(|()| {
                    self.metrics.sent.inc();
                    tracing::info!(order_id, attempt, "SMS sent");
                })
            }
            SendOutcome::Reject { reason } => self.fail(&claimed, reason).await,
            SendOutcome::Retry { reason, .. } if attempt >= self.config.max_attempts => {
                self.fail(
                    &claimed,
                    format!("gave up after {attempt} attempts: {reason}"),
                )
                .await
            }
            SendOutcome::Retry { reason, after } => {
                let wait = after
                    .unwrap_or_default()
                    .max(self.retry.backoff(attempt))
                    .min(self.config.retry_max);
                let next = now_ms() + millis(wait);
                self.outbox
                    .reschedule(&claimed, next, &reason)
                    .await
                    .map(|()| {
                        self.metrics.retried.inc();
                        tracing::warn!(order_id, attempt, retry_in_ms = millis(wait), %reason, "SMS not sent; will retry");
                    })
            }
        };
        match recorded {
            Ok(()) => Ok(true),
            // Our lease ran out mid-send and another dispatcher took the record over: it
            // owns the outcome now.
            Err(StoreError::LostClaim) => {
                tracing::warn!(
                    order_id,
                    "SMS claim lost to another dispatcher after its lease ran out"
                );
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    async fn fail(&self, claimed: &OutboxRecord, reason: String) -> Result<(), StoreError> {
        let attempt = claimed.attempts;
        let order_id = claimed.order_id.as_str();
        self.outbox
            .complete(
                claimed,
                &Delivery::Failed {
                    reason: reason.clone(),
                },
            )
            .await
            .map(|()| {
                self.metrics.failed.inc();
                tracing::warn!(order_id, attempt, %reason, "SMS failed");
            })
    }
}
