//! A secret a setting names: given in the environment (development), or a Secrets Manager
//! secret read when needed and cached, so a rotated value is picked up without a restart.
use std::sync::Arc;

use common::config::Env;
use common::secrets::{Secret, SecretError, SecretStore};

/// Where a secret setting comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// A Secrets Manager secret id (production): read when needed, cached, re-read when a
    /// peer rejects it, so a rotated value is picked up without a restart.
    SecretId(String),
    /// Straight from the environment (development).
    Plain(Secret),
}

impl SecretSource {
    /// The secret named by `{name}_SECRET_ID` (production) or given in `{name}`
    /// (development): at most one of them; `None` when neither is set.
    pub(crate) fn read(env: &mut Env, name: &str) -> Option<Self> {
        match (
            env.optional::<String>(&format!("{name}_SECRET_ID")),
            env.optional::<String>(name),
        ) {
            (Some(secret_id), None) => Some(Self::SecretId(secret_id)),
            (None, Some(value)) => Some(Self::Plain(Secret::new(value))),
            (None, None) => None,
            (Some(_), Some(_)) => {
                env.invalid(format!("set one of {name}_SECRET_ID and {name}, not both"));
                None
            }
        }
    }
}

pub enum SecretValue {
    Fixed(Secret),
    Stored {
        store: Arc<dyn SecretStore>,
        name: String,
    },
}

impl SecretValue {
    /// The value for `source`, read through `store` when it names a stored secret.
    pub fn new(source: &SecretSource, store: &Arc<dyn SecretStore>) -> Self {
        match source {
            SecretSource::Plain(secret) => Self::Fixed(secret.clone()),
            SecretSource::SecretId(name) => Self::Stored {
                store: store.clone(),
                name: name.clone(),
            },
        }
    }

    /// The current value (cached).
    pub async fn get(&self) -> Result<Secret, SecretError> {
        match self {
            Self::Fixed(secret) => Ok(secret.clone()),
            Self::Stored { store, name } => store.get(name).await,
        }
    }

    /// Reads the value again next time (a peer rejected it: it may have been rotated).
    pub async fn forget(&self) {
        if let Self::Stored { store, name } = self {
            store.invalidate(name).await;
        }
    }
}
