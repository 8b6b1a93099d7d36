//! Who is asking: the extractors that resolve the visitor ([`Visitor`]) and require a kind
//! of person ([`AccountHolder`], [`Operator`]), with the credentials to call a service on
//! their behalf; and ending a session. How pages render is `page.rs`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::response::Response;
use common::timestamp::Timestamp;

use crate::assets::{ASSETS, HTMX_CONFIG};
use crate::error::ConsoleError;
use crate::page::{see_other_with_cookie, Chrome, Notice, Who};
use crate::session::{self, AccountSession, OperatorSession, Session, SessionData};
use crate::state::AppState;
use crate::upstream::{Caller, Service, UpstreamError};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;

/// Ends the visitor's console session (its record and the cookie) and sends the browser to
/// `location`.
pub async fn end_session(
    state: &AppState,
    visitor: &Visitor,
    location: &str,
) -> Result<Response, ConsoleError> {
    if let Some(session) = &visitor.session {
        state.sessions.delete(&session.secret).await?;
    }
    Ok(see_other_with_cookie(location, session::clear_cookie()))
}

/// Anyone asking for a page: their session (if any), their address, the notice to show.
pub struct Visitor {
    pub session: Option<Session>,
    pub address: IpAddr,
    pub notice: Option<&'static str>,
    /// The path and query asked for (where to come back to after signing in).
    pub target: String,
}

impl Visitor {
    pub fn who(&self) -> Who {
        match self.session.as_ref().map(|s| &s.data) {
            Some(SessionData::Account(account)) => Who::Account {
                username: account.username.clone(),
            },
            Some(SessionData::Operator(operator)) => Who::Operator {
                name: operator.name.clone(),
            },
            _ => Who::Anonymous,
        }
    }

    pub fn chrome(&self, section: &'static str) -> Chrome {
        Chrome {
            who: self.who(),
            section,
            notice: self.notice,
            assets: &ASSETS,
            htmx_config: HTMX_CONFIG,
        }
    }

    /// The caller for a call made without anyone's token (sign-up, log-in): only the
    /// person's address, vouched for by the console's forwarder token.
    pub async fn anonymous_caller(&self, state: &AppState, service: Service) -> Caller {
        Caller {
            bearer: None,
            forwarded: state.forwarded(self.address, service).await,
        }
    }
}

async fn client_address(parts: &mut Parts, state: &AppState) -> IpAddr {
    let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
        .await
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
    state.client_addresses.resolve(&parts.headers, peer).await
}

fn notice(parts: &Parts) -> Option<&'static str> {
    let query = parts.uri.query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(name, _)| name == "done")
        .and_then(|(_, key)| Notice::text(&key))
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = match session::cookie_value(&parts.headers) {
            Some(cookie) => state.sessions.get(cookie).await?,
            None => None,
        };
        Ok(Self {
            session,
            address: client_address(parts, state).await,
            notice: notice(parts),
            target: parts
                .uri
                .path_and_query()
                .map_or("/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

/// An account holder signed in with user-service; anyone else is sent to log in.
pub struct AccountHolder {
    pub visitor: Visitor,
    pub account: AccountSession,
}

impl AccountHolder {
    /// The caller for user-service: the person's session token and address.
    pub async fn caller(&self, state: &AppState) -> Caller {
        Caller {
            bearer: Some(self.account.token.clone()),
            forwarded: state.forwarded(self.visitor.address, Service::Users).await,
        }
    }
}

impl FromRequestParts<AppState> for AccountHolder {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (visitor, account) = signed_in(parts, state, false, |data| match data {
            SessionData::Account(account) => Some(account.clone()),
            _ => None,
        })
        .await?;
        Ok(Self { visitor, account })
    }
}

/// The visitor and what `pick` takes from their session; without such a session, a
/// redirect to sign in (as an operator or an account holder) that comes back here.
async fn signed_in<T>(
    parts: &mut Parts,
    state: &AppState,
    operator: bool,
    pick: impl Fn(&SessionData) -> Option<T>,
) -> Result<(Visitor, T), ConsoleError> {
    let visitor = Visitor::from_request_parts(parts, state).await?;
    match visitor.session.as_ref().and_then(|s| pick(&s.data)) {
        Some(picked) => Ok((visitor, picked)),
        None => Err(ConsoleError::SignInRequired {
            operator,
            return_to: visitor.target,
        }),
    }
}

/// An operator signed in through the issuer; anyone else is sent to sign in.
pub struct Operator {
    pub visitor: Visitor,
    pub operator: OperatorSession,
}

impl Operator {
    /// One call to `service` as the operator (`build` adds headers or a body). The outer
    /// error: no call could be made (sign in again); the inner: the service's answer.
    pub async fn call<T: DeserializeOwned>(
        &mut self,
        state: &AppState,
        service: Service,
        method: Method,
        path: &str,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Result<Result<T, UpstreamError>, ConsoleError> {
        let caller = self.caller(state, service).await?;
        let upstream = state.upstream(service);
        let request = build(upstream.request(method, path, &caller));
        Ok(upstream.send::<T>(request).await.map(|answer| answer.body))
    }

    /// [`Operator::call`] for pages that only read: any failure is the page's.
    pub async fn fetch<T: DeserializeOwned>(
        &mut self,
        state: &AppState,
        service: Service,
        path: &str,
    ) -> Result<T, ConsoleError> {
        self.call(state, service, Method::GET, path, |request| request)
            .await?
            .map_err(|error| ConsoleError::from_call(error, true))
    }

    /// The caller for `service`: the operator's access token for its audience (refreshed
    /// first when it is about to expire) and their address.
    pub async fn caller(
        &mut self,
        state: &AppState,
        service: Service,
    ) -> Result<Caller, ConsoleError> {
        let Some(oidc) = &state.oidc else {
            return Err(ConsoleError::NoOperatorSignIn);
        };
        let audience = state.audience(service).to_owned();
        let now = Timestamp::now();
        let fresh = self
            .operator
            .tokens
            .get(&audience)
            .filter(|token| token.is_fresh(now))
            .map(|token| token.value.clone());
        let token = match fresh {
            Some(token) => token,
            None => {
                let Some(refresh_token) = self.operator.refresh_token.clone() else {
                    return Err(ConsoleError::SignInRequired {
                        operator: true,
                        return_to: self.visitor.target.clone(),
                    });
                };
                let answer = oidc
                    .refresh(&refresh_token, &audience)
                    .await
                    .map_err(|error| {
                        tracing::info!(%error, "an operator's token could not be renewed");
                        ConsoleError::SignInRequired {
                            operator: true,
                            return_to: self.visitor.target.clone(),
                        }
                    })?;
                self.operator
                    .tokens
                    .insert(audience.clone(), answer.access(now));
                if let Some(rotated) = answer.refresh_token {
                    self.operator.refresh_token = Some(rotated);
                }
                let session = self
                    .visitor
                    .session
                    .as_ref()
                    .expect("an operator has a session");
                state
                    .sessions
                    .put(
                        &session.secret,
                        &SessionData::Operator(self.operator.clone()),
                        session.expires_at,
                    )
                    .await?;
                answer.access_token
            }
        };
        Ok(Caller {
            bearer: Some(token),
            forwarded: state.forwarded(self.visitor.address, service).await,
        })
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = ConsoleError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (visitor, operator) = signed_in(parts, state, true, |data| match data {
            SessionData::Operator(operator) => Some(operator.clone()),
            _ => None,
        })
        .await?;
        Ok(Self { visitor, operator })
    }
}
