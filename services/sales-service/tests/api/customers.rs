use reqwest::{Method, StatusCode};
use serde_json::json;
use test_support::listing::{check_listing, Listing, PageShape};

use crate::helpers::{assert_json, assert_problem, spawn_app, spawn_app_with, TestApp, PHONE};

#[tokio::test]
async fn creating_a_customer_returns_it_with_a_code_and_a_location() {
    let app = spawn_app().await;
    let response = app.authorized().post("/api/v1/sales/customers", &json!({"name": " Jane Wanjiku ", "phone_number": "+254 711 000-001", "email": "jane@example.com"}))
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let customer = assert_json(response, StatusCode::CREATED).await;
    assert_eq!(customer["name"], "Jane Wanjiku");
    assert_eq!(customer["phone_number"], "+254711000001", "stored in E.164");
    assert_eq!(customer["email"], "jane@example.com");
    assert_eq!(customer["code"], "CUS-000001");
    let id = customer["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/sales/customers/{id}"));

    let fetched = assert_json(app.authorized().get(&location).await, StatusCode::OK).await;
    assert_eq!(fetched, customer);
}

#[tokio::test]
async fn customer_codes_are_unique_and_never_reused_even_under_concurrency() {
    let app = spawn_app().await;
    let bodies: Vec<_> = (0..12)
        .map(|n| json!({"name": format!("Customer {n}"), "phone_number": format!("+2547110000{n:02}")}))
        .collect();
    let creations = bodies
        .iter()
        .map(|body| app.authorized().post("/api/v1/sales/customers", body));
    let mut codes = Vec::new();
    for response in futures::future::join_all(creations).await {
        let customer = assert_json(response, StatusCode::CREATED).await;
        codes.push(customer["code"].as_str().unwrap().to_owned());
    }
    codes.sort();
    let expected: Vec<String> = (1..=12).map(|n| format!("CUS-{n:06}")).collect();
    assert_eq!(codes, expected);
}

#[tokio::test]
async fn every_invalid_field_is_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let response = app
        .authorized()
        .post(
            "/api/v1/sales/customers",
            &json!({"phone_number": "0711000000", "email": "not-an-address"}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("name")).await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "phone_number", "email"]);
    assert!(problem["detail"].as_str().unwrap().contains("E.164"));

    let page = assert_json(
        app.authorized().get("/api/v1/sales/customers").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["customers"], json!([]));
}

#[tokio::test]
async fn malformed_bodies_are_client_errors() {
    let app = spawn_app().await;
    let wrong_type = app
        .authorized()
        .post(
            "/api/v1/sales/customers",
            &json!({"name": 5, "phone_number": "+254711000001"}),
        )
        .await;
    assert_problem(wrong_type, StatusCode::BAD_REQUEST, Some("name")).await;

    // An array of the field values is not the object (serde alone would accept it).
    let array = app
        .authorized()
        .post(
            "/api/v1/sales/customers",
            &json!(["Jane", "+254711000001", null]),
        )
        .await;
    assert_problem(array, StatusCode::BAD_REQUEST, Some("body")).await;
    let page = assert_json(
        app.authorized().get("/api/v1/sales/customers").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["customers"], json!([]), "nothing was written");

    let not_json = app
        .post_text("/api/v1/sales/customers", "{\"name\": ")
        .await;
    assert_problem(not_json, StatusCode::BAD_REQUEST, None).await;

    let form = app
        .authorized()
        .send(
            Method::POST,
            "/api/v1/sales/customers",
            "application/x-www-form-urlencoded",
            "name=Jane",
        )
        .await;
    assert_problem(form, StatusCode::UNSUPPORTED_MEDIA_TYPE, None).await;

    let huge = app
        .authorized()
        .post(
            "/api/v1/sales/customers",
            &json!({"name": "x".repeat(100_000), "phone_number": "+254711000001"}),
        )
        .await;
    assert_problem(huge, StatusCode::PAYLOAD_TOO_LARGE, None).await;
}

