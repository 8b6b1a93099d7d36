//! The shared OIDC verifier (`common::auth`): against a real issuer (`real_issuer`), and
//! against a hand-rolled key server whose keys and fetches the tests control (`key_server`).

mod key_server;
mod real_issuer;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use axum::routing::get;
use axum::Router;
use common::auth::{Authenticated, OidcSettings, OidcVerifier};
use common::Problem;
use test_support::oneshot::{oneshot, Answer};

/// The audience every test's verifier expects.
pub const AUDIENCE: &str = "api://sales";

pub fn verifier(settings: OidcSettings) -> Arc<OidcVerifier> {
    let http = common::http_client::client(Duration::from_secs(2));
    Arc::new(OidcVerifier::new(settings, http))
}

/// A one-route service: `GET /orders` needs scope `sales:read` and answers the subject.
pub fn orders_api(verifier: Arc<OidcVerifier>) -> Router {
    async fn orders(Authenticated(caller): Authenticated) -> Result<String, Problem> {
        caller.require_scope("sales:read")?;
        Ok(caller.subject)
    }
    Router::new()
        .route("/orders", get(orders))
        .with_state(verifier)
}

/// `GET /orders` with `authorization` as the header (none when `None`).
pub async fn get_orders(api: &Router, authorization: Option<&str>) -> Answer {
    let mut request = Request::get("/orders");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    oneshot(api, request.body(Body::empty()).unwrap()).await
}
