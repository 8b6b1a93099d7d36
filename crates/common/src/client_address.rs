//! Who the client is: the address per-address limits count. It is the TCP peer unless
//! somebody the service trusts says otherwise, and only two kinds of caller are trusted:
//!
//! - **Proxies, by where they are** (`TRUSTED_PROXY_CIDRS`, the ALB's subnets): a request
//!   whose TCP peer is inside the list carries the client's address in `X-Forwarded-For`,
//!   appended by that proxy. Entries are read from the right while the address they lead
//!   from is a trusted proxy; the first one that is not is the client. Anything further
//!   left was written by the client and proves nothing. A peer outside the list is the
//!   client, whatever it wrote (security review F3: any pod in the VPC could name itself).
//! - **Forwarders, by who they are** (`TRUSTED_FORWARDER_CLIENTS`, e.g. the console): a
//!   request with `X-Forwarder-Authorization: Bearer <token>`, a token of the service's own
//!   issuer and audience whose client id is in the list, carries the person's address as
//!   the right-most `X-Forwarded-For` entry. Never because of where a packet came from.
//!   Each forwarded address is logged with its forwarder; a forwarder token that does not
//!   verify is logged and ignored (the peer counts).
//!
//! `TRUSTED_PROXY_HOPS` (deprecated) alone keeps its old meaning, the entry that many from
//! the right whoever the peer is, with a warning at start: set `TRUSTED_PROXY_CIDRS`.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::{request::Parts, HeaderMap};
pub use ipnet::IpNet;

use crate::auth::OidcVerifier;
use crate::config::Env;
use crate::Problem;

/// The header a forwarder authenticates itself with (its `Authorization` is the caller's).
pub const FORWARDER_AUTHORIZATION: &str = "x-forwarder-authorization";

/// Who may tell the service the client's address: `TRUSTED_PROXY_CIDRS`,
/// `TRUSTED_FORWARDER_CLIENTS` (both comma-separated, default empty) and the deprecated
/// `TRUSTED_PROXY_HOPS`.
#[derive(Debug, Clone, Default)]
pub struct ClientAddressSettings {
    /// Proxies whose `X-Forwarded-For` entries are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// OIDC client ids whose forwarded address is believed.
    pub forwarder_clients: BTreeSet<String>,
    /// The old hop count: used only when `trusted_proxies` is empty.
    pub legacy_hops: usize,
}

