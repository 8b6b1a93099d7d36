//! The issuer's signing keys: found through its discovery document, cached by `kid`, and
//! fetched again when a token names an unknown key (rotation) or the cache is an hour old.
//!
//! The issuer is asked at most once per `min_refresh_interval`, however many tokens with
//! unknown (possibly made-up) key ids arrive, and concurrent requests share one fetch.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::time::Instant;

use super::AuthError;

/// Keys are re-read this often even when every `kid` is known, so a key the issuer
/// withdrew stops being accepted.
const MAX_AGE: Duration = Duration::from_secs(3600);
/// Upper bound of one discovery + JWKS fetch, whatever the HTTP client's timeouts are.
const FETCH_DEADLINE: Duration = Duration::from_secs(10);

/// A public key and the algorithms it may verify.
pub(super) struct VerificationKey {
    pub key: DecodingKey,
    pub algorithms: Vec<Algorithm>,
}

pub(super) struct KeyStore {
    issuer: String,
    http: reqwest::Client,
    min_refresh_interval: Duration,
    cache: RwLock<Cache>,
    /// Held while fetching: the single flight.
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, Arc<VerificationKey>>,
    fetched_at: Option<Instant>,
    attempted_at: Option<Instant>,
    last_attempt_failed: bool,
    /// Counts fetch attempts, so a request that waited for another's fetch uses its result.
    attempts: u64,
    /// Bumped whenever a fetch replaces the key set: what was verified with an older set
    /// must be verified again (its key may have been withdrawn).
    generation: u64,
}

struct Snapshot {
    key: Option<Arc<VerificationKey>>,
    fresh: bool,
    may_fetch: bool,
    last_attempt_failed: bool,
    attempts: u64,
    generation: u64,
}

#[derive(Deserialize)]
pub(super) struct Discovery {
    issuer: String,
    jwks_uri: String,
    pub token_endpoint: Option<String>,
}

