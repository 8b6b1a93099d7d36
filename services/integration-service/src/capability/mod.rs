//! The capability model. An integration is a module that declares its name, the auth
//! methods it accepts, and its capabilities: each one read (GET) or write (POST), with
//! typed parameters and result (serde + `ToSchema`, so they land in the OpenAPI) and a
//! handler. Everything else (routing, tenant lookup, parameter validation, caller
//! scopes, credentials, retries, throttling, metrics) is generic and lives outside the
//! integrations.
pub mod openapi;
pub(crate) mod params;
mod registry;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use common::FieldError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::upstream::Upstream;

pub use registry::{only_known, Integration, Registered, Registry, SettingsCheck};

/// Read capabilities only look; write capabilities change something upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Read,
    Write,
}

pub use crate::tenants::{READ_SCOPE, WRITE_SCOPE};

impl Kind {
    pub fn method(self) -> Method {
        match self {
            Self::Read => Method::GET,
            Self::Write => Method::POST,
        }
    }

    pub fn method_name(self) -> &'static str {
        match self {
            Self::Read => "GET",
            Self::Write => "POST",
        }
    }

    /// The OAuth scope a caller needs.
    pub fn scope(self) -> &'static str {
        match self {
            Self::Read => READ_SCOPE,
            Self::Write => WRITE_SCOPE,
        }
    }
}

/// What a handler gets besides its parameters: the tenant, the tenant's connection to the
/// integration's upstream, and the instant by which the call must be answered.
#[derive(Clone)]
pub struct Call {
    pub tenant: String,
    pub upstream: Arc<Upstream>,
    pub deadline: Instant,
}

/// Parameters of a capability. `validate` reports every rule broken (422), after serde
/// has checked shape and types (400).
pub trait Params: DeserializeOwned + ToSchema + Send + 'static {
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }
}

/// The result of a capability. Answered with 200 unless the result says otherwise
/// (e.g. 202 for work that continues in the background).
pub trait Output: Serialize + ToSchema + Send + 'static {
    fn status(&self) -> StatusCode {
        StatusCode::OK
    }
}

/// Raw input: the query string (read) or the JSON body (write).
pub enum Input {
    Query(String),
    Body(Bytes),
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Handler = Arc<dyn Fn(Call, Input) -> BoxFuture<Result<Response, ApiError>> + Send + Sync>;

/// A schema by component name, with the schemas it refers to.
#[derive(Clone)]
pub struct NamedSchema {
    pub name: String,
    pub schema: RefOr<Schema>,
    pub dependencies: Vec<(String, RefOr<Schema>)>,
}

impl NamedSchema {
    fn of<T: ToSchema>() -> Self {
        let mut dependencies = Vec::new();
        T::schemas(&mut dependencies);
        Self {
            name: T::name().into_owned(),
            schema: T::schema(),
            dependencies,
        }
    }
}

/// One capability: its description and its type-erased handler.
pub struct Capability {
    pub name: String,
    pub kind: Kind,
    pub summary: String,
    pub description: Option<String>,
    pub params: NamedSchema,
    pub result: NamedSchema,
    /// Statuses beyond the generic ones, for the OpenAPI (`with_result` = carries the result).
    pub responses: Vec<ExtraResponse>,
    handler: Handler,
}

#[derive(Clone)]
pub struct ExtraResponse {
    pub status: StatusCode,
    pub description: String,
    pub with_result: bool,
}

impl Capability {
    pub fn read<P, R, F, Fut>(name: &'static str, summary: &'static str, handler: F) -> Self
    where
        P: Params,
        R: Output,
        F: Fn(Call, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ApiError>> + Send + 'static,
    {
        Self::new(name, Kind::Read, summary, handler)
    }

    pub fn write<P, R, F, Fut>(name: &'static str, summary: &'static str, handler: F) -> Self
    where
        P: Params,
        R: Output,
        F: Fn(Call, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ApiError>> + Send + 'static,
    {
        Self::new(name, Kind::Write, summary, handler)
    }

    fn new<P, R, F, Fut>(name: &'static str, kind: Kind, summary: &'static str, handler: F) -> Self
    where
        P: Params,
        R: Output,
        F: Fn(Call, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ApiError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |call: Call, input: Input| {
            let handler = handler.clone();
            Box::pin(async move {
                let params: P = match input {
                    Input::Query(query) => params::from_query(&query)?,
                    Input::Body(body) => params::from_body(&body)?,
                };
                let errors = params.validate();
                if !errors.is_empty() {
                    return Err(ApiError::Invalid(errors));
                }
                let result = handler(call, params).await?;
                // Serialized straight into the body: no `serde_json::Value` tree in between
                // (a map and a string per field: most of the allocations of a call).
                Ok((result.status(), common::extract::Json(result)).into_response())
            })
        });
        Self {
            name: name.to_owned(),
            kind,
            summary: summary.to_owned(),
            description: None,
            params: NamedSchema::of::<P>(),
            result: NamedSchema::of::<R>(),
            responses: Vec::new(),
            handler: erased,
        }
    }

    /// A capability whose parameters and result are known only at run time (declared
    /// integrations): the handler parses its own input and answers.
    #[allow(clippy::too_many_arguments)]
    pub fn dynamic<F, Fut>(
        name: String,
        kind: Kind,
        summary: String,
        description: Option<String>,
        params: NamedSchema,
        result: NamedSchema,
        responses: Vec<ExtraResponse>,
        handler: F,
    ) -> Self
    where
        F: Fn(Call, Input) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        Self {
            name,
            kind,
            summary,
            description,
            params,
            result,
            responses,
            handler: Arc::new(move |call, input| Box::pin(handler(call, input))),
        }
    }

    pub fn describe(mut self, description: &'static str) -> Self {
        self.description = Some(description.to_owned());
        self
    }

    /// Documents a status this capability can answer besides the generic ones.
    pub fn responds(mut self, status: StatusCode, description: &'static str) -> Self {
        self.responses.push(ExtraResponse {
            status,
            description: description.to_owned(),
            with_result: false,
        });
        self
    }

    /// Documents a non-200 success status that carries the result.
    pub fn responds_with_result(mut self, status: StatusCode, description: &'static str) -> Self {
        self.responses.push(ExtraResponse {
            status,
            description: description.to_owned(),
            with_result: true,
        });
        self
    }

    pub async fn invoke(&self, call: Call, input: Input) -> Result<Response, ApiError> {
        (self.handler)(call, input).await
    }
}

/// A capability without parameters.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

impl Params for NoParams {}
