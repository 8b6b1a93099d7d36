//! Lists: one page, or with `all=true` the vendor's largest pages until the caller's
//! `limit` (held to the service's cap), the last page, or the tenant's rate limit down to
//! its reserve (one caller's listing must not spend what the tenant's other calls need).
//! Next links are followed only on the base URL's origin, and a cursor seen before in the
//! same listing ends it as an invalid answer (the loop guard).
use std::collections::HashSet;

use common::http_client::Idempotency;
use common::Problem;
use reqwest::header::LINK;
use serde_json::Value;
use url::Url;

use super::answer::{body_json, json_body, map_record, Object};
use super::compiled::{Continuation, List};
use super::errors::Outcome;
use super::params::ParamValue;
use super::run::Run;
use crate::error::ApiError;
use crate::upstream::{Exchange, UpstreamError, UpstreamRequest};

/// The `rel="next"` target of the `Link` headers (RFC 8288; one header per link, or
/// several in one, comma-separated), if any.
fn next_link(exchange: &Exchange) -> Option<String> {
    exchange
        .headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|link| {
            let (target, attributes) = link.split_once(';')?;
            let is_next = attributes
                .split(';')
                .any(|a| matches!(a.trim(), "rel=\"next\"" | "rel=next"));
            is_next.then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
        })
}

/// `link` resolved against `base`, if it stays on `base`'s origin.
fn same_origin(base: &Url, link: &str, vendor: &str) -> Result<Url, UpstreamError> {
    let url = base.join(link).map_err(|_| {
        UpstreamError::InvalidResponse(format!("{vendor}'s next link is not a URL"))
    })?;
    if url.origin() != base.origin() {
        return Err(UpstreamError::InvalidResponse(format!(
            "{vendor}'s next link leads to another origin ({}); not followed",
            url.origin().ascii_serialization()
        )));
    }
    Ok(url)
}

/// The vendor's cursor in the next link, which must stay on `base`'s origin.
fn next_cursor(
    exchange: &Exchange,
    base: &Url,
    parameter: &str,
    vendor: &str,
) -> Result<Option<String>, UpstreamError> {
    let Some(link) = next_link(exchange) else {
        return Ok(None);
    };
    let url = same_origin(base, &link, vendor)?;
    Ok(url
        .query_pairs()
        .find(|(name, _)| name == parameter)
        .map(|(_, value)| value.into_owned()))
}

/// Where a listing goes on: the vendor's cursor value, or the URL of the next page (and
/// how many of its records the caller has seen already, when an answer ended inside it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
enum Position {
    #[serde(rename = "c")]
    Cursor(String),
    #[serde(rename = "l")]
    Link { url: String, skip: usize },
}

/// How a list is answered: its records' model, the callers' cursor (its parameter,
/// whether sealed, and what sealed cursors are bound to besides the tenant) and the
/// answer's field. A declared list answers as its file says; `/directory/list_users` runs
/// the same list as `directory_user` records.
pub struct View<'a> {
    pub model: usize,
    pub sealed: bool,
    pub caller_cursor: &'a str,
    pub field: std::sync::Arc<str>,
    pub listing: String,
}

impl<'a> View<'a> {
    /// The list as its definition declares it, cursors bound to the integration and
    /// capability.
    pub fn declared(run: &Run<'_>, list: &'a List) -> Self {
        Self {
            model: list.model,
            sealed: list.sealed,
            caller_cursor: &list.caller_cursor,
            field: list.field.clone(),
            listing: format!("{}/{}", run.definition.name, run.capability.name),
        }
    }
}

impl Position {
    /// What callers are handed: the vendor's value as it is (`as_given`), or sealed for
    /// this tenant and listing.
    fn to_caller(&self, run: &Run<'_>, view: &View<'_>) -> String {
        match (view.sealed, self) {
            (false, Position::Cursor(value)) => value.clone(),
            _ => run.keys.seal(
                &view.listing,
                &run.call.tenant,
                &serde_json::to_vec(self).expect("a position serialises"),
            ),
        }
    }

    /// A caller's cursor: a 400 naming it when it was not sealed by this service for this
    /// tenant and listing (or points off the base URL's origin).
    fn from_caller(run: &Run<'_>, view: &View<'_>, text: &str) -> Result<Self, ApiError> {
        if !view.sealed {
            return Ok(Position::Cursor(text.to_owned()));
        }
        let bad = || {
            ApiError::Problem(
                Problem::malformed(format!(
                    "{}: not a cursor returned by this API",
                    view.caller_cursor
                ))
                .field(view.caller_cursor, "invalid cursor"),
            )
        };
        let plain = run
            .keys
            .open(&view.listing, &run.call.tenant, text)
            .map_err(|_| bad())?;
        let position: Position = serde_json::from_slice(&plain).map_err(|_| bad())?;
        if let Position::Link { url, .. } = &position {
            same_origin(run.call.upstream.base_url(), url, &run.definition.vendor)
                .map_err(|_| bad())?;
        }
        Ok(position)
    }
}

