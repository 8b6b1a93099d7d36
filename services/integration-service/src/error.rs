//! The service's errors, mapped to HTTP in one place.
use axum::http::{header, StatusCode};
use common::{FieldError, Problem};

use crate::store::{StoreError, SyncLockError, SyncRun};
use crate::tenants::Forbidden;
use crate::upstream::UpstreamError;

/// What every handler returns: the shared failures (`Invalid`, `Problem`, `Internal`) and
/// this service's own ([`Error`]).
pub type ApiError = common::ApiError<Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no integration `{0}`")]
    UnknownIntegration(String),
    #[error("integration `{integration}` has no capability `{capability}`")]
    UnknownCapability {
        integration: String,
        capability: String,
    },
    #[error("no tenant `{0}`")]
    UnknownTenant(String),
    /// The caller's client id is not listed for the scope in the tenant's `callers`.
    #[error("client `{client}` may not use {scope} on tenant `{tenant}`")]
    TenantForbidden {
        tenant: String,
        client: String,
        scope: String,
    },
    #[error("tenant `{tenant}` does not use `{integration}`")]
    NotConfigured { tenant: String, integration: String },
    #[error("{capability} must be called with {allow}")]
    MethodNotAllowed {
        capability: String,
        allow: &'static str,
    },
    /// The upstream has no such object (e.g. an Okta user id).
    #[error("{0}")]
    NotFound(String),
    /// The object's state forbids the operation (e.g. suspending a non-active user).
    #[error("{0}")]
    Conflict(String),
    /// The upstream rejected a parameter the caller gave.
    #[error("{message}")]
    Rejected { field: String, message: String },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("provider sync failed")]
    SyncFailed(Box<SyncRun>),
    /// A sync of the tenant is already running.
    #[error("sync run {0} is running")]
    SyncRunning(String),
}

impl From<Forbidden> for ApiError {
    fn from(forbidden: Forbidden) -> Self {
        Self::Service(Error::TenantForbidden {
            tenant: forbidden.tenant,
            client: forbidden.client,
            scope: forbidden.scope,
        })
    }
}

impl From<UpstreamError> for ApiError {
    fn from(error: UpstreamError) -> Self {
        Self::Service(error.into())
    }
}

/// The `outcome` label of the capability call metrics.
pub fn outcome(error: &ApiError) -> &'static str {
    let own = match error {
        ApiError::Invalid(_) => return "invalid",
        ApiError::Problem(problem) if problem.status < 500 => return "invalid",
        ApiError::Problem(_) | ApiError::Internal(_) => return "error",
        ApiError::Service(own) => own,
    };
    match own {
        Error::Rejected { .. } => "invalid",
        Error::UnknownIntegration(_)
        | Error::UnknownCapability { .. }
        | Error::UnknownTenant(_)
        | Error::NotConfigured { .. }
        | Error::MethodNotAllowed { .. } => "not_routed",
        Error::TenantForbidden { .. } => "forbidden",
        Error::NotFound(_) => "not_found",
        Error::Conflict(_) => "conflict",
        Error::Upstream(UpstreamError::RateLimited { .. }) => "rate_limited",
        Error::Upstream(UpstreamError::Busy) => "busy",
        Error::Upstream(UpstreamError::Unavailable(_)) => "unavailable",
        Error::Upstream(UpstreamError::OutcomeUnknown(_)) => "outcome_unknown",
        Error::Upstream(
            UpstreamError::CredentialsRejected(_) | UpstreamError::CredentialsMissing(_),
        ) => "credentials",
        Error::Upstream(UpstreamError::InvalidResponse(_)) => "invalid_response",
        Error::SyncFailed(_) => "sync_failed",
        Error::SyncRunning(_) => "conflict",
    }
}

impl From<SyncLockError> for ApiError {
    fn from(error: SyncLockError) -> Self {
        match error {
            SyncLockError::Busy { running_run_id } => {
                Self::Service(Error::SyncRunning(running_run_id))
            }
            SyncLockError::Store(error) => error.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Storage(error) => Self::Problem(error.into()),
        }
    }
}

