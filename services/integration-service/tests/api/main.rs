//! Integration tests: the real router on a random port against the AWS emulator (fresh
//! tables per test), with in-process Okta orgs and partner API as upstreams.
mod callers;
mod conformance;
mod dpop;
mod helpers;
mod okta;
mod providers;
mod routing;
