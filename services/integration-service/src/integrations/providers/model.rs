//! The partner's provider records: how a tenant's partner names map onto our
//! [`Provider`] (the record the store keeps), and the validation every record passes
//! before it is stored. Validation collects every field at fault, so the run summary says
//! all that is wrong with a record at once.
use std::collections::BTreeMap;

use common::template::{self, Part};
use common::FieldError;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::store::Provider;

/// Our provider fields, as the partner's records must yield them.
pub const FIELDS: [&str; 6] = ["id", "name", "specialty", "npi", "phone", "city"];

/// A tenant's `fields` setting: for some of our fields, a template over the partner's
/// record (`"name": "{first_name} {last_name}"`, `"city": "{address.city}"`); every other
/// field is read under its own name, so no mapping at all is today's model. A template is
/// rendered as text (numbers and booleans as written); a placeholder that is missing or
/// null leaves the field absent; one that holds an object or array is passed on, for
/// validation to refuse as not text.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "BTreeMap<String, String>")]
pub struct FieldMapping(BTreeMap<String, Vec<Part<Vec<String>>>>);

impl TryFrom<BTreeMap<String, String>> for FieldMapping {
    type Error = String;

    fn try_from(templates: BTreeMap<String, String>) -> Result<Self, String> {
        templates
            .into_iter()
            .map(|(field, text)| {
                if !FIELDS.contains(&field.as_str()) {
                    return Err(format!(
                        "`{field}` is not a provider field (one of {})",
                        FIELDS.join(", ")
                    ));
                }
                let parts = template::parse(&text, |path| {
                    let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
                    if segments.iter().any(String::is_empty) {
                        return Err(format!(
                            "`{{{path}}}` names no field of the partner's record"
                        ));
                    }
                    Ok(segments)
                })
                .map_err(|error| format!("{field}: {error}"))?;
                Ok((field, parts))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

impl FieldMapping {
    /// The partner's record in our field names.
    fn apply(&self, record: &Map<String, Value>) -> Map<String, Value> {
        let mut mapped = Map::new();
        for field in FIELDS {
            let value = match self.0.get(field) {
                None => record.get(field).cloned(),
                Some(parts) => render(parts, record),
            };
            if let Some(value) = value {
                mapped.insert(field.to_owned(), value);
            }
        }
        mapped
    }
}

fn render(parts: &[Part<Vec<String>>], record: &Map<String, Value>) -> Option<Value> {
    let mut text = String::new();
    for part in parts {
        match part {
            Part::Text(literal) => text.push_str(literal),
            Part::Placeholder(path) => {
                let mut value = record.get(&path[0]);
                for segment in &path[1..] {
                    value = value.and_then(|inner| inner.get(segment));
                }
                match value {
                    None | Some(Value::Null) => return None,
                    Some(Value::String(value)) => text.push_str(value),
                    Some(scalar @ (Value::Number(_) | Value::Bool(_))) => {
                        text.push_str(&scalar.to_string())
                    }
                    Some(not_text) => return Some(not_text.clone()),
                }
            }
        }
    }
    Some(Value::String(text))
}

/// The records of a partner response: a JSON array, or an object holding one under
/// `providers` or `data`. Anything else is an invalid (e.g. truncated) response.
pub fn records(body: &[u8]) -> Result<Vec<Value>, String> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|error| format!("the response is not complete JSON ({error})"))?;
    match json {
        Value::Array(records) => Ok(records),
        Value::Object(mut object) => {
            match object.remove("providers").or_else(|| object.remove("data")) {
                Some(Value::Array(records)) => Ok(records),
                _ => Err("the response holds no list of providers".into()),
            }
        }
        _ => Err("the response is not a list of providers".into()),
    }
}

fn text<'a>(
    record: &'a Map<String, Value>,
    field: &str,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match record.get(field) {
        None | Some(Value::Null) if required => {
            errors.push(FieldError::new(field, "is missing"));
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(value)) if value.trim().is_empty() && required => {
            errors.push(FieldError::new(field, "is empty"));
            None
        }
        Some(Value::String(value)) if value.len() > 500 => {
            errors.push(FieldError::new(field, "is longer than 500 characters"));
            None
        }
        Some(Value::String(value)) => Some(value.trim()).filter(|v| !v.is_empty()),
        Some(_) => {
            errors.push(FieldError::new(field, "must be a string"));
            None
        }
    }
}

/// Maps one record with the tenant's `mapping` and validates it. On failure: the record's
/// id when it had a usable one, and every field at fault.
pub fn validate(
    record: &Value,
    mapping: &FieldMapping,
) -> Result<Provider, (Option<String>, Vec<FieldError>)> {
    let Some(record) = record.as_object() else {
        return Err((None, vec![FieldError::new("record", "must be an object")]));
    };
    let object = &mapping.apply(record);
    let mut errors = Vec::new();
    let id = text(object, "id", true, &mut errors);
    if let Some(id) = id {
        if id.len() > 128
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        {
            errors.push(FieldError::new(
                "id",
                "must be 1-128 letters, digits or -_.:",
            ));
        }
    }
    let name = text(object, "name", true, &mut errors);
    let specialty = text(object, "specialty", true, &mut errors);
    let npi = text(object, "npi", false, &mut errors);
    if let Some(npi) = npi {
        if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
            errors.push(FieldError::new("npi", "must be 10 digits"));
        }
    }
    let phone = text(object, "phone", false, &mut errors);
    let city = text(object, "city", false, &mut errors);
    match (id, name, specialty) {
        (Some(id), Some(name), Some(specialty)) if errors.is_empty() => Ok(Provider {
            id: id.to_owned(),
            name: name.to_owned(),
            specialty: specialty.to_owned(),
            npi: npi.map(str::to_owned),
            phone: phone.map(str::to_owned),
            city: city.map(str::to_owned),
        }),
        _ => Err((id.map(str::to_owned), errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_complete_record_becomes_a_provider() {
        let provider = validate(
            &json!({
                "id": "p-1", "name": "Dr. Ada Lovelace", "specialty": "cardiology",
                "npi": "1234567890", "phone": null, "extra": [1, 2]
            }),
            &FieldMapping::default(),
        )
        .unwrap();
        assert_eq!(provider.id, "p-1");
        assert_eq!(provider.npi.as_deref(), Some("1234567890"));
        assert_eq!(provider.phone, None);
    }

    #[test]
    fn every_fault_of_a_record_is_named() {
        let (id, errors) = validate(
            &json!({"id": "p-2", "name": "", "npi": 12, "city": "x".repeat(501)}),
            &FieldMapping::default(),
        )
        .unwrap_err();
        assert_eq!(id.as_deref(), Some("p-2"));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "specialty", "npi", "city"]);
        let (id, errors) = validate(&json!("not an object"), &FieldMapping::default()).unwrap_err();
        assert!(id.is_none() && errors[0].field == "record");
    }

    fn mapping(templates: Value) -> Result<FieldMapping, String> {
        serde_json::from_value(templates).map_err(|error| error.to_string())
    }

    #[test]
    fn templates_map_any_record_shape_onto_the_model() {
        let fields = mapping(json!({
            "id": "{id}", "name": "{first_name} {last_name}", "specialty": "{specialty}",
            "npi": "{npi}", "city": "{address.city}"
        }))
        .unwrap();
        let provider = validate(
            &json!({"id": 7, "first_name": "Ada", "last_name": "Lovelace", "specialty": "cardiology",
                    "npi": 1234567890_u64, "address": {"city": "London"}}),
            &fields,
        )
        .unwrap();
        assert_eq!(
            (
                provider.id.as_str(),
                provider.name.as_str(),
                provider.npi.as_deref(),
                provider.city.as_deref()
            ),
            ("7", "Ada Lovelace", Some("1234567890"), Some("London"))
        );
        // A missing placeholder leaves the field absent; an object is not text.
        let (_, errors) = validate(
            &json!({"id": "p", "first_name": "Ada", "specialty": {"code": 1}}),
            &mapping(json!({"name": "{first_name} {last_name}", "specialty": "{specialty}"}))
                .unwrap(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "specialty"]);
    }

    #[test]
    fn mappings_name_only_model_fields_with_sound_templates() {
        assert!(mapping(json!({"fullname": "{name}"}))
            .unwrap_err()
            .contains("fullname"));
        assert!(mapping(json!({"name": "{first"}))
            .unwrap_err()
            .contains("name"));
        assert!(mapping(json!({"city": "{address..city}"})).is_err());
        assert!(mapping(json!({"name": ""})).is_err());
    }

    #[test]
    fn truncated_or_foreign_bodies_are_not_lists() {
        assert!(records(br#"[{"id": "p-1"}, {"id": "p"#).is_err());
        assert!(records(br#"{"error": "busy"}"#).is_err());
        assert_eq!(records(br#"{"providers": [{}, {}]}"#).unwrap().len(), 2);
        assert_eq!(records(br#"[]"#).unwrap().len(), 0);
    }
}