/// The discovery document of `issuer`, which must name that issuer.
pub(super) async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Discovery, String> {
    let discovery_url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let discovery: Discovery = get_json(http, &discovery_url).await?;
    if discovery.issuer != issuer {
        return Err(format!(
            "its discovery document names the issuer `{}`; check OIDC_ISSUER_URL",
            discovery.issuer
        ));
    }
    Ok(discovery)
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, String> {
    let response = http
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|err| format!("GET {url}: {err}"))?;
    response
        .json()
        .await
        .map_err(|err| format!("GET {url}: unreadable answer: {err}"))
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

impl KeyStore {
    pub fn new(issuer: String, http: reqwest::Client, min_refresh_interval: Duration) -> Self {
        Self {
            issuer,
            http,
            min_refresh_interval,
            cache: RwLock::default(),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The generation of the current key set.
    pub fn generation(&self) -> u64 {
        self.cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// The key named `kid`, fetching the issuer's keys when needed and allowed, and the
    /// generation of the key set it is from.
    pub async fn key(&self, kid: &str) -> Result<(Arc<VerificationKey>, u64), AuthError> {
        let before = self.snapshot(kid);
        if let (Some(key), true) = (&before.key, before.fresh) {
            return Ok((key.clone(), before.generation));
        }
        if before.may_fetch {
            let flight = match self.refresh.try_lock() {
                Ok(flight) => Some(flight),
                // Another request is refreshing: an old but known key serves meanwhile.
                Err(_) if before.key.is_some() => None,
                Err(_) => Some(self.refresh.lock().await),
            };
            // Someone else fetched while this request waited: use theirs.
            if flight.is_some() && self.snapshot(kid).attempts == before.attempts {
                self.fetch_and_store().await;
            }
        }
        let after = self.snapshot(kid);
        match (after.key, before.key) {
            (Some(key), _) => Ok((key, after.generation)),
            // The issuer could not be asked again: a stale key beats refusing every caller.
            (None, Some(stale)) if after.last_attempt_failed => Ok((stale, before.generation)),
            (None, _) if after.last_attempt_failed => Err(AuthError::IssuerUnavailable),
            (None, _) => Err(AuthError::Invalid("the token's signing key is unknown")),
        }
    }

    fn snapshot(&self, kid: &str) -> Snapshot {
        let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
        Snapshot {
            key: cache.keys.get(kid).cloned(),
            fresh: cache.fetched_at.is_some_and(|at| at.elapsed() < MAX_AGE),
            may_fetch: cache
                .attempted_at
                .is_none_or(|at| at.elapsed() >= self.min_refresh_interval),
            last_attempt_failed: cache.last_attempt_failed,
            attempts: cache.attempts,
            generation: cache.generation,
        }
    }

    async fn fetch_and_store(&self) {
        let outcome = match tokio::time::timeout(FETCH_DEADLINE, self.fetch()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {FETCH_DEADLINE:?}")),
        };
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        cache.attempts += 1;
        cache.attempted_at = Some(Instant::now());
        match outcome {
            Ok(keys) => {
                tracing::info!(issuer = %self.issuer, keys = keys.len(), "fetched the OIDC issuer's signing keys");
                cache.keys = keys;
                cache.generation += 1;
                cache.fetched_at = cache.attempted_at;
                cache.last_attempt_failed = false;
            }
            Err(why) => {
                tracing::warn!(issuer = %self.issuer, "cannot fetch the OIDC issuer's signing keys: {why}");
                cache.last_attempt_failed = true;
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<VerificationKey>>, String> {
        let discovery = discover(&self.http, &self.issuer).await?;
        let jwks: RawJwks = get_json(&self.http, &discovery.jwks_uri).await?;
        Ok(jwks.keys.into_iter().filter_map(usable_key).collect())
    }
}

/// A signing key with a `kid` and an accepted algorithm; anything else in the set
/// (encryption keys, symmetric keys, algorithms not offered) is skipped, not fatal.
fn usable_key(raw: serde_json::Value) -> Option<(String, Arc<VerificationKey>)> {
    let jwk: Jwk = serde_json::from_value(raw).ok()?;
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let kid = jwk.common.key_id.clone()?;
    let algorithms = algorithms(&jwk);
    if algorithms.is_empty() {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((kid, Arc::new(VerificationKey { key, algorithms })))
}

/// The algorithms a key may verify: its `alg` when it names one, else those of its type.
/// Never `none` or HMAC: a public key must not double as a shared secret.
fn algorithms(jwk: &Jwk) -> Vec<Algorithm> {
    use Algorithm::*;
    if let Some(alg) = &jwk.common.key_algorithm {
        let alg = match alg {
            KeyAlgorithm::RS256 => RS256,
            KeyAlgorithm::RS384 => RS384,
            KeyAlgorithm::RS512 => RS512,
            KeyAlgorithm::PS256 => PS256,
            KeyAlgorithm::PS384 => PS384,
            KeyAlgorithm::PS512 => PS512,
            KeyAlgorithm::ES256 => ES256,
            KeyAlgorithm::ES384 => ES384,
            KeyAlgorithm::EdDSA => EdDSA,
            _ => return Vec::new(),
        };
        return if by_key_type(jwk).contains(&alg) {
            vec![alg]
        } else {
            Vec::new()
        };
    }
    by_key_type(jwk)
}

fn by_key_type(jwk: &Jwk) -> Vec<Algorithm> {
    use Algorithm::*;
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![RS256, RS384, RS512, PS256, PS384, PS512],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![ES256],
            EllipticCurve::P384 => vec![ES384],
            _ => Vec::new(),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            vec![EdDSA]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    fn algs(jwk: serde_json::Value) -> Vec<Algorithm> {
        usable_key(jwk).map_or_else(Vec::new, |(_, key)| key.algorithms.clone())
    }

    #[test]
    fn the_key_decides_the_algorithms() {
        let rsa = json!({"kty": "RSA", "kid": "r", "n": N, "e": "AQAB"});
        assert_eq!(algs(rsa.clone()).len(), 6);
        let mut pinned = rsa.clone();
        pinned["alg"] = json!("PS384");
        assert_eq!(algs(pinned), vec![Algorithm::PS384]);
        // An RSA key claiming an EC or HMAC algorithm is unusable, not reinterpreted.
        for alg in ["ES256", "HS256"] {
            let mut lying = rsa.clone();
            lying["alg"] = json!(alg);
            assert!(algs(lying).is_empty(), "{alg}");
        }
    }

    #[test]
    fn skips_what_cannot_verify_access_tokens() {
        let rsa = json!({"kty": "RSA", "kid": "r", "n": N, "e": "AQAB"});
        let mut encryption = rsa.clone();
        encryption["use"] = json!("enc");
        let mut no_kid = rsa.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        let symmetric = json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"});
        let unknown_alg =
            json!({"kty": "EC", "kid": "e", "crv": "P-521", "alg": "ES512", "x": "AA", "y": "AA"});
        for key in [encryption, no_kid, symmetric, unknown_alg] {
            assert!(usable_key(key.clone()).is_none(), "{key}");
        }
        assert!(usable_key(rsa).is_some());
    }
}
