use aws_sdk_dynamodb::types::AttributeValue;
use reqwest::StatusCode;
use serde_json::{json, Value};

use test_support::http::{next_link, pages_by_link};
use test_support::listing::{check_listing, Listing, PageShape};

use crate::helpers::{assert_json, assert_problem, spawn_app, spawn_app_with, TestApp, PHONE};

#[tokio::test]
async fn an_order_keeps_its_exact_amount_and_starts_with_a_pending_sms() {
    let app = spawn_app().await;
    let customer = app.customer("Jane", PHONE).await;
    let response = app
        .authorized()
        .post(
            "/api/v1/sales/orders",
            &json!({"customer": customer["id"], "item": "Bag of rice", "amount": "56000.68"}),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let order = assert_json(response, StatusCode::CREATED).await;
    assert_eq!(order["amount"], "56000.68");
    assert_eq!(order["currency"], "KES", "the configured default");
    assert_eq!(order["customer_id"], customer["id"]);
    assert_eq!(order["customer_code"], customer["code"]);
    assert_eq!(order["item"], "Bag of rice");
    assert_eq!(order["sms"]["status"], "pending");
    assert_eq!(order["sms"]["attempts"], 0);
    let ordered_at = order["ordered_at"].as_str().unwrap();
    assert!(
        ordered_at.ends_with('Z') && ordered_at.len() == 27,
        "{ordered_at}"
    );
    assert_eq!(
        location,
        format!("/api/v1/sales/orders/{}", order["id"].as_str().unwrap())
    );

    let stored = app.order_now(order["id"].as_str().unwrap()).await;
    assert_eq!(stored["amount"], "56000.68");

    let usd = app
        .authorized()
        .post(
            "/api/v1/sales/orders",
            &json!({"customer": customer["id"], "item": "Tea", "amount": "10", "currency": "usd"}),
        )
        .await;
    let usd = assert_json(usd, StatusCode::CREATED).await;
    assert_eq!(
        (usd["amount"].as_str(), usd["currency"].as_str()),
        (Some("10.00"), Some("USD"))
    );
}

#[tokio::test]
async fn bad_orders_name_their_fields_and_write_nothing() {
    let app = spawn_app().await;
    let customer = app.customer("Jane", PHONE).await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"customer": customer["id"], "item": "Rice", "amount": 1.25e-1}),
            "amount",
        ),
        (
            json!({"customer": customer["id"], "item": "Rice", "amount": "-1"}),
            "amount",
        ),
        (
            json!({"customer": customer["id"], "item": "Rice", "amount": "1.234"}),
            "amount",
        ),
        (
            json!({"customer": customer["id"], "item": "Rice", "amount": "0"}),
            "amount",
        ),
        (
            json!({"customer": customer["id"], "item": "", "amount": "1"}),
            "item",
        ),
        (
            json!({"customer": customer["id"], "item": "Rice", "amount": "1", "currency": "shillings"}),
            "currency",
        ),
        // Three letters that ISO 4217 does not list, or lists as no money.
        (
            json!({"customer": customer["id"], "item": "Rice", "amount": "1", "currency": "ZZZ"}),
            "currency",
        ),
        (
            json!({"customer": customer["id"], "item": "Rice", "amount": "1", "currency": "XTS"}),
            "currency",
        ),
        (
            json!({"customer": "someone", "item": "Rice", "amount": "1"}),
            "customer",
        ),
        (json!({"item": "Rice", "amount": "1"}), "customer"),
    ];
    for (body, field) in cases {
        let response = app.authorized().post("/api/v1/sales/orders", &body).await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some(field)).await;
    }
    let unknown = json!({"customer": uuid::Uuid::now_v7(), "item": "Rice", "amount": "1"});
    let problem = assert_problem(
        app.authorized()
            .post("/api/v1/sales/orders", &unknown)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("customer"),
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("no customer"));

    let orders = assert_json(
        app.authorized().get("/api/v1/sales/orders").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(orders["orders"], json!([]));
    assert_eq!(
        app.outbox_len().await,
        0,
        "no SMS queued for a refused order"
    );
}

