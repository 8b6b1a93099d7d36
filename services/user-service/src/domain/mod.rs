//! Types that validate themselves on construction: once a value exists, it is valid; and
//! the records the store persists.
mod avatar;
mod image_end;
mod password;
mod profile;
mod records;
mod role;
mod username;

pub use avatar::{AvatarError, AvatarImage};
pub use common::domain::{DisplayName, Email};
pub use password::Password;
pub use profile::Profile;
pub use records::{DetailsUpdate, DirectoryRecord, SessionRecord, UserRecord};
pub use role::Role;
pub use username::Username;
