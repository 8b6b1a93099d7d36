//! What the SMS pipeline counts: sends and their outcomes, the outbox backlog, and the
//! provider account's balance running out (an alert: only a person can top it up).
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts};

use common::metrics::Metrics;

#[derive(Clone)]
pub struct SmsMetrics {
    pub(super) sent: IntCounter,
    pub(super) failed: IntCounter,
    pub(super) retried: IntCounter,
    pub(super) released: IntCounter,
    pub(super) ambiguous_resends: IntCounter,
    pub(super) limited: IntCounter,
    caller_limited: IntCounter,
    delivery_reports: IntCounterVec,
    pub(super) backlog: IntGauge,
    pub(super) send_seconds: Histogram,
    /// `sms_provider_insufficient_balance_total`: sends refused until the account is
    /// topped up.
    pub(super) insufficient_balance: IntCounter,
}

impl SmsMetrics {
    /// Counts an order whose SMS its caller's hourly limit refused.
    pub fn caller_limited(&self) {
        self.caller_limited.inc();
    }

    /// Counts a delivery report by what it did.
    pub fn delivery_report(&self, result: ReportResult) {
        self.delivery_reports
            .with_label_values(&[result.label()])
            .inc();
    }

    pub fn register(metrics: &Metrics) -> Self {
        let counter = |name: &str, help: &str| {
            metrics.register(IntCounter::new(name, help).expect("valid metric"))
        };
        let registered = Self {
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
            caller_limited: counter(
                "sms_caller_limited_total",
                "SMS failed unsent when the order was made: its caller had had its SMS for the hour",
            ),
            delivery_reports: metrics.register(
                IntCounterVec::new(
                    Opts::new(
                        "sms_delivery_reports_total",
                        "Delivery reports received, by what they did: delivered, failed, on_its_way (an interim status), unknown (no SMS of ours), replayed (final already)",
                    ),
                    &["result"],
                )
                .expect("valid metric"),
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
            insufficient_balance: counter(
                "sms_provider_insufficient_balance_total",
                "SMS sends refused because the provider account's balance is used up",
            ),
        };
        // Every result shows from the start, at 0: a rate over it is defined at once.
        for result in ReportResult::ALL {
            registered
                .delivery_reports
                .with_label_values(&[result.label()]);
        }
        registered
    }
}

/// What a delivery report did: the closed set of `sms_delivery_reports_total`'s labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportResult {
    Delivered,
    Failed,
    OnItsWay,
    Unknown,
    Replayed,
}

impl ReportResult {
    const ALL: [Self; 5] = [
        Self::Delivered,
        Self::Failed,
        Self::OnItsWay,
        Self::Unknown,
        Self::Replayed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::OnItsWay => "on_its_way",
            Self::Unknown => "unknown",
            Self::Replayed => "replayed",
        }
    }
}