/// The request for the page at `position`: the declared request with the page size, the
/// vendor's cursor and the callers' query parameters; or the vendor's next link as given.
fn page_request(
    run: &Run<'_>,
    list: &List,
    position: Option<&Position>,
    page_size: usize,
) -> Result<UpstreamRequest, UpstreamError> {
    if let Some(Position::Link { url, .. }) = position {
        let base = run.call.upstream.base_url();
        let url = same_origin(base, url, &run.definition.vendor)?;
        let path = url
            .path()
            .strip_prefix(base.path().trim_end_matches('/'))
            .filter(|rest| rest.starts_with('/'))
            .ok_or_else(|| {
                UpstreamError::InvalidResponse(format!(
                    "{}'s next link leaves the API's base path; not followed",
                    run.definition.vendor
                ))
            })?;
        let mut request = UpstreamRequest::new(
            run.capability.name.as_str(),
            list.request.method.clone(),
            path.to_owned(),
            Idempotency::Idempotent,
        )
        .bucket(list.request.bucket.clone())
        .accept(json_body);
        for (name, value) in url.query_pairs() {
            request = request.query(&name, value);
        }
        return Ok(request);
    }
    let mut extra = vec![(list.size_param.clone(), page_size.to_string())];
    if let (Some(Position::Cursor(cursor)), Continuation::LinkHeader { vendor_cursor }) =
        (position, &list.continuation)
    {
        extra.push((vendor_cursor.clone(), cursor.clone()));
    }
    for spec in &run.capability.params {
        if let (Some(query), Some(value)) = (&spec.query, run.values.get(&spec.name)) {
            extra.push((query.clone(), value.text()));
        }
    }
    Ok(run.request(&list.request, extra, true))
}

/// Where the page after this one is, if anywhere.
fn next_position(
    run: &Run<'_>,
    list: &List,
    exchange: &Exchange,
    body: &Value,
) -> Result<Option<Position>, UpstreamError> {
    let base = run.call.upstream.base_url();
    let vendor = &run.definition.vendor;
    match &list.continuation {
        Continuation::LinkHeader { vendor_cursor } => {
            Ok(next_cursor(exchange, base, vendor_cursor, vendor)?.map(Position::Cursor))
        }
        Continuation::NextLinkInBody { next_link } => match next_link.get(body) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(link)) => Ok(Some(Position::Link {
                url: same_origin(base, link, vendor)?.to_string(),
                skip: 0,
            })),
            Some(_) => Err(UpstreamError::InvalidResponse(format!(
                "{vendor}'s next link is not text"
            ))),
        },
    }
}

/// The tenant setting that caps `all=true` answers of a declared list.
pub const LIST_ALL_MAX: &str = "list_all_max";

/// How often one listing asks for smaller pages after server errors.
const MAX_HALVINGS: u32 = 2;

