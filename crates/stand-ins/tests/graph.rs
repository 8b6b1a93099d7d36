//! The Microsoft Graph stand-in's contract, seen by an HTTP client: the identity
//! platform's token endpoint (client_secret_post, AADSTS errors), `/v1.0/users` paging,
//! suspend and delete, Graph's error body, and throttling as Graph signals it.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use stand_ins::graph::{GraphTenant, Quota, Received};
use stand_ins::NextLinks;

const CLIENT_ID: &str = "8a4f0f5e-1c2b-4d3e-9f60-7a8b9c0d1e2f";
const SECRET: &str = "graph-client-secret-1";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// A token request as MSAL's confidential clients send it (client_secret_post).
const SECRET_POST: [(&str, &str); 4] = [
    ("client_id", CLIENT_ID),
    ("scope", GRAPH_SCOPE),
    ("client_secret", SECRET),
    ("grant_type", "client_credentials"),
];

async fn tenant() -> GraphTenant {
    let tenant = GraphTenant::spawn("globex").await;
    tenant.set_client_secret(CLIENT_ID, SECRET);
    tenant
}

/// Posts a token request form.
async fn request_token(url: &str, form: &[(&str, &str)]) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("the token endpoint answers")
}

async fn access_token(tenant: &GraphTenant) -> String {
    let response = request_token(&tenant.token_url(), &SECRET_POST).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// A Graph call with a bearer token.
async fn call(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.expect("graph answers")
}

/// `GET {graph_url}{path}` with a bearer token.
async fn get(tenant: &GraphTenant, token: &str, path: &str) -> reqwest::Response {
    let url = format!("{}{path}", tenant.graph_url());
    call(reqwest::Method::GET, &url, token, None).await
}

/// The same, read as JSON.
async fn get_json(tenant: &GraphTenant, token: &str, path: &str) -> Value {
    get(tenant, token, path).await.json().await.unwrap()
}

/// Graph's error body (https://learn.microsoft.com/graph/errors): its `code`, after
/// checking the shape.
async fn graph_error(response: reqwest::Response, status: StatusCode) -> (String, Value) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert!(error["message"].is_string(), "{body}");
    assert!(error["innerError"]["request-id"].is_string(), "{body}");
    assert!(error["innerError"]["date"].is_string(), "{body}");
    (error["code"].as_str().unwrap().to_owned(), body)
}

fn ids(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_client_secret_in_the_body_gets_a_bearer_token_for_graph() {
    let tenant = tenant().await;
    let response = request_token(&tenant.token_url(), &SECRET_POST).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().unwrap().len() > 10);
    // The tenant's domain name works in the path as well as its id.
    let by_domain = tenant
        .token_url()
        .replace(&tenant.tenant_id, "globex.onmicrosoft.com");
    let response = request_token(&by_domain, &SECRET_POST).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(tenant.token_requests(), 2);
}

/// A token request (URL, form) and the status, `error` and AADSTS code it must get.
type Refusal<'a> = (String, Vec<(&'a str, &'a str)>, StatusCode, &'a str, u64);

#[tokio::test]
async fn token_refusals_are_aadsts_errors() {
    let tenant = tenant().await;
    let good = SECRET_POST;
    let with = |name: &'static str, value: &'static str| {
        good.iter()
            .map(|&(key, old)| (key, if key == name { value } else { old }))
            .collect::<Vec<_>>()
    };
    let without = |name: &str| {
        good.iter()
            .copied()
            .filter(|&(key, _)| key != name)
            .collect::<Vec<_>>()
    };
    let wrong_tenant = tenant
        .token_url()
        .replace(&tenant.tenant_id, "contoso.onmicrosoft.com");
    let cases: Vec<Refusal> = vec![
        (
            tenant.token_url(),
            with("client_secret", "nope"),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
        ),
        (
            tenant.token_url(),
            without("client_secret"),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
        ),
        (
            tenant.token_url(),
            with("client_id", "someone-else"),
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
        ),
        (
            tenant.token_url(),
            with("scope", "User.Read.All"),
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
        ),
        (
            tenant.token_url(),
            with("scope", "https://vault.azure.net/.default"),
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
        ),
        (
            tenant.token_url(),
            with("grant_type", "password"),
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
        ),
        (
            tenant.token_url(),
            without("grant_type"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
        ),
        (
            wrong_tenant,
            good.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
        ),
    ];
    for (url, form, status, error, code) in cases {
        let response = request_token(&url, &form).await;
        assert_eq!(response.status(), status, "{form:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{body}");
        assert_eq!(body["error_codes"], json!([code]), "{body}");
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.starts_with(&format!("AADSTS{code}: ")),
            "{description}"
        );
        assert!(description.contains("\r\nTrace ID: "), "{description}");
        for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
            assert!(body[field].is_string(), "{field} in {body}");
        }
        assert!(
            !body.to_string().contains(SECRET),
            "the secret never comes back"
        );
    }
}

