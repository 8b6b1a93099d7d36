//! What is measured: every route after hello, in order, and what its requests carry.
use reqwest::StatusCode;
use serde_json::json;

use crate::fixture::{order, BENCH_PASSWORD, BENCH_USER, TENANT};
use crate::load::Target;
use crate::run::{Services, Started};

/// What the routes' requests carry, made once for both builds.
pub struct Credentials {
    pub session: String,
    pub sales: String,
    pub integrations: String,
    pub customer: String,
}

/// Issue 16's targets, in server CPU us per request on this machine.
pub const TARGETS: [(&str, f64); 4] = [
    ("GET /user/{name} (session)", 400.0),
    ("GET /users (session)", 600.0),
    ("GET /api/v1/sales/orders (JWT)", 900.0),
    ("POST /api/v1/sales/orders (JWT)", 1500.0),
];
pub const USER_SERVICE_RSS_TARGET_MIB: f64 = 30.0;

/// Every route after hello, in order: those that add data run after those that read it
/// (a scan reads the whole table in the emulator), and orders last: their SMS keep the
/// dispatcher busy afterwards.
pub fn plan<'a>(
    set: &'a Services,
    credentials: &Credentials,
) -> Vec<(&'static str, &'a Started, &'static str, Target)> {
    let (user, sales, integration) = (&set.user, &set.sales, &set.integration);
    vec![
        (
            "user-service",
            user,
            "GET /healthz (shared middleware, no AWS)",
            Target::get(user.addr, "/healthz"),
        ),
        (
            "user-service",
            user,
            "POST /auth",
            Target::post_json(
                user.addr,
                "/auth",
                &json!({"username": BENCH_USER, "password": BENCH_PASSWORD}),
            ),
        ),
        (
            "user-service",
            user,
            "GET /user/{name} (session)",
            Target::get(user.addr, &format!("/user/{BENCH_USER}")).bearer(&credentials.session),
        ),
        (
            "user-service",
            user,
            "GET /users (session)",
            Target::get(user.addr, "/users").bearer(&credentials.session),
        ),
        (
            "integration-service",
            integration,
            "GET /okta/list_users?limit=20 (JWT)",
            Target::get(integration.addr, "/okta/list_users?limit=20")
                .bearer(&credentials.integrations)
                .header("x-tenant-id", TENANT),
        ),
        (
            "sales-service",
            sales,
            "GET /api/v1/sales/orders (JWT)",
            Target::get(sales.addr, "/api/v1/sales/orders").bearer(&credentials.sales),
        ),
        (
            "sales-service",
            sales,
            "POST /api/v1/sales/orders (JWT)",
            Target::post_json(
                sales.addr,
                "/api/v1/sales/orders",
                &order(&credentials.customer),
            )
            .bearer(&credentials.sales)
            .expect(StatusCode::CREATED),
        ),
    ]
}
