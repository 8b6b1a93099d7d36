use std::sync::Arc;

use crate::tenants::AuthKind;
use crate::upstream::{UpstreamProfile, UpstreamRequest};

use super::Capability;

/// An integration that needs logic (the provider sync): one module implementing this, and
/// one line in `integrations::registry`. Plain REST integrations are definition files
/// instead (`crate::definitions`).
pub trait Integration: Send + Sync + 'static {
    /// The first path segment of its capabilities, e.g. `providers`.
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// The auth methods a tenant may configure for it.
    fn auth_methods(&self) -> &'static [AuthKind];
    /// Its capabilities; handlers keep an `Arc` of the integration for its dependencies.
    fn capabilities(self: Arc<Self>) -> Vec<Capability>;
    /// The request "test connection" sends with a tenant's credentials.
    fn check(&self) -> Option<UpstreamRequest> {
        None
    }
    /// The names of its own tenant settings (beside `base_url`, `auth`, ...).
    fn settings(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Checks a tenant's own settings for an integration; Err says what is wrong.
pub type SettingsCheck =
    Arc<dyn Fn(&serde_json::Map<String, serde_json::Value>) -> Result<(), String> + Send + Sync>;

/// An integration as registered: its description and capabilities, in declaration order.
pub struct Registered {
    pub name: String,
    pub description: String,
    pub auth_methods: Vec<AuthKind>,
    pub capabilities: Vec<Capability>,
    /// How its tenants' upstreams are reached (token URL, rate-limit headers).
    pub profile: UpstreamProfile,
    /// Checks a tenant's own settings for it at start.
    pub check_settings: SettingsCheck,
    /// The request "test connection" sends (any 2xx: the credentials work).
    pub check: Option<UpstreamRequest>,
    /// Whether `/directory/*` can act on it (its definition maps `directory_user`).
    pub directory: bool,
}

impl Registered {
    pub fn capability(&self, name: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.name == name)
    }
}

/// Refuses a setting that is not one of `known`.
pub fn only_known(
    own: &serde_json::Map<String, serde_json::Value>,
    known: &[&str],
) -> Result<(), String> {
    match own.keys().find(|key| !known.contains(&key.as_str())) {
        None => Ok(()),
        Some(key) if known.is_empty() => Err(format!("`{key}` is not a setting it takes")),
        Some(key) => Err(format!(
            "`{key}` is not a setting it takes (it takes {})",
            known.join(", ")
        )),
    }
}

/// Names that would shadow the service's own routes.
const RESERVED: &[&str] = &[
    "capabilities",
    "integrations",
    "swagger",
    "openapi.json",
    "tenants",
];

#[derive(Default)]
pub struct Registry {
    integrations: Vec<Registered>,
}

impl Registry {
    /// Adds a Rust integration. Duplicate or reserved names are programming errors, caught
    /// by the first test that builds the app.
    pub fn with<I: Integration>(self, integration: Arc<I>) -> Self {
        let known = integration.settings();
        let registered = Registered {
            check_settings: Arc::new(move |own| only_known(own, known)),
            check: integration.check(),
            name: integration.name().to_owned(),
            description: integration.description().to_owned(),
            auth_methods: integration.auth_methods().to_vec(),
            capabilities: integration.capabilities(),
            profile: UpstreamProfile::default(),
            directory: false,
        };
        self.register(registered)
            .unwrap_or_else(|error| panic!("{error}"))
    }

    /// Adds an integration; refuses a name that is taken or reserved, or a capability
    /// declared twice.
    pub fn register(mut self, registered: Registered) -> Result<Self, String> {
        let name = &registered.name;
        if RESERVED.contains(&name.as_str()) || self.get(name).is_some() {
            return Err(format!("integration name `{name}` is reserved or taken"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(format!(
                "integration name `{name}` must be a lowercase path segment"
            ));
        }
        for (index, capability) in registered.capabilities.iter().enumerate() {
            if registered.capabilities[..index]
                .iter()
                .any(|other| other.name == capability.name)
            {
                return Err(format!(
                    "capability `{name}/{}` declared twice",
                    capability.name
                ));
            }
        }
        self.integrations.push(registered);
        Ok(self)
    }

    pub fn get(&self, name: &str) -> Option<&Registered> {
        self.integrations.iter().find(|i| i.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Registered> {
        self.integrations.iter()
    }
}