#[tokio::test]
async fn customers_are_listed_a_page_at_a_time_newest_first() {
    let app = spawn_app().await;
    for n in 0..5 {
        app.customer(&format!("Customer {n}"), &format!("+25471100000{n}"))
            .await;
    }
    let listing = Listing {
        path: "/api/v1/sales/customers".into(),
        shape: PageShape::Envelope { items: "customers" },
        cursor: "next",
        max_limit: Some(100),
        key: |customer| customer["code"].as_str().map(str::to_owned),
    };
    let created: Vec<String> = (1..=5).map(|n| format!("CUS-{n:06}")).collect();
    let created: Vec<&str> = created.iter().map(String::as_str).collect();
    let pages = check_listing(&app.authorized(), &listing, &created).await;
    let seen: Vec<String> = pages.iter().flatten().filter_map(listing.key).collect();
    let newest_first: Vec<String> = (1..=5).rev().map(|n| format!("CUS-{n:06}")).collect();
    assert_eq!(seen, newest_first, "every customer once, newest first");
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let app = spawn_app().await;
    // limit and cursor: check_listing, in customers_are_listed_a_page_at_a_time_newest_first.
    let unknown = uuid::Uuid::now_v7();
    assert_problem(
        app.authorized()
            .get(&format!("/api/v1/sales/customers/{unknown}"))
            .await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
    let long = "x".repeat(5000);
    assert_problem(
        app.authorized()
            .get(&format!("/api/v1/sales/customers/{long}"))
            .await,
        StatusCode::NOT_FOUND,
        None,
    )
    .await;
}

#[tokio::test]
async fn names_that_could_rewrite_the_sms_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let hostile = [
        "Jane\u{2028}Your account is locked",
        "Jane\u{2029}Pay now",
        "Jane\r\nPay now",
        "Jane \u{202E}lanif",
        "Jane \u{2066}x\u{2069}",
        "Ja\u{200B}ne",
        "Jane\u{E000}",
        "Jane http://pay.example/now",
        "Jane www.pay.example",
        "Jane pay.example",
        "Jane bit.ly/x",
        // Look-alikes of the full stop and the slash (Unicode's confusables, UTS 39).
        "Eve see pay\u{2024}example",
        "Eve see pay\u{FE52}example",
        "Eve see pay\u{A4F8}example",
        "Eve http:\u{2215}\u{2215}pay",
        "Eve http:\u{2044}\u{2044}pay",
    ];
    for name in hostile {
        let response = app
            .authorized()
            .post(
                "/api/v1/sales/customers",
                &json!({"name": name, "phone_number": PHONE}),
            )
            .await;
        let problem =
            assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("name")).await;
        assert_eq!(problem["errors"].as_array().unwrap().len(), 1, "{name:?}");
    }
    let page = assert_json(
        app.authorized().get("/api/v1/sales/customers").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["customers"], json!([]), "nothing was written");

    // Real names pass, normalised: NFC, one space between words.
    for (name, stored) in [
        ("Zoe\u{0308}  Wanjiku", "Zo\u{00EB} Wanjiku"),
        ("J.R.R. Tolkien", "J.R.R. Tolkien"),
        ("Amina\u{00A0}Hassan", "Amina Hassan"),
        ("አበበ ቢቂላ", "አበበ ቢቂላ"),
        ("أحمد علي", "أحمد علي"),
    ] {
        let customer = app.customer(name, PHONE).await;
        assert_eq!(customer["name"], stored, "{name:?}");
    }
}

/// Asserts that a customer with `phone` is refused with a 422 naming `phone_number`.
async fn assert_phone_refused(app: &TestApp, phone: &str) {
    let response = app
        .authorized()
        .post(
            "/api/v1/sales/customers",
            &json!({"name": "Jane", "phone_number": phone}),
        )
        .await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("phone_number"),
    )
    .await;
}

#[tokio::test]
async fn phone_numbers_outside_the_allowed_countries_or_premium_are_refused() {
    let app = spawn_app().await;
    for phone in [
        "+12125550123",
        "+447700900123",
        "+19005550123",
        "+881612345678",
        "+882161234567",
        "+8701234567",
        "+979123456789",
    ] {
        assert_phone_refused(&app, phone).await;
    }
    let page = assert_json(
        app.authorized().get("/api/v1/sales/customers").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["customers"], json!([]), "nothing was written");
    // The default countries: Kenya, Tanzania, Uganda, Rwanda.
    for phone in [
        "+254711000001",
        "+255712000001",
        "+256772000001",
        "+250788000001",
    ] {
        app.customer("Jane", phone).await;
    }

    // Premium-rate numbers stay refused inside an allowed country code.
    let app = spawn_app_with(|config| config.sms.destinations = "1,254".parse().unwrap()).await;
    app.customer("Jane", "+12125550123").await;
    for phone in ["+19005550123", "+19765550123", "+447700900123"] {
        assert_phone_refused(&app, phone).await;
    }
}

#[tokio::test]
async fn phone_numbers_are_parsed_and_normalised_per_country() {
    let app = spawn_app().await;
    // The same Safaricom subscriber written with the national trunk 0 after the code.
    let trunk = app.customer("Jane", "+2540796546507").await;
    assert_eq!(
        trunk["phone_number"], "+254796546507",
        "E.164, trunk 0 dropped"
    );
    let spaced = app.customer("Jane", "+254 79-654 6507").await;
    assert_eq!(spaced["phone_number"], "+254796546507");
    for phone in [
        "+254900123456",  // Kenya's national premium-rate range (0900)
        "+2541234",       // a 4-digit national number
        "+254800123456",  // toll-free: no SMS
        "+254202123456",  // a Nairobi fixed line: no SMS
        "+2547965465070", // one digit too many
    ] {
        assert_phone_refused(&app, phone).await;
    }
}
