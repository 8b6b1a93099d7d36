//! The Microsoft identity platform's token endpoint, `POST /{tenant}/oauth2/v2.0/token`,
//! for the client credentials grant with a client secret in the body (`client_secret_post`):
//! https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
//! ("First case: Access token request with a shared secret": `client_id`, `scope`
//! = `https://graph.microsoft.com/.default`, `client_secret`, `grant_type=client_credentials`;
//! the answer `{token_type: Bearer, expires_in, ext_expires_in, access_token}`).
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::Tenant;

/// The app registration: its credentials and the application permissions granted to it.
pub(super) struct App {
    pub(super) client_id: String,
    pub(super) client_secret: String,
    /// App roles, e.g. `User.ReadWrite.All` (they go into the token's `roles` claim).
    pub(super) roles: Vec<String>,
    pub(super) token_lifetime: Duration,
}

/// What an issued access token may do, until when.
pub(super) struct Grant {
    pub(super) roles: Vec<String>,
    pub(super) expires_at: Instant,
}

/// Microsoft Graph's resource, as a client credentials scope must name it: "the value
/// passed for the scope parameter in this request should be the resource identifier
/// (application ID URI) of the resource you want, affixed with the .default suffix. For
/// the Microsoft Graph example, the value is https://graph.microsoft.com/.default"
/// (v2-oauth2-client-creds-grant-flow). Graph's application id may stand for its URI.
const GRAPH_RESOURCES: [&str; 2] = [
    "https://graph.microsoft.com",
    "00000003-0000-0000-c000-000000000000",
];

pub(super) fn routes() -> Router<Arc<Mutex<Tenant>>> {
    Router::new().route("/{tenant}/oauth2/v2.0/token", post(token))
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// An AADSTS error as the token endpoint writes it (v2-oauth2-client-creds-grant-flow,
/// "Error response": `error`, `error_description` starting with the AADSTS code and
/// ending with trace id, correlation id and timestamp, `error_codes`, `timestamp`,
/// `trace_id`, `correlation_id`; the troubleshooting article for AADSTS7000215 shows the
/// same body with `error_uri` https://login.microsoftonline.com/error?code=7000215).
/// Microsoft: the codes are for diagnosis, "Apps that take a dependency on text or error
/// code numbers will be broken over time" (https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
fn aadsts(status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
    let timestamp = time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("formats");
    (
        status,
        Json(json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {message}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        })),
    )
        .into_response()
}

fn missing(parameter: &str) -> Response {
    aadsts(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{parameter}'."),
    )
}

async fn token(
    State(tenant): State<Arc<Mutex<Tenant>>>,
    Path(directory): Path<String>,
    body: Bytes,
) -> Response {
    let mut tenant = tenant.lock().unwrap();
    tenant.token_requests += 1;
    // The tenant in the path is its id or a verified domain (`{name}.onmicrosoft.com`).
    if directory != tenant.tenant_id && directory != format!("{}.onmicrosoft.com", tenant.name) {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{directory}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    let Ok(form) = serde_urlencoded::from_bytes::<TokenForm>(&body) else {
        return missing("grant_type");
    };
    let Some(grant_type) = form.grant_type else {
        return missing("grant_type");
    };
    if grant_type != "client_credentials" {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let Some(client_id) = form.client_id else {
        return missing("client_id");
    };
    let Some(scope) = form.scope else {
        return missing("scope");
    };
    let tenant_id = tenant.tenant_id.clone();
    let Some(app) = tenant.app.as_ref().filter(|app| app.client_id == client_id) else {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant_id}'."
            ),
        );
    };
    // A confidential client proves itself with a secret or an assertion; this app has a
    // secret, sent in the body (client_secret_post).
    let Some(secret) = form.client_secret else {
        return aadsts(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    };
    if secret != app.client_secret {
        return aadsts(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        );
    }
    // Client credentials take exactly one `{resource}/.default` scope.
    let Some(resource) = scope.trim().strip_suffix("/.default") else {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    };
    if !GRAPH_RESOURCES.contains(&resource) {
        return aadsts(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            &format!("The resource principal named {resource} was not found in the tenant named {tenant_id}."),
        );
    }
    let lifetime = app.token_lifetime;
    let roles = app.roles.clone();
    let access_token = format!("gat-{}", uuid::Uuid::new_v4().simple());
    tenant.access_tokens.insert(
        access_token.clone(),
        Grant {
            roles,
            expires_at: Instant::now() + lifetime,
        },
    );
    Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": access_token,
    }))
    .into_response()
}
