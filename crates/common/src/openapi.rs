//! OpenAPI plumbing: the spec at `/openapi.json`, Swagger UI at `/swagger` (assets vendored
//! into the binary, nothing fetched at build or run time), and the security schemes.

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{Problem, PROBLEM_JSON};

/// Serves the spec at `/openapi.json` and the UI at `/swagger`.
pub fn docs_router(spec: OpenApi) -> Router {
    Router::new().merge(SwaggerUi::new("/swagger").url("/openapi.json", spec))
}

/// Declares an HTTP bearer scheme that operations reference with
/// `security(("<name>" = []))`.
pub fn add_bearer_scheme(spec: &mut OpenApi, name: &str, bearer_format: &str, description: &str) {
    let components = spec.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        name,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format(bearer_format)
                .description(Some(description))
                .build(),
        ),
    );
}

/// Which operations a shared middleware layer answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Every operation (e.g. a URI length limit).
    Every,
    /// Operations that take a request body (e.g. the body size limit).
    WithBody,
}

/// Documents a problem status that a shared layer answers before any route runs, as the
/// reusable response `#/components/responses/<status>`, on the operations it applies to
/// (an operation that already documents the status keeps its own description).
pub fn add_shared_response(spec: &mut OpenApi, status: &str, description: &str, answers: Answers) {
    let components = spec.components.get_or_insert_with(Default::default);
    let mut schemas = vec![(Problem::name().into_owned(), Problem::schema())];
    Problem::schemas(&mut schemas);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
    components.responses.insert(
        status.to_owned(),
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(Problem::name())))
                        .build(),
                )
                .build(),
        ),
    );
    for item in spec.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            if answers == Answers::WithBody && operation.request_body.is_none() {
                continue;
            }
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| {
                    RefOr::Ref(Ref::new(format!("#/components/responses/{status}")))
                });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::request_body::RequestBody;
    use utoipa::openapi::{OpenApiBuilder, PathItem, PathsBuilder};

    #[test]
    fn shared_responses_reach_the_operations_they_apply_to() {
        let read = OperationBuilder::new().build();
        let write = OperationBuilder::new()
            .request_body(Some(RequestBody::new()))
            .response("414", ResponseBuilder::new().description("Own words"))
            .build();
        let mut spec = OpenApiBuilder::new()
            .paths(
                PathsBuilder::new()
                    .path("/a", PathItem::new(HttpMethod::Get, read))
                    .path("/b", PathItem::new(HttpMethod::Post, write)),
            )
            .build();
        add_shared_response(&mut spec, "414", "URI too long", Answers::Every);
        add_shared_response(&mut spec, "413", "Body too large", Answers::WithBody);
        let json = serde_json::to_value(&spec).unwrap();
        let (a, b) = (&json["paths"]["/a"]["get"], &json["paths"]["/b"]["post"]);
        assert_eq!(a["responses"]["414"]["$ref"], "#/components/responses/414");
        assert!(a["responses"].get("413").is_none(), "no body, no 413");
        assert_eq!(b["responses"]["413"]["$ref"], "#/components/responses/413");
        assert_eq!(b["responses"]["414"]["description"], "Own words");
        let problem = &json["components"]["responses"]["414"]["content"][PROBLEM_JSON];
        assert_eq!(problem["schema"]["$ref"], "#/components/schemas/Problem");
        assert!(json["components"]["schemas"]["FieldError"].is_object());
    }
}
