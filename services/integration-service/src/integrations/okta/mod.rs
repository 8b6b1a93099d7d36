//! Okta Users API: list, get, suspend and delete users of the tenant's Okta org.
pub mod model;

use std::sync::Arc;

use axum::http::StatusCode;
use common::http_client::Idempotency;
use reqwest::header::LINK;

use crate::capability::{Call, Capability, Integration};
use crate::error::{ApiError, Error};
use crate::tenants::AuthKind;
use crate::upstream::{Exchange, UpstreamError, UpstreamRequest};
use model::{
    DeleteResult, LifecycleResult, ListUsersParams, OktaUser, UserParams, UsersPage, WireError,
    WireUser, MAX_PAGE,
};

pub struct Okta {
    /// Hard cap of users returned by one `list_users?all=true`.
    list_all_max_users: usize,
}

impl Okta {
    pub fn new(list_all_max_users: usize) -> Arc<Self> {
        Arc::new(Self { list_all_max_users })
    }
}

impl Integration for Okta {
    fn name(&self) -> &'static str {
        "okta"
    }

    fn description(&self) -> &'static str {
        "Users of the tenant's Okta org (Okta Users API)"
    }

    fn auth_methods(&self) -> &'static [AuthKind] {
        &[AuthKind::ApiToken, AuthKind::OauthPrivateKeyJwt]
    }

    fn capabilities(self: Arc<Self>) -> Vec<Capability> {
        let this = self.clone();
        vec![
            Capability::read("list_users", "List users, a page at a time or all pages", move |call, params| {
                let this = this.clone();
                async move { this.list_users(call, params).await }
            })
            .describe(
                "One page (`limit`, `after`), optionally narrowed by Okta `search`/`filter`; \
                 `all=true` follows the pages up to the service's cap and says when it stopped \
                 early (`truncated`, with `next` to continue).",
            ),
            Capability::read("get_user", "One user by id", |call, params: UserParams| async move {
                let exchange = get_user(&call, &params.user_id).await?;
                Ok(OktaUser::from(exchange.json::<WireUser>()?))
            }),
            Capability::write("suspend_user", "Suspend an ACTIVE user", |call, params: UserParams| async move {
                suspend_user(&call, &params.user_id).await
            })
            .describe(
                "Only ACTIVE users can be suspended; any other status answers 409. Not retried \
                 after an ambiguous failure (504 then: check the user before repeating).",
            )
            .responds(StatusCode::CONFLICT, "The user is not ACTIVE")
            .responds(StatusCode::GATEWAY_TIMEOUT, "The outcome is unknown (the request may have reached Okta)"),
            Capability::write("delete_user", "Deactivate and delete a user", |call, params: UserParams| async move {
                delete_user(&call, &params.user_id).await
            })
            .describe(
                "Okta deletes in two steps (the first DELETE deactivates, the second deletes); \
                 both are done. Repeating after a half-done delete finishes it; a user that no \
                 longer exists at the first lookup is a 404.",
            ),
        ]
    }
}

/// Okta's rate-limit buckets for the Users API ("Management rate limits",
/// https://developer.okta.com/docs/reference/rl-global-mgmt/): listing and creating users,
/// reading one user, and changing one user (lifecycle operations included) are separate
/// quotas, so exhausting one never holds back the others.
const USERS_BUCKET: &str = "users";
const USER_READ_BUCKET: &str = "user";
const USER_WRITE_BUCKET: &str = "user_write";

const EMPTY_ORG_WARNING: &str = "Okta listed no users at all, which a real org never has: \
     the tenant's Okta app probably has no admin role (Okta then answers an empty list)";

fn user_path(id: &str) -> String {
    // Ids are validated to [A-Za-z0-9_-]: nothing to escape.
    format!("/api/v1/users/{id}")
}

