//! DPoP (RFC 9449) with an Okta org whose service app requires it: the tenant's calls end
//! to end, the nonce dance done once, and the org refusing proofs that a thief could make.
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stand_ins::okta::{rsa_key_pair, OktaOrg};
use url::Url;

use integration_service::upstream::dpop::DpopKey;

use crate::helpers::{assert_json, assert_problem, put_secret, secret_name, spawn_app};

const CLIENT_ID: &str = "0oa-globex-service";

/// Org `globex` with 2 users and a service app that requires DPoP, and the app's
/// private key.
async fn dpop_org() -> (OktaOrg, String) {
    let org = OktaOrg::spawn("globex").await;
    let (private_key, public_key) = rsa_key_pair();
    org.set_oauth_client(CLIENT_ID, &public_key, 3600);
    org.require_dpop(true);
    org.add_users(2);
    (org, private_key)
}

/// Tenant `globex` on `org` through the service app; `dpop` as the tenant's setting.
async fn globex(org: &OktaOrg, private_key: &str, dpop: bool) -> crate::helpers::TestApp {
    let secret = secret_name("globex-okta");
    put_secret(&secret, &json!({"private_key": private_key}).to_string()).await;
    spawn_app(json!({
        "globex": {"okta": {"base_url": org.url, "secret": secret, "auth": {
            "method": "oauth_private_key_jwt", "client_id": CLIENT_ID,
            "scopes": ["okta.users.read", "okta.users.manage"], "dpop": dpop}}}
    }))
    .await
}

async fn list(app: &crate::helpers::TestApp) -> Value {
    assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await
}

#[tokio::test]
async fn a_dpop_tenant_lists_and_suspends_users_end_to_end() {
    let (org, private_key) = dpop_org().await;
    let app = globex(&org, &private_key, true).await;
    assert_eq!(list(&app).await["users"].as_array().unwrap().len(), 2);
    // A proof without a nonce, then one with the nonce Okta handed out.
    assert_eq!(org.token_requests(), 2);
    assert_eq!(org.dpop_refusals(), ["no current nonce"]);

    let user = org.add_user("ACTIVE");
    let body = assert_json(
        app.tenant("globex")
            .post("/okta/suspend_user", &json!({"user_id": user}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["status"], "SUSPENDED");
    assert_eq!(org.status_of(&user).as_deref(), Some("SUSPENDED"));
    assert_eq!(org.token_requests(), 2, "one bound token for every call");
    assert_eq!(org.rejected_auth(), 0, "every call's proof was accepted");
}

#[tokio::test]
async fn a_tenant_without_dpop_switches_to_it_when_the_app_requires_it() {
    let (org, private_key) = dpop_org().await;
    let app = globex(&org, &private_key, false).await;
    assert_eq!(list(&app).await["users"].as_array().unwrap().len(), 2);
    assert_eq!(org.token_requests(), 3);
    assert_eq!(
        org.dpop_refusals(),
        ["The DPoP proof JWT header is missing.", "no current nonce"]
    );

    // The next token is asked for with DPoP and the nonce at once.
    org.revoke_access_tokens();
    list(&app).await;
    assert_eq!(org.token_requests(), 4);
    assert_eq!(org.dpop_refusals().len(), 2);
}

#[tokio::test]
async fn a_nonce_demanded_again_is_a_clear_refusal_not_a_loop() {
    let (org, private_key) = dpop_org().await;
    org.churn_dpop_nonces(true);
    let app = globex(&org, &private_key, true).await;
    let body = assert_problem(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::BAD_GATEWAY,
        None,
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("use_dpop_nonce"), "{detail}");
    assert_eq!(org.token_requests(), 2, "the nonce was answered once");
}

#[tokio::test]
async fn an_api_nonce_is_answered_once_then_kept() {
    let (org, private_key) = dpop_org().await;
    org.require_dpop_nonce_on_api_calls(true);
    let app = globex(&org, &private_key, true).await;
    list(&app).await;
    assert_eq!(org.api_requests(), 2, "401 use_dpop_nonce, then the call");
    list(&app).await;
    assert_eq!(org.api_requests(), 3, "the nonce is reused");
    assert_eq!(org.token_requests(), 2);

    // An API that never settles on a nonce: answered once, then a clear 502.
    org.churn_dpop_nonces(true);
    let body = assert_problem(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::BAD_GATEWAY,
        None,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("nonce"), "{body}");
}

/// A DPoP-bound access token for `key`, asked for as a client does (the nonce dance).
async fn bound_token(org: &OktaOrg, private_key: &str, key: &DpopKey) -> String {
    let token_url = Url::parse(&format!("{}/oauth2/v1/token", org.url)).unwrap();
    let client = reqwest::Client::new();
    let mut nonce = None;
    for _ in 0..2 {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &json!({"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": token_url.as_str(),
                    "iat": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string()}),
            &jsonwebtoken::EncodingKey::from_rsa_pem(private_key.as_bytes()).unwrap(),
        )
        .unwrap();
        let response = client
            .post(token_url.clone())
            .header(
                "DPoP",
                key.proof(&Method::POST, &token_url, nonce.as_deref(), None),
            )
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "okta.users.read"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", &assertion),
            ])
            .send()
            .await
            .unwrap();
        if let Some(given) = response.headers().get("dpop-nonce") {
            nonce = Some(given.to_str().unwrap().to_owned());
        }
        let body: Value = response.json().await.unwrap();
        if body["token_type"] == "DPoP" {
            return body["access_token"].as_str().unwrap().to_owned();
        }
        assert_eq!(body["error"], "use_dpop_nonce", "{body}");
    }
    panic!("no token after the nonce");
}

