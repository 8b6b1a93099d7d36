use std::sync::Arc;

use crate::tenants::AuthKind;

use super::Capability;

/// An integration: one module implementing this, plus one line in
/// `integrations::registry`.
pub trait Integration: Send + Sync + 'static {
    /// The first path segment of its capabilities, e.g. `okta`.
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// The auth methods a tenant may configure for it.
    fn auth_methods(&self) -> &'static [AuthKind];
    /// Its capabilities; handlers keep an `Arc` of the integration for its dependencies.
    fn capabilities(self: Arc<Self>) -> Vec<Capability>;
}

/// An integration as registered: its description and capabilities, in declaration order.
pub struct Registered {
    pub name: &'static str,
    pub description: &'static str,
    pub auth_methods: &'static [AuthKind],
    pub capabilities: Vec<Capability>,
}

impl Registered {
    pub fn capability(&self, name: &str) -> Option<&Capability> {
        self.capabilities.iter().find(|c| c.name == name)
    }
}

/// Names that would shadow the service's own routes.
const RESERVED: &[&str] = &["capabilities", "integrations", "swagger", "openapi.json"];

#[derive(Default)]
pub struct Registry {
    integrations: Vec<Registered>,
}

impl Registry {
    /// Adds an integration. Duplicate or reserved names are programming errors, caught by
    /// the first test that builds the app.
    pub fn with<I: Integration>(mut self, integration: Arc<I>) -> Self {
        let name = integration.name();
        assert!(
            !RESERVED.contains(&name) && self.get(name).is_none(),
            "integration name `{name}` is reserved or taken"
        );
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "integration name `{name}` must be a lowercase path segment"
        );
        let registered = Registered {
            name,
            description: integration.description(),
            auth_methods: integration.auth_methods(),
            capabilities: integration.capabilities(),
        };
        for (index, capability) in registered.capabilities.iter().enumerate() {
            assert!(
                registered.capabilities[..index]
                    .iter()
                    .all(|other| other.name != capability.name),
                "capability `{name}/{}` declared twice",
                capability.name
            );
        }
        self.integrations.push(registered);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Registered> {
        self.integrations.iter().find(|i| i.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Registered> {
        self.integrations.iter()
    }
}
