//! One call of a declared capability in progress: its parameters and captured values, the
//! requests it makes, and how their error answers are mapped.
use std::collections::BTreeMap;

use common::http_client::Idempotency;
use common::paging::CursorKeys;
use serde_json::Value;

use super::answer::json_body;
use super::compiled::{BodyField, Compiled, CompiledCapability, Request, Rule};
use super::errors::{self, Outcome};
use super::params::{self, Values};
use super::template::{path_segment, Name};
use crate::capability::Call;
use crate::upstream::{Exchange, UpstreamRequest};

/// One capability call in progress.
pub struct Run<'a> {
    pub definition: &'a Compiled,
    /// What callers' cursors are sealed with.
    pub keys: &'a CursorKeys,
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
        if !request.body.is_empty() {
            let body = request
                .body
                .iter()
                .map(|(name, field)| {
                    let value = match field {
                        BodyField::Text(template) => {
                            Value::String(template.render(|name| self.lookup(name)))
                        }
                        BodyField::Json(value) => value.clone(),
                    };
                    (name.clone(), value)
                })
                .collect();
            upstream = upstream.json(Value::Object(body));
        }
        if reads_body {
            upstream = upstream.accept(json_body);
        }
        upstream
    }

    /// Maps a non-2xx answer with `step_rules`, then the capability's and the
    /// definition's rules.
    pub fn refused(&self, step_rules: &[Rule], exchange: &Exchange) -> Outcome {
        errors::map(
            self.definition,
            &[step_rules, &self.capability.rules, &self.definition.rules],
            exchange,
            &|name| self.lookup(name),
            &|name| self.given(name),
        )
    }
}