#[tokio::test]
async fn the_org_refuses_replayed_foreign_and_unbound_proofs() {
    let (org, private_key) = dpop_org().await;
    let key = DpopKey::generate();
    let token = bound_token(&org, &private_key, &key).await;
    let users = Url::parse(&format!("{}/api/v1/users", org.url)).unwrap();
    let call = |scheme: &str, proof: Option<String>| {
        let mut request = reqwest::Client::new()
            .get(users.clone())
            .header(AUTHORIZATION, format!("{scheme} {token}"));
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        request.send()
    };
    let refused = |response: reqwest::Response, why: &str| {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("DPoP "), "{challenge}");
        assert!(
            org.dpop_refusals().last().unwrap().contains(why),
            "{:?} should end with {why}",
            org.dpop_refusals()
        );
    };

    let proof = key.proof(&Method::GET, &users, None, Some(&token));
    assert_eq!(
        call("DPoP", Some(proof.clone())).await.unwrap().status(),
        StatusCode::OK
    );
    let thief = DpopKey::generate();
    let other_url = users.join("/api/v1/users/00uglobex000001").unwrap();
    let attacks = [
        ("DPoP", Some(proof), "replayed"),
        (
            "DPoP",
            Some(thief.proof(&Method::GET, &users, None, Some(&token))),
            "the proof's key is not the token's",
        ),
        (
            "DPoP",
            Some(key.proof(&Method::GET, &users, None, None)),
            "`ath` is missing",
        ),
        (
            "DPoP",
            Some(key.proof(&Method::GET, &other_url, None, Some(&token))),
            "`htu`",
        ),
        (
            "DPoP",
            Some(key.proof(&Method::DELETE, &users, None, Some(&token))),
            "`htm`",
        ),
        ("Bearer", None, "sent as a bearer token"),
        ("DPoP", None, "missing"),
    ];
    for (scheme, proof, why) in attacks {
        refused(call(scheme, proof).await.unwrap(), why);
    }
    assert_eq!(
        call(
            "DPoP",
            Some(key.proof(&Method::GET, &users, None, Some(&token)))
        )
        .await
        .unwrap()
        .status(),
        StatusCode::OK,
        "a fresh proof of the right key still works"
    );
}