#[tokio::test]
async fn orders_are_listed_newest_first_and_filtered_by_customer() {
    let app = spawn_app().await;
    let jane = app.customer("Jane", "+254711000001").await;
    let john = app.customer("John", "+254711000002").await;
    let jane_id = jane["id"].as_str().unwrap();
    let mut janes = Vec::new();
    for n in 0..3 {
        janes.push(app.order(jane_id, &format!("Item {n}"), "5.00").await["id"].clone());
    }
    let other = app
        .order(john["id"].as_str().unwrap(), "Other", "7.00")
        .await["id"]
        .clone();

    let all = assert_json(
        app.authorized().get("/api/v1/sales/orders?limit=100").await,
        StatusCode::OK,
    )
    .await;
    let all: Vec<Value> = all["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|order| order["id"].clone())
        .collect();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0], other, "newest first: John's came last");
    assert_eq!(
        all[1..],
        janes.iter().rev().cloned().collect::<Vec<_>>()[..]
    );

    let orders = |path: String| Listing {
        path,
        shape: PageShape::Envelope { items: "orders" },
        cursor: "next",
        max_limit: Some(100),
        key: |order| order["id"].as_str().map(str::to_owned),
    };
    let every: Vec<&str> = all.iter().filter_map(Value::as_str).collect();
    check_listing(
        &app.authorized(),
        &orders("/api/v1/sales/orders".into()),
        &every,
    )
    .await;
    let pages = check_listing(
        &app.authorized(),
        &orders(format!("/api/v1/sales/orders?customer={jane_id}")),
        &[],
    )
    .await;
    let ids: Vec<Value> = pages
        .iter()
        .flatten()
        .map(|order| order["id"].clone())
        .collect();
    janes.reverse();
    assert_eq!(ids, janes, "newest first, only Jane's");

    assert_problem(
        app.authorized()
            .get("/api/v1/sales/orders?customer=nobody")
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("customer"),
    )
    .await;
    let unknown = uuid::Uuid::now_v7();
    assert_problem(
        app.authorized()
            .get(&format!("/api/v1/sales/orders/{unknown}"))
            .await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
}

#[tokio::test]
async fn the_old_style_paths_still_work_and_point_to_their_successors() {
    let app = spawn_app().await;
    let response = app
        .authorized()
        .post(
            "/ap1/v1/sales/create-customer/",
            &json!({"name": "Legacy", "phone_number": PHONE}),
        )
        .await;
    assert_eq!(response.headers()["deprecation"], "true");
    assert!(response.headers()["link"]
        .to_str()
        .unwrap()
        .contains("</api/v1/sales/customers>"));
    let customer = assert_json(response, StatusCode::CREATED).await;

    let order = app
        .authorized()
        .post(
            "/ap1/v1/sales/create-order/",
            &json!({"customer": customer["id"], "item": "Rice", "amount": "12.50"}),
        )
        .await;
    let order = assert_json(order, StatusCode::CREATED).await;
    assert_eq!(order["amount"], "12.50");
    assert_eq!(order["customer"], customer["id"], "named as in the request");
    assert!(order.get("customer_id").is_none(), "{order}");

    let customers = assert_json(
        app.authorized().get("/ap1/v1/sales/customers/").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        customers,
        json!([customer]),
        "a bare array of every customer"
    );
    let orders = app.authorized().get("/ap1/v1/sales/orders/").await;
    assert_eq!(orders.headers()["deprecation"], "true");
    assert_eq!(next_link(&orders), None, "everything fits under the cap");
    let orders = assert_json(orders, StatusCode::OK).await;
    // (Its SMS may have gone out since: compare what does not change.)
    assert_eq!(orders.as_array().map(Vec::len), Some(1), "{orders}");
    assert_eq!(
        (&orders[0]["id"], &orders[0]["customer"]),
        (&order["id"], &customer["id"])
    );

    let unauthenticated = app.anonymous().get("/ap1/v1/sales/orders/").await;
    assert_problem(unauthenticated, StatusCode::UNAUTHORIZED, None).await;
}