impl ClientAddressSettings {
    pub fn read(env: &mut Env) -> Self {
        let list = |env: &mut Env, name: &str| -> Vec<String> {
            env.optional::<String>(name)
                .map(|raw| {
                    raw.split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut trusted_proxies = Vec::new();
        for item in list(env, "TRUSTED_PROXY_CIDRS") {
            match parse_network(&item) {
                Some(network) => trusted_proxies.push(network),
                None => env.invalid(format!(
                    "TRUSTED_PROXY_CIDRS: `{item}` is not a CIDR (e.g. 10.40.0.0/24) or an address"
                )),
            }
        }
        Self {
            trusted_proxies,
            forwarder_clients: list(env, "TRUSTED_FORWARDER_CLIENTS").into_iter().collect(),
            legacy_hops: env.or("TRUSTED_PROXY_HOPS", 0),
        }
    }
}

/// `10.40.0.0/24`, or a single address as its own network.
fn parse_network(item: &str) -> Option<IpNet> {
    item.parse()
        .ok()
        .or_else(|| item.parse::<IpAddr>().ok().map(IpNet::from))
}

/// Resolves the client address of each request; one per service, in its state.
#[derive(Clone)]
pub struct ClientAddresses {
    settings: Arc<ClientAddressSettings>,
    verifier: Option<Arc<OidcVerifier>>,
}

impl std::fmt::Debug for ClientAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAddresses")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ClientAddresses {
    /// `verifier` checks forwarder tokens: the service's own (its issuer and audience).
    /// Trusted forwarders without one are a configuration error.
    pub fn new(
        settings: ClientAddressSettings,
        verifier: Option<Arc<OidcVerifier>>,
    ) -> anyhow::Result<Self> {
        if !settings.forwarder_clients.is_empty() && verifier.is_none() {
            anyhow::bail!(
                "TRUSTED_FORWARDER_CLIENTS needs OIDC_ISSUER_URL: forwarder tokens are verified \
                 against the service's issuer"
            );
        }
        if settings.trusted_proxies.is_empty() && settings.legacy_hops > 0 {
            tracing::warn!(
                hops = settings.legacy_hops,
                "TRUSTED_PROXY_HOPS without TRUSTED_PROXY_CIDRS believes X-Forwarded-For from \
                 any peer; set TRUSTED_PROXY_CIDRS to the proxies' subnets"
            );
        } else if settings.legacy_hops > 0 {
            tracing::warn!("TRUSTED_PROXY_HOPS is ignored: TRUSTED_PROXY_CIDRS decides");
        }
        Ok(Self {
            settings: Arc::new(settings),
            verifier,
        })
    }

    /// The client behind a request from `peer` with `headers`.
    pub async fn resolve(&self, headers: &HeaderMap, peer: IpAddr) -> IpAddr {
        if let Some(token) = forwarder_token(headers) {
            match self.forwarded(headers, token).await {
                Ok(client) => return client,
                Err(why) => {
                    tracing::warn!(%peer, why, "a forwarded client address was not believed");
                }
            }
        }
        let entries = forwarded_for(headers);
        if self.settings.trusted_proxies.is_empty() {
            return legacy_client_address(&entries, peer, self.settings.legacy_hops);
        }
        through_trusted_proxies(&entries, peer, &self.settings.trusted_proxies)
    }

    /// The address a verified, listed forwarder vouches for.
    async fn forwarded(&self, headers: &HeaderMap, token: &str) -> Result<IpAddr, &'static str> {
        let verifier = self.verifier.as_ref().ok_or("no trusted forwarders")?;
        let forwarder = verifier
            .verify(token)
            .await
            .map_err(|_| "the forwarder's token does not verify")?;
        let client_id = forwarder
            .client_id
            .filter(|id| self.settings.forwarder_clients.contains(id))
            .ok_or("the forwarder is not in TRUSTED_FORWARDER_CLIENTS")?;
        let client = forwarded_for(headers)
            .last()
            .and_then(|entry| entry.parse().ok())
            .ok_or("the forwarder sent no X-Forwarded-For address")?;
        tracing::info!(forwarder = %client_id, %client, "client address forwarded");
        Ok(client)
    }
}

fn forwarder_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(FORWARDER_AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// Every `X-Forwarded-For` entry, left to right, over every header line in order (a proxy
/// appends to what the client sent).
fn forwarded_for(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|line| line.to_str().ok())
        .flat_map(|line| line.split(','))
        .map(str::trim)
        .collect()
}

/// From the peer leftwards, as long as the address at hand is a trusted proxy, the entry
/// that proxy appended; an entry that is no address ends the walk.
fn through_trusted_proxies(entries: &[&str], peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|network| network.contains(address));
    let mut client = peer;
    for entry in entries.iter().rev() {
        if !is_trusted(&client) {
            break;
        }
        match entry.parse() {
            Ok(address) => client = address,
            Err(_) => break,
        }
    }
    client
}

/// The deprecated rule: the entry `hops` from the right, whoever the peer is; the peer
/// with fewer entries than hops.
fn legacy_client_address(entries: &[&str], peer: IpAddr, hops: usize) -> IpAddr {
    if hops == 0 {
        return peer;
    }
    entries
        .len()
        .checked_sub(hops)
        .and_then(|index| entries[index].parse().ok())
        .unwrap_or(peer)
}

