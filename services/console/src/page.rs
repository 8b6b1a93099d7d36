//! How a page reaches the browser: the layout's context ([`Chrome`]), rendering
//! ([`Page`]), the result messages after a form ([`Notice`]), redirects, and how times
//! read ([`When`]). It knows nothing of sessions or services: `web.rs` resolves who is
//! asking, `error.rs` renders failures with these same pieces.

use askama::Template;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::assets::Assets;

/// Who is signed in, as the layout shows it.
#[derive(Debug, Clone)]
pub enum Who {
    Anonymous,
    Account { username: String },
    Operator { name: String },
}

/// The layout's context: the person, the section (for the navigation's current page), the
/// result message of the last action, the assets.
pub struct Chrome {
    pub who: Who,
    pub section: &'static str,
    pub notice: Option<&'static str>,
    pub assets: &'static Assets,
    pub htmx_config: &'static str,
}

impl Chrome {
    pub fn operator_name(&self) -> Option<&str> {
        match &self.who {
            Who::Operator { name } => Some(name),
            _ => None,
        }
    }

    pub fn account_name(&self) -> Option<&str> {
        match &self.who {
            Who::Account { username } => Some(username),
            _ => None,
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self.who, Who::Anonymous)
    }

    /// `aria-current="page"` for the navigation entry of `section`.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            r#" aria-current="page""#
        } else {
            ""
        }
    }
}

/// A rendered page and its status.
pub struct Page<T>(pub StatusCode, pub T);

impl<T: Template> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        match self.1.render() {
            Ok(html) => (
                self.0,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            // Not through ConsoleError: its page is a template too.
            Err(error) => {
                tracing::error!(%error, "a template failed to render");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    "The console failed to show this page; the failure is logged.",
                )
                    .into_response()
            }
        }
    }
}

/// 200 with the page.
pub fn page<T: Template>(template: T) -> Page<T> {
    Page(StatusCode::OK, template)
}

/// The message shown after an action, named in the redirect's `done=` (a fixed list, so no
/// text of a URL ever reaches a page).
pub struct Notice;

impl Notice {
    pub fn text(key: &str) -> Option<&'static str> {
        Some(match key {
            "signed-up" => "Welcome! Your account is ready.",
            "logged-in" => "You are logged in.",
            "logged-out" => "You are logged out.",
            "updated" => "Your changes are saved.",
            "avatar" => "Your new picture is saved.",
            "deleted-self" => "Your account is deleted. Goodbye.",
            "expired" => "Your session ended. Log in again to go on.",
            "signed-in" => "You are signed in as an operator.",
            "signed-out" => "You are signed out.",
            "customer-created" => "The customer is created.",
            "order-created" => "The order is created; its SMS is on its way.",
            "suspended" => "The user is suspended.",
            "user-deleted" => "The user is deleted.",
            "account-deleted" => "The account is deleted.",
            _ => return None,
        })
    }
}

/// 303 to `location` (a path of this console): after a form, the browser shows the result
/// with a GET, so reloading never sends the form again.
pub fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// [`see_other`] that also sets (or clears) the session cookie.
pub fn see_other_with_cookie(location: &str, cookie: HeaderValue) -> Response {
    let mut response = see_other(location);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// `path` if it is a path of this console (`/x`, not `//host` or a URL), else `/`: where to
/// go after signing in, never another site.
pub fn local_path(path: &str) -> &str {
    let local = path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && !path.chars().any(|c| c.is_control());
    if local {
        path
    } else {
        "/"
    }
}

/// A moment as a page shows it: an absolute time (UTC) and how long ago.
pub struct When {
    /// RFC 3339, for `<time datetime>`.
    pub iso: String,
    pub absolute: String,
    pub relative: String,
}

impl When {
    /// From an RFC 3339 text; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()?;
        Some(Self::at(at))
    }

    pub fn at(at: time::OffsetDateTime) -> Self {
        let utc = at.to_offset(time::UtcOffset::UTC);
        let format = time::macros::format_description!(
            "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
        );
        Self {
            iso: utc
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            absolute: utc.format(&format).unwrap_or_default(),
            relative: relative(time::OffsetDateTime::now_utc() - utc),
        }
    }
}

/// "3 minutes ago", "in 2 hours", "just now".
fn relative(elapsed: time::Duration) -> String {
    let seconds = elapsed.whole_seconds();
    let (amount, ago) = (seconds.unsigned_abs(), seconds >= 0);
    let (count, unit) = match amount {
        0..=59 => return "just now".to_owned(),
        60..=3599 => (amount / 60, "minute"),
        3600..=86_399 => (amount / 3600, "hour"),
        86_400..=5_183_999 => (amount / 86_400, "day"),
        5_184_000..=31_535_999 => (amount / 2_592_000, "month"),
        _ => (amount / 31_536_000, "year"),
    };
    let plural = if count == 1 { "" } else { "s" };
    if ago {
        format!("{count} {unit}{plural} ago")
    } else {
        format!("in {count} {unit}{plural}")
    }
}

/// True when the request came from htmx (a boosted link or form, or a poll).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers
        .get("hx-request")
        .is_some_and(|v| v == HeaderValue::from_static("true"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for ok in ["/", "/ops/orders?sms_status=failed", "/account"] {
            assert_eq!(local_path(ok), ok);
        }
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "evil",
            "/a\nb",
            "",
        ] {
            assert_eq!(local_path(bad), "/", "{bad:?}");
        }
    }

    #[test]
    fn times_read_absolute_and_relative() {
        let when = When::at(time::OffsetDateTime::now_utc() - time::Duration::minutes(3));
        assert_eq!(when.relative, "3 minutes ago");
        assert!(when.absolute.ends_with("UTC"), "{}", when.absolute);
        assert_eq!(relative(time::Duration::hours(-2)), "in 2 hours");
        assert_eq!(relative(time::Duration::seconds(5)), "just now");
        assert_eq!(relative(time::Duration::days(1069)), "2 years ago");
        assert_eq!(relative(time::Duration::days(75)), "2 months ago");
        assert!(When::parse("yesterday").is_none());
    }

    #[test]
    fn notices_come_from_a_fixed_list() {
        assert!(Notice::text("signed-up").is_some());
        assert!(Notice::text("<script>").is_none());
    }
}
