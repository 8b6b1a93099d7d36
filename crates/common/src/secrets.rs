//! Secrets: one interface, AWS Secrets Manager in production and the environment for
//! local runs. Values are wrapped so they cannot reach a log by accident.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::cache::TtlCache;

/// Secrets cached at most (one per tenant integration); beyond it, new ones are read
/// from Secrets Manager each time until old entries end.
const SECRETS_KEPT: usize = 1024;

/// A secret value. `Debug` and `Display` print a placeholder; only [`Secret::expose`]
/// gives the value, which makes every use easy to find in review.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(Arc::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{0}` does not exist")]
    NotFound(String),
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The current value of a secret (possibly cached).
    async fn get(&self, name: &str) -> Result<Secret, SecretError>;
    /// Forgets a cached value, e.g. after a peer rejected it, so a rotated secret is
    /// picked up at once instead of at the end of the cache TTL.
    async fn invalidate(&self, name: &str);
}

/// AWS Secrets Manager with a TTL cache: a rotated secret is seen within the TTL (or at
/// once after `invalidate`) without restarting.
pub struct AwsSecretStore {
    client: aws_sdk_secretsmanager::Client,
    cache: TtlCache<String, Secret>,
}

impl AwsSecretStore {
    pub fn new(client: aws_sdk_secretsmanager::Client, ttl: Duration) -> Self {
        Self {
            client,
            cache: TtlCache::new(SECRETS_KEPT, ttl),
        }
    }
}

#[async_trait]
impl SecretStore for AwsSecretStore {
    async fn get(&self, name: &str) -> Result<Secret, SecretError> {
        if let Some(secret) = self.cache.get(name) {
            return Ok(secret);
        }
        let output = self
            .client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .map_err(|error| {
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception())
                {
                    SecretError::NotFound(name.to_owned())
                } else {
                    SecretError::Unavailable(
                        aws_sdk_secretsmanager::error::DisplayErrorContext(&error).to_string(),
                    )
                }
            })?;
        let value = output
            .secret_string()
            .ok_or_else(|| SecretError::NotFound(format!("{name} (no string value)")))?;
        let secret = Secret::new(value);
        self.cache.insert(name.to_owned(), secret.clone());
        Ok(secret)
    }

    async fn invalidate(&self, name: &str) {
        self.cache.remove(name);
    }
}

/// Secrets from environment variables, for local runs: the name `integrations/acme/okta`
/// is read from `SECRET_INTEGRATIONS_ACME_OKTA`. Read at every call, so changing the
/// variable needs no cache handling.
#[derive(Debug, Default, Clone)]
pub struct EnvSecretStore;

impl EnvSecretStore {
    pub fn variable_for(name: &str) -> String {
        let mut variable = String::from("SECRET_");
        variable.extend(name.chars().map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        }));
        variable
    }
}

#[async_trait]
impl SecretStore for EnvSecretStore {
    async fn get(&self, name: &str) -> Result<Secret, SecretError> {
        std::env::var(Self::variable_for(name))
            .map(Secret::new)
            .map_err(|_| SecretError::NotFound(name.to_owned()))
    }

    async fn invalidate(&self, _name: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "Secret(***) ***");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[tokio::test]
    async fn env_store_maps_names_to_variables() {
        assert_eq!(
            EnvSecretStore::variable_for("integrations/acme-co/okta"),
            "SECRET_INTEGRATIONS_ACME_CO_OKTA"
        );
        std::env::set_var("SECRET_COMMON_TEST_TOKEN", "abc");
        let store = EnvSecretStore;
        assert_eq!(
            store.get("common/test.token").await.unwrap().expose(),
            "abc"
        );
        assert!(matches!(
            store.get("common/absent").await,
            Err(SecretError::NotFound(_))
        ));
    }
}
