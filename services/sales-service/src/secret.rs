//! A secret a setting names: given in the environment (development), or a Secrets Manager
//! secret read when needed and cached, so a rotated value is picked up without a restart.
use std::sync::Arc;

use common::secrets::{Secret, SecretError, SecretStore};

use crate::config::SecretSource;

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
