//! `POST /auth` and `DELETE /auth`: log in for a session token, log out.
use axum::extract::State;
use axum::http::StatusCode;
use common::client_address::ClientAddress;
use common::extract::{Json, JsonOrForm};
use common::rate_limit::too_many_requests;
use common::timestamp::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{SessionRecord, Username};
use crate::error::{ApiError, Error};
use crate::session::{Session, SessionToken};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "ada")]
    username: String,
    #[schema(example = "correct horse battery")]
    password: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"token": "ust_VUj5rz_raDJrX7fPbCTVhzWyMzEPSR99qzZ3xGHv85k", "token_type": "Bearer",
    "expires_in": 86400, "expires_at": "2026-12-07T11:20:47.122048721Z"}))]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the token expires.
    expires_in: u64,
    #[schema(value_type = String, format = DateTime)]
    expires_at: Timestamp,
}

/// Logs in: exchanges username and password (JSON or form) for a session token.
#[utoipa::path(post, path = "/auth", tag = "sessions",
    request_body(content(
        (LoginRequest = "application/json"),
        (LoginRequest = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "A new session", body = LoginResponse),
        (status = 400, description = "Malformed body"),
        (status = 401, description = "Wrong username or password"),
        (status = 429, description = "Too many attempts for this username or from this address",
            headers(("retry-after" = u64, description = "Seconds until the next attempt is allowed"))),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    JsonOrForm(request): JsonOrForm<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let limits = &state.limits;
    limits
        .login_by_address
        .check(&address)
        .map_err(|wait| too_many_requests("login attempts from this address", wait))?;
    let username = Username::parse(&request.username).ok();
    let limit_key = username
        .as_ref()
        .map_or_else(|| request.username.clone(), |u| u.to_string());
    limits
        .login_by_username
        .check(&(limit_key, address))
        .map_err(|wait| too_many_requests("login attempts for this username", wait))?;
    let user = match &username {
        Some(username) => state.users.get(username).await?,
        None => None,
    };
    // Verify even when there is no such user, so both failures take the same time.
    let valid = state
        .hasher
        .verify(
            &request.password,
            user.as_ref().map(|u| u.password_hash.as_str()),
        )
        .await?;
    let Some(user) = user.filter(|_| valid) else {
        return Err(Error::Unauthenticated("Wrong username or password").into());
    };
    let token = SessionToken::generate();
    let now = Timestamp::now();
    let expires_at = now + state.session_ttl;
    state
        .sessions
        .create(&SessionRecord {
            token_hash: token.hash(),
            username: user.username,
            created_at: now,
            expires_at,
            account_created_at: Some(user.created_at),
        })
        .await?;
    Ok(Json(LoginResponse {
        token: token.expose().to_owned(),
        token_type: "Bearer",
        expires_in: state.session_ttl.as_secs(),
        expires_at,
    }))
}

/// Logs out: revokes the session token presented.
#[utoipa::path(delete, path = "/auth", tag = "sessions",
    security(("session" = [])),
    responses(
        (status = 204, description = "The token is revoked"),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    session: Session,
) -> Result<StatusCode, ApiError> {
    state.sessions.delete(&session.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}
