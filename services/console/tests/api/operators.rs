//! Operators: sign-in through the real issuer (authorization code + PKCE), one token per
//! service audience, and the operator pages over stub services.
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::helpers::{spawn_console, spawn_console_with, From, Upstreams, CLIENT_ADDRESS};

fn problem(status: StatusCode, detail: &str, extra: serde_json::Value) -> axum::response::Response {
    let mut body = json!({"type": "about:blank", "title": "Problem", "status": status.as_u16(), "detail": detail});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    (
        status,
        [("content-type", "application/problem+json")],
        Json(body),
    )
        .into_response()
}

fn order(id: &str, status: &str, reason: Option<&str>) -> serde_json::Value {
    json!({"id": id, "customer_id": "c1", "customer_code": "CUS-000001", "item": "Bag of rice", "amount": "1500.00",
           "currency": "KES", "ordered_at": "2026-12-06T09:00:00Z",
           "sms": {"status": status, "attempts": 3, "reason": reason, "sent_at": null}})
}

fn sales() -> Router {
    Router::new().route(
        "/api/v1/sales/orders",
        get(|| async { Json(json!({"orders": [order("o1", "failed", Some("The number is blacklisted"))], "next": "cursor-2"})) }),
    )
}

#[tokio::test]
async fn an_operator_signs_in_at_the_issuer_and_calls_each_service_with_its_own_token() {
    let console = spawn_console(Upstreams {
        sales: sales(),
        ..Default::default()
    })
    .await;
    let signed_in = console
        .operator_sign_in("operator", "operator-password-1")
        .await;
    signed_in.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), "/ops/orders?done=signed-in");
    let cookie = signed_in.session_cookie().unwrap();

    let page = console.get("/ops/orders", Some(&cookie)).await;
    page.assert_status(StatusCode::OK);
    assert_eq!(page.texts("header .who strong"), ["Dev Operator"]);
    let call = &console.sales.calls_to("/api/v1/sales/orders")[0];
    let token = call.token_claims("authorization");
    assert_eq!(token["aud"], "api://sales");
    assert_eq!(token["sub"], "operator");
    assert_eq!(token["client_id"], "console");
    assert_eq!(token["scope"], "sales:read sales:write");
    assert_eq!(call.header("x-forwarded-for"), Some(CLIENT_ADDRESS));
    let forwarder = call.token_claims("x-forwarder-authorization");
    assert_eq!(
        (forwarder["client_id"].as_str(), forwarder["aud"].as_str()),
        (Some("console"), Some("api://sales"))
    );
    assert!(
        forwarder.get("scope").is_none() || forwarder["scope"].is_null(),
        "the forwarder token grants nothing: {forwarder}"
    );
    assert!(!page.body.contains("eyJ"), "a token reached the page");
}

#[tokio::test]
async fn a_person_outside_the_operator_group_is_refused_with_the_issuers_reason() {
    let console = spawn_console(Upstreams::default()).await;
    let page = console
        .operator_sign_in("viewer", "viewer-password-1")
        .await;
    page.assert_status(StatusCode::FORBIDDEN);
    assert!(
        page.texts(".alert p")[0].contains("viewer may not use the console"),
        "{}",
        page.body
    );
    assert_eq!(page.session_cookie().as_deref(), Some(""));
}

#[tokio::test]
async fn operator_rights_come_from_the_claim_named_in_settings() {
    let console = spawn_console_with(Upstreams::default(), |config| {
        config.operators.as_mut().unwrap().operator_value = "another-group".into();
    })
    .await;
    let page = console
        .operator_sign_in("operator", "operator-password-1")
        .await;
    page.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(
        page.texts(".alert p"),
        ["Dev Operator has no operator rights here: the sign-in does not carry groups = another-group."]
    );
}