#[tokio::test]
async fn json_number_amounts_are_read_exactly_on_every_order_route() {
    let app = spawn_app().await;
    let customer = app.customer("Jane", PHONE).await;
    let id = customer["id"].as_str().unwrap();
    // The literal text as a client writes it: no f64 on our side or the test's.
    let cases = [
        ("56000.68", "56000.68"),
        ("0.1", "0.10"),
        ("999999999999.99", "999999999999.99"),
        ("1e3", "1000.00"),
        ("5.600068E+4", "56000.68"),
        ("\"56000.68\"", "56000.68"),
    ];
    for path in ["/api/v1/sales/orders", "/ap1/v1/sales/create-order/"] {
        for (literal, stored) in cases {
            let body = format!(r#"{{"customer": "{id}", "item": "Rice", "amount": {literal}}}"#);
            let order = assert_json(app.post_text(path, &body).await, StatusCode::CREATED).await;
            assert_eq!(order["amount"], stored, "{path} {literal}");
            let item = app.stored_order(order["id"].as_str().unwrap()).await;
            assert_eq!(
                item["amount"],
                AttributeValue::S(stored.into()),
                "stored as text"
            );
        }
        // 1.005 is 1.00499999999999989... as an f64: read exactly, it has 3 decimals.
        for literal in ["1.005", "1e-3", "-5", "0", "1e400", "true"] {
            let body = format!(r#"{{"customer": "{id}", "item": "Rice", "amount": {literal}}}"#);
            let response = app.post_text(path, &body).await;
            assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("amount")).await;
        }
    }
}

#[tokio::test]
async fn a_number_and_its_string_are_the_same_order_for_an_idempotency_key() {
    let app = spawn_app().await;
    let customer = app.customer("Jane", PHONE).await;
    let id = customer["id"].as_str().unwrap();
    let as_number = json!({"customer": id, "item": "Rice", "amount": 100});
    let first = app
        .authorized()
        .header("Idempotency-Key", "k-1")
        .post("/api/v1/sales/orders", &as_number)
        .await;
    let first = assert_json(first, StatusCode::CREATED).await;
    let as_string = json!({"customer": id, "item": "Rice", "amount": "100.00"});
    let again = app
        .authorized()
        .header("Idempotency-Key", "k-1")
        .post("/api/v1/sales/orders", &as_string)
        .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        assert_json(again, StatusCode::CREATED).await["id"],
        first["id"]
    );
}

/// Every page of a legacy listing, each naming its successor route.
async fn every_page(app: &TestApp, first: &str) -> Vec<Vec<Value>> {
    pages_by_link(first, |path| async move {
        let response = app.authorized().get(&path).await;
        let links: Vec<&str> = response
            .headers()
            .get_all("link")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert!(
            links.iter().any(|l| l.contains("successor-version")),
            "{links:?}"
        );
        response
    })
    .await
}

