//! One check that every list route runs (svix's `common_test_list`): paging to the end
//! sees every item once, the page size stays within its bounds, and a cursor the API did
//! not hand out is a 400 naming the cursor's parameter.

use reqwest::StatusCode;
use serde_json::Value;

use crate::caller::Caller;
use crate::http::{assert_json, assert_problem, next_link};

/// How a list route answers one page.
#[derive(Clone, Copy, Debug)]
pub enum PageShape {
    /// `{"<items>": [..], "next": "<cursor>"}`, `next` absent on the last page.
    Envelope { items: &'static str },
    /// A bare JSON array, the next page named by `Link: <path>; rel="next"` (the user
    /// directory and the legacy `/ap1` routes, as the original services answered).
    LinkHeader,
}

/// A list route, as [`check_listing`] reads it.
#[derive(Clone, Debug)]
pub struct Listing {
    /// The route, with its own query if it has one (`/api/v1/sales/orders?customer=..`).
    pub path: String,
    pub shape: PageShape,
    /// The cursor's query parameter: `next`, or `after` on the user directory.
    pub cursor: &'static str,
    /// The largest `limit` the route takes; `None` for a route without `limit` (the
    /// legacy `/ap1` listings, whose page size is a setting).
    pub max_limit: Option<u32>,
    /// What identifies an item (its id, code or e-mail address).
    pub key: fn(&Value) -> Option<String>,
}

impl Listing {
    fn with_query(&self, query: &str) -> String {
        let separator = if self.path.contains('?') { '&' } else { '?' };
        format!("{}{separator}{query}", self.path)
    }
}

/// Runs the listing checks on `listing` as `caller`, after the test created the items
/// whose keys are `created` (others may be listed too, e.g. an admin account):
/// - paging to the end, two at a time (or at the route's own page size without `limit`),
///   lists every created item, none twice, and stops;
/// - `limit` 0, one over the maximum and a word are refused naming `limit`; the maximum
///   is taken;
/// - a cursor the API never handed out is a 400 naming the cursor's parameter.
///
/// Returns the pages, for the route's own assertions on their items.
pub async fn check_listing(
    caller: &Caller,
    listing: &Listing,
    created: &[&str],
) -> Vec<Vec<Value>> {
    let pages = every_page(caller, listing).await;
    let mut seen = Vec::new();
    for item in pages.iter().flatten() {
        if let Some(key) = (listing.key)(item) {
            assert!(!seen.contains(&key), "{key} listed twice: {pages:?}");
            seen.push(key);
        }
    }
    for key in created {
        assert!(
            seen.iter().any(|seen| seen == key),
            "{key} never listed: {pages:?}"
        );
    }

    if let Some(max) = listing.max_limit {
        for (limit, status) in [
            ("0".to_owned(), StatusCode::UNPROCESSABLE_ENTITY),
            ((max + 1).to_string(), StatusCode::UNPROCESSABLE_ENTITY),
            ("many".to_owned(), StatusCode::BAD_REQUEST),
        ] {
            let path = listing.with_query(&format!("limit={limit}"));
            let response = caller.get(&path).await;
            assert_eq!(response.status(), status, "GET {path}");
            assert_problem(response, status, Some("limit")).await;
        }
        let path = listing.with_query(&format!("limit={max}"));
        let response = caller.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        assert_json(response, StatusCode::OK).await;
    }

    let garbage = listing.with_query(&format!("{}=garbage!", listing.cursor));
    let response = caller.get(&garbage).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "GET {garbage}");
    assert_problem(response, StatusCode::BAD_REQUEST, Some(listing.cursor)).await;
    pages
}

/// Every page of the listing from the first on, two items a page where it takes `limit`.
async fn every_page(caller: &Caller, listing: &Listing) -> Vec<Vec<Value>> {
    let page_size = listing.max_limit.map(|_| 2);
    let mut path = Some(match page_size {
        Some(size) => listing.with_query(&format!("limit={size}")),
        None => listing.path.clone(),
    });
    let mut pages: Vec<Vec<Value>> = Vec::new();
    while let Some(current) = path.take() {
        let response = caller.get(&current).await;
        let link = next_link(&response);
        let body = assert_json(response, StatusCode::OK).await;
        let (items, next) = match listing.shape {
            PageShape::Envelope { items } => (
                body[items].clone(),
                body["next"].as_str().map(|cursor| {
                    let limit = page_size
                        .map(|size| format!("limit={size}&"))
                        .unwrap_or_default();
                    listing.with_query(&format!("{limit}{}={cursor}", listing.cursor))
                }),
            ),
            PageShape::LinkHeader => (body, link),
        };
        let items = items.as_array().expect("a page is a JSON array").clone();
        if let Some(size) = page_size {
            assert!(items.len() <= size, "a page of at most {size}: {items:?}");
        }
        pages.push(items);
        path = next;
        assert!(pages.len() <= 100, "paging ends: {pages:?}");
    }
    pages
}