#[tokio::test]
async fn a_callback_for_a_sign_in_this_browser_did_not_start_is_refused() {
    let console = spawn_console(Upstreams::default()).await;
    let start = console.get("/ops/login", None).await;
    let pending = start.session_cookie().unwrap();
    let forged = console
        .get("/ops/callback?code=stolen&state=not-ours", Some(&pending))
        .await;
    forged.assert_status(StatusCode::BAD_REQUEST);
    let no_session = console.get("/ops/callback?code=stolen&state=x", None).await;
    no_session.assert_status(StatusCode::BAD_REQUEST);
    // Operator pages without a session send the browser to sign in, coming back after.
    let page = console.get("/ops/sync/acme", None).await;
    assert_eq!(page.location(), "/ops/login?next=%2Fops%2Fsync%2Facme");
}

fn integrations() -> Router {
    Router::new()
        .route(
            "/providers/list_sync_runs",
            get(|| async {
                Json(json!({"runs": [{
                    "run_id": "r2", "tenant_id": "acme", "status": "partial", "started_at": "2026-12-06T09:00:00Z",
                    "finished_at": "2026-12-06T09:00:01.500Z", "fetched": 40, "stored": 38, "invalid": 2,
                    "errors": ["fetch attempt 1: the partner answered 503"],
                    "invalid_records": [{"index": 7, "id": "p7", "errors": [{"field": "npi", "message": "must be 10 digits"}]},
                                        {"index": 9, "id": null, "errors": [{"field": "id", "message": "is required"}]}]
                }], "next": null}))
            }),
        )
        .route(
            "/providers/sync_providers",
            post(|| async { problem(StatusCode::BAD_GATEWAY, "Sync run r3 failed: the partner answered 503", json!({"run_id": "r3"})) }),
        )
        .route(
            "/okta/get_user",
            get(|| async { Json(json!({"id": "00u1", "status": "SUSPENDED", "login": "amina@acme.example", "email": "amina@acme.example", "first_name": "Amina", "last_name": "Okafor"})) }),
        )
        .route(
            "/okta/suspend_user",
            post(|| async { problem(StatusCode::CONFLICT, "User `00u1` cannot be suspended: only ACTIVE users can be. Okta says: Cannot suspend a user that is not active", json!({})) }),
        )
}

#[tokio::test]
async fn the_sync_page_shows_runs_counts_errors_and_invalid_records_with_their_fields() {
    let console = spawn_console(Upstreams {
        integrations: integrations(),
        ..Default::default()
    })
    .await;
    let cookie = console.operator().await;
    let page = console.get("/ops/sync/acme?run=r2", Some(&cookie)).await;
    page.assert_status(StatusCode::OK);
    let row = page.texts("#run-r2 td");
    assert_eq!(
        row[1..],
        [
            "1.5 s",
            "Partly stored",
            "40",
            "38",
            "2",
            "fetch attempt 1: the partner answered 503"
        ]
    );
    assert_eq!(
        page.attributes("details[open]", "open").len(),
        1,
        "the run asked for is open"
    );
    let invalid = page.texts("details tbody td");
    assert_eq!(
        invalid,
        [
            "7",
            "p7",
            "npi",
            "must be 10 digits",
            "9",
            "no id",
            "id",
            "is required"
        ]
    );
    let call = &console.integrations.calls_to("/providers/list_sync_runs")[0];
    assert_eq!(call.header("x-tenant-id"), Some("acme"));
    assert_eq!(
        call.token_claims("authorization")["aud"],
        "api://integrations"
    );
    assert!(
        page.attributes("#runs", "hx-get").is_empty(),
        "nothing running: no polling"
    );
}

#[tokio::test]
async fn sync_now_shows_the_run_it_made_even_when_it_failed() {
    let console = spawn_console(Upstreams {
        integrations: integrations(),
        ..Default::default()
    })
    .await;
    let cookie = console.operator().await;
    let page = console
        .post_form("/ops/sync/acme", &[], Some(&cookie), From::SameOrigin)
        .await;
    page.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "/ops/sync/acme?run=r3");
    assert_eq!(
        console.integrations.calls_to("/providers/sync_providers")[0].header("x-tenant-id"),
        Some("acme")
    );
    let forged = console
        .post_form("/ops/sync/acme", &[], Some(&cookie), From::CrossSite)
        .await;
    forged.assert_status(StatusCode::FORBIDDEN);
    assert_eq!(
        console
            .integrations
            .calls_to("/providers/sync_providers")
            .len(),
        1,
        "a forged sync ran"
    );
}

