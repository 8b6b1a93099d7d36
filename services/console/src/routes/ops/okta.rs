//! A tenant's Okta users: search, paging, suspend and delete behind a confirmation that
//! names the user and the tenant.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{integration_call, listing_path, page_href, upstream_sentence, Pager, UrlId};
use crate::error::ConsoleError;
use crate::page::{page, see_other, Chrome, Page, When};
use crate::state::AppState;
use crate::upstream::UpstreamError;
use crate::web::Operator;

const USERS_PER_PAGE: u32 = 20;

/// An Okta user as integration-service maps it.
#[derive(Deserialize)]
pub struct OktaUser {
    pub id: String,
    pub status: String,
    pub login: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub created: Option<String>,
    pub last_updated: Option<String>,
}

impl OktaUser {
    pub fn name(&self) -> String {
        let name = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if name.is_empty() {
            self.login.clone().unwrap_or_else(|| self.id.clone())
        } else {
            name
        }
    }

    /// The status in words and the chip's tone.
    pub fn status_text(&self) -> (&str, &'static str) {
        let tone = match self.status.as_str() {
            "ACTIVE" => "ok",
            "SUSPENDED" | "LOCKED_OUT" | "PASSWORD_EXPIRED" => "warn",
            "DEPROVISIONED" => "bad",
            _ => "info",
        };
        (self.status.as_str(), tone)
    }

    pub fn created_at(&self) -> Option<When> {
        self.created.as_deref().and_then(When::parse)
    }

    pub fn updated_at(&self) -> Option<When> {
        self.last_updated.as_deref().and_then(When::parse)
    }
}

#[derive(Deserialize)]
struct UsersAnswer {
    users: Vec<OktaUser>,
    next: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    after: Option<String>,
}

/// Okta's user statuses, for the filter.
pub const STATUSES: &[&str] = &[
    "ACTIVE",
    "STAGED",
    "PROVISIONED",
    "RECOVERY",
    "PASSWORD_EXPIRED",
    "LOCKED_OUT",
    "SUSPENDED",
    "DEPROVISIONED",
];

/// The Okta `filter`/`search` for what the person typed: a status alone is a `filter`;
/// with text it is one `search` (Okta refuses both at once), the text as a prefix of the
/// first name, last name or email. `Err` names what cannot be searched for.
fn okta_query(q: &str, status: &str) -> Result<Vec<(&'static str, String)>, &'static str> {
    let q = q.trim();
    if q.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err("The search cannot contain quotes or backslashes.");
    }
    let status = STATUSES.iter().find(|s| **s == status).copied();
    let by_status = status.map(|s| format!("status eq \"{s}\""));
    if q.is_empty() {
        return Ok(by_status.map(|f| ("filter", f)).into_iter().collect());
    }
    let text = format!(
        "(profile.firstName sw \"{q}\" or profile.lastName sw \"{q}\" or profile.email sw \"{q}\")"
    );
    let search = match by_status {
        Some(by_status) => format!("{by_status} and {text}"),
        None => text,
    };
    Ok(vec![("search", search)])
}

#[derive(Template)]
#[template(path = "ops/okta_users.html")]
struct UsersPage {
    chrome: Chrome,
    tenant: String,
    q: String,
    status: String,
    statuses: &'static [&'static str],
    users: Vec<OktaUser>,
    warnings: Vec<String>,
    problem: Option<String>,
    pager: Pager,
}