fn upstream_problem(error: UpstreamError) -> Problem {
    let gateway = |slug: &str, title: &str, detail: String| {
        Problem::of_kind(StatusCode::BAD_GATEWAY, slug, title).detail(detail)
    };
    let unavailable = |slug: &str, title: &str, detail: String, retry_after: u64| {
        Problem::of_kind(StatusCode::SERVICE_UNAVAILABLE, slug, title)
            .detail(detail)
            .header(header::RETRY_AFTER, retry_after.to_string())
    };
    match error {
        UpstreamError::RateLimited { retry_after } => {
            let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            unavailable(
                "upstream-rate-limited",
                "Upstream rate limit exhausted",
                format!(
                    "The tenant's rate limit at the upstream is used up for {seconds}s more, longer than this request may wait; retry after that"
                ),
                seconds.max(1),
            )
        }
        UpstreamError::Busy => unavailable(
            "tenant-busy",
            "Too many concurrent calls",
            "The tenant's concurrent upstream calls are at their cap; retry shortly".into(),
            1,
        ),
        UpstreamError::Unavailable(detail) => {
            unavailable("upstream-unavailable", "Upstream unavailable", detail, 1)
        }
        UpstreamError::OutcomeUnknown(detail) => Problem::of_kind(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream-outcome-unknown",
            "Upstream outcome unknown",
        )
        .detail(format!(
            "{detail}. Check the object's state before repeating the call."
        )),
        UpstreamError::CredentialsRejected(detail) => gateway(
            "upstream-credentials-rejected",
            "Tenant credentials rejected",
            format!("The upstream rejected the tenant's credentials: {detail}"),
        ),
        UpstreamError::CredentialsMissing(detail) => gateway(
            "upstream-credentials-missing",
            "Tenant credentials missing",
            detail,
        ),
        UpstreamError::InvalidResponse(detail) => gateway(
            "upstream-invalid-response",
            "Invalid upstream response",
            detail,
        ),
    }
}

impl common::ServiceError for Error {
    fn into_problem(self) -> Problem {
        match self {
            Self::UnknownIntegration(name) => {
                Problem::of_kind(StatusCode::NOT_FOUND, "unknown-integration", "Unknown integration")
                    .detail(format!("There is no integration `{name}`; GET /integrations lists them"))
            }
            Self::UnknownCapability {
                integration,
                capability,
            } => Problem::of_kind(StatusCode::NOT_FOUND, "unknown-capability", "Unknown capability")
                .detail(format!(
                    "Integration `{integration}` has no capability `{capability}`; GET /capabilities/{integration} lists them"
                )),
            Self::UnknownTenant(tenant) => {
                Problem::of_kind(StatusCode::NOT_FOUND, "unknown-tenant", "Unknown tenant")
                    .detail(format!("There is no tenant `{tenant}`"))
            }
            Self::TenantForbidden {
                tenant,
                client,
                scope,
            } => Problem::of_kind(StatusCode::FORBIDDEN, "tenant-forbidden", "Not authorised for this tenant")
                .detail(format!(
                    "Client `{client}` may not use {scope} on tenant `{tenant}`: the tenant's configuration does not list it"
                )),
            Self::NotConfigured {
                tenant,
                integration,
            } => Problem::of_kind(
                StatusCode::NOT_FOUND,
                "integration-not-configured",
                "Integration not configured for tenant",
            )
            .detail(format!("Tenant `{tenant}` has no `{integration}` integration configured")),
            Self::MethodNotAllowed { capability, allow } => {
                Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                    .detail(format!("Capability `{capability}` is called with {allow}"))
                    .header(header::ALLOW, allow)
            }
            Self::NotFound(detail) => Problem::not_found(detail),
            Self::Conflict(detail) => Problem::conflict(detail),
            Self::Rejected { field, message } => Problem::validation(vec![FieldError::new(field, message)]),
            Self::Upstream(error) => upstream_problem(error),
            Self::SyncFailed(run) => sync_failed(*run),
            Self::SyncRunning(run_id) => Problem::of_kind(
                StatusCode::CONFLICT,
                "provider-sync-running",
                "A provider sync is already running",
            )
            .detail(format!(
                "Sync run {run_id} of this tenant is still running; one sync per tenant at a time (see list_sync_runs)"
            ))
            .extension("run_id", &run_id),
        }
    }
}

/// 502 with the run's id and summary as extension members, so the caller can find the
/// recorded run (RFC 9457 allows extra members).
fn sync_failed(run: SyncRun) -> Problem {
    Problem::of_kind(
        StatusCode::BAD_GATEWAY,
        "provider-sync-failed",
        "Provider sync failed",
    )
    .detail(format!(
        "Sync run {} failed: {}",
        run.run_id,
        run.errors
            .first()
            .map(String::as_str)
            .unwrap_or("unknown error")
    ))
    .extension("run_id", &run.run_id)
    .extension("run", &run)
}
