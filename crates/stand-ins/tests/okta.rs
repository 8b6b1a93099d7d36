//! The Okta stand-in's contract for what the platform's own suites do not reach: the
//! token endpoint's single-use client assertions and the Users API's list rules.
use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{json, Value};
use stand_ins::okta::{rsa_key_pair, OktaOrg};

const API_TOKEN: &str = "okta-api-token";
const CLIENT_ID: &str = "0oa-service-app";

async fn org() -> OktaOrg {
    let org = OktaOrg::spawn("acme").await;
    org.set_api_token(API_TOKEN);
    org
}

/// A private_key_jwt client assertion for the org's token endpoint, with this `jti`.
fn assertion(org: &OktaOrg, private_key_pem: &str, jti: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": format!("{}/oauth2/v1/token", org.url),
        "iat": now,
        "exp": now + 300,
        "jti": jti,
    });
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .unwrap()
}

/// A client credentials token request carrying `assertion`: status and body.
async fn request_token(org: &OktaOrg, assertion: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/v1/token", org.url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "okta.users.read"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .expect("the org answers");
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_client_assertion_with_a_jti_is_good_for_one_token_request() {
    let org = org().await;
    let (private_key, public_key) = rsa_key_pair();
    org.set_oauth_client(CLIENT_ID, &public_key, 3600);
    let once = assertion(&org, &private_key, "jti-1");
    let (status, body) = request_token(&org, &once).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = request_token(&org, &once).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    let (status, _) = request_token(&org, &assertion(&org, &private_key, "jti-2")).await;
    assert_eq!(status, StatusCode::OK, "a fresh jti is accepted");

    // Used up even by a request refused afterwards for its DPoP proof.
    org.require_dpop(true);
    let refused = assertion(&org, &private_key, "jti-3");
    let (status, body) = request_token(&org, &refused).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_dpop_proof");
    let (status, body) = request_token(&org, &refused).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
}
/// `GET /api/v1/users?{query}` with the API token: status and body.
async fn list(org: &OktaOrg, query: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/users?{query}", org.url))
        .header("Authorization", format!("SSWS {API_TOKEN}"))
        .send()
        .await
        .expect("the org answers");
    (response.status(), response.json().await.unwrap())
}

fn ids(users: &Value) -> Vec<&str> {
    users
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_unfiltered_list_leaves_out_deprovisioned_users_a_filter_or_search_does_not() {
    let org = org().await;
    let active = org.add_user("ACTIVE");
    let gone = org.add_user("DEPROVISIONED");
    let suspended = org.add_user("SUSPENDED");
    let (status, users) = list(&org, "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&users), [active.as_str(), suspended.as_str()]);
    for query in [
        "filter=status%20eq%20%22DEPROVISIONED%22",
        "search=status%20eq%20%22DEPROVISIONED%22",
    ] {
        let (status, users) = list(&org, query).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ids(&users), [gone.as_str()], "{query}");
    }
}

#[tokio::test]
async fn search_and_filter_together_are_a_400_e0000033() {
    let org = org().await;
    org.add_users(2);
    let (status, body) = list(
        &org,
        "search=status%20eq%20%22ACTIVE%22&filter=status%20eq%20%22ACTIVE%22",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorCode"], "E0000033");
    assert_eq!(
        body["errorSummary"],
        "Bad request. Can't specify a search query and filter in the same request."
    );
    let (status, users) = list(&org, "search=status%20eq%20%22ACTIVE%22").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&users).len(), 2);
}
