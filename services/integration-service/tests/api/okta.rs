//! Okta capabilities against in-process Okta orgs: paging, lifecycle rules, two-step
//! delete, rate limits, secret rotation, tenant isolation, OAuth private_key_jwt.
use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use stand_ins::okta::{rsa_key_pair, Bucket, NotActiveSuspend, OktaOrg};

use crate::helpers::{
    assert_json, assert_problem, put_secret, secret_name, spawn_app, spawn_app_with, two_okta_orgs,
    TestApp, TwoOrgs,
};

struct Acme {
    app: TestApp,
    org: OktaOrg,
    secret: String,
}

/// Tenant `acme` on an Okta org with an API token; `tune` adjusts the config.
async fn acme_with(tune: impl FnOnce(&mut integration_service::config::Config)) -> Acme {
    let org = OktaOrg::spawn("acme").await;
    org.set_api_token("acme-token-1");
    let secret = secret_name("acme-okta");
    put_secret(&secret, r#"{"api_token": "acme-token-1"}"#).await;
    let tenants = json!({
        "acme": {"okta": {"base_url": org.url, "auth": {"method": "api_token"}, "secret": secret}}
    });
    Acme {
        app: spawn_app_with(tenants, tune).await,
        org,
        secret,
    }
}

async fn acme() -> Acme {
    acme_with(|_| {}).await
}

fn ids(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

fn metric(metrics: &str, name: &str, labels: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(name) && line.contains(labels))
        .and_then(|line| line.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

/// Lists users as acme, expecting the rate-limit problem.
async fn rate_limited_listing(app: &TestApp) {
    let body = assert_problem(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
    )
    .await;
    assert_eq!(body["type"], "urn:problem:upstream-rate-limited");
}

/// Someone else lists acme's users, spending the listing bucket's quota.
async fn use_listing_quota(org: &OktaOrg) {
    reqwest::Client::new()
        .get(format!("{}/api/v1/users", org.url))
        .header("authorization", "SSWS acme-token-1")
        .send()
        .await
        .unwrap();
}

/// `POST /okta/suspend_user` of `user` as `tenant`.
async fn suspend(app: &TestApp, tenant: &str, user: &str) -> reqwest::Response {
    app.tenant(tenant)
        .post("/okta/suspend_user", &json!({"user_id": user}))
        .await
}

/// Suspends `user` as acme, expecting a problem with `status`.
async fn suspend_refused(app: &TestApp, user: &str, status: StatusCode) -> Value {
    assert_problem(suspend(app, "acme", user).await, status, None).await
}

#[tokio::test]
async fn pages_through_250_users_with_the_next_cursor() {
    let Acme { app, org, .. } = acme().await;
    let created = org.add_users(250);
    let mut seen = Vec::new();
    let mut path = "/okta/list_users?limit=100".to_owned();
    let mut pages = 0;
    loop {
        let page = assert_json(app.tenant("acme").get(&path).await, StatusCode::OK).await;
        pages += 1;
        assert_eq!(page["truncated"], false);
        seen.extend(ids(&page));
        match page["next"].as_str() {
            Some(next) => path = format!("/okta/list_users?limit=100&after={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "every user once, in order");
    let first = assert_json(
        app.tenant("acme").get("/okta/list_users?limit=1").await,
        StatusCode::OK,
    )
    .await;
    let user = &first["users"][0];
    assert_eq!(user["status"], "ACTIVE");
    assert_eq!(user["login"], "user1@acme.example.com");
}

#[tokio::test]
async fn all_pages_at_once_and_the_hard_cap() {
    // The cap is the tenant's own setting of a declared list (the definition's default: 1000).
    let org = OktaOrg::spawn("acme").await;
    org.set_api_token("acme-token-1");
    let secret = secret_name("acme-okta");
    put_secret(&secret, "acme-token-1").await;
    let app = spawn_app(json!({
        "acme": {"okta": {"base_url": org.url, "auth": {"method": "api_token"}, "secret": secret,
                          "list_all_max": 320}}
    }))
    .await;
    let created = org.add_users(450);
    let capped = assert_json(
        app.tenant("acme").get("/okta/list_users?all=true").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&capped), created[..320], "stops exactly at the cap");
    assert_eq!(capped["truncated"], true);
    assert_eq!(capped["pages"], 2, "Okta's largest pages: 200 + 120");
    let next = capped["next"].as_str().expect("a cursor to continue");
    // A limit above the cap is held to the cap.
    let rest = assert_json(
        app.tenant("acme")
            .get(&format!(
                "/okta/list_users?all=true&limit=5000&after={next}"
            ))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&rest), created[320..]);
    assert_eq!(rest["truncated"], false);
    assert!(rest["next"].is_null());
    // Without all=true a limit is one Okta page at most.
    assert_problem(
        app.tenant("acme").get("/okta/list_users?limit=201").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("limit"),
    )
    .await;

    // Under the cap: everything, not truncated. A filter narrows it.
    org.set_status(&created[0], "SUSPENDED");
    let filtered = assert_json(
        app.tenant("acme")
            .get("/okta/list_users?all=true&filter=status%20eq%20%22SUSPENDED%22")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&filtered), [created[0].clone()]);
    assert_eq!(filtered["truncated"], false);
    assert!(filtered["next"].is_null());
    // An expression Okta rejects is the caller's: 422 naming it.
    assert_problem(
        app.tenant("acme")
            .get("/okta/list_users?search=name%20sw%20%22a%22")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("search"),
    )
    .await;
}

#[tokio::test]
async fn all_pages_stop_at_the_caller_s_limit() {
    let Acme { app, org, .. } = acme().await;
    let created = org.add_users(250);
    let before = org.api_requests();
    let page = assert_json(
        app.tenant("acme")
            .get("/okta/list_users?all=true&limit=5")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&page), created[..5]);
    assert_eq!(page["truncated"], true);
    assert_eq!(
        org.api_requests() - before,
        1,
        "one Okta call for five users, not one per five"
    );
    let next = page["next"].as_str().expect("a cursor to continue");
    let rest = assert_json(
        app.tenant("acme")
            .get(&format!("/okta/list_users?all=true&limit=300&after={next}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&rest), created[5..]);
    assert_eq!(rest["pages"], 2);
}

#[tokio::test]
async fn all_pages_leave_the_tenant_s_okta_rate_for_other_calls() {
    // Pacing starts below half the window: the listing stops before it gets there.
    let Acme { app, org, .. } = acme_with(|config| config.upstream.slowdown_below = 0.5).await;
    let created = org.add_users(1000);
    let user = created[999].clone();
    org.set_rate_limit(4, Duration::from_secs(60));
    let started = Instant::now();
    let page = assert_json(
        app.tenant("acme").get("/okta/list_users?all=true").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["pages"], 2, "stopped with half the window left");
    assert_eq!(ids(&page), created[..400]);
    assert_eq!(page["truncated"], true);
    assert!(page["next"].is_string());
    assert!(started.elapsed() < Duration::from_secs(2), "not paced");
    // What the listing left is there for the tenant's other calls, at once.
    assert_json(
        app.tenant("acme")
            .post("/okta/suspend_user", &json!({"user_id": user}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(org.status_of(&user).as_deref(), Some("SUSPENDED"));
}

#[tokio::test]
async fn suspend_only_active_users() {
    let Acme { app, org, .. } = acme().await;
    let active = org.add_user("ACTIVE");
    let body = assert_json(suspend(&app, "acme", &active).await, StatusCode::OK).await;
    assert_eq!(body, json!({"id": active, "status": "SUSPENDED"}));
    assert_eq!(org.status_of(&active).as_deref(), Some("SUSPENDED"));

    // Suspending again (or any non-active user): a clear conflict, with Okta's reason.
    let body = suspend_refused(&app, &active, StatusCode::CONFLICT).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("only ACTIVE users") && detail.contains("not active"),
        "{detail}"
    );
    let staged = org.add_user("STAGED");
    suspend_refused(&app, &staged, StatusCode::CONFLICT).await;
    assert_eq!(org.status_of(&staged).as_deref(), Some("STAGED"));
    suspend_refused(&app, "00unobody", StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_403_e0000038_suspend_is_a_conflict_not_a_credentials_problem() {
    let Acme { app, org, .. } = acme().await;
    org.set_not_active_suspend(NotActiveSuspend::NotAllowedInStatus);
    let suspended = org.add_user("SUSPENDED");
    let body = suspend_refused(&app, &suspended, StatusCode::CONFLICT).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("only ACTIVE") && detail.contains("current status"),
        "{detail}"
    );
    assert!(!body.to_string().contains("credentials"), "{body}");
    assert_eq!(org.status_of(&suspended).as_deref(), Some("SUSPENDED"));
}

#[tokio::test]
async fn delete_does_both_steps_and_a_retry_after_a_half_done_delete_finishes_it() {
    let Acme { app, org, .. } = acme().await;
    let user = org.add_user("ACTIVE");
    let body = assert_json(
        app.tenant("acme")
            .post("/okta/delete_user", &json!({"user_id": user}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        body,
        json!({"id": user, "previous_status": "ACTIVE", "deactivated": true, "deleted": true})
    );
    assert_eq!(org.status_of(&user), None, "gone, not just deactivated");

    // Half done earlier (deactivated, then the caller gave up): the repeat finishes it.
    let half = org.add_user("ACTIVE");
    org.set_status(&half, "DEPROVISIONED");
    let body = assert_json(
        app.tenant("acme")
            .post("/okta/delete_user", &json!({"user_id": half}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["previous_status"], "DEPROVISIONED");
    assert_eq!(body["deactivated"], false);
    assert_eq!(org.status_of(&half), None);

    // A flaky Okta on the way (a 503 answer) is retried: still ends deleted.
    let flaky = org.add_user("ACTIVE");
    org.fail_next(&[StatusCode::SERVICE_UNAVAILABLE]);
    assert_json(
        app.tenant("acme")
            .post("/okta/delete_user", &json!({"user_id": flaky}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(org.status_of(&flaky), None);

    // Already deleted: the first lookup says so.
    assert_problem(
        app.tenant("acme")
            .post("/okta/delete_user", &json!({"user_id": user}))
            .await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_but_never_for_suspend() {
    let Acme { app, org, .. } = acme().await;
    let user = org.add_user("ACTIVE");
    org.fail_next(&[StatusCode::INTERNAL_SERVER_ERROR, StatusCode::BAD_GATEWAY]);
    let before = org.api_requests();
    let body = assert_json(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&body), std::slice::from_ref(&user));
    assert_eq!(org.api_requests() - before, 3, "two retries, then success");

    // Three failures exhaust the attempts: 503 with Retry-After.
    org.fail_next(&[StatusCode::INTERNAL_SERVER_ERROR; 3]);
    let response = app.tenant("acme").get("/okta/list_users").await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, None).await;

    // A 500 on suspend may have suspended: no blind retry, the caller is told so.
    org.fail_next(&[StatusCode::INTERNAL_SERVER_ERROR]);
    let before = org.api_requests();
    let body = assert_problem(
        suspend(&app, "acme", &user).await,
        StatusCode::GATEWAY_TIMEOUT,
        None,
    )
    .await;
    assert_eq!(body["type"], "urn:problem:upstream-outcome-unknown");
    assert_eq!(org.api_requests() - before, 1, "not retried");
    let metrics = app.metrics().await;
    assert!(
        metric(
            &metrics,
            "integration_upstream_retries_total",
            "operation=\"list_users\""
        ) >= 2.0
    );
}

#[tokio::test]
async fn a_page_too_slow_for_okta_is_asked_for_again_smaller() {
    let Acme { app, org, .. } = acme().await;
    let created = org.add_users(250);
    // Okta times out on pages of more than 60 users (a 500): 200, 100 and then 50 are
    // asked for, never the same failing size twice.
    org.set_slow_pages_above(Some(60));
    let before = org.api_requests();
    let page = assert_json(
        app.tenant("acme").get("/okta/list_users?all=true").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&page), created);
    assert_eq!(page["pages"], 5, "250 users in pages of 50");
    assert_eq!(
        org.api_requests() - before,
        7,
        "two refused pages, then five of 50"
    );
}

#[tokio::test]
async fn a_429_waits_for_the_reset_then_succeeds() {
    let Acme { app, org, .. } = acme().await;
    org.add_users(3);
    org.set_rate_limit(1, Duration::from_secs(2));
    // Someone else used the org's quota: the service learns it from the 429.
    use_listing_quota(&org).await;
    let started = Instant::now();
    let body = assert_json(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&body).len(), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "waited for the reset"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "integration_upstream_rate_limited_total",
            "tenant=\"acme\""
        ),
        1.0
    );
    assert!(
        metric(
            &metrics,
            "integration_upstream_retries_total",
            "reason=\"rate_limited\""
        ) >= 1.0
    );
    assert!(metrics.contains(
        "integration_rate_limit_remaining{bucket=\"users\",integration=\"okta\",tenant=\"acme\"}"
    ));
}

#[tokio::test]
async fn a_reset_beyond_the_deadline_is_a_503_with_retry_after_and_spares_the_org() {
    let Acme { app, org, .. } = acme().await;
    org.add_users(1);
    org.set_rate_limit(1, Duration::from_secs(60));
    assert_json(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    let started = Instant::now();
    let response = app.tenant("acme").get("/okta/list_users").await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, None).await;
    assert_eq!(body["type"], "urn:problem:upstream-rate-limited");
    assert!((50..=61).contains(&retry_after), "{retry_after}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at once, not after waiting"
    );
    // The window is known to be used up: the next call does not even reach Okta.
    let before = org.api_requests();
    rate_limited_listing(&app).await;
    assert_eq!(org.api_requests(), before);
}

#[tokio::test]
async fn a_429_on_listing_or_deleting_never_slows_suspends() {
    let Acme { app, org, .. } = acme().await;
    let user = org.add_user("ACTIVE");
    let deleted = org.add_user("ACTIVE");
    // Okta counts each endpoint bucket on its own: listing and deleting are used up for a
    // minute; a suspend counts in the `/api/v1` catch-all, not with DELETE.
    org.set_bucket_rate_limit(Bucket::Users, 1, Duration::from_secs(60));
    org.set_bucket_rate_limit(Bucket::UserWrite, 1, Duration::from_secs(60));
    org.set_bucket_rate_limit(Bucket::ApiV1, 100, Duration::from_secs(60));
    assert_json(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    rate_limited_listing(&app).await;
    assert_problem(
        app.tenant("acme")
            .post("/okta/delete_user", &json!({"user_id": deleted}))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        None,
    )
    .await;
    let started = Instant::now();
    assert_json(suspend(&app, "acme", &user).await, StatusCode::OK).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the suspend was held back by another bucket: {:?}",
        started.elapsed()
    );
    assert_eq!(org.status_of(&user).as_deref(), Some("SUSPENDED"));
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "integration_rate_limit_remaining",
            "bucket=\"api_v1\""
        ),
        99.0
    );
}

#[tokio::test]
async fn the_wait_for_a_reset_follows_the_org_s_clock_not_ours() {
    let Acme { app, org, .. } = acme().await;
    org.add_users(2);
    // The org's clock is 30 s ahead of this machine's: its reset, 2 s away in truth, is
    // 32 s away by the local clock (past the 6 s deadline).
    org.set_clock_ahead(Duration::from_secs(30));
    org.set_bucket_rate_limit(Bucket::Users, 1, Duration::from_secs(2));
    use_listing_quota(&org).await;
    let body = assert_json(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&body).len(), 2);
}

#[tokio::test]
async fn a_rotated_secret_is_picked_up_without_restart() {
    let Acme { app, org, secret } = acme().await;
    org.add_users(2);
    assert_json(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    // Rotation: Okta accepts only the new token; the new value is in Secrets Manager.
    org.set_api_token("acme-token-2");
    put_secret(&secret, r#"{"api_token": "acme-token-2"}"#).await;
    let body = assert_json(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&body).len(), 2);
    assert_eq!(
        org.rejected_auth(),
        1,
        "the old token was tried once, then refreshed"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "integration_auth_refreshes_total",
            "tenant=\"acme\""
        ),
        1.0
    );

    // A token Okta never accepts: 502 naming the cause, the secret nowhere in it.
    org.set_api_token("acme-token-3");
    let body = assert_problem(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::BAD_GATEWAY,
        None,
    )
    .await;
    assert_eq!(body["title"], "Tenant credentials rejected");
    assert!(!body.to_string().contains("acme-token"));
    assert!(!app.metrics().await.contains("acme-token"));
}

#[tokio::test]
async fn two_tenants_see_only_their_own_org() {
    let TwoOrgs {
        acme,
        globex,
        acme_users,
        globex_users,
        tenants,
    } = two_okta_orgs().await;
    let app = spawn_app(tenants).await;
    let body = assert_json(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&body), acme_users);
    let body = assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&body), globex_users);
    // Acting as globex on an acme user: globex's org has no such user.
    assert_problem(
        app.tenant("globex")
            .post("/okta/suspend_user", &json!({"user_id": acme_users[0]}))
            .await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    assert_eq!(acme.status_of(&acme_users[0]).as_deref(), Some("ACTIVE"));
    assert_eq!(
        acme.rejected_auth() + globex.rejected_auth(),
        0,
        "each org only saw its own token"
    );
    let all: HashSet<&String> = acme_users.iter().chain(&globex_users).collect();
    assert_eq!(all.len(), 5);
}

#[tokio::test]
async fn oauth_private_key_jwt_with_a_cached_access_token() {
    let org = OktaOrg::spawn("globex").await;
    let (private_key, public_key) = rsa_key_pair();
    org.set_oauth_client("0oa-globex-service", &public_key, 3600);
    org.add_users(2);
    let secret = secret_name("globex-okta");
    put_secret(&secret, &json!({"private_key": private_key}).to_string()).await;
    let app = spawn_app(json!({
        "globex": {"okta": {"base_url": org.url, "secret": secret, "auth": {
            "method": "oauth_private_key_jwt", "client_id": "0oa-globex-service", "key_id": "k1",
            "scopes": ["okta.users.read", "okta.users.manage"]}}}
    }))
    .await;
    for _ in 0..3 {
        let body = assert_json(
            app.tenant("globex").get("/okta/list_users").await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(ids(&body).len(), 2);
    }
    assert_eq!(
        org.token_requests(),
        1,
        "one access token for every call while it is valid"
    );

    // Okta stops accepting the token early: one 401, a new token, success.
    org.revoke_access_tokens();
    assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(org.token_requests(), 2);
    assert_eq!(org.rejected_auth(), 1);

    // A key Okta does not know: the token request is refused, a 502 says so.
    let (other_key, _) = rsa_key_pair();
    put_secret(&secret, &json!({"private_key": other_key}).to_string()).await;
    org.revoke_access_tokens();
    let body = globex_listing_refused(&app).await;
    assert_eq!(body["title"], "Tenant credentials rejected");
    assert!(body["detail"].as_str().unwrap().contains("invalid_client"));
}

#[tokio::test]
async fn a_429_of_the_token_endpoint_waits_for_its_own_reset() {
    let org = OktaOrg::spawn("globex").await;
    let (private_key, public_key) = rsa_key_pair();
    org.set_oauth_client("0oa-globex-service", &public_key, 3600);
    org.add_users(1);
    let secret = secret_name("globex-okta");
    put_secret(&secret, &json!({"private_key": private_key}).to_string()).await;
    let app = spawn_app(json!({
        "globex": {"okta": {"base_url": org.url, "secret": secret, "auth": {
            "method": "oauth_private_key_jwt", "client_id": "0oa-globex-service",
            "scopes": ["okta.users.read"]}}}
    }))
    .await;
    assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    // The org authorization server's own quota, one token per 4 s window, is used up by
    // someone else; a new token is needed: the 429 says when the window resets, and the
    // client waits for it (not a 200 ms backoff that would be refused again).
    org.set_bucket_rate_limit(Bucket::OrgAuthorizationServer, 1, Duration::from_secs(4));
    reqwest::Client::new()
        .post(format!("{}/oauth2/v1/token", org.url))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    org.revoke_access_tokens();
    let started = Instant::now();
    assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(org.token_requests(), 4, "one refused, one after the reset");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    // A reset beyond the call's deadline: a 503 saying when to come back.
    org.set_bucket_rate_limit(Bucket::OrgAuthorizationServer, 1, Duration::from_secs(60));
    org.revoke_access_tokens();
    assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    org.revoke_access_tokens();
    let response = app.tenant("globex").get("/okta/list_users").await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=62).contains(&retry_after), "{retry_after}");
    let body = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, None).await;
    assert_eq!(body["type"], "urn:problem:upstream-rate-limited");
}

/// Lists users as globex, expecting the upstream-credentials problem (502).
async fn globex_listing_refused(app: &TestApp) -> Value {
    assert_problem(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::BAD_GATEWAY,
        None,
    )
    .await
}

/// Tenant `globex` on an Okta org through an OAuth service app asking for `scopes`.
async fn globex_oauth(scopes: &[&str]) -> (TestApp, OktaOrg) {
    let org = OktaOrg::spawn("globex").await;
    let (private_key, public_key) = rsa_key_pair();
    org.set_oauth_client("0oa-globex-service", &public_key, 3600);
    let secret = secret_name("globex-okta");
    put_secret(&secret, &json!({"private_key": private_key}).to_string()).await;
    let app = spawn_app(json!({
        "globex": {"okta": {"base_url": org.url, "secret": secret, "auth": {
            "method": "oauth_private_key_jwt", "client_id": "0oa-globex-service", "key_id": "k1",
            "scopes": scopes}}}
    }))
    .await;
    (app, org)
}

#[tokio::test]
async fn a_read_only_tenant_gets_a_problem_naming_the_missing_scope_on_suspend() {
    let (app, org) = globex_oauth(&["okta.users.read"]).await;
    let user = org.add_user("ACTIVE");
    assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    let body = assert_problem(
        suspend(&app, "globex", &user).await,
        StatusCode::BAD_GATEWAY,
        None,
    )
    .await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("`okta.users.manage`"), "{detail}");
    assert_eq!(org.status_of(&user).as_deref(), Some("ACTIVE"));

    // Asking for a scope the app was never granted: the token request itself is refused.
    org.set_granted_scopes(&["okta.users.manage"]);
    org.revoke_access_tokens();
    let body = globex_listing_refused(&app).await;
    assert!(
        body["detail"].as_str().unwrap().contains("invalid_scope"),
        "{body}"
    );
}

#[tokio::test]
async fn an_app_without_an_admin_role_sees_no_users_and_the_answer_says_so() {
    let (app, org) = globex_oauth(&["okta.users.read", "okta.users.manage"]).await;
    org.add_users(2);
    let body = assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&body).len(), 2);
    assert_eq!(body["warnings"], json!([]));
    org.set_admin_role(false);
    let body = assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&body).len(), 0);
    let warning = body["warnings"][0].as_str().unwrap_or_default();
    assert!(warning.contains("admin role"), "{body}");
}

