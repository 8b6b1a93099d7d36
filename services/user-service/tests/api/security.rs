//! The penetration test's findings, each replayed as the attack it was.

use std::num::NonZeroU32;

use reqwest::StatusCode;
use serde_json::{json, Value};
use user_service::config::{Admin, AdminPassword};
use user_service::domain::Username;

use crate::helpers::{
    assert_problem, behind_loopback_proxy, spawn_app, spawn_app_with, start, test_config, TestApp,
    ADMIN, ADMIN_PASSWORD, PASSWORD, PNG,
};

async fn delete(app: &TestApp, username: &str, token: &str) -> reqwest::Response {
    app.bearer(token).delete(&format!("/user/{username}")).await
}

/// The attack: delete the bootstrap admin, register its name with your own password,
/// wait for a restart that "ensures" the admin.
#[tokio::test]
async fn the_bootstrap_admin_name_cannot_be_taken_over() {
    let config = test_config();
    let app = start(config.clone(), None).await;
    let admin = app.admin_token().await;

    let refused = delete(&app, ADMIN, &admin).await;
    let body = assert_problem(refused, StatusCode::CONFLICT, None).await;
    assert!(
        body["detail"].as_str().unwrap().contains("last admin"),
        "{body}"
    );

    let squatter = app
        .sign_up(json!({"username": ADMIN, "password": "mallory-password"}))
        .await;
    assert_problem(squatter, StatusCode::CONFLICT, Some("username")).await;

    // A restart finds the real admin and keeps its password.
    let restarted = start(config.clone(), None).await;
    assert_eq!(
        restarted.login(ADMIN, ADMIN_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        restarted.login(ADMIN, "mallory-password").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Security review F5: `admin.` signed up (201) and showed as "Administrator" next to the
/// real admin. Names that look like the bootstrap admin's are reserved with it: the same
/// UTS 39 confusable skeleton once separators are dropped and 0/o, 1/l/i are folded.
#[tokio::test]
async fn look_alikes_of_the_admin_name_are_reserved() {
    let app = spawn_app().await;
    for look_alike in [
        "admin.",
        "adm1n",
        "Adm1n",
        "admin_",
        "ad-min",
        "a.d.m.i.n",
        "admln",
        "adrnin",
        "adm.in-",
    ] {
        let response = app
            .sign_up(json!({"username": look_alike, "password": "lookalike-pw-1"}))
            .await;
        assert_problem(response, StatusCode::CONFLICT, Some("username")).await;
        let stored = Username::parse(look_alike).unwrap();
        assert!(
            app.stored_user(stored.as_str()).await.is_none(),
            "{look_alike}"
        );
    }
    for distinct in ["admiral", "badmin", "adminx"] {
        app.create_user(distinct).await;
    }
}

#[tokio::test]
async fn an_existing_account_is_never_promoted_to_admin() {
    let mut config = test_config();
    let app = start(config.clone(), None).await;
    app.create_user("mallory").await;

    // The operator renames the admin to a name somebody already registered.
    config.admin = Some(Admin {
        username: "mallory".into(),
        password: AdminPassword::Plain(common::secrets::Secret::new("operator-password-1")),
    });
    let sdk = common::aws::load_sdk_config(Some(&test_support::emulator::endpoint())).await;
    let error = user_service::build(&config, &sdk)
        .await
        .err()
        .expect("refused");
    assert!(format!("{error:#}").contains("mallory"), "{error:#}");
    let stored = app.stored_user("mallory").await.unwrap();
    assert_eq!(stored["role"].as_s().unwrap(), "user", "not promoted");
}

/// The attack: a login racing a deletion writes its session after the revocation; the
/// name is registered again; the old token must not open the new account.
#[tokio::test]
async fn a_session_never_opens_a_later_account_of_the_same_name() {
    let app = spawn_app().await;
    let victim = app.user_with_token("eve").await;
    let sessions = format!("{}sessions", app.table_prefix);
    let written_late = app
        .dynamodb
        .scan()
        .table_name(&sessions)
        .send()
        .await
        .unwrap()
        .items
        .unwrap()
        .into_iter()
        .find(|item| item["username"].as_s().unwrap() == "eve")
        .unwrap();
    assert_eq!(
        delete(&app, "eve", &victim).await.status(),
        StatusCode::NO_CONTENT
    );
    // The racing login's session lands after the deletion revoked every session.
    app.dynamodb
        .put_item()
        .table_name(&sessions)
        .set_item(Some(written_late))
        .send()
        .await
        .unwrap();
    app.create_user("eve").await;

    let response = app.bearer(&victim).get("/user/eve").await;
    assert_problem(response, StatusCode::UNAUTHORIZED, None).await;
    let owner = app.token("eve", PASSWORD).await;
    assert_eq!(
        app.bearer(&owner).get("/user/eve").await.status(),
        StatusCode::OK
    );
}

/// The attack: one unauthenticated sign-up with a body of megabytes, parsed whole.
#[tokio::test]
async fn a_json_sign_up_over_the_body_limit_is_refused_before_parsing() {
    let app = spawn_app().await;
    let padding: Vec<Value> = (0..600_000).map(|_| json!(1)).collect();
    let response = app
        .sign_up(json!({"username": "big", "password": PASSWORD, "data": padding}))
        .await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, None).await;
}

/// An 8192x8192 PNG header is a few bytes; decoded it is 256 MiB.
#[tokio::test]
async fn an_avatar_with_too_many_pixels_is_refused() {
    let app = spawn_app().await;
    let bomb = png_header(8192, 8192);
    let form = reqwest::multipart::Form::new()
        .text("username", "bomber")
        .text("password", PASSWORD)
        .part(
            "avatar",
            reqwest::multipart::Part::bytes(bomb)
                .mime_str("image/png")
                .unwrap(),
        );
    let response = app.sign_up_multipart(form).await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("avatar")).await;
}

/// Security review I2: a real PNG with an SVG or HTML page after its end was stored (a
/// polyglot: an image to the upload check, a page to whatever renders it as one).
#[tokio::test]
async fn an_avatar_with_a_page_after_the_image_is_refused() {
    let app = spawn_app().await;
    let token = app.user_with_token("poly").await;
    for page in [
        &b"<svg onload=alert(1)>"[..],
        b"<html><script>alert(1)</script>",
    ] {
        let mut polyglot = PNG.to_vec();
        polyglot.extend_from_slice(page);
        let response = app
            .bearer(&token)
            .request(reqwest::Method::PUT, "/user/poly/avatar")
            .header("content-type", "image/png")
            .body(polyglot)
            .send()
            .await
            .unwrap();
        let problem =
            assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, Some("avatar")).await;
        assert!(problem.to_string().contains("after the image"), "{problem}");
    }
    assert!(!app.avatar_exists("avatars/poly").await, "nothing stored");
}

