//! The OpenAPI schemas of a declared capability, built from its definition: parameters
//! with their types and limits, answers with their fields, so `/openapi.json` (and the
//! fuzzing that reads it) covers declared capabilities like the Rust ones.
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};

use super::compiled::{
    Action, Compiled, CompiledCapability, CompiledModel, ParamRule, ParamSpec, ResultField,
    ResultShape,
};
use crate::capability::NamedSchema;

fn text(nullable: bool) -> ObjectBuilder {
    let kind = if nullable {
        SchemaType::Array(vec![Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new().schema_type(kind)
}

pub(super) fn model_schema(model: &CompiledModel) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new().description(model.description.clone());
    for field in &model.fields {
        object = object.property(
            &*field.name,
            text(!field.required).description(field.description.clone()),
        );
        if field.required {
            object = object.required(&*field.name);
        }
    }
    object.into()
}

pub fn params(capability: &CompiledCapability) -> NamedSchema {
    params_of(&capability.params_schema, &capability.params)
}

/// The parameters' object named `name`.
pub(super) fn params_of(name: &str, params: &[ParamSpec]) -> NamedSchema {
    let mut object = ObjectBuilder::new();
    for param in params {
        let schema = match &param.rule {
            ParamRule::Text {
                min_length,
                max_length,
                pattern,
                ..
            } => text(false)
                .min_length(min_length.map(|n| n as usize))
                .max_length(max_length.map(|n| n as usize))
                .pattern(pattern.as_ref().map(|(pattern, _)| pattern.clone())),
            ParamRule::Limit { all_max, .. } => ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(*all_max)),
            ParamRule::Cursor { max_length } => text(false)
                .min_length(Some(1))
                .max_length(Some(*max_length as usize)),
            ParamRule::All => ObjectBuilder::new().schema_type(Type::Boolean),
        };
        object = object.property(&param.name, schema.description(param.description.clone()));
        if param.required {
            object = object.required(&param.name);
        }
    }
    NamedSchema {
        name: name.to_owned(),
        schema: object
            .additional_properties(Some(
                utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
            ))
            .into(),
        dependencies: Vec::new(),
    }
}

pub fn result(definition: &Compiled, capability: &CompiledCapability) -> NamedSchema {
    let model_ref = |index: usize| {
        let model = &definition.models[index];
        (model.schema.clone(), model_schema(model))
    };
    match &capability.action {
        Action::List(list) => {
            let (model_name, model) = model_ref(list.model);
            page(
                &list.field,
                &list.caller_cursor,
                &list.schema,
                model_name,
                model,
            )
        }
        Action::Steps {
            result: ResultShape::Record { model, .. },
            ..
        } => {
            let (name, schema) = model_ref(*model);
            NamedSchema {
                name,
                schema,
                dependencies: Vec::new(),
            }
        }
        Action::Steps {
            result: ResultShape::Fields { schema, fields },
            ..
        } => {
            let mut object = ObjectBuilder::new();
            for (name, field) in fields {
                let property = match field {
                    ResultField::Text(_) => text(false),
                    ResultField::Bool(_) | ResultField::StepSucceeded(_) => {
                        ObjectBuilder::new().schema_type(Type::Boolean)
                    }
                };
                object = object.property(&**name, property).required(&**name);
            }
            NamedSchema {
                name: schema.clone(),
                schema: object.into(),
                dependencies: Vec::new(),
            }
        }
    }
}

/// A page of records: `field` holds them (`model_name`), `next` continues as
/// `caller_cursor`.
pub(super) fn page(
    field: &str,
    caller_cursor: &str,
    page_name: &str,
    model_name: String,
    model: RefOr<Schema>,
) -> NamedSchema {
    {
        let page = ObjectBuilder::new()
                .property(
                    field,
                    ArrayBuilder::new().items(Ref::from_schema_name(&model_name)),
                )
                .required(field)
                .property(
                    "next",
                    text(true).description(Some(format!("Pass as `{caller_cursor}` to continue; absent when there is nothing more."))),
                )
                .property(
                    "truncated",
                    ObjectBuilder::new().schema_type(Type::Boolean).description(Some(
                        "With `all=true`: stopped before the last page (at `limit`, the service's cap, or to leave the tenant's rate limit its reserve); `next` continues.",
                    )),
                )
                .required("truncated")
                .property(
                    "pages",
                    ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).description(Some("Vendor pages fetched for this answer.")),
                )
                .required("pages")
                .property(
                    "warnings",
                    ArrayBuilder::new().items(text(false)).description(Some(
                        "What the answer may not show as it is, e.g. an empty list that more likely means missing permissions.",
                    )),
                )
                .required("warnings");
        NamedSchema {
            name: page_name.to_owned(),
            schema: page.into(),
            dependencies: vec![(model_name, model)],
        }
    }
}