#[tokio::test]
async fn legacy_listings_return_every_record_up_to_the_cap_then_link_the_rest() {
    let app = spawn_app_with(|config| config.legacy_list_max_items = 2).await;
    let mut customer_ids = Vec::new();
    for n in 0..5 {
        let customer = app
            .customer(&format!("Buyer {n}"), &format!("+25471100000{n}"))
            .await;
        customer_ids.push(customer["id"].as_str().unwrap().to_owned());
    }
    let pages = every_page(&app, "/ap1/v1/sales/customers/").await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>()[..2],
        [2, 2],
        "capped at 2"
    );
    let listed: Vec<String> = pages
        .iter()
        .flatten()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let newest_first: Vec<String> = customer_ids.iter().rev().cloned().collect();
    assert_eq!(
        listed, newest_first,
        "every customer exactly once, newest first"
    );
    let legacy = |path: &str| Listing {
        path: path.into(),
        shape: PageShape::LinkHeader,
        cursor: "next",
        max_limit: None,
        key: |record| record["id"].as_str().map(str::to_owned),
    };
    let ids: Vec<&str> = customer_ids.iter().map(String::as_str).collect();
    check_listing(&app.authorized(), &legacy("/ap1/v1/sales/customers/"), &ids).await;

    let jane = &customer_ids[0];
    let mut ordered = Vec::new();
    for n in 0..3 {
        ordered.push(app.order(jane, &format!("Item {n}"), "5.00").await["id"].clone());
    }
    app.order(&customer_ids[1], "Other", "7.00").await;
    let pages = every_page(&app, &format!("/ap1/v1/sales/orders/?customer={jane}")).await;
    let orders: Vec<&Value> = pages.iter().flatten().collect();
    ordered.reverse();
    assert_eq!(
        orders.iter().map(|o| o["id"].clone()).collect::<Vec<_>>(),
        ordered,
        "Jane's, newest first"
    );
    for order in &orders {
        assert_eq!(order["customer"], json!(jane));
        assert!(
            order.get("customer_id").is_none() && order["sms"]["status"].is_string(),
            "{order}"
        );
    }
    let all: Vec<Value> = every_page(&app, "/ap1/v1/sales/orders/")
        .await
        .iter()
        .flatten()
        .map(|order| order["id"].clone())
        .collect();
    assert_eq!(all.len(), 4);
    assert_eq!(
        all[1..],
        ordered[..],
        "newest first: the other customer's came last"
    );
    let all: Vec<&str> = all.iter().filter_map(Value::as_str).collect();
    check_listing(&app.authorized(), &legacy("/ap1/v1/sales/orders/"), &all).await;
    assert_problem(
        app.authorized()
            .get("/ap1/v1/sales/orders/?next=garbage")
            .await,
        StatusCode::BAD_REQUEST,
        Some("next"),
    )
    .await;
}

#[tokio::test]
async fn a_replay_on_the_legacy_path_answers_in_the_legacy_shape() {
    let app = spawn_app().await;
    let customer = app.customer("Jane", PHONE).await;
    let body = json!({"customer": customer["id"], "item": "Rice", "amount": "3"});
    let first = app
        .authorized()
        .header("Idempotency-Key", "same-key")
        .post("/api/v1/sales/orders", &body)
        .await;
    let first = assert_json(first, StatusCode::CREATED).await;
    let replay = app
        .authorized()
        .header("Idempotency-Key", "same-key")
        .post("/ap1/v1/sales/create-order/", &body)
        .await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay = assert_json(replay, StatusCode::CREATED).await;
    assert_eq!(
        (&replay["id"], &replay["customer"]),
        (&first["id"], &first["customer_id"])
    );
    assert!(replay.get("customer_id").is_none());
}

#[tokio::test]
async fn items_that_could_rewrite_the_sms_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let customer = app.customer("Jane", PHONE).await;
    for item in [
        "Rice\u{2029}URGENT: your M-PESA is locked call +254700111222",
        "Rice\u{2028}Pay now",
        "Rice \u{202E}lanif",
        "Rice, visit pay.example",
        "Rice, visit pay\u{2024}example",
        "Rice, visit pay\u{FE52}example",
        "Rice http://pay.example/x",
    ] {
        let response = app
            .authorized()
            .post(
                "/api/v1/sales/orders",
                &json!({"customer": customer["id"], "item": item, "amount": "1"}),
            )
            .await;
        assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("item")).await;
    }
    assert_eq!(
        app.outbox_len().await,
        0,
        "no SMS queued for a refused item"
    );
    let fine = app
        .order(
            customer["id"].as_str().unwrap(),
            "Bag of rice 2.5kg, J.R.R. brand",
            "1",
        )
        .await;
    assert_eq!(fine["item"], "Bag of rice 2.5kg, J.R.R. brand");
}
