//! Swagger UI's "Try it out" as a contract: every documented operation has its own
//! `operationId`, and the request Swagger UI sends for it reaches the route it documents.
//!
//! Swagger UI executes an operation by its id: swagger-client looks the id up in the spec
//! and builds the URL from the path of the first operation carrying it. Two operations
//! sharing an id (OpenAPI forbids it) make "Execute" on one of them call the other's route,
//! which is how sales-service's Swagger UI ran the deprecated `/ap1/...` routes. Fuzzers
//! work by method and path and never see it.
//!
//! [`drive_every_operation`] sends each operation once, as Swagger UI would, and reads the
//! service's own `http_requests_total` (labelled with the route template the router
//! matched) before and after, so each answer names the route that served it.
use std::collections::BTreeMap;
use std::fmt;

use reqwest::Method;
use serde_json::Value;

use crate::caller::Caller;

/// One operation of a spec: `method path` and its `operationId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub method: String,
    pub path: String,
    pub id: Option<String>,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id.as_deref().unwrap_or("no operationId");
        write!(f, "{} {} ({id})", self.method, self.path)
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every operation of `spec` (a served `/openapi.json`), path by path.
pub fn operations(spec: &Value) -> Vec<Operation> {
    let paths = spec["paths"].as_object().expect("a spec with paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter_map(move |method| {
                let operation = item.get(*method)?;
                Some(Operation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    id: operation["operationId"].as_str().map(str::to_owned),
                })
            })
        })
        .collect()
}

/// Each `operationId` that more than one operation carries, and each operation without
/// one, as `"<id>: GET /a, GET /b"` lines (empty when every operation has its own).
pub fn duplicate_operation_ids(spec: &Value) -> Vec<String> {
    let mut by_id: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    for operation in operations(spec) {
        by_id
            .entry(operation.id)
            .or_default()
            .push(format!("{} {}", operation.method, operation.path));
    }
    by_id
        .into_iter()
        .filter(|(id, carriers)| id.is_none() || carriers.len() > 1)
        .map(|(id, carriers)| {
            let id = id.unwrap_or_else(|| "(no operationId)".to_owned());
            format!("{id}: {}", carriers.join(", "))
        })
        .collect()
}

/// The operation whose path and method Swagger UI uses when `operation` is executed: the
/// first operation carrying its id (itself, when the id is its own).
pub fn resolved_by_id(spec: &Value, operation: &Operation) -> Operation {
    match &operation.id {
        None => operation.clone(),
        Some(id) => operations(spec)
            .into_iter()
            .find(|candidate| candidate.id.as_deref() == Some(id))
            .expect("the operation is in the spec"),
    }
}

/// One operation sent as Swagger UI would, and what answered it.
#[derive(Debug, Clone)]
pub struct Driven {
    /// The operation clicked.
    pub operation: Operation,
    /// The request Swagger UI sent for it: `METHOD /concrete/path?query`.
    pub sent: String,
    pub status: u16,
    /// The route template the router matched (`unmatched` for none), from
    /// `http_requests_total`.
    pub route: String,
    /// The method counted with that route.
    pub method: String,
    /// Every other counter (`*_total` series) the request moved, e.g. a capability's
    /// own call counter.
    pub counted: Vec<String>,
    /// Whether the operation documents the status it got.
    pub documented: bool,
}

impl Driven {
    /// Why this answer does not prove the operation reached its own handler at
    /// `route` (the route template that serves it; the operation's own path unless the
    /// service routes several operations through one template), if it does not.
    pub fn problem(&self, route: &str) -> Option<String> {
        let Driven {
            operation, sent, ..
        } = self;
        if self.method != operation.method || self.route != route {
            return Some(format!(
                "{operation}: Try it out sends {sent}, served by {} {} (expected {} {route})",
                self.method, self.route, operation.method
            ));
        }
        if self.status == 405 {
            return Some(format!("{operation}: {sent} answered 405"));
        }
        if !self.documented {
            return Some(format!(
                "{operation}: {sent} answered {}, a status the operation does not document",
                self.status
            ));
        }
        None
    }

    /// Whether the request moved a counter series whose text contains every one of
    /// `parts` (e.g. `integration_capability_calls_total`, `capability="list_users"`).
    pub fn counted(&self, parts: &[&str]) -> bool {
        self.counted
            .iter()
            .any(|series| parts.iter().all(|part| series.contains(part)))
    }
}

/// The spec the service at `caller` serves (`/openapi.json`).
pub async fn served_spec(caller: &Caller) -> Value {
    let response = caller.get("/openapi.json").await;
    assert_eq!(response.status(), 200, "the spec is served");
    response.json().await.unwrap()
}

/// Every reason the service's Swagger UI would not run each operation on its own route:
/// operation ids that are shared or missing, then, for every operation sent once as
/// "Execute" sends it ([`drive_every_operation`] with `values`), what `check` finds
/// (usually [`own_route`]). Empty when "Try it out" works everywhere.
pub async fn try_every_operation(
    caller: &Caller,
    values: &[(&str, &str)],
    check: impl Fn(&Driven) -> Vec<String>,
) -> Vec<String> {
    let spec = served_spec(caller).await;
    let mut problems = duplicate_operation_ids(&spec);
    let driven = drive_every_operation(caller, &spec, values).await;
    problems.extend(driven.iter().flat_map(check));
    problems
}

