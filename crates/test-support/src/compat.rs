//! The README's compatibility table as a contract: every original route it lists for a
//! system must be in that service's served OpenAPI spec.
use serde_json::Value;

const README: &str = include_str!("../../../README.md");

/// The `METHOD /path` routes in the first column of the compatibility table's rows for
/// `system` (rows whose first column starts with it, e.g. `"sales:"`).
pub fn original_routes(system: &str) -> Vec<(String, String)> {
    let table = README
        .split("## Compatibility with the systems this platform replaces")
        .nth(1)
        .expect("the README has the compatibility table")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    table
        .lines()
        .filter_map(|row| row.strip_prefix("| "))
        .filter(|row| row.starts_with(system))
        .flat_map(|row| {
            let first_column = row.split(" | ").next().unwrap_or_default();
            first_column
                .split('`')
                .skip(1)
                .step_by(2)
                .filter_map(|code| {
                    let (method, path) = code.split_once(' ')?;
                    let path = path.split('?').next()?.to_owned();
                    matches!(method, "GET" | "POST" | "PUT" | "DELETE" | "PATCH")
                        .then(|| (method.to_owned(), path))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The routes of `system` in the table that `spec` (a served `/openapi.json`) lacks;
/// panics when the table lists none for it (a misspelt system would prove nothing).
pub fn unserved_original_routes(system: &str, spec: &Value) -> Vec<String> {
    let routes = original_routes(system);
    assert!(
        !routes.is_empty(),
        "no routes of {system} in the README's table"
    );
    let paths = spec["paths"].as_object().expect("a spec with paths");
    routes
        .into_iter()
        .filter(|(method, path)| {
            !paths.iter().any(|(template, operations)| {
                matches_template(template, path) && !operations[method.to_lowercase()].is_null()
            })
        })
        .map(|(method, path)| format!("{method} {path}"))
        .collect()
}

/// `/capabilities/okta` matches `/capabilities/{integration}`.
fn matches_template(template: &str, path: &str) -> bool {
    let (template, path): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), path.split('/').collect());
    template.len() == path.len()
        && template
            .iter()
            .zip(&path)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty()))
}
