//! A form's problems as a person reads them: the services' RFC 9457 bodies turned into a
//! message under each field at fault (by the problem's `errors[].field`) and a summary at
//! the top that links to those fields; problems with no field of the form become sentences
//! in the summary.

use common::error::Problem;

use crate::upstream::UpstreamError;

/// One line of the summary: the field it links to (if any) and the sentence.
pub struct SummaryLine {
    pub anchor: Option<String>,
    pub text: String,
}

#[derive(Default)]
pub struct FormErrors {
    /// (form field id, message).
    fields: Vec<(String, String)>,
    general: Vec<String>,
}

impl FormErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// The message under `field`, if it has one.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, message)| message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    pub fn field(&mut self, field: &str, message: impl Into<String>) {
        self.fields.push((field.to_owned(), message.into()));
    }

    pub fn general(&mut self, message: impl Into<String>) {
        self.general.push(message.into());
    }

    /// The summary at the top of the form: each field's problem (with its label), then the
    /// rest.
    pub fn summary(&self, labels: &[(&str, &str)]) -> Vec<SummaryLine> {
        let label = |field: &str| {
            labels
                .iter()
                .find(|(name, _)| *name == field)
                .map_or(field, |(_, label)| *label)
                .to_owned()
        };
        self.fields
            .iter()
            .map(|(field, message)| SummaryLine {
                anchor: Some(field.clone()),
                text: format!("{}: {message}", label(field)),
            })
            .chain(self.general.iter().map(|text| SummaryLine {
                anchor: None,
                text: text.clone(),
            }))
            .collect()
    }

    /// The problems a service answered for a form whose inputs are named `fields` (a
    /// service's field name maps to the form field of the same name, or of its first path
    /// segment: `profile.about` is the `about` box). Returns `Err` for failures that are no
    /// fault of the form (the page shows those as an error page).
    pub fn from_upstream(error: UpstreamError, fields: &[&str]) -> Result<Self, UpstreamError> {
        let UpstreamError::Problem {
            service,
            problem,
            retry_after,
        } = error
        else {
            return Err(error);
        };
        // 401/403/5xx are about the person's session or the service, not this form.
        if matches!(problem.status, 401 | 403) || problem.status >= 500 {
            return Err(UpstreamError::Problem {
                service,
                problem,
                retry_after,
            });
        }
        let mut errors = Self::new();
        errors.add_problem(&problem, fields, retry_after);
        Ok(errors)
    }

    fn add_problem(
        &mut self,
        problem: &Problem,
        fields: &[&str],
        retry_after: Option<std::time::Duration>,
    ) {
        for error in &problem.errors {
            let leaf = error.field.rsplit('.').next().unwrap_or(&error.field);
            match fields.iter().find(|f| **f == error.field || **f == leaf) {
                Some(field) => self.field(field, sentence(&error.message)),
                None => self.general(format!("{}: {}", error.field, error.message)),
            }
        }
        if problem.errors.is_empty() {
            let mut text = problem
                .detail
                .clone()
                .unwrap_or_else(|| problem.title.clone());
            if let Some(wait) = retry_after {
                text.push_str(&format!(" Try again in {} seconds.", wait.as_secs().max(1)));
            }
            self.general(text);
        }
    }
}

/// A service's field message as a sentence: capitalised, ending with a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn problem(status: StatusCode) -> UpstreamError {
        UpstreamError::Problem {
            service: "user-service",
            problem: Box::new(
                Problem::new(status)
                    .field("username", "must be 3-32 characters")
                    .field("profile.about", "is too long")
                    .field("mystery", "is odd"),
            ),
            retry_after: None,
        }
    }

    #[test]
    fn field_problems_go_under_their_fields_and_the_rest_to_the_summary() {
        let errors = FormErrors::from_upstream(
            problem(StatusCode::UNPROCESSABLE_ENTITY),
            &["username", "about"],
        )
        .unwrap();
        assert_eq!(errors.get("username"), Some("Must be 3-32 characters."));
        assert_eq!(errors.get("about"), Some("Is too long."));
        let summary = errors.summary(&[("username", "Username")]);
        assert_eq!(summary[0].text, "Username: Must be 3-32 characters.");
        assert_eq!(summary[0].anchor.as_deref(), Some("username"));
        assert_eq!(summary[2].text, "mystery: is odd");
        assert!(summary[2].anchor.is_none());
    }

    #[test]
    fn session_and_service_failures_are_not_the_forms_fault() {
        for status in [
            StatusCode::UNAUTHORIZED,
            StatusCode::FORBIDDEN,
            StatusCode::BAD_GATEWAY,
        ] {
            assert!(FormErrors::from_upstream(problem(status), &["username"]).is_err());
        }
    }
}
