//! What every service of the platform shares, so that no service writes it itself:
//! typed configuration, telemetry, metrics, health probes, RFC 9457 errors, request
//! extraction, AWS clients, secrets, retries, OIDC auth, OpenAPI and the server loop.
//!
//! # Layout
//!
//! - [`server`]: turns a service's routes into the application (operations endpoints,
//!   docs, the middleware stack: request ids, limits, timeout, panics) and serves it, with
//!   its background tasks beside it (`Application`, what every service's `build()` returns).
//! - [`error`]: [`Problem`], the RFC 9457 body of every error; [`extract`]: `Json`,
//!   `Query`, `JsonOrForm` whose rejections are problems naming the field.
//! - [`auth`]: OpenID Connect access tokens (`Authenticated`), verified against the
//!   issuer's keys; [`domain`]: values more than one service validates (`Email`,
//!   `BoundedText<MAX>` and its `DisplayName`).
//! - [`aws`]: AWS clients, table and bucket bootstrap (`ensure_resources`), the
//!   `StorageError` every store returns and its one mapping to statuses, and in
//!   `aws::dynamo` what the DynamoDB stores share (pages and their sealed cursors, items);
//!   [`secrets`]; [`retry`]; [`http_client`]: outbound HTTP with timeouts.
//! - [`paging`]: one way to list: `PageQuery` (limit and cursor), `PageView<T>`, and the
//!   sealed cursors (`CursorKeys`) that `aws::dynamo::Listing` opens against a table's keys.
//! - [`timestamp`]: the one timestamp type, and the forms services store and answer with
//!   (named at a record's field: `#[serde(with = "timestamp::sortable")]`).
//! - [`command`]: what every service's `main` shares (`print-tables`, the exit status).
//! - [`config`], [`telemetry`], [`metrics`], [`health`], [`openapi`], [`idle`],
//!   [`rate_limit`], [`template`], [`cache`] (bounded, entries end after a TTL);
//!   [`client_address`]: who the client is (trusted proxies by subnet, forwarders by token).
//!
//! A request's path through a service: [`server`]'s layers (request id, size limits,
//! timeout), then the service's extractors (an `auth` or session extractor, an
//! [`extract`] body), the handler and its domain types, and the service's error type,
//! which becomes a [`Problem`].
pub mod auth;
pub mod aws;
pub mod cache;
pub mod client_address;
pub mod command;
pub mod config;
pub mod domain;
pub mod error;
pub mod extract;
pub mod health;
pub mod http_client;
pub mod idle;
pub mod metrics;
pub mod openapi;
pub mod paging;
pub mod rate_limit;
pub mod retry;
pub mod secrets;
pub mod server;
pub mod shedding;
pub mod telemetry;
pub mod template;
pub mod timestamp;

pub use error::{ApiError, FieldError, FieldErrors, Problem, ServiceError};
