//! `/admin/accounts`: every account with its username and role, for admins (the console's
//! account pages). The directory (`GET /users`) keeps the original's item shape.
use axum::extract::State;
use common::extract::Json;
use common::paging::{Listed, PageQuery, PageView};
use common::timestamp::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Role, UserRecord};
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

/// An account as an admin lists it: no profile data, no password hash.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"username": "ada", "name": "Ada Lovelace", "email": "ada@example.com",
    "role": "user", "created_at": "2026-12-06T11:20:46.448986242Z", "avatar_url": null}))]
pub struct AccountSummary {
    username: String,
    name: Option<String>,
    email: Option<String>,
    role: Role,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// A link a browser can load: presigned (time-limited) or under `AVATAR_PUBLIC_BASE_URL`.
    avatar_url: Option<String>,
}

/// `{"accounts": [..], "next": ..}` (named for the spec's macro, which takes no generics).
pub type AccountSummaryPage = PageView<AccountSummary>;

impl Listed for AccountSummary {
    const ITEMS: &'static str = "accounts";
    const ITEMS_DOC: Option<&'static str> = Some("Accounts in username order.");
}

impl AccountSummary {
    async fn from_record(user: UserRecord, state: &AppState) -> Result<Self, ApiError> {
        let avatar_url = state.avatar_link(user.avatar_key.as_deref()).await?;
        Ok(Self {
            username: user.username,
            name: Some(user.name).filter(|n| !n.is_empty()),
            email: Some(user.email).filter(|e| !e.is_empty()),
            role: user.role,
            created_at: user.created_at,
            avatar_url,
        })
    }
}

/// Every account, a page at a time in username order (admins: an admin's session, or an
/// operator's access token with the scope `users:admin`).
#[utoipa::path(get, path = "/admin/accounts", tag = "accounts",
    params(
        ("limit" = Option<u32>, Query, description = "Accounts per page, 1 to 100 (default 20)", minimum = 1, maximum = 100),
        ("next" = Option<String>, Query, description = "The `next` of the previous page"),
    ),
    security(("session" = []), ("oidc" = ["users:admin"])),
    responses(
        (status = 200, description = "A page of accounts; `next` names the following page", body = AccountSummaryPage),
        (status = 400, description = "Bad cursor or query"),
        (status = 401, description = "No valid session or access token"),
        (status = 403, description = "Not an admin, or a token without the scope users:admin"),
        (status = 422, description = "Limit out of range"),
    ))]
pub async fn list_accounts(
    State(state): State<AppState>,
    current: CurrentUser,
    query: PageQuery,
) -> Result<Json<AccountSummaryPage>, ApiError> {
    current.require_admin()?;
    let limit = query.limit()?;
    let page = state
        .users
        .list_accounts(limit, query.cursor())
        .await
        .map_err(|error| query.problem(error))?;
    let mut accounts = Vec::with_capacity(page.items.len());
    for user in page.items {
        accounts.push(AccountSummary::from_record(user, &state).await?);
    }
    Ok(Json(PageView {
        items: accounts,
        next: page.next,
    }))
}
