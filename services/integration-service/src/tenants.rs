//! Tenant configuration: which integrations each tenant uses, where their APIs live, how
//! to authenticate, and which secret holds the credentials. Secrets themselves are never
//! in this file; it names them.
//!
//! ```json
//! {
//!   "acme": {
//!     "okta":      { "base_url": "https://acme.okta.com", "auth": { "method": "api_token" } },
//!     "providers": { "base_url": "https://partner.example", "auth": { "method": "checksum" } }
//!   },
//!   "globex": {
//!     "okta": { "base_url": "https://globex.okta.com",
//!               "auth": { "method": "oauth_private_key_jwt", "client_id": "0oa1", "key_id": "k1",
//!                         "scopes": ["okta.users.read", "okta.users.manage"] },
//!               "secret": "integrations/globex/okta", "max_concurrency": 4, "timeout_seconds": 5 },
//!     "providers": { "base_url": "https://partner.example", "auth": { "method": "checksum" },
//!                    "fields": { "name": "{first_name} {last_name}", "npi": "{npi_number}" } }
//!   }
//! }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::integrations::providers::model::FieldMapping;

/// How the service authenticates to a tenant's upstream API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// `Authorization: SSWS <token>`; the secret is the token (or JSON `{"api_token": ...}`).
    ApiToken,
    /// OAuth 2.0 client credentials with a `private_key_jwt` client assertion; the secret is
    /// the RSA private key PEM (or JSON `{"private_key": ...}`).
    OauthPrivateKeyJwt {
        client_id: String,
        /// `kid` of the key registered with the authorization server.
        #[serde(default)]
        key_id: Option<String>,
        scopes: Vec<String>,
        /// Defaults to `<base_url>/oauth2/v1/token` (Okta's org authorization server).
        #[serde(default)]
        token_url: Option<Url>,
    },
    /// The partner scheme: `GET /auth` yields a token, each call carries
    /// `X-Request-Checksum: hex(sha256(token + path))`. Needs no stored secret.
    Checksum,
}

impl AuthConfig {
    pub fn kind(&self) -> AuthKind {
        match self {
            Self::ApiToken => AuthKind::ApiToken,
            Self::OauthPrivateKeyJwt { .. } => AuthKind::OauthPrivateKeyJwt,
            Self::Checksum => AuthKind::Checksum,
        }
    }
}

/// The auth methods an integration can be configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    ApiToken,
    OauthPrivateKeyJwt,
    Checksum,
}

/// One tenant's settings for one integration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSettings {
    pub base_url: Url,
    pub auth: AuthConfig,
    /// Secrets Manager name; defaults to `integrations/<tenant>/<integration>`.
    #[serde(default)]
    pub secret: Option<String>,
    /// Upper bound of concurrent upstream calls for this tenant and integration.
    #[serde(default)]
    pub max_concurrency: Option<usize>,
    /// Per-attempt timeout of upstream calls.
    #[serde(default)]
    pub timeout_seconds: Option<f64>,
    /// `providers` only: our provider fields as templates over the partner's records.
    #[serde(default)]
    pub fields: Option<FieldMapping>,
}

impl IntegrationSettings {
    pub fn secret_name(&self, tenant: &str, integration: &str) -> String {
        self.secret
            .clone()
            .unwrap_or_else(|| format!("integrations/{tenant}/{integration}"))
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_seconds.map(Duration::from_secs_f64)
    }
}

/// tenant id → integration name → settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Tenants(pub BTreeMap<String, BTreeMap<String, IntegrationSettings>>);

