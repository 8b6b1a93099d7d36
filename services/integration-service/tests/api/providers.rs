//! Provider sync against the partner API with faults: retries, exhaustion, validation,
//! idempotent re-sync, the recorded runs, and the one-shot CLI's exit code.
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use stand_ins::partner::{Fault, Partner};
use test_support::listing::{Listing, PageShape};

use crate::helpers::{
    assert_json, assert_problem, direct_sdk, spawn_app, test_config, with_default_callers, TestApp,
};

fn providers() -> Vec<Value> {
    vec![
        json!({"id": "p-1", "name": "Dr. Ada Lovelace", "specialty": "cardiology", "npi": "1234567890", "phone": "+1 555 0100", "city": "London"}),
        json!({"id": "p-2", "name": "Dr. Grace Hopper", "specialty": "oncology", "npi": null}),
        json!({"id": "p-3", "name": "Dr. Alan Turing", "specialty": "neurology", "city": "Manchester"}),
    ]
}

fn tenants(partner: &Partner) -> Value {
    json!({"acme": {"providers": {"base_url": partner.url, "auth": {"method": "checksum"}}}})
}

async fn setup() -> (TestApp, Partner) {
    let partner = Partner::spawn().await;
    partner.set_providers(providers());
    let app = spawn_app(tenants(&partner)).await;
    (app, partner)
}

/// `POST /providers/sync_providers` for acme, without a body (as the docs' example sends it).
async fn sync(app: &TestApp) -> reqwest::Response {
    app.tenant("acme")
        .request(Method::POST, "/providers/sync_providers")
        .send()
        .await
        .unwrap()
}

