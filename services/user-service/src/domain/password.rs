use std::fmt;

/// A password as typed: at least 8 characters (NIST SP 800-63B), at most 128 so hashing
/// cost stays bounded. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN: usize = 8;
    pub const MAX: usize = 128;

    pub fn parse(raw: String) -> Result<Self, String> {
        let length = raw.chars().count();
        if length < Self::MIN {
            return Err(format!("must be at least {} characters long", Self::MIN));
        }
        if length > Self::MAX {
            return Err(format!("must be at most {} characters long", Self::MAX));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_length_and_hides_value() {
        assert!(Password::parse("short".into()).is_err());
        assert!(Password::parse("x".repeat(129)).is_err());
        let password = Password::parse("correct horse".into()).unwrap();
        assert_eq!(format!("{password:?}"), "Password(***)");
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(
            Password::parse("ééééééé".into()).is_err(),
            "7 characters, 14 bytes"
        );
    }
}
