use std::fmt;

/// A username: 3 to 32 characters of `a-z`, `0-9`, `.`, `_`, `-`, starting with a letter or
/// digit. Stored lowercase, so `Ada` and `ada` are the same account.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub const MIN: usize = 3;
    pub const MAX: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim().to_ascii_lowercase();
        let length = name.chars().count();
        if !(Self::MIN..=Self::MAX).contains(&length) {
            return Err(format!(
                "must be {} to {} characters long",
                Self::MIN,
                Self::MAX
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err("may contain only letters, digits, '.', '_' and '-'".into());
        }
        if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err("must start with a letter or a digit".into());
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            Username::parse(" Ada.L_1-x ").unwrap().as_str(),
            "ada.l_1-x"
        );
    }

    #[test]
    fn rejects_bad_usernames() {
        for bad in [
            "ab",
            &"a".repeat(33),
            "ada lovelace",
            "_ada",
            "ada!",
            "ädä",
            "",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn length_bounds_are_inclusive() {
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
    }
}
