//! The partner's provider records: the model derived from its JSON, and the validation
//! every record passes before it is stored. Validation collects every field at fault, so
//! the run summary says all that is wrong with a record at once.
use common::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A healthcare provider as the partner lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Provider {
    /// The partner's id: the key of the upsert.
    pub id: String,
    pub name: String,
    pub specialty: String,
    /// 10-digit National Provider Identifier, when the partner knows it.
    pub npi: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
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

/// Validates one record. On failure: the record's id when it had a usable one, and every
/// field at fault.
pub fn validate(record: &Value) -> Result<Provider, (Option<String>, Vec<FieldError>)> {
    let Some(object) = record.as_object() else {
        return Err((None, vec![FieldError::new("record", "must be an object")]));
    };
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
        let provider = validate(&json!({
            "id": "p-1", "name": "Dr. Ada Lovelace", "specialty": "cardiology",
            "npi": "1234567890", "phone": null, "extra": [1, 2]
        }))
        .unwrap();
        assert_eq!(provider.id, "p-1");
        assert_eq!(provider.npi.as_deref(), Some("1234567890"));
        assert_eq!(provider.phone, None);
    }

    #[test]
    fn every_fault_of_a_record_is_named() {
        let (id, errors) =
            validate(&json!({"id": "p-2", "name": "", "npi": 12, "city": "x".repeat(501)}))
                .unwrap_err();
        assert_eq!(id.as_deref(), Some("p-2"));
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "specialty", "npi", "city"]);
        let (id, errors) = validate(&json!("not an object")).unwrap_err();
        assert!(id.is_none() && errors[0].field == "record");
    }

    #[test]
    fn truncated_or_foreign_bodies_are_not_lists() {
        assert!(records(br#"[{"id": "p-1"}, {"id": "p"#).is_err());
        assert!(records(br#"{"error": "busy"}"#).is_err());
        assert_eq!(records(br#"{"providers": [{}, {}]}"#).unwrap().len(), 2);
        assert_eq!(records(br#"[]"#).unwrap().len(), 0);
    }
}
