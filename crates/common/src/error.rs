//! RFC 9457 problem details: the one error body every service returns, and
//! [`ApiError`], the error type every handler returns.
//!
//! A service declares its own failures as an enum implementing [`ServiceError`] (its
//! `error.rs`, the one place that decides their statuses) and names
//! `common::error::ApiError<ItsEnum>` as its `ApiError`; the failures every service shares
//! (invalid fields, a ready-made [`Problem`], an internal error) are arms of that type.

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field that failed validation, named by its JSON path (`profile.age`, `items[2].sku`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects every field problem of a request, so a client fixes it in one round.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps a valid value, or records why the field is not.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.push(field, message)).ok()
    }

    /// A field that must be present and valid.
    pub fn required<V, T>(
        &mut self,
        field: &str,
        value: Option<V>,
        parse: impl FnOnce(V) -> Result<T, String>,
    ) -> Option<T> {
        match value {
            Some(value) => self.check(field, parse(value)),
            None => {
                self.push(field, "is required");
                None
            }
        }
    }

    /// A field that may be absent but must be valid when present.
    pub fn optional<V, T>(
        &mut self,
        field: &str,
        value: Option<V>,
        parse: impl FnOnce(V) -> Result<T, String>,
    ) -> Option<T> {
        value.and_then(|value| self.check(field, parse(value)))
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }
}

/// An RFC 9457 problem details object (`application/problem+json`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short, human-readable summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The fields at fault, for validation problems.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extension members (RFC 9457 section 3.2): what a client needs beyond the standard
    /// members, e.g. the id of a failed run.
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// Extra response headers (`WWW-Authenticate`, `Retry-After`, `Allow`).
    #[serde(skip)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Problem {
    /// A problem whose title is the status's reason phrase.
    pub fn new(status: StatusCode) -> Self {
        Self {
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
            headers: Vec::new(),
        }
    }

    /// A problem of a named kind: `type` becomes `urn:problem:<slug>`.
    pub fn of_kind(status: StatusCode, slug: &str, title: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:problem:{slug}"),
            title: title.into(),
            ..Self::new(status)
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.errors.push(FieldError::new(field, message));
        self
    }

    /// Adds an extension member; a standard member's name (`type`, `title`, `status`,
    /// `detail`, `errors`) is refused, so an extension cannot contradict the problem.
    pub fn extension(mut self, name: &str, value: impl Serialize) -> Self {
        const STANDARD: [&str; 5] = ["type", "title", "status", "detail", "errors"];
        debug_assert!(!STANDARD.contains(&name), "`{name}` is a standard member");
        if !STANDARD.contains(&name) {
            let value = serde_json::to_value(value).unwrap_or_default();
            self.extensions.insert(name.to_owned(), value);
        }
        self
    }

    pub fn header(mut self, name: HeaderName, value: impl TryInto<HeaderValue>) -> Self {
        if let Ok(value) = value.try_into() {
            self.headers.push((name, value));
        }
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    // The common kinds, so services name them the same way.

    /// 422: the request was well-formed but these fields are not acceptable.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        Self {
            errors,
            ..Self::of_kind(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request fields",
            )
            .detail(detail)
        }
    }

    /// 400: the body or query could not be read at all.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::of_kind(
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request",
        )
        .detail(detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND).detail(detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT).detail(detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED)
            .detail(detail)
            .header(header::WWW_AUTHENTICATE, "Bearer")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN).detail(detail)
    }

    /// 503: a dependency is down; the client may retry later.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE)
            .detail(detail)
            .header(header::RETRY_AFTER, "1")
    }

    /// 500 without internals: the cause goes to the log, not to the client.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR)
            .detail("An unexpected error occurred; it has been logged.")
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{} ({}): {detail}", self.title, self.status),
            None => write!(f, "{} ({})", self.title, self.status),
        }
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        (status, headers, body).into_response()
    }
}