/// `GET /ops/tenants/{tenant}/okta`: a page of the tenant's Okta users.
pub async fn okta_users(
    State(state): State<AppState>,
    mut operator: Operator,
    Path(tenant): Path<String>,
    Query(query): Query<UsersQuery>,
) -> Result<Response, ConsoleError> {
    let tenant = UrlId::parse(&tenant)?;
    let base = format!("/ops/tenants/{}/okta", tenant.as_str());
    let keep: Vec<(&str, &str)> = [("q", query.q.trim()), ("status", query.status.as_str())]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let view = |operator: &Operator, users, warnings, problem, pager| UsersPage {
        chrome: operator.visitor.chrome("tenants"),
        tenant: tenant.as_str().to_owned(),
        q: query.q.trim().to_owned(),
        status: query.status.clone(),
        statuses: STATUSES,
        users,
        warnings,
        problem,
        pager,
    };
    let params = match okta_query(&query.q, &query.status) {
        Ok(params) => params,
        Err(why) => {
            let empty = Pager::new(&base, &keep, false, None, "after");
            let view = view(
                &operator,
                Vec::new(),
                Vec::new(),
                Some(why.to_owned()),
                empty,
            );
            return Ok(Page(StatusCode::UNPROCESSABLE_ENTITY, view).into_response());
        }
    };
    let filters: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let path = listing_path(
        "/okta/list_users",
        &filters,
        USERS_PER_PAGE,
        "after",
        query.after.as_deref(),
    );
    let result: Result<UsersAnswer, ConsoleError> =
        integration_call(&state, &mut operator, &tenant, Method::GET, &path, None).await;
    match result {
        Ok(answer) => {
            let pager = Pager::new(
                &base,
                &keep,
                query.after.is_some(),
                answer.next.as_deref(),
                "after",
            );
            Ok(page(view(&operator, answer.users, answer.warnings, None, pager)).into_response())
        }
        // Okta refusing the search (or rate limiting) is said in words on the same page.
        Err(ConsoleError::Upstream(UpstreamError::Problem {
            problem,
            retry_after,
            ..
        })) if matches!(problem.status, 400 | 422 | 429 | 502 | 503 | 504) => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_GATEWAY);
            let sentence = upstream_sentence(&problem, retry_after);
            let pager = Pager::new(&base, &keep, false, None, "after");
            Ok(Page(
                status,
                view(&operator, Vec::new(), Vec::new(), Some(sentence), pager),
            )
            .into_response())
        }
        Err(other) => Err(other),
    }
}

async fn get_user(
    state: &AppState,
    operator: &mut Operator,
    tenant: &UrlId,
    user: &UrlId,
) -> Result<OktaUser, ConsoleError> {
    let path = page_href("/okta/get_user", &[("user_id", user.as_str())]);
    integration_call(state, operator, tenant, Method::GET, &path, None).await
}

#[derive(Template)]
#[template(path = "ops/okta_user.html")]
struct UserPage {
    chrome: Chrome,
    tenant: String,
    user: OktaUser,
    problem: Option<String>,
}

/// `GET /ops/tenants/{tenant}/okta/{user}`.
pub async fn okta_user(
    State(state): State<AppState>,
    mut operator: Operator,
    Path((tenant, user)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let (tenant, user) = (UrlId::parse(&tenant)?, UrlId::parse(&user)?);
    let user = get_user(&state, &mut operator, &tenant, &user).await?;
    Ok(page(UserPage {
        chrome: operator.visitor.chrome("tenants"),
        tenant: tenant.as_str().to_owned(),
        user,
        problem: None,
    })
    .into_response())
}

/// What can be done to a user, behind a confirmation.
#[derive(Clone, Copy)]
enum Action {
    Suspend,
    Delete,
}

impl Action {
    fn parse(raw: &str) -> Result<Self, ConsoleError> {
        match raw {
            "suspend" => Ok(Self::Suspend),
            "delete" => Ok(Self::Delete),
            _ => Err(ConsoleError::NotFound),
        }
    }
}

#[derive(Template)]
#[template(path = "ops/okta_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    tenant: String,
    user: OktaUser,
    action: &'static str,
    consequence: &'static str,
}

