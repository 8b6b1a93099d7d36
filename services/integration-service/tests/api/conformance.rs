//! The conformance battery: ONE suite that every built-in definition runs against its
//! vendor's stand-in, discovered from the definitions themselves (no test file per
//! integration). A definition without a stand-in here fails `every_definition_has_a_stand_in`.
//! Vendor-specific behaviour stays in the vendor's own tests (okta.rs); this checks what
//! the engine promises for any file: lists page to the end (and pass the platform's listing
//! check, `every_list_passes_the_listing_check`), writes that may not be repeated
//! are sent once, reads are retried, a sealed cursor that was altered is refused, a 429
//! holds back the buckets it names and no others, a vendor that repeats its next link is
//! stopped and one that links to another origin is not followed.
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use stand_ins::graph::{GraphTenant, Quota};
use stand_ins::okta::{Bucket, OktaOrg};
use stand_ins::NextLinks;
use test_support::caller::Caller;
use test_support::listing::{Listing, PageShape};

use integration_service::definitions::compiled::{Action, Compiled, CompiledCapability, Request};
use integration_service::definitions::model::CapabilityKind;

use crate::helpers::{assert_json, assert_problem, put_secret, secret_name, spawn_app, TestApp};

/// A vendor's stand-in, as the battery drives it.
enum StandIn {
    Okta(OktaOrg),
    Graph(GraphTenant),
}

impl StandIn {
    /// The stand-in of the definition `name`, running, with credentials the tenant holds.
    async fn of(name: &str) -> Option<(Self, Value)> {
        match name {
            "okta" => {
                let org = OktaOrg::spawn("acme").await;
                org.set_api_token("conformance-token");
                let secret = secret_name("conformance-okta");
                put_secret(&secret, "conformance-token").await;
                let tenant =
                    json!({"base_url": org.url, "auth": {"method": "api_token"}, "secret": secret});
                Some((Self::Okta(org), tenant))
            }
            "graph" => {
                let directory = GraphTenant::spawn("contoso").await;
                directory.set_client_secret("conformance-app", "conformance-secret");
                let secret = secret_name("conformance-graph");
                put_secret(&secret, "conformance-secret").await;
                let tenant = json!({
                    "base_url": directory.graph_url(),
                    "directory_tenant_id": directory.tenant_id,
                    "auth": {"method": "oauth_client_secret", "client_id": "conformance-app",
                             "scopes": ["https://graph.microsoft.com/.default"],
                             "token_url": directory.token_url()},
                    "secret": secret,
                });
                Some((Self::Graph(directory), tenant))
            }
            _ => None,
        }
    }

    /// `count` new records (users), their ids in listing order.
    fn add_records(&self, count: usize) -> Vec<String> {
        match self {
            Self::Okta(org) => org.add_users(count),
            Self::Graph(directory) => directory.add_users(count),
        }
    }

    fn fail_next(&self, statuses: &[StatusCode]) {
        match self {
            Self::Okta(org) => org.fail_next(statuses),
            Self::Graph(directory) => directory.fail_next(statuses),
        }
    }

    /// Uses up the vendor's quota `quota` (a bucket of the definition, or a quota its
    /// 429s name) for a minute: the next request it counts is a 429.
    fn exhaust(&self, quota: &str) {
        let minute = Duration::from_secs(60);
        match self {
            Self::Okta(org) => {
                let bucket = match quota {
                    "users" => Bucket::Users,
                    "user" => Bucket::UserRead,
                    "user_write" => Bucket::UserWrite,
                    "api_v1" => Bucket::ApiV1,
                    _ => panic!("the Okta stand-in has no quota for the bucket `{quota}`"),
                };
                org.set_bucket_rate_limit(bucket, 0, minute);
            }
            Self::Graph(directory) => {
                let quota = match quota {
                    "read" => Quota::Read,
                    "write" => Quota::Write,
                    "ReadWrite" => Quota::ReadWrite,
                    _ => panic!("the Graph stand-in has no quota `{quota}`"),
                };
                directory.set_quota(quota, 0, minute);
            }
        }
    }

