//! The SMS of each order, through the outbox, against the Africa's Talking stand-in.
use std::collections::HashMap;
use std::time::Duration;

use common::paging::CursorKeys;
use common::timestamp::Timestamp;
use sales_service::domain::CustomerRecord;
use sales_service::store::{DynamoSalesStore, Outbox, SalesStore};
use serde_json::Value;
use test_support::proxy::TcpProxy;

use crate::helpers::{spawn_app, spawn_app_with, start, TestApp, PHONE, SMS_USERNAME};

/// How long a condition may take: generous, since a saturated machine is slow, and the
/// waits end as soon as the condition holds.
const WAIT: Duration = Duration::from_secs(30);

pub(crate) async fn order_for_new_customer(app: &TestApp, phone: &str) -> String {
    let customer = app.customer("Jane", phone).await;
    let order = app
        .order(customer["id"].as_str().unwrap(), "Rice", "56000.68")
        .await;
    order["id"].as_str().unwrap().to_owned()
}

/// How many SMS each recipient got.
fn per_recipient(app: &TestApp) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for sms in app.sms.delivered() {
        *counts.entry(sms.to).or_default() += 1;
    }
    counts
}

/// The value of the unlabelled counter `name` in a metrics page (0 when absent).
pub(crate) fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn each_order_sends_one_sms_with_the_rendered_template() {
    let app = spawn_app().await;
    let id = order_for_new_customer(&app, PHONE).await;
    let order = app.wait_for_sms(&id, "sent", WAIT).await;
    assert_eq!(order["sms"]["attempts"], 1);
    assert!(order["sms"]["sent_at"].is_string());
    assert!(order["sms"]["reason"].is_null());

    app.wait_until_quiet(WAIT).await;
    let delivered = app.sms.delivered();
    assert_eq!(delivered.len(), 1, "exactly one SMS: {delivered:?}");
    assert_eq!(delivered[0].to, PHONE);
    assert_eq!(delivered[0].username, SMS_USERNAME);
    assert_eq!(delivered[0].message, "Hi Jane, order Rice KES 56000.68");
    assert_eq!(
        app.outbox_len().await,
        0,
        "the outbox record is gone once sent"
    );

    let metrics = app.metrics().await;
    assert!(metrics.contains("sms_sent_total 1"), "{metrics}");
    assert!(metrics.contains("sms_failed_total 0"));
}

