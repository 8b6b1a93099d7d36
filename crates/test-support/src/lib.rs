//! Shared pieces of the services' integration-test harnesses.
pub mod app;
pub mod compat;
pub mod emulator;
pub mod http;
pub mod logs;
pub mod oidc;
pub mod proxy;