    /// What its list pages say about the page after them.
    fn set_next_links(&self, links: NextLinks) {
        match self {
            Self::Okta(org) => org.set_next_links(links),
            Self::Graph(directory) => directory.set_next_links(links),
        }
    }

    /// `scheme://host:port` of the stand-in's API.
    fn origin(&self) -> String {
        let url = match self {
            Self::Okta(org) => org.url.clone(),
            Self::Graph(directory) => directory.graph_url(),
        };
        url::Url::parse(&url)
            .expect("a stand-in's URL")
            .origin()
            .ascii_serialization()
    }

    /// API requests the stand-in received so far.
    fn requests(&self) -> usize {
        match self {
            Self::Okta(org) => org.api_requests(),
            Self::Graph(directory) => directory.api_requests(),
        }
    }
}

/// Every built-in definition with its stand-in and an app whose tenant `acme` uses it.
async fn every_pair() -> Vec<(Arc<Compiled>, StandIn, TestApp)> {
    every_pair_with(json!({})).await
}

/// [`every_pair`], the tenant's settings of each integration with `extra` added.
async fn every_pair_with(extra: Value) -> Vec<(Arc<Compiled>, StandIn, TestApp)> {
    let mut pairs = Vec::new();
    for definition in
        integration_service::definitions::load(None).expect("the built-in definitions load")
    {
        let (stand_in, mut settings) = StandIn::of(&definition.name)
            .await
            .unwrap_or_else(|| panic!("no stand-in for the definition `{}`", definition.name));
        for (name, value) in extra.as_object().expect("settings are an object") {
            settings[name] = value.clone();
        }
        let app = spawn_app(json!({"acme": {definition.name.clone(): settings}})).await;
        pairs.push((definition, stand_in, app));
    }
    pairs
}

/// Every request a capability may send, in order.
fn requests_of(capability: &CompiledCapability) -> Vec<&Request> {
    match &capability.action {
        Action::List(list) => vec![&list.request],
        Action::Steps { steps, .. } => steps.iter().map(|step| &step.request).collect(),
    }
}

/// The vendor's quotas a 429 may use up, each with the buckets it holds back: every
/// bucket of the definition on its own, and each quota a 429 names that spans several
/// (Graph's `ReadWrite`).
fn quotas(definition: &Compiled) -> Vec<(String, Vec<String>)> {
    let mut quotas: Vec<(String, Vec<String>)> = Vec::new();
    for request in definition.capabilities.iter().flat_map(requests_of) {
        if !quotas.iter().any(|(name, _)| **name == *request.bucket) {
            quotas.push((request.bucket.to_string(), vec![request.bucket.to_string()]));
        }
    }
    if let Some(exhausted_by) = &definition.exhausted_by {
        for (quota, buckets) in &exhausted_by.buckets {
            if buckets.len() > 1 {
                quotas.push((quota.clone(), buckets.clone()));
            }
        }
    }
    quotas
}

/// Every required parameter is an id of `record` (what the battery's capabilities take).
fn params_for(capability: &CompiledCapability, record: &str) -> serde_json::Map<String, Value> {
    capability
        .params
        .iter()
        .filter(|param| param.required)
        .map(|param| (param.name.clone(), Value::String(record.to_owned())))
        .collect()
}

async fn call(
    caller: &Caller,
    definition: &str,
    capability: &CompiledCapability,
    params: &serde_json::Map<String, Value>,
) -> reqwest::Response {
    let path = format!("/{definition}/{}", capability.name);
    match capability.kind {
        CapabilityKind::Read => {
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(
                    params
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_owned())),
                )
                .finish();
            caller.get(&format!("{path}?{query}")).await
        }
        CapabilityKind::Write => caller.post(&path, &Value::Object(params.clone())).await,
    }
}

/// `capability` called for a record made for it (a write changes or removes it).
async fn call_on_a_new_record(
    caller: &Caller,
    stand_in: &StandIn,
    definition: &str,
    capability: &CompiledCapability,
) -> reqwest::Response {
    let record = stand_in.add_records(1).remove(0);
    call(
        caller,
        definition,
        capability,
        &params_for(capability, &record),
    )
    .await
}

