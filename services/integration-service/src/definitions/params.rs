//! A declared capability's parameters from the caller's query string or JSON body, as the
//! Rust capabilities take theirs: shape errors (unknown, repeated, missing, wrong type) are
//! 400 problems naming the field; then every rule broken is a 422 naming each field.
use std::collections::BTreeMap;

use common::FieldError;
use serde_json::Value;

use super::compiled::{ParamRule, ParamSpec};
use super::template::is_dot_segment;
use crate::capability::{params::field_problem, Input};
use crate::error::ApiError;

/// A parameter's value as the caller gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Text(String),
    Number(u32),
    Flag(bool),
}

impl ParamValue {
    pub fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Number(number) => number.to_string(),
            Self::Flag(flag) => flag.to_string(),
        }
    }
}

pub type Values = BTreeMap<String, ParamValue>;

fn unknown(name: &str, specs: &[ParamSpec]) -> ApiError {
    let expected: Vec<String> = specs.iter().map(|p| format!("`{}`", p.name)).collect();
    let message = match expected.as_slice() {
        [] => format!("unknown field `{name}`, there are no fields"),
        [one] => format!("unknown field `{name}`, expected {one}"),
        [init @ .., last] => format!(
            "unknown field `{name}`, expected one of {}, {last}",
            init.join(", ")
        ),
    };
    field_problem(String::new(), message)
}

fn typed(spec: &ParamSpec, text: &str) -> Result<ParamValue, String> {
    match spec.rule {
        ParamRule::Limit { .. } => text
            .parse()
            .map(ParamValue::Number)
            .map_err(|e: std::num::ParseIntError| e.to_string()),
        ParamRule::All => text
            .parse()
            .map(ParamValue::Flag)
            .map_err(|e: std::str::ParseBoolError| e.to_string()),
        ParamRule::Text { .. } | ParamRule::Cursor { .. } => Ok(ParamValue::Text(text.to_owned())),
    }
}

/// What a JSON value is, in serde's words ("integer `7`").
fn unexpected(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(flag) => format!("boolean `{flag}`"),
        Value::Number(number) if number.is_f64() => format!("floating point `{number}`"),
        Value::Number(number) => format!("integer `{number}`"),
        Value::String(text) => format!("string {text:?}"),
        Value::Array(_) => "sequence".into(),
        Value::Object(_) => "map".into(),
    }
}

fn from_json(spec: &ParamSpec, value: &Value) -> Result<ParamValue, String> {
    match (&spec.rule, value) {
        (ParamRule::Text { .. } | ParamRule::Cursor { .. }, Value::String(text)) => {
            Ok(ParamValue::Text(text.clone()))
        }
        (ParamRule::All, Value::Bool(flag)) => Ok(ParamValue::Flag(*flag)),
        (ParamRule::Limit { .. }, Value::Number(number))
            if number.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)) =>
        {
            Ok(ParamValue::Number(
                number.as_u64().unwrap_or_default() as u32
            ))
        }
        (ParamRule::Text { .. } | ParamRule::Cursor { .. }, other) => Err(format!(
            "invalid type: {}, expected a string",
            unexpected(other)
        )),
        (ParamRule::All, other) => Err(format!(
            "invalid type: {}, expected a boolean",
            unexpected(other)
        )),
        (ParamRule::Limit { .. }, other) => {
            Err(format!("invalid type: {}, expected u32", unexpected(other)))
        }
    }
}

/// The values of `input`, typed by `specs` (400 on a shape error).
pub fn parse(specs: &[ParamSpec], input: Input) -> Result<Values, ApiError> {
    let mut values = Values::new();
    let spec_of = |name: &str| specs.iter().find(|spec| spec.name == name);
    match input {
        Input::Query(query) => {
            for (name, text) in url::form_urlencoded::parse(query.as_bytes()) {
                let spec = spec_of(&name).ok_or_else(|| unknown(&name, specs))?;
                if values.contains_key(&spec.name) {
                    return Err(field_problem(
                        spec.name.clone(),
                        format!("duplicate field `{name}`"),
                    ));
                }
                let value = typed(spec, &text)
                    .map_err(|message| field_problem(spec.name.clone(), message))?;
                values.insert(spec.name.clone(), value);
            }
        }
        Input::Body(body) => {
            let object: serde_json::Map<String, Value> =
                crate::capability::params::from_body(&body)?;
            for (name, value) in &object {
                let spec = spec_of(name).ok_or_else(|| unknown(name, specs))?;
                let value = from_json(spec, value)
                    .map_err(|message| field_problem(spec.name.clone(), message))?;
                values.insert(spec.name.clone(), value);
            }
        }
    }
    if let Some(missing) = specs
        .iter()
        .find(|spec| spec.required && !values.contains_key(&spec.name))
    {
        return Err(field_problem(
            String::new(),
            format!("missing field `{}`", missing.name),
        ));
    }
    Ok(values)
}

