//! The console's handlers, called in-process, against stub services, the real OIDC issuer
//! and the emulator's session table. What a browser adds (JavaScript, layout, axe) is
//! tests/browser's.
mod account;
mod helpers;
mod operators;
mod security;