#[tokio::test]
async fn every_definition_has_a_stand_in() {
    for definition in integration_service::definitions::load(None).unwrap() {
        assert!(
            StandIn::of(&definition.name).await.is_some(),
            "{} has no stand-in in the battery",
            definition.name
        );
    }
}

#[tokio::test]
async fn lists_page_to_the_end_one_page_or_all_at_once() {
    for (definition, stand_in, app) in every_pair().await {
        let created = stand_in.add_records(250);
        for capability in &definition.capabilities {
            let Action::List(list) = &capability.action else {
                continue;
            };
            let path = format!("/{}/{}", definition.name, capability.name);
            let ids = |page: &Value| -> Vec<String> {
                page[&*list.field]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_owned())
                    .collect()
            };
            // Page by page, the caller's cursor handed back each time.
            let mut seen = Vec::new();
            let mut query = "limit=100".to_owned();
            let mut pages = 0;
            loop {
                let page = assert_json(
                    app.tenant("acme").get(&format!("{path}?{query}")).await,
                    StatusCode::OK,
                )
                .await;
                pages += 1;
                seen.extend(ids(&page));
                match page["next"].as_str() {
                    Some(next) => {
                        query = format!("limit=100&{}={}", list.caller_cursor, urlencode(next))
                    }
                    None => break,
                }
                assert!(pages <= 3, "{path}: more pages than records");
            }
            assert_eq!(seen, created, "{path}: every record once, in order");
            // All at once: the vendor's largest pages.
            let all = assert_json(
                app.tenant("acme").get(&format!("{path}?all=true")).await,
                StatusCode::OK,
            )
            .await;
            assert_eq!(ids(&all), created, "{path}?all=true");
            assert_eq!(
                all["pages"],
                250_u32.div_ceil(list.page_max),
                "{path}: the vendor's largest pages"
            );
            assert_eq!(all["truncated"], false);
        }
    }
}

/// The listing check every list route of the platform runs (test_support's): each list
/// capability of every definition that hands out the service's sealed cursors, and
/// `/directory/list_users` for a directory's tenant, pages to the end two at a time, keeps
/// `limit` within the vendor's page, and refuses a cursor it never handed out, naming the
/// cursor's parameter. A list whose caller cursor is the vendor's own value (`/okta/*`'s
/// `after`, kept as the original service had it) passes a value it cannot judge on to the
/// vendor: its paging is `lists_page_to_the_end_one_page_or_all_at_once`'s.
#[tokio::test]
async fn every_list_passes_the_listing_check() {
    for (definition, stand_in, app) in every_pair().await {
        let created = stand_in.add_records(5);
        let created: Vec<&str> = created.iter().map(String::as_str).collect();
        let mut listings = Vec::new();
        for (index, capability) in definition.capabilities.iter().enumerate() {
            let Action::List(list) = &capability.action else {
                continue;
            };
            let id = |record: &Value| record["id"].as_str().map(str::to_owned);
            if list.sealed {
                listings.push(Listing {
                    path: format!("/{}/{}", definition.name, capability.name),
                    shape: PageShape::Envelope {
                        items: leak(&list.field),
                    },
                    cursor: leak(&list.caller_cursor),
                    max_limit: Some(list.page_max),
                    key: id,
                });
            }
            if let Some(directory) = &definition.directory {
                if directory.list_users == index {
                    listings.push(Listing {
                        path: "/directory/list_users".to_owned(),
                        shape: PageShape::Envelope { items: "users" },
                        cursor: "next",
                        max_limit: Some(list.page_max),
                        key: id,
                    });
                }
            }
        }
        assert!(
            !listings.is_empty(),
            "{}: no list to check",
            definition.name
        );
        for listing in &listings {
            test_support::check_listing(&app.tenant("acme"), listing, &created).await;
        }
    }
}

