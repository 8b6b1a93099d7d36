//! The integrations. A plain REST integration is a definition file
//! (`services/integration-service/definitions/*.yaml`, see `crate::definitions`); one that
//! needs logic is a module implementing `capability::Integration` plus one line in
//! [`registry`] (the provider sync).
pub mod providers;

use std::sync::Arc;

use crate::capability::Registry;
use crate::definitions::compiled::Compiled;
use crate::store::ProviderStore;
use providers::sync::SyncJob;

/// What integrations may depend on.
pub struct Dependencies {
    pub providers: Arc<dyn ProviderStore>,
    pub sync: SyncJob,
    /// What declared lists seal callers' cursors with.
    pub cursor_keys: common::paging::CursorKeys,
}

/// The declared integrations (in their files' order), the common directory when some
/// are directories, then the Rust ones.
pub fn registry(definitions: &[Arc<Compiled>], deps: &Dependencies) -> anyhow::Result<Registry> {
    let mut registry = Registry::default();
    for definition in definitions {
        let integration =
            crate::definitions::integration(definition.clone(), deps.cursor_keys.clone());
        registry = registry.register(integration).map_err(anyhow::Error::msg)?;
    }
    if let Some(directory) =
        crate::definitions::directory::integration(definitions, deps.cursor_keys.clone())
    {
        registry = registry.register(directory).map_err(anyhow::Error::msg)?;
    }
    Ok(registry.with(providers::Providers::new(
        deps.providers.clone(),
        deps.sync.clone(),
    )))
}
