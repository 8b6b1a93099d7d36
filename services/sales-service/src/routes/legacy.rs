//! How the old-style paths (`/ap1/v1/sales/...`, with its typo) answer, as the original
//! Django REST Framework API did: listings are bare arrays of every record (up to
//! `LEGACY_LIST_MAX_ITEMS`, then a `Link: rel="next"`), and each response names its successor
//! (`Deprecation` and `Link` headers). The deprecated routes themselves sit beside their
//! successors, in `customers.rs` and `orders.rs`, marked `#[deprecated]` and tagged
//! `deprecated` in the spec.

use std::future::Future;

use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use common::aws::dynamo::Page;
use common::extract::Json;
use common::paging::PageQuery;
use serde::Serialize;

use super::listed;
use crate::error::ApiError;
use crate::store::StoreError;

/// Tells a client this path is deprecated and where its successor is (RFC 9745, RFC 8288).
pub(super) fn successor(response: impl IntoResponse, path: &'static str) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("deprecation"),
        HeaderValue::from_static("true"),
    );
    if let Ok(link) = HeaderValue::from_str(&format!("<{path}>; rel=\"successor-version\"")) {
        headers.append(header::LINK, link);
    }
    response
}

/// Reads page after page from the client's cursor (`next`) until the listing ends or `cap`
/// records are in hand; returns them and, when the cap cut the listing short, the cursor
/// where it resumes.
pub(super) async fn up_to<T, Fut>(
    cap: usize,
    sent: &PageQuery,
    mut page: impl FnMut(i32, Option<String>) -> Fut,
) -> Result<(Vec<T>, Option<String>), ApiError>
where
    Fut: Future<Output = Result<Page<T>, StoreError>>,
{
    let mut records = Vec::new();
    let mut after = sent.cursor().map(str::to_owned);
    while records.len() < cap {
        let wanted = i32::try_from(cap - records.len()).unwrap_or(i32::MAX);
        let next = listed(sent, page(wanted, after).await)?;
        records.extend(next.items);
        after = next.next;
        if after.is_none() {
            break;
        }
    }
    Ok((records, after))
}

/// A bare JSON array, with a `Link: rel="next"` to `path` + the cursor when there is more.
pub(super) fn every_record(
    records: &impl Serialize,
    rest: Option<String>,
    path: String,
) -> Response {
    let mut response = Json(records).into_response();
    if let Some(cursor) = rest {
        let separator = if path.contains('?') { '&' } else { '?' };
        let link = format!("<{path}{separator}next={cursor}>; rel=\"next\"");
        if let Ok(link) = HeaderValue::from_str(&link) {
            response.headers_mut().append(header::LINK, link);
        }
    }
    response
}
