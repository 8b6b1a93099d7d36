//! Which tenant a capability call acts for: the one place that decides it. Whether the
//! caller may act for it is the next step (`Tenants::authorise`, in `execute`).
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::capability::openapi::TENANT_HEADER;
use crate::error::{ApiError, Error};
use crate::state::AppState;
use crate::tenants::valid_tenant_id;

/// The tenant named by `X-Tenant-Id` (sent once, well-formed and configured), or without
/// the header the deployment's `DEFAULT_TENANT` (single-tenant deployments and local runs,
/// as the original service worked); neither is a 422 naming the header, two are a 400.
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if parts.headers.get_all(TENANT_HEADER).iter().nth(1).is_some() {
            // Which copy a proxy or framework would take differs: take none.
            return Err(
                common::Problem::malformed("X-Tenant-Id is sent more than once")
                    .field(TENANT_HEADER, "send this header exactly once")
                    .into(),
            );
        }
        let Some(value) = parts.headers.get(TENANT_HEADER) else {
            return state
                .default_tenant
                .clone()
                .map(Self)
                .ok_or_else(|| ApiError::field(TENANT_HEADER, "this header is required"));
        };
        let tenant = value
            .to_str()
            .ok()
            .filter(|t| valid_tenant_id(t))
            .ok_or_else(|| {
                ApiError::field(
                    TENANT_HEADER,
                    "must be 1-64 lowercase letters, digits and dashes",
                )
            })?;
        if !state.tenants.contains(tenant) {
            return Err(Error::UnknownTenant(tenant.to_owned()).into());
        }
        Ok(Self(tenant.to_owned()))
    }
}