/// The usual check: the router served the request at the operation's own path.
pub fn own_route(driven: &Driven) -> Vec<String> {
    driven.problem(&driven.operation.path).into_iter().collect()
}

/// Sends every operation of `spec` once through `caller`, as Swagger UI's "Execute" would
/// with the spec's examples: the operation is looked up by its id ([`resolved_by_id`]),
/// path parameters and required query parameters and headers take their value from
/// `values` (by name), else from the spec's example, and a JSON body is the request body's
/// example (without one, a sample of its schema, as Swagger UI makes it). Operations run in the spec's order, `DELETE`s last (they
/// may end the caller's session). Panics on a required parameter without any value.
pub async fn drive_every_operation(
    caller: &Caller,
    spec: &Value,
    values: &[(&str, &str)],
) -> Vec<Driven> {
    let mut operations = operations(spec);
    operations.sort_by_key(|operation| operation.method == "DELETE");
    let mut driven = Vec::new();
    for operation in operations {
        let target = resolved_by_id(spec, &operation);
        let document = &spec["paths"][&target.path][target.method.to_lowercase()];
        let request = ExampleRequest::new(spec, &target, document, values);
        let before = counters(caller).await;
        let response = request.send(caller).await;
        let status = response.status().as_u16();
        drop(response.bytes().await);
        let mut moved = moved_counters(&before, &counters(caller).await);
        // The `GET /metrics` that read the counters before this request.
        take_one(&mut moved, "GET", "/metrics");
        let (method, route) = moved
            .keys()
            .find_map(|series| http_request_labels(series))
            .unwrap_or_else(|| ("none".to_owned(), "none".to_owned()));
        take_one(&mut moved, &method, &route);
        let responses =
            &spec["paths"][&operation.path][operation.method.to_lowercase()]["responses"];
        driven.push(Driven {
            documented: responses.get(status.to_string()).is_some()
                || responses.get("default").is_some(),
            operation,
            sent: request.describe(),
            status,
            route,
            method,
            counted: moved.into_keys().collect(),
        });
    }
    driven
}

struct ExampleRequest {
    method: Method,
    uri: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

impl ExampleRequest {
    fn new(spec: &Value, target: &Operation, document: &Value, values: &[(&str, &str)]) -> Self {
        let parameters = document["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let value_of = |parameter: &Value| -> Option<String> {
            let name = parameter["name"].as_str()?;
            values
                .iter()
                .find(|(given, _)| *given == name)
                .map(|(_, value)| (*value).to_owned())
                .or_else(|| example_text(&parameter["example"]))
                .or_else(|| example_text(&resolve(spec, &parameter["schema"])["example"]))
        };
        let mut uri = target.path.clone();
        let mut query = Vec::new();
        let mut headers = Vec::new();
        for parameter in &parameters {
            let name = parameter["name"].as_str().unwrap_or_default();
            let required = parameter["required"] == true;
            let value = value_of(parameter);
            if required && value.is_none() {
                panic!("{target}: no value for the required parameter `{name}`: pass one");
            }
            let Some(value) = value else { continue };
            match parameter["in"].as_str() {
                Some("path") => uri = uri.replace(&format!("{{{name}}}"), &encode(&value)),
                Some("query") if required || values.iter().any(|(given, _)| *given == name) => {
                    query.push(format!("{name}={}", encode(&value)))
                }
                Some("header") if required => headers.push((name.to_owned(), value)),
                _ => {}
            }
        }
        if !query.is_empty() {
            uri = format!("{uri}?{}", query.join("&"));
        }
        let content = &document["requestBody"]["content"];
        let body = content.get("application/json").map(|json| {
            let example = example_of(spec, json).unwrap_or_else(|| sample(spec, &json["schema"]));
            (
                "application/json".to_owned(),
                serde_json::to_vec(&example).unwrap(),
            )
        });
        Self {
            method: Method::from_bytes(target.method.as_bytes()).unwrap(),
            uri,
            headers,
            body,
        }
    }

    async fn send(&self, caller: &Caller) -> reqwest::Response {
        let mut request = caller.request(self.method.clone(), &self.uri);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some((content_type, body)) = &self.body {
            request = request
                .header("content-type", content_type)
                .body(body.clone());
        }
        request.send().await.unwrap()
    }