/// A service's own failures: each becomes a problem in the service's `error.rs`.
pub trait ServiceError: std::error::Error {
    fn into_problem(self) -> Problem;
}

/// The error every handler of a service returns: the failures all services share, and the
/// service's own (`E`). Its response is always a [`Problem`].
#[derive(Debug, thiserror::Error)]
pub enum ApiError<E> {
    /// Fields that break a rule: a 422 naming every one.
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    /// A problem decided where it arose (an extractor, a dependency, a shared check).
    #[error("{}", .0.title)]
    Problem(Problem),
    /// A bug or an unexpected failure: logged here, once, with its causes; the client
    /// gets a bare 500.
    #[error(transparent)]
    Internal(anyhow::Error),
    /// The service's own failures.
    #[error(transparent)]
    Service(E),
}

impl<E> ApiError<E> {
    /// A 422 naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }
}

impl<E> From<Problem> for ApiError<E> {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl<E> From<anyhow::Error> for ApiError<E> {
    fn from(error: anyhow::Error) -> Self {
        Self::Internal(error)
    }
}

impl<E: ServiceError> From<E> for ApiError<E> {
    fn from(error: E) -> Self {
        Self::Service(error)
    }
}

impl<E: ServiceError> From<ApiError<E>> for Problem {
    fn from(error: ApiError<E>) -> Self {
        match error {
            ApiError::Invalid(errors) => Problem::validation(errors),
            ApiError::Problem(problem) => problem,
            ApiError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                Problem::internal()
            }
            ApiError::Service(error) => error.into_problem(),
        }
    }
}

impl<E: ServiceError> IntoResponse for ApiError<E> {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// Router fallback: unknown paths get a problem body too.
pub async fn not_found_fallback(uri: axum::http::Uri) -> Problem {
    Problem::not_found(format!("No route for {}", uri.path()))
}

/// Router fallback for a known path with the wrong method.
pub async fn method_not_allowed_fallback(method: axum::http::Method) -> Problem {
    Problem::new(StatusCode::METHOD_NOT_ALLOWED)
        .detail(format!("{method} is not allowed on this route"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serialises_as_problem_json() {
        let response =
            Problem::validation(vec![FieldError::new("password", "too short")]).into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["type"], "urn:problem:validation");
        assert_eq!(json["status"], 422);
        assert_eq!(json["errors"][0]["field"], "password");
        assert_eq!(json["detail"], "password: too short");
    }

    #[test]
    fn extension_members_sit_beside_the_standard_ones() {
        let problem = Problem::of_kind(StatusCode::BAD_GATEWAY, "run-failed", "Run failed")
            .extension("run_id", "r-1")
            .extension("run", serde_json::json!({"status": "failed"}));
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["run_id"], "r-1");
        assert_eq!(json["run"]["status"], "failed");
        assert_eq!(json["status"], 502);
        let plain = serde_json::to_value(Problem::internal()).unwrap();
        let mut members: Vec<_> = plain.as_object().unwrap().keys().cloned().collect();
        members.sort();
        assert_eq!(
            members,
            ["detail", "status", "title", "type"],
            "none when unused"
        );
    }

    #[derive(Debug, thiserror::Error)]
    #[error("gone")]
    struct Gone;

    impl ServiceError for Gone {
        fn into_problem(self) -> Problem {
            Problem::not_found("gone")
        }
    }

    #[test]
    fn the_shared_arms_and_the_service_s_own_become_problems() {
        let status = |error: ApiError<Gone>| Problem::from(error).status;
        assert_eq!(status(Gone.into()), 404);
        assert_eq!(status(ApiError::field("name", "is required")), 422);
        assert_eq!(status(Problem::conflict("taken").into()), 409);
        let internal = Problem::from(ApiError::<Gone>::from(anyhow::anyhow!("secret cause")));
        assert_eq!(internal.status, 500);
        assert!(
            !internal.to_string().contains("secret"),
            "causes stay in the log"
        );
    }
}
