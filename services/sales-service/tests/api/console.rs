//! What the console reads (contract 7): orders by the status of their SMS, and the SMS
//! outbox's backlog. Attacks first: who may read, what a malformed filter or a cursor of
//! another filter gets.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{assert_json, assert_problem, spawn_app, spawn_app_with, AUDIENCE};
use crate::sms::order_for_new_customer;

const WAIT: Duration = Duration::from_secs(30);
const ORDERS: &str = "/api/v1/sales/orders";
const BACKLOG: &str = "/api/v1/sales/sms/backlog";

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_console_routes_need_a_token_with_sales_read_before_anything_else() {
    let app = spawn_app().await;
    let writer = app.issuer.token(AUDIENCE, &["sales:write"]).await;
    for path in [
        BACKLOG.to_owned(),
        format!("{ORDERS}?sms_status=sent"),
        // A caller without the scope learns nothing from a malformed filter.
        format!("{ORDERS}?sms_status=bogus&limit=0"),
    ] {
        let response = app.anonymous().get(&path).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        let response = app.bearer(&writer).get(&path).await;
        assert_problem(response, StatusCode::FORBIDDEN, None).await;
    }
}

#[tokio::test]
async fn malformed_filters_and_cursors_of_another_filter_are_refused_naming_the_parameter() {
    // No dispatcher: the orders stay pending while the test pages through them.
    let app = spawn_app_with(|config| config.outbox.enabled = false).await;
    let caller = app.authorized();
    for (query, fields) in [
        ("sms_status=bogus", vec!["sms_status"]),
        ("sms_status=SENT", vec!["sms_status"]),
        ("sms_status=", vec!["sms_status"]),
        (
            "customer=nope&sms_status=lost",
            vec!["customer", "sms_status"],
        ),
        ("sms_status=sent&limit=0", vec!["limit"]),
        ("sms_status=sent&limit=101", vec!["limit"]),
    ] {
        let response = caller.get(&format!("{ORDERS}?{query}")).await;
        let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, None).await;
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{query}: {problem}");
    }

    // Three pending orders: pages of one hand out cursors.
    for _ in 0..3 {
        let customer = app.customer("Jane", "+254711000001").await;
        app.order(customer["id"].as_str().unwrap(), "Rice", "1")
            .await;
    }
    let app_cursor = |page: Value| page["next"].as_str().unwrap().to_owned();
    let pending = assert_json(
        caller
            .get(&format!("{ORDERS}?sms_status=pending&limit=1"))
            .await,
        StatusCode::OK,
    )
    .await;
    let pending_cursor = app_cursor(pending);
    let all = assert_json(
        caller.get(&format!("{ORDERS}?limit=1")).await,
        StatusCode::OK,
    )
    .await;
    let all_cursor = app_cursor(all);
    let mut tampered = pending_cursor.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for query in [
        // A cursor opens only for the filter it was handed out for.
        format!("sms_status=failed&next={pending_cursor}"),
        format!("next={pending_cursor}"),
        format!("sms_status=pending&next={all_cursor}"),
        format!("sms_status=pending&next={tampered}"),
        "sms_status=pending&next=not-a-cursor".to_owned(),
    ] {
        let response = caller.get(&format!("{ORDERS}?{query}")).await;
        assert_problem(response, StatusCode::BAD_REQUEST, Some("next")).await;
    }
    let response = caller
        .get(&format!(
            "{ORDERS}?sms_status=pending&next={pending_cursor}"
        ))
        .await;
    assert_eq!(
        assert_json(response, StatusCode::OK).await["orders"][0]["sms"]["status"],
        "pending"
    );
}

