//! How an Okta org checks a DPoP proof (RFC 9449 section 4.3), written apart from any
//! client so that a client's misreading of the RFC fails here instead of being shared:
//! `typ` is `dpop+jwt`, `alg` an asymmetric one Okta advertises, `jwk` a public key (never a
//! private one) whose signature verifies, `htm`/`htu` name this very request, `iat` is
//! recent, `jti` is present (the org refuses one seen before), and on API calls `ath` is the
//! hash of the presented access token. Okta's guide: "Resource servers must require and
//! track the incoming DPoP proof JWT's jti claim ... and not accept that claim more than
//! once" (https://developer.okta.com/docs/guides/dpop/oktaresourceserver/main/).
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How old a proof may be, and how far ahead of the org's clock, in seconds. RFC 9449
/// leaves the window to the server ("within an acceptable window", section 4.3 item 11).
const MAX_AGE: i64 = 60;
const MAX_AHEAD: i64 = 5;

/// What a request must prove.
pub(crate) struct Expected<'a> {
    pub method: &'a str,
    /// `http://host/path` of the request, without query.
    pub htu: &'a str,
    /// The org's clock, epoch seconds.
    pub now: u64,
    /// The access token presented with it (API calls), whose hash `ath` must be.
    pub access_token: Option<&'a str>,
}

/// A proof that passed the checks that need no org state.
pub(crate) struct Proof {
    /// RFC 7638 thumbprint of its key (a bound token's `cnf.jkt`).
    pub jkt: String,
    pub jti: String,
    pub nonce: Option<String>,
}

fn segment(part: &str) -> Result<Value, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| "the proof is not a JWS in compact form".to_owned())?;
    serde_json::from_slice(&bytes).map_err(|_| "the proof's JSON is unreadable".to_owned())
}

fn text<'a>(object: &'a Value, name: &str) -> Result<&'a str, String> {
    object[name]
        .as_str()
        .filter(|value| !value.is_empty())
        .ok_or_else(|| format!("`{name}` is missing"))
}

/// The key of the proof's `jwk` header, and its RFC 7638 thumbprint: SHA-256 of the
/// required members in lexicographic order (`crv, kty, x, y` for EC; `e, kty, n` for RSA).
fn key_of(jwk: &Value) -> Result<(DecodingKey, String), String> {
    if ["d", "p", "q", "dp", "dq", "qi", "k"]
        .iter()
        .any(|private| jwk.get(private).is_some())
    {
        return Err("the `jwk` holds a private key".into());
    }
    let canonical = match text(jwk, "kty")? {
        "EC" if text(jwk, "crv")? == "P-256" => {
            let (x, y) = (text(jwk, "x")?, text(jwk, "y")?);
            (
                DecodingKey::from_ec_components(x, y),
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
            )
        }
        "RSA" => {
            let (n, e) = (text(jwk, "n")?, text(jwk, "e")?);
            (
                DecodingKey::from_rsa_components(n, e),
                format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            )
        }
        _ => return Err("the `jwk` is not a P-256 or RSA public key".into()),
    };
    let key = canonical
        .0
        .map_err(|_| "the `jwk` is not a usable public key".to_owned())?;
    Ok((key, URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.1))))
}

/// `ath`: base64url(SHA-256(access token)), RFC 9449 section 4.2.
fn token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Checks `proof` against `expected`; `Err` says why it is refused.
pub(crate) fn verify(proof: &str, expected: &Expected<'_>) -> Result<Proof, String> {
    let parts: Vec<&str> = proof.split('.').collect();
    let [header, _, _] = parts[..] else {
        return Err("the proof is not a JWS in compact form".into());
    };
    let header = segment(header)?;
    if header["typ"] != "dpop+jwt" {
        return Err("`typ` is not dpop+jwt".into());
    }
    // Okta's authorization servers advertise RS256..RS512 and ES256..ES512
    // (`dpop_signing_alg_values_supported`); this org checks the two clients use.
    let algorithm = match text(&header, "alg")? {
        "ES256" => Algorithm::ES256,
        "RS256" => Algorithm::RS256,
        _ => return Err("`alg` is not an asymmetric algorithm the org accepts".into()),
    };
    let (key, jkt) = key_of(&header["jwk"])?;
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Value>(proof, &key, &validation)
        .map_err(|_| "the signature does not verify with the `jwk`".to_owned())?
        .claims;
    let jti = text(&claims, "jti")?.to_owned();
    if text(&claims, "htm")? != expected.method {
        return Err("`htm` is not the request's method".into());
    }
    let htu = text(&claims, "htu")?;
    if htu.split(['?', '#']).next() != Some(expected.htu) {
        return Err("`htu` is not the request's URI".into());
    }
    let iat = claims["iat"].as_i64().ok_or("`iat` is missing")?;
    let now = expected.now as i64;
    if iat < now - MAX_AGE || iat > now + MAX_AHEAD {
        return Err("`iat` is outside the accepted window".into());
    }
    if let Some(access_token) = expected.access_token {
        match claims["ath"].as_str() {
            None => return Err("`ath` is missing".into()),
            Some(ath) if ath != token_hash(access_token) => {
                return Err("`ath` is not the hash of the access token".into())
            }
            Some(_) => {}
        }
    }
    Ok(Proof {
        jkt,
        jti,
        nonce: claims["nonce"].as_str().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_thumbprints_are_rfc_9449_s_examples() {
        // RFC 9449 section 7.1 (ath) and section 6.1 (jkt of the section 4.2 proof's key).
        assert_eq!(
            token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"});
        assert_eq!(
            key_of(&jwk).unwrap().1,
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        let mut private = jwk.clone();
        private["d"] = "secret".into();
        assert!(key_of(&private).is_err());
    }
}
