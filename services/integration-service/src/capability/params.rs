//! Capability parameters from a query string or a JSON body. Shape errors (missing field,
//! wrong type, unknown field) are 400 problems naming the field, as everywhere on the
//! platform; the parameters' own rules are checked afterwards (422).
use common::Problem;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub fn from_query<P: DeserializeOwned>(query: &str) -> Result<P, ApiError> {
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de)
        .map_err(|error| field_problem(error.path().to_string(), error.inner().to_string()))
}

/// An empty body means "no parameters" (`{}`); anything else must be a JSON object.
pub fn from_body<P: DeserializeOwned>(body: &[u8]) -> Result<P, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    if common::extract::is_json_array(body) {
        return Err(field_problem(
            "params".to_owned(),
            "must be a JSON object".to_owned(),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::Problem(Problem::malformed(format!(
                    "The body is not valid JSON: {inner}"
                )))
            }
            _ => field_problem(path, inner.to_string()),
        }
    })
}

/// serde names a missing field in the message at its parent's path; an unknown field is
/// the path itself.
pub(crate) fn field_problem(path: String, message: String) -> ApiError {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    let parent = if path == "." { String::new() } else { path };
    let field = match (missing, unknown) {
        (Some(name), _) if parent.is_empty() => name.to_owned(),
        (Some(name), _) => format!("{parent}.{name}"),
        (None, Some(name)) if parent.is_empty() => name.to_owned(),
        _ if parent.is_empty() => "params".to_owned(),
        _ => parent,
    };
    let message = match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message,
    };
    ApiError::Problem(Problem::malformed(format!("{field}: {message}")).field(field, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Page {
        limit: Option<u32>,
        all: Option<bool>,
        user_id: Option<String>,
    }

    fn field(error: ApiError) -> String {
        match error {
            ApiError::Problem(problem) => {
                assert_eq!(problem.status, 400);
                problem.errors[0].field.clone()
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn query_values_are_typed_and_named_when_wrong() {
        let page: Page = from_query("limit=5&all=true").unwrap();
        assert_eq!((page.limit, page.all), (Some(5), Some(true)));
        assert_eq!(
            field(from_query::<Page>("limit=lots").unwrap_err()),
            "limit"
        );
        assert_eq!(field(from_query::<Page>("limt=5").unwrap_err()), "limt");
    }

    #[test]
    fn empty_bodies_are_no_parameters_and_bad_json_is_malformed() {
        let page: Page = from_body(b"  ").unwrap();
        assert!(page.limit.is_none());
        assert_eq!(
            field(from_body::<Page>(br#"{"user_id": 7}"#).unwrap_err()),
            "user_id"
        );
        assert_eq!(
            field(from_body::<Page>(br#"[5, true, "00u1"]"#).unwrap_err()),
            "params"
        );
        let ApiError::Problem(problem) = from_body::<Page>(b"{").unwrap_err() else {
            panic!("a problem")
        };
        assert!(problem.errors.is_empty() && problem.status == 400);
    }
}
