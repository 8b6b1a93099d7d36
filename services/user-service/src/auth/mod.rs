//! Passwords, session tokens, and the extractors that authenticate a request.
mod extract;
mod hasher;
mod token;

pub use extract::{CurrentUser, MaybeUser};
pub use hasher::PasswordHasher;
pub use token::SessionToken;