#[tokio::test]
async fn transient_failures_are_retried_and_recorded_until_it_is_sent() {
    let app = spawn_app().await;
    app.sms.fail_next(&[500, 503]);
    let id = order_for_new_customer(&app, PHONE).await;
    let order = app.wait_for_sms(&id, "sent", WAIT).await;
    assert_eq!(
        order["sms"]["attempts"], 3,
        "two failures, then success: {order}"
    );
    assert_eq!(app.sms.delivered().len(), 1);
    assert!(app.metrics().await.contains("sms_retried_total 2"));
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let app = spawn_app().await;
    app.sms.set_delay(Some(Duration::from_secs(2))); // past the 800 ms send timeout
    let id = order_for_new_customer(&app, PHONE).await;
    let pending = app
        .wait_for_order(&id, WAIT, "timed out", |order| {
            order["sms"]["reason"]
                .as_str()
                .is_some_and(|reason| reason.contains("timed out"))
        })
        .await;
    assert_eq!(pending["sms"]["status"], "pending");
    app.sms.set_delay(None);
    let order = app.wait_for_sms(&id, "sent", WAIT).await;
    assert!(order["sms"]["attempts"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn a_send_that_timed_out_may_still_be_delivered_and_its_resend_is_counted() {
    let app = spawn_app_with(|config| config.outbox.max_attempts = 50).await;
    // A real provider (and the stand-in, by default) finishes a request whose client gave
    // up: the first SMS goes out after the dispatcher's 800 ms timeout, and the retry sends
    // it again.
    app.sms.set_delay(Some(Duration::from_millis(1500)));
    let id = order_for_new_customer(&app, PHONE).await;
    app.wait_for_order(&id, WAIT, "timed out", |order| {
        order["sms"]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("timed out"))
    })
    .await;
    app.sms.set_delay(None);
    app.wait_for_sms(&id, "sent", WAIT).await;
    app.wait_until_quiet(WAIT).await;
    let delivered = per_recipient(&app)[PHONE];
    assert!(delivered >= 2, "at least once, here twice: {delivered}");
    let metrics = app.metrics().await;
    let resends = counter(&metrics, "sms_ambiguous_resends_total") as usize;
    assert_eq!(resends, delivered - 1, "{metrics}");
}

#[tokio::test]
async fn a_permanent_refusal_fails_at_once_with_the_reason() {
    let app = spawn_app().await;
    app.sms.reject_number(PHONE, 403);
    let id = order_for_new_customer(&app, PHONE).await;
    let order = app.wait_for_sms(&id, "failed", WAIT).await;
    assert_eq!(order["sms"]["attempts"], 1, "not retried");
    let reason = order["sms"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("InvalidPhoneNumber") && reason.contains("403"),
        "{reason}"
    );
    assert_eq!(app.outbox_len().await, 0);
    assert!(app.metrics().await.contains("sms_failed_total 1"));
}

#[tokio::test]
async fn an_exhausted_balance_is_retried_and_alerted_until_the_account_is_topped_up() {
    let app = spawn_app_with(|config| config.outbox.max_attempts = 50).await;
    app.sms.set_balance_exhausted(true);
    let id = order_for_new_customer(&app, PHONE).await;
    let pending = app
        .wait_for_order(&id, WAIT, "retried for the balance", |order| {
            order["sms"]["attempts"].as_u64() >= Some(2)
        })
        .await;
    assert_eq!(pending["sms"]["status"], "pending", "{pending}");
    let reason = pending["sms"]["reason"].as_str().unwrap();
    assert!(reason.contains("InsufficientBalance"), "{reason}");
    let metrics = app.metrics().await;
    let alerts = counter(&metrics, "sms_provider_insufficient_balance_total");
    assert!(alerts >= 2, "{metrics}");
    app.sms.set_balance_exhausted(false);
    app.wait_for_sms(&id, "sent", WAIT).await;
    assert_eq!(app.sms.delivered().len(), 1);
}

#[tokio::test]
async fn an_unregistered_sender_id_fails_at_once() {
    let app = spawn_app_with(|config| config.sms.sender_id = Some("SHOPX".into())).await;
    app.sms.register_sender_ids(&["ACME"]);
    let id = order_for_new_customer(&app, PHONE).await;
    let order = app.wait_for_sms(&id, "failed", WAIT).await;
    assert_eq!(order["sms"]["attempts"], 1, "not retried: {order}");
    let reason = order["sms"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("InvalidSenderId") && reason.contains("SHOPX"),
        "{reason}"
    );
    assert!(app.sms.delivered().is_empty());
}

#[tokio::test]
async fn retries_are_bounded_and_then_the_sms_is_failed() {
    let app = spawn_app().await; // 4 attempts in tests
    app.sms.fail_next(&[500; 10]);
    let id = order_for_new_customer(&app, PHONE).await;
    let order = app.wait_for_sms(&id, "failed", WAIT).await;
    assert_eq!(order["sms"]["attempts"], 4);
    let reason = order["sms"]["reason"].as_str().unwrap();
    assert!(reason.contains("gave up after 4 attempts"), "{reason}");
    assert_eq!(app.sms.requests(), 4);
}

#[tokio::test]
async fn a_provider_outage_delays_the_sms_and_loses_none() {
    let app = spawn_app_with(|config| {
        config.outbox.max_attempts = 50;
    })
    .await;
    app.sms.set_down(true);
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(order_for_new_customer(&app, &format!("+25471100010{n}")).await);
    }
    // Every SMS was tried against the dead provider, and is still waiting.
    for id in &ids {
        let tried = app
            .wait_for_order(id, WAIT, "tried", |order| {
                order["sms"]["reason"].is_string()
            })
            .await;
        assert_eq!(tried["sms"]["status"], "pending", "{tried}");
    }
    assert!(app.sms.delivered().is_empty());

    app.sms.set_down(false);
    for id in &ids {
        app.wait_for_sms(id, "sent", WAIT).await;
    }
    let counts = per_recipient(&app);
    assert_eq!(counts.len(), 5);
    assert!(
        counts.values().all(|&n| n == 1),
        "each exactly once: {counts:?}"
    );
}

#[tokio::test]
async fn two_dispatchers_racing_send_each_sms_exactly_once() {
    let app = spawn_app_with(|config| config.outbox.enabled = false).await;
    let mut ids = Vec::new();
    for n in 0..20 {
        ids.push(order_for_new_customer(&app, &format!("+2547110002{n:02}")).await);
    }
    // Two replicas start on the same tables at once, each with its own dispatcher.
    let (first, second) = tokio::join!(
        app.replica(|config| config.outbox.enabled = true),
        app.replica(|config| config.outbox.enabled = true),
    );
    for id in &ids {
        app.wait_for_sms(id, "sent", WAIT).await;
    }
    app.wait_until_quiet(WAIT).await;
    assert_each_sent_once(&app, 20);
    drop((first, second));
}

#[tokio::test]
async fn two_dispatchers_racing_on_a_slow_store_send_each_sms_exactly_once() {
    let app = spawn_app_with(|config| config.outbox.enabled = false).await;
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(order_for_new_customer(&app, &format!("+2547110003{n:02}")).await);
    }
    // Both replicas reach the store through a proxy that delays every chunk each way:
    // a store call takes a good part of the 3 s lease, as under throttling.
    let proxy =
        TcpProxy::start(test_support::emulator::endpoint().trim_start_matches("http://")).await;
    proxy.set_latency(Duration::from_millis(250));
    let replica = || {
        let mut config = app.config.clone();
        config.outbox.enabled = true;
        start(
            config,
            app.issuer.clone(),
            app.sms.clone(),
            Some(proxy.url()),
        )
    };
    let (first, second) = tokio::join!(replica(), replica());
    for id in &ids {
        app.wait_for_sms(id, "sent", Duration::from_secs(120)).await;
    }
    app.wait_until_quiet(WAIT).await;
    assert_each_sent_once(&app, 10);
    drop((first, second));
}