fn string(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> String {
    match &item[name] {
        AttributeValue::S(s) => s.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

#[tokio::test]
async fn a_clean_sync_stores_every_provider_and_records_the_run() {
    let (app, partner) = setup().await;
    let run = assert_json(sync(&app).await, StatusCode::OK).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(
        (
            run["fetched"].as_u64(),
            run["stored"].as_u64(),
            run["invalid"].as_u64()
        ),
        (Some(3), Some(3), Some(0))
    );
    assert!(run["finished_at"].is_string() && run["errors"] == json!([]));
    assert_eq!((partner.auth_calls(), partner.provider_calls()), (1, 1));

    let pages = test_support::check_listing(
        &app.tenant("acme"),
        &providers_listing("/providers/list_providers"),
        &["p-1", "p-2", "p-3"],
    )
    .await;
    let first = &pages[0][0];
    assert_eq!(first["id"], "p-1");
    assert_eq!(first["npi"], "1234567890");
    assert!(first["first_seen_at"].is_string() && first["last_sync_run_id"] == run["run_id"]);

    let runs = assert_json(
        app.tenant("acme").get("/providers/list_sync_runs").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(runs["runs"][0]["run_id"], run["run_id"]);
    assert_eq!(runs["runs"][0]["status"], "succeeded");
}

fn providers_listing(path: &str) -> Listing {
    Listing {
        path: path.to_owned(),
        shape: PageShape::Envelope { items: "providers" },
        cursor: "next",
        max_limit: Some(100),
        key: |provider| provider["id"].as_str().map(str::to_owned),
    }
}

/// Both stored listings run the shared listing check; their cursors are sealed, and open
/// only for the tenant, the listing and the name prefix they were handed out for.
#[tokio::test]
async fn the_stored_listings_page_with_cursors_bound_to_tenant_listing_and_name() {
    let partner = Partner::spawn().await;
    partner.set_providers(providers());
    let settings = json!({"base_url": partner.url, "auth": {"method": "checksum"}});
    let app =
        spawn_app(json!({"acme": {"providers": settings}, "globex": {"providers": settings}}))
            .await;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let run = assert_json(sync(&app).await, StatusCode::OK).await;
        runs.push(run["run_id"].as_str().unwrap().to_owned());
    }
    let acme = app.tenant("acme");
    test_support::check_listing(
        &acme,
        &providers_listing("/providers/list_providers?name=dr.%20a"),
        &["p-1", "p-3"],
    )
    .await;
    let created: Vec<&str> = runs.iter().map(String::as_str).collect();
    let pages = test_support::check_listing(
        &acme,
        &Listing {
            path: "/providers/list_sync_runs".into(),
            shape: PageShape::Envelope { items: "runs" },
            cursor: "next",
            max_limit: Some(100),
            key: |run| run["run_id"].as_str().map(str::to_owned),
        },
        &created,
    )
    .await;
    let listed: Vec<&str> = pages
        .iter()
        .flatten()
        .map(|run| run["run_id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = created.iter().rev().copied().collect();
    assert_eq!(listed, newest_first);

    let cursor = |path: &'static str| {
        let acme = &acme;
        async move {
            let page = assert_json(acme.get(path).await, StatusCode::OK).await;
            urlencode(page["next"].as_str().expect("a second page"))
        }
    };
    let by_id = cursor("/providers/list_providers?limit=1").await;
    let by_name = cursor("/providers/list_providers?name=dr&limit=1").await;
    let of_runs = cursor("/providers/list_sync_runs?limit=1").await;
    // Each opens where it was handed out...
    for path in [
        format!("/providers/list_providers?next={by_id}"),
        format!("/providers/list_providers?name=dr&next={by_name}"),
        format!("/providers/list_sync_runs?next={of_runs}"),
    ] {
        assert_json(acme.get(&path).await, StatusCode::OK).await;
    }
    // ... and nowhere else: another tenant, another listing, another name prefix.
    for (caller, path) in [
        ("globex", format!("/providers/list_providers?next={by_id}")),
        ("acme", format!("/providers/list_sync_runs?next={by_id}")),
        ("acme", format!("/providers/list_providers?next={of_runs}")),
        (
            "acme",
            format!("/providers/list_providers?name=dr&next={by_id}"),
        ),
        ("acme", format!("/providers/list_providers?next={by_name}")),
        (
            "acme",
            format!("/providers/list_providers?name=dr.%20g&next={by_name}"),
        ),
    ] {
        let response = app.tenant(caller).get(&path).await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{caller} {path}"
        );
        assert_problem(response, StatusCode::BAD_REQUEST, Some("next")).await;
    }
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn invalid_records_are_reported_and_not_stored() {
    let (app, partner) = setup().await;
    let mut records = providers();
    records.push(json!({"id": "p-4", "specialty": "dermatology"}));
    records.push(json!({"id": "p-5", "name": "Dr. X", "specialty": "x", "npi": "12ab"}));
    records.push(json!({"name": "No Id", "specialty": "x"}));
    records.push(json!({"id": "p-1", "name": "Duplicate", "specialty": "x"}));
    partner.set_providers(records);
    let run = assert_json(sync(&app).await, StatusCode::OK).await;
    assert_eq!(run["status"], "partial");
    assert_eq!(
        (
            run["fetched"].as_u64(),
            run["stored"].as_u64(),
            run["invalid"].as_u64()
        ),
        (Some(7), Some(3), Some(4))
    );
    let invalid = run["invalid_records"].as_array().unwrap();
    assert_eq!(
        invalid[0],
        json!({"index": 3, "id": "p-4", "errors": [{"field": "name", "message": "is missing"}]})
    );
    assert_eq!(invalid[1]["errors"][0]["field"], "npi");
    assert_eq!(invalid[2]["id"], Value::Null);
    assert_eq!(
        invalid[3]["errors"][0]["message"],
        "appears twice in the response"
    );
    let stored = app.items("providers", "acme").await;
    let mut ids: Vec<String> = stored
        .iter()
        .map(|item| string(item, "provider_id"))
        .collect();
    ids.sort();
    assert_eq!(ids, ["p-1", "p-2", "p-3"]);
    assert_eq!(
        string(&stored[0], "name"),
        "Dr. Ada Lovelace",
        "the duplicate did not overwrite"
    );
}

#[tokio::test]
async fn each_fault_once_is_retried_and_the_sync_succeeds() {
    let faults = [
        Fault::Drop,
        Fault::Delay(Duration::from_millis(2500)),
        Fault::Status(500),
        Fault::Status(503),
        Fault::Truncated,
    ];
    for fault in faults {
        let (app, partner) = setup().await;
        partner.provider_faults(std::slice::from_ref(&fault));
        let run = assert_json(sync(&app).await, StatusCode::OK).await;
        assert_eq!(run["status"], "succeeded", "{fault:?}: {run}");
        assert_eq!(run["stored"], 3, "{fault:?}");
        assert_eq!(
            partner.provider_calls(),
            2,
            "{fault:?}: one failure, one retry"
        );
    }
    for fault in [
        Fault::Drop,
        Fault::Status(502),
        Fault::Delay(Duration::from_millis(2500)),
    ] {
        let (app, partner) = setup().await;
        partner.auth_faults(std::slice::from_ref(&fault));
        let run = assert_json(sync(&app).await, StatusCode::OK).await;
        assert_eq!(run["status"], "succeeded", "auth {fault:?}: {run}");
        assert_eq!(partner.auth_calls(), 2, "auth {fault:?}");
    }
}

#[tokio::test]
async fn success_on_the_last_attempt() {
    let (app, partner) = setup().await;
    partner.auth_faults(&[Fault::Status(500), Fault::Drop]);
    partner.provider_faults(&[Fault::Truncated, Fault::Drop]);
    let run = assert_json(sync(&app).await, StatusCode::OK).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!((partner.auth_calls(), partner.provider_calls()), (3, 3));
}

#[tokio::test]
async fn exhausted_retries_record_a_failed_run_and_answer_502_with_its_id() {
    let (app, partner) = setup().await;
    partner.provider_faults(&[Fault::Status(500), Fault::Truncated, Fault::Drop]);
    let body = assert_problem(sync(&app).await, StatusCode::BAD_GATEWAY, None).await;
    assert_eq!(body["type"], "urn:problem:provider-sync-failed");
    let run_id = body["run_id"].as_str().unwrap().to_owned();
    assert_eq!(body["run"]["status"], "failed");
    let error = body["run"]["errors"][0].as_str().unwrap();
    assert!(
        error.contains("GET /providers") && error.contains("3 attempts"),
        "{error}"
    );
    assert_eq!(partner.provider_calls(), 3, "no fourth attempt");
    assert!(
        app.items("providers", "acme").await.is_empty(),
        "nothing half-stored"
    );

    let runs = assert_json(
        app.tenant("acme").get("/providers/list_sync_runs").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(runs["runs"][0]["run_id"], run_id.as_str());
    assert_eq!(runs["runs"][0]["status"], "failed");
    assert!(runs["runs"][0]["finished_at"].is_string());

    // Auth exhausted: the providers are never asked.
    let (app, partner) = setup().await;
    partner.auth_faults(&[
        Fault::Drop,
        Fault::Status(500),
        Fault::Delay(Duration::from_millis(2500)),
    ]);
    let body = assert_problem(sync(&app).await, StatusCode::BAD_GATEWAY, None).await;
    assert!(
        body["detail"].as_str().unwrap().contains("GET /auth"),
        "{body}"
    );
    assert_eq!((partner.auth_calls(), partner.provider_calls()), (3, 0));
}

#[tokio::test]
async fn re_sync_updates_without_duplicates_and_keeps_first_seen() {
    let (app, partner) = setup().await;
    assert_json(sync(&app).await, StatusCode::OK).await;
    let before = app.items("providers", "acme").await;
    let first_seen = string(&before[0], "first_seen_at");
    let last_seen = string(&before[0], "last_seen_at");

    // The second sync must happen at a later instant than the first (RFC 3339 with
    // fractions: at once on any real clock).
    let first =
        time::OffsetDateTime::parse(&last_seen, &time::format_description::well_known::Rfc3339)
            .unwrap();
    test_support::eventually(
        Duration::from_secs(2),
        "the clock to pass the first sync's last_seen_at",
        || async { time::OffsetDateTime::now_utc() > first },
    )
    .await;
    let mut changed = providers();
    changed[0]["name"] = json!("Dr. Ada King");
    changed[0]["phone"] = Value::Null;
    changed.push(json!({"id": "p-9", "name": "Dr. New", "specialty": "pediatrics"}));
    partner.set_providers(changed);
    let run = assert_json(sync(&app).await, StatusCode::OK).await;
    assert_eq!(run["stored"], 4);

    let after = app.items("providers", "acme").await;
    assert_eq!(after.len(), 4, "upserted by id: no duplicates");
    let ada = after
        .iter()
        .find(|i| string(i, "provider_id") == "p-1")
        .unwrap();
    assert_eq!(string(ada, "name"), "Dr. Ada King");
    assert_eq!(
        ada["phone"],
        AttributeValue::Null(true),
        "a dropped value does not linger"
    );
    assert_eq!(string(ada, "first_seen_at"), first_seen);
    assert!(string(ada, "last_seen_at") > last_seen);
    assert_eq!(
        string(ada, "last_sync_run_id"),
        run["run_id"].as_str().unwrap()
    );
    // The cached partner token is reused: one /auth for two runs.
    assert_eq!(partner.auth_calls(), 1);
}

#[tokio::test]
async fn a_token_the_partner_no_longer_accepts_is_replaced_once() {
    let (app, partner) = setup().await;
    assert_json(sync(&app).await, StatusCode::OK).await;
    // Someone else authenticated: the partner's previous token is now invalid.
    reqwest::get(format!("{}/auth", partner.url)).await.unwrap();
    let run = assert_json(sync(&app).await, StatusCode::OK).await;
    assert_eq!(run["status"], "succeeded");
    assert_eq!(
        partner.auth_calls(),
        3,
        "first, someone else's, the refresh"
    );
}

/// The run record the job prints as a JSON line (among the log lines).
fn printed_run(stdout: &[u8]) -> Value {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|json| json["run_id"].is_string() && json["tenant_id"] == "acme")
        .expect("a run line on stdout")
}

#[tokio::test]
async fn the_sync_job_exits_non_zero_when_a_run_fails() {
    let partner = Partner::spawn().await;
    partner.set_providers(providers());
    let config = test_config(tenants(&partner));
    let sdk = direct_sdk().await;
    let runs = integration_service::sync_providers(&config, &sdk, None)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert!(integration_service::all_succeeded(&runs));

    // The built binary, as the CronJob runs it (async: the partner serves on this runtime).
    let run_binary = |partner: &Partner| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_integration-service"))
            .arg("sync-providers")
            .env(
                "TENANTS_JSON",
                with_default_callers(tenants(partner)).to_string(),
            )
            .env("TABLE_PREFIX", &config.common.table_prefix)
            .env("AUTO_CREATE_RESOURCES", "true")
            .env("UPSTREAM_TIMEOUT_SECONDS", "1")
            .env("UPSTREAM_RETRY_BASE_SECONDS", "0.02")
            .env("LOG_FORMAT", "pretty")
            .output()
    };
    let ok = run_binary(&partner).await.unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(printed_run(&ok.stdout)["status"], "succeeded");

    partner.provider_faults(&[Fault::Status(500), Fault::Status(500), Fault::Status(500)]);
    let failed = run_binary(&partner).await.unwrap();
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(printed_run(&failed.stdout)["status"], "failed");

    // Fetched, none stored: failed too, not partial.
    partner.set_providers(vec![
        json!({"id": "p-9", "specialty": "x"}),
        json!({"name": "No Id"}),
    ]);
    let none_stored = run_binary(&partner).await.unwrap();
    assert_eq!(none_stored.status.code(), Some(1));
    let run = printed_run(&none_stored.stdout);
    assert_eq!(
        (
            run["status"].as_str(),
            run["fetched"].as_u64(),
            run["stored"].as_u64()
        ),
        (Some("failed"), Some(2), Some(0))
    );
}

#[tokio::test]
async fn records_fetched_but_none_stored_fail_the_run_with_a_502() {
    let (app, partner) = setup().await;
    // What a partner that renamed its fields sends, against the default mapping.
    partner.set_providers(vec![
        json!({"provider_id": "x-1", "full_name": "Dr. Ada Lovelace", "speciality": "cardiology"}),
        json!({"provider_id": "x-2", "full_name": "Dr. Grace Hopper", "speciality": "oncology"}),
    ]);
    let body = assert_problem(sync(&app).await, StatusCode::BAD_GATEWAY, None).await;
    assert_eq!(body["type"], "urn:problem:provider-sync-failed");
    let run = &body["run"];
    assert_eq!(
        (
            run["status"].as_str(),
            run["fetched"].as_u64(),
            run["stored"].as_u64(),
            run["invalid"].as_u64()
        ),
        (Some("failed"), Some(2), Some(0), Some(2))
    );
    let runs = assert_json(
        app.tenant("acme").get("/providers/list_sync_runs").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(runs["runs"][0]["status"], "failed");
    // An empty list is not a failure: nothing was there to store.
    partner.set_providers(vec![]);
    assert_eq!(
        assert_json(sync(&app).await, StatusCode::OK).await["status"],
        "succeeded"
    );
}

#[tokio::test]
async fn a_tenants_field_templates_map_the_partners_records_and_keep_them_raw() {
    let partner = Partner::spawn().await;
    let records = vec![
        json!({"id": "x-1", "first_name": "Ada", "last_name": "Lovelace", "specialty": "cardiology",
               "npi": 1234567890_u64, "address": {"city": "London"}, "rating": 4.5}),
        json!({"id": "x-2", "first_name": "Grace", "last_name": "Hopper", "specialty": "oncology"}),
    ];
    partner.set_providers(records.clone());
    let tenants = json!({"acme": {"providers": {
        "base_url": partner.url, "auth": {"method": "checksum"},
        "fields": {"id": "{id}", "name": "{first_name} {last_name}", "specialty": "{specialty}",
                   "npi": "{npi}", "city": "{address.city}"}
    }}});
    let app = spawn_app(tenants).await;
    let run = assert_json(sync(&app).await, StatusCode::OK).await;
    assert_eq!(
        (run["status"].as_str(), run["stored"].as_u64()),
        (Some("succeeded"), Some(2)),
        "{run}"
    );

    let page = assert_json(
        app.tenant("acme").get("/providers/list_providers").await,
        StatusCode::OK,
    )
    .await;
    let ada = &page["providers"][0];
    assert_eq!(
        (
            ada["id"].as_str(),
            ada["name"].as_str(),
            ada["npi"].as_str(),
            ada["city"].as_str()
        ),
        (
            Some("x-1"),
            Some("Ada Lovelace"),
            Some("1234567890"),
            Some("London")
        )
    );
    assert_eq!(
        page["providers"][1]["city"],
        Value::Null,
        "a missing placeholder leaves the field empty"
    );

    // The partner's record, whole, beside the mapped fields: a later mapping can replay it.
    let items = app.items("providers", "acme").await;
    for (item, record) in items.iter().zip(&records) {
        let raw: Value = serde_json::from_str(&string(item, "raw_record")).unwrap();
        assert_eq!(&raw, record);
    }
}

#[tokio::test]
async fn one_sync_per_tenant_at_a_time_a_second_gets_409_with_the_running_run() {
    let (app, partner) = setup().await;
    // The first fetch hangs past the attempt timeout: the run that gets the lease lasts
    // at least that long, while the other request arrives.
    partner.provider_faults(&[Fault::Delay(Duration::from_secs(3))]);
    let (first, second) = tokio::join!(sync(&app), sync(&app));
    let mut answers = Vec::new();
    for response in [first, second] {
        let status = response.status();
        answers.push((status, response.json::<Value>().await.unwrap()));
    }
    answers.sort_by_key(|(status, _)| *status);
    let [(ran, run), (refused, problem)] = answers.try_into().unwrap();
    assert_eq!(
        (ran, refused),
        (StatusCode::OK, StatusCode::CONFLICT),
        "{run} {problem}"
    );
    assert_eq!(problem["type"], "urn:problem:provider-sync-running");
    assert_eq!(problem["run_id"], run["run_id"], "the running run is named");
    assert_eq!(
        partner.provider_calls(),
        2,
        "one run fetched (a timeout, then the list)"
    );
    // The lease was given back: the next sync runs.
    assert_eq!(
        assert_json(sync(&app).await, StatusCode::OK).await["status"],
        "succeeded"
    );
}

#[tokio::test]
async fn providers_are_found_by_name_prefix_through_the_index() {
    let (app, _partner) = setup().await;
    assert_json(sync(&app).await, StatusCode::OK).await;
    let names = |page: &Value| -> Vec<String> {
        page["providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let app = &app;
    let list = |query: String| async move {
        app.tenant("acme")
            .get(&format!("/providers/list_providers?{query}"))
            .await
    };
    // Any case; by name; a page at a time with `next`.
    let first = assert_json(list("name=dR.%20a&limit=1".into()).await, StatusCode::OK).await;
    assert_eq!(names(&first), ["Dr. Ada Lovelace"]);
    let next = first["next"].as_str().expect("a second page");
    let second = assert_json(
        list(format!("name=dR.%20a&limit=1&next={next}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(&second), ["Dr. Alan Turing"]);
    let rest = second["next"]
        .as_str()
        .map(|next| format!("name=dR.%20a&next={next}"));
    if let Some(query) = rest {
        let last = assert_json(list(query).await, StatusCode::OK).await;
        assert!(names(&last).is_empty() && last["next"].is_null(), "{last}");
    }
    let grace = assert_json(list("name=DR.%20G".into()).await, StatusCode::OK).await;
    assert_eq!(names(&grace), ["Dr. Grace Hopper"]);
    let none = assert_json(list("name=Nobody".into()).await, StatusCode::OK).await;
    assert_eq!(names(&none), Vec::<String>::new());
    // A cursor of the id listing does not fit the name listing: 400 naming `next`.
    let by_id = assert_json(list("limit=1".into()).await, StatusCode::OK).await;
    let id_cursor = by_id["next"].as_str().unwrap();
    assert_problem(
        list(format!("name=Dr&next={id_cursor}")).await,
        StatusCode::BAD_REQUEST,
        Some("next"),
    )
    .await;
    assert_problem(
        list("name=%20".into()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("name"),
    )
    .await;
}
