//! The values of a definition: JSON Pointers into a vendor's JSON (RFC 6901, plus `*` for
//! every element of an array where a list is wanted) and `{name}` templates (the syntax of
//! `common::template`). Both are parsed when the definition loads, so a mistake stops the
//! start instead of showing up in an answer.
use common::template::{self, Part};
use serde_json::Value;

/// A parsed JSON Pointer: its reference tokens, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer(Vec<String>);

impl Pointer {
    /// `""` is the whole document; otherwise `/`-separated tokens, `~0` for `~` and `~1`
    /// for `/` (RFC 6901 section 3). `*` is allowed only where `wildcard` says so.
    pub fn parse(text: &str, wildcard: bool) -> Result<Self, String> {
        if text.is_empty() {
            return Ok(Self(Vec::new()));
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err(format!(
                "`{text}` is not a JSON Pointer: it must start with `/`"
            ));
        };
        let mut tokens = Vec::new();
        for raw in rest.split('/') {
            let mut token = String::new();
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                match (c, c == '~') {
                    (_, true) => match chars.next() {
                        Some('0') => token.push('~'),
                        Some('1') => token.push('/'),
                        _ => return Err(format!("`{text}`: `~` must be followed by 0 or 1")),
                    },
                    (c, false) => token.push(c),
                }
            }
            if token == "*" && !wildcard {
                return Err(format!("`{text}`: `*` is allowed only in error `causes`"));
            }
            tokens.push(token);
        }
        Ok(Self(tokens))
    }

    /// The one value it points at.
    pub fn get<'a>(&self, document: &'a Value) -> Option<&'a Value> {
        self.0
            .iter()
            .try_fold(document, |value, token| match value {
                Value::Object(object) => object.get(token),
                Value::Array(items) => items.get(token.parse::<usize>().ok()?),
                _ => None,
            })
    }

    /// Every value it points at (`*` fans out over an array's elements).
    pub fn all<'a>(&self, document: &'a Value) -> Vec<&'a Value> {
        let mut values = vec![document];
        for token in &self.0 {
            values = values
                .into_iter()
                .flat_map(|value| -> Vec<&Value> {
                    match (value, token.as_str()) {
                        (Value::Array(items), "*") => items.iter().collect(),
                        _ => Pointer(vec![token.clone()])
                            .get(value)
                            .into_iter()
                            .collect(),
                    }
                })
                .collect();
        }
        values
    }
}

/// What a placeholder names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    /// A parameter of the capability, or a value a step captured.
    Value(String),
    /// A tenant setting (`settings.base_url`).
    Setting(String),
    /// While mapping an error answer: `status`, `error.code`, `error.message`,
    /// `error.id`, `challenge.scope`.
    Error(ErrorPart),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorPart {
    Status,
    Code,
    Message,
    Id,
    ChallengeScope,
}

#[derive(Debug, Clone)]
pub struct Template(Vec<Part<Name>>);

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        template::parse(text, |name| {
            let error = |part| Ok(Name::Error(part));
            match name {
                "status" => error(ErrorPart::Status),
                "error.code" => error(ErrorPart::Code),
                "error.message" => error(ErrorPart::Message),
                "error.id" => error(ErrorPart::Id),
                "challenge.scope" => error(ErrorPart::ChallengeScope),
                _ => match name.split_once('.') {
                    Some(("settings", setting)) if plain(setting) => {
                        Ok(Name::Setting(setting.to_owned()))
                    }
                    None if plain(name) => Ok(Name::Value(name.to_owned())),
                    _ => Err(format!(
                        "`{{{name}}}` names nothing a definition can use (a parameter or \
                         captured value, settings.*, status, error.code, error.message, \
                         error.id, challenge.scope)"
                    )),
                },
            }
        })
        .map(Self)
    }

    pub fn names(&self) -> impl Iterator<Item = &Name> {
        self.0.iter().filter_map(|part| match part {
            Part::Placeholder(name) => Some(name),
            Part::Text(_) => None,
        })
    }

    /// The text with each placeholder replaced by what `lookup` gives (nothing: empty).
    pub fn render(&self, mut lookup: impl FnMut(&Name) -> Option<String>) -> String {
        self.render_with(|name| lookup(name), |value| value)
    }

    /// Like [`Template::render`], each value passed through `encode` (the text is not).
    pub fn render_with(
        &self,
        mut lookup: impl FnMut(&Name) -> Option<String>,
        mut encode: impl FnMut(String) -> String,
    ) -> String {
        let mut text = String::new();
        for part in &self.0 {
            match part {
                Part::Text(literal) => text.push_str(literal),
                Part::Placeholder(name) => text.push_str(&encode(lookup(name).unwrap_or_default())),
            }
        }
        text
    }
}

/// A name of a parameter, setting or captured value: lowercase letters, digits and `_`.
pub fn plain(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A value as one path segment: every byte but RFC 3986's unreserved ones percent-encoded,
/// so `/`, `?`, `#` and `%` cannot change which resource is meant. `.` and `..` are refused
/// by the caller: URL parsers would resolve them.
pub fn path_segment(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Whether a value would be a dot segment once in a path (RFC 3986 section 5.2.4; the
/// WHATWG URL standard also reads `%2e` as a dot).
pub fn is_dot_segment(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_follow_rfc_6901_and_fan_out_on_a_star() {
        let doc = json!({"a/b": {"m~n": 1}, "list": [{"x": "one"}, {"x": "two"}], "@odata.nextLink": "u"});
        assert_eq!(
            Pointer::parse("/a~1b/m~0n", false).unwrap().get(&doc),
            Some(&json!(1))
        );
        assert_eq!(
            Pointer::parse("/list/1/x", false).unwrap().get(&doc),
            Some(&json!("two"))
        );
        assert_eq!(
            Pointer::parse("/@odata.nextLink", false).unwrap().get(&doc),
            Some(&json!("u"))
        );
        assert_eq!(Pointer::parse("", false).unwrap().get(&doc), Some(&doc));
        let all = Pointer::parse("/list/*/x", true).unwrap();
        assert_eq!(all.all(&doc), [&json!("one"), &json!("two")]);
        assert!(Pointer::parse("list", false).is_err());
        assert!(Pointer::parse("/a~2", false).is_err());
        assert!(Pointer::parse("/list/*", false).is_err());
    }

    #[test]
    fn templates_name_only_what_a_definition_has() {
        let template = Template::parse("{settings.base_url}/users/{user_id}?{{x}}").unwrap();
        let names: Vec<&Name> = template.names().collect();
        assert_eq!(
            names,
            [
                &Name::Setting("base_url".into()),
                &Name::Value("user_id".into())
            ]
        );
        let text = template.render(|name| match name {
            Name::Setting(_) => Some("https://acme.okta.com".into()),
            _ => Some("00u1".into()),
        });
        assert_eq!(text, "https://acme.okta.com/users/00u1?{x}");
        for bad in ["{env.HOME}", "{secrets.key}", "{User}", "{a.b.c}", "{"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_path_value_stays_one_segment() {
        assert_eq!(path_segment("00u1-_.~"), "00u1-_.~");
        assert_eq!(path_segment("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(path_segment("é"), "%C3%A9");
        for dots in [".", "..", "%2E", "%2e%2E", ".%2e"] {
            assert!(is_dot_segment(dots), "{dots}");
        }
        assert!(!is_dot_segment("..."));
    }
}
