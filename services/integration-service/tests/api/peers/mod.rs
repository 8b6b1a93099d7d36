//! Upstreams for the tests, in process, each on a random port.
pub mod issuer;
pub mod okta;
pub mod partner;
