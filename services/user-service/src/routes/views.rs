//! What the routes answer with, shared by more than one of them.
use common::timestamp::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::{Role, UserRecord};
use crate::error::ApiError;
use crate::state::AppState;

/// An account as its owner (or an admin) sees it. Never includes the password hash.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"username": "ada", "name": "Ada Lovelace", "email": "ada@example.com",
    "avatar_url": null, "role": "user", "profile": {"city": "London"},
    "created_at": "2026-12-06T11:20:46.448986242Z", "updated_at": "2026-12-06T11:20:46.448986242Z"}))]
pub struct UserView {
    username: String,
    name: Option<String>,
    email: Option<String>,
    /// A time-limited link to the avatar image.
    avatar_url: Option<String>,
    role: Role,
    /// Free-form profile data.
    #[schema(value_type = Object)]
    profile: Map<String, Value>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl UserView {
    pub async fn from_record(user: UserRecord, state: &AppState) -> Result<Self, ApiError> {
        let avatar_url = state.avatar_link(user.avatar_key.as_deref()).await?;
        Ok(Self {
            username: user.username,
            name: Some(user.name).filter(|n| !n.is_empty()),
            email: Some(user.email).filter(|e| !e.is_empty()),
            avatar_url,
            role: user.role,
            profile: user.profile,
            created_at: user.created_at,
            updated_at: user.updated_at,
        })
    }
}
