//! A hand-rolled issuer whose keys the tests hold (EC P-256 and Ed25519, published without
//! `alg`) and whose JWKS fetches are counted: claims a real issuer never gets wrong, key
//! types it does not use, and the verifier's fetch discipline.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::auth::{AuthError, OidcSettings};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use test_support::eventually;

use crate::{verifier, AUDIENCE};

struct SigningKey {
    kid: &'static str,
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
}

impl SigningKey {
    fn ed25519(kid: &'static str) -> Self {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        Self {
            kid,
            alg: Algorithm::EdDSA,
            key: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(pair.public_key()),
            }),
        }
    }

    fn p256(kid: &'static str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        // An uncompressed point: 0x04, then x and y of 32 bytes each.
        let point = pair.public_key().as_ref();
        Self {
            kid,
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..]),
            }),
        }
    }

    /// `claims` signed with this key, the header naming `kid`.
    fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let header = Header {
            kid: Some(kid.to_owned()),
            ..Header::new(self.alg)
        };
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    fn sign(&self, claims: &Value) -> String {
        self.sign_as(self.kid, claims)
    }
}

struct KeyServer {
    url: String,
    jwks_fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl KeyServer {
    /// Serves `keys`; the JWKS answers after `delay`; discovery names `claimed_issuer`
    /// (its own URL when `None`).
    async fn start(keys: &[&SigningKey], delay: Duration, claimed_issuer: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let discovery = json!({
            "issuer": claimed_issuer.unwrap_or(&url),
            "jwks_uri": format!("{url}/jwks"),
        });
        let jwks = json!({ "keys": keys.iter().map(|key| key.jwk.clone()).collect::<Vec<_>>() });
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let counter = jwks_fetches.clone();
        let router = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { Json(discovery) }),
            )
            .route(
                "/jwks",
                get(move || async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(delay).await;
                    Json(jwks)
                }),
            );
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            url,
            jwks_fetches,
            task,
        }
    }

    fn fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Valid claims for this issuer, with `changes` applied (`null` removes a claim).
    fn claims(&self, changes: Value) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut claims = json!({
            "iss": self.url, "aud": AUDIENCE, "sub": "svc-reporting",
            "iat": now, "exp": now + 300, "scp": ["sales:read", "sales:write"],
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    }
}

fn now_plus(seconds: i64) -> Value {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    json!(now + seconds)
}

/// A token naming `kid` whose signature is never looked at (the key is never found).
fn token_for_unknown(kid: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": kid}).to_string());
    format!("{header}.e30.c2lnbmF0dXJl")
}

