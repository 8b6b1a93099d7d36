//! Shared pieces of the services' integration-test harnesses.
//!
//! # Layout
//!
//! - [`app`]: runs a service as `main` does, on a random loopback port.
//! - [`emulator`]: the shared AWS emulator, fresh table prefixes per test, and a DynamoDB
//!   client that counts the items it reads (`counted_dynamodb`).
//! - [`oidc`]: a real OpenID Connect issuer (one per test binary), and its tokens.
//! - [`caller`]: per-credential HTTP clients (`Caller`: anonymous, a bearer token, headers;
//!   `get`, `post`, `put`, `delete`, `send`), and `Callers`, the set every `TestApp` holds.
//! - [`wait`]: [`eventually`], polling a condition instead of sleeping a fixed time.
//! - [`listing`]: [`check_listing`], the checks every list route runs.
//! - [`http`]: assertions on answers (`assert_json`, `assert_problem`).
//! - [`oneshot`]: a router called without a socket (for `common`'s shared pieces).
//! - [`proxy`]: a TCP proxy that can be cut, for "the dependency went away".
//! - [`raw`]: a request written byte for byte, for what an HTTP client will not send (a
//!   body that stops before its `content-length`).
//! - [`command`]: a service binary's `--help` checked.
//! - [`compat`]: the README's compatibility table checked against a served spec.
//! - [`try_it_out`]: unique operation ids, and each operation sent as Swagger UI's "Try it
//!   out" would, naming the route that served it.
//! - [`logs`]: the services' logs in a failing test's output.
//!
//! Each service's `tests/api/helpers.rs` builds its `TestApp` from these pieces, with one
//! vocabulary. A `TestApp` derefs to its [`caller::Callers`] (`app.anonymous()`,
//! `app.bearer(token)`, `app.authorized()`, `app.url(path)`, `app.metrics()`,
//! `app.wait_until_ready(status)`), and is made by `spawn_app()` (the default test
//! settings on fresh resources), `spawn_app_with(adjust)` (the same, settings adjusted
//! first; integration-service's also take the tenants, which it cannot run without) and
//! `start(config, ..)` (exactly this config: a replica on another's tables, an endpoint
//! behind a cuttable proxy).
pub mod app;
pub mod caller;
pub mod command;
pub mod compat;
pub mod emulator;
pub mod http;
pub mod listing;
pub mod logs;
pub mod oidc;
pub mod oneshot;
pub mod proxy;
pub mod raw;
pub mod try_it_out;
pub mod wait;

pub use listing::check_listing;
pub use wait::eventually;
