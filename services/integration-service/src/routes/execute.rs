//! `GET|POST /{integration}/{capability}`: everything a capability call needs before and
//! after its handler, the same for every integration.
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use common::auth::{Authenticated, Principal};
use tokio::time::Instant;

use super::tenant::Tenant;
use crate::capability::{Call, Input, Kind};
use crate::definitions::directory::DIRECTORY;
use crate::error::{self, ApiError, Error};
use crate::state::AppState;
use crate::upstream::Upstream;

pub async fn execute(
    State(state): State<AppState>,
    // Authentication first: unauthenticated callers learn nothing, not even 404s.
    Authenticated(caller): Authenticated,
    Path((integration, capability)): Path<(String, String)>,
    method: Method,
    request: Request,
) -> Response {
    match run(&state, &caller, &integration, &capability, method, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn run(
    state: &AppState,
    caller: &Principal,
    integration: &str,
    capability: &str,
    method: Method,
    request: Request,
) -> Result<Response, ApiError> {
    let registered = state
        .registry
        .get(integration)
        .ok_or_else(|| Error::UnknownIntegration(integration.to_owned()))?;
    let capability = registered
        .capability(capability)
        .ok_or_else(|| Error::UnknownCapability {
            integration: integration.to_owned(),
            capability: capability.to_owned(),
        })?;
    if method != capability.kind.method() {
        return Err(Error::MethodNotAllowed {
            capability: format!("{integration}/{}", capability.name),
            allow: capability.kind.method_name(),
        }
        .into());
    }
    caller.require_scope(capability.kind.scope())?;
    let (mut parts, body) = request.into_parts();
    let Tenant(tenant) = Tenant::from_request_parts(&mut parts, state).await?;
    let request = Request::from_parts(parts, body);
    // After the tenant is resolved, before anything about it is looked at or called.
    state
        .tenants
        .authorise(&tenant, caller, capability.kind.scope())?;
    let upstream = if registered.name == DIRECTORY {
        tenant_directory(state, &tenant)?
    } else {
        state
            .upstreams
            .get(&tenant, &registered.name)
            .ok_or_else(|| Error::NotConfigured {
                tenant: tenant.clone(),
                integration: registered.name.clone(),
            })?
    };
    let input = match capability.kind {
        Kind::Read => Input::Query(request.uri().query().unwrap_or_default().to_owned()),
        Kind::Write => {
            let json = common::extract::has_content_type(request.headers(), "application/json");
            let body = Bytes::from_request(request, state)
                .await
                .map_err(|rejection| {
                    common::extract::body_problem(rejection.status(), rejection.body_text())
                })?;
            if !body.is_empty() && !json {
                return Err(
                    common::Problem::new(axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE)
                        .detail("Expected application/json")
                        .into(),
                );
            }
            Input::Body(body)
        }
    };

    let started = Instant::now();
    let call = Call {
        tenant,
        upstream,
        deadline: started + state.call_deadline,
    };
    let result = capability.invoke(call, input).await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(error) => error::outcome(error),
    };
    let labels = [registered.name.as_str(), capability.name.as_str()];
    state
        .metrics
        .calls
        .with_label_values(&[labels[0], labels[1], outcome])
        .inc();
    state
        .metrics
        .call_duration
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    result
}

/// The upstream of the tenant's one directory (an integration whose definition maps
/// `directory_user`): 404 when it uses none, 409 naming them when it uses several (the
/// caller then calls the vendor's own routes).
fn tenant_directory(state: &AppState, tenant: &str) -> Result<std::sync::Arc<Upstream>, ApiError> {
    let used: Vec<(&str, std::sync::Arc<Upstream>)> = state
        .registry
        .iter()
        .filter(|registered| registered.directory)
        .filter_map(|registered| {
            let upstream = state.upstreams.get(tenant, &registered.name)?;
            Some((registered.name.as_str(), upstream))
        })
        .collect();
    match used.as_slice() {
        [(_, upstream)] => Ok(upstream.clone()),
        [] => Err(Error::NotConfigured {
            tenant: tenant.to_owned(),
            integration: DIRECTORY.to_owned(),
        }
        .into()),
        several => Err(Error::Conflict(format!(
            "tenant `{tenant}` uses several directories ({}): call its vendor's routes, e.g. /{}/list_users",
            several.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", "),
            several[0].0
        ))
        .into()),
    }
}