#[tokio::test]
async fn orders_filter_by_sms_status_and_customer_and_say_when_the_filter_was_ignored() {
    let console = spawn_console(Upstreams {
        sales: sales(),
        ..Default::default()
    })
    .await;
    let cookie = console.operator().await;
    let page = console
        .get("/ops/orders?sms_status=failed&customer=c1", Some(&cookie))
        .await;
    page.assert_status(StatusCode::OK);
    let call = &console.sales.calls_to("/api/v1/sales/orders")[0];
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(call.target.split_once('?').unwrap().1).unwrap();
    assert!(
        query.contains(&("sms_status".into(), "failed".into())),
        "{query:?}"
    );
    assert!(
        query.contains(&("customer".into(), "c1".into())),
        "{query:?}"
    );
    assert_eq!(
        page.texts("tbody td")[4..7],
        ["Failed", "3", "The number is blacklisted"]
    );
    assert_eq!(
        page.attributes(".pager a", "href"),
        ["/ops/orders?sms_status=failed&customer=c1&next=cursor-2"]
    );
    assert!(page.texts(".alert").is_empty());

    let sent = console
        .get("/ops/orders?sms_status=sent", Some(&cookie))
        .await;
    assert!(sent.texts(".alert")[0].contains("ignored the SMS status filter"));
}

#[tokio::test]
async fn suspending_asks_naming_the_user_and_tenant_and_says_okta_s_refusal_in_words() {
    let console = spawn_console(Upstreams {
        integrations: integrations(),
        ..Default::default()
    })
    .await;
    let cookie = console.operator().await;
    let confirm = console
        .get("/ops/tenants/globex/okta/00u1/suspend", Some(&cookie))
        .await;
    confirm.assert_status(StatusCode::OK);
    assert_eq!(confirm.texts("h1"), ["Suspend Amina Okafor in globex?"]);
    assert_eq!(
        confirm.texts("main form button"),
        ["Yes, suspend Amina Okafor in globex"]
    );
    assert!(console
        .integrations
        .calls_to("/okta/suspend_user")
        .is_empty());

    let refused = console
        .post_form(
            "/ops/tenants/globex/okta/00u1/suspend",
            &[],
            Some(&cookie),
            From::SameOrigin,
        )
        .await;
    refused.assert_status(StatusCode::CONFLICT);
    assert!(refused.texts(".alert p")[0]
        .starts_with("User `00u1` cannot be suspended: only ACTIVE users can be."));
    let call = &console.integrations.calls_to("/okta/suspend_user")[0];
    assert_eq!(call.header("x-tenant-id"), Some("globex"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&call.body).unwrap(),
        json!({"user_id": "00u1"})
    );
}

#[tokio::test]
async fn an_operator_page_escapes_what_services_say() {
    let sales = Router::new().route(
        "/api/v1/sales/customers",
        get(|Query(_): Query<Vec<(String, String)>>| async {
            Json(json!({"customers": [{"id": "c1", "code": "CUS-1", "name": "<img src=x onerror=alert(1)>", "phone_number": "+254711000001", "email": null, "created_at": "2026-12-06T09:00:00Z"}], "next": null}))
        }),
    );
    let console = spawn_console(Upstreams {
        sales,
        ..Default::default()
    })
    .await;
    let cookie = console.operator().await;
    let page = console.get("/ops/customers", Some(&cookie)).await;
    assert!(page.attributes("img", "onerror").is_empty());
    assert_eq!(page.texts("tbody td")[1], "<img src=x onerror=alert(1)>");
}
