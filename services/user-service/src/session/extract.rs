use axum::extract::{FromRequestParts, Path};
use axum::http::{header, request::Parts};
use common::timestamp::Timestamp;

use super::SessionToken;
use crate::domain::{Role, UserRecord, Username};
use crate::error::{ApiError, Error};
use crate::state::AppState;

/// The account behind a valid, unexpired session token (`Authorization: Bearer ...`).
pub struct CurrentUser {
    pub user: UserRecord,
    pub token_hash: String,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// Owners act on their own account; admins on any.
    pub fn may_act_on(&self, username: &Username) -> Result<(), ApiError> {
        if self.is_admin() || self.user.username == username.as_str() {
            Ok(())
        } else {
            Err(Error::Forbidden.into())
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
pub struct MaybeUser(pub Option<CurrentUser>);

fn bearer(parts: &Parts) -> Result<SessionToken, ApiError> {
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
        .map(|token| SessionToken::presented(token.trim()))
        .ok_or_else(|| {
            Error::Unauthenticated("The Authorization header must be: Bearer <token>").into()
        })
}

/// The session's account: from the session cache when it was checked moments ago,
/// otherwise from the stores (two strongly consistent reads), then cached.
async fn authenticate(token: SessionToken, state: &AppState) -> Result<CurrentUser, ApiError> {
    let invalid = Error::Unauthenticated("The session token is invalid, expired or revoked");
    let token_hash = token.hash();
    let now = Timestamp::now();
    let ticket = match state.session_cache.get(&token_hash, now) {
        Ok(user) => return Ok(CurrentUser { user, token_hash }),
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
    Ok(CurrentUser { user, token_hash })
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authenticate(bearer(parts)?, state).await
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
        match authenticate(token, state).await {
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
/// session, and only an admin sees emails (anyone can sign up, so a session alone proves
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
