//! Tenants and their integrations (auth method only, never secrets), and "test
//! connection". A tenant's Okta users are `okta.rs`.
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::{fetch_list, integration_call, upstream_sentence, TenantList, UrlId};
use crate::error::ConsoleError;
use crate::page::{page, see_other, Chrome, Page};
use crate::state::AppState;
use crate::upstream::UpstreamError;
use crate::web::Operator;

#[derive(Template)]
#[template(path = "ops/tenants.html")]
struct TenantsPage {
    chrome: Chrome,
    tenants: TenantList,
    /// The outcome of a "test connection", shown above the list.
    tested: Option<Tested>,
}

pub struct Tested {
    pub tenant: String,
    pub integration: String,
    pub ok: bool,
    pub sentence: String,
}

/// `GET /ops/tenants`.
pub async fn index(
    State(state): State<AppState>,
    mut operator: Operator,
) -> Result<Response, ConsoleError> {
    let tenants = fetch_list(&state, &mut operator).await?;
    Ok(page(TenantsPage {
        chrome: operator.visitor.chrome("tenants"),
        tenants,
        tested: None,
    })
    .into_response())
}

#[derive(Deserialize)]
pub struct OpenQuery {
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    to: String,
}

/// `GET /ops/open?tenant=&to=sync|okta`: opens a tenant by id (when no list is available).
pub async fn open(
    Query(query): Query<OpenQuery>,
    _operator: Operator,
) -> Result<Response, ConsoleError> {
    let tenant = UrlId::parse(query.tenant.trim())?;
    let path = match query.to.as_str() {
        "okta" => format!("/ops/tenants/{}/okta", tenant.as_str()),
        _ => format!("/ops/sync/{}", tenant.as_str()),
    };
    Ok(see_other(&path))
}

#[derive(Deserialize)]
struct CheckAnswer {
    #[serde(default)]
    detail: Option<String>,
}

/// `POST /ops/tenants/{tenant}/test/{integration}`: asks integration-service to check the
/// tenant's connection (credentials and reachability), and says what it answered.
pub async fn test_connection(
    State(state): State<AppState>,
    mut operator: Operator,
    Path((tenant, integration)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let tenant = UrlId::parse(&tenant)?;
    let integration = UrlId::parse(&integration)?;
    let path = format!("/{}/test_connection", integration.as_str());
    let result: Result<CheckAnswer, ConsoleError> = integration_call(
        &state,
        &mut operator,
        &tenant,
        Method::POST,
        &path,
        Some(json!({})),
    )
    .await;
    let tested = match result {
        Ok(answer) => Tested {
            tenant: tenant.as_str().to_owned(),
            integration: integration.as_str().to_owned(),
            ok: true,
            sentence: answer.detail.unwrap_or_else(|| {
                "The connection works: the credentials were accepted.".to_owned()
            }),
        },
        Err(ConsoleError::Upstream(UpstreamError::Problem {
            problem,
            retry_after,
            ..
        })) => Tested {
            tenant: tenant.as_str().to_owned(),
            integration: integration.as_str().to_owned(),
            ok: false,
            sentence: upstream_sentence(&problem, retry_after),
        },
        Err(other) => return Err(other),
    };
    let tenants = fetch_list(&state, &mut operator).await?;
    let status = if tested.ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    Ok(Page(
        status,
        TenantsPage {
            chrome: operator.visitor.chrome("tenants"),
            tenants,
            tested: Some(tested),
        },
    )
    .into_response())
}
