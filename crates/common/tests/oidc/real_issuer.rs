//! Tokens from a real OpenID Connect issuer (npm `oidc-provider`, `test_support::oidc`).

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::auth::{AuthError, OidcSettings, OidcVerifier, Principal};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use test_support::eventually;
use test_support::oidc::OidcIssuer;

use crate::{get_orders, orders_api, verifier, AUDIENCE};

fn invalid(result: Result<Principal, AuthError>) -> &'static str {
    match result {
        Err(AuthError::Invalid(why)) => why,
        other => panic!("expected an invalid token, got {other:?}"),
    }
}

/// `token`'s payload under another header and signature.
fn reassemble(token: &str, header: &serde_json::Value, signature: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(header.to_string());
    format!("{header}.{payload}.{signature}")
}

/// An issuer, and a verifier of its tokens with the default settings.
async fn started() -> (OidcIssuer, Arc<OidcVerifier>) {
    let issuer = OidcIssuer::shared().await;
    let verifier = verifier(OidcSettings::new(issuer.url(), AUDIENCE));
    (issuer, verifier)
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn accepts_a_valid_token_with_its_scopes() {
    let (issuer, verifier) = started().await;
    let token = issuer.token(AUDIENCE, &["sales:read", "sales:write"]).await;

    let caller = verifier.verify(&token).await.unwrap();
    assert_eq!(caller.subject, "platform-dev");
    assert_eq!(caller.client_id.as_deref(), Some("platform-dev"));
    assert_eq!(
        caller.scopes,
        ["sales:read", "sales:write"].map(String::from).into()
    );
}

#[tokio::test]
async fn answers_401_403_and_200_with_rfc6750_challenges() {
    let (issuer, verifier) = started().await;
    let api = orders_api(verifier);

    let missing = get_orders(&api, None).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.challenge(), r#"Bearer realm="platform""#);
    assert_eq!(
        missing.headers[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let other_scheme = get_orders(&api, Some("Basic cGxhdGZvcm0tZGV2OnNlY3JldA==")).await;
    assert_eq!(other_scheme.status, StatusCode::UNAUTHORIZED);
    assert!(!other_scheme.challenge().contains("error="));

    let not_a_jwt = get_orders(&api, Some("Bearer opaque-token")).await;
    assert_eq!(not_a_jwt.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        not_a_jwt.challenge(),
        r#"Bearer realm="platform", error="invalid_token", error_description="the token is not a signed JWT""#
    );
    assert!(
        not_a_jwt.body.contains("not a signed JWT"),
        "{}",
        not_a_jwt.body
    );

    let write_only = issuer.token(AUDIENCE, &["sales:write"]).await;
    let forbidden = get_orders(&api, Some(&format!("Bearer {write_only}"))).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(
        forbidden.challenge(),
        r#"Bearer realm="platform", error="insufficient_scope", scope="sales:read""#
    );

    let reader = issuer.token(AUDIENCE, &["sales:read"]).await;
    let ok = get_orders(&api, Some(&format!("bearer {reader}"))).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body, "platform-dev");
}

#[tokio::test]
async fn refuses_an_expired_token_beyond_the_leeway() {
    let issuer = OidcIssuer::shared().await;
    let token = issuer.expired_token(AUDIENCE, &["sales:read"]).await;

    let strict = verifier(OidcSettings {
        leeway: Duration::ZERO,
        ..OidcSettings::new(issuer.url(), AUDIENCE)
    });
    assert_eq!(
        invalid(strict.verify(&token).await),
        "the token has expired"
    );
    // A second past `exp` is within the default 30 s of tolerated clock skew.
    let lenient = verifier(OidcSettings::new(issuer.url(), AUDIENCE));
    lenient.verify(&token).await.unwrap();
}

#[tokio::test]
async fn refuses_a_token_for_another_audience() {
    let (issuer, verifier) = started().await;
    let token = issuer.token("api://integrations", &["sales:read"]).await;
    assert_eq!(
        invalid(verifier.verify(&token).await),
        "the token is for another audience"
    );
}

#[tokio::test]
async fn refuses_a_token_from_another_issuer() {
    let (ours, theirs) = tokio::join!(OidcIssuer::shared(), OidcIssuer::start());
    let verifier = verifier(OidcSettings::new(ours.url(), AUDIENCE));
    verifier
        .verify(&ours.token(AUDIENCE, &[]).await)
        .await
        .unwrap();
    let foreign = theirs.token(AUDIENCE, &["sales:read"]).await;
    assert_eq!(
        invalid(verifier.verify(&foreign).await),
        "the token's signing key is unknown"
    );
}

#[tokio::test]
async fn refuses_tampered_signatures_and_payloads() {
    let (issuer, verifier) = started().await;
    let token = issuer.token(AUDIENCE, &["sales:read"]).await;
    let [header, payload, signature]: [&str; 3] =
        token.split('.').collect::<Vec<_>>().try_into().unwrap();

    // The last character only carries padding bits in part; flip one in the middle.
    let mut flipped = signature.to_owned().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let bad_signature = format!("{header}.{payload}.{}", String::from_utf8(flipped).unwrap());
    assert_eq!(
        invalid(verifier.verify(&bad_signature).await),
        "the token's signature does not verify"
    );

    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["scope"] = "sales:read sales:write".into();
    let escalated = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_eq!(
        invalid(verifier.verify(&escalated).await),
        "the token's signature does not verify"
    );
}

#[tokio::test]
async fn refuses_alg_none_and_algorithm_confusion() {
    let (issuer, verifier) = started().await;
    let token = issuer.token(AUDIENCE, &["sales:read"]).await;
    let kid = kid(&token);

    let unsigned = reassemble(&token, &serde_json::json!({"alg": "none", "kid": kid}), "");
    assert_eq!(
        invalid(verifier.verify(&unsigned).await),
        "the token's algorithm is not accepted"
    );

    // The classic confusion: HS256 keyed with the issuer's public key, which anyone can read.
    let jwks = issuer.jwks().await.to_string();
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let hmac_header = Header {
        kid: Some(kid.clone()),
        ..Header::new(Algorithm::HS256)
    };
    let confused = jsonwebtoken::encode(
        &hmac_header,
        &claims,
        &EncodingKey::from_secret(jwks.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        invalid(verifier.verify(&confused).await),
        "the token's algorithm is not accepted"
    );

    // An accepted algorithm, but not the one the key is for.
    let signature = token.split('.').nth(2).unwrap();
    let relabelled = reassemble(
        &token,
        &serde_json::json!({"alg": "PS256", "kid": kid}),
        signature,
    );
    assert_eq!(
        invalid(verifier.verify(&relabelled).await),
        "the token's algorithm does not match its signing key"
    );
}

#[tokio::test]
async fn picks_up_rotated_keys_without_a_restart() {
    let issuer = OidcIssuer::start().await;
    let verifier = verifier(OidcSettings {
        min_jwks_refresh_interval: Duration::ZERO,
        ..OidcSettings::new(issuer.url(), AUDIENCE)
    });
    let before = issuer.token(AUDIENCE, &["sales:read"]).await;
    verifier.verify(&before).await.unwrap();

    let new_kid = issuer.rotate_keys().await;
    let after = issuer.token(AUDIENCE, &["sales:read"]).await;
    assert_eq!(kid(&after), new_kid);
    verifier.verify(&after).await.unwrap();
    // The old key left the issuer's key set, so its tokens stop being accepted.
    assert_eq!(
        invalid(verifier.verify(&before).await),
        "the token's signing key is unknown"
    );
}

#[tokio::test]
async fn issuer_down_is_503_only_when_a_key_is_needed() {
    let issuer = OidcIssuer::start().await;
    let url = issuer.url().to_owned();
    let token = issuer.token(AUDIENCE, &["sales:read"]).await;
    let warm = verifier(OidcSettings::new(&url, AUDIENCE));
    warm.verify(&token).await.unwrap();
    drop(issuer);
    wait_until_refused(&url).await;

    // Keys already fetched keep working while the issuer is away.
    warm.verify(&token).await.unwrap();

    let cold = verifier(OidcSettings::new(&url, AUDIENCE));
    assert_eq!(
        cold.verify(&token).await.unwrap_err(),
        AuthError::IssuerUnavailable
    );
    let answer = get_orders(&orders_api(cold), Some(&format!("Bearer {token}"))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers.contains_key(header::RETRY_AFTER));
    assert!(!answer.body.contains(&token));
}

/// Waits until nothing listens at `url` any more (the issuer was killed).
async fn wait_until_refused(url: &str) {
    let address = url.trim_start_matches("http://");
    eventually(
        Duration::from_secs(30),
        &format!("the issuer at {url} gone"),
        || async { tokio::net::TcpStream::connect(address).await.is_err() },
    )
    .await;
}