/// A name the listing check keeps for the whole test (`Listing` holds `&'static str`).
fn leak(name: &str) -> &'static str {
    Box::leak(name.to_owned().into_boxed_str())
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn a_write_that_may_not_be_repeated_is_sent_once_and_reads_are_retried() {
    for (definition, stand_in, app) in every_pair().await {
        for capability in &definition.capabilities {
            let Action::Steps { steps, .. } = &capability.action else {
                continue;
            };
            let record = stand_in.add_records(1).remove(0);
            let params = params_for(capability, &record);
            let path = format!("{}/{}", definition.name, capability.name);
            // The first request of the capability meets a 500.
            stand_in.fail_next(&[StatusCode::INTERNAL_SERVER_ERROR]);
            let before = stand_in.requests();
            let response = call(&app.tenant("acme"), &definition.name, capability, &params).await;
            if steps[0].request.idempotent {
                assert_json(response, StatusCode::OK).await;
                assert!(
                    stand_in.requests() - before >= 2,
                    "{path}: the 500 was retried"
                );
            } else {
                let body = assert_problem(response, StatusCode::GATEWAY_TIMEOUT, None).await;
                assert_eq!(
                    body["type"], "urn:problem:upstream-outcome-unknown",
                    "{path}"
                );
                assert_eq!(
                    stand_in.requests() - before,
                    1,
                    "{path}: sent once, never repeated"
                );
            }
        }
    }
}

/// Pacing per bucket: once the vendor answers 429 for one quota, the service holds back
/// every request in the buckets that quota covers (503 with the wait, nothing sent) until
/// its reset, and nothing else: capabilities in other buckets go through at once.
#[tokio::test]
async fn a_429_holds_back_the_buckets_of_its_quota_and_no_others() {
    for definition in
        integration_service::definitions::load(None).expect("the built-in definitions load")
    {
        let name = &definition.name;
        // One tenant per quota, each with its own stand-in: a tenant's windows are its own.
        let quotas = quotas(&definition);
        let mut tenants = serde_json::Map::new();
        let mut stand_ins = Vec::new();
        for index in 0..quotas.len() {
            let (stand_in, settings) = StandIn::of(name).await.expect("a stand-in");
            tenants.insert(format!("tenant-{index}"), json!({name.clone(): settings}));
            stand_ins.push(stand_in);
        }
        let app = spawn_app(Value::Object(tenants)).await;
        for (index, ((quota, held), stand_in)) in quotas.iter().zip(&stand_ins).enumerate() {
            let caller = app.tenant(&format!("tenant-{index}"));
            let in_held = |request: &&Request| held.iter().any(|b| **b == *request.bucket);
            stand_in.exhaust(quota);
            // The vendor's 429: the first capability that reaches the quota meets it.
            let trigger = definition
                .capabilities
                .iter()
                .find(|capability| requests_of(capability).iter().any(in_held))
                .expect("a capability in the quota");
            let rate_limited = |body: &Value, what: &str| {
                assert_eq!(
                    body["type"], "urn:problem:upstream-rate-limited",
                    "{name} {quota}: {what}: {body}"
                );
            };
            let body = assert_problem(
                call_on_a_new_record(&caller, stand_in, name, trigger).await,
                StatusCode::SERVICE_UNAVAILABLE,
                None,
            )
            .await;
            rate_limited(&body, &trigger.name);
            for capability in &definition.capabilities {
                let what = format!("{name}/{} after a 429 on {quota}", capability.name);
                let sent = stand_in.requests();
                let response = call_on_a_new_record(&caller, stand_in, name, capability).await;
                let first = requests_of(capability)[0];
                if in_held(&first) {
                    let body =
                        assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, None).await;
                    rate_limited(&body, &what);
                    assert_eq!(
                        stand_in.requests(),
                        sent,
                        "{what}: held back by the service, not sent to the vendor"
                    );
                } else if requests_of(capability).iter().any(in_held) {
                    let body =
                        assert_problem(response, StatusCode::SERVICE_UNAVAILABLE, None).await;
                    rate_limited(&body, &what);
                } else {
                    assert_eq!(
                        response.status(),
                        StatusCode::OK,
                        "{what}: held back by another quota's 429"
                    );
                }
            }
        }
    }
}