#[tokio::test]
async fn orders_are_listed_by_the_status_of_their_sms_newest_first_with_where_it_stands() {
    let app = spawn_app_with(|config| config.sms.max_per_caller_per_hour = 4).await;
    let rejected = "+254711000009";
    app.sms.reject_number(rejected, 403);
    let caller = app.authorized();

    let sent = order_for_new_customer(&app, "+254711000001").await;
    let sent_too = order_for_new_customer(&app, "+254711000002").await;
    let failed = order_for_new_customer(&app, rejected).await;
    for id in [&sent, &sent_too] {
        app.wait_for_sms(id, "sent", WAIT).await;
    }
    app.wait_for_sms(&failed, "failed", WAIT).await;
    // The caller's fourth SMS this hour is its last; the fifth fails unsent.
    let customer = app.customer("Jane", "+254711000003").await;
    let customer_id = customer["id"].as_str().unwrap().to_owned();
    let fourth = app.order(&customer_id, "Rice", "1").await;
    let limited = app.order(&customer_id, "Tea", "1").await;
    assert_eq!(limited["sms"]["status"], "failed", "{limited}");
    let fourth = fourth["id"].as_str().unwrap().to_owned();
    let limited = limited["id"].as_str().unwrap().to_owned();
    app.wait_for_sms(&fourth, "sent", WAIT).await;

    let listed = |query: String| {
        let caller = caller.clone();
        async move {
            assert_json(
                caller.get(&format!("{ORDERS}?{query}")).await,
                StatusCode::OK,
            )
            .await
        }
    };
    let page = listed("sms_status=sent".into()).await;
    assert_eq!(
        ids(&page),
        [fourth.clone(), sent_too.clone(), sent.clone()],
        "newest first: {page}"
    );
    assert!(page["next"].is_null(), "{page}");
    let order = &page["orders"][0];
    assert_eq!(order["sms"]["attempts"], 1, "{order}");
    assert!(order["sms"]["reason"].is_null(), "{order}");
    assert!(order["sms"]["updated_at"].is_string(), "{order}");

    let page = listed("sms_status=failed".into()).await;
    assert_eq!(ids(&page), [limited.clone(), failed.clone()], "{page}");
    let reasons: Vec<&str> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["sms"]["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons[0].contains("per hour for one caller"),
        "{reasons:?}"
    );
    assert!(!reasons[1].is_empty(), "{reasons:?}");
    assert_eq!(page["orders"][1]["sms"]["attempts"], 1, "{page}");

    for status in ["pending", "delivered"] {
        let page = listed(format!("sms_status={status}")).await;
        assert_eq!(ids(&page), Vec::<String>::new(), "{status}: {page}");
    }
    // With a customer: that customer's orders in that status.
    let page = listed(format!("customer={customer_id}&sms_status=failed")).await;
    assert_eq!(ids(&page), [limited.as_str()], "{page}");
    let page = listed(format!("customer={customer_id}&sms_status=sent")).await;
    assert_eq!(ids(&page), [fourth.as_str()], "{page}");

    // Pages of one walk the whole listing, each order once.
    let (mut seen, mut next) = (Vec::new(), None::<String>);
    loop {
        let query = match &next {
            Some(cursor) => format!("sms_status=sent&limit=1&next={cursor}"),
            None => "sms_status=sent&limit=1".to_owned(),
        };
        let page = listed(query).await;
        seen.extend(ids(&page));
        match page["next"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, [fourth, sent_too, sent]);
}

#[tokio::test]
async fn the_backlog_counts_what_waits_and_says_since_when_without_reading_more_than_its_cap() {
    let app = spawn_app_with(|config| {
        config.outbox.enabled = false;
        config.outbox.backlog_count_max = 2;
    })
    .await;
    let caller = app.authorized();
    let empty = assert_json(caller.get(BACKLOG).await, StatusCode::OK).await;
    assert_eq!(empty["queued"], 0, "{empty}");
    assert_eq!(empty["more"], false, "{empty}");
    assert!(empty["oldest_due_at"].is_null(), "{empty}");

    let first = order_for_new_customer(&app, "+254711000001").await;
    let first = app.order_now(&first).await;
    let backlog = assert_json(caller.get(BACKLOG).await, StatusCode::OK).await;
    assert_eq!(backlog["queued"], 1, "{backlog}");
    assert_eq!(backlog["more"], false, "{backlog}");
    assert_eq!(backlog["counted_up_to"], 2, "{backlog}");
    let oldest = backlog["oldest_due_at"].as_str().unwrap();
    let ordered_at = first["ordered_at"].as_str().unwrap();
    // Due when it was ordered (to the millisecond the outbox keeps).
    assert_eq!(oldest[..23], ordered_at[..23], "{backlog} {first}");

    for phone in ["+254711000002", "+254711000003"] {
        order_for_new_customer(&app, phone).await;
    }
    let backlog = assert_json(caller.get(BACKLOG).await, StatusCode::OK).await;
    assert_eq!(backlog["queued"], 2, "counted up to its cap: {backlog}");
    assert_eq!(backlog["more"], true, "{backlog}");
    assert_eq!(backlog["oldest_due_at"], oldest, "{backlog}");
}
