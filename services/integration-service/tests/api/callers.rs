//! Which caller may act on which tenant: each tenant lists the OIDC client ids allowed per
//! scope, and a valid token with the right scope is not enough on its own.
use reqwest::StatusCode;
use serde_json::json;
use stand_ins::okta::OktaOrg;
use test_support::oidc::{CLIENT_ID, SECOND_CLIENT_ID};

use crate::helpers::{
    assert_json, assert_problem, put_secret, secret_name, spawn_app_with, TestApp, AUDIENCE, TENANT,
};

struct TwoTenants {
    app: TestApp,
    acme: OktaOrg,
    globex: OktaOrg,
}

/// `acme` is the second service's tenant (both scopes); `globex` lets the second service
/// read only, and the default client (the platform) do both. Requests without a tenant
/// header act for `default_tenant`.
async fn two_tenants(default_tenant: Option<&str>) -> TwoTenants {
    let acme = OktaOrg::spawn("acme").await;
    let globex = OktaOrg::spawn("globex").await;
    acme.set_api_token("acme-token");
    globex.set_api_token("globex-token");
    let (acme_secret, globex_secret) = (secret_name("acme"), secret_name("globex"));
    put_secret(&acme_secret, "acme-token").await;
    put_secret(&globex_secret, "globex-token").await;
    let tenants = json!({
        "acme": {
            "callers": {"integrations:read": [SECOND_CLIENT_ID], "integrations:write": [SECOND_CLIENT_ID]},
            "okta": {"base_url": acme.url, "auth": {"method": "api_token"}, "secret": acme_secret},
        },
        "globex": {
            "callers": {"integrations:read": [CLIENT_ID, SECOND_CLIENT_ID], "integrations:write": [CLIENT_ID]},
            "okta": {"base_url": globex.url, "auth": {"method": "api_token"}, "secret": globex_secret},
        },
    });
    let app = spawn_app_with(tenants, |config| {
        config.default_tenant = default_tenant.map(str::to_owned)
    })
    .await;
    TwoTenants { app, acme, globex }
}

/// `POST /okta/suspend_user` of `user` as `tenant` (None: no header) with `token`.
async fn suspend(
    app: &TestApp,
    tenant: Option<&str>,
    user: &str,
    token: &str,
) -> reqwest::Response {
    let mut caller = app.bearer(token);
    if let Some(tenant) = tenant {
        caller = caller.header(TENANT, tenant);
    }
    caller
        .post("/okta/suspend_user", &json!({"user_id": user}))
        .await
}

#[tokio::test]
async fn a_caller_cannot_act_on_another_tenant_by_changing_the_header() {
    let TwoTenants { app, acme, globex } = two_tenants(None).await;
    let victim = globex.add_user("ACTIVE");
    let own_user = acme.add_user("ACTIVE");
    let attacker = app
        .issuer
        .second_client_token(AUDIENCE, &["integrations:read", "integrations:write"])
        .await;

    // Its own tenant: allowed.
    assert_json(
        suspend(&app, Some("acme"), &own_user, &attacker).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(acme.status_of(&own_user).as_deref(), Some("SUSPENDED"));

    // The same token with X-Tenant-Id: globex is refused before anything reaches its org.
    let before = globex.api_requests();
    let body = assert_problem(
        suspend(&app, Some("globex"), &victim, &attacker).await,
        StatusCode::FORBIDDEN,
        None,
    )
    .await;
    assert_eq!(body["type"], "urn:problem:tenant-forbidden");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("`globex`") && detail.contains("integrations:write"),
        "{detail}"
    );
    assert_eq!(globex.status_of(&victim).as_deref(), Some("ACTIVE"));
    assert_eq!(
        globex.api_requests(),
        before,
        "nothing reached globex's org"
    );

    // Per scope: globex lets it read (the user is there, now unchanged), not write.
    let read = assert_json(
        app.bearer(&attacker)
            .header(TENANT, "globex")
            .get(&format!("/okta/get_user?user_id={victim}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["status"], "ACTIVE");

    // The platform's client may write on globex, and nothing on acme.
    assert_json(
        suspend(&app, Some("globex"), &victim, &app.token).await,
        StatusCode::OK,
    )
    .await;
    let body = assert_problem(
        app.tenant("acme").get("/okta/list_users").await,
        StatusCode::FORBIDDEN,
        None,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("`acme`"));
}

#[tokio::test]
async fn the_default_tenant_is_authorised_like_a_named_one() {
    let TwoTenants { app, globex, .. } = two_tenants(Some("globex")).await;
    let victim = globex.add_user("ACTIVE");
    let attacker = app
        .issuer
        .second_client_token(AUDIENCE, &["integrations:write"])
        .await;
    let body = assert_problem(
        suspend(&app, None, &victim, &attacker).await,
        StatusCode::FORBIDDEN,
        None,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("`globex`"));
    assert_eq!(globex.status_of(&victim).as_deref(), Some("ACTIVE"));
    // The platform's client may.
    assert_json(
        suspend(&app, None, &victim, &app.token).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn a_caller_sees_only_the_tenants_that_list_its_client_and_never_a_secret() {
    let TwoTenants { app, .. } = two_tenants(None).await;
    let second = app
        .issuer
        .second_client_token(AUDIENCE, &["integrations:read"])
        .await;
    let body = assert_json(app.bearer(&second).get("/tenants").await, StatusCode::OK).await;
    assert_eq!(
        body,
        json!({"tenants": [
            {"id": "acme", "scopes": ["integrations:read", "integrations:write"],
             "integrations": [{"name": "okta", "auth_method": "api_token"}]},
            {"id": "globex", "scopes": ["integrations:read"],
             "integrations": [{"name": "okta", "auth_method": "api_token"}]},
        ]})
    );
    // The platform's client is listed on globex only.
    let body = assert_json(app.authorized().get("/tenants").await, StatusCode::OK).await;
    let ids: Vec<&str> = body["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["globex"]);
    assert!(!body.to_string().contains("secret") && !body.to_string().contains("127.0.0.1"));
    // Without the read scope: 403.
    let writer = app.issuer.token(AUDIENCE, &["integrations:write"]).await;
    assert_problem(
        app.bearer(&writer).get("/tenants").await,
        StatusCode::FORBIDDEN,
        None,
    )
    .await;
}

#[tokio::test]
async fn test_connection_sends_the_check_with_the_tenant_s_credentials() {
    let TwoTenants { app, globex, .. } = two_tenants(None).await;
    let test = |tenant: &str, integration: &str| {
        app.authorized().post(
            &format!("/tenants/{tenant}/integrations/{integration}/test"),
            &json!({}),
        )
    };
    let before = globex.api_requests();
    let body = assert_json(test("globex", "okta").await, StatusCode::OK).await;
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(globex.api_requests() - before, 1, "one check request");
    // Credentials Okta no longer takes: not ok, and why.
    globex.set_api_token("rotated-elsewhere");
    let body = assert_json(test("globex", "okta").await, StatusCode::OK).await;
    assert_eq!(body["ok"], false, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("credentials"),
        "{body}"
    );
    assert!(!body.to_string().contains("globex-token"));
    // A tenant the caller is not listed for, an unknown tenant, an integration it lacks.
    assert_problem(test("acme", "okta").await, StatusCode::FORBIDDEN, None).await;
    assert_problem(test("initech", "okta").await, StatusCode::NOT_FOUND, None).await;
    assert_problem(
        test("globex", "providers").await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
}
