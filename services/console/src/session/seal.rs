//! A session's secret (the cookie value) and what is derived from it: the id the session
//! is stored under (its SHA-256), and the key its contents are sealed with (HKDF, then
//! ChaCha20-Poly1305). The table therefore holds neither a usable cookie nor a readable
//! token: both need the secret, which only the person's browser has.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf::{Salt, HKDF_SHA256};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

const SECRET_LEN: usize = 32;
/// Domain separation for the key derivation; a new version of the format changes it.
const HKDF_SALT: &[u8] = b"console-session-v1";

/// The random secret a session cookie carries.
pub struct SessionSecret([u8; SECRET_LEN]);

impl SessionSecret {
    pub fn generate() -> Self {
        let mut secret = [0u8; SECRET_LEN];
        SystemRandom::new()
            .fill(&mut secret)
            .expect("the system's random source works");
        Self(secret)
    }

    /// The secret of a cookie value; `None` for anything that is not one.
    pub fn parse(cookie: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(cookie).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }

    /// The cookie value.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The key of the session's record: the secret's SHA-256, hex.
    pub fn id(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }

    fn key(&self) -> LessSafeKey {
        let mut key = [0u8; 32];
        Salt::new(HKDF_SHA256, HKDF_SALT)
            .extract(&self.0)
            .expand(&[b"seal"], &CHACHA20_POLY1305)
            .and_then(|okm| okm.fill(&mut key))
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key).expect("32-byte key"))
    }

    /// `plaintext` sealed under this secret's key, bound to `id`: a random nonce, then the
    /// ciphertext and tag, base64url.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system's random source works");
        let mut sealed = plaintext.to_vec();
        self.key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.id().as_bytes()),
                &mut sealed,
            )
            .expect("sealing cannot fail for in-memory data");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// What [`SessionSecret::seal`] sealed; `None` when it was sealed under another secret
    /// or altered.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let mut buffer = ciphertext.to_vec();
        let plaintext = self
            .key()
            .open_in_place(
                Nonce::try_assume_unique_for_key(nonce).ok()?,
                Aad::from(self.id().as_bytes()),
                &mut buffer,
            )
            .ok()?;
        Some(plaintext.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_round_trips_and_names_its_session_by_hash() {
        let secret = SessionSecret::generate();
        let cookie = secret.encode();
        let parsed = SessionSecret::parse(&cookie).unwrap();
        assert_eq!(parsed.id(), secret.id());
        assert_eq!(secret.id().len(), 64);
        assert!(!secret.id().contains(&cookie));
        for bad in ["", "short", "!!!!", &format!("{cookie}AA")] {
            assert!(SessionSecret::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn only_the_same_secret_opens_what_it_sealed() {
        let secret = SessionSecret::generate();
        let sealed = secret.seal(b"token-value");
        assert!(!sealed.contains("token-value"));
        assert_eq!(secret.open(&sealed).unwrap(), b"token-value");
        assert!(SessionSecret::generate().open(&sealed).is_none());
        let mut altered = sealed.into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert!(secret.open(&String::from_utf8(altered).unwrap()).is_none());
    }
}
