//! Okta's wire format (what the Users API sends) and the capability parameters and
//! results (what callers see).
use common::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::capability::{Output, Params};

/// A user as Okta's Users API returns it (only the fields this service uses).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUser {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub status_changed: Option<String>,
    #[serde(default)]
    pub last_updated: Option<String>,
    #[serde(default)]
    pub profile: WireProfile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireProfile {
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

/// Okta's error body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireError {
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub error_summary: String,
    #[serde(default)]
    pub error_id: String,
    #[serde(default)]
    pub error_causes: Vec<WireCause>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireCause {
    #[serde(default)]
    pub error_summary: String,
}

/// An Okta user.
#[derive(Debug, Serialize, ToSchema)]
pub struct OktaUser {
    /// Okta's user id.
    pub id: String,
    /// Lifecycle status: STAGED, PROVISIONED, ACTIVE, RECOVERY, PASSWORD_EXPIRED,
    /// LOCKED_OUT, SUSPENDED or DEPROVISIONED.
    pub status: String,
    pub login: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created: Option<String>,
    pub status_changed: Option<String>,
    pub last_updated: Option<String>,
}

impl From<WireUser> for OktaUser {
    fn from(user: WireUser) -> Self {
        Self {
            id: user.id,
            status: user.status,
            login: user.profile.login,
            email: user.profile.email,
            first_name: user.profile.first_name,
            last_name: user.profile.last_name,
            created: user.created,
            status_changed: user.status_changed,
            last_updated: user.last_updated,
        }
    }
}

/// Okta's largest page (and its default).
pub const MAX_PAGE: u32 = 200;
/// The largest `limit` with `all=true`; the service's cap (OKTA_LIST_ALL_MAX_USERS) holds
/// the answer lower when it is lower.
pub const MAX_LIST_ALL: u32 = 10_000;

/// Parameters of `list_users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListUsersParams {
    /// The most users in the answer: 1 to 200 (one Okta page; default 200), or with
    /// `all=true` 1 to 10000 across pages (default and ceiling: the service's cap).
    #[schema(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page.
    #[schema(min_length = 1, max_length = 512)]
    pub after: Option<String>,
    /// Okta search expression, e.g. `profile.department eq "Engineering"`.
    #[schema(min_length = 1, max_length = 1024)]
    pub search: Option<String>,
    /// Okta filter expression, e.g. `status eq "ACTIVE"`.
    #[schema(min_length = 1, max_length = 1024)]
    pub filter: Option<String>,
    /// Follow the pages up to `limit`, the service's cap, or while the tenant's Okta rate
    /// limit has more than the reserve left (`truncated` and `next` say it stopped early).
    pub all: Option<bool>,
}

impl Params for ListUsersParams {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(limit) = self.limit {
            let max = if self.all == Some(true) {
                MAX_LIST_ALL
            } else {
                MAX_PAGE
            };
            if !(1..=max).contains(&limit) {
                errors.push(FieldError::new(
                    "limit",
                    format!(
                        "must be between 1 and {MAX_PAGE} (with all=true, 1 and {MAX_LIST_ALL})"
                    ),
                ));
            }
        }
        if let Some(after) = &self.after {
            if after.is_empty() || after.len() > 512 {
                errors.push(FieldError::new(
                    "after",
                    "must be a cursor returned as `next`",
                ));
            }
        }
        for (field, value) in [("search", &self.search), ("filter", &self.filter)] {
            if value
                .as_ref()
                .is_some_and(|v| v.trim().is_empty() || v.len() > 1024)
            {
                errors.push(FieldError::new(field, "must be 1 to 1024 characters"));
            }
        }
        errors
    }
}

/// A page of users (or every page, with `all=true`).
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPage {
    pub users: Vec<OktaUser>,
    /// Pass as `after` to continue; absent when there is nothing more.
    pub next: Option<String>,
    /// With `all=true`: stopped before the last page (at `limit`, the service's cap, or to
    /// leave the tenant's Okta rate limit its reserve); `next` continues.
    pub truncated: bool,
    /// Okta pages fetched for this answer.
    pub pages: u32,
    /// What the answer may not show as it is, e.g. an empty list that more likely means
    /// missing permissions than an empty org.
    pub warnings: Vec<String>,
}

impl Output for UsersPage {}

/// One user, by Okta id.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserParams {
    /// Okta's user id, e.g. `00ub0oNGTSWTBKOLGLNR`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub user_id: String,
}

impl Params for UserParams {
    fn validate(&self) -> Vec<FieldError> {
        let valid = (1..=64).contains(&self.user_id.len())
            && self
                .user_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Vec::new()
        } else {
            vec![FieldError::new(
                "user_id",
                "must be an Okta user id (1-64 letters, digits, - or _)",
            )]
        }
    }
}

impl Output for OktaUser {}

/// The user after a lifecycle change.
#[derive(Debug, Serialize, ToSchema)]
pub struct LifecycleResult {
    pub id: String,
    pub status: String,
}

impl Output for LifecycleResult {}

/// What `delete_user` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteResult {
    pub id: String,
    /// The status found before deleting (DEPROVISIONED after a half-done earlier delete).
    pub previous_status: String,
    /// Whether this call did the first (deactivating) step.
    pub deactivated: bool,
    /// Always true on success: the user no longer exists.
    pub deleted: bool,
}

impl Output for DeleteResult {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_params_report_every_rule_broken() {
        let params = ListUsersParams {
            limit: Some(0),
            after: Some(String::new()),
            search: Some(" ".into()),
            filter: None,
            all: None,
        };
        let fields: Vec<String> = params.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["limit", "after", "search"]);
    }

    #[test]
    fn user_ids_cannot_escape_the_path() {
        for bad in ["", "../admin", "a/b", "id?x=1", &"x".repeat(65)] {
            let params = UserParams {
                user_id: bad.to_owned(),
            };
            assert_eq!(params.validate().len(), 1, "{bad}");
        }
        let good = UserParams {
            user_id: "00ub0oNGTSWTBKOLGLNR".into(),
        };
        assert!(good.validate().is_empty());
    }
}