/// `GET /ops/tenants/{tenant}/okta/{user}/{suspend|delete}`: the confirmation, naming the
/// user, the tenant and what will happen.
pub async fn confirm_action(
    State(state): State<AppState>,
    mut operator: Operator,
    Path((tenant, user, action)): Path<(String, String, String)>,
) -> Result<Response, ConsoleError> {
    let (tenant, user, action) = (
        UrlId::parse(&tenant)?,
        UrlId::parse(&user)?,
        Action::parse(&action)?,
    );
    let user = get_user(&state, &mut operator, &tenant, &user).await?;
    let (action, consequence) = match action {
        Action::Suspend => ("suspend", "The user can no longer sign in to the tenant's Okta org until an administrator unsuspends them."),
        Action::Delete => ("delete", "Okta deactivates the user, then deletes them for good. This cannot be undone."),
    };
    Ok(page(ConfirmPage {
        chrome: operator.visitor.chrome("tenants"),
        tenant: tenant.as_str().to_owned(),
        user,
        action,
        consequence,
    })
    .into_response())
}

/// `POST /ops/tenants/{tenant}/okta/{user}/{suspend|delete}`: does it, then shows the user
/// (or, deleted, the list) with the result; a refusal (only ACTIVE users can be suspended,
/// rate limited until …, outcome unknown) is said in words on the user's page.
pub async fn act(
    State(state): State<AppState>,
    mut operator: Operator,
    Path((tenant, user, action)): Path<(String, String, String)>,
) -> Result<Response, ConsoleError> {
    let (tenant, user_id, action) = (
        UrlId::parse(&tenant)?,
        UrlId::parse(&user)?,
        Action::parse(&action)?,
    );
    let capability = match action {
        Action::Suspend => "/okta/suspend_user",
        Action::Delete => "/okta/delete_user",
    };
    let body = json!({ "user_id": user_id.as_str() });
    let result: Result<serde_json::Value, ConsoleError> = integration_call(
        &state,
        &mut operator,
        &tenant,
        Method::POST,
        capability,
        Some(body),
    )
    .await;
    let user_page = format!("/ops/tenants/{}/okta/{}", tenant.as_str(), user_id.as_str());
    match result {
        Ok(_) => Ok(match action {
            Action::Suspend => see_other(&format!("{user_page}?done=suspended")),
            Action::Delete => see_other(&format!(
                "/ops/tenants/{}/okta?done=user-deleted",
                tenant.as_str()
            )),
        }),
        Err(ConsoleError::Upstream(UpstreamError::Problem {
            problem,
            retry_after,
            ..
        })) if problem.status != 401 && problem.status != 403 => {
            let mut sentence = upstream_sentence(&problem, retry_after);
            if problem.status == 504 {
                sentence.push_str(
                    " The outcome is unknown: check the user's status below before trying again.",
                );
            }
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_GATEWAY);
            match get_user(&state, &mut operator, &tenant, &user_id).await {
                Ok(user) => Ok(Page(
                    status,
                    UserPage {
                        chrome: operator.visitor.chrome("tenants"),
                        tenant: tenant.as_str().to_owned(),
                        user,
                        problem: Some(sentence),
                    },
                )
                .into_response()),
                Err(_) => Err(ConsoleError::Upstream(UpstreamError::Problem {
                    service: "integration-service",
                    problem,
                    retry_after,
                })),
            }
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_alone_is_a_filter_and_text_is_one_search() {
        assert_eq!(
            okta_query("", "SUSPENDED").unwrap(),
            vec![("filter", "status eq \"SUSPENDED\"".to_owned())]
        );
        assert!(okta_query("", "").unwrap().is_empty());
        assert!(okta_query("", "NOT-A-STATUS").unwrap().is_empty());
        let search = okta_query("Am", "ACTIVE").unwrap();
        assert_eq!(search.len(), 1);
        assert_eq!(search[0].0, "search");
        assert!(
            search[0]
                .1
                .starts_with("status eq \"ACTIVE\" and (profile.firstName sw \"Am\""),
            "{}",
            search[0].1
        );
        assert!(okta_query("a\"b", "").is_err());
    }
}
