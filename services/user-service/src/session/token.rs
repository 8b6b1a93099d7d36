use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A session token: 256 random bits, shown to the client once. Only its SHA-256 is
/// stored, so a leaked table holds no usable token. The `ust_` prefix lets secret
/// scanners recognise leaked tokens.
pub struct SessionToken(String);

impl SessionToken {
    const PREFIX: &'static str = "ust_";

    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(format!(
            "{}{}",
            Self::PREFIX,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// The token as presented by a client (any string; unknown ones simply match nothing).
    pub fn presented(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key the session is stored under.
    pub fn hash(&self) -> String {
        hex_digest(self.0.as_bytes())
    }

    /// Constant-time check that a stored hash belongs to this token.
    pub fn matches(&self, stored_hash: &str) -> bool {
        self.hash().as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(2 * digest.len());
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("ust_"));
        assert_eq!(a.expose().len(), 4 + 43);
        assert_eq!(a.hash().len(), 64);
        assert!(a.matches(&a.hash()));
        assert!(!a.matches(&b.hash()));
        assert_eq!(SessionToken::presented(a.expose()).hash(), a.hash());
    }
}
