//! Request extractors whose rejections are problem+json bodies naming the field at fault,
//! instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Problem;

/// JSON in and out. Bad bodies become 400/415/413 problems naming the offending field.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(unsupported_media_type("application/json"));
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A body that may be JSON or `application/x-www-form-urlencoded`, for endpoints such as
/// login that browsers and scripts both call.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonOrForm<T>(pub T);

impl<T, S> FromRequest<S> for JsonOrForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = has_content_type(req.headers(), "application/x-www-form-urlencoded");
        if !form && !is_json(req.headers()) {
            return Err(unsupported_media_type(
                "application/json or application/x-www-form-urlencoded",
            ));
        }
        let bytes = read_body(req, state).await?;
        if form {
            let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(&bytes));
            serde_path_to_error::deserialize(de)
                .map(JsonOrForm)
                .map_err(|err| field_problem(err.path().to_string(), err.inner().to_string()))
        } else {
            parse_json(&bytes).map(JsonOrForm)
        }
    }
}

/// Query strings with the same problem bodies as [`Json`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| field_problem(err.path().to_string(), err.inner().to_string()))
    }
}

/// Parses a JSON body, naming the field at fault when it does not fit `T`. The body must
/// be an object (see [`is_json_array`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if is_json_array(bytes) {
        return Err(field_problem(
            "body".to_owned(),
            "must be a JSON object".to_owned(),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                Problem::malformed(format!("The body is not valid JSON: {inner}"))
            }
            _ => field_problem(path, inner.to_string()),
        }
    })
}

/// True when a JSON body's top-level value is an array. Request bodies are objects, but
/// serde also reads a struct from an array of its field values (`["Jane", null]`), which
/// no spec documents: parsers refuse arrays before deserialising.
pub fn is_json_array(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// A deserialisation error becomes a 400 naming the field. serde reports a missing field
/// at its parent's path with the name in the message, so the name is lifted out of it.
fn field_problem(path: String, message: String) -> Problem {
    let parent = if path == "." { String::new() } else { path };
    let field = match missing_field_name(&message) {
        Some(name) if parent.is_empty() => name.to_owned(),
        Some(name) => format!("{parent}.{name}"),
        None if parent.is_empty() => "body".to_owned(),
        None => parent,
    };
    let message = strip_position(&message);
    Problem::malformed(format!("{field}: {message}")).field(field, message)
}

fn missing_field_name(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

/// serde_json appends " at line 1 column 42"; the field path already says where.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| body_problem(rejection.status(), rejection.body_text()))
}

/// Maps a body-reading failure (usually the size limit) to a problem.
pub fn body_problem(status: StatusCode, text: String) -> Problem {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::of_kind(status, "body-too-large", "Request body too large").detail(text)
    } else {
        Problem::new(status).detail(text)
    }
}

/// The 415 for a body whose content type is none of `expected` (named in the detail).
pub fn unsupported_media_type(expected: &str) -> Problem {
    Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE).detail(format!("Expected {expected}"))
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE)?.to_str().ok()
}

/// True when the media type (ignoring parameters such as charset) equals `expected`.
pub fn has_content_type(headers: &HeaderMap, expected: &str) -> bool {
    content_type(headers)
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(expected))
}

/// True for `application/json` and every `…/…+json` type (RFC 6839's suffix): a body so
/// labelled is parsed as JSON, and held to the JSON body limit, whatever its prefix.
pub fn is_json(headers: &HeaderMap) -> bool {
    content_type(headers)
        .and_then(|value| value.split(';').next())
        .map(|media| media.trim().to_ascii_lowercase())
        .is_some_and(|media| media == "application/json" || media.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Signup {
        username: String,
        profile: Profile,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Profile {
        age: u8,
    }

    fn field_of(problem: &Problem) -> &str {
        &problem.errors[0].field
    }

    #[test]
    fn names_missing_top_level_field() {
        let problem = parse_json::<Signup>(br#"{"profile":{"age":3}}"#).unwrap_err();
        assert_eq!(problem.status, 400);
        assert_eq!(field_of(&problem), "username");
    }

    #[test]
    fn names_nested_field_with_wrong_type() {
        let problem =
            parse_json::<Signup>(br#"{"username":"a","profile":{"age":"old"}}"#).unwrap_err();
        assert_eq!(field_of(&problem), "profile.age");
        assert!(!problem.errors[0].message.contains("line"));
    }

    #[test]
    fn names_missing_nested_field() {
        let problem = parse_json::<Signup>(br#"{"username":"a","profile":{}}"#).unwrap_err();
        assert_eq!(field_of(&problem), "profile.age");
    }

    #[test]
    fn syntax_errors_are_malformed_without_field() {
        let problem = parse_json::<Signup>(br#"{"username": "#).unwrap_err();
        assert_eq!(problem.status, 400);
        assert!(problem.errors.is_empty());
        assert!(problem.detail.unwrap().contains("not valid JSON"));
    }

    #[test]
    fn arrays_of_field_values_are_not_objects() {
        let problem = parse_json::<Profile>(b" [3]").unwrap_err();
        assert_eq!((problem.status, field_of(&problem)), (400, "body"));
        assert_eq!(parse_json::<Profile>(br#"{"age":3}"#).unwrap().age, 3);
    }

    #[test]
    fn media_type_ignores_parameters_and_case() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "Application/JSON; charset=utf-8".parse().unwrap(),
        );
        assert!(is_json(&headers));
        assert!(has_content_type(&headers, "application/json"));
    }
}
