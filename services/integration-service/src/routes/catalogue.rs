//! `GET /integrations` and `GET /capabilities/{integration}`: what can be called, for whom.
use axum::extract::{Path, State};
use common::auth::Authenticated;
use common::extract::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::capability::{Capability, Kind, Registered, READ_SCOPE};
use crate::error::{ApiError, Error};
use crate::state::AppState;
use crate::tenants::AuthKind;

#[derive(Serialize, ToSchema)]
pub struct IntegrationSummary {
    pub name: String,
    pub description: String,
    /// The auth methods a tenant can configure for it.
    pub auth_methods: Vec<AuthKind>,
    /// Capability names; `GET /capabilities/{integration}` describes them.
    pub capabilities: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationList {
    pub integrations: Vec<IntegrationSummary>,
}

#[derive(Serialize, ToSchema)]
pub struct CapabilityDescriptor {
    pub name: String,
    pub kind: Kind,
    /// `GET` for read capabilities, `POST` for write capabilities.
    pub method: String,
    pub path: String,
    /// The OAuth scope a caller needs.
    pub scope: &'static str,
    pub summary: String,
    pub description: Option<String>,
    /// JSON Schema of the parameters (query for GET, body for POST).
    #[schema(value_type = Object)]
    pub params_schema: serde_json::Value,
    /// JSON Schema of the result.
    #[schema(value_type = Object)]
    pub result_schema: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationCapabilities {
    pub integration: String,
    pub description: String,
    pub auth_methods: Vec<AuthKind>,
    pub capabilities: Vec<CapabilityDescriptor>,
}

fn descriptor(integration: &Registered, capability: &Capability) -> CapabilityDescriptor {
    CapabilityDescriptor {
        name: capability.name.clone(),
        kind: capability.kind,
        method: capability.kind.method().to_string(),
        path: format!("/{}/{}", integration.name, capability.name),
        scope: capability.kind.scope(),
        summary: capability.summary.clone(),
        description: capability.description.clone(),
        params_schema: serde_json::to_value(&capability.params.schema).unwrap_or_default(),
        result_schema: serde_json::to_value(&capability.result.schema).unwrap_or_default(),
    }
}

/// Every integration and its capability names.
#[utoipa::path(get, path = "/integrations", tag = "catalogue",
    security(("oidc" = ["integrations:read"])),
    responses(
        (status = 200, description = "The integrations", body = IntegrationList),
    ))]
pub async fn list_integrations(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<IntegrationList>, ApiError> {
    caller.require_scope(READ_SCOPE)?;
    Ok(Json(IntegrationList {
        integrations: state
            .registry
            .iter()
            .map(|integration| IntegrationSummary {
                name: integration.name.clone(),
                description: integration.description.clone(),
                auth_methods: integration.auth_methods.clone(),
                capabilities: integration
                    .capabilities
                    .iter()
                    .map(|c| c.name.clone())
                    .collect(),
            })
            .collect(),
    }))
}

/// One integration's capabilities: kind, method, path, scope and schemas.
#[utoipa::path(get, path = "/capabilities/{integration}", tag = "catalogue",
    params(("integration" = String, Path, description = "Integration name, e.g. okta")),
    security(("oidc" = ["integrations:read"])),
    responses(
        (status = 200, description = "The integration's capabilities", body = IntegrationCapabilities),
        (status = 404, description = "No such integration"),
    ))]
pub async fn list_capabilities(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    Path(integration): Path<String>,
) -> Result<Json<IntegrationCapabilities>, ApiError> {
    caller.require_scope(READ_SCOPE)?;
    let registered = state
        .registry
        .get(&integration)
        .ok_or(Error::UnknownIntegration(integration))?;
    Ok(Json(IntegrationCapabilities {
        integration: registered.name.clone(),
        description: registered.description.clone(),
        auth_methods: registered.auth_methods.clone(),
        capabilities: registered
            .capabilities
            .iter()
            .map(|capability| descriptor(registered, capability))
            .collect(),
    }))
}
