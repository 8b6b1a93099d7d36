//! The contract of `tools/oidc-issuer` that the verifier's tests rely on.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use test_support::oidc::OidcIssuer;

fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

async fn published_kids(issuer: &OidcIssuer) -> Vec<String> {
    issuer.jwks().await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn issues_rs256_jwts_for_the_requested_resource_and_rotates_keys() {
    let issuer = OidcIssuer::start().await;
    assert!(issuer.url().starts_with("http://127.0.0.1:"));
    let token = issuer
        .token("api://sales", &["sales:read", "integrations:write"])
        .await;

    let header = part(&token, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    let kid = header["kid"].as_str().unwrap().to_owned();
    assert_eq!(published_kids(&issuer).await, [kid.as_str()]);

    let claims = part(&token, 1);
    assert_eq!(claims["iss"], issuer.url());
    assert_eq!(claims["aud"], "api://sales");
    assert_eq!(claims["scope"], "sales:read integrations:write");
    assert_eq!(claims["client_id"], "platform-dev");
    assert!(claims["jti"].is_string());
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert!(iat <= now() && exp > now(), "{claims}");

    let new_kid = issuer.rotate_keys().await;
    assert_ne!(new_kid, kid);
    assert_eq!(published_kids(&issuer).await, [new_kid.as_str()]);
    let rotated = issuer.token("api://sales", &[]).await;
    assert_eq!(part(&rotated, 0)["kid"], new_kid.as_str());
}

#[tokio::test]
async fn expired_tokens_are_past_their_expiry() {
    let issuer = OidcIssuer::shared().await;
    let token = issuer.expired_token("api://sales", &["sales:read"]).await;
    let claims = part(&token, 1);
    assert_eq!(claims["client_id"], "short-lived");
    assert!(claims["exp"].as_u64().unwrap() < now(), "{claims}");
}

#[tokio::test]
async fn the_second_client_is_another_caller() {
    let issuer = OidcIssuer::shared().await;
    let token = issuer
        .second_client_token("api://integrations", &["integrations:write"])
        .await;
    let claims = part(&token, 1);
    assert_eq!(claims["client_id"], test_support::oidc::SECOND_CLIENT_ID);
    assert_eq!(claims["sub"], test_support::oidc::SECOND_CLIENT_ID);
    assert_eq!(claims["scope"], "integrations:write");
}

#[tokio::test]
async fn the_shared_issuer_is_one_process_for_the_whole_binary() {
    let (first, second) = tokio::join!(OidcIssuer::shared(), OidcIssuer::shared());
    assert_eq!(first.url(), second.url());
    let own = OidcIssuer::start().await;
    assert_ne!(own.url(), first.url());
}

#[tokio::test]
#[should_panic(expected = "the shared issuer serves other tests")]
async fn the_shared_issuer_refuses_to_rotate_its_keys() {
    OidcIssuer::shared().await.rotate_keys().await;
}
