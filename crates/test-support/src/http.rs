//! Assertions on the services' HTTP answers.
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

/// Asserts a JSON response with `status` and returns the body.
pub async fn assert_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.unwrap_or(json!(null));
    assert_eq!(actual, status, "{body}");
    body
}

/// Asserts an RFC 9457 problem+json response with `status`, naming `field` among its
/// `errors` when given, and returns the body.
pub async fn assert_problem(response: Response, status: StatusCode, field: Option<&str>) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body: Value = response.json().await.unwrap_or(json!(null));
    assert_eq!(actual, status, "{body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "errors are problem+json: {body}"
    );
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["title"].is_string() && body["type"].is_string(),
        "{body}"
    );
    if let Some(field) = field {
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "expected field {field} in {body}");
    }
    body
}

/// The target of the response's RFC 8288 `Link: <target>; rel="next"`, if any (every
/// `Link` header and every comma-separated link in each is looked at).
pub fn next_link(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all("link")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let next = params
                .split(';')
                .any(|param| param.trim().replace(' ', "") == "rel=\"next\"");
            next.then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
        })
}

/// Reads a listing that answers bare JSON arrays and names its next page in a
/// `Link: rel="next"` header: `get(path)` fetches each page from `first` on (at most 10).
pub async fn pages_by_link<F, Fut>(first: &str, mut get: F) -> Vec<Vec<Value>>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let mut pages = Vec::new();
    let mut path = Some(first.to_owned());
    while let Some(current) = path {
        let response = get(current).await;
        path = next_link(&response);
        let page = assert_json(response, StatusCode::OK).await;
        pages.push(page.as_array().expect("a bare JSON array").clone());
        assert!(pages.len() <= 10, "paging terminates");
    }
    pages
}
