//! Passwords, session tokens, and the extractors that authenticate a request.
mod cache;
mod extract;
mod hasher;
mod token;

pub use cache::{ForgetfulSessions, ForgetfulUsers, SessionCache};
pub use extract::{Account, CurrentUser, DirectoryReader, MaybeUser, Session, ADMIN_SCOPE};
pub use hasher::{HashError, PasswordHasher};
pub use token::SessionToken;
