//! Value types more than one service validates the same way: once a value exists, it is valid.
mod email;
mod name;

pub use email::Email;
pub use name::{BoundedText, DisplayName};
