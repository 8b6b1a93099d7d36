//! Types that validate themselves on construction: once a value exists, it is valid.
mod avatar;
mod email;
mod name;
mod password;
mod profile;
mod role;
mod username;

pub use avatar::{AvatarError, AvatarImage};
pub use email::Email;
pub use name::DisplayName;
pub use password::Password;
pub use profile::Profile;
pub use role::Role;
pub use username::Username;
