//! Operator sign-in through the OpenID Connect issuer: authorization code + PKCE, then one
//! access token per API audience, kept in the server-side session; and sign-out.
use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use common::timestamp::Timestamp;
use serde::Deserialize;

use crate::error::{ConsoleError, ErrorPage};
use crate::oidc::{Challenge, OidcError};
use crate::page::{local_path, see_other_with_cookie, Page};
use crate::session::{self, OperatorSession, PendingSignIn, SessionData, SessionSecret};
use crate::state::AppState;
use crate::web::{end_session, Operator, Visitor};

/// How long a started sign-in may take at the issuer.
const SIGN_IN_WINDOW: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /ops/login`: starts a sign-in (a pending session holds its state, nonce and PKCE
/// verifier) and sends the browser to the issuer.
pub async fn start(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<LoginQuery>,
) -> Result<Response, ConsoleError> {
    let oidc = state.oidc.as_ref().ok_or(ConsoleError::NoOperatorSignIn)?;
    let challenge = Challenge::new();
    let url = oidc.authorization_url(&challenge).await?;
    let pending = SessionData::SigningIn(PendingSignIn {
        state: challenge.state,
        nonce: challenge.nonce,
        verifier: challenge.verifier,
        return_to: local_path(query.next.as_deref().unwrap_or("/ops")).to_owned(),
    });
    if let Some(old) = &visitor.session {
        state.sessions.delete(&old.secret).await?;
    }
    let secret = SessionSecret::generate();
    let expires_at = Timestamp::now().unix_seconds() + SIGN_IN_WINDOW.as_secs() as i64;
    state.sessions.put(&secret, &pending, expires_at).await?;
    Ok(see_other_with_cookie(
        url.as_str(),
        session::set_cookie(&secret, SIGN_IN_WINDOW),
    ))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn refused(status: StatusCode, sentence: String) -> Response {
    let mut response = Page(
        status,
        ErrorPage::plain(
            "Sign-in did not work",
            sentence,
            Some(("/ops/login", "Sign in again")),
        ),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    response
}

/// `GET /ops/callback`: the issuer's answer. Only a sign-in this browser started is
/// finished (its `state`); the code is redeemed with the PKCE verifier; the ID token must
/// carry the operator claim; then each other audience's token comes from the refresh token.
/// The session gets a new secret (and cookie): nothing from before signing in carries over.
pub async fn callback(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, ConsoleError> {
    let oidc = state.oidc.as_ref().ok_or(ConsoleError::NoOperatorSignIn)?;
    let Some(session) = visitor.session else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "This sign-in was not started here, or it took too long. Start it again.".to_owned(),
        ));
    };
    let SessionData::SigningIn(pending) = &session.data else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "There is no sign-in going on. Start it again.".to_owned(),
        ));
    };
    if query.state.as_deref() != Some(pending.state.as_str()) {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "This answer does not belong to the sign-in this browser started. Start it again."
                .to_owned(),
        ));
    }
    state.sessions.delete(&session.secret).await?;
    if let Some(error) = &query.error {
        let why = query
            .error_description
            .clone()
            .unwrap_or_else(|| error.clone());
        let status = if error == "access_denied" {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_GATEWAY
        };
        return Ok(refused(
            status,
            format!("The sign-in service refused: {why}"),
        ));
    }
    let Some(code) = &query.code else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "The sign-in service sent no code. Start it again.".to_owned(),
        ));
    };

    let now = Timestamp::now();
    let first = oidc.redeem(code, &pending.verifier).await?;
    let id_token = first
        .id_token
        .as_deref()
        .ok_or(OidcError::Invalid("no ID token"))?;
    let identity = oidc.identity(id_token, &pending.nonce)?;
    if !identity.is_operator {
        let settings = oidc.settings();
        tracing::info!(subject = %identity.subject, "a sign-in without operator rights was refused");
        return Ok(refused(
            StatusCode::FORBIDDEN,
            format!(
                "{} has no operator rights here: the sign-in does not carry {} = {}.",
                identity.name, settings.operator_claim, settings.operator_value
            ),
        ));
    }
    let audiences = oidc.audiences();
    let mut tokens = BTreeMap::new();
    tokens.insert(audiences[0].clone(), first.access(now));
    let mut refresh_token = first.refresh_token.clone();
    for audience in &audiences[1..] {
        let Some(refresh) = refresh_token.clone() else {
            break;
        };
        let answer = oidc.refresh(&refresh, audience).await?;
        tokens.insert(audience.clone(), answer.access(now));
        if answer.refresh_token.is_some() {
            refresh_token = answer.refresh_token;
        }
    }
    tracing::info!(subject = %identity.subject, "operator signed in");
    let data = SessionData::Operator(OperatorSession {
        subject: identity.subject,
        name: identity.name,
        refresh_token,
        tokens,
    });
    let secret = SessionSecret::generate();
    let ttl = state.config.session_ttl;
    state
        .sessions
        .put(&secret, &data, now.unix_seconds() + ttl.as_secs() as i64)
        .await?;
    let target = local_path(&pending.return_to);
    let location = format!(
        "{target}{}done=signed-in",
        if target.contains('?') { '&' } else { '?' }
    );
    Ok(see_other_with_cookie(
        &location,
        session::set_cookie(&secret, ttl),
    ))
}

/// `POST /ops/logout`: ends the console session, revokes the refresh token, and sends the
/// browser to the issuer to end its session there too (it comes back to the start page).
pub async fn logout(
    State(state): State<AppState>,
    operator: Operator,
) -> Result<Response, ConsoleError> {
    let mut location = "/?done=signed-out".to_owned();
    if let Some(oidc) = &state.oidc {
        if let Some(refresh) = &operator.operator.refresh_token {
            oidc.revoke(refresh).await;
        }
        let home = state.config.public_url.join("/").expect("valid path");
        if let Some(url) = oidc.end_session_url(&home).await {
            location = url.to_string();
        }
    }
    end_session(&state, &operator.visitor, &location).await
}
