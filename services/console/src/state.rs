//! What the pages share: the session store, a client per service, the OIDC client.
use std::net::IpAddr;
use std::sync::Arc;

use common::client_address::ClientAddresses;

use crate::config::Config;
use crate::oidc::OidcClient;
use crate::readiness::ReadinessWatch;
use crate::session::SessionStore;
use crate::upstream::{Service, Upstream};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub sessions: SessionStore,
    pub users: Upstream,
    pub sales: Upstream,
    pub integrations: Upstream,
    /// `None` when no issuer is configured: no operator sign-in, no forwarded addresses.
    pub oidc: Option<Arc<OidcClient>>,
    /// The services' readiness, watched in the background for the overview.
    pub readiness: Arc<ReadinessWatch>,
    /// Who the person is, behind the ALB (`TRUSTED_PROXY_CIDRS`).
    pub client_addresses: ClientAddresses,
}

impl AppState {
    /// The token audience of `service`.
    pub fn audience(&self, service: Service) -> &str {
        let Some(operators) = &self.config.operators else {
            return "";
        };
        match service {
            Service::Users => &operators.audiences.users,
            Service::Sales => &operators.audiences.sales,
            Service::Integrations => &operators.audiences.integrations,
        }
    }

    pub fn upstream(&self, service: Service) -> &Upstream {
        match service {
            Service::Users => &self.users,
            Service::Sales => &self.sales,
            Service::Integrations => &self.integrations,
        }
    }

    /// The person's address and the console's forwarder token for `service` (contract 5),
    /// or nothing when the console has no token to vouch for it with: the service then
    /// counts the console's own address, which is safe, only coarser.
    pub async fn forwarded(&self, address: IpAddr, service: Service) -> Option<(IpAddr, String)> {
        let oidc = self.oidc.as_ref()?;
        match oidc.forwarder_token(self.audience(service)).await {
            Ok(token) => Some((address, token)),
            Err(error) => {
                tracing::warn!(%error, "no forwarder token: the person's address is not forwarded");
                None
            }
        }
    }
}
