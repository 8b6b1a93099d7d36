use std::sync::Arc;
use std::time::Duration;

use std::net::IpAddr;

use common::rate_limit::KeyedLimiter;

use crate::auth::{PasswordHasher, SessionCache};
use crate::store::{AvatarStore, SessionStore, UserStore};

/// What the handlers share. Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    /// Recently authenticated sessions; `users` and `sessions` drop entries they change.
    pub session_cache: Arc<SessionCache>,
    pub avatars: Arc<dyn AvatarStore>,
    pub hasher: PasswordHasher,
    pub session_ttl: Duration,
    pub avatar_max_bytes: usize,
    pub login_limits: LoginLimiters,
}

/// Brute-force brakes on `POST /auth`.
#[derive(Clone)]
pub struct LoginLimiters {
    pub by_username: KeyedLimiter<String>,
    pub by_address: KeyedLimiter<IpAddr>,
    pub trust_forwarded_for: bool,
}