#[tokio::test]
async fn oauth_tokens_are_renewed_shortly_before_they_expire() {
    let org = OktaOrg::spawn("globex").await;
    let (private_key, public_key) = rsa_key_pair();
    org.set_oauth_client("0oa-short", &public_key, 2);
    let secret = secret_name("globex-okta");
    put_secret(&secret, &private_key).await;
    let app = spawn_app(json!({
        "globex": {"okta": {"base_url": org.url, "secret": secret, "auth": {
            "method": "oauth_private_key_jwt", "client_id": "0oa-short", "scopes": ["okta.users.read"]}}}
    }))
    .await;
    assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(org.token_requests(), 1);
    // Calls keep coming past the token's 2 s life (however slowly this machine runs
    // them): the client renews it before it expires, so none is refused.
    let deadline = Instant::now() + Duration::from_secs(30);
    while org.token_requests() < 2 {
        assert!(Instant::now() < deadline, "the token was never renewed");
        assert_json(
            app.tenant("globex").get("/okta/list_users").await,
            StatusCode::OK,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(org.token_requests(), 2, "renewed once");
    assert_eq!(
        org.rejected_auth(),
        0,
        "renewed before expiry, without a 401"
    );
}

#[tokio::test]
async fn a_slow_org_answers_within_the_deadline_without_piling_up_calls() {
    // Every Okta answer takes 3 s, past the 1.5 s attempt timeout; reads retry within the
    // 6 s call deadline, and the tenant's calls are capped at 4 in flight.
    let Acme { app, org, .. } = acme().await;
    org.add_users(1);
    org.set_delay(Some(Duration::from_secs(3)));
    let started = Instant::now();
    let calls = (0..12).map(|_| app.tenant("acme").get("/okta/list_users"));
    for response in futures::future::join_all(calls).await {
        let body = assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, None).await;
        assert!(body["detail"].is_string());
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "every caller answered within the deadline, not queued behind the others: {took:?}"
    );
    assert!(
        org.peak_in_flight() <= 4,
        "at most the tenant's concurrency cap reached the org: {}",
        org.peak_in_flight()
    );

    // Once the org is fast again, calls succeed at once.
    org.set_delay(None);
    assert_json(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
}
