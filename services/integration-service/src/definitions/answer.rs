//! Answers of declared capabilities: JSON objects written in the file's field order, and
//! vendor records shaped by a model.
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::compiled::CompiledModel;
use crate::upstream::{Exchange, UpstreamError};

/// A JSON object written in the order its fields were pushed (the file's order), so
/// declared answers read as the Rust ones did.
#[derive(Debug, Default)]
pub struct Object(Vec<(Arc<str>, Field)>);

/// A field of an [`Object`]: a value, or records (objects in their own order).
#[derive(Debug)]
pub enum Field {
    Value(Value),
    Records(Vec<Object>),
}

impl Object {
    pub fn push(&mut self, name: &Arc<str>, value: Value) {
        self.0.push((name.clone(), Field::Value(value)));
    }

    pub fn push_records(&mut self, name: &Arc<str>, records: Vec<Object>) {
        self.0.push((name.clone(), Field::Records(records)));
    }
}

impl Serialize for Object {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, field) in &self.0 {
            match field {
                Field::Value(value) => map.serialize_entry(&**name, value)?,
                Field::Records(records) => map.serialize_entry(&**name, records)?,
            }
        }
        map.end()
    }
}

/// A 2xx answer whose body the capability reads must be complete JSON: otherwise the
/// attempt failed (and an idempotent request is tried again).
pub fn json_body(exchange: &Exchange) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(&exchange.body)
        .map(|_| ())
        .map_err(|error| format!("unexpected response body: {error}"))
}

pub fn body_json(exchange: &Exchange) -> Result<Value, UpstreamError> {
    serde_json::from_slice(&exchange.body).map_err(|error| {
        UpstreamError::InvalidResponse(format!("unexpected response body: {error}"))
    })
}

/// A vendor record as `model` shapes it: each field from its pointer, a string or `null`
/// (required fields must be there), through the field's value map when it has one.
pub fn map_record(model: &CompiledModel, record: &Value) -> Result<Object, UpstreamError> {
    let mut object = Object::default();
    for field in &model.fields {
        let value = match field.from.get(record) {
            Some(value @ (Value::String(_) | Value::Bool(_) | Value::Number(_)))
                if !field.map.is_empty() =>
            {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                match field.map.iter().find(|(from, _)| *from == text) {
                    Some((_, to)) => Value::String(to.clone()),
                    None => {
                        return Err(UpstreamError::InvalidResponse(format!(
                            "unexpected response body: `{}` is {value}, a value it never has",
                            field.name
                        )))
                    }
                }
            }
            Some(Value::String(text)) => Value::String(text.clone()),
            None | Some(Value::Null) if !field.required => Value::Null,
            None | Some(Value::Null) => {
                return Err(UpstreamError::InvalidResponse(format!(
                    "unexpected response body: missing field `{}`",
                    field.name
                )))
            }
            Some(other) => {
                return Err(UpstreamError::InvalidResponse(format!(
                    "unexpected response body: `{}` is {other}, not text",
                    field.name
                )))
            }
        };
        object.push(&field.name, value);
    }
    Ok(object)
}
