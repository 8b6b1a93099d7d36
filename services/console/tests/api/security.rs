//! The browser-facing controls: CSP, no inline script, CSRF, the session cookie, sessions
//! hashed and sealed at rest, no token in any page, the vendored htmx.
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256, Sha384};

use crate::helpers::{spawn_console, From, Upstreams, PUBLIC_URL};

const TOKEN: &str = "user-service-session-token-0123456789";

fn user_service() -> Router {
    Router::new()
        .route("/auth", post(|| async { Json(json!({"token": TOKEN, "token_type": "Bearer", "expires_in": 86400})) }).delete(|| async { StatusCode::NO_CONTENT }))
        .route("/user/{username}", get(|| async {
            Json(json!({"username": "ada", "name": "Ada", "email": null, "avatar_url": null, "role": "user", "profile": {}, "created_at": "2026-12-01T10:00:00Z", "updated_at": "2026-12-01T10:00:00Z"}))
        }))
}

#[tokio::test]
async fn every_page_has_a_strict_csp_and_no_inline_script_style_or_handler() {
    let console = spawn_console(Upstreams {
        users: user_service(),
        ..Default::default()
    })
    .await;
    let cookie = console.log_in("ada").await;
    for (path, cookie) in [
        ("/", None),
        ("/signup", None),
        ("/login", None),
        ("/no-such-page", None),
        ("/account", Some(cookie.as_str())),
    ] {
        let page = console.get(path, cookie).await;
        let csp = page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self';",
            "style-src 'self';",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp} lacks {directive}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let html = page.html();
        for element in html
            .root_element()
            .descendants()
            .filter_map(scraper::ElementRef::wrap)
        {
            let tag = element.value().name();
            if tag == "script" {
                assert!(
                    element.value().attr("src").is_some(),
                    "{path}: inline script"
                );
                assert!(
                    element.text().collect::<String>().trim().is_empty(),
                    "{path}: script text"
                );
            }
            assert_ne!(tag, "style", "{path}: a style element");
            for (name, _) in element.value().attrs() {
                assert!(
                    !name.starts_with("on") && name != "style" && !name.starts_with("hx-on"),
                    "{path}: <{tag} {name}>"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_cross_site_post_is_refused_and_changes_nothing() {
    let console = spawn_console(Upstreams {
        users: user_service(),
        ..Default::default()
    })
    .await;
    let form = [("username", "ada"), ("password", "correct horse")];

    let forged = console
        .post_form("/login", &form, None, From::CrossSite)
        .await;
    forged.assert_status(StatusCode::FORBIDDEN);
    assert!(
        forged.body.contains("sent from another site"),
        "{}",
        forged.body
    );
    assert!(forged.session_cookie().is_none());

    // A browser without Fetch Metadata: the Origin alone decides.
    let old_browser = axum::http::Request::post("/login")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::ORIGIN, "https://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=ada&password=x"))
        .unwrap();
    console
        .send(old_browser)
        .await
        .assert_status(StatusCode::FORBIDDEN);
    assert!(
        console.users.calls_to("/auth").is_empty(),
        "a refused form reached user-service"
    );

    let genuine = console
        .post_form("/login", &form, None, From::SameOrigin)
        .await;
    genuine.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(console.users.calls_to("/auth").len(), 1);
}

#[tokio::test]
async fn the_session_cookie_is_host_only_secure_httponly_lax_and_ends_at_logout() {
    let console = spawn_console(Upstreams {
        users: user_service(),
        ..Default::default()
    })
    .await;
    let page = console
        .post_form(
            "/login",
            &[("username", "ada"), ("password", "correct horse")],
            None,
            From::SameOrigin,
        )
        .await;
    let set_cookie = page.set_cookie().unwrap();
    for attribute in [
        "__Host-console=",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{set_cookie} lacks {attribute}"
        );
    }
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let cookie = page.session_cookie().unwrap();
    console
        .get("/account", Some(&cookie))
        .await
        .assert_status(StatusCode::OK);

    let out = console
        .post_form("/logout", &[], Some(&cookie), From::SameOrigin)
        .await;
    out.assert_status(StatusCode::SEE_OTHER);
    assert_eq!(out.session_cookie().as_deref(), Some(""));
    let revoked = console
        .users
        .calls_to("/auth")
        .into_iter()
        .find(|c| c.method == "DELETE")
        .expect("the token is revoked");
    assert_eq!(
        revoked.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let after = console.get("/account", Some(&cookie)).await;
    after.assert_status(StatusCode::SEE_OTHER);
    assert!(
        after.location().starts_with("/login"),
        "{}",
        after.location()
    );
}

#[tokio::test]
async fn sessions_are_stored_under_the_cookies_hash_with_the_token_sealed() {
    let console = spawn_console(Upstreams {
        users: user_service(),
        ..Default::default()
    })
    .await;
    let cookie = console.log_in("ada").await;
    let table = format!("{}console-sessions", console.config.common.table_prefix);
    let items = console
        .dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 1);
    let stored = format!("{:?}", items[0]);
    let secret =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &cookie).unwrap();
    assert_eq!(
        items[0]["id"].as_s().unwrap(),
        &hex::encode(Sha256::digest(&secret))
    );
    assert!(!stored.contains(&cookie), "the cookie is stored as it is");
    assert!(!stored.contains(TOKEN), "the token is stored readable");
    assert!(items[0]["expires_at"].as_n().is_ok(), "a TTL attribute");
}

#[tokio::test]
async fn no_page_carries_a_token() {
    let console = spawn_console(Upstreams {
        users: user_service(),
        ..Default::default()
    })
    .await;
    let cookie = console.log_in("ada").await;
    for path in ["/account", "/account/delete", "/"] {
        let page = console.get(path, Some(&cookie)).await;
        assert!(!page.body.contains(TOKEN), "{path} shows the token");
        assert!(!page.body.contains("eyJ"), "{path} shows a JWT");
    }
}

#[tokio::test]
async fn htmx_is_served_by_the_console_as_pinned_with_integrity() {
    let console = spawn_console(Upstreams::default()).await;
    let page = console.get("/", None).await;
    let src = page.attributes("script", "src");
    let integrity = page.attributes("script", "integrity");
    assert_eq!(src.len(), 1);
    assert!(src[0].starts_with("/assets/htmx-2.0.11."), "{src:?}");
    let asset = console.get(&src[0], None).await;
    asset.assert_status(StatusCode::OK);
    assert_eq!(
        asset.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let digest = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        Sha384::digest(asset.body.as_bytes()),
    );
    assert_eq!(integrity[0], format!("sha384-{digest}"));
    let config = page.attributes("meta[name=htmx-config]", "content");
    let config: serde_json::Value = serde_json::from_str(&config[0]).unwrap();
    assert_eq!(config["allowEval"], false);
    assert!(
        !page.body.contains("https://"),
        "no CDN or other origin is referenced: {PUBLIC_URL}"
    );
}
