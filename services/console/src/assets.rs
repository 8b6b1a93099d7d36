//! The console's static files, embedded in the binary and served by the console itself
//! (no CDN): the vendored htmx (its sha256 recorded in `assets/SHA256SUMS`) and the one
//! stylesheet. Each is served under a name with its content hash, cached for a year as
//! immutable, and referenced with Subresource Integrity.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256, Sha384};

const HTMX: &[u8] = include_bytes!("../assets/htmx-2.0.11.min.js");
const HTMX_VERSION: &str = "2.0.11";
const CSS: &[u8] = include_bytes!("../assets/console.css");

/// htmx's settings, read from a `<meta>` (no inline script): nothing is ever evaluated
/// (`hx-on`, `js:` values, `<script>` in answers), requests go to this origin only, no
/// inline indicator styles (the CSP allows none), no copy of pages in sessionStorage
/// (they hold account data), and answers of every status are shown: the console's 4xx
/// pages carry the form with its errors.
pub const HTMX_CONFIG: &str = r#"{"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true,"includeIndicatorStyles":false,"historyCacheSize":0,"attributesToSettle":["class","width","height"],"refreshOnHistoryMiss":true,"responseHandling":[{"code":"204","swap":false},{"code":"...","swap":true}]}"#;

pub struct Asset {
    /// `/assets/<name>`.
    pub path: String,
    /// `sha384-…`, for the `integrity` attribute.
    pub integrity: String,
    bytes: &'static [u8],
    content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, bytes: &'static [u8], content_type: &'static str) -> Self {
        let hash = hex::encode(&Sha256::digest(bytes)[..6]);
        Self {
            path: format!("/assets/{stem}.{hash}.{extension}"),
            integrity: format!("sha384-{}", STANDARD.encode(Sha384::digest(bytes))),
            bytes,
            content_type,
        }
    }
}

pub struct Assets {
    pub htmx: Asset,
    pub css: Asset,
}

pub static ASSETS: LazyLock<Assets> = LazyLock::new(|| Assets {
    htmx: Asset::new(
        &format!("htmx-{HTMX_VERSION}"),
        "min.js",
        HTMX,
        "text/javascript; charset=utf-8",
    ),
    css: Asset::new("console", "css", CSS, "text/css; charset=utf-8"),
});

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    let path = format!("/assets/{name}");
    let Some(asset) = [&ASSETS.htmx, &ASSETS.css]
        .into_iter()
        .find(|asset| asset.path == path)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vendored file is the one whose hash `assets/SHA256SUMS` records.
    #[test]
    fn htmx_is_the_recorded_release() {
        let recorded = include_str!("../assets/SHA256SUMS");
        let line = recorded
            .lines()
            .find(|line| line.ends_with(&format!("htmx-{HTMX_VERSION}.min.js")))
            .expect("SHA256SUMS names the vendored htmx");
        let expected = line.split_whitespace().next().unwrap();
        assert_eq!(hex::encode(Sha256::digest(HTMX)), expected);
    }

    #[test]
    fn the_htmx_config_is_json_that_turns_evaluation_off() {
        let config: serde_json::Value = serde_json::from_str(HTMX_CONFIG).unwrap();
        assert_eq!(config["allowEval"], false);
        assert_eq!(config["allowScriptTags"], false);
        assert_eq!(config["selfRequestsOnly"], true);
    }
}
