//! The generic parts every capability gets: catalogue, routing, tenant, method,
//! parameter validation, OpenAPI.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stand_ins::okta::OktaOrg;
use test_support::compat::unserved_original_routes;
use test_support::try_it_out::{own_route, try_every_operation};

use crate::helpers::{
    assert_json, assert_problem, put_secret, secret_name, spawn_app, spawn_app_with, two_okta_orgs,
    TestApp, TwoOrgs, AUDIENCE, TENANT,
};

/// One tenant `acme` with Okta only.
async fn app_with_acme() -> (TestApp, OktaOrg) {
    let org = OktaOrg::spawn("acme").await;
    let secret = secret_name("acme-okta");
    org.set_api_token("acme-token");
    put_secret(&secret, "acme-token").await;
    let app = spawn_app(json!({
        "acme": {"okta": {"base_url": org.url, "auth": {"method": "api_token"}, "secret": secret}}
    }))
    .await;
    (app, org)
}

#[tokio::test]
async fn the_catalogue_lists_integrations_and_describes_capabilities() {
    let (app, _) = app_with_acme().await;
    let body = assert_json(app.authorized().get("/integrations").await, StatusCode::OK).await;
    let names: Vec<&str> = body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, registered());
    let okta = body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "okta")
        .unwrap();
    assert_eq!(
        okta["auth_methods"],
        json!(["api_token", "oauth_private_key_jwt"])
    );

    let okta = assert_json(
        app.authorized().get("/capabilities/okta").await,
        StatusCode::OK,
    )
    .await;
    let list = &okta["capabilities"][0];
    assert_eq!(list["name"], "list_users");
    assert_eq!(list["method"], "GET");
    assert_eq!(list["scope"], "integrations:read");
    assert!(list["params_schema"]["properties"]["limit"].is_object());
    let suspend = okta["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "suspend_user")
        .unwrap();
    assert_eq!(suspend["method"], "POST");
    assert_eq!(suspend["scope"], "integrations:write");

    let body = assert_problem(
        app.authorized().get("/capabilities/salesforce").await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    assert_eq!(body["type"], "urn:problem:unknown-integration");
}

#[tokio::test]
async fn unknown_integration_capability_and_tenant_are_404_problems() {
    let (app, org) = app_with_acme().await;
    let cases = [
        (
            "/salesforce/list_users",
            Some("acme"),
            "urn:problem:unknown-integration",
        ),
        (
            "/okta/list_groups",
            Some("acme"),
            "urn:problem:unknown-capability",
        ),
        (
            "/okta/list_users",
            Some("initech"),
            "urn:problem:unknown-tenant",
        ),
        (
            "/providers/list_providers",
            Some("acme"),
            "urn:problem:integration-not-configured",
        ),
    ];
    for (path, tenant, kind) in cases {
        let caller = match tenant {
            Some(tenant) => app.tenant(tenant),
            None => app.authorized(),
        };
        let body = assert_problem(caller.get(path).await, StatusCode::NOT_FOUND, None).await;
        assert_eq!(body["type"], kind, "{path}");
    }
    assert_eq!(org.api_requests(), 0, "nothing reached Okta");
}

#[tokio::test]
async fn the_wrong_method_is_405_with_allow() {
    let (app, org) = app_with_acme().await;
    let response = app
        .tenant("acme")
        .post("/okta/list_users", &json!({}))
        .await;
    assert_eq!(response.headers()["allow"], "GET");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, None).await;

    let response = app.tenant("acme").get("/okta/suspend_user?user_id=x").await;
    assert_eq!(response.headers()["allow"], "POST");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, None).await;

    let response = app.tenant("acme").delete("/okta/delete_user").await;
    assert_eq!(response.headers()["allow"], "POST");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, None).await;
    assert_eq!(org.api_requests(), 0);
}

