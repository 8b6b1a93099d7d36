//! Integration tests: the real router on a random port against the AWS emulator, with
//! fresh tables and bucket per test.
mod accounts;
mod admin_accounts;
mod avatars;
mod body_limits;
mod client_address;
mod directory;
mod helpers;
mod operations;
mod scale;
mod security;
mod sessions;
mod signup;