/// Every rule the values break (422), in the parameters' order.
pub fn validate(specs: &[ParamSpec], values: &Values) -> Vec<FieldError> {
    let all = values.get("all") == Some(&ParamValue::Flag(true));
    let mut errors = Vec::new();
    for spec in specs {
        let Some(value) = values.get(&spec.name) else {
            continue;
        };
        let broken = match (&spec.rule, value) {
            (ParamRule::Limit { page_max, all_max }, ParamValue::Number(limit)) => {
                let max = if all { *all_max } else { *page_max };
                (!(1..=max).contains(limit)).then(|| {
                    format!("must be between 1 and {page_max} (with all=true, 1 and {all_max})")
                })
            }
            (ParamRule::Cursor { max_length }, ParamValue::Text(cursor)) => (cursor.is_empty()
                || cursor.len() > *max_length as usize)
                .then(|| "must be a cursor returned as `next`".to_owned()),
            (
                ParamRule::Text {
                    min_length,
                    max_length,
                    pattern,
                    refused,
                    message,
                },
                ParamValue::Text(text),
            ) => {
                let length = text.chars().count();
                let too_short = min_length.is_some_and(|min| {
                    length < min as usize || (min >= 1 && text.trim().is_empty())
                });
                let too_long = max_length.is_some_and(|max| length > max as usize);
                let mismatch = pattern
                    .as_ref()
                    .is_some_and(|(_, regex)| !regex.is_match(text));
                let dots = spec.in_path && is_dot_segment(text);
                let refused = refused.iter().any(|value| value.eq_ignore_ascii_case(text));
                (too_short || too_long || mismatch || dots || refused).then(|| {
                    message
                        .clone()
                        .unwrap_or_else(|| match (min_length, max_length, pattern) {
                            (_, _, Some((pattern, _))) if mismatch => {
                                format!("must match `{pattern}`")
                            }
                            _ if dots && !too_short && !too_long => {
                                "must not be `.` or `..`".to_owned()
                            }
                            (Some(min), Some(max), _) => {
                                format!("must be {min} to {max} characters")
                            }
                            _ => "is not a value this parameter takes".to_owned(),
                        })
                })
            }
            _ => None,
        };
        if let Some(message) = broken {
            errors.push(FieldError::new(spec.name.clone(), message));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::Input;

    fn specs() -> Vec<ParamSpec> {
        let text = |name: &str, required, pattern: Option<&str>| ParamSpec {
            name: name.into(),
            description: None,
            required,
            rule: ParamRule::Text {
                min_length: Some(1),
                max_length: Some(64),
                pattern: pattern.map(|p| (p.to_owned(), regex::Regex::new(p).unwrap())),
                refused: vec!["me".into()],
                message: None,
            },
            query: None,
            in_path: true,
        };
        vec![
            ParamSpec {
                rule: ParamRule::Limit {
                    page_max: 200,
                    all_max: 10_000,
                },
                ..text("limit", false, None)
            },
            text("user_id", true, Some("^[^/]+$")),
            ParamSpec {
                rule: ParamRule::All,
                ..text("all", false, None)
            },
        ]
    }

    fn field(error: ApiError) -> (u16, String) {
        let problem = common::Problem::from(error);
        (problem.status, problem.errors[0].field.clone())
    }

    #[test]
    fn shape_errors_are_400s_naming_the_field() {
        let specs = specs();
        let query = |q: &str| parse(&specs, Input::Query(q.into()));
        assert_eq!(
            field(query("user_id=a&limit=many").unwrap_err()),
            (400, "limit".into())
        );
        assert_eq!(
            field(query("user_id=a&limt=5").unwrap_err()),
            (400, "limt".into())
        );
        assert_eq!(
            field(query("user_id=a&user_id=b").unwrap_err()),
            (400, "user_id".into())
        );
        assert_eq!(
            field(query("limit=5").unwrap_err()),
            (400, "user_id".into())
        );
        let body = |b: &str| parse(&specs, Input::Body(b.to_owned().into()));
        assert_eq!(
            field(body(r#"{"user_id": 7}"#).unwrap_err()),
            (400, "user_id".into())
        );
        assert_eq!(field(body(r#"["x"]"#).unwrap_err()), (400, "params".into()));
        let values = query("user_id=00u1&limit=5&all=true").unwrap();
        assert_eq!(values["limit"], ParamValue::Number(5));
    }

    #[test]
    fn every_broken_rule_is_named() {
        let specs = specs();
        let values = parse(&specs, Input::Query("user_id=a%2Fb&limit=500".into())).unwrap();
        let fields: Vec<String> = validate(&specs, &values)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["limit", "user_id"]);
        let with_all = parse(&specs, Input::Query("user_id=..&limit=500&all=true".into())).unwrap();
        let errors = validate(&specs, &with_all);
        assert_eq!(errors.len(), 1, "500 is fine with all=true: {errors:?}");
        assert_eq!(errors[0].message, "must not be `.` or `..`");
        let me = parse(&specs, Input::Query("user_id=ME".into())).unwrap();
        assert_eq!(
            validate(&specs, &me)[0].field,
            "user_id",
            "refused, whatever the case"
        );
    }
}
