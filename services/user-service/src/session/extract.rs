use std::fmt;

use axum::extract::{FromRequestParts, Path};
use axum::http::{header, request::Parts};
use common::timestamp::Timestamp;

use super::SessionToken;
use crate::domain::{Role, UserRecord, Username};
use crate::error::{ApiError, Error};
use crate::state::AppState;

/// The scope that makes an OIDC access token an admin's (an operator's, through the
/// console): the issuer grants it, user-service only checks it.
pub const ADMIN_SCOPE: &str = "users:admin";

/// The account behind a valid, unexpired session token (`Authorization: Bearer ust_...`).
pub struct Session {
    pub user: UserRecord,
    pub token_hash: String,
}

/// Who is acting: an account holder by session, or an operator by an access token of the
/// configured OIDC issuer, for this service's audience, with the scope `users:admin`
/// (who acts as an admin without an account here).
pub enum CurrentUser {
    Member(Box<Session>),
    Operator {
        /// The token's `sub`: the operator, logged with every action.
        subject: String,
    },
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        match self {
            Self::Member(session) => session.user.role == Role::Admin,
            Self::Operator { .. } => true,
        }
    }

    /// Owners act on their own account; admins on any.
    pub fn may_act_on(&self, username: &Username) -> Result<(), ApiError> {
        let owner =
            matches!(self, Self::Member(session) if session.user.username == username.as_str());
        if self.is_admin() || owner {
            Ok(())
        } else {
            Err(Error::Forbidden.into())
        }
    }

    /// 403 unless an admin acts.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::AdminsOnly.into())
        }
    }
}

/// Who acted, for logs: the username, or `oidc:<sub>` for an operator (a username never
/// holds a `:`, so the two never read alike).
impl fmt::Display for CurrentUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Member(session) => f.write_str(&session.user.username),
            Self::Operator { subject } => write!(f, "oidc:{subject}"),
        }
    }
}

/// The account a route's `{username}` names, once the caller may act on it: the session's
/// own account or, for an admin, any. Resolved before the body is read: no session is a
/// 401, a name no account can have a 404 (it cannot exist), another's account a 403.
/// Whether it still exists is the handler's read ([`Account::read`]), a 404 too.
pub struct Account {
    pub username: Username,
    /// Who acts on it.
    pub by: CurrentUser,
}

impl Account {
    /// The account's record, read consistently; gone is a 404.
    pub async fn read(&self, state: &AppState) -> Result<UserRecord, ApiError> {
        state
            .users
            .get(&self.username)
            .await?
            .ok_or_else(|| Error::UserNotFound.into())
    }
}

impl FromRequestParts<AppState> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let by = CurrentUser::from_request_parts(parts, state).await?;
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::UserNotFound)?;
        // An invalid name cannot exist, so it is not found rather than a validation error.
        let username = Username::parse(&raw).map_err(|_| Error::UserNotFound)?;
        by.may_act_on(&username)?;
        Ok(Self { username, by })
    }
}

/// A session if the request carries a valid one, `None` otherwise (for public routes that
/// say more to signed-in users).
pub struct MaybeUser(pub Option<Session>);

/// The bearer token as sent.
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(Error::Unauthenticated(
            "A session token is required: Authorization: Bearer <token>",
        ))?;
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| {
            Error::Unauthenticated("The Authorization header must be: Bearer <token>").into()
        })
}

/// The session's account: from the session cache when it was checked moments ago,
/// otherwise from the stores (two strongly consistent reads), then cached.
async fn authenticate(token: SessionToken, state: &AppState) -> Result<Session, ApiError> {
    let invalid = Error::Unauthenticated("The session token is invalid, expired or revoked");
    let token_hash = token.hash();
    let now = Timestamp::now();
    let ticket = match state.session_cache.get(&token_hash, now) {
        Ok(user) => return Ok(Session { user, token_hash }),
        Err(ticket) => ticket,
    };
    let session = state
        .sessions
        .get_live(&token_hash, now)
        .await?
        .filter(|session| token.matches(&session.token_hash))
        .ok_or(invalid)?;
    let username = Username::parse(&session.username)
        .map_err(|_| Error::Unauthenticated("The session token is invalid, expired or revoked"))?;
    let user = state
        .users
        .get(&username)
        .await?
        // Opened for this very account, not an earlier one of the same name.
        .filter(|user| session.account_created_at == Some(user.created_at))
        .ok_or(Error::Unauthenticated(
            "The session's account no longer exists",
        ))?;
    state
        .session_cache
        .insert(ticket, &token_hash, &session, &user);
    Ok(Session { user, token_hash })
}

/// A signed JWT (three dot-separated parts) rather than a session token, which is
/// base64url without dots.
fn is_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

/// The operator behind an access token of the configured issuer: 401 (RFC 6750) unless
/// it verifies for this service's audience, 403 `insufficient_scope` without
/// `users:admin`. Each operator request is logged with its `sub` and client.
async fn operator(token: &str, state: &AppState, parts: &Parts) -> Result<CurrentUser, ApiError> {
    let Some(verifier) = &state.operators else {
        return Err(
            Error::Unauthenticated("The session token is invalid, expired or revoked").into(),
        );
    };
    let principal = verifier
        .verify(token)
        .await
        .map_err(|error| ApiError::Problem(error.into()))?;
    principal
        .require_scope(ADMIN_SCOPE)
        .map_err(ApiError::Problem)?;
    tracing::info!(
        target: "audit",
        operator = %principal.subject,
        client = principal.client_id.as_deref().unwrap_or("-"),
        method = common::metrics::method_label(&parts.method),
        path = parts.uri.path(),
        "operator request"
    );
    Ok(CurrentUser::Operator {
        subject: principal.subject,
    })
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(SessionToken::presented(bearer(parts)?), state).await
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        if is_jwt(token) {
            return operator(token, state, parts).await;
        }
        let session = authenticate(SessionToken::presented(token), state).await?;
        Ok(Self::Member(Box::new(session)))
    }
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(token) = bearer(parts) else {
            return Ok(Self(None));
        };
        match authenticate(SessionToken::presented(token), state).await {
            Ok(user) => Ok(Self(Some(user))),
            Err(ApiError::Service(Error::Unauthenticated(_))) => Ok(Self(None)),
            // The store being down is not "anonymous": say so.
            Err(other) => Err(other),
        }
    }
}

/// A caller allowed to read the user directory, and whether it sees emails: when the
/// directory is public (`USER_DIRECTORY_PUBLIC`, the service this one replaces) anyone,
/// emails included, exactly as the original answered; otherwise the holder of a valid
/// session (or an operator), and only an admin sees emails (anyone can sign up, so a session alone proves
/// nothing about who reads them).
pub struct DirectoryReader {
    pub sees_emails: bool,
}

impl FromRequestParts<AppState> for DirectoryReader {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.directory_public {
            return Ok(Self { sees_emails: true });
        }
        let reader = CurrentUser::from_request_parts(parts, state).await?;
        Ok(Self {
            sees_emails: reader.is_admin(),
        })
    }
}
