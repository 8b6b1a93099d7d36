//! user-service: accounts with profile data and avatars, session tokens, and the user
//! directory, on DynamoDB and S3.
//!
//! # Layout
//!
//! - [`routes`]: HTTP only, one file per resource (`signup`; `accounts`: read, update,
//!   delete; `avatar`; `sessions`: login, logout; `directory`; `admin`; `home`), what
//!   more than one answers with (`views`), the upload helpers (`upload`), and the router
//!   with its spec. No route file imports another; none imports `store`: they call it
//!   through the state, and its failures reach them as `ApiError`.
//! - [`session`]: who acts and on what: the extractors `CurrentUser` (a session's account,
//!   or an operator's OIDC access token with `users:admin`), `Session`/`MaybeUser`
//!   (sessions only), `Account`, `DirectoryReader`; session tokens, the session cache, and
//!   the two-lane password hasher.
//! - [`domain`]: values that are valid once they exist (`Username`, `Password`,
//!   `Profile`, `AvatarImage`, `Role`), and the records the store persists (`UserRecord`,
//!   `SessionRecord`, ...).
//! - [`store`]: `UserStore`, `SessionStore` (DynamoDB) and `AvatarStore` (S3) traits and
//!   their implementations, failing with `StoreError`s in storage's terms
//!   (`common::aws::StorageError`), never statuses; [`state`]: what handlers share.
//! - [`error`]: `ApiError`, the one place a failure becomes a status and problem body.
//! - [`config`]: the environment, read once; [`build`] assembles the service from it.
//!
//! A request's path: extractors authenticate it (`session::CurrentUser`, a 401 otherwise),
//! resolve the account it names and check the caller may act on it (`session::Account`: a
//! 404 or 403 before the body is read), then read the body (`common::extract::Json`, a
//! 400 or 415 otherwise); the handler parses each field into a `domain` type (every
//! failure collected into one 422), calls the stores, and returns the view; any
//! `StoreError` or `ApiError` becomes a problem in `error`.
pub mod config;
pub mod domain;
pub mod error;
pub mod routes;
pub mod session;
pub mod state;
pub mod store;

use std::sync::Arc;

use anyhow::Context;
use aws_config::SdkConfig;
use common::auth::OidcVerifier;
use common::aws::dynamo::DynamoTablesCheck;
use common::aws::S3BucketCheck;
use common::client_address::ClientAddresses;
use common::health::Health;
use common::metrics::Metrics;
use common::paging::CursorKeys;
use common::secrets::{AwsSecretStore, SecretStore};
use common::server::{App, Application};
use tokio_util::sync::CancellationToken;

use crate::config::{AdminPassword, Config};
use crate::domain::{Password, Role, UserRecord, Username};
use crate::session::{ForgetfulSessions, ForgetfulUsers, PasswordHasher, SessionCache};
use crate::state::{AbuseLimiters, AppState, Audit};
use crate::store::{DynamoUserStore, S3AvatarStore, StoreError};

