//! The integrations. Adding one: a module implementing `capability::Integration`, and one
//! line in [`registry`].
pub mod okta;
pub mod providers;

use std::sync::Arc;

use crate::capability::Registry;
use crate::config::Config;
use crate::store::ProviderStore;
use providers::sync::SyncJob;

/// What integrations may depend on.
pub struct Dependencies {
    pub providers: Arc<dyn ProviderStore>,
    pub sync: SyncJob,
}

pub fn registry(config: &Config, deps: &Dependencies) -> Registry {
    Registry::default()
        .with(okta::Okta::new(config.okta_list_all_max_users))
        .with(providers::Providers::new(
            deps.providers.clone(),
            deps.sync.clone(),
        ))
}
