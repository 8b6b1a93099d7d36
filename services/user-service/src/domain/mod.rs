//! Types that validate themselves on construction: once a value exists, it is valid.
mod avatar;
mod password;
mod profile;
mod role;
mod username;

pub use avatar::{AvatarError, AvatarImage};
pub use common::domain::{DisplayName, Email};
pub use password::Password;
pub use profile::Profile;
pub use role::Role;
pub use username::Username;
