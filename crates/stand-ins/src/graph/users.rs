//! `/v1.0/users`: list (`$top`, `$select`, `$filter`, `@odata.nextLink` with
//! `$skiptoken`), get, update (`PATCH`, 204) and delete (204), each admitted first.
//! Sources: microsoft-graph-docs-contrib api-reference/v1.0/api/user-list.md,
//! user-get.md, user-update.md, user-delete.md and concepts/paging.md
//! (https://learn.microsoft.com/graph/api/user-list, .../user-update, .../user-delete,
//! https://learn.microsoft.com/graph/paging).
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};

use super::admission::{admit, Cost};
use super::{error, Call, Tenant};

/// A user of the directory (the properties the stand-in keeps).
#[derive(Debug, Clone)]
pub(super) struct User {
    id: String,
    user_principal_name: String,
    display_name: String,
    given_name: String,
    surname: String,
    mail: String,
    pub(super) account_enabled: bool,
}

impl User {
    /// The n-th sample user of tenant `name`.
    pub(super) fn sample(id: &str, n: usize, name: &str, account_enabled: bool) -> Self {
        let (given_name, surname) = crate::sample::person(n - 1);
        let user_principal_name = format!("user{n}@{name}.onmicrosoft.com");
        Self {
            id: id.to_owned(),
            mail: user_principal_name.clone(),
            user_principal_name,
            display_name: format!("{given_name} {surname}"),
            given_name: given_name.to_owned(),
            surname: surname.to_owned(),
            account_enabled,
        }
    }

    fn property(&self, name: &str) -> Value {
        match name {
            "id" => json!(self.id),
            "userPrincipalName" => json!(self.user_principal_name),
            "displayName" => json!(self.display_name),
            "givenName" => json!(self.given_name),
            "surname" => json!(self.surname),
            "mail" => json!(self.mail),
            "accountEnabled" => json!(self.account_enabled),
            "businessPhones" => json!([]),
            _ => Value::Null,
        }
    }

    /// The user with `select`'s properties, in that order.
    fn json(&self, select: &[&str]) -> Value {
        Value::Object(
            select
                .iter()
                .map(|name| (name.to_string(), self.property(name)))
                .collect(),
        )
    }
}

/// "By default, only a limited set of properties are returned (businessPhones,
/// displayName, givenName, id, jobTitle, mail, mobilePhone, officeLocation,
/// preferredLanguage, surname, and userPrincipalName)"; `accountEnabled` only through
/// `$select` (user-list.md, "Optional query parameters"; user-get.md).
const DEFAULT_SELECT: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// Properties `$select` may name here: the default set and `accountEnabled`.
fn selectable(name: &str) -> bool {
    DEFAULT_SELECT.contains(&name) || name == "accountEnabled"
}

/// "the GET /users endpoint returns a default of 100 results" (paging.md); `$top` takes
/// 1 to 999: beyond, Graph answers 400 `Request_UnsupportedQuery` "Invalid page size
/// specified: '1000'. Must be between 1 and 999 inclusive." (Microsoft Q&A 1129204, and
/// the same text in microsoftgraph/entra-powershell's Get-EntraAuthorizationPolicy).
const DEFAULT_TOP: usize = 100;
const MAX_TOP: usize = 999;

pub(super) fn routes() -> Router<Arc<Mutex<Tenant>>> {
    Router::new().route("/v1.0/users", get(list_users)).route(
        "/v1.0/users/{id}",
        get(get_user).patch(update_user).delete(delete_user),
    )
}

fn not_found(id: &str) -> Response {
    // Graph's 404 for a directory object (recorded Graph answers, e.g. pnp/cli-microsoft365
    // `entra user get` tests): code `Request_ResourceNotFound`.
    error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn bad_request(code: &str, message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, code, message)
}

/// The `$select` of a query: its properties, or the default set; `Err` names the unknown.
fn select(query: &HashMap<String, String>) -> Result<Vec<&str>, Response> {
    let Some(list) = query.get("$select") else {
        return Ok(DEFAULT_SELECT.to_vec());
    };
    let names: Vec<&str> = list.split(',').map(str::trim).collect();
    match names.iter().find(|name| !selectable(name)) {
        Some(unknown) => Err(bad_request(
            "BadRequest",
            &format!(
                "Parsing OData Select and Expand failed: Could not find a property named '{unknown}' on type 'microsoft.graph.user'."
            ),
        )),
        None => Ok(names),
    }
}

