//! What every service of the platform shares, so that no service writes it itself:
//! typed configuration, telemetry, metrics, health probes, RFC 9457 errors, request
//! extraction, AWS clients, secrets, retries, OIDC auth, OpenAPI and the server loop.
pub mod auth;
pub mod aws;
pub mod config;
pub mod domain;
pub mod error;
pub mod extract;
pub mod health;
pub mod http_client;
pub mod idle;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod retry;
pub mod secrets;
pub mod server;
pub mod telemetry;
pub mod template;

pub use error::{FieldError, FieldErrors, Problem};
