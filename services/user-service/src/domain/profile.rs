use serde_json::{Map, Value};

/// Free-form profile data: a JSON object of bounded size and depth, without the keys the
/// account itself owns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile(Map<String, Value>);

impl Profile {
    pub const MAX_BYTES: usize = 16 * 1024;
    pub const MAX_DEPTH: usize = 8;
    pub const MAX_KEY_CHARS: usize = 64;
    /// Keys that are account fields, not profile data.
    pub const RESERVED: [&'static str; 8] = [
        "username",
        "password",
        "password_hash",
        "role",
        "avatar_url",
        "avatar_key",
        "created_at",
        "updated_at",
    ];

    /// Validates the object; errors are `(field, message)` pairs with the key as field.
    pub fn parse(data: Map<String, Value>) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        for (key, value) in &data {
            if Self::RESERVED.contains(&key.as_str()) {
                errors.push((key.clone(), "cannot be set through profile data".into()));
            } else if key.is_empty() || key.chars().count() > Self::MAX_KEY_CHARS {
                errors.push((
                    key.clone(),
                    format!(
                        "profile keys must be 1 to {} characters",
                        Self::MAX_KEY_CHARS
                    ),
                ));
            } else if depth(value) > Self::MAX_DEPTH {
                errors.push((
                    key.clone(),
                    format!("nested deeper than {} levels", Self::MAX_DEPTH),
                ));
            } else {
                check_storable(key, value, &mut errors);
            }
        }
        let size = serde_json::to_vec(&data)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            errors.push((
                "profile".into(),
                format!(
                    "profile data is {size} bytes; the limit is {}",
                    Self::MAX_BYTES
                ),
            ));
        }
        if errors.is_empty() {
            Ok(Self(data))
        } else {
            Err(errors)
        }
    }

    /// RFC 7396 merge at the top level: keys in `patch` replace, `null` removes.
    pub fn merged(&self, patch: &Profile) -> Map<String, Value> {
        let mut merged = self.0.clone();
        for (key, value) in &patch.0 {
            if value.is_null() {
                merged.remove(key);
            } else {
                merged.insert(key.clone(), value.clone());
            }
        }
        merged
    }

    pub fn into_inner(self) -> Map<String, Value> {
        self.0
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// What DynamoDB can store in a map attribute: nested keys are never empty, and numbers
/// are 0 or between 1e-130 and 1e126 in magnitude. Anything else would fail the write
/// (or, on some emulators, store an item that can no longer be read).
fn check_storable(path: &str, value: &Value, errors: &mut Vec<(String, String)>) {
    match value {
        Value::Number(number) => {
            let magnitude = number.as_f64().unwrap_or_default().abs();
            if magnitude != 0.0 && !(1e-130..1e126).contains(&magnitude) {
                errors.push((
                    path.to_owned(),
                    "numbers must be 0 or between 1e-130 and 1e126 in magnitude".into(),
                ));
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_storable(&format!("{path}[{index}]"), item, errors);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                if key.is_empty() {
                    errors.push((path.to_owned(), "keys must not be empty".into()));
                } else {
                    check_storable(&format!("{path}.{key}"), item, errors);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn accepts_nested_data() {
        let profile =
            Profile::parse(object(json!({"age": 36, "langs": ["en", {"fr": true}]}))).unwrap();
        assert_eq!(profile.as_map()["age"], 36);
    }

    #[test]
    fn rejects_reserved_keys_deep_nesting_and_size() {
        let errors = Profile::parse(object(json!({"role": "admin"}))).unwrap_err();
        assert_eq!(errors[0].0, "role");
        let deep = (0..10).fold(json!(1), |acc, _| json!([acc]));
        assert_eq!(
            Profile::parse(object(json!({"deep": deep}))).unwrap_err()[0].0,
            "deep"
        );
        let big = "x".repeat(Profile::MAX_BYTES);
        assert_eq!(
            Profile::parse(object(json!({"bio": big}))).unwrap_err()[0].0,
            "profile"
        );
    }

    #[test]
    fn rejects_what_dynamodb_cannot_store_naming_the_path() {
        let errors = Profile::parse(object(json!({
            "a": {"": {"x": 1}},
            "big": -7.2e276,
            "list": [1, {"tiny": 1e-200}],
        })))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(fields, ["a", "big", "list[1].tiny"]);
        assert!(Profile::parse(object(json!({"n": [0, -1e125, 1e-130, u64::MAX]}))).is_ok());
    }

    #[test]
    fn merge_replaces_and_null_removes() {
        let base = Profile::parse(object(json!({"a": 1, "b": 2}))).unwrap();
        let patch = Profile::parse(object(json!({"b": null, "c": 3}))).unwrap();
        assert_eq!(Value::Object(base.merged(&patch)), json!({"a": 1, "c": 3}));
    }
}