/// Whether a user passes a `$filter`.
type Keep = Box<dyn Fn(&User) -> bool>;

/// The `$filter` expressions this stand-in knows: `accountEnabled eq true|false`,
/// `id eq '...'`, `userPrincipalName eq '...'`; others are refused as Graph refuses a
/// clause it cannot run.
fn filter(expression: &str) -> Result<Keep, Response> {
    let unsupported = || {
        bad_request(
            "Request_UnsupportedQuery",
            "Unsupported or invalid query filter clause specified for property of resource 'User'.",
        )
    };
    let mut parts = expression.splitn(3, ' ');
    let (Some(property), Some("eq"), Some(value)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(unsupported());
    };
    let quoted = value
        .strip_prefix('\'')
        .and_then(|value| value.strip_suffix('\''))
        .map(|value| value.replace("''", "'"));
    match (property, value, quoted) {
        ("accountEnabled", "true" | "false", _) => {
            let enabled = value == "true";
            Ok(Box::new(move |user| user.account_enabled == enabled))
        }
        ("id", _, Some(id)) => Ok(Box::new(move |user| user.id == id)),
        ("userPrincipalName", _, Some(upn)) => Ok(Box::new(move |user| {
            user.user_principal_name.eq_ignore_ascii_case(&upn)
        })),
        _ => Err(unsupported()),
    }
}

/// The `$skiptoken` of the page after `last_id`: opaque to the client, as Graph's are
/// ("you should not try to extract or use it in other requests", paging.md).
fn skiptoken(last_id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{last_id}"))
}

fn after_of(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("after:")
        .map(str::to_owned)
}

/// Percent-encodes a query value the way Graph's links do (`%20` for a space).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b',' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

async fn list_users(
    State(tenant): State<Arc<Mutex<Tenant>>>,
    call: Call,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    // `Err` keeps the value given, for the 400 once the caller is admitted.
    let top = match query.get("$top") {
        None => Ok(None),
        Some(given) => match given.parse::<usize>() {
            Ok(top) if (1..=MAX_TOP).contains(&top) => Ok(Some(top)),
            _ => Err(given.clone()),
        },
    };
    let cost = Cost::read(
        2,
        query.contains_key("$select"),
        top.clone().ok().flatten().map(|top| top as u64),
    );
    let mut tenant = tenant.lock().unwrap();
    let headers = match admit(&mut tenant, &call, None, cost) {
        Ok(headers) => headers,
        Err(response) => return response,
    };
    let page_size = match top {
        Ok(top) => top.unwrap_or(DEFAULT_TOP),
        Err(given) => {
            return bad_request(
                "Request_UnsupportedQuery",
                &format!(
                    "Invalid page size specified: '{given}'. Must be between 1 and 999 inclusive."
                ),
            )
        }
    };
    let select = match select(&query) {
        Ok(select) => select,
        Err(response) => return response,
    };
    let keep = match query.get("$filter").map(|expression| filter(expression)) {
        None => Box::new(|_: &User| true) as Keep,
        Some(Ok(keep)) => keep,
        Some(Err(response)) => return response,
    };
    let asked = query.get("$skiptoken");
    let after = match asked.map(|token| after_of(token)) {
        None => None,
        Some(Some(after)) => Some(after),
        Some(None) => {
            return bad_request(
                "Request_BadRequest",
                "The specified page token value has expired or is invalid.",
            )
        }
    };
    let mut selected = tenant
        .users
        .values()
        .filter(|user| {
            after
                .as_ref()
                .is_none_or(|after| user.id.as_str() > after.as_str())
        })
        .filter(|user| keep(user));
    let page: Vec<&User> = selected.by_ref().take(page_size).collect();
    let more = selected.next().is_some();
    let origin = call.origin();
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(match query.get("$select") {
            Some(list) => format!("{origin}/v1.0/$metadata#users({list})"),
            None => format!("{origin}/v1.0/$metadata#users"),
        }),
    );
    body.insert(
        "value".into(),
        page.iter().map(|user| user.json(&select)).collect(),
    );
    let vendor_next = page.last().filter(|_| more).map(|last| skiptoken(&last.id));
    let next = tenant
        .next_links
        .cursor(asked.map(String::as_str), vendor_next.as_deref());
    if let Some(next) = next {
        // The next link repeats the query's options and adds `$skiptoken` (paging.md:
        // "The URL contains ... the $skiptoken ... Use the entire URL in the @odata.nextLink
        // property in a GET request to retrieve the next page").
        let mut options: Vec<String> = ["$top", "$select", "$filter"]
            .iter()
            .filter_map(|name| {
                query
                    .get(*name)
                    .map(|value| format!("{name}={}", encode(value)))
            })
            .collect();
        options.push(format!("$skiptoken={next}"));
        body.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/v1.0/users?{}",
                tenant.next_links.origin(&origin),
                options.join("&")
            )),
        );
    }
    (headers, Json(Value::Object(body))).into_response()
}

