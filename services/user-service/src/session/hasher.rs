use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use argon2::password_hash::{
    rand_core::OsRng, Output, ParamsString, PasswordHash, Salt, SaltString,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::config::HashCost;
use crate::domain::Password;

/// Hashes in flight at most, whatever the core count: each holds `memory_kib` of working
/// memory (4 x 19 MiB at the default cost), and pods have a 128 MiB memory limit.
const MAX_PARALLEL_HASHES: usize = 4;
/// Hashes one lane may have in flight or waiting; past it the caller gets a 503 at once
/// instead of queueing without bound (at ~60 ms a hash, 16 is about a second of waiting).
const QUEUE_PER_LANE: usize = 16;

/// Who asks for a hash. Sign-ups (anonymous, and cheap to send in bulk) may hold at most
/// half the hashing capacity, so a flood of them never starves logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Login,
    SignUp,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("too many passwords are being checked; retry shortly")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Argon2id hashing on the blocking thread pool (each hash is tens of milliseconds of CPU
/// and must not stall the async runtime), at most one hash per core in flight (and at most
/// [`MAX_PARALLEL_HASHES`]), so a login flood queues instead of exhausting CPU and memory.
///
/// Each hash in flight works in a buffer of its own that is reused while hashes keep
/// coming: a fresh allocation per hash cost a third of the hash's time (zeroing and
/// faulting in the pages), and the allocator kept the freed buffers in its per-thread
/// arenas, so RSS grew by the memory cost per blocking thread (600 MiB after 31 sign-ups).
/// Buffers unused for [`IDLE_RELEASE`] are freed, so an idle service does not hold a
/// buffer per core (19 MiB each) between bursts.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Taken by sign-ups before `permits`: half of them, at least one.
    sign_up_permits: Arc<Semaphore>,
    /// Hashes in flight or waiting, per lane (login, sign-up).
    queued: Arc<[AtomicUsize; 2]>,
    buffers: Arc<Buffers>,
}

/// A place in a lane's queue, given back when dropped.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How long the hasher's working memory outlives the last hash.
const IDLE_RELEASE: Duration = Duration::from_secs(1);

/// The working memory of the hashes in flight: never more buffers than permits.
#[derive(Default)]
struct Buffers {
    pool: Mutex<Vec<Vec<Block>>>,
    /// Buffers given back so far: the pool is idle while this does not move.
    returned: AtomicUsize,
    #[cfg(test)]
    created: AtomicUsize,
}

impl Buffers {
    fn take(&self) -> Vec<Block> {
        let reused = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        #[cfg(test)]
        if reused.is_none() {
            self.created.fetch_add(1, Ordering::SeqCst);
        }
        reused.unwrap_or_default()
    }

    /// Keeps `buffer` for the next hash, and frees the pool once no buffer has come back
    /// for [`IDLE_RELEASE`].
    fn give_back(self: &Arc<Self>, buffer: Vec<Block>, runtime: &tokio::runtime::Handle) {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(buffer);
        let returned = self.returned.fetch_add(1, Ordering::SeqCst) + 1;
        let buffers = self.clone();
        runtime.spawn(async move {
            tokio::time::sleep(IDLE_RELEASE).await;
            if buffers.returned.load(Ordering::SeqCst) == returned {
                buffers
                    .pool
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clear();
                give_free_memory_back();
            }
        });
    }
}

/// glibc keeps freed 19 MiB buffers in its arenas (its mmap threshold rises past their
/// size after the first one is freed), so RSS would stay at its peak; `malloc_trim` hands
/// the free pages of every arena back to the kernel.
fn give_free_memory_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointers and is thread-safe; it only releases memory
    // the allocator holds as free.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl PasswordHasher {
    pub fn new(cost: HashCost) -> anyhow::Result<Self> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid password hash cost: {e}"))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self::with_parallelism(
            params,
            cores.min(MAX_PARALLEL_HASHES),
        ))
    }

    fn with_parallelism(params: Params, parallel: usize) -> Self {
        Self {
            params,
            permits: Arc::new(Semaphore::new(parallel)),
            sign_up_permits: Arc::new(Semaphore::new((parallel / 2).max(1))),
            queued: Arc::default(),
            buffers: Arc::default(),
        }
    }

    /// Runs `work` for `lane` on the blocking pool with its permits and a working buffer,
    /// all held until it has finished, even if the caller stops waiting; `Busy` at once
    /// when the lane's queue is full.
    async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        work: impl FnOnce(&mut Vec<Block>) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let count = &self.queued[lane as usize];
        let _queued = Queued(count);
        if count.fetch_add(1, Ordering::SeqCst) >= QUEUE_PER_LANE {
            return Err(HashError::Busy);
        }
        let lane_permit = match lane {
            Lane::SignUp => Some(
                self.sign_up_permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(anyhow::Error::from)?,
            ),
            Lane::Login => None,
        };
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(anyhow::Error::from)?;
        let buffers = self.buffers.clone();
        let runtime = tokio::runtime::Handle::current();
        let result = tokio::task::spawn_blocking(move || {
            let mut buffer = buffers.take();
            let result = work(&mut buffer);
            buffers.give_back(buffer, &runtime);
            drop((permit, lane_permit));
            result
        })
        .await
        .map_err(anyhow::Error::from)?;
        Ok(result?)
    }

    /// A hash of a new password (sign-ups, the bootstrap admin).
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let params = self.params.clone();
        let password = password.expose().to_owned();
        self.run(Lane::SignUp, move |buffer| {
            hash_with(&params, &password, buffer)
        })
        .await
    }

    /// True when `password` matches `stored`; with no stored hash it still spends the
    /// same effort (a hash at the current cost) and returns false, so a login for an
    /// unknown user takes as long as one for a known user (no enumeration by timing).
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let password = password.to_owned();
        let Some(stored) = stored.map(str::to_owned) else {
            let params = self.params.clone();
            return self
                .run(Lane::Login, move |buffer| {
                    hash_with(&params, &password, buffer).map(|_| false)
                })
                .await;
        };
        self.run(Lane::Login, move |buffer| {
            verify_with(&password, &stored, buffer)
        })
        .await
    }
}

