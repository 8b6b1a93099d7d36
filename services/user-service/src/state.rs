use std::sync::Arc;
use std::time::Duration;

use std::net::IpAddr;

use axum::extract::FromRef;
use common::auth::OidcVerifier;
use common::client_address::ClientAddresses;
use common::metrics::Metrics;
use common::rate_limit::{KeyedLimiter, Limit};
use prometheus::{IntCounterVec, Opts};

use crate::config::AbuseLimits;
use crate::domain::Username;
use crate::session::{PasswordHasher, SessionCache};
use crate::store::{AvatarStore, SessionStore, StoreError, UserStore};

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
    pub limits: AbuseLimiters,
    /// `ADMIN_USERNAME`: nobody else may sign up with it.
    pub bootstrap_admin: Option<Username>,
    pub audit: Audit,
    /// Anyone may read the directory (`USER_DIRECTORY_PUBLIC`); otherwise a session must.
    pub directory_public: bool,
    /// Who the client is, for the per-address limits.
    pub client_addresses: ClientAddresses,
    /// The OIDC issuer's verifier (`OIDC_ISSUER_URL`), when one is configured: its access
    /// tokens with the scope `users:admin` act as admins (operators, through the console).
    pub operators: Option<Arc<OidcVerifier>>,
}

impl AppState {
    /// The link a browser loads an avatar from (presigned, or under the public base URL),
    /// for an account with an avatar.
    pub async fn avatar_link(&self, key: Option<&str>) -> Result<Option<String>, StoreError> {
        match key {
            Some(key) => Ok(Some(self.avatars.url_for(key).await?)),
            None => Ok(None),
        }
    }
}

impl FromRef<AppState> for ClientAddresses {
    fn from_ref(state: &AppState) -> Self {
        state.client_addresses.clone()
    }
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

/// Brakes on brute force (`POST /auth`) and mass sign-up (`POST /user`).
#[derive(Clone)]
pub struct AbuseLimiters {
    pub login_by_username: KeyedLimiter<(String, IpAddr)>,
    pub login_by_address: KeyedLimiter<IpAddr>,
    pub signup_by_address: KeyedLimiter<IpAddr>,
}

impl AbuseLimiters {
    pub fn new(limits: &AbuseLimits) -> Self {
        let per_minute = |per_minute| Limit {
            per_minute,
            burst: per_minute,
        };
        Self {
            login_by_username: KeyedLimiter::new(per_minute(limits.login_per_username)),
            login_by_address: KeyedLimiter::new(per_minute(limits.login_per_address)),
            signup_by_address: KeyedLimiter::new(per_minute(limits.signup_per_address)),
        }
    }
}