/// The loop guard: a vendor that hands out the same next link again is stopped with a
/// clear error after the page that repeated it, page by page and all at once.
#[tokio::test]
async fn a_vendor_that_repeats_its_next_link_is_stopped_not_followed_forever() {
    for (definition, stand_in, app) in every_pair_with(json!({"list_all_max": 10000})).await {
        for capability in &definition.capabilities {
            let Action::List(list) = &capability.action else {
                continue;
            };
            let path = format!("/{}/{}", definition.name, capability.name);
            // Three of the vendor's largest pages: `all=true` reaches page 2 by its link.
            stand_in.add_records(2 * list.page_max as usize + 1);
            stand_in.set_next_links(NextLinks::Repeat);
            let looped = |body: &Value, how: &str| {
                assert_eq!(
                    body["type"], "urn:problem:upstream-invalid-response",
                    "{path} {how}: {body}"
                );
                assert!(
                    body["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("twice"),
                    "{path} {how}: {body}"
                );
            };
            let before = stand_in.requests();
            let body = assert_problem(
                app.tenant("acme").get(&format!("{path}?all=true")).await,
                StatusCode::BAD_GATEWAY,
                None,
            )
            .await;
            looped(&body, "all=true");
            assert_eq!(
                stand_in.requests() - before,
                2,
                "{path}: the page that repeated its link was the last one asked for"
            );
            // Page by page: page 2's link is the cursor it was asked with.
            let first = assert_json(
                app.tenant("acme").get(&format!("{path}?limit=100")).await,
                StatusCode::OK,
            )
            .await;
            let next = first["next"].as_str().expect("a second page");
            let body = assert_problem(
                app.tenant("acme")
                    .get(&format!(
                        "{path}?limit=100&{}={}",
                        list.caller_cursor,
                        urlencode(next)
                    ))
                    .await,
                StatusCode::BAD_GATEWAY,
                None,
            )
            .await;
            looped(&body, "page by page");
            stand_in.set_next_links(NextLinks::Faithful);
        }
    }
}

/// A next link to another origin is refused, never followed: the service's credentials
/// go to the vendor's origin only.
#[tokio::test]
async fn a_next_link_to_another_origin_is_refused_not_followed() {
    for (definition, stand_in, app) in every_pair().await {
        // Somewhere else that would answer like the vendor, to see whether it is asked.
        let (elsewhere, _) = StandIn::of(&definition.name).await.expect("a stand-in");
        stand_in.set_next_links(NextLinks::Foreign(elsewhere.origin()));
        for capability in &definition.capabilities {
            let Action::List(list) = &capability.action else {
                continue;
            };
            let path = format!("/{}/{}", definition.name, capability.name);
            stand_in.add_records(list.page_max as usize + 1);
            for query in ["limit=1", "all=true"] {
                let body = assert_problem(
                    app.tenant("acme").get(&format!("{path}?{query}")).await,
                    StatusCode::BAD_GATEWAY,
                    None,
                )
                .await;
                assert_eq!(
                    body["type"], "urn:problem:upstream-invalid-response",
                    "{path}?{query}: {body}"
                );
                assert!(
                    body["detail"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("another origin"),
                    "{path}?{query}: {body}"
                );
            }
        }
        assert_eq!(
            elsewhere.requests(),
            0,
            "{}: nothing sent elsewhere",
            definition.name
        );
    }
}

#[tokio::test]
async fn a_sealed_cursor_that_was_altered_is_refused_naming_next() {
    for (definition, stand_in, app) in every_pair().await {
        stand_in.add_records(3);
        for capability in &definition.capabilities {
            let Action::List(list) = &capability.action else {
                continue;
            };
            if !list.sealed {
                continue;
            }
            let path = format!("/{}/{}", definition.name, capability.name);
            let page = assert_json(
                app.tenant("acme").get(&format!("{path}?limit=1")).await,
                StatusCode::OK,
            )
            .await;
            let next = page["next"].as_str().expect("a next page").to_owned();
            // The cursor as handed out works; one character changed, it does not.
            assert_json(
                app.tenant("acme")
                    .get(&format!("{path}?limit=1&next={}", urlencode(&next)))
                    .await,
                StatusCode::OK,
            )
            .await;
            let middle = next.len() / 2;
            let flipped = if &next[middle..=middle] == "A" {
                "B"
            } else {
                "A"
            };
            let altered = format!("{}{flipped}{}", &next[..middle], &next[middle + 1..]);
            let requests = stand_in.requests();
            let body = assert_problem(
                app.tenant("acme")
                    .get(&format!("{path}?limit=1&next={}", urlencode(&altered)))
                    .await,
                StatusCode::BAD_REQUEST,
                None,
            )
            .await;
            assert_eq!(body["errors"][0]["field"], "next", "{path}: {body}");
            assert_eq!(
                stand_in.requests(),
                requests,
                "{path}: nothing sent upstream"
            );
        }
    }
}

/// A client written once for `/directory/*` works for every directory vendor: the same
/// calls, the same answers, whichever the tenant uses.
#[tokio::test]
async fn the_directory_routes_act_on_every_directory_alike() {
    for (definition, stand_in, app) in every_pair().await {
        if definition.directory.is_none() {
            continue;
        }
        let vendor = &definition.name;
        let created = stand_in.add_records(3);
        let acme = app.tenant("acme");
        // Two pages: `next` is the service's sealed cursor.
        let first = assert_json(
            acme.get("/directory/list_users?limit=2").await,
            StatusCode::OK,
        )
        .await;
        let next = first["next"].as_str().expect("a second page").to_owned();
        let second = assert_json(
            acme.get(&format!(
                "/directory/list_users?limit=2&next={}",
                urlencode(&next)
            ))
            .await,
            StatusCode::OK,
        )
        .await;
        let users: Vec<Value> = [&first, &second]
            .iter()
            .flat_map(|page| page["users"].as_array().unwrap().clone())
            .collect();
        let ids: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
        assert_eq!(ids, created, "{vendor}: every user once, in order");
        for user in &users {
            let fields: Vec<&str> = user
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let mut expected = vec![
                "email",
                "family_name",
                "given_name",
                "id",
                "status",
                "user_name",
            ];
            expected.sort_unstable();
            let mut fields = fields;
            fields.sort_unstable();
            assert_eq!(fields, expected, "{vendor}: {user}");
            assert_eq!(user["status"], "active", "{vendor}: {user}");
        }
        let get = |id: &str| acme.get(&format!("/directory/get_user?user_id={id}"));
        let one = assert_json(get(&created[0]).await, StatusCode::OK).await;
        assert_eq!(one["id"], created[0].as_str(), "{vendor}");
        let suspended = assert_json(
            acme.post("/directory/suspend_user", &json!({"user_id": created[0]}))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            suspended,
            json!({"id": created[0], "status": "suspended"}),
            "{vendor}"
        );
        let one = assert_json(get(&created[0]).await, StatusCode::OK).await;
        assert_eq!(one["status"], "suspended", "{vendor}");
        let deleted = assert_json(
            acme.post("/directory/delete_user", &json!({"user_id": created[1]}))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(
            deleted,
            json!({"id": created[1], "deleted": true}),
            "{vendor}"
        );
        assert_problem(get(&created[1]).await, StatusCode::NOT_FOUND, None).await;
        // The vendor's own rules still apply: a malformed id is a 422 naming user_id.
        let body = assert_problem(
            get("../admin").await,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "user_id", "{vendor}: {body}");
    }
}

#[tokio::test]
async fn a_tenant_with_no_directory_or_several_is_told_which() {
    let mut settings = serde_json::Map::new();
    let mut stand_ins = Vec::new();
    for definition in integration_service::definitions::load(None).unwrap() {
        if definition.directory.is_some() {
            let (stand_in, tenant) = StandIn::of(&definition.name).await.unwrap();
            settings.insert(definition.name.clone(), tenant);
            stand_ins.push(stand_in);
        }
    }
    let app = spawn_app(json!({"acme": settings, "globex": {}})).await;
    let several = assert_problem(
        app.tenant("acme").get("/directory/list_users").await,
        StatusCode::CONFLICT,
        None,
    )
    .await;
    assert!(
        several["detail"]
            .as_str()
            .unwrap()
            .contains("several directories"),
        "{several}"
    );
    assert_problem(
        app.tenant("globex").get("/directory/list_users").await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
}
