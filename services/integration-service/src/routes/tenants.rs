//! `GET /tenants` and `POST /tenants/{tenant}/integrations/{integration}/test`: what the
//! console shows of the tenants a caller may act for, and its "test connection" button.
use axum::extract::{Path, State};
use common::auth::Authenticated;
use common::extract::Json;
use serde::Serialize;
use tokio::time::Instant;
use utoipa::ToSchema;

use crate::capability::READ_SCOPE;
use crate::error::{ApiError, Error};
use crate::state::AppState;
use crate::tenants::{valid_tenant_id, AuthKind};

#[derive(Serialize, ToSchema)]
pub struct TenantIntegration {
    /// The integration, e.g. `okta`.
    pub name: String,
    /// How the service authenticates to it for this tenant (never the secret).
    pub auth_method: AuthKind,
}

#[derive(Serialize, ToSchema)]
pub struct TenantSummary {
    pub id: String,
    /// The scopes the caller's client is listed for on this tenant.
    pub scopes: Vec<String>,
    pub integrations: Vec<TenantIntegration>,
}

#[derive(Serialize, ToSchema)]
pub struct TenantList {
    /// The tenants whose `callers` list the caller's client, by id.
    pub tenants: Vec<TenantSummary>,
}

/// The tenants the caller's client is listed for (any scope), with their integrations and
/// auth methods. Secrets, secret names and URLs are not shown.
#[utoipa::path(get, path = "/tenants", tag = "tenants",
    security(("oidc" = ["integrations:read"])),
    responses(
        (status = 200, description = "The caller's tenants (none: an empty list)", body = TenantList),
    ))]
pub async fn list_tenants(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<TenantList>, ApiError> {
    caller.require_scope(READ_SCOPE)?;
    let Some(client) = caller.client_id.as_deref() else {
        return Ok(Json(TenantList {
            tenants: Vec::new(),
        }));
    };
    let tenants = state
        .tenants
        .0
        .iter()
        .filter_map(|(id, tenant)| {
            let scopes: Vec<String> = tenant
                .callers
                .iter()
                .filter(|(_, clients)| clients.contains(client))
                .map(|(scope, _)| scope.clone())
                .collect();
            (!scopes.is_empty()).then(|| TenantSummary {
                id: id.clone(),
                scopes,
                integrations: tenant
                    .integrations
                    .iter()
                    .map(|(name, settings)| TenantIntegration {
                        name: name.clone(),
                        auth_method: settings.auth.kind(),
                    })
                    .collect(),
            })
        })
        .collect();
    Ok(Json(TenantList { tenants }))
}

#[derive(Serialize, ToSchema)]
pub struct ConnectionTest {
    /// The upstream answered the integration's check request with a 2xx.
    pub ok: bool,
    /// The upstream's status, when it answered.
    pub upstream_status: Option<u16>,
    /// What happened, in words (never a secret).
    pub detail: String,
    /// How long the test took, retries included.
    pub elapsed_ms: u64,
}

/// Sends the integration's check request (its definition's `connection.check`) with the
/// tenant's credentials and says whether it worked. Changes nothing upstream.
#[utoipa::path(post, path = "/tenants/{tenant}/integrations/{integration}/test", tag = "tenants",
    params(
        ("tenant" = String, Path, description = "Tenant id", pattern = "^[a-z0-9-]{1,64}$"),
        ("integration" = String, Path, description = "Integration name, e.g. okta"),
    ),
    security(("oidc" = ["integrations:read"])),
    responses(
        (status = 200, description = "The outcome, working or not (`ok`)", body = ConnectionTest),
        (status = 404, description = "No such tenant, or the integration is not configured for it or has no check"),
    ))]
pub async fn test_connection(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path((tenant, integration)): Path<(String, String)>,
) -> Result<Json<ConnectionTest>, ApiError> {
    caller.require_scope(READ_SCOPE)?;
    if !valid_tenant_id(&tenant) || !state.tenants.contains(&tenant) {
        return Err(Error::UnknownTenant(tenant).into());
    }
    state.tenants.authorise(&tenant, &caller, READ_SCOPE)?;
    let not_configured = || Error::NotConfigured {
        tenant: tenant.clone(),
        integration: integration.clone(),
    };
    let check = state
        .registry
        .get(&integration)
        .and_then(|registered| registered.check.clone())
        .ok_or_else(not_configured)?;
    let upstream = state
        .upstreams
        .get(&tenant, &integration)
        .ok_or_else(not_configured)?;
    let started = Instant::now();
    let outcome = upstream.call(&check, started + state.call_deadline).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let path = format!("{} {}", check.method, check.path);
    Ok(Json(match outcome {
        Ok(exchange) => ConnectionTest {
            ok: exchange.status.is_success(),
            upstream_status: Some(exchange.status.as_u16()),
            detail: format!("{path} answered {}", exchange.status),
            elapsed_ms,
        },
        Err(error) => ConnectionTest {
            ok: false,
            upstream_status: None,
            detail: error.to_string(),
            elapsed_ms,
        },
    }))
}