    fn describe(&self) -> String {
        format!("{} {}", self.method, self.uri)
    }
}

/// A media type's example: its own `example`, its first `examples` entry, or its
/// schema's `example`.
fn example_of(spec: &Value, media: &Value) -> Option<Value> {
    let own = media.get("example").cloned();
    let first = || {
        media["examples"]
            .as_object()?
            .values()
            .next()
            .and_then(|example| resolve(spec, example).get("value").cloned())
    };
    let schema = || resolve(spec, &media["schema"]).get("example").cloned();
    own.or_else(first).or_else(schema)
}

/// What Swagger UI fills a body in with when the spec gives no example: the schema's
/// example, else a value of its type (`"string"`, `0`, `true`, the first enum value).
fn sample(spec: &Value, schema: &Value) -> Value {
    let schema = resolve(spec, schema);
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    if let Some(first) = schema["enum"].get(0) {
        return first.clone();
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = serde_json::Map::new();
        for part in parts {
            if let Value::Object(fields) = sample(spec, part) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|kind| *kind != "null").cloned(),
        kind => Some(kind.clone()),
    };
    match kind.as_ref().and_then(Value::as_str) {
        Some("object") | None if schema["properties"].is_object() => Value::Object(
            schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, property)| (name.clone(), sample(spec, property)))
                .collect(),
        ),
        Some("array") => Value::Array(vec![sample(spec, &schema["items"])]),
        Some("string") => Value::from("string"),
        Some("integer" | "number") => Value::from(0),
        Some("boolean") => Value::Bool(true),
        _ => serde_json::json!({}),
    }
}

/// `value`, or what its `$ref` (`#/components/...`) points at.
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str().and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => spec.pointer(pointer).unwrap_or(&Value::Null),
        None => value,
    }
}

fn example_text(example: &Value) -> Option<String> {
    match example {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

/// Percent-encodes what may not stand in a path segment or query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The `*_total` counter series of the service's `/metrics` (the process's own aside).
async fn counters(caller: &Caller) -> BTreeMap<String, f64> {
    let text = caller.get("/metrics").await.text().await.unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.starts_with("process_"))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let name = series.split('{').next()?;
            name.ends_with("_total")
                .then(|| Some((series.to_owned(), value.parse().ok()?)))?
        })
        .collect()
}

/// How much each series moved from `before` to `after` (moved ones only).
fn moved_counters(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .filter_map(|(series, value)| {
            let moved = value - before.get(series).copied().unwrap_or(0.0);
            (moved > 0.0).then(|| (series.clone(), moved))
        })
        .collect()
}

/// Takes one request of `method route` off the moved `http_requests_total` series.
fn take_one(moved: &mut BTreeMap<String, f64>, method: &str, route: &str) {
    let series = moved.iter_mut().find(|(series, _)| {
        http_request_labels(series).is_some_and(|(m, r)| m == method && r == route)
    });
    if let Some((series, count)) = series {
        *count -= 1.0;
        if *count <= 0.0 {
            let series = series.clone();
            moved.remove(&series);
        }
    }
}

/// `(method, route)` of an `http_requests_total{...}` series.
fn http_request_labels(series: &str) -> Option<(String, String)> {
    let labels = series.strip_prefix("http_requests_total{")?;
    let label = |name: &str| {
        let start = labels.find(&format!("{name}=\""))? + name.len() + 2;
        let end = labels[start..].find('"')? + start;
        Some(labels[start..end].to_owned())
    };
    Some((label("method")?, label("route")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({"paths": {
            "/ap1/customers/": {"get": {"operationId": "list_customers"}},
            "/api/customers": {
                "get": {"operationId": "list_customers"},
                "post": {"operationId": "create_customer"},
            },
            "/healthz": {"get": {}},
        }})
    }

    #[test]
    fn shared_and_missing_ids_are_named_with_their_operations() {
        assert_eq!(
            duplicate_operation_ids(&spec()),
            [
                "(no operationId): GET /healthz",
                "list_customers: GET /ap1/customers/, GET /api/customers",
            ]
        );
    }

    #[test]
    fn a_shared_id_sends_one_of_its_operations_to_the_others_route() {
        let spec = spec();
        let current = Operation {
            method: "GET".into(),
            path: "/api/customers".into(),
            id: Some("list_customers".into()),
        };
        assert_eq!(resolved_by_id(&spec, &current).path, "/ap1/customers/");
        let own = Operation {
            method: "POST".into(),
            path: "/api/customers".into(),
            id: Some("create_customer".into()),
        };
        assert_eq!(resolved_by_id(&spec, &own), own);
    }

    #[test]
    fn the_counters_name_the_route_that_served_a_request() {
        let before = BTreeMap::from([(
            r#"http_requests_total{method="GET",route="/metrics",status="200"}"#.to_owned(),
            3.0,
        )]);
        let after = BTreeMap::from([
            (
                r#"http_requests_total{method="GET",route="/metrics",status="200"}"#.to_owned(),
                4.0,
            ),
            (
                r#"http_requests_total{method="GET",route="/ap1/customers/",status="200"}"#
                    .to_owned(),
                1.0,
            ),
        ]);
        let mut moved = moved_counters(&before, &after);
        take_one(&mut moved, "GET", "/metrics");
        let labels: Vec<_> = moved
            .keys()
            .filter_map(|s| http_request_labels(s))
            .collect();
        assert_eq!(labels, [("GET".to_owned(), "/ap1/customers/".to_owned())]);
    }
}