/// Builds the application against the AWS endpoints in `sdk`: creates resources when
/// configured to, makes sure the first admin exists, and assembles the router.
pub async fn build(config: &Config, sdk: &SdkConfig) -> anyhow::Result<Application> {
    let dynamodb = common::aws::dynamodb(sdk);
    let s3 = common::aws::s3(sdk);
    common::aws::ensure_resources(
        &config.common,
        &dynamodb,
        &store::tables(),
        Some((&s3, &config.avatar_bucket)),
    )
    .await?;
    let secrets: Arc<dyn SecretStore> = Arc::new(AwsSecretStore::new(
        common::aws::secrets_manager(sdk),
        std::time::Duration::ZERO,
    ));
    let cursor_keys = CursorKeys::load(&config.common.cursor_keys, secrets.clone()).await?;
    let store = Arc::new(DynamoUserStore::new(
        dynamodb.clone(),
        &config.common.table_prefix,
        &cursor_keys,
    ));
    let session_cache = Arc::new(SessionCache::new(config.session_cache_ttl));
    let metrics = Arc::new(Metrics::new());
    let oidc = config.oidc.clone().map(|settings| {
        let http = common::http_client::client(config.common.request_timeout);
        Arc::new(OidcVerifier::new(settings, http))
    });
    let client_addresses = ClientAddresses::new(config.client_addresses.clone(), oidc.clone())?;
    let bootstrap_admin = config
        .admin
        .as_ref()
        .map(|admin| Username::parse(&admin.username))
        .transpose()
        .map_err(|e| anyhow::anyhow!("ADMIN_USERNAME {e}"))?;
    let state = AppState {
        users: Arc::new(ForgetfulUsers {
            store: store.clone(),
            cache: session_cache.clone(),
        }),
        sessions: Arc::new(ForgetfulSessions {
            store: store.clone(),
            cache: session_cache.clone(),
        }),
        session_cache,
        avatars: Arc::new(S3AvatarStore::new(
            s3.clone(),
            config.avatar_bucket.clone(),
            config.avatar_public_base_url.clone(),
            config.avatar_url_ttl,
        )),
        hasher: PasswordHasher::new(config.hash_cost)?,
        session_ttl: config.session_ttl,
        avatar_max_bytes: config.avatar_max_bytes,
        limits: AbuseLimiters::new(&config.abuse_limits),
        bootstrap_admin: bootstrap_admin.clone(),
        audit: Audit::register(&metrics),
        directory_public: config.directory_public,
        client_addresses,
        operators: oidc,
    };
    if let (Some(admin), Some(username)) = (&config.admin, &bootstrap_admin) {
        let password = match &admin.password {
            AdminPassword::Plain(secret) => secret.clone(),
            AdminPassword::SecretId(id) => secrets
                .get(id)
                .await
                .with_context(|| format!("reading the admin password from secret {id}"))?,
        };
        ensure_admin(&state, username, password.expose()).await?;
    }
    let health = Health::new(vec![
        Arc::new(DynamoTablesCheck {
            client: dynamodb,
            tables: store.table_names(),
        }),
        Arc::new(S3BucketCheck {
            client: s3,
            bucket: config.avatar_bucket.clone(),
        }),
    ]);
    let users = state.users.clone();
    let app = App {
        api: routes::router(state, config.common.max_body_bytes),
        spec: routes::spec(config.oidc.as_ref()),
        health,
        metrics,
    };
    Ok(Application::new(app.into_service(&config.common))
        .with_background(move |stop| backfill_listing(users, stop))
        // Keys from Secrets Manager are re-read, so a rotation needs no restart.
        .with_background(move |stop| {
            cursor_keys.refresh_every(std::time::Duration::from_secs(300), stop)
        }))
}

/// Puts accounts written without `listing` (by a version before the accounts index, or
/// imported) into the index, once per start, beside serving: an account a replica of the
/// older version signs up during a rolling update is in it after the next start. A failed
/// pass is logged and tried again a minute later.
async fn backfill_listing(users: Arc<dyn store::UserStore>, stop: CancellationToken) {
    loop {
        let pass = tokio::select! {
            () = stop.cancelled() => return,
            pass = users.backfill_listing() => pass,
        };
        match pass {
            Ok(0) => return,
            Ok(changed) => {
                tracing::info!(changed, "accounts put into the accounts index");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "accounts index backfill failed; retrying in a minute")
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
        }
    }
}

/// Creates the configured admin account unless it exists. An existing account of that
/// name is never promoted: whoever registered it (before the name was configured) would
/// become admin with their own password. Its name is refused instead, and the service
/// does not start. An existing admin's password is left alone: rotating the secret must
/// not silently reset it.
async fn ensure_admin(state: &AppState, username: &Username, password: &str) -> anyhow::Result<()> {
    let password =
        Password::parse(password.to_owned()).map_err(|e| anyhow::anyhow!("admin password {e}"))?;
    let taken_by = |role: Role| match role {
        Role::Admin => Ok(()),
        Role::User => Err(anyhow::anyhow!(
            "ADMIN_USERNAME {username} belongs to an existing account that is not an admin; \
             it is never promoted: configure another name"
        )),
    };
    // Every start but the first finds the account: no password hash (tens of ms) for it.
    if let Some(existing) = state
        .users
        .get(username)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        return taken_by(existing.role);
    }
    let record =
        UserRecord::new_account(username, state.hasher.hash(&password).await?, Role::Admin);
    match state.users.create(&record).await {
        Ok(()) => {
            state.audit.admin_created(username, "bootstrap");
            Ok(())
        }
        // Another replica starting at the same moment created it, or somebody else did.
        Err(StoreError::AlreadyExists) => {
            let existing = state
                .users
                .get(username)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            taken_by(existing.map_or(Role::User, |user| user.role))
        }
        Err(other) => anyhow::bail!("creating the admin account: {other}"),
    }
}