/// A PNG signature and IHDR chunk claiming `width` x `height` (enough for the header parse).
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(&width.to_be_bytes());
    png.extend_from_slice(&height.to_be_bytes());
    png.extend_from_slice(&[8, 6, 0, 0, 0]);
    png.extend_from_slice(&[0, 0, 0, 0]); // CRC, unchecked by a header parse
    png.extend_from_slice(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]);
    png
}

/// Behind the balancer (a trusted proxy): the attacker at 198.51.100.1 spends the
/// username's quota; the owner, from elsewhere, still logs in.
#[tokio::test]
async fn guessing_a_password_never_locks_its_owner_out() {
    let app = spawn_app_with(|config| {
        behind_loopback_proxy(config);
        config.abuse_limits.login_per_username = NonZeroU32::new(3).unwrap();
    })
    .await;
    app.create_user("rex").await;
    for _ in 0..3 {
        let guess = app
            .login_via("rex", "wrong password", &["198.51.100.1"])
            .await;
        assert_eq!(guess.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = app.login_via("rex", PASSWORD, &["198.51.100.1"]).await;
    assert_problem(locked, StatusCode::TOO_MANY_REQUESTS, None).await;
    let owner = app.login_via("rex", PASSWORD, &["203.0.113.5"]).await;
    assert_eq!(owner.status(), StatusCode::OK);
}

/// The attacker sends an `X-Forwarded-For` line of its own with every attempt; the
/// balancer appends the real address. The real one is counted.
#[tokio::test]
async fn a_forged_forwarded_for_line_is_not_the_address_counted() {
    let app = spawn_app_with(|config| {
        behind_loopback_proxy(config);
        config.abuse_limits.login_per_address = NonZeroU32::new(4).unwrap();
    })
    .await;
    for n in 0..4 {
        let forged = format!("10.9.8.{n}");
        let attempt = app
            .login_via(
                &format!("user{n}"),
                "wrong password",
                &[&forged, "198.51.100.7"],
            )
            .await;
        assert_eq!(attempt.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = app
        .login_via("user9", "wrong password", &["10.9.8.9", "198.51.100.7"])
        .await;
    let body = assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, None).await;
    assert!(
        body["detail"].as_str().unwrap().contains("address"),
        "{body}"
    );
}

#[tokio::test]
async fn sign_ups_are_rate_limited_per_address() {
    let app = spawn_app_with(|config| {
        config.abuse_limits.signup_per_address = NonZeroU32::new(2).unwrap()
    })
    .await;
    app.create_user("one").await;
    app.create_user("two").await;
    let third = app
        .sign_up(json!({"username": "three", "password": PASSWORD}))
        .await;
    assert!(third.headers().contains_key("retry-after"));
    assert_problem(third, StatusCode::TOO_MANY_REQUESTS, None).await;
    assert!(app.stored_user("three").await.is_none(), "nothing written");
}

/// The attack: requests with made-up methods, each a new label value on /metrics.
#[tokio::test]
async fn made_up_methods_add_no_metric_series() {
    let app = spawn_app().await;
    for n in 0..20 {
        let method = reqwest::Method::from_bytes(format!("XATTACK{n}").as_bytes()).unwrap();
        app.client
            .request(method, app.url("/healthz"))
            .send()
            .await
            .unwrap();
    }
    let metrics = app.anonymous().get("/metrics").await.text().await.unwrap();
    assert!(!metrics.contains("XATTACK"), "client-chosen label values");
    assert!(metrics.contains(r#"method="other""#), "{metrics}");
}

#[tokio::test]
async fn tokens_and_account_data_are_never_cached_nor_sniffed() {
    let app = spawn_app().await;
    let token = app.user_with_token("ida").await;
    let login = app.login("ida", PASSWORD).await;
    let account = app.bearer(&token).get("/user/ida").await;
    let docs = app.anonymous().get("/swagger/").await;
    for response in [&login, &account] {
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{}",
            response.url()
        );
    }
    // The docs page holds no account data: it may be kept, but only by the browser and only
    // after revalidating (ETag), so a new binary's Swagger UI is seen at once; never `public`.
    assert_eq!(docs.headers()["cache-control"], "no-cache");
    for response in [&login, &account, &docs] {
        let headers = response.headers();
        assert_eq!(
            headers["x-content-type-options"],
            "nosniff",
            "{}",
            response.url()
        );
        assert_eq!(headers["x-frame-options"], "DENY", "{}", response.url());
    }
}

/// The attack: connections opened and left silent, or kept alive after a request, each
/// holding a socket and a task for ever.
#[tokio::test]
async fn quiet_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app_with(|config| {
        config.common.idle_connection_timeout = std::time::Duration::from_secs(1)
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let closed_within = |mut stream: tokio::net::TcpStream| async move {
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        // End of stream or a reset: either way the server closed it.
        let _closed = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            stream.read_to_end(&mut rest),
        )
        .await
        .expect("the server closed the connection");
        started.elapsed()
    };

    let silent = tokio::net::TcpStream::connect(&address).await.unwrap();
    let waited = closed_within(silent).await;
    assert!(
        waited >= std::time::Duration::from_millis(900),
        "{waited:?}"
    );

    let mut kept_alive = tokio::net::TcpStream::connect(&address).await.unwrap();
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    closed_within(kept_alive).await;
}

/// The attack: a request head trickled a byte at a time. Each byte resets the idle
/// timeout, so only a deadline for the whole head cuts the connection off.
#[tokio::test]
async fn a_request_head_trickled_byte_by_byte_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app_with(|config| {
        config.common.idle_connection_timeout = std::time::Duration::from_secs(2);
        config.common.header_read_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = std::time::Instant::now();
    let trickle = tokio::spawn(async move {
        writer.write_all(b"GET /healthz HTTP/1.1\r\n").await?;
        // A byte every 200 ms, well inside the idle timeout, for up to 30 s.
        for _ in 0..150 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            writer.write_all(b"x").await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut answer = Vec::new();
    // End of stream or a reset: either way the server closed it.
    let _closed = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        reader.read_to_end(&mut answer),
    )
    .await
    .expect("the server cut the trickling connection off");
    let waited = started.elapsed();
    trickle.abort();
    assert!(
        waited < std::time::Duration::from_secs(15),
        "the head was cut off after {waited:?}"
    );
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
