//! Waiting for a condition instead of for a fixed time: a test that sleeps "long enough"
//! either wastes the time or fails on a busy machine; one that polls a condition does
//! neither. svix's `run_with_retries` is the same idea.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(50);

/// What one look of [`eventually`] found: done (with a value), or not yet (with what was
/// seen, for the failure message).
pub trait Outcome {
    type Value;
    fn settled(self) -> Result<Self::Value, String>;
}

impl Outcome for bool {
    type Value = ();
    fn settled(self) -> Result<(), String> {
        if self {
            Ok(())
        } else {
            Err("false".to_owned())
        }
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    fn settled(self) -> Result<T, String> {
        self.ok_or_else(|| "None".to_owned())
    }
}

/// `Err(seen)` is "not yet", and `seen` goes into the failure message.
impl<T, E: Debug> Outcome for Result<T, E> {
    type Value = T;
    fn settled(self) -> Result<T, String> {
        self.map_err(|seen| format!("{seen:?}"))
    }
}

/// Runs `look` every 50 ms until it reports done (`true`, `Some(value)` or `Ok(value)`)
/// and returns the value; panics after `within`, naming `what` and the last thing seen.
/// The clock is tokio's, so a test on a paused clock waits no real time.
///
/// ```ignore
/// let order = eventually(WAIT, "the SMS is sent", || async {
///     let order = app.order_now(id).await;
///     (order["sms"]["status"] == "sent").then_some(order)
/// })
/// .await;
/// ```
pub async fn eventually<O, F, Fut>(within: Duration, what: &str, mut look: F) -> O::Value
where
    O: Outcome,
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let seen = match look().await.settled() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {what} within {within:?}; last seen: {seen}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn returns_what_the_condition_found_once_it_holds() {
        let looks = AtomicU32::new(0);
        let found = eventually(Duration::from_secs(1), "the third look", || async {
            let look = looks.fetch_add(1, Ordering::SeqCst) + 1;
            if look == 3 {
                Ok(look)
            } else {
                Err(format!("look {look}"))
            }
        })
        .await;
        assert_eq!(found, 3);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "not the answer ready within 1s; last seen: \"still 503\"")]
    async fn gives_up_after_within_naming_what_and_the_last_thing_seen() {
        eventually(Duration::from_secs(1), "the answer ready", || async {
            Err::<(), _>("still 503")
        })
        .await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_bool_or_an_option_is_a_condition_too() {
        eventually(Duration::from_secs(1), "true", || async { true }).await;
        let value = eventually(Duration::from_secs(1), "a value", || async { Some(7) }).await;
        assert_eq!(value, 7);
    }
}
