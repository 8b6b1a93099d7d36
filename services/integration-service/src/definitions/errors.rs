//! A vendor's error answer, read by the definition's `errors.body` pointers and mapped by
//! its ordered rules (the step's, the capability's, then the definition's; the first that
//! matches decides) into this service's errors.
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;
use serde_json::Value;

use super::compiled::{Blame, Compiled, Rule};
use super::model::ErrorKind;
use super::template::{ErrorPart, Name};
use crate::error::Error;
use crate::upstream::{Exchange, UpstreamError};

/// The parts of an error answer that are safe to show (codes, the vendor's summaries,
/// its error id, a scope name): never headers or bodies as a whole.
pub struct ErrorView {
    status: StatusCode,
    code: String,
    message: String,
    id: String,
    challenge: Option<String>,
    scope: Option<String>,
}

impl ErrorView {
    pub fn read(definition: &Compiled, exchange: &Exchange) -> Self {
        let body: Value = serde_json::from_slice(&exchange.body).unwrap_or(Value::Null);
        let body_text = |pointer: &Option<super::template::Pointer>| {
            pointer
                .as_ref()
                .and_then(|p| p.get(&body))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let pointers = &definition.error_body;
        let summary = body_text(&pointers.message);
        let causes: Vec<&str> = pointers
            .causes
            .as_ref()
            .map(|p| p.all(&body))
            .unwrap_or_default()
            .into_iter()
            .filter_map(Value::as_str)
            .filter(|cause| !cause.is_empty())
            .collect();
        let message = if causes.is_empty() {
            summary
        } else {
            format!("{summary} ({})", causes.join("; "))
        };
        Self {
            status: exchange.status,
            code: body_text(&pointers.code),
            message,
            id: body_text(&pointers.id),
            challenge: challenge_parameter(exchange, "error"),
            scope: challenge_parameter(exchange, "scope").filter(|scope| well_formed_scope(scope)),
        }
    }

    pub fn part(&self, part: ErrorPart) -> Option<String> {
        match part {
            ErrorPart::Status => Some(self.status.to_string()),
            ErrorPart::Code => Some(self.code.clone()),
            ErrorPart::Message => Some(self.message.clone()),
            ErrorPart::Id => Some(self.id.clone()),
            ErrorPart::ChallengeScope => self.scope.clone(),
        }
    }

    fn matches(&self, rule: &Rule) -> bool {
        rule.matches_status(self.status.as_u16())
            && rule.code.as_ref().is_none_or(|code| *code == self.code)
            && rule.challenge_error.as_ref().is_none_or(|error| {
                self.challenge.as_ref() == Some(error)
                    && (rule.kind != ErrorKind::AuthScope || self.scope.is_some())
            })
    }
}

/// A parameter of a `Bearer`/`DPoP` challenge in `WWW-Authenticate` (RFC 6750 section 3).
fn challenge_parameter(exchange: &Exchange, name: &str) -> Option<String> {
    let challenge = exchange.headers.get(WWW_AUTHENTICATE)?.to_str().ok()?;
    challenge.split(',').find_map(|part| {
        let part = part.trim();
        let part = part
            .split_once(' ')
            .filter(|(scheme, _)| !scheme.contains('='))
            .map_or(part, |(_, rest)| rest);
        let (key, value) = part.split_once('=')?;
        (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Only scope-shaped values are passed on to callers.
fn well_formed_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= 100
        && scope
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' ' | ':' | '/'))
}

/// What a non-2xx answer came to.
pub enum Outcome {
    /// The goal is reached anyway (`done`).
    Done,
    Failed(Error),
}

/// Maps an error answer by the first rule of `rule_lists` (in order) that matches.
/// `lookup` renders parameters and captured values in details; `given` tells which
/// parameters the caller gave (for `first_given`).
pub fn map(
    definition: &Compiled,
    rule_lists: &[&[Rule]],
    exchange: &Exchange,
    lookup: &dyn Fn(&Name) -> Option<String>,
    given: &dyn Fn(&str) -> bool,
) -> Outcome {
    let view = ErrorView::read(definition, exchange);
    let render = |template: &super::template::Template| {
        template.render(|name| match name {
            Name::Error(part) => view.part(*part),
            other => lookup(other),
        })
    };
    let rule = rule_lists
        .iter()
        .flat_map(|rules| rules.iter())
        .find(|rule| view.matches(rule));
    let Some(rule) = rule else {
        let detail = match &definition.otherwise {
            Some(template) => render(template),
            None => format!(
                "{} answered {}: {}",
                definition.vendor, view.status, view.message
            ),
        };
        return Outcome::Failed(Error::Upstream(UpstreamError::InvalidResponse(detail)));
    };
    let vendor = &definition.vendor;
    let detail = rule
        .detail
        .as_ref()
        .map(render)
        .unwrap_or_else(|| match rule.kind {
            ErrorKind::NotFound => format!("{vendor} has no such object"),
            ErrorKind::Conflict => format!(
                "{vendor} refused the change in the object's current state: {}",
                view.message
            ),
            ErrorKind::InvalidRequest => format!("rejected by {vendor}: {}", view.message),
            _ => format!("{vendor} answered {}: {}", view.status, view.message),
        });
    Outcome::Failed(match rule.kind {
        ErrorKind::Done => return Outcome::Done,
        ErrorKind::NotFound => Error::NotFound(detail),
        ErrorKind::Conflict => Error::Conflict(detail),
        ErrorKind::InvalidRequest => Error::Rejected {
            field: match &rule.field {
                Some(Blame::Named(name)) => name.clone(),
                Some(Blame::FirstGiven(names)) => names
                    .iter()
                    .find(|name| given(name))
                    .or(names.last())
                    .cloned()
                    .unwrap_or_default(),
                None => String::new(),
            },
            message: detail,
        },
        ErrorKind::AuthRejected | ErrorKind::AuthScope | ErrorKind::AuthPermission => {
            Error::Upstream(UpstreamError::CredentialsRejected(detail))
        }
        ErrorKind::Transient => Error::Upstream(UpstreamError::Unavailable(detail)),
        ErrorKind::RateLimited => Error::Upstream(UpstreamError::RateLimited {
            retry_after: common::http_client::retry_after(&exchange.headers)
                .unwrap_or(std::time::Duration::from_secs(1)),
        }),
    })
}
