//! The format's reference in Markdown, generated from its JSON Schema (so the docs say
//! what the types accept, word for word): `integration-service print-definition-reference`,
//! kept in docs/integrations.md between markers, and a test that it is current.
use serde_json::Value;

/// The reference's text: the file's keys, then every type, each a table of its keys (or
/// its values).
pub fn markdown() -> String {
    let schema = serde_json::to_value(schemars::schema_for!(super::model::Definition))
        .expect("a schema is JSON");
    let mut text = String::from("### Definition (one file)\n\n");
    text.push_str(&described(&schema));
    text.push_str(&object_table(&schema));
    let defs = schema["$defs"].as_object().cloned().unwrap_or_default();
    for (name, def) in &defs {
        if name.starts_with("Map_of_") {
            continue;
        }
        text.push_str(&format!("\n### {name}\n\n"));
        text.push_str(&described(def));
        if def.get("properties").is_some() {
            text.push_str(&object_table(def));
        } else if let Some(values) = def.get("oneOf").or_else(|| def.get("enum")) {
            text.push_str(&values_list(values));
        } else if let Some(any) = def.get("anyOf").and_then(Value::as_array) {
            let kinds: Vec<String> = any.iter().map(kind).collect();
            text.push_str(&format!("One of: {}.\n", kinds.join("; ")));
        }
    }
    text
}

fn described(schema: &Value) -> String {
    match schema["description"].as_str() {
        Some(description) => format!("{}\n\n", one_line(description)),
        None => String::new(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn object_table(schema: &Value) -> String {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut table = String::from("| key | type | required | what |\n| --- | --- | --- | --- |\n");
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        table.push_str(&format!(
            "| `{name}` | {} | {} | {} |\n",
            kind(property),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                ""
            },
            property["description"]
                .as_str()
                .map(one_line)
                .unwrap_or_default()
        ));
    }
    table
}

fn values_list(values: &Value) -> String {
    let mut list = String::new();
    for value in values.as_array().into_iter().flatten() {
        let (literal, description) = match value {
            Value::String(literal) => (literal.clone(), String::new()),
            other => (
                other["const"]
                    .as_str()
                    .or_else(|| other["enum"][0].as_str())
                    .unwrap_or_default()
                    .to_owned(),
                other["description"]
                    .as_str()
                    .map(one_line)
                    .unwrap_or_default(),
            ),
        };
        list.push_str(&format!(
            "- `{literal}`{}\n",
            if description.is_empty() {
                String::new()
            } else {
                format!(": {description}")
            }
        ));
    }
    list
}

/// A property's type in words, types linked to their section.
fn kind(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/$defs/");
        return match name.strip_prefix("Map_of_") {
            Some(inner) => format!("map of {}", named(inner)),
            None => named(name),
        };
    }
    if let Some(any) = schema["anyOf"].as_array() {
        let kinds: Vec<String> = any
            .iter()
            .filter(|option| option["type"] != "null")
            .map(kind)
            .collect();
        return kinds.join(" or ");
    }
    match &schema["type"] {
        Value::String(kind) if kind == "array" => format!("list of {}", kind_of_items(schema)),
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .filter(|kind| *kind != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    }
}

fn kind_of_items(schema: &Value) -> String {
    kind(&schema["items"])
}

fn named(name: &str) -> String {
    match name {
        "string" => "string".into(),
        "Array_of_string" => "list of string".into(),
        other => format!("[{other}](#{})", other.to_lowercase()),
    }
}