pub async fn list(run: &Run<'_>, list: &List, view: &View<'_>) -> Result<Object, ApiError> {
    // The tenant's `list_all_max`, checked at start, or the definition's.
    let list_all_cap = run
        .call
        .upstream
        .setting(LIST_ALL_MAX)
        .and_then(|cap| cap.parse().ok())
        .unwrap_or(list.all_max) as usize;
    let vendor = &run.definition.vendor;
    let all = run.values.get("all") == Some(&ParamValue::Flag(true));
    let limit = match run.values.get("limit") {
        Some(ParamValue::Number(limit)) => Some(*limit as usize),
        _ => None,
    };
    let page_max = list.page_max as usize;
    let wanted = match (all, limit) {
        (true, limit) => limit.map_or(list_all_cap, |limit| limit.min(list_all_cap)),
        (false, limit) => limit.unwrap_or(page_max),
    };
    let given = match run.values.get(view.caller_cursor) {
        Some(text) => Some(Position::from_caller(run, view, &text.text())?),
        None => None,
    };
    let mut position = given.clone();
    let mut seen = HashSet::new();
    let mut records = Vec::new();
    let mut pages = 0u32;
    // Halved after a server error (when the definition says the vendor's 5xx means "too
    // slow"), for the rest of this listing; twice at most, so a vendor that is down gets
    // as many requests as a plain retry would send.
    let mut size_cap = page_max;
    let mut halvings = 0;
    let truncated = loop {
        // The last page is shortened so `next` continues exactly where this stops (a next
        // link keeps its own size: the records past `limit` are skipped on the way back).
        let page_size = (wanted - records.len()).min(size_cap);
        let mut request = page_request(run, list, position.as_ref(), page_size)?;
        let shrinking = list.halve_after_server_error && page_size > 1;
        if shrinking {
            request = request.no_repeat_on_server_errors();
        }
        let exchange = match run.call.upstream.call(&request, run.call.deadline).await {
            Err(UpstreamError::Unavailable(why)) if shrinking && halvings < MAX_HALVINGS => {
                size_cap = page_size / 2;
                halvings += 1;
                run.call
                    .upstream
                    .count_retry(&run.capability.name, "smaller_page");
                tracing::info!(
                    tenant = %run.call.tenant,
                    capability = %run.capability.name,
                    why,
                    size_cap,
                    "a page failed; asking for smaller pages"
                );
                continue;
            }
            result => result?,
        };
        if !exchange.status.is_success() {
            return Err(match run.refused(&[], &exchange) {
                Outcome::Done => {
                    UpstreamError::InvalidResponse(format!("{vendor} answered {}", exchange.status))
                        .into()
                }
                Outcome::Failed(error) => error.into(),
            });
        }
        let body = body_json(&exchange)?;
        let Some(Value::Array(page)) = list.records_at.get(&body) else {
            return Err(UpstreamError::InvalidResponse(
                "unexpected response body: no list of records".into(),
            )
            .into());
        };
        let model = &run.definition.models[view.model];
        let skip = match &position {
            Some(Position::Link { skip, .. }) => *skip,
            _ => 0,
        };
        let room = wanted - records.len();
        for record in page.iter().skip(skip).take(room) {
            records.push(map_record(model, record)?);
        }
        pages += 1;
        let unread = page.len().saturating_sub(skip + room);
        let next = if unread > 0 {
            // The answer ends inside this page: the next one starts at its first unread
            // record (only a next link, which keeps its own page size, gets here).
            match position.take() {
                Some(Position::Link { url, skip }) => Some(Position::Link {
                    url,
                    skip: skip + room,
                }),
                _ => None,
            }
        } else {
            next_position(run, list, &exchange, &body)?
        };
        position = next;
        if let Some(next) = &position {
            if !seen.insert(next.clone()) || given.as_ref() == Some(next) {
                return Err(UpstreamError::InvalidResponse(format!(
                    "{vendor} handed out a page cursor twice in one listing; stopped to avoid a loop"
                ))
                .into());
            }
        }
        if !all || position.is_none() {
            break false;
        }
        if records.len() >= wanted {
            break true;
        }
        if !run.call.upstream.rate_has_spare(&list.request.bucket) {
            tracing::info!(
                tenant = %run.call.tenant,
                capability = %run.capability.name,
                pages,
                "list stopped early: the tenant's rate limit is down to its reserve"
            );
            break true;
        }
    };
    let warnings = match &list.warn_if_empty {
        Some((unless_given, message))
            if records.is_empty() && !unless_given.iter().any(|name| run.given(name)) =>
        {
            vec![Value::String(message.clone())]
        }
        _ => Vec::new(),
    };
    let next = position.map(|position| position.to_caller(run, view));
    let mut answer = Object::default();
    answer.push_records(&view.field, records);
    answer.push(&"next".into(), next.map_or(Value::Null, Value::String));
    answer.push(&"truncated".into(), Value::Bool(truncated));
    answer.push(&"pages".into(), Value::from(pages));
    answer.push(&"warnings".into(), Value::Array(warnings));
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderMap;
    use reqwest::StatusCode;

    fn exchange_with_links(links: &[&str]) -> Exchange {
        let mut headers = HeaderMap::new();
        for link in links {
            headers.append(LINK, link.parse().unwrap());
        }
        Exchange {
            status: StatusCode::OK,
            headers,
            body: Default::default(),
        }
    }

    #[test]
    fn the_cursor_comes_from_the_next_link_on_the_same_origin_only() {
        let base = Url::parse("https://acme.okta.com").unwrap();
        let cursor =
            |links: &[&str]| next_cursor(&exchange_with_links(links), &base, "after", "Okta");
        assert_eq!(
            cursor(&[
                "<https://acme.okta.com/api/v1/users?limit=2>; rel=\"self\"",
                "<https://acme.okta.com/api/v1/users?after=00u2&limit=2>; rel=\"next\"",
            ])
            .unwrap()
            .as_deref(),
            Some("00u2")
        );
        let combined = "<https://acme.okta.com/api/v1/users?limit=2>; rel=\"self\", <https://acme.okta.com/api/v1/users?after=x%3D1&limit=2>; rel=\"next\"";
        assert_eq!(cursor(&[combined]).unwrap().as_deref(), Some("x=1"));
        assert_eq!(
            cursor(&["<https://acme.okta.com/api/v1/users>; rel=\"self\""]).unwrap(),
            None
        );
        for foreign in [
            "<https://evil.example/api/v1/users?after=1>; rel=\"next\"",
            "<http://acme.okta.com/api/v1/users?after=1>; rel=\"next\"",
            "<https://acme.okta.com:444/api/v1/users?after=1>; rel=\"next\"",
        ] {
            let error = cursor(&[foreign]).unwrap_err().to_string();
            assert!(error.contains("another origin"), "{foreign}: {error}");
        }
    }
}
