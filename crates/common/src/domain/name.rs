/// Text a person typed for others to read, of at most `MAX` characters: trimmed, not
/// empty, no control characters. The one rule behind display names and order items (a
/// service may check more first, e.g. what an SMS may carry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedText<const MAX: usize>(String);

impl<const MAX: usize> BoundedText<MAX> {
    pub const MAX: usize = MAX;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("must not be empty".into());
        }
        if text.chars().count() > MAX {
            return Err(format!("must be at most {MAX} characters long"));
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: 1 to 100 characters after trimming, no control characters.
pub type DisplayName = BoundedText<100>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_names() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse("a\u{0007}b").is_err());
        assert!(DisplayName::parse(&"é".repeat(101)).is_err());
        assert_eq!(DisplayName::MAX, 100);
    }

    #[test]
    fn the_bound_is_the_type_s() {
        assert!(BoundedText::<3>::parse("abc").is_ok());
        assert_eq!(
            BoundedText::<3>::parse("abcd").unwrap_err(),
            "must be at most 3 characters long"
        );
    }
}
