use std::sync::Arc;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHashString, SaltString};
use argon2::{Algorithm, Argon2, Params, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::config::HashCost;
use crate::domain::Password;

/// Argon2id hashing on the blocking thread pool (it takes tens of milliseconds of CPU and
/// must not stall the async runtime), with at most one hash per core in flight so a login
/// flood queues instead of exhausting memory.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Verified against when the user does not exist, so a login for an unknown user costs
    /// the same time as one for a known user (no username enumeration by timing).
    dummy_hash: Arc<PasswordHashString>,
}

impl PasswordHasher {
    pub fn new(cost: HashCost) -> anyhow::Result<Self> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid password hash cost: {e}"))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let dummy_hash = hash_with(&params, "dummy password for unknown users")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        let params = self.params.clone();
        let password = password.expose().to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_with(&params, &password)).await??;
        Ok(hash.to_string())
    }

    /// True when `password` matches `stored`; with no stored hash it still spends the
    /// same effort and returns false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<bool> {
        let _permit = self.permits.acquire().await?;
        let password = password.to_owned();
        let stored = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        tokio::task::spawn_blocking(move || {
            let (hash, real) = stored;
            let parsed = PasswordHash::new(&hash)
                .map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
            // The parameters come from the stored hash, so older costs keep verifying.
            let ok = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            Ok(ok && real)
        })
        .await?
    }
}

fn hash_with(params: &Params, password: &str) -> anyhow::Result<PasswordHashString> {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2::PasswordHasher::hash_password(&argon2, password.as_bytes(), &salt)
        .map(|hash| hash.serialize())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(first.starts_with("$argon2id$v=19$"));
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
}