impl Tenants {
    pub fn parse(json: &str) -> Result<Self, String> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let tenants: Self = serde_path_to_error::deserialize(de)
            .map_err(|e| format!("tenant config at `{}`: {}", e.path(), e.inner()))?;
        for (tenant, integrations) in &tenants.0 {
            if !valid_tenant_id(tenant) {
                return Err(format!(
                    "tenant id `{tenant}`: use 1-64 lowercase letters, digits and dashes"
                ));
            }
            for (name, settings) in integrations {
                if !matches!(settings.base_url.scheme(), "http" | "https") {
                    return Err(format!("{tenant}.{name}.base_url must be http(s)"));
                }
                if settings.max_concurrency == Some(0) {
                    return Err(format!(
                        "{tenant}.{name}.max_concurrency must be at least 1"
                    ));
                }
                if settings.fields.is_some() && name != "providers" {
                    return Err(format!(
                        "{tenant}.{name}.fields: only the providers integration maps fields"
                    ));
                }
                if settings
                    .timeout_seconds
                    .is_some_and(|t| !t.is_finite() || t <= 0.0)
                {
                    return Err(format!("{tenant}.{name}.timeout_seconds must be positive"));
                }
            }
        }
        Ok(tenants)
    }

    pub fn get(&self, tenant: &str, integration: &str) -> Option<&IntegrationSettings> {
        self.0.get(tenant)?.get(integration)
    }

    pub fn contains(&self, tenant: &str) -> bool {
        self.0.contains_key(tenant)
    }

    /// Every (tenant, integration, settings) triple.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &IntegrationSettings)> {
        self.0.iter().flat_map(|(tenant, integrations)| {
            integrations
                .iter()
                .map(move |(name, settings)| (tenant.as_str(), name.as_str(), settings))
        })
    }
}

/// Tenant ids appear in secret names, metric labels and table keys: keep them plain.
pub fn valid_tenant_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_auth_method_and_defaults_the_secret_name() {
        let tenants = Tenants::parse(
            r#"{
              "acme": {"okta": {"base_url": "http://127.0.0.1:9102", "auth": {"method": "api_token"}}},
              "globex": {"okta": {"base_url": "http://127.0.0.1:9103", "secret": "custom/name",
                          "auth": {"method": "oauth_private_key_jwt", "client_id": "c1", "scopes": ["okta.users.read"]}},
                         "providers": {"base_url": "http://127.0.0.1:9104", "auth": {"method": "checksum"}}}
            }"#,
        )
        .unwrap();
        let acme = tenants.get("acme", "okta").unwrap();
        assert_eq!(acme.auth, AuthConfig::ApiToken);
        assert_eq!(acme.secret_name("acme", "okta"), "integrations/acme/okta");
        let globex = tenants.get("globex", "okta").unwrap();
        assert_eq!(globex.auth.kind(), AuthKind::OauthPrivateKeyJwt);
        assert_eq!(globex.secret_name("globex", "okta"), "custom/name");
        assert_eq!(tenants.iter().count(), 3);
    }

    #[test]
    fn rejects_typos_and_bad_ids_with_the_place() {
        let err = Tenants::parse(
            r#"{"acme": {"okta": {"base_url": "http://x", "auth": {"method": "api_token"}, "secrt": "a"}}}"#,
        )
        .unwrap_err();
        assert!(err.contains("acme.okta") && err.contains("secrt"), "{err}");
        let err = Tenants::parse(
            r#"{"acme": {"okta": {"base_url": "http://x", "auth": {"method": "magic"}}}}"#,
        )
        .unwrap_err();
        assert!(err.contains("magic"), "{err}");
        let err = Tenants::parse(
            r#"{"acme": {"okta": {"base_url": "http://x", "auth": {"method": "api_token"}, "fields": {"name": "{n}"}}}}"#,
        )
        .unwrap_err();
        assert!(err.contains("acme.okta.fields"), "{err}");
        let err = Tenants::parse(
            r#"{"acme": {"providers": {"base_url": "http://x", "auth": {"method": "checksum"}, "fields": {"nmae": "{n}"}}}}"#,
        )
        .unwrap_err();
        assert!(
            err.contains("acme.providers.fields") && err.contains("nmae"),
            "{err}"
        );
        let err = Tenants::parse(r#"{"Acme Co": {}}"#).unwrap_err();
        assert!(err.contains("Acme Co"), "{err}");
    }
}
