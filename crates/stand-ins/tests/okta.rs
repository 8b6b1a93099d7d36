//! The Okta stand-in's contract for what the platform's own suites do not reach: the
//! token endpoint's single-use client assertions and the Users API's list rules.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{json, Value};
use stand_ins::okta::{rsa_key_pair, Bucket, OktaOrg};
use stand_ins::NextLinks;

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
/// `GET {path}` of the org with the API token.
async fn get(org: &OktaOrg, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", org.url))
        .header("Authorization", format!("SSWS {API_TOKEN}"))
        .send()
        .await
        .expect("the org answers")
}

/// `GET /api/v1/users?{query}` with the API token: status and body.
async fn list(org: &OktaOrg, query: &str) -> (StatusCode, Value) {
    let response = get(org, &format!("/api/v1/users?{query}")).await;
    (response.status(), response.json().await.unwrap())
}

/// The `rel="next"` URL of the `Link` headers of `GET /api/v1/users?{query}`.
async fn next_link(org: &OktaOrg, query: &str) -> Option<String> {
    let response = get(org, &format!("/api/v1/users?{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    response
        .headers()
        .get_all("link")
        .iter()
        .map(|link| link.to_str().unwrap())
        .find_map(|link| link.strip_suffix(">; rel=\"next\""))
        .map(|link| link.trim_start_matches('<').to_owned())
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

#[tokio::test]
async fn next_links_can_repeat_the_cursor_or_name_another_origin() {
    let org = org().await;
    let ids = org.add_users(5);
    let users = format!("{}/api/v1/users", org.url);
    let faithful = format!("{users}?after={}&limit=2", ids[1]);
    assert_eq!(next_link(&org, "limit=2").await, Some(faithful.clone()));
    assert_eq!(
        next_link(&org, &format!("after={}&limit=2", ids[3])).await,
        None
    );

    // A server stuck in a loop: the first page links on, every later page to itself,
    // the last one too.
    org.set_next_links(NextLinks::Repeat);
    assert_eq!(next_link(&org, "limit=2").await, Some(faithful.clone()));
    let asked = format!("after={}&limit=2", ids[1]);
    assert_eq!(next_link(&org, &asked).await, Some(faithful.clone()));
    let last = format!("after={}&limit=2", ids[3]);
    assert_eq!(
        next_link(&org, &last).await,
        Some(format!("{users}?{last}"))
    );

    // Another origin, same path and query.
    org.set_next_links(NextLinks::Foreign("http://elsewhere.example:9".into()));
    assert_eq!(
        next_link(&org, "limit=2").await,
        Some(faithful.replace(&org.url, "http://elsewhere.example:9"))
    );
}

#[tokio::test]
async fn each_bucket_counts_its_requests_and_429s_on_its_own() {
    let org = org().await;
    let id = org.add_users(1).remove(0);
    org.set_bucket_rate_limit(Bucket::Users, 1, Duration::from_secs(60));
    assert_eq!(get(&org, "/api/v1/users").await.status(), StatusCode::OK);
    let throttled = get(&org, "/api/v1/users").await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    // Okta's 429 carries the bucket's X-Rate-Limit-* headers, and no Retry-After
    // (https://developer.okta.com/docs/reference/rl-best-practices/: "Okta provides three
    // headers in each response"; Okta sends no Retry-After: shared/reviews vendor review).
    assert_eq!(throttled.headers()["x-rate-limit-limit"], "1");
    assert_eq!(throttled.headers()["x-rate-limit-remaining"], "0");
    assert!(throttled.headers().contains_key("x-rate-limit-reset"));
    assert!(!throttled.headers().contains_key("retry-after"));
    // Another bucket is not held back.
    assert_eq!(
        get(&org, &format!("/api/v1/users/{id}")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        (org.requests_in(Bucket::Users), org.throttled(Bucket::Users)),
        (2, 1)
    );
    assert_eq!(
        (
            org.requests_in(Bucket::UserRead),
            org.throttled(Bucket::UserRead)
        ),
        (1, 0)
    );
    assert_eq!(org.requests_in(Bucket::ApiV1), 0);
}
