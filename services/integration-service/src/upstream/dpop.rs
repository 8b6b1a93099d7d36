//! DPoP (RFC 9449): proofs that the client holding an access token also holds a private
//! key, so a token that leaks is useless on its own. Okta's API Services apps require it
//! by default ("Require Demonstrating Proof of Possession (DPoP) header in token requests",
//! https://developer.okta.com/docs/guides/dpop/oktaresourceserver/main/).
//!
//! One [`DpopKey`] per tenant client, made in memory when first needed and never stored or
//! logged: a restart makes a new one, and the next token is bound to it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use reqwest::Method;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

/// The request header carrying a proof, and the response header carrying a nonce.
pub const DPOP_HEADER: &str = "dpop";
pub const NONCE_HEADER: &str = "dpop-nonce";

/// An ES256 (P-256) key pair for DPoP proofs. `Debug` shows only the key's thumbprint.
pub struct DpopKey {
    signing: EncodingKey,
    jwk: Jwk,
    thumbprint: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DpopKey(jkt={})", self.thumbprint)
    }
}

#[derive(Serialize)]
struct ProofClaims<'a> {
    jti: String,
    htm: &'a str,
    htu: String,
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

impl DpopKey {
    /// A fresh key pair from the system's secure random source.
    pub fn generate() -> Self {
        let random = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random)
            .expect("the system's random source works");
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random)
                .expect("a key pair ring just made parses");
        // An uncompressed P-256 point: 0x04, then x and y of 32 bytes each.
        let point = pair.public_key().as_ref();
        let (x, y) = (
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..65]),
        );
        let thumbprint = ec_thumbprint(&x, &y);
        Self {
            signing: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: Jwk {
                common: CommonParameters::default(),
                algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve: EllipticCurve::P256,
                    x,
                    y,
                }),
            },
            thumbprint,
        }
    }

    /// The RFC 7638 thumbprint of the public key (what a bound token's `cnf.jkt` names).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A proof for one request (RFC 9449 section 4.2): header `typ: dpop+jwt` with the
    /// public key as `jwk`; claims `jti` (unique), `htm`, `htu` (the URL without query and
    /// fragment), `iat`, the server's `nonce` when it gave one, and `ath` (the access
    /// token's hash) on resource requests.
    pub fn proof(
        &self,
        method: &Method,
        url: &Url,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> String {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        let claims = ProofClaims {
            jti: uuid::Uuid::new_v4().to_string(),
            htm: method.as_str(),
            htu: htu.into(),
            iat: time::OffsetDateTime::now_utc().unix_timestamp(),
            nonce,
            ath: access_token.map(access_token_hash),
        };
        jsonwebtoken::encode(&header, &claims, &self.signing)
            .expect("an ES256 key made here signs any claims")
    }
}

/// `ath`: base64url(SHA-256(access token)) (RFC 9449 section 4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace.
fn ec_thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The nonce a response hands out (`DPoP-Nonce`), if any.
pub fn nonce_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(NONCE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|nonce| !nonce.is_empty())
        .map(str::to_owned)
}

/// Whether a resource server's 401 asks for a nonce: `WWW-Authenticate: DPoP
/// error="use_dpop_nonce"` (RFC 9449 section 9).
pub fn asks_for_nonce(headers: &HeaderMap) -> bool {
    headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            value.trim_start().starts_with("DPoP") && value.contains(r#"error="use_dpop_nonce""#)
        })
}

/// The `error` code of a 401's `WWW-Authenticate` challenge (`invalid_dpop_proof`,
/// `invalid_token`, ...): a code, safe to show; the description stays out.
pub fn challenge_error(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let rest = &value[value.find(r#"error=""#)? + r#"error=""#.len()..];
            let code = &rest[..rest.find('"')?];
            code.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
                .then(|| code.to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_thumbprints_match_rfc_9449_s_examples() {
        // RFC 9449 section 7.1 (ath) and section 6.1 (jkt of the section 4.2 key).
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
        assert_eq!(
            ec_thumbprint(
                "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
                "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"
            ),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
    }

    #[test]
    fn challenges_are_read_by_their_error_code_only() {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::WWW_AUTHENTICATE,
            r#"DPoP algs="ES256", error="use_dpop_nonce", error_description="Resource server requires nonce""#
                .parse()
                .unwrap(),
        );
        assert!(asks_for_nonce(&headers));
        assert_eq!(challenge_error(&headers).as_deref(), Some("use_dpop_nonce"));
        headers.insert(
            reqwest::header::WWW_AUTHENTICATE,
            r#"Bearer error="Invalid <b>token</b>""#.parse().unwrap(),
        );
        assert!(!asks_for_nonce(&headers));
        assert_eq!(challenge_error(&headers), None, "not a code: left out");
    }

    #[test]
    fn a_proof_is_signed_by_the_key_it_carries_and_names_one_request() {
        let key = DpopKey::generate();
        let url = Url::parse("https://acme.okta.com/api/v1/users?limit=2#x").unwrap();
        let proof = key.proof(&Method::GET, &url, Some("n-1"), Some("at-1"));
        let header = jsonwebtoken::decode_header(&proof).unwrap();
        assert_eq!(header.typ.as_deref(), Some("dpop+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
        let jwk = header.jwk.expect("the public key is in the header");
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let key_of_header = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let claims_of = |proof: &str| {
            jsonwebtoken::decode::<serde_json::Value>(proof, &key_of_header, &validation)
                .unwrap()
                .claims
        };
        let claims = claims_of(&proof);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://acme.okta.com/api/v1/users");
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["ath"], access_token_hash("at-1"));
        assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() >= 32));
        let again = claims_of(&key.proof(&Method::GET, &url, None, None));
        assert_ne!(claims["jti"], again["jti"], "every proof is new");
        assert!(again.get("ath").is_none() && again.get("nonce").is_none());
        let json = serde_json::to_value(&jwk).unwrap();
        assert!(json.get("d").is_none(), "never the private part: {json}");
        assert_eq!(
            format!("{key:?}"),
            format!("DpopKey(jkt={})", key.thumbprint())
        );
    }
}