impl Okta {
    /// One page, or with `all=true` Okta's largest pages until `limit` (held to the cap),
    /// the last page, or the tenant's rate limit down to its reserve: one caller's listing
    /// must not spend what the tenant's other calls need.
    async fn list_users(&self, call: Call, params: ListUsersParams) -> Result<UsersPage, ApiError> {
        let all = params.all.unwrap_or(false);
        let wanted = match (all, params.limit) {
            (true, limit) => limit.map_or(self.list_all_max_users, |limit| {
                (limit as usize).min(self.list_all_max_users)
            }),
            (false, limit) => limit.unwrap_or(MAX_PAGE) as usize,
        };
        let mut users = Vec::new();
        let mut after = params.after.clone();
        let mut pages = 0;
        let truncated = loop {
            // The last page is shortened so `next` continues exactly where this stops.
            let page_size = (wanted - users.len()).min(MAX_PAGE as usize);
            let mut request = UpstreamRequest::get("list_users", "/api/v1/users")
                .bucket(USERS_BUCKET)
                .query("limit", page_size.to_string());
            for (name, value) in [
                ("after", &after),
                ("search", &params.search),
                ("filter", &params.filter),
            ] {
                if let Some(value) = value {
                    request = request.query(name, value.clone());
                }
            }
            let exchange = call.upstream.call(&request, call.deadline).await?;
            if !exchange.status.is_success() {
                return Err(okta_error(&exchange, Context::List(&params)).into());
            }
            let page: Vec<WireUser> = exchange.json()?;
            pages += 1;
            users.extend(page.into_iter().map(OktaUser::from));
            after = next_cursor(&exchange);
            if !all || after.is_none() {
                break false;
            }
            if users.len() >= wanted {
                break true;
            }
            if !call.upstream.rate_has_spare(USERS_BUCKET) {
                tracing::info!(
                    tenant = %call.tenant,
                    pages,
                    "list_users stopped early: the tenant's Okta rate limit is down to its reserve"
                );
                break true;
            }
        };
        // Okta answers `200 []` to a service app without an admin role instead of a 403
        // (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/#assign-admin-roles-to-the-oauth-2-0-service-app).
        // An org always holds at least its admin, so an empty unfiltered first page is
        // never the truth about the org: say so rather than present it as fact.
        let unfiltered_start =
            params.after.is_none() && params.search.is_none() && params.filter.is_none();
        let warnings = if users.is_empty() && unfiltered_start {
            vec![EMPTY_ORG_WARNING.to_owned()]
        } else {
            Vec::new()
        };
        Ok(UsersPage {
            users,
            next: after,
            truncated,
            pages,
            warnings,
        })
    }
}

async fn get_user(call: &Call, id: &str) -> Result<Exchange, ApiError> {
    let exchange = call
        .upstream
        .call(
            &UpstreamRequest::get("get_user", user_path(id)).bucket(USER_READ_BUCKET),
            call.deadline,
        )
        .await?;
    if exchange.status.is_success() {
        Ok(exchange)
    } else {
        Err(okta_error(&exchange, Context::User(id)).into())
    }
}

async fn suspend_user(call: &Call, id: &str) -> Result<LifecycleResult, ApiError> {
    // Not idempotent in the retry sense: after a timeout the suspend may have happened,
    // and a repeat would answer "not active". Refusals (429, connect errors) are retried.
    let request = UpstreamRequest::post(
        "suspend_user",
        format!("{}/lifecycle/suspend", user_path(id)),
    )
    .bucket(USER_WRITE_BUCKET);
    let exchange = call.upstream.call(&request, call.deadline).await?;
    if exchange.status.is_success() {
        Ok(LifecycleResult {
            id: id.to_owned(),
            status: "SUSPENDED".into(),
        })
    } else {
        Err(okta_error(&exchange, Context::Suspend(id)).into())
    }
}

async fn delete_user(call: &Call, id: &str) -> Result<DeleteResult, ApiError> {
    let user: WireUser = get_user(call, id).await?.json()?;
    // Repeating either DELETE cannot overshoot the goal (a deleted user), so both retry.
    let delete = UpstreamRequest::delete("delete_user", user_path(id))
        .idempotency(Idempotency::Idempotent)
        .bucket(USER_WRITE_BUCKET);
    let deactivated = user.status != "DEPROVISIONED";
    if deactivated {
        let exchange = call.upstream.call(&delete, call.deadline).await?;
        if exchange.status == StatusCode::NOT_FOUND {
            // Deleted by someone else meanwhile: the goal is reached.
            return Ok(DeleteResult {
                id: id.to_owned(),
                previous_status: user.status,
                deactivated: false,
                deleted: true,
            });
        }
        if !exchange.status.is_success() {
            return Err(okta_error(&exchange, Context::User(id)).into());
        }
    }
    let exchange = call.upstream.call(&delete, call.deadline).await?;
    // 404 here means a retried first DELETE already went through as the second one.
    if !exchange.status.is_success() && exchange.status != StatusCode::NOT_FOUND {
        return Err(okta_error(&exchange, Context::User(id)).into());
    }
    Ok(DeleteResult {
        id: id.to_owned(),
        previous_status: user.status,
        deactivated,
        deleted: true,
    })
}

/// The `after` cursor of the `Link: <...>; rel="next"` header, if any.
fn next_cursor(exchange: &Exchange) -> Option<String> {
    exchange
        .headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|link| {
            let (target, attributes) = link.split_once(';')?;
            let is_next = attributes
                .split(';')
                .any(|a| matches!(a.trim(), "rel=\"next\"" | "rel=next"));
            if !is_next {
                return None;
            }
            let url = url::Url::parse(target.trim().trim_start_matches('<').trim_end_matches('>'))
                .ok()?;
            url.query_pairs()
                .find(|(name, _)| name == "after")
                .map(|(_, value)| value.into_owned())
        })
}

