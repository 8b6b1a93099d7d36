use std::sync::Arc;
use std::time::Duration;

use crate::auth::PasswordHasher;
use crate::store::{AvatarStore, SessionStore, UserStore};

/// What the handlers share. Cheap to clone: everything is behind `Arc`.
#[derive(Clone)]
pub struct AppState {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub avatars: Arc<dyn AvatarStore>,
    pub hasher: PasswordHasher,
    pub session_ttl: Duration,
    pub avatar_max_bytes: usize,
}
