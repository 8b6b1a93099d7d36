//! Runs a declared capability: parameters, then its steps (or its list) through the
//! tenant's [`Upstream`](crate::upstream::Upstream), which owns credentials, DPoP,
//! throttling per bucket, retries, the deadline and the concurrency cap; then the answer,
//! in the file's field order.
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::http_client::Idempotency;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::compiled::{
    Action, Compiled, CompiledCapability, CompiledModel, Request, ResultField, ResultShape, Step,
};
use super::errors::{self, Outcome};
use super::params::{self, Values};
use super::template::{path_segment, Name};
use crate::capability::{Call, Input};
use crate::error::ApiError;
use crate::upstream::{Exchange, UpstreamError, UpstreamRequest};

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
fn json_body(exchange: &Exchange) -> Result<(), String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(&exchange.body)
        .map(|_| ())
        .map_err(|error| format!("unexpected response body: {error}"))
}

pub fn body_json(exchange: &Exchange) -> Result<Value, UpstreamError> {
    serde_json::from_slice(&exchange.body).map_err(|error| {
        UpstreamError::InvalidResponse(format!("unexpected response body: {error}"))
    })
}

/// One capability call in progress.
pub struct Run<'a> {
    pub definition: &'a Compiled,
    pub capability: &'a CompiledCapability,
    pub call: &'a Call,
    pub values: Values,
    pub captured: BTreeMap<String, String>,
}

impl Run<'_> {
    pub fn lookup(&self, name: &Name) -> Option<String> {
        match name {
            Name::Value(value) => self
                .values
                .get(value)
                .map(params::ParamValue::text)
                .or_else(|| self.captured.get(value).cloned()),
            Name::Setting(setting) => self.call.upstream.setting(setting),
            Name::Error(_) => None,
        }
    }

    pub fn given(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// The request to send: path values each one encoded segment, query templates
    /// rendered (`extra` after them), its bucket and idempotency as declared.
    pub fn request(
        &self,
        request: &Request,
        extra: Vec<(String, String)>,
        reads_body: bool,
    ) -> UpstreamRequest {
        let path = request
            .path
            .render_with(|name| self.lookup(name), |value| path_segment(&value));
        let idempotency = if request.idempotent {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        };
        let mut upstream = UpstreamRequest::new(
            self.capability.name.as_str(),
            request.method.clone(),
            path,
            idempotency,
        )
        .bucket(request.bucket.clone());
        for (name, template) in &request.query {
            upstream = upstream.query(name, template.render(|name| self.lookup(name)));
        }
        for (name, value) in extra {
            upstream = upstream.query(&name, value);
        }
        if reads_body {
            upstream = upstream.accept(json_body);
        }
        upstream
    }

    /// Maps a non-2xx answer with `step_rules`, then the capability's and the
    /// definition's rules.
    pub fn refused(&self, step_rules: &[super::compiled::Rule], exchange: &Exchange) -> Outcome {
        errors::map(
            self.definition,
            &[step_rules, &self.capability.rules, &self.definition.rules],
            exchange,
            &|name| self.lookup(name),
            &|name| self.given(name),
        )
    }

    async fn steps(&mut self, steps: &[Step], result: &ResultShape) -> Result<Object, ApiError> {
        let mut succeeded = vec![false; steps.len()];
        let mut last: Option<Exchange> = None;
        for (index, step) in steps.iter().enumerate() {
            if let Some((value, is_not)) = &step.unless {
                if value.render(|name| self.lookup(name)) == *is_not {
                    continue;
                }
            }
            let reads_body =
                !step.captures.is_empty() || matches!(result, ResultShape::Record { .. });
            let request = self.request(&step.request, Vec::new(), reads_body);
            let exchange = self
                .call
                .upstream
                .call(&request, self.call.deadline)
                .await?;
            if !exchange.status.is_success() {
                match self.refused(&step.rules, &exchange) {
                    Outcome::Done => break,
                    Outcome::Failed(error) => return Err(error.into()),
                }
            }
            if !step.captures.is_empty() {
                let body = body_json(&exchange)?;
                for (name, pointer) in &step.captures {
                    let value = match pointer.get(&body) {
                        Some(Value::String(text)) => text.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    self.captured.insert(name.clone(), value);
                }
            }
            succeeded[index] = true;
            last = Some(exchange);
        }
        match result {
            ResultShape::Record { at, model } => {
                let exchange = last
                    .ok_or_else(|| UpstreamError::InvalidResponse("no request was sent".into()))?;
                let body = body_json(&exchange)?;
                let record = at.get(&body).ok_or_else(|| {
                    UpstreamError::InvalidResponse("unexpected response body: no record".into())
                })?;
                Ok(map_record(&self.definition.models[*model], record)?)
            }
            ResultShape::Fields { fields, .. } => {
                let mut object = Object::default();
                for (name, field) in fields {
                    let value = match field {
                        ResultField::Text(template) => {
                            Value::String(template.render(|name| self.lookup(name)))
                        }
                        ResultField::Bool(value) => Value::Bool(*value),
                        ResultField::StepSucceeded(step) => Value::Bool(succeeded[*step]),
                    };
                    object.push(name, value);
                }
                Ok(object)
            }
        }
    }
}

/// A vendor record as `model` shapes it: each field from its pointer, a string or `null`
/// (required fields must be there).
pub fn map_record(model: &CompiledModel, record: &Value) -> Result<Object, UpstreamError> {
    let mut object = Object::default();
    for field in &model.fields {
        let value = match field.from.get(record) {
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

/// Runs `capability` of `definition` for one call: 200 with the answer, or the error.
pub async fn run(
    definition: &Compiled,
    capability: &CompiledCapability,
    list_all_cap: usize,
    call: Call,
    input: Input,
) -> Result<Response, ApiError> {
    let values = params::parse(&capability.params, input)?;
    let broken = params::validate(&capability.params, &values);
    if !broken.is_empty() {
        return Err(ApiError::Invalid(broken));
    }
    let mut run = Run {
        definition,
        capability,
        call: &call,
        values,
        captured: BTreeMap::new(),
    };
    let answer = match &capability.action {
        Action::List(list) => super::paging::list(&run, list, list_all_cap).await?,
        Action::Steps { steps, result } => run.steps(steps, result).await?,
    };
    Ok((StatusCode::OK, common::extract::Json(answer)).into_response())
}
