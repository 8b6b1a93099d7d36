//! Issue 23 point 3 and contract 5: whose `X-Forwarded-For` is believed. A proxy by where
//! it is (`TRUSTED_PROXY_CIDRS`), a forwarder such as the console by its token
//! (`X-Forwarder-Authorization`, `TRUSTED_FORWARDER_CLIENTS`); anyone else is counted as
//! the TCP peer, whatever it writes. Each test spends the per-address login quota and
//! watches which address the 429 lands on.
use std::num::NonZeroU32;

use common::auth::OidcSettings;
use reqwest::StatusCode;
use test_support::oidc::OidcIssuer;
use user_service::config::Config;

use crate::helpers::{assert_problem, spawn_app_with, test_config, TestApp};

const QUOTA: u32 = 3;

fn with_login_quota(config: &mut Config) {
    config.abuse_limits.login_per_address = NonZeroU32::new(QUOTA).unwrap();
}

/// A wrong login sending `headers`: 401 while the address has quota, 429 after.
async fn attempt(app: &TestApp, headers: &[(&str, &str)]) -> StatusCode {
    app.login_with_headers("nobody", "wrong password", headers)
        .await
        .status()
}

/// The review's F3: a pod inside the VPC (here, the test itself, outside the trusted
/// proxies) writes a new `X-Forwarded-For` on every attempt. It is counted as itself.
#[tokio::test]
async fn a_forwarded_for_line_from_a_peer_outside_the_trusted_proxies_is_ignored() {
    let app = spawn_app_with(|config| {
        with_login_quota(config);
        config.client_addresses.trusted_proxies = vec!["10.40.0.0/24".parse().unwrap()];
    })
    .await;
    for n in 0..QUOTA {
        let forged = format!("198.51.100.{n}");
        let status = attempt(&app, &[("x-forwarded-for", &forged)]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let limited = app
        .login_with_headers(
            "nobody",
            "wrong password",
            &[("x-forwarded-for", "198.51.100.99")],
        )
        .await;
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, None).await;
}

/// Tokens of the shared issuer for user-service's audience.
async fn issuer_and_app(adjust: impl FnOnce(&mut Config)) -> (OidcIssuer, TestApp) {
    let issuer = OidcIssuer::shared().await;
    let mut settings = OidcSettings::new(issuer.url(), "api://users");
    settings.min_jwks_refresh_interval = std::time::Duration::ZERO;
    let app = spawn_app_with(|config| {
        with_login_quota(config);
        config.oidc = Some(settings);
        config.client_addresses.forwarder_clients =
            [test_support::oidc::CLIENT_ID.to_owned()].into();
        adjust(config);
    })
    .await;
    (issuer, app)
}

/// The headers of a request `forwarder` forwards for `person`.
fn via<'a>(forwarder: &'a str, person: &'a str) -> [(&'static str, &'a str); 2] {
    [
        ("x-forwarder-authorization", forwarder),
        ("x-forwarded-for", person),
    ]
}

/// The console forwards each person's address with its own token: each person has a quota
/// of their own, and the console none it could exhaust.
#[tokio::test]
async fn a_listed_forwarder_names_the_person_s_address() {
    let (issuer, app) = issuer_and_app(|_| {}).await;
    let forwarder = format!("Bearer {}", issuer.token("api://users", &[]).await);
    for n in 0..=QUOTA {
        let person = format!("198.51.100.{n}");
        let status = attempt(&app, &via(&forwarder, &person)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "person {n}");
    }
    for _ in 0..QUOTA {
        let status = attempt(&app, &via(&forwarder, "203.0.113.5")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        attempt(&app, &via(&forwarder, "203.0.113.5")).await,
        StatusCode::TOO_MANY_REQUESTS,
        "that person's own quota"
    );
}

/// What a caller that is not a listed forwarder can send: a valid token of another client,
/// a listed client's token for another service, garbage, or no token. Each is counted as
/// the TCP peer, so one address spends one quota.
#[tokio::test]
async fn a_forged_forwarder_is_counted_as_itself() {
    let (issuer, app) = issuer_and_app(|_| {}).await;
    let other_client = format!(
        "Bearer {}",
        issuer.second_client_token("api://users", &[]).await
    );
    let other_audience = format!("Bearer {}", issuer.token("api://sales", &[]).await);
    let forged = [
        Some(other_client.as_str()),
        Some(other_audience.as_str()),
        Some("Bearer not-a-token"),
        None,
    ];
    for (n, token) in forged.into_iter().enumerate() {
        let person = format!("198.51.100.{n}");
        let mut headers = vec![("x-forwarded-for", person.as_str())];
        headers.extend(token.map(|token| ("x-forwarder-authorization", token)));
        let expected = if n < QUOTA as usize {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(attempt(&app, &headers).await, expected, "forgery {n}");
    }
}

/// Forwarder tokens are verified against the service's own issuer: without one the
/// setting cannot work, and the service does not start.
#[tokio::test]
async fn trusted_forwarders_without_an_issuer_stop_the_start() {
    let mut config = test_config();
    config.client_addresses.forwarder_clients = ["console".to_owned()].into();
    let sdk = common::aws::load_sdk_config(Some(&test_support::emulator::endpoint())).await;
    let error = user_service::build(&config, &sdk)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{error:#}").contains("TRUSTED_FORWARDER_CLIENTS"),
        "{error:#}"
    );
}
