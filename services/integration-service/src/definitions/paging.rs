//! Lists: one page, or with `all=true` the vendor's largest pages until the caller's
//! `limit` (held to the service's cap), the last page, or the tenant's rate limit down to
//! its reserve (one caller's listing must not spend what the tenant's other calls need).
//! Next links are followed only on the base URL's origin, and a cursor seen before in the
//! same listing ends it as an invalid answer (the loop guard).
use std::collections::HashSet;

use reqwest::header::LINK;
use serde_json::Value;
use url::Url;

use super::answer::{body_json, map_record, Object};
use super::compiled::List;
use super::errors::Outcome;
use super::params::ParamValue;
use super::run::Run;
use crate::error::ApiError;
use crate::upstream::{Exchange, UpstreamError};

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
    let url = base.join(&link).map_err(|_| {
        UpstreamError::InvalidResponse(format!("{vendor}'s next link is not a URL"))
    })?;
    if url.origin() != base.origin() {
        return Err(UpstreamError::InvalidResponse(format!(
            "{vendor}'s next link leads to another origin ({}); not followed",
            url.origin().ascii_serialization()
        )));
    }
    Ok(url
        .query_pairs()
        .find(|(name, _)| name == parameter)
        .map(|(_, value)| value.into_owned()))
}

/// The tenant setting that caps `all=true` answers of a declared list.
pub const LIST_ALL_MAX: &str = "list_all_max";

/// How often one listing asks for smaller pages after server errors.
const MAX_HALVINGS: u32 = 2;

pub async fn list(run: &Run<'_>, list: &List) -> Result<Object, ApiError> {
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
    let given_cursor = run.values.get(&list.caller_cursor).map(ParamValue::text);
    let mut cursor = given_cursor.clone();
    let mut seen = HashSet::new();
    let mut records = Vec::new();
    let mut pages = 0u32;
    // Halved after a server error (when the definition says the vendor's 5xx means "too
    // slow"), for the rest of this listing; twice at most, so a vendor that is down gets
    // as many requests as a plain retry would send.
    let mut size_cap = page_max;
    let mut halvings = 0;
    let truncated = loop {
        // The last page is shortened so `next` continues exactly where this stops.
        let page_size = (wanted - records.len()).min(size_cap);
        let mut extra = vec![(list.size_param.clone(), page_size.to_string())];
        if let Some(cursor) = &cursor {
            extra.push((list.vendor_cursor.clone(), cursor.clone()));
        }
        for spec in &run.capability.params {
            if let (Some(query), Some(value)) = (&spec.query, run.values.get(&spec.name)) {
                extra.push((query.clone(), value.text()));
            }
        }
        let mut request = run.request(&list.request, extra, true);
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
        let model = &run.definition.models[list.model];
        for record in page {
            records.push(map_record(model, record)?);
        }
        pages += 1;
        cursor = next_cursor(
            &exchange,
            run.call.upstream.base_url(),
            &list.vendor_cursor,
            vendor,
        )?;
        if let Some(next) = &cursor {
            if !seen.insert(next.clone()) || given_cursor.as_ref() == Some(next) {
                return Err(UpstreamError::InvalidResponse(format!(
                    "{vendor} handed out a page cursor twice in one listing; stopped to avoid a loop"
                ))
                .into());
            }
        }
        if !all || cursor.is_none() {
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
    let mut answer = Object::default();
    answer.push_records(&list.field, records);
    answer.push(&"next".into(), cursor.map_or(Value::Null, Value::String));
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
