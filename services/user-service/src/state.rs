use std::sync::Arc;
use std::time::Duration;

use std::net::IpAddr;

use common::metrics::Metrics;
use common::rate_limit::KeyedLimiter;
use prometheus::{IntCounterVec, Opts};

use crate::auth::{PasswordHasher, SessionCache};
use crate::domain::Username;
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
    /// `ADMIN_USERNAME`: nobody else may sign up with it.
    pub bootstrap_admin: Option<Username>,
    pub audit: Audit,
}

/// Changes to who is an admin: each is logged (`audit` target) and counted
/// (`user_admin_changes_total`, for an alert on any change).
#[derive(Clone)]
pub struct Audit {
    admin_changes: IntCounterVec,
}

impl Audit {
    pub fn register(metrics: &Metrics) -> Self {
        let admin_changes = IntCounterVec::new(
            Opts::new(
                "user_admin_changes_total",
                "Admin accounts created or deleted, by change",
            ),
            &["change"],
        )
        .expect("valid metric");
        Self {
            admin_changes: metrics.register(admin_changes),
        }
    }

    pub fn admin_created(&self, username: &Username, by: &str) {
        self.admin_changes.with_label_values(&["created"]).inc();
        tracing::warn!(target: "audit", %username, by, "admin account created");
    }

    pub fn admin_deleted(&self, username: &Username, by: &str) {
        self.admin_changes.with_label_values(&["deleted"]).inc();
        tracing::warn!(target: "audit", %username, by, "admin account deleted");
    }
}

/// Brute-force brakes on `POST /auth`.
#[derive(Clone)]
pub struct LoginLimiters {
    pub by_username: KeyedLimiter<String>,
    pub by_address: KeyedLimiter<IpAddr>,
    pub trust_forwarded_for: bool,
}
