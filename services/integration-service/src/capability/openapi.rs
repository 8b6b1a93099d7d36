//! Generates an OpenAPI operation for every capability of every registered integration,
//! from its descriptor: `GET|POST /{integration}/{capability}`, the tenant header, query
//! parameters or request body from the parameter schema, the result schema, the caller
//! scope, and the statuses every capability can answer (beyond those `common::server` adds
//! to every secured operation).
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, Header, OpenApi, Ref, RefOr, Required, ResponseBuilder};
use utoipa::PartialSchema;

use super::{Capability, Kind, Registry};

pub const TENANT_HEADER: &str = "X-Tenant-Id";
pub const OIDC_SCHEME: &str = "oidc";

/// An error answer: `common::server` gives every bodiless error response the problem body.
fn problem_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description)
}

fn result_response(description: &str, capability: &Capability) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(&capability.result.name)))
            .build(),
    )
}

/// Whether the parameter object has required properties (then a write needs a body).
fn has_required_params(capability: &Capability) -> bool {
    matches!(&capability.params.schema, RefOr::T(Schema::Object(object)) if !object.required.is_empty())
}

/// Query parameters from the properties of the parameter object.
fn query_parameters(capability: &Capability) -> Vec<utoipa::openapi::path::Parameter> {
    let RefOr::T(Schema::Object(object)) = &capability.params.schema else {
        return Vec::new();
    };
    object
        .properties
        .iter()
        .map(|(name, schema)| {
            let description = match schema {
                RefOr::T(Schema::Object(Object { description, .. })) => description.clone(),
                _ => None,
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(if object.required.contains(name) {
                    Required::True
                } else {
                    Required::False
                })
                .description(description)
                .schema(Some(schema.clone()))
                .build()
        })
        .collect()
}

/// Adds every capability's operation and schemas to `spec`.
/// With a default tenant (`DEFAULT_TENANT`), the tenant header is optional.
pub fn add_capabilities(spec: &mut OpenApi, registry: &Registry, default_tenant: bool) {
    let components = spec.components.get_or_insert_with(Default::default);
    let mut dependencies = Vec::new();
    for integration in registry.iter() {
        for capability in &integration.capabilities {
            for named in [&capability.params, &capability.result] {
                components
                    .schemas
                    .insert(named.name.clone(), named.schema.clone());
                dependencies.extend(named.dependencies.iter().cloned());
            }
        }
    }
    for (name, schema) in dependencies {
        components.schemas.entry(name).or_insert(schema);
    }

    for integration in registry.iter() {
        for capability in &integration.capabilities {
            let tenant = ParameterBuilder::new()
                .name(TENANT_HEADER)
                .parameter_in(ParameterIn::Header)
                .required(if default_tenant {
                    Required::False
                } else {
                    Required::True
                })
                .description(Some(if default_tenant {
                    "The tenant whose upstream account the call acts on; the deployment's default tenant when absent"
                } else {
                    "The tenant whose upstream account the call acts on"
                }))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some("^[a-z0-9-]{1,64}$")),
                ))
                .example(Some(serde_json::json!("acme")))
                .build();
            let mut operation = OperationBuilder::new()
                .tag(&integration.name)
                .operation_id(Some(format!("{}_{}", integration.name, capability.name)))
                .summary(Some(&capability.summary))
                .description(capability.description.as_deref())
                .parameter(tenant)
                .security(SecurityRequirement::new(
                    OIDC_SCHEME,
                    [capability.kind.scope()],
                ))
                .response(
                    "200",
                    result_response("The capability's result", capability),
                );
            operation = match capability.kind {
                Kind::Read => operation.parameters(Some(query_parameters(capability))),
                Kind::Write => operation.request_body(Some(
                    RequestBodyBuilder::new()
                        .description(Some(
                            "The capability's parameters (an empty body means none)",
                        ))
                        .required(Some(if has_required_params(capability) {
                            Required::True
                        } else {
                            Required::False
                        }))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name(&capability.params.name)))
                                .build(),
                        )
                        .build(),
                )),
            };
            let generic = [
                ("400", "Malformed parameters, or X-Tenant-Id sent more than once (the field is named)"),
                ("403", "The token lacks the capability's scope, or its client is not listed for the scope in the tenant's callers"),
                ("404", "Unknown integration, capability or tenant, or the integration is not configured for the tenant"),
                ("405", "Wrong method for this capability (see Allow)"),
                ("422", "Parameters break a rule (the fields are named)"),
                ("502", "The upstream rejected the tenant's credentials, or answered something unusable"),
                ("503", "Upstream unavailable, rate limit exhausted or tenant at its concurrency cap (see Retry-After)"),
            ];
            for (status, description) in generic {
                let mut response = problem_response(description);
                if status == "503" {
                    response = response.header("Retry-After", Header::new(u64::schema()));
                }
                if status == "405" {
                    response = response.header("Allow", Header::default());
                }
                operation = operation.response(status, response);
            }
            for extra in &capability.responses {
                let response = if extra.with_result {
                    result_response(&extra.description, capability)
                } else {
                    problem_response(&extra.description)
                };
                operation = operation.response(extra.status.as_str(), response);
            }
            let method = match capability.kind {
                Kind::Read => HttpMethod::Get,
                Kind::Write => HttpMethod::Post,
            };
            spec.paths.add_path_operation(
                format!("/{}/{}", integration.name, capability.name),
                vec![method],
                operation.build(),
            );
        }
    }
}

/// `GET /capabilities/{integration}` offers the registered names (a list in Swagger UI,
/// not a free-text box).
pub fn name_the_integrations(spec: &mut OpenApi, registry: &Registry) {
    let names: Vec<String> = registry
        .iter()
        .map(|integration| integration.name.clone())
        .collect();
    let operation = spec
        .paths
        .paths
        .get_mut("/capabilities/{integration}")
        .and_then(|item| item.get.as_mut());
    for parameter in operation
        .into_iter()
        .flat_map(|operation| operation.parameters.iter_mut().flatten())
    {
        if parameter.name == "integration" {
            parameter.schema = Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(names.clone()))
                    .into(),
            );
        }
    }
}