#[tokio::test]
async fn parameters_are_validated_before_any_upstream_call() {
    let (app, org) = app_with_acme().await;
    // Rules broken: 422 naming every field.
    let body = assert_problem(
        app.tenant("acme")
            .get("/okta/list_users?limit=500&search=")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("limit"),
    )
    .await;
    assert_eq!(body["errors"][1]["field"], "search");
    assert_problem(
        app.tenant("acme")
            .post("/okta/suspend_user", &json!({"user_id": "../../admin"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("user_id"),
    )
    .await;
    // `me` is Okta's alias of the caller (an org admin), never a user to act on.
    for me in ["me", "Me"] {
        assert_problem(
            app.tenant("acme")
                .post("/okta/suspend_user", &json!({"user_id": me}))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("user_id"),
        )
        .await;
    }
    assert_problem(
        app.tenant("acme").get("/okta/get_user?user_id=me").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("user_id"),
    )
    .await;
    // Shape wrong: 400 naming the field (wrong type, missing, unknown).
    assert_problem(
        app.tenant("acme").get("/okta/list_users?limit=many").await,
        StatusCode::BAD_REQUEST,
        Some("limit"),
    )
    .await;
    assert_problem(
        app.tenant("acme")
            .post("/okta/suspend_user", &json!({}))
            .await,
        StatusCode::BAD_REQUEST,
        Some("user_id"),
    )
    .await;
    assert_problem(
        app.tenant("acme").get("/okta/list_users?limt=5").await,
        StatusCode::BAD_REQUEST,
        Some("limt"),
    )
    .await;
    // Parameters are an object, not an array of their values (serde would take that).
    assert_problem(
        app.tenant("acme")
            .post("/okta/suspend_user", &json!(["00u1"]))
            .await,
        StatusCode::BAD_REQUEST,
        Some("params"),
    )
    .await;
    // The tenant header: required and well-formed.
    assert_problem(
        app.authorized().get("/okta/list_users").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("X-Tenant-Id"),
    )
    .await;
    assert_problem(
        app.tenant("ACME Inc").get("/okta/list_users").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("X-Tenant-Id"),
    )
    .await;
    // A body that is not JSON.
    let response = app
        .tenant("acme")
        .send(
            Method::POST,
            "/okta/suspend_user",
            "text/plain",
            "user_id=1",
        )
        .await;
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;
    assert_eq!(org.api_requests(), 0, "nothing reached Okta");
}

#[tokio::test]
async fn every_original_route_in_the_readme_compatibility_table_is_served() {
    let (app, _) = app_with_acme().await;
    let spec: Value = app
        .authorized()
        .get("/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    for system in ["integrations:", "provider sync:"] {
        assert_eq!(
            unserved_original_routes(system, &spec),
            Vec::<String>::new()
        );
    }
}

#[tokio::test]
async fn every_operation_has_its_own_id_and_try_it_out_reaches_its_own_capability() {
    let okta = OktaOrg::spawn("acme").await;
    okta.set_api_token("acme-token");
    let users = okta.add_users(2);
    let partner = stand_ins::partner::Partner::spawn().await;
    let secret = secret_name("acme-okta");
    put_secret(&secret, "acme-token").await;
    let directory = stand_ins::graph::GraphTenant::spawn("acme").await;
    directory.set_client_secret("acme-app", "acme-secret");
    let graph_secret = secret_name("acme-graph");
    put_secret(&graph_secret, "acme-secret").await;
    let app = spawn_app(json!({"acme": {
        "okta": {"base_url": okta.url, "auth": {"method": "api_token"}, "secret": secret},
        "graph": {"base_url": directory.graph_url(), "directory_tenant_id": directory.tenant_id,
                  "auth": {"method": "oauth_client_secret", "client_id": "acme-app",
                           "scopes": ["https://graph.microsoft.com/.default"],
                           "token_url": directory.token_url()},
                  "secret": graph_secret},
        "providers": {"base_url": partner.url, "auth": {"method": "checksum"}},
    }}))
    .await;
    let values = [
        ("integration", "okta"),
        ("tenant", "acme"),
        ("user_id", users[0].as_str()),
        (TENANT, "acme"),
    ];
    // Capabilities share one route; the capability's own call counter names which ran.
    let problems = try_every_operation(&app.authorized(), &values, |driven| {
        let path = &driven.operation.path;
        let capability = path
            .strip_prefix('/')
            .and_then(|path| path.split_once('/'))
            .filter(|(integration, _)| registered().iter().any(|name| name == integration));
        let Some((integration, capability)) = capability else {
            return own_route(driven);
        };
        if integration == "directory" {
            // acme uses two directories (Okta and Graph): the directory route answers
            // 409 naming them, before any capability runs.
            let mut problems: Vec<String> = driven
                .problem("/{integration}/{capability}")
                .into_iter()
                .collect();
            if driven.status != 409 {
                problems.push(format!("{}: answered {}", driven.operation, driven.status));
            }
            return problems;
        }
        let mut problems: Vec<String> = driven
            .problem("/{integration}/{capability}")
            .into_iter()
            .collect();
        let own = [
            "integration_capability_calls_total",
            &format!("integration=\"{integration}\""),
            &format!("capability=\"{capability}\""),
        ];
        if !driven.counted(&own) {
            problems.push(format!(
                "{}: {integration}/{capability} did not run",
                driven.operation
            ));
        }
        problems
    })
    .await;
    assert_eq!(problems, Vec::<String>::new());
}

#[tokio::test]
async fn a_repeated_tenant_header_is_a_400_naming_it() {
    let (app, org) = app_with_acme().await;
    // Which of two values wins differs between proxies and frameworks: take neither.
    for second in ["acme", "globex"] {
        let response = app
            .tenant("acme")
            .header(TENANT, second)
            .get("/okta/list_users")
            .await;
        assert_problem(response, StatusCode::BAD_REQUEST, Some("X-Tenant-Id")).await;
    }
    assert_eq!(org.api_requests(), 0, "nothing reached Okta");
}

#[tokio::test]
async fn every_capability_is_in_the_openapi_with_its_schemas_and_scope() {
    let (app, _) = app_with_acme().await;
    let spec: Value = app
        .authorized()
        .get("/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let list = &spec["paths"]["/okta/list_users"]["get"];
    assert_eq!(list["security"][0]["oidc"][0], "integrations:read");
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        ["X-Tenant-Id", "limit", "after", "search", "filter", "all"]
    );
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/UsersPage"
    );
    let suspend = &spec["paths"]["/okta/suspend_user"]["post"];
    assert_eq!(suspend["security"][0]["oidc"][0], "integrations:write");
    assert_eq!(
        suspend["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/UserParams"
    );
    assert!(suspend["responses"]["409"].is_object());
    // A body is required exactly when the parameters have required fields.
    assert_eq!(suspend["requestBody"]["required"], true);
    // The shared layers' answers: body, URI and header limits.
    for status in ["413", "414", "431"] {
        assert!(suspend["responses"][status].is_object(), "{status}");
    }
    let sync = &spec["paths"]["/providers/sync_providers"]["post"];
    assert!(sync["responses"]["202"].is_object() && sync["responses"]["502"].is_object());
    assert_eq!(sync["requestBody"]["required"], false);
    for schema in [
        "UsersPage",
        "OktaUser",
        "SyncRun",
        "StoredProvider",
        "Problem",
    ] {
        assert!(
            spec["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
    assert!(spec["components"]["securitySchemes"]["oidc"].is_object());
}

#[tokio::test]
async fn callers_need_a_valid_token_with_the_capability_s_scope() {
    let (app, org) = app_with_acme().await;
    let user = org.add_user("ACTIVE");
    // No token, a garbage token, a wrong audience, an expired one: 401 before anything else.
    let no_token = app
        .anonymous()
        .header(TENANT, "acme")
        .get("/okta/list_users")
        .await;
    assert!(no_token.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    assert_problem(no_token, StatusCode::UNAUTHORIZED, None).await;
    assert_problem(
        app.anonymous().get("/nope/nope").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;
    let stranger = test_support::oidc::OidcIssuer::start().await;
    for token in [
        "not-a-jwt".to_owned(),
        app.issuer
            .token("api://sales", &["integrations:read"])
            .await,
        app.issuer
            .expired_token(AUDIENCE, &["integrations:read"])
            .await,
        stranger.token(AUDIENCE, &["integrations:read"]).await,
    ] {
        let response = app
            .bearer(&token)
            .header(TENANT, "acme")
            .get("/okta/list_users")
            .await;
        assert_problem(response, StatusCode::UNAUTHORIZED, None).await;
    }
    assert_problem(
        app.anonymous().get("/integrations").await,
        StatusCode::UNAUTHORIZED,
        None,
    )
    .await;

    // Read scope: reads and the catalogue, not writes.
    let reader = app.issuer.token(AUDIENCE, &["integrations:read"]).await;
    assert_json(
        app.bearer(&reader)
            .header(TENANT, "acme")
            .get("/okta/list_users")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_json(
        app.bearer(&reader).get("/integrations").await,
        StatusCode::OK,
    )
    .await;
    let response = app
        .bearer(&reader)
        .header(TENANT, "acme")
        .post("/okta/suspend_user", &json!({"user_id": user}))
        .await;
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
    assert_problem(response, StatusCode::FORBIDDEN, None).await;
    assert_eq!(org.status_of(&user).as_deref(), Some("ACTIVE"));

    // Write scope: writes, not reads.
    let writer = app.issuer.token(AUDIENCE, &["integrations:write"]).await;
    assert_problem(
        app.bearer(&writer)
            .header(TENANT, "acme")
            .get("/okta/list_users")
            .await,
        StatusCode::FORBIDDEN,
        None,
    )
    .await;
    assert_json(
        app.bearer(&writer)
            .header(TENANT, "acme")
            .post("/okta/suspend_user", &json!({"user_id": user}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(org.status_of(&user).as_deref(), Some("SUSPENDED"));
}

#[tokio::test]
async fn without_a_tenant_header_calls_act_for_the_default_tenant() {
    let TwoOrgs {
        acme_users,
        globex_users,
        tenants,
        ..
    } = two_okta_orgs().await;
    let app = spawn_app_with(tenants, |config| {
        config.default_tenant = Some("acme".into())
    })
    .await;
    let ids = |page: &Value| -> Vec<String> {
        let users = page["users"].as_array().unwrap();
        users
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };

    // The original smoke test: a bearer token and nothing else.
    assert_json(
        app.authorized().get("/capabilities/okta").await,
        StatusCode::OK,
    )
    .await;
    let page = assert_json(
        app.authorized().get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&page), acme_users);
    // The header still chooses, and is still checked.
    let page = assert_json(
        app.tenant("globex").get("/okta/list_users").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(&page), globex_users);
    let body = assert_problem(
        app.tenant("initech").get("/okta/list_users").await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    assert_eq!(body["type"], "urn:problem:unknown-tenant");
    assert_problem(
        app.tenant("ACME Inc").get("/okta/list_users").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("X-Tenant-Id"),
    )
    .await;
    // The spec says the header may be left out here.
    let spec: Value = app
        .authorized()
        .get("/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        spec["paths"]["/okta/list_users"]["get"]["parameters"][0]["required"],
        false
    );
}

#[tokio::test]
async fn a_default_tenant_that_is_not_configured_stops_the_start() {
    let started = tokio::process::Command::new(env!("CARGO_BIN_EXE_integration-service"))
        .arg("serve")
        .env("TENANTS_JSON", r#"{"acme": {"callers": {}}}"#)
        .env("DEFAULT_TENANT", "initech")
        .env("BIND_ADDR", "127.0.0.1:0")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(60), started)
        .await
        .expect("a bad configuration stops the start")
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DEFAULT_TENANT `initech`"), "{stderr}");
}

#[test]
fn the_binary_explains_itself_and_what_a_start_needs() {
    test_support::command::assert_explains_itself(
        env!("CARGO_BIN_EXE_integration-service"),
        "integration-service",
        &[
            "TENANTS_FILE (or TENANTS_JSON) is required",
            "OIDC_ISSUER_URL",
        ],
    );
}

/// Every integration of the service: the built-in definitions (in their files' order),
/// the common directory, then the Rust ones.
fn registered() -> Vec<String> {
    let mut names: Vec<String> = integration_service::definitions::load(None)
        .unwrap()
        .iter()
        .map(|definition| definition.name.clone())
        .collect();
    if integration_service::definitions::load(None)
        .unwrap()
        .iter()
        .any(|definition| definition.directory.is_some())
    {
        names.push("directory".into());
    }
    names.push("providers".into());
    names
}