#[tokio::test]
async fn ec_and_ed25519_keys_verify_by_their_key_type() {
    let (ec, ed) = (SigningKey::p256("ec-1"), SigningKey::ed25519("ed-1"));
    let server = KeyServer::start(&[&ec, &ed], Duration::ZERO, None).await;
    let verifier = verifier(OidcSettings::new(&server.url, AUDIENCE));

    for key in [&ec, &ed] {
        let caller = verifier
            .verify(&key.sign(&server.claims(json!({}))))
            .await
            .unwrap();
        assert_eq!(caller.subject, "svc-reporting");
        assert_eq!(caller.client_id, None);
        // Okta's `scp` array.
        assert_eq!(
            caller.scopes,
            ["sales:read", "sales:write"].map(String::from).into()
        );
    }
    // An ES256 signature under the Ed25519 key's id: refused before any maths.
    let swapped = ec.sign_as(ed.kid, &server.claims(json!({})));
    assert_eq!(
        verifier.verify(&swapped).await.unwrap_err(),
        AuthError::Invalid("the token's algorithm does not match its signing key")
    );
    // Known keys are served from the cache.
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn checks_issuer_audience_times_and_subject_of_well_signed_tokens() {
    let key = SigningKey::ed25519("ed-1");
    let server = KeyServer::start(&[&key], Duration::ZERO, None).await;
    let verifier = verifier(OidcSettings::new(&server.url, AUDIENCE));
    let verify = |changes: Value| {
        let token = key.sign(&server.claims(changes));
        let verifier = verifier.clone();
        async move { verifier.verify(&token).await }
    };

    let refused = [
        (
            json!({"iss": "http://127.0.0.1:1"}),
            "the token is from another issuer",
        ),
        (
            json!({"aud": ["api://other", "api://more"]}),
            "the token is for another audience",
        ),
        (json!({"exp": now_plus(-60)}), "the token has expired"),
        (json!({"nbf": now_plus(120)}), "the token is not valid yet"),
        (json!({"exp": null}), "the token lacks exp, iss or aud"),
        (json!({"aud": null}), "the token lacks exp, iss or aud"),
        (json!({"sub": null}), "the token names no subject"),
        (json!({"scp": 42}), "the token is malformed"),
    ];
    for (changes, why) in refused {
        assert_eq!(
            verify(changes.clone()).await.unwrap_err(),
            AuthError::Invalid(why),
            "{changes}"
        );
    }

    // Within the leeway, an audience list that includes ours, a client without `sub`.
    verify(json!({"nbf": now_plus(10), "exp": now_plus(-10)}))
        .await
        .unwrap();
    verify(json!({"aud": ["api://other", AUDIENCE]}))
        .await
        .unwrap();
    let client =
        verify(json!({"sub": null, "client_id": "reporting", "scp": null, "scope": "sales:read"}))
            .await
            .unwrap();
    assert_eq!(client.subject, "reporting");
    assert_eq!(client.scopes, ["sales:read".to_owned()].into());
}

#[tokio::test]
async fn okta_access_tokens_name_their_client_in_cid() {
    let key = SigningKey::ed25519("ed-1");
    let server = KeyServer::start(&[&key], Duration::ZERO, None).await;
    let verifier = verifier(OidcSettings::new(&server.url, AUDIENCE));
    // The claims of an Okta custom authorization server's client-credentials token
    // (docs/okta.md): the client in `cid`, scopes in `scp`, `sub` the client id too.
    let okta = json!({"ver": 1, "jti": "AT.x1", "sub": "0oa1client", "cid": "0oa1client"});
    let caller = verifier
        .verify(&key.sign(&server.claims(okta)))
        .await
        .unwrap();
    assert_eq!(caller.client_id.as_deref(), Some("0oa1client"));
    assert_eq!(
        caller.scopes,
        ["sales:read", "sales:write"].map(String::from).into()
    );
    // Without `sub`, the client named by `cid` is the subject.
    let no_sub = json!({"sub": null, "cid": "0oa2client"});
    let caller = verifier
        .verify(&key.sign(&server.claims(no_sub)))
        .await
        .unwrap();
    assert_eq!(
        (caller.subject.as_str(), caller.client_id.as_deref()),
        ("0oa2client", Some("0oa2client"))
    );
    // The standard claim wins when an issuer sends both.
    let both = json!({"client_id": "standard", "cid": "okta"});
    let caller = verifier
        .verify(&key.sign(&server.claims(both)))
        .await
        .unwrap();
    assert_eq!(caller.client_id.as_deref(), Some("standard"));
}

#[tokio::test]
async fn unknown_key_ids_share_one_fetch_and_are_rate_limited() {
    let server = KeyServer::start(&[], Duration::from_millis(200), None).await;
    let verifier = verifier(OidcSettings {
        min_jwks_refresh_interval: Duration::from_secs(3),
        ..OidcSettings::new(&server.url, AUDIENCE)
    });

    let tokens: Vec<String> = (0..100)
        .map(|i| token_for_unknown(&format!("k{i}")))
        .collect();
    let before_first_fetch = tokio::time::Instant::now();
    let results =
        futures::future::join_all(tokens.iter().map(|token| verifier.verify(token))).await;
    for result in results {
        assert_eq!(
            result.unwrap_err(),
            AuthError::Invalid("the token's signing key is unknown")
        );
    }
    assert_eq!(server.fetches(), 1, "100 concurrent requests, one fetch");

    verifier
        .verify(&token_for_unknown("again"))
        .await
        .unwrap_err();
    assert_eq!(server.fetches(), 1, "within the interval, no fetch");

    // The interval is long enough that a busy machine cannot pass it by accident above.
    // Unknown keys keep coming; once the interval has passed, one of them fetches again.
    eventually(Duration::from_secs(30), "a second fetch", || async {
        verifier
            .verify(&token_for_unknown("later"))
            .await
            .unwrap_err();
        server.fetches() > 1
    })
    .await;
    assert!(
        before_first_fetch.elapsed() >= Duration::from_secs(3),
        "not within the interval"
    );
    assert_eq!(server.fetches(), 2, "after the interval, one more");
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_503() {
    let key = SigningKey::ed25519("ed-1");
    let server = KeyServer::start(&[&key], Duration::ZERO, Some("http://issuer.example")).await;
    let verifier = verifier(OidcSettings::new(&server.url, AUDIENCE));
    let token = key.sign(&server.claims(json!({})));
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        AuthError::IssuerUnavailable
    );
    assert_eq!(
        server.fetches(),
        0,
        "keys of an issuer we did not ask for are not read"
    );
}

#[tokio::test]
async fn a_hanging_issuer_is_503_within_the_client_timeout() {
    let key = SigningKey::ed25519("ed-1");
    let server = KeyServer::start(&[&key], Duration::from_secs(60), None).await;
    let verifier = verifier(OidcSettings::new(&server.url, AUDIENCE));
    let token = key.sign(&server.claims(json!({})));

    let started = tokio::time::Instant::now();
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        AuthError::IssuerUnavailable
    );
    // The test's client gives up after 2 s.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_token_verified_once_is_refused_once_it_expires() {
    let key = SigningKey::ed25519("ed-1");
    let server = KeyServer::start(&[&key], Duration::ZERO, None).await;
    let verifier = verifier(OidcSettings {
        leeway: Duration::ZERO,
        ..OidcSettings::new(&server.url, AUDIENCE)
    });
    let token = key.sign(&server.claims(json!({"exp": now_plus(1)})));
    verifier.verify(&token).await.unwrap();
    verifier.verify(&token).await.unwrap();

    // Accepted again and again (from the cache of verified tokens) until its `exp`, then
    // refused like any expired token.
    let refusal = eventually(
        Duration::from_secs(30),
        "the expired token refused",
        || async {
            match verifier.verify(&token).await {
                Ok(_) => Err("still accepted"),
                Err(refusal) => Ok(refusal),
            }
        },
    )
    .await;
    assert_eq!(refusal, AuthError::Invalid("the token has expired"));
}

#[tokio::test]
async fn a_tampered_copy_of_a_verified_token_is_refused() {
    let key = SigningKey::ed25519("ed-1");
    let server = KeyServer::start(&[&key], Duration::ZERO, None).await;
    let verifier = verifier(OidcSettings::new(&server.url, AUDIENCE));
    let token = key.sign(&server.claims(json!({"scp": ["sales:read"]})));
    verifier.verify(&token).await.unwrap();

    // The same signature over more scopes, and the same claims with another signature.
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let (header, _) = signed.split_once('.').unwrap();
    let wider = server.claims(json!({"scp": ["sales:read", "sales:write"]}));
    let wider = URL_SAFE_NO_PAD.encode(wider.to_string());
    let forged = [
        format!("{header}.{wider}.{signature}"),
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode([7u8; 64])),
    ];
    for forged in forged {
        assert_eq!(
            verifier.verify(&forged).await.unwrap_err(),
            AuthError::Invalid("the token's signature does not verify"),
        );
    }
}
