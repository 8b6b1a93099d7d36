//! What every page shares: the layout's context ([`Chrome`]), rendering ([`Page`]), the
//! result messages after a form ([`Notice`]), redirects, and the extractors that resolve who
//! is asking ([`Visitor`]) and require a kind of person ([`AccountHolder`], [`Operator`]),
//! with the credentials to call a service on their behalf.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use common::timestamp::Timestamp;

use crate::assets::{Assets, ASSETS, HTMX_CONFIG};
use crate::error::ConsoleError;
use crate::session::{self, AccountSession, OperatorSession, Session, SessionData};
use crate::state::AppState;
use crate::upstream::{Caller, UpstreamError};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;

/// Who is signed in, as the layout shows it.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    Account { username: String },
    Operator { name: String },
}

/// The layout's context: the person, the section (for the navigation's current page), the
/// result message of the last action, the assets.
pub struct Chrome {
    pub who: Who,
    pub section: &'static str,
    pub notice: Option<&'static str>,
    pub assets: &'static Assets,
    pub htmx_config: &'static str,
}

impl Chrome {
    pub fn operator_name(&self) -> Option<&str> {
        match &self.who {
            Who::Operator { name } => Some(name),
            _ => None,
        }
    }

    pub fn account_name(&self) -> Option<&str> {
        match &self.who {
            Who::Account { username } => Some(username),
            _ => None,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self.who, Who::Anonymous)
    }

    /// `aria-current="page"` for the navigation entry of `section`.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            r#" aria-current="page""#
        } else {
            ""
        }
    }
}

/// A rendered page and its status.
pub struct Page<T>(pub StatusCode, pub T);

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        match self.1.render() {
            Ok(html) => (
                self.0,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            // Not through ConsoleError: its page is a template too.
            Err(error) => {
                tracing::error!(%error, "a template failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    "The console failed to show this page; the failure is logged.",
                )
                    .into_response()
            }
        }
    }
}

/// 200 with the page.
pub fn page<T: Template>(template: T) -> Page<T> {
    Page(StatusCode::OK, template)
}

/// The message shown after an action, named in the redirect's `done=` (a fixed list, so no
/// text of a URL ever reaches a page).
pub struct Notice;

impl Notice {
    pub fn text(key: &str) -> Option<&'static str> {
        Some(match key {
            "signed-up" => "Welcome! Your account is ready.",
            "logged-in" => "You are logged in.",
            "logged-out" => "You are logged out.",
            "updated" => "Your changes are saved.",
            "avatar" => "Your new picture is saved.",
            "deleted-self" => "Your account is deleted. Goodbye.",
            "expired" => "Your session ended. Log in again to go on.",
            "signed-in" => "You are signed in as an operator.",
            "signed-out" => "You are signed out.",
            "customer-created" => "The customer is created.",
            "order-created" => "The order is created; its SMS is on its way.",
            "suspended" => "The user is suspended.",
            "user-deleted" => "The user is deleted.",
            "account-deleted" => "The account is deleted.",
            _ => return None,
        })
    }
}

/// 303 to `location` (a path of this console): after a form, the browser shows the result
/// with a GET, so reloading never sends the form again.
pub fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// [`see_other`] that also sets (or clears) the session cookie.
pub fn see_other_with_cookie(location: &str, cookie: HeaderValue) -> Response {
    let mut response = see_other(location);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

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

/// `path` if it is a path of this console (`/x`, not `//host` or a URL), else `/`: where to
/// go after signing in, never another site.
pub fn local_path(path: &str) -> &str {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control());
    if local {
        path
    } else {
        "/"
    }
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

/// The services, by the audience their tokens are for.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    Users,
    Sales,
    Integrations,
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

/// A moment as a page shows it: an absolute time (UTC) and how long ago.
pub struct When {
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    pub absolute: String,
    pub relative: String,
}

impl When {
    /// From an RFC 3339 text; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()?;
        Some(Self::at(at))
    }

    pub fn at(at: time::OffsetDateTime) -> Self {
        let utc = at.to_offset(time::UtcOffset::UTC);
        let format = time::macros::format_description!(
            "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
        );
        Self {
            iso: utc
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            absolute: utc.format(&format).unwrap_or_default(),
            relative: relative(time::OffsetDateTime::now_utc() - utc),
        }
    }
}

/// "3 minutes ago", "in 2 hours", "just now".
fn relative(elapsed: time::Duration) -> String {
    let seconds = elapsed.whole_seconds();
    let (amount, ago) = (seconds.unsigned_abs(), seconds >= 0);
    let (count, unit) = match amount {
        0..=59 => return "just now".to_owned(),
        60..=3599 => (amount / 60, "minute"),
        3600..=86_399 => (amount / 3600, "hour"),
        86_400..=5_183_999 => (amount / 86_400, "day"),
        5_184_000..=31_535_999 => (amount / 2_592_000, "month"),
        _ => (amount / 31_536_000, "year"),
    };
    let plural = if count == 1 { "" } else { "s" };
    if ago {
        format!("{count} {unit}{plural} ago")
    } else {
        format!("in {count} {unit}{plural}")
    }
}

/// True when the request came from htmx (a boosted link or form, or a poll).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers
        .get("hx-request")
        .is_some_and(|v| v == HeaderValue::from_static("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for ok in ["/", "/ops/orders?sms_status=failed", "/account"] {
            assert_eq!(local_path(ok), ok);
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(local_path(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn times_read_absolute_and_relative() {
        let when = When::at(time::OffsetDateTime::now_utc() - time::Duration::minutes(3));
        assert_eq!(when.relative, "3 minutes ago");
        assert!(when.absolute.ends_with("UTC"), "{}", when.absolute);
        assert_eq!(relative(time::Duration::hours(-2)), "in 2 hours");
        assert_eq!(relative(time::Duration::seconds(5)), "just now");
        assert_eq!(relative(time::Duration::days(1069)), "2 years ago");
        assert_eq!(relative(time::Duration::days(75)), "2 months ago");
        assert!(When::parse("yesterday").is_none());
    }

    #[test]
    fn notices_come_from_a_fixed_list() {
        assert!(Notice::text("signed-up").is_some());
        assert!(Notice::text("<script>").is_none());
    }
}