#[tokio::test]
async fn users_page_by_next_link_with_top_up_to_999() {
    let tenant = tenant().await;
    let token = access_token(&tenant).await;
    let created = tenant.add_users(250);
    let mut seen = Vec::new();
    let mut url = format!("{}/users?$top=100", tenant.graph_url());
    let mut pages = 0;
    loop {
        let response = call(reqwest::Method::GET, &url, &token, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("x-ratelimit-remaining").is_none());
        assert!(response.headers().get("x-rate-limit-remaining").is_none());
        let page: Value = response.json().await.unwrap();
        pages += 1;
        seen.extend(ids(&page));
        match page["@odata.nextLink"].as_str() {
            Some(next) => {
                // A full URL on the same host, carrying the page size and an opaque token.
                assert!(
                    next.starts_with(&format!("{}/users?", tenant.graph_url())),
                    "{next}"
                );
                assert!(next.contains("$top=100"), "{next}");
                assert!(next.contains("$skiptoken="), "{next}");
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created, "every user once, in order");

    // Default page: 100; the largest: 999; beyond: 400 Request_UnsupportedQuery.
    let page: Value = get_json(&tenant, &token, "/users").await;
    assert_eq!(ids(&page).len(), 100);
    let page: Value = get_json(&tenant, &token, "/users?$top=999").await;
    assert_eq!(ids(&page).len(), 250);
    assert!(page.get("@odata.nextLink").is_none());
    for top in ["1000", "0", "many"] {
        let response = get(&tenant, &token, &format!("/users?$top={top}")).await;
        let (code, body) = graph_error(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(code, "Request_UnsupportedQuery");
        assert_eq!(
            body["error"]["message"],
            format!("Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.")
        );
    }
    // A tampered page token is refused.
    let response = get(&tenant, &token, "/users?$skiptoken=not-ours").await;
    graph_error(response, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn account_enabled_comes_only_when_selected_and_filters_work() {
    let tenant = tenant().await;
    let token = access_token(&tenant).await;
    let enabled = tenant.add_user(true);
    let disabled = tenant.add_user(false);
    let page: Value = get_json(&tenant, &token, "/users").await;
    assert!(
        page["value"][0].get("accountEnabled").is_none(),
        "not in the default set"
    );
    assert_eq!(
        page["value"][0]["userPrincipalName"],
        "user1@globex.onmicrosoft.com"
    );
    let url = format!(
        "{}/users?$select=id,accountEnabled&$filter=accountEnabled%20eq%20false",
        tenant.graph_url()
    );
    let page: Value = call(reqwest::Method::GET, &url, &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        page["value"],
        json!([{"id": disabled, "accountEnabled": false}])
    );
    let user: Value = get_json(
        &tenant,
        &token,
        &format!("/users/{enabled}?$select=accountEnabled,displayName"),
    )
    .await;
    assert_eq!(user["accountEnabled"], true);
    assert!(user["displayName"].is_string());
    let response = get(&tenant, &token, "/users?$select=password").await;
    assert_eq!(
        graph_error(response, StatusCode::BAD_REQUEST).await.0,
        "BadRequest"
    );
    let response = get(
        &tenant,
        &token,
        "/users?$filter=startswith(displayName,'A')",
    )
    .await;
    assert_eq!(
        graph_error(response, StatusCode::BAD_REQUEST).await.0,
        "Request_UnsupportedQuery"
    );
}

#[tokio::test]
async fn suspend_is_a_patch_answering_204_and_delete_204_then_404() {
    let tenant = tenant().await;
    let token = access_token(&tenant).await;
    let user = tenant.add_user(true);
    let url = format!("{}/users/{user}", tenant.graph_url());
    let response = call(
        reqwest::Method::PATCH,
        &url,
        &token,
        Some(json!({"accountEnabled": false})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.text().await.unwrap(), "");
    assert_eq!(tenant.account_enabled(&user), Some(false));
    assert_eq!(
        tenant.received().last(),
        Some(&Received {
            method: "PATCH".into(),
            path_and_query: format!("/v1.0/users/{user}"),
            body: Some(json!({"accountEnabled": false})),
        })
    );
    // The same PATCH again changes nothing and still answers 204 (idempotent).
    let response = call(
        reqwest::Method::PATCH,
        &url,
        &token,
        Some(json!({"accountEnabled": false})),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    // A property Graph does not have, or a wrong type: 400, nothing changed.
    for body in [
        json!({"accountEnabled": true, "shoeSize": 44}),
        json!({"accountEnabled": "no"}),
    ] {
        let response = call(reqwest::Method::PATCH, &url, &token, Some(body)).await;
        assert_eq!(
            graph_error(response, StatusCode::BAD_REQUEST).await.0,
            "Request_BadRequest"
        );
        assert_eq!(tenant.account_enabled(&user), Some(false));
    }

    let response = call(reqwest::Method::DELETE, &url, &token, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(tenant.account_enabled(&user), None);
    assert!(tenant.is_deleted(&user), "restorable for 30 days");
    for method in [
        reqwest::Method::GET,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let body = (method == reqwest::Method::PATCH).then(|| json!({"accountEnabled": false}));
        let response = call(method, &url, &token, body).await;
        let (code, body) = graph_error(response, StatusCode::NOT_FOUND).await;
        assert_eq!(code, "Request_ResourceNotFound");
        assert!(body["error"]["message"].as_str().unwrap().contains(&user));
    }
}

#[tokio::test]
async fn calls_need_a_live_token_and_writes_need_a_write_permission() {
    let tenant = tenant().await;
    let user = tenant.add_user(true);
    let url = format!("{}/users/{user}", tenant.graph_url());
    for token in ["", "made-up"] {
        let response = call(reqwest::Method::GET, &url, token, None).await;
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer "));
        assert_eq!(
            graph_error(response, StatusCode::UNAUTHORIZED).await.0,
            "InvalidAuthenticationToken"
        );
    }
    tenant.set_token_lifetime(Duration::ZERO);
    let expired = access_token(&tenant).await;
    let response = call(reqwest::Method::GET, &url, &expired, None).await;
    assert_eq!(
        graph_error(response, StatusCode::UNAUTHORIZED).await.0,
        "InvalidAuthenticationToken"
    );
    assert_eq!(tenant.rejected_auth(), 3);

    tenant.set_token_lifetime(Duration::from_secs(3599));
    tenant.set_app_roles(&["User.Read.All"]);
    let reader = access_token(&tenant).await;
    assert_eq!(
        call(reqwest::Method::GET, &url, &reader, None)
            .await
            .status(),
        StatusCode::OK
    );
    let response = call(
        reqwest::Method::PATCH,
        &url,
        &reader,
        Some(json!({"accountEnabled": false})),
    )
    .await;
    assert_eq!(
        graph_error(response, StatusCode::FORBIDDEN).await.0,
        "Authorization_RequestDenied"
    );
    assert_eq!(tenant.account_enabled(&user), Some(true));

    tenant.revoke_access_tokens();
    let response = call(reqwest::Method::GET, &url, &reader, None).await;
    graph_error(response, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_used_up_quota_answers_429_with_retry_after_and_the_scope_only() {
    let tenant = tenant().await;
    let token = access_token(&tenant).await;
    let users = tenant.add_users(3);
    tenant.set_quota(Quota::Write, 1, Duration::from_secs(30));
    let patch = |user: &str| {
        let url = format!("{}/users/{user}", tenant.graph_url());
        let token = token.clone();
        async move {
            call(
                reqwest::Method::PATCH,
                &url,
                &token,
                Some(json!({"accountEnabled": false})),
            )
            .await
        }
    };
    assert_eq!(patch(&users[0]).await.status(), StatusCode::NO_CONTENT);
    let throttled = patch(&users[1]).await;
    let headers = throttled.headers().clone();
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(
        headers["x-ms-throttle-scope"],
        format!("Tenant_Application/Write/{CLIENT_ID}/{}", tenant.tenant_id).as_str()
    );
    assert_eq!(headers["x-ms-throttle-information"], "WriteLimitExceeded");
    for name in headers.keys() {
        assert!(
            !name.as_str().contains("ratelimit") && !name.as_str().contains("rate-limit"),
            "{name}"
        );
    }
    assert_eq!(
        graph_error(throttled, StatusCode::TOO_MANY_REQUESTS)
            .await
            .0,
        "TooManyRequests"
    );
    assert_eq!(
        tenant.account_enabled(&users[1]),
        Some(true),
        "nothing done"
    );
    assert_eq!(tenant.throttled(Quota::Write), 1);
    // Reads have their own quota: the write quota does not stop them.
    let read = get(&tenant, &token, "/users").await;
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(
        read.headers()["x-ms-resource-unit"],
        "2",
        "GET users costs 2"
    );

    // Resource units: GET users costs 2, 1 with $select; 2 units allow two selected reads.
    tenant.set_quota(Quota::Read, 2, Duration::from_secs(30));
    let selected = format!("{}/users?$select=id", tenant.graph_url());
    let first = call(reqwest::Method::GET, &selected, &token, None).await;
    assert_eq!(first.headers()["x-ms-resource-unit"], "1");
    let second = call(reqwest::Method::GET, &selected, &token, None).await;
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(second.headers()["x-ms-throttle-limit-percentage"], "1.0");
    let third = call(reqwest::Method::GET, &selected, &token, None).await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        third.headers()["x-ms-throttle-scope"],
        format!("Tenant_Application/Read/{CLIENT_ID}/{}", tenant.tenant_id).as_str()
    );
    assert_eq!(
        (
            tenant.throttled(Quota::Read),
            tenant.throttled(Quota::Write),
            tenant.throttled(Quota::ReadWrite)
        ),
        (1, 1, 0),
        "429s counted per quota"
    );
}

#[tokio::test]
async fn next_links_can_repeat_the_skiptoken_or_name_another_origin() {
    let tenant = tenant().await;
    let token = access_token(&tenant).await;
    tenant.add_users(5);
    let next_of = |page: &Value| page["@odata.nextLink"].as_str().map(str::to_owned);
    let first = get_json(&tenant, &token, "/users?$top=2").await;
    let faithful = next_of(&first).expect("a next link");
    assert!(faithful.starts_with(&format!("{}/users?$top=2&$skiptoken=", tenant.graph_url())));
    let second = get_json(
        &tenant,
        &token,
        faithful.strip_prefix(&tenant.graph_url()).unwrap(),
    )
    .await;
    let onward = next_of(&second).expect("a third page");
    assert_ne!(onward, faithful);

    // A server stuck in a loop: the first page links on, every later page links to
    // itself, the last one too.
    tenant.set_next_links(NextLinks::Repeat);
    assert_eq!(
        next_of(&get_json(&tenant, &token, "/users?$top=2").await),
        Some(faithful.clone())
    );
    let again = get_json(
        &tenant,
        &token,
        faithful.strip_prefix(&tenant.graph_url()).unwrap(),
    )
    .await;
    assert_eq!(ids(&again), ids(&second));
    assert_eq!(
        next_of(&again),
        Some(faithful.clone()),
        "the same link again"
    );
    let last = get_json(
        &tenant,
        &token,
        onward.strip_prefix(&tenant.graph_url()).unwrap(),
    )
    .await;
    assert_eq!(ids(&last).len(), 1);
    assert_eq!(next_of(&last), Some(onward.clone()), "even past the end");

    // Another origin, same path and query.
    tenant.set_next_links(NextLinks::Foreign("http://elsewhere.example:9".into()));
    assert_eq!(
        next_of(&get_json(&tenant, &token, "/users?$top=2").await),
        Some(faithful.replace(&tenant.url, "http://elsewhere.example:9"))
    );
}

#[tokio::test]
async fn injected_failures_come_first_and_every_request_is_counted() {
    let tenant = tenant().await;
    let token = access_token(&tenant).await;
    tenant.add_users(2);
    tenant.fail_next(&[
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::INTERNAL_SERVER_ERROR,
    ]);
    let url = format!("{}/users", tenant.graph_url());
    let first = call(reqwest::Method::GET, &url, &token, None).await;
    assert_eq!(
        graph_error(first, StatusCode::SERVICE_UNAVAILABLE).await.0,
        "serviceNotAvailable"
    );
    let second = call(reqwest::Method::GET, &url, &token, None).await;
    graph_error(second, StatusCode::INTERNAL_SERVER_ERROR).await;
    assert_eq!(
        call(reqwest::Method::GET, &url, &token, None)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(tenant.api_requests(), 3);
    assert_eq!(tenant.received().len(), 3);
}
