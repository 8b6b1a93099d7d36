//! `ConsoleError`: every way a page can fail, and the one place each becomes what a person
//! sees: a redirect to sign in, or an error page that says in words what happened and what
//! to do (a service's problem `detail` shown as it is, never a stack trace or a JSON dump).

use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use common::aws::StorageError;

use crate::assets::{ASSETS, HTMX_CONFIG};
use crate::oidc::OidcError;
use crate::page::{Chrome, Page, Who};
use crate::session;
use crate::upstream::UpstreamError;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The page needs someone signed in (an operator, or an account holder).
    #[error("sign-in required")]
    SignInRequired { operator: bool, return_to: String },
    /// The service no longer accepts the person's token: the session is over.
    #[error("the session has ended")]
    SessionEnded { operator: bool },
    #[error("no such page")]
    NotFound,
    /// Operator pages without an issuer configured.
    #[error("operator sign-in is not configured")]
    NoOperatorSignIn,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Oidc(#[from] OidcError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ConsoleError {
    /// A failed call on someone's behalf: a 401 means the service no longer accepts their
    /// token (revoked, expired), so their console session is over too.
    pub fn from_call(error: UpstreamError, operator: bool) -> Self {
        if error.status() == Some(401) {
            Self::SessionEnded { operator }
        } else {
            Self::Upstream(error)
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub chrome: Chrome,
    pub heading: String,
    pub sentence: String,
    /// What to do about it, with a link.
    pub next: Option<(String, String)>,
}

impl ErrorPage {
    /// An error page for someone whose session is unknown here (the layout shows no name).
    pub fn plain(heading: &str, sentence: impl Into<String>, next: Option<(&str, &str)>) -> Self {
        Self {
            chrome: Chrome {
                who: Who::Anonymous,
                section: "",
                notice: None,
                assets: &ASSETS,
                htmx_config: HTMX_CONFIG,
            },
            heading: heading.to_owned(),
            sentence: sentence.into(),
            next: next.map(|(href, text)| (href.to_owned(), text.to_owned())),
        }
    }
}

/// "Try again in N seconds" from a `Retry-After`.
fn wait_hint(retry_after: Option<std::time::Duration>) -> String {
    match retry_after {
        Some(wait) => format!(" Try again in {} seconds.", wait.as_secs().max(1)),
        None => " Try again shortly.".to_owned(),
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, page) = match self {
            ConsoleError::SignInRequired { operator, return_to } => {
                let start = if operator { "/ops/login" } else { "/login" };
                let location = format!(
                    "{start}?{}",
                    serde_urlencoded::to_string([("next", return_to.as_str())])
                        .unwrap_or_default()
                );
                return crate::page::see_other(&location);
            }
            ConsoleError::SessionEnded { operator } => {
                let location = if operator { "/ops/login" } else { "/login?done=expired" };
                let mut response = crate::page::see_other(location);
                response
                    .headers_mut()
                    .insert(header::SET_COOKIE, session::clear_cookie());
                return response;
            }
            ConsoleError::NotFound => (
                StatusCode::NOT_FOUND,
                ErrorPage::plain(
                    "Page not found",
                    "There is no page at this address.",
                    Some(("/", "Go to the start page")),
                ),
            ),
            ConsoleError::NoOperatorSignIn => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorPage::plain(
                    "Operator sign-in is not set up",
                    "This console has no OpenID Connect issuer configured (OIDC_ISSUER_URL), so operators cannot sign in.",
                    Some(("/", "Go to the start page")),
                ),
            ),
            ConsoleError::Upstream(UpstreamError::Unreachable { service, why }) => (
                StatusCode::BAD_GATEWAY,
                ErrorPage::plain(
                    "A service is not answering",
                    format!("The console could not get an answer from {service}: {why}. Try again shortly."),
                    None,
                ),
            ),
            ConsoleError::Upstream(UpstreamError::Problem {
                service,
                problem,
                retry_after,
            }) => {
                let detail = problem
                    .detail
                    .clone()
                    .unwrap_or_else(|| problem.title.clone());
                let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_GATEWAY);
                let page = match status {
                    StatusCode::NOT_FOUND => ErrorPage::plain("Not found", detail, Some(("/", "Go to the start page"))),
                    StatusCode::FORBIDDEN => ErrorPage::plain(
                        "Not allowed",
                        format!("{service} refused: {detail}"),
                        None,
                    ),
                    StatusCode::TOO_MANY_REQUESTS => ErrorPage::plain(
                        "Too many requests",
                        format!("{service} is limiting requests: {detail}.{}", wait_hint(retry_after)),
                        None,
                    ),
                    status if status.is_server_error() => ErrorPage::plain(
                        "A service had a problem",
                        format!("{service} could not do it: {detail}.{}", wait_hint(retry_after)),
                        None,
                    ),
                    _ => ErrorPage::plain("That did not work", format!("{service} said: {detail}"), None),
                };
                // The service's own status, except that its failures are a gateway's to us.
                let shown = if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
                    StatusCode::BAD_GATEWAY
                } else {
                    status
                };
                (shown, page)
            }
            ConsoleError::Storage(error) => {
                let unavailable = matches!(error, StorageError::Unavailable(_));
                (
                    if unavailable { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::INTERNAL_SERVER_ERROR },
                    ErrorPage::plain(
                        "The console had a problem",
                        "The console could not read or save your session. Try again shortly.",
                        None,
                    ),
                )
            }
            ConsoleError::Oidc(error) => (
                StatusCode::BAD_GATEWAY,
                ErrorPage::plain(
                    "Sign-in did not work",
                    format!("The operator sign-in failed: {error}."),
                    Some(("/ops/login", "Sign in again")),
                ),
            ),
            ConsoleError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "console failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorPage::plain(
                        "Something went wrong",
                        "The console failed to show this page. The failure is logged; try again shortly.",
                        None,
                    ),
                )
            }
        };
        Page(status, page).into_response()
    }
}
