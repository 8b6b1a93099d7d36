use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use common::auth::OidcVerifier;

use crate::capability::Registry;
use crate::metrics::ServiceMetrics;
use crate::tenants::Tenants;
use crate::upstream::Upstreams;

/// What the handlers share. Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub registry: Arc<Registry>,
    pub tenants: Arc<Tenants>,
    /// The tenant of requests without `X-Tenant-Id` (`DEFAULT_TENANT`), if any.
    pub default_tenant: Option<String>,
    pub upstreams: Arc<Upstreams>,
    pub metrics: ServiceMetrics,
    /// Budget of one capability call's upstream work.
    pub call_deadline: Duration,
    pub verifier: Arc<OidcVerifier>,
}

impl FromRef<AppState> for Arc<OidcVerifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
