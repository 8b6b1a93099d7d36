//! Peers for the tests that are not stand-ins for an external API (those come from
//! `stand_ins`), in process, each on a random port.
pub mod issuer;
