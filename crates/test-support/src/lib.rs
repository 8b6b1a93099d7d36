//! Shared pieces of the services' integration-test harnesses.
pub mod emulator;
pub mod oidc;
pub mod proxy;
