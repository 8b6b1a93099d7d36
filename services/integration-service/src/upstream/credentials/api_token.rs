//! Okta API tokens (`SSWS`): the `api_token` method.
use std::sync::Arc;

use async_trait::async_trait;
use common::secrets::SecretStore;
use reqwest::header::AUTHORIZATION;
use tokio::time::Instant;

use super::{read_secret, sensitive, AuthError, Authenticator};

/// Okta API token: `Authorization: SSWS <token>`.
pub struct ApiToken {
    secrets: Arc<dyn SecretStore>,
    secret_name: String,
}

impl ApiToken {
    pub fn new(secrets: Arc<dyn SecretStore>, secret_name: String) -> Self {
        Self {
            secrets,
            secret_name,
        }
    }
}

#[async_trait]
impl Authenticator for ApiToken {
    async fn authorize(
        &self,
        request: &mut reqwest::Request,
        _deadline: Instant,
    ) -> Result<(), AuthError> {
        let token = read_secret(self.secrets.as_ref(), &self.secret_name, "api_token").await?;
        request
            .headers_mut()
            .insert(AUTHORIZATION, sensitive(format!("SSWS {}", token.expose())));
        Ok(())
    }

    async fn invalidate(&self) {
        self.secrets.invalidate(&self.secret_name).await;
    }
}
