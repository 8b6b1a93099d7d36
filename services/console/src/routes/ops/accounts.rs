//! Accounts (user-service admins' view, through an operator's `users:admin` token): the
//! directory with usernames, and deleting an account behind a confirmation (user-service
//! never deletes the last admin).
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde::Deserialize;

use super::{listing_path, Pager, UrlId};
use crate::error::ConsoleError;
use crate::page::{page, see_other, Chrome, When};
use crate::state::AppState;
use crate::upstream::Service;
use crate::web::Operator;

const ACCOUNTS_PER_PAGE: u32 = 25;

#[derive(Deserialize)]
pub struct AccountItem {
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: String,
    pub created_at: Option<String>,
    pub avatar_url: Option<String>,
}

impl AccountItem {
    pub fn created(&self) -> Option<When> {
        self.created_at.as_deref().and_then(When::parse)
    }
}

#[derive(Deserialize)]
struct AccountsAnswer {
    accounts: Vec<AccountItem>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct AccountsQuery {
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "ops/accounts.html")]
struct AccountsPage {
    chrome: Chrome,
    accounts: Vec<AccountItem>,
    /// user-service has no admin account list (an older version).
    unavailable: bool,
    pager: Pager,
}

/// `GET /ops/accounts`.
pub async fn index(
    State(state): State<AppState>,
    mut operator: Operator,
    Query(query): Query<AccountsQuery>,
) -> Result<Response, ConsoleError> {
    let path = listing_path(
        "/admin/accounts",
        &[],
        ACCOUNTS_PER_PAGE,
        "next",
        query.next.as_deref(),
    );
    let answer: Result<AccountsAnswer, _> = operator
        .call(&state, Service::Users, Method::GET, &path, |r| r)
        .await?;
    let (accounts, next, unavailable) = match answer {
        Ok(answer) => (answer.accounts, answer.next, false),
        Err(error) if matches!(error.status(), Some(404 | 405)) => (Vec::new(), None, true),
        Err(error) => return Err(ConsoleError::from_call(error, true)),
    };
    Ok(page(AccountsPage {
        chrome: operator.visitor.chrome("accounts"),
        pager: Pager::new(
            "/ops/accounts",
            &[],
            query.next.is_some(),
            next.as_deref(),
            "next",
        ),
        accounts,
        unavailable,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct Account {
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub role: String,
}

#[derive(Template)]
#[template(path = "ops/account_delete.html")]
struct DeletePage {
    chrome: Chrome,
    account: Account,
}

/// `GET /ops/accounts/{username}/delete`: the confirmation, naming the account.
pub async fn confirm_delete(
    State(state): State<AppState>,
    mut operator: Operator,
    Path(username): Path<String>,
) -> Result<Response, ConsoleError> {
    let username = UrlId::parse(&username)?;
    let account: Account = operator
        .fetch(
            &state,
            Service::Users,
            &format!("/user/{}", username.as_str()),
        )
        .await?;
    Ok(page(DeletePage {
        chrome: operator.visitor.chrome("accounts"),
        account,
    })
    .into_response())
}

/// `POST /ops/accounts/{username}/delete`.
pub async fn delete(
    State(state): State<AppState>,
    mut operator: Operator,
    Path(username): Path<String>,
) -> Result<Response, ConsoleError> {
    let username = UrlId::parse(&username)?;
    let path = format!("/user/{}", username.as_str());
    operator
        .call::<()>(&state, Service::Users, Method::DELETE, &path, |r| r)
        .await?
        .map_err(|error| ConsoleError::from_call(error, true))?;
    Ok(see_other("/ops/accounts?done=account-deleted"))
}