fn assert_each_sent_once(app: &TestApp, expected: usize) {
    let counts = per_recipient(app);
    assert_eq!(counts.len(), expected, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "each exactly once: {counts:?}"
    );
}

#[tokio::test]
async fn an_order_written_before_a_crash_is_sent_by_the_next_dispatcher() {
    // The first process writes orders and dies before its dispatcher runs.
    let app = spawn_app_with(|config| config.outbox.enabled = false).await;
    let id = order_for_new_customer(&app, PHONE).await;
    assert!(app.sms.delivered().is_empty());
    assert_eq!(app.outbox_len().await, 1, "the SMS waits in the outbox");

    let successor = app.replica(|config| config.outbox.enabled = true).await;
    successor.wait_for_sms(&id, "sent", WAIT).await;
    assert_eq!(app.sms.delivered().len(), 1);
}

#[tokio::test]
async fn a_claim_abandoned_mid_send_is_taken_over_after_its_lease() {
    let app = spawn_app_with(|config| config.outbox.enabled = false).await;
    let id = order_for_new_customer(&app, PHONE).await;
    // A dispatcher claims the SMS and dies before recording anything (lease: 1.5 s).
    let sdk = common::aws::load_sdk_config(Some(&test_support::emulator::endpoint())).await;
    let store = DynamoSalesStore::new(
        common::aws::dynamodb(&sdk),
        &app.config.common.table_prefix,
        &CursorKeys::ephemeral(),
    );
    let now_ms = Timestamp::now().unix_millis();
    let lease_until = now_ms + 1500;
    let claimed = store
        .claim(&id, "crashed-worker", "crashed-claim", now_ms, lease_until)
        .await
        .unwrap();
    assert!(claimed.is_some());

    let successor = app.replica(|config| config.outbox.enabled = true).await;
    let order = successor.wait_for_sms(&id, "sent", WAIT).await;
    assert_eq!(
        order["sms"]["attempts"], 2,
        "the abandoned claim counts as an attempt"
    );
    let sent_at = time::OffsetDateTime::parse(
        order["sms"]["sent_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        Timestamp::from(sent_at).unix_millis() > lease_until,
        "not sent while the lease held: {order}"
    );
    assert_eq!(app.sms.delivered().len(), 1);
}

#[tokio::test]
async fn a_stalled_provider_slows_no_order_and_sees_bounded_concurrency() {
    // 4 sends in flight at most, 800 ms send timeout; enough attempts to outlast the stall.
    let app = spawn_app_with(|config| config.outbox.max_attempts = 50).await;
    // What the dispatcher has in flight: requests it gave up on are cancelled, not left
    // running at the provider (which would count them too).
    app.sms.set_finish_abandoned(false);
    app.sms.set_delay(Some(Duration::from_secs(5)));
    let customer = app.customer("Jane", PHONE).await;
    let customer_id = customer["id"].as_str().unwrap();
    let started = std::time::Instant::now();
    let mut ids = Vec::new();
    for n in 0..10 {
        ids.push(app.order(customer_id, &format!("Item {n}"), "1.00").await["id"].clone());
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "orders do not wait for the SMS provider: {:?}",
        started.elapsed()
    );
    // Wait until the dispatcher has tried more sends than it may have in flight.
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.sms.requests() < 8 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dispatcher stalled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let peak = app.sms.peak_in_flight();
    assert!(
        (1..=4).contains(&peak),
        "sends in flight bounded by the dispatcher: {peak}"
    );

    app.sms.set_delay(None);
    for id in &ids {
        app.wait_for_sms(id.as_str().unwrap(), "sent", WAIT).await;
    }
    assert!(app.sms.peak_in_flight() <= 4);
}

/// A customer written straight to the table, as one created before today's rules was.
async fn legacy_customer(app: &TestApp, name: &str, phone: &str) -> String {
    let sdk = common::aws::load_sdk_config(Some(&test_support::emulator::endpoint())).await;
    let store = DynamoSalesStore::new(
        common::aws::dynamodb(&sdk),
        &app.config.common.table_prefix,
        &CursorKeys::ephemeral(),
    );
    let id = uuid::Uuid::now_v7().to_string();
    let record = CustomerRecord {
        id: id.clone(),
        code: "CUS-900001".into(),
        name: name.into(),
        phone_number: phone.into(),
        email: None,
        created_at: Timestamp::now().sortable(),
    };
    store.insert_customer(&record, None).await.unwrap();
    id
}

#[tokio::test]
async fn placeholders_are_made_safe_when_the_message_is_rendered() {
    let app = spawn_app().await;
    let customer = legacy_customer(
        &app,
        "Jane \u{202E}Doe\u{2028}Pay at pay.example now",
        PHONE,
    )
    .await;
    let order = app.order(&customer, "Rice", "10").await;
    app.wait_for_sms(order["id"].as_str().unwrap(), "sent", WAIT)
        .await;
    let delivered = app.sms.delivered();
    assert_eq!(
        delivered[0].message,
        "Hi Jane Doe Pay at now, order Rice KES 10.00"
    );
}

#[tokio::test]
async fn a_destination_no_longer_allowed_fails_its_sms_without_sending() {
    let app = spawn_app().await;
    let customer = legacy_customer(&app, "Jane", "+19005550123").await;
    let order = app.order(&customer, "Rice", "10").await;
    let order = app
        .wait_for_sms(order["id"].as_str().unwrap(), "failed", WAIT)
        .await;
    let reason = order["sms"]["reason"].as_str().unwrap();
    assert!(reason.contains("not an allowed destination"), "{reason}");
    app.wait_until_quiet(WAIT).await;
    assert!(
        app.sms.delivered().is_empty(),
        "nothing reached the provider"
    );
}

#[tokio::test]
async fn sms_to_one_number_are_limited_per_hour_and_the_rest_fail_with_the_reason() {
    let app = spawn_app_with(|config| config.sms.max_per_number_per_hour = 2).await;
    // The first send fails and is retried once the number's share is taken: a retry of a
    // counted SMS must not count again, or be refused.
    app.sms.fail_next(&[500]);
    let customer = app.customer("Jane", PHONE).await;
    let customer = customer["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for n in 0..3 {
        let order = app.order(customer, &format!("Rice {n}"), "10").await;
        ids.push(order["id"].as_str().unwrap().to_owned());
    }
    let other = order_for_new_customer(&app, "+254711000002").await;
    let mut outcomes = Vec::new();
    for id in &ids {
        let order = app
            .wait_for_order(id, WAIT, "SMS finished", |order| {
                order["sms"]["status"] != "pending"
            })
            .await;
        outcomes.push(order["sms"].clone());
    }
    app.wait_for_sms(&other, "sent", WAIT).await;
    let sent = outcomes
        .iter()
        .filter(|sms| sms["status"] == "sent")
        .count();
    let failed: Vec<&Value> = outcomes
        .iter()
        .filter(|sms| sms["status"] == "failed")
        .collect();
    assert_eq!((sent, failed.len()), (2, 1), "{outcomes:?}");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(reason.contains("2 SMS per hour"), "{reason}");
    app.wait_until_quiet(WAIT).await;
    assert_eq!(per_recipient(&app)[PHONE], 2);
    assert_eq!(per_recipient(&app)["+254711000002"], 1);
    assert!(app
        .metrics()
        .await
        .contains("sms_destination_limited_total 1"));
}

#[tokio::test]
async fn the_per_number_limit_counts_a_number_however_it_was_written() {
    let app = spawn_app_with(|config| config.sms.max_per_number_per_hour = 2).await;
    let first = order_for_new_customer(&app, "+254796546507").await;
    let second = order_for_new_customer(&app, "+254796546507").await;
    // Sent before the next orders exist: one poll's batch is not in creation order.
    for id in [&first, &second] {
        app.wait_for_sms(id, "sent", WAIT).await;
    }
    // The same subscriber with the trunk 0: normalised on the way in...
    let with_trunk = order_for_new_customer(&app, "+2540796546507").await;
    // ...and by the dispatcher for a number stored before numbers were parsed.
    let stored_raw = legacy_customer(&app, "Jane", "+2540796546507").await;
    let stored_raw = app.order(&stored_raw, "Rice", "1").await;
    for id in [&with_trunk, stored_raw["id"].as_str().unwrap()] {
        let order = app.wait_for_sms(id, "failed", WAIT).await;
        let reason = order["sms"]["reason"].as_str().unwrap();
        assert!(
            reason.contains("at most 2 SMS per hour go to one number"),
            "{reason}"
        );
    }
    app.wait_until_quiet(WAIT).await;
    assert_eq!(
        per_recipient(&app),
        HashMap::from([("+254796546507".to_owned(), 2)])
    );
}

#[tokio::test]
async fn sms_per_caller_are_limited_per_hour_beside_the_per_number_limit() {
    let app = spawn_app_with(|config| config.sms.max_per_caller_per_hour = 2).await;
    let mut outcomes = Vec::new();
    for n in 0..3 {
        let customer = app.customer("Jane", &format!("+25471100040{n}")).await;
        let order = app
            .order(customer["id"].as_str().unwrap(), "Rice", "1")
            .await;
        outcomes.push(order);
    }
    let refused = &outcomes[2];
    assert_eq!(refused["sms"]["status"], "failed", "{refused}");
    let reason = refused["sms"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("at most 2 SMS per hour for one caller"),
        "{reason}"
    );
    for order in &outcomes[..2] {
        app.wait_for_sms(order["id"].as_str().unwrap(), "sent", WAIT)
            .await;
    }
    // Another client has its own share.
    let other = app
        .issuer
        .second_client_token(crate::helpers::AUDIENCE, &["sales:read", "sales:write"])
        .await;
    let customer = app.customer("John", "+254711000410").await;
    let order = app
        .bearer(&other)
        .post(
            "/api/v1/sales/orders",
            &serde_json::json!({"customer": customer["id"], "item": "Tea", "amount": "1"}),
        )
        .await;
    let order = crate::helpers::assert_json(order, reqwest::StatusCode::CREATED).await;
    app.wait_for_sms(order["id"].as_str().unwrap(), "sent", WAIT)
        .await;
    app.wait_until_quiet(WAIT).await;
    assert_eq!(
        app.sms.delivered().len(),
        3,
        "the refused SMS never reached the provider"
    );
    assert!(app.metrics().await.contains("sms_caller_limited_total 1"));
}

#[tokio::test]
async fn a_do_not_disturb_refusal_waits_for_eight_in_lagos_and_does_not_fail() {
    let app = spawn_app_with(|config| config.sms.destinations = "254,234".parse().unwrap()).await;
    let lagos = "+2348031234567";
    app.sms.reject_number(lagos, 409);
    let id = order_for_new_customer(&app, lagos).await;
    let order = app
        .wait_for_order(&id, WAIT, "refused for the hour", |order| {
            order["sms"]["reason"]
                .as_str()
                .is_some_and(|reason| reason.contains("DoNotDisturbRejection"))
        })
        .await;
    assert_eq!(order["sms"]["status"], "pending", "{order}");
    assert_eq!(order["sms"]["attempts"], 1);
    // Tried again at the next 08:00 WAT: hours away, far beyond any backoff (at most 200 ms
    // in tests), so nothing is retried meanwhile.
    let waits_ms = app.outbox_due_ms(&id).await - Timestamp::now().unix_millis();
    assert!(
        (60_000..=86_400_000).contains(&waits_ms),
        "due in {waits_ms} ms"
    );
    assert_eq!(app.sms.requests(), 1);
}