/// The client's address (see the module), for any state that holds [`ClientAddresses`].
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl<S> FromRequestParts<S> for ClientAddress
where
    ClientAddresses: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| {
                tracing::error!("no peer address: the router is not served by common::server");
                Problem::internal()
            })?;
        let addresses = ClientAddresses::from_ref(state);
        Ok(Self(addresses.resolve(&parts.headers, peer.ip()).await))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", line.parse().unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter()
            .map(|item| parse_network(item).unwrap())
            .collect()
    }

    fn through(lines: &[&str], peer: &str, trusted: &[&str]) -> IpAddr {
        let headers = forwarded(lines);
        through_trusted_proxies(&forwarded_for(&headers), ip(peer), &nets(trusted))
    }

    #[test]
    fn a_peer_outside_the_trusted_proxies_is_the_client_whatever_it_wrote() {
        // A pod in the VPC, not the balancer: its own line names whoever it likes.
        let client = through(&["203.0.113.9"], "10.40.7.7", &["10.40.0.0/24"]);
        assert_eq!(client, ip("10.40.7.7"));
        assert_eq!(through(&[], "10.40.7.7", &[]), ip("10.40.7.7"));
    }

    #[test]
    fn the_balancer_s_entry_is_the_client_and_forged_ones_to_its_left_are_not() {
        let balancer = "10.40.0.12";
        let trusted = ["10.40.0.0/24", "10.40.1.0/24"];
        let client = through(&["1.2.3.4, 5.6.7.8", "203.0.113.9"], balancer, &trusted);
        assert_eq!(client, ip("203.0.113.9"));
        // Two trusted hops (a proxy in front of the balancer): read past both.
        let client = through(&["1.2.3.4, 203.0.113.9, 10.40.1.5"], balancer, &trusted);
        assert_eq!(client, ip("203.0.113.9"));
        // The balancer appended nothing usable: the balancer itself counts.
        assert_eq!(through(&["not-an-ip"], balancer, &trusted), ip(balancer));
        assert_eq!(through(&[], balancer, &trusted), ip(balancer));
        // IPv6 and single addresses in the list.
        let client = through(&["2001:db8::9"], "fd00::1", &["fd00::1"]);
        assert_eq!(client, ip("2001:db8::9"));
    }

    #[test]
    fn the_legacy_hop_count_reads_from_the_right() {
        let headers = forwarded(&["1.2.3.4, 5.6.7.8", "203.0.113.9"]);
        let entries = forwarded_for(&headers);
        let peer = ip("10.0.0.7");
        assert_eq!(legacy_client_address(&entries, peer, 1), ip("203.0.113.9"));
        assert_eq!(legacy_client_address(&entries, peer, 0), peer);
        assert_eq!(legacy_client_address(&entries, peer, 2), ip("5.6.7.8"));
        assert_eq!(legacy_client_address(&[], peer, 1), peer);
    }

    #[test]
    fn settings_name_what_is_not_a_network() {
        std::env::set_var("TRUSTED_PROXY_CIDRS", "10.40.0.0/24, 10.40.1.7 ,fd00::/8");
        std::env::set_var("TRUSTED_FORWARDER_CLIENTS", "console,,other");
        let mut env = Env::new();
        let settings = ClientAddressSettings::read(&mut env);
        env.finish().unwrap();
        assert_eq!(
            settings.trusted_proxies,
            nets(&["10.40.0.0/24", "10.40.1.7/32", "fd00::/8"])
        );
        assert_eq!(
            settings.forwarder_clients,
            BTreeSet::from(["console".to_owned(), "other".to_owned()])
        );

        std::env::set_var("TRUSTED_PROXY_CIDRS", "10.40.0.0/33,alb");
        let mut env = Env::new();
        ClientAddressSettings::read(&mut env);
        let errors = env.finish().unwrap_err().0;
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("`10.40.0.0/33`"), "{errors:?}");
        for name in ["TRUSTED_PROXY_CIDRS", "TRUSTED_FORWARDER_CLIENTS"] {
            std::env::remove_var(name);
        }
    }

    #[test]
    fn a_forwarder_token_is_a_bearer_token_of_its_own_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(forwarder_token(&headers), None);
        headers.insert(FORWARDER_AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(forwarder_token(&headers), Some("abc"));
        headers.insert(FORWARDER_AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(forwarder_token(&headers), None);
    }
}
