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
use super::compiled::{
    Action, Compiled, CompiledCapability, ParamSpec, ResultField, ResultShape, Step,
};
use super::errors::Outcome;
use super::paging::View;
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
    record_model: Option<usize>,
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
            let model = record_model.unwrap_or(*model);
            Ok(map_record(&run.definition.models[model], record)?)
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
    let mut run = start(
        definition,
        capability,
        &capability.params,
        keys,
        &call,
        input,
    )?;
    let answer = match &capability.action {
        Action::List(list) => {
            let view = View::declared(&run, list);
            super::paging::list(&run, list, &view).await?
        }
        Action::Steps {
            steps: list,
            result,
        } => steps(&mut run, list, result, None).await?,
    };
    Ok((StatusCode::OK, common::extract::Json(answer)).into_response())
}

/// The call's parameters parsed and checked against `specs`: the run, or the 400/422.
fn start<'a>(
    definition: &'a Compiled,
    capability: &'a CompiledCapability,
    specs: &[ParamSpec],
    keys: &'a CursorKeys,
    call: &'a Call,
    input: Input,
) -> Result<Run<'a>, ApiError> {
    let values = params::parse(specs, input)?;
    let broken = params::validate(specs, &values);
    if !broken.is_empty() {
        return Err(ApiError::Invalid(broken));
    }
    Ok(Run {
        definition,
        keys,
        capability,
        call,
        values,
        captured: BTreeMap::new(),
    })
}

/// The common directory's capabilities (`/directory/*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryCall {
    ListUsers,
    GetUser,
    SuspendUser,
    DeleteUser,
}

/// Runs `which` with `definition`'s directory capability: its requests and error rules,
/// records as the definition's `directory_user` model; suspend and delete answer the same
/// shape for every vendor.
pub async fn run_directory(
    definition: &Compiled,
    which: DirectoryCall,
    keys: &CursorKeys,
    call: Call,
    input: Input,
) -> Result<Response, ApiError> {
    let directory = definition.directory.as_ref().ok_or_else(|| {
        UpstreamError::InvalidResponse(format!("{} is no directory", definition.name))
    })?;
    let index = match which {
        DirectoryCall::ListUsers => directory.list_users,
        DirectoryCall::GetUser => directory.get_user,
        DirectoryCall::SuspendUser => directory.suspend_user,
        DirectoryCall::DeleteUser => directory.delete_user,
    };
    let capability = &definition.capabilities[index];
    let specs = match which {
        DirectoryCall::ListUsers => &directory.list_params,
        _ => &capability.params,
    };
    let mut run = start(definition, capability, specs, keys, &call, input)?;
    let user_id = run
        .values
        .get("user_id")
        .map(params::ParamValue::text)
        .unwrap_or_default();
    let answer = match (&capability.action, which) {
        (Action::List(list), DirectoryCall::ListUsers) => {
            let view = View {
                model: directory.user,
                sealed: true,
                caller_cursor: "next",
                field: "users".into(),
                // A cursor of one vendor's directory never opens for another's.
                listing: format!("directory/list_users/{}", definition.name),
            };
            super::paging::list(&run, list, &view).await?
        }
        (
            Action::Steps {
                steps: list,
                result,
            },
            DirectoryCall::GetUser,
        ) => steps(&mut run, list, result, Some(directory.user)).await?,
        (
            Action::Steps {
                steps: list,
                result,
            },
            DirectoryCall::SuspendUser,
        ) => {
            steps(&mut run, list, result, None).await?;
            let mut answer = Object::default();
            answer.push(&"id".into(), Value::String(user_id));
            answer.push(&"status".into(), Value::String("suspended".into()));
            answer
        }
        (
            Action::Steps {
                steps: list,
                result,
            },
            DirectoryCall::DeleteUser,
        ) => {
            steps(&mut run, list, result, None).await?;
            let mut answer = Object::default();
            answer.push(&"id".into(), Value::String(user_id));
            answer.push(&"deleted".into(), Value::Bool(true));
            answer
        }
        _ => {
            return Err(UpstreamError::InvalidResponse(format!(
                "{}'s directory does not fit {which:?}",
                definition.name
            ))
            .into())
        }
    };
    Ok((StatusCode::OK, common::extract::Json(answer)).into_response())
}
