//! Integration tests: the real app on a random port against the AWS emulator (fresh
//! tables per test), a real OpenID Connect issuer (npm oidc-provider) and the SMS
//! provider stand-in.
mod auth;
mod console;
mod customers;
mod delivery_reports;
mod helpers;
mod idempotency;
mod operations;
mod orders;
mod scale;
mod sms;
