//! Runs a declared capability: parameters, then its steps (or its list) through the
//! tenant's [`Upstream`](crate::upstream::Upstream), which owns credentials, DPoP,
//! throttling per bucket, retries, the deadline and the concurrency cap; then the answer,
//! in the file's field order.
use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::paging::CursorKeys;
use serde_json::Value;

use super::answer::{body_json, map_record, Object};
use super::compiled::{Action, Compiled, CompiledCapability, ResultField, ResultShape, Step};
use super::errors::Outcome;
use super::params;
use super::run::Run;
use crate::capability::{Call, Input};
use crate::error::ApiError;
use crate::upstream::{Exchange, UpstreamError};

/// Runs `steps` in order (a `when` that does not hold skips one; a `done` error ends them
/// early) and makes the answer.
async fn steps(
    run: &mut Run<'_>,
    steps: &[Step],
    result: &ResultShape,
) -> Result<Object, ApiError> {
    let mut succeeded = vec![false; steps.len()];
    let mut last: Option<Exchange> = None;
    for (index, step) in steps.iter().enumerate() {
        if let Some((value, is_not)) = &step.unless {
            if value.render(|name| run.lookup(name)) == *is_not {
                continue;
            }
        }
        let reads_body = !step.captures.is_empty() || matches!(result, ResultShape::Record { .. });
        let request = run.request(&step.request, Vec::new(), reads_body);
        let exchange = run.call.upstream.call(&request, run.call.deadline).await?;
        if !exchange.status.is_success() {
            match run.refused(&step.rules, &exchange) {
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
                run.captured.insert(name.clone(), value);
            }
        }
        succeeded[index] = true;
        last = Some(exchange);
    }
    match result {
        ResultShape::Record { at, model } => {
            let exchange =
                last.ok_or_else(|| UpstreamError::InvalidResponse("no request was sent".into()))?;
            let body = body_json(&exchange)?;
            let record = at.get(&body).ok_or_else(|| {
                UpstreamError::InvalidResponse("unexpected response body: no record".into())
            })?;
            Ok(map_record(&run.definition.models[*model], record)?)
        }
        ResultShape::Fields { fields, .. } => {
            let mut object = Object::default();
            for (name, field) in fields {
                let value = match field {
                    ResultField::Text(template) => {
                        Value::String(template.render(|name| run.lookup(name)))
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

/// Runs `capability` of `definition` for one call: 200 with the answer, or the error.
pub async fn run(
    definition: &Compiled,
    capability: &CompiledCapability,
    keys: &CursorKeys,
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
        keys,
        capability,
        call: &call,
        values,
        captured: BTreeMap::new(),
    };
    let answer = match &capability.action {
        Action::List(list) => super::paging::list(&run, list).await?,
        Action::Steps {
            steps: list,
            result,
        } => steps(&mut run, list, result).await?,
    };
    Ok((StatusCode::OK, common::extract::Json(answer)).into_response())
}
