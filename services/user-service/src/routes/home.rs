//! `GET /`: the greeting, personal with a valid session.
use common::extract::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::views::UserView;
use crate::error::ApiError;
use crate::session::MaybeUser;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Greeting {
    /// `Hello World` for anonymous callers, `Hello <username>` with a session.
    message: String,
    /// Present with a valid session: who you are.
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    /// Present with a valid session: your account.
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<UserView>,
}

/// Greets the caller; with a valid session, shows their account.
#[utoipa::path(get, path = "/", tag = "accounts",
    security((), ("session" = [])),
    responses(
        (status = 200, description = "A greeting", body = Greeting),
    ))]
pub async fn home(
    axum::extract::State(state): axum::extract::State<AppState>,
    MaybeUser(user): MaybeUser,
) -> Result<Json<Greeting>, ApiError> {
    let greeting = match user {
        None => Greeting {
            message: "Hello World".into(),
            username: None,
            data: None,
        },
        Some(current) => Greeting {
            message: format!("Hello {}", current.user.username),
            username: Some(current.user.username.clone()),
            data: Some(UserView::from_record(current.user, &state).await?),
        },
    };
    Ok(Json(greeting))
}
