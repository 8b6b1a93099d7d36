use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an account may do: users act on their own account, admins on any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}