/// The scope a 403 names as missing: Okta sends `WWW-Authenticate: Bearer ...,
/// scope="okta.users.manage", error="insufficient_scope"` (RFC 6750 section 3.1;
/// https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/).
/// Only scope-shaped values are passed on.
fn missing_scope(exchange: &Exchange) -> Option<String> {
    let challenge = exchange
        .headers
        .get(reqwest::header::WWW_AUTHENTICATE)?
        .to_str()
        .ok()?;
    let parameter = |name: &str| {
        challenge.split(',').find_map(|part| {
            let (key, value) = part.trim().trim_start_matches("Bearer ").split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
        })
    };
    let scope = parameter("scope")?;
    let well_formed = !scope.is_empty()
        && scope.len() <= 100
        && scope
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' '));
    (parameter("error").as_deref() == Some("insufficient_scope") && well_formed).then_some(scope)
}

/// What the failed call was about, for a precise error.
enum Context<'a> {
    List(&'a ListUsersParams),
    User(&'a str),
    Suspend(&'a str),
}

/// Maps Okta's error answers to this service's errors. Okta's summaries and error ids
/// are safe to pass on (they never contain credentials) and help support find the call.
fn okta_error(exchange: &Exchange, context: Context<'_>) -> Error {
    let error: WireError = serde_json::from_slice(&exchange.body).unwrap_or_default();
    let causes: Vec<&str> = error
        .error_causes
        .iter()
        .map(|cause| cause.error_summary.as_str())
        .filter(|summary| !summary.is_empty())
        .collect();
    let okta_says = if causes.is_empty() {
        error.error_summary.clone()
    } else {
        format!("{} ({})", error.error_summary, causes.join("; "))
    };
    match (exchange.status, error.error_code.as_str(), &context) {
        (StatusCode::NOT_FOUND, _, Context::User(id) | Context::Suspend(id)) => {
            Error::NotFound(format!("The tenant's Okta org has no user `{id}`"))
        }
        // Okta refuses a suspend of a non-ACTIVE user with either 400 E0000001 or 403
        // E0000038 ("not allowed in the user's current status"): both are the user's state,
        // not our credentials (https://developer.okta.com/docs/reference/error-codes/).
        (StatusCode::BAD_REQUEST, "E0000001", Context::Suspend(id))
        | (StatusCode::FORBIDDEN, "E0000038", Context::Suspend(id)) => Error::Conflict(format!(
            "User `{id}` cannot be suspended: only ACTIVE users can be. Okta says: {okta_says}"
        )),
        (StatusCode::BAD_REQUEST, _, Context::List(params)) => {
            let field = if params.search.is_some() {
                "search"
            } else if params.filter.is_some() {
                "filter"
            } else {
                "after"
            };
            Error::Rejected {
                field: field.into(),
                message: format!("rejected by Okta: {okta_says}"),
            }
        }
        (StatusCode::FORBIDDEN, _, _) => match missing_scope(exchange) {
            Some(scope) => Error::Upstream(UpstreamError::CredentialsRejected(format!(
                "the tenant's Okta access token lacks the scope `{scope}`: grant it to the \
                 Okta app and add it to the tenant's `scopes`"
            ))),
            None => Error::Upstream(UpstreamError::CredentialsRejected(format!(
                "the credentials lack the permission for this call ({})",
                error.error_code
            ))),
        },
        (status, code, _) => Error::Upstream(UpstreamError::InvalidResponse(format!(
            "Okta answered {status} {code}: {okta_says} (errorId {})",
            error.error_id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;

    fn exchange_with_links(links: &[&str]) -> Exchange {
        let mut headers = HeaderMap::new();
        for link in links {
            headers.append(LINK, link.parse().unwrap());
        }
        Exchange {
            status: StatusCode::OK,
            headers,
            body: Default::default(),
        }
    }

    #[test]
    fn next_cursor_comes_from_the_next_link_only() {
        let exchange = exchange_with_links(&[
            "<https://acme.okta.com/api/v1/users?limit=2>; rel=\"self\"",
            "<https://acme.okta.com/api/v1/users?after=00u2&limit=2>; rel=\"next\"",
        ]);
        assert_eq!(next_cursor(&exchange).as_deref(), Some("00u2"));
        let combined = exchange_with_links(&[
            "<https://a.example/api/v1/users?limit=2>; rel=\"self\", <https://a.example/api/v1/users?after=x%3D1&limit=2>; rel=\"next\"",
        ]);
        assert_eq!(next_cursor(&combined).as_deref(), Some("x=1"));
        let last = exchange_with_links(&["<https://a.example/api/v1/users?limit=2>; rel=\"self\""]);
        assert_eq!(next_cursor(&last), None);
    }

    #[test]
    fn suspend_of_a_non_active_user_is_a_conflict_with_okta_s_words() {
        let exchange = Exchange {
            status: StatusCode::BAD_REQUEST,
            headers: HeaderMap::new(),
            body: br#"{"errorCode":"E0000001","errorSummary":"Api validation failed: suspend","errorId":"oae1","errorCauses":[{"errorSummary":"Cannot suspend a user that is not active"}]}"#.as_slice().into(),
        };
        match okta_error(&exchange, Context::Suspend("00u1")) {
            Error::Conflict(detail) => {
                assert!(
                    detail.contains("only ACTIVE") && detail.contains("not active"),
                    "{detail}"
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