/// A user by object id or userPrincipalName (user-get.md: `GET /users/{id |
/// userPrincipalName}`).
fn find<'a>(tenant: &'a Tenant, id: &str) -> Option<&'a User> {
    tenant.users.get(id).or_else(|| {
        tenant
            .users
            .values()
            .find(|user| user.user_principal_name.eq_ignore_ascii_case(id))
    })
}

async fn get_user(
    State(tenant): State<Arc<Mutex<Tenant>>>,
    call: Call,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut tenant = tenant.lock().unwrap();
    let cost = Cost::read(1, query.contains_key("$select"), None);
    let headers = match admit(&mut tenant, &call, None, cost) {
        Ok(headers) => headers,
        Err(response) => return response,
    };
    let select = match select(&query) {
        Ok(select) => select,
        Err(response) => return response,
    };
    match find(&tenant, &id) {
        Some(user) => {
            let mut body = Map::new();
            body.insert(
                "@odata.context".into(),
                json!(format!("{}/v1.0/$metadata#users/$entity", call.origin())),
            );
            if let Value::Object(properties) = user.json(&select) {
                body.extend(properties);
            }
            (headers, Json(Value::Object(body))).into_response()
        }
        None => not_found(&id),
    }
}

/// Applies one property of a PATCH body, or names why it cannot.
fn update(user: &mut User, name: &str, value: &Value) -> Result<(), Response> {
    let invalid = || {
        bad_request(
            "Request_BadRequest",
            &format!("Invalid value specified for property '{name}' of resource 'User'."),
        )
    };
    match name {
        "accountEnabled" => user.account_enabled = value.as_bool().ok_or_else(invalid)?,
        "displayName" => user.display_name = value.as_str().ok_or_else(invalid)?.to_owned(),
        "givenName" => user.given_name = value.as_str().ok_or_else(invalid)?.to_owned(),
        "surname" => user.surname = value.as_str().ok_or_else(invalid)?.to_owned(),
        _ => {
            return Err(bad_request(
                "Request_BadRequest",
                &format!(
                    "Property '{name}' does not exist as a declared property or extension property."
                ),
            ))
        }
    }
    Ok(())
}

/// `PATCH /users/{id}`: "If successful, this method returns a 204 No Content response
/// code" (user-update.md); suspending is `{"accountEnabled": false}` ("true if the account
/// is enabled; otherwise, false", resources/user.md). The body is all or nothing.
async fn update_user(
    State(tenant): State<Arc<Mutex<Tenant>>>,
    call: Call,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let mut tenant = tenant.lock().unwrap();
    if let Err(response) = admit(&mut tenant, &call, parsed.clone(), Cost::write()) {
        return response;
    }
    let Some(Value::Object(changes)) = parsed else {
        return bad_request(
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        );
    };
    let Some(mut user) = find(&tenant, &id).cloned() else {
        return not_found(&id);
    };
    for (name, value) in &changes {
        if let Err(response) = update(&mut user, name, value) {
            return response;
        }
    }
    tenant.users.insert(user.id.clone(), user);
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /users/{id}`: 204, the user "moved to a temporary container and can be
/// restored within 30 days" (user-delete.md); a second DELETE finds nothing (404).
async fn delete_user(
    State(tenant): State<Arc<Mutex<Tenant>>>,
    call: Call,
    Path(id): Path<String>,
) -> Response {
    let mut tenant = tenant.lock().unwrap();
    if let Err(response) = admit(&mut tenant, &call, None, Cost::write()) {
        return response;
    }
    let Some(user) = find(&tenant, &id).cloned() else {
        return not_found(&id);
    };
    tenant.users.remove(&user.id);
    tenant.deleted.insert(user.id.clone(), user);
    StatusCode::NO_CONTENT.into_response()
}