/// The first `params.block_count()` blocks of `buffer`, grown if needed (a stored hash
/// may have been made at a higher cost than today's).
fn blocks<'a>(buffer: &'a mut Vec<Block>, params: &Params) -> &'a mut [Block] {
    let needed = params.block_count();
    if buffer.len() < needed {
        buffer.resize(needed, Block::default());
    }
    &mut buffer[..needed]
}

/// Argon2 with `params` over `password` and `salt` into an output of `length` bytes.
fn compute(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: Salt<'_>,
    length: usize,
    buffer: &mut Vec<Block>,
) -> anyhow::Result<Output> {
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("salt unreadable: {e}"))?;
    Output::init_with(length, |out| {
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, out, blocks(buffer, params))
            .map_err(Into::into)
    })
    .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

/// A PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`) for `password`, fresh salt.
fn hash_with(params: &Params, password: &str, buffer: &mut Vec<Block>) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = compute(&argon2, params, password, salt.as_salt(), length, buffer)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)
            .map_err(|e| anyhow::anyhow!("hash parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored`, with the algorithm, version and
/// cost recorded in it (so hashes made at an older cost keep verifying).
fn verify_with(password: &str, stored: &str, buffer: &mut Vec<Block>) -> anyhow::Result<bool> {
    let unreadable =
        |e: argon2::password_hash::Error| anyhow::anyhow!("stored hash unreadable: {e}");
    let parsed = PasswordHash::new(stored).map_err(unreadable)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(unreadable)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(unreadable)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        anyhow::bail!("stored hash unreadable: no salt or no hash");
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let computed = compute(&argon2, &params, password, salt, expected.len(), buffer)?;
    // `Output` compares in constant time.
    Ok(computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(HashCost {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify() {
        let hasher = cheap();
        let password = Password::parse("correct horse battery".into()).unwrap();
        let first = hasher.hash(&password).await.unwrap();
        let second = hasher.hash(&password).await.unwrap();
        assert!(first.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_ne!(first, second, "a fresh salt every time");
        assert!(hasher
            .verify("correct horse battery", Some(&first))
            .await
            .unwrap());
        assert!(!hasher
            .verify("wrong horse battery", Some(&first))
            .await
            .unwrap());
        assert!(!hasher.verify("correct horse battery", None).await.unwrap());
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_both_ways() {
        let hasher = cheap();
        let password = Password::parse("correct horse battery".into()).unwrap();
        // What the argon2 crate itself verifies...
        let ours = hasher.hash(&password).await.unwrap();
        Argon2::default()
            .verify_password(b"correct horse battery", &PasswordHash::new(&ours).unwrap())
            .expect("the argon2 crate verifies our hashes");
        // ...and hashes it made, at another cost, verify here (older stored hashes).
        let params = Params::new(2048, 2, 2, None).unwrap();
        let theirs = argon2::PasswordHasher::hash_password(
            &Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            b"correct horse battery",
            &SaltString::generate(&mut OsRng),
        )
        .unwrap()
        .to_string();
        assert!(hasher
            .verify("correct horse battery", Some(&theirs))
            .await
            .unwrap());
        assert!(!hasher.verify("wrong", Some(&theirs)).await.unwrap());
        assert!(hasher.verify("x", Some("not a hash")).await.is_err());
    }

    #[tokio::test]
    async fn working_memory_is_reused_in_a_burst_and_freed_after_it() {
        let hasher = cheap();
        let password = Password::parse("correct horse battery".into()).unwrap();
        let hashes = (0..8).map(|_| hasher.hash(&password));
        futures::future::try_join_all(hashes).await.unwrap();
        let created = hasher.buffers.created.load(Ordering::SeqCst);
        assert!(
            (1..=hasher.permits.available_permits()).contains(&created),
            "8 hashes made {created} buffers: one per hash in flight, reused"
        );
        assert!(!hasher.buffers.pool.lock().unwrap().is_empty());
        let deadline = std::time::Instant::now() + IDLE_RELEASE * 30;
        while !hasher.buffers.pool.lock().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "an idle hasher frees its buffers"
            );
            tokio::time::sleep(IDLE_RELEASE / 10).await;
        }
    }

    fn password() -> Password {
        Password::parse("correct horse battery".into()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sign_up_flood_takes_half_the_hashers_and_a_bounded_queue() {
        // Two hashers: sign-ups get one, logins the other.
        let params = Params::new(8192, 2, 1, None).unwrap();
        let hasher = PasswordHasher::with_parallelism(params, 2);
        let stored = hasher.hash(&password()).await.unwrap();
        // A flood at its worst: sign-ups whose hashes hold their lane until released, so
        // the outcome depends on the lanes alone, never on how a busy machine schedules.
        let (release, _) = tokio::sync::broadcast::channel::<()>(1);
        let flood: Vec<_> = (0..40)
            .map(|_| {
                let (hasher, mut held) = (hasher.clone(), release.subscribe());
                tokio::spawn(async move {
                    hasher
                        .run(Lane::SignUp, move |_| {
                            let _ = held.blocking_recv();
                            Ok(())
                        })
                        .await
                })
            })
            .collect();
        let queued = || hasher.queued[Lane::SignUp as usize].load(Ordering::SeqCst);
        while queued() < QUEUE_PER_LANE {
            tokio::task::yield_now().await;
        }

        // Before sign-ups had a lane of their own, the login waited for all 16 queued.
        let login = tokio::time::timeout(
            Duration::from_secs(30),
            hasher.verify("correct horse battery", Some(&stored)),
        )
        .await
        .expect("the login is hashed while every sign-up holds its lane");
        assert!(login.unwrap());
        assert!(queued() >= QUEUE_PER_LANE, "the sign-ups were still held");

        let _ = release.send(());
        let mut busy = 0;
        for sign_up in flood {
            match sign_up.await.unwrap() {
                Ok(()) => {}
                Err(HashError::Busy) => busy += 1,
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(busy, 40 - QUEUE_PER_LANE, "refused past the queue");
    }
}
