//! The outbox in memory, for the dispatcher's unit tests: the DynamoDB outbox's conditions
//! over a map, with every call's latency set by the test (run on tokio's paused clock) and
//! calls that can be refused once, as a busy store refuses them.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::aws::StorageError;

use super::{Outbox, OutboxError};
use crate::domain::{send_window, Backlog, Delivery, OutboxRecord};

/// Which outbox call is being made, to slow some and not others.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Call {
    Due,
    Claim,
    Extend,
    Release,
    Complete,
    Reschedule,
    CountSend,
}

type Latency = Box<dyn Fn(Call) -> Duration + Send + Sync>;

/// The DynamoDB outbox's conditions over a map. A call takes its latency in two
/// halves: the request travels (then the write happens at once), the answer travels.
pub struct MemoryOutbox {
    records: Mutex<HashMap<String, OutboxRecord>>,
    outcomes: Mutex<HashMap<String, Delivery>>,
    latency: Mutex<Latency>,
    /// Calls to refuse once each, as a busy store does (a transaction conflict).
    busy: Mutex<Vec<Call>>,
    /// The per-number hourly windows: order ids by window key.
    sends: Mutex<HashMap<String, HashSet<String>>>,
}

impl MemoryOutbox {
    pub fn with(records: impl IntoIterator<Item = OutboxRecord>) -> Arc<Self> {
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

    pub fn slow(&self, latency: impl Fn(Call) -> Duration + Send + Sync + 'static) {
        *self.latency.lock().unwrap() = Box::new(latency);
    }

    async fn call<T>(
        &self,
        call: Call,
        apply: impl FnOnce(&mut HashMap<String, OutboxRecord>) -> Result<T, OutboxError>,
    ) -> Result<T, OutboxError> {
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

    pub fn record(&self, order_id: &str) -> Option<OutboxRecord> {
        self.records.lock().unwrap().get(order_id).cloned()
    }

    pub fn is_empty(&self) -> bool {
        self.records.lock().unwrap().is_empty()
    }

    /// The next calls of each kind in `calls` are refused once each, as a busy store does.
    pub fn refuse_once(&self, calls: &[Call]) {
        self.busy.lock().unwrap().extend_from_slice(calls);
    }

    /// Refusals set by [`refuse_once`](Self::refuse_once) that no call has met yet.
    pub fn refusals_pending(&self) -> usize {
        self.busy.lock().unwrap().len()
    }

    /// The outcome recorded for `order_id`, once its record was completed.
    pub fn outcome(&self, order_id: &str) -> Option<Delivery> {
        self.outcomes.lock().unwrap().get(order_id).cloned()
    }
}

fn held<'a>(
    records: &'a mut HashMap<String, OutboxRecord>,
    claimed: &OutboxRecord,
) -> Result<&'a mut OutboxRecord, OutboxError> {
    records
        .get_mut(&claimed.order_id)
        .filter(|record| record.claim_id.is_some() && record.claim_id == claimed.claim_id)
        .ok_or(OutboxError::LostClaim)
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn due(&self, now_ms: i64, limit: usize) -> Result<Vec<String>, OutboxError> {
        self.call(Call::Due, |records| {
            let mut due: Vec<_> = records
                .values()
                .filter(|r| r.next_attempt_at <= now_ms)
                .map(|r| (r.next_attempt_at, r.order_id.clone()))
                .collect();
            due.sort();
            Ok(due.into_iter().take(limit).map(|(_, id)| id).collect())
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
    ) -> Result<Option<OutboxRecord>, OutboxError> {
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
            record.next_attempt_at = lease_until_ms;
            record.attempts += 1;
            Ok(Some(record.clone()))
        })
        .await
    }

    async fn extend(&self, claimed: &OutboxRecord, lease_until_ms: i64) -> Result<(), OutboxError> {
        self.call(Call::Extend, |records| {
            let record = held(records, claimed)?;
            record.lease_until = Some(lease_until_ms);
            record.next_attempt_at = lease_until_ms;
            Ok(())
        })
        .await
    }

    async fn release(&self, claimed: &OutboxRecord, now_ms: i64) -> Result<(), OutboxError> {
        self.call(Call::Release, |records| {
            let record = held(records, claimed)?;
            record.next_attempt_at = now_ms;
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
    ) -> Result<(), OutboxError> {
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
    ) -> Result<(), OutboxError> {
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

    async fn backlog(&self, count_up_to: u64) -> Result<Backlog, OutboxError> {
        let records = self.records.lock().unwrap();
        let queued = records.len() as u64;
        Ok(Backlog {
            queued: queued.min(count_up_to),
            more: queued > count_up_to,
            oldest_due_ms: records.values().map(|r| r.next_attempt_at).min(),
        })
    }

    async fn count_send(
        &self,
        to: &str,
        order_id: &str,
        now_ms: i64,
        max: u32,
    ) -> Result<bool, OutboxError> {
        let (window, _) = send_window(to, now_ms);
        self.call(Call::CountSend, |_| {
            let mut sends = self.sends.lock().unwrap();
            let orders = sends.entry(window).or_default();
            if orders.contains(order_id) || orders.len() < max as usize {
                orders.insert(order_id.to_owned());
                Ok(true)
            } else {
                Ok(false)
            }
        })
        .await
    }
}
