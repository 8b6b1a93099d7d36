//! OpenAPI plumbing: the spec at `/openapi.json`, Swagger UI at `/swagger` (assets vendored
//! into the binary, nothing fetched at build or run time), and the security schemes.

use axum::Router;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
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

/// Which operations a shared layer or extractor answers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// Every operation (e.g. a URI length limit).
    Every,
    /// Operations that take a request body (e.g. the body size limit).
    WithBody,
    /// Operations that cannot be called without a credential: a security requirement and
    /// no empty (anonymous) alternative.
    Authenticated,
    /// Operations whose security requirement names scopes (a token may lack them).
    Scoped,
}

impl Answers {
    fn applies_to(self, operation: &Operation) -> bool {
        // `SecurityRequirement` keeps its scheme-to-scopes map private: read it as JSON.
        let requirements = || {
            operation.security.iter().flatten().map(|requirement| {
                serde_json::to_value(requirement)
                    .ok()
                    .and_then(|value| value.as_object().cloned())
                    .unwrap_or_default()
            })
        };
        match self {
            Answers::Every => true,
            Answers::WithBody => operation.request_body.is_some(),
            Answers::Authenticated => {
                operation
                    .security
                    .as_ref()
                    .is_some_and(|all| !all.is_empty())
                    && requirements().all(|schemes| !schemes.is_empty())
            }
            Answers::Scoped => requirements().any(|schemes| {
                schemes
                    .values()
                    .any(|scopes| scopes.as_array().is_some_and(|s| !s.is_empty()))
            }),
        }
    }
}

fn operations_mut(spec: &mut OpenApi) -> impl Iterator<Item = &mut Operation> {
    spec.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
    })
}

fn add_problem_schemas(spec: &mut OpenApi) {
    let components = spec.components.get_or_insert_with(Default::default);
    let mut schemas = vec![(Problem::name().into_owned(), Problem::schema())];
    Problem::schemas(&mut schemas);
    for (name, schema) in schemas {
        components.schemas.entry(name).or_insert(schema);
    }
}

fn problem_content() -> Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(Problem::name())))
        .build()
}

/// Documents a problem status that a shared layer or extractor answers before the handler
/// decides anything, as the reusable response `#/components/responses/<status>`, on the
/// operations it applies to (an operation that already documents the status keeps its own
/// description).
pub fn add_shared_response(spec: &mut OpenApi, status: &str, description: &str, answers: Answers) {
    add_problem_schemas(spec);
    let components = spec.components.get_or_insert_with(Default::default);
    components.responses.insert(
        status.to_owned(),
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(PROBLEM_JSON, problem_content())
                .build(),
        ),
    );
    for operation in operations_mut(spec) {
        if !answers.applies_to(operation) {
            continue;
        }
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::new(format!("#/components/responses/{status}"))));
    }
}

/// Every error answer is a problem: an error response (4xx, 5xx) documented without a
/// body gets the `application/problem+json` [`Problem`] body, so an operation lists
/// `(status = 404, description = "...")` and nothing more.
pub fn add_problem_bodies(spec: &mut OpenApi) {
    add_problem_schemas(spec);
    for operation in operations_mut(spec) {
        for (status, response) in operation.responses.responses.iter_mut() {
            let error = status.parse::<u16>().is_ok_and(|code| code >= 400);
            if let (true, RefOr::T(response)) = (error, response) {
                if response.content.is_empty() {
                    response
                        .content
                        .insert(PROBLEM_JSON.to_owned(), problem_content());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::request_body::RequestBody;
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{OpenApiBuilder, PathItem, PathsBuilder};

    #[test]
    fn credentials_and_scopes_decide_who_gets_401_and_403() {
        let scoped = OperationBuilder::new()
            .security(SecurityRequirement::new("oidc", ["sales:read"]))
            .build();
        let session = OperationBuilder::new()
            .security(SecurityRequirement::new("session", Vec::<String>::new()))
            .build();
        let optional = OperationBuilder::new()
            .securities(Some([
                SecurityRequirement::default(),
                SecurityRequirement::new("session", Vec::<String>::new()),
            ]))
            .build();
        let anonymous = OperationBuilder::new().build();
        let mut spec = OpenApiBuilder::new()
            .paths(
                PathsBuilder::new()
                    .path("/scoped", PathItem::new(HttpMethod::Get, scoped))
                    .path("/session", PathItem::new(HttpMethod::Get, session))
                    .path("/optional", PathItem::new(HttpMethod::Get, optional))
                    .path("/anonymous", PathItem::new(HttpMethod::Get, anonymous)),
            )
            .build();
        add_shared_response(&mut spec, "401", "No credentials", Answers::Authenticated);
        add_shared_response(&mut spec, "403", "No scope", Answers::Scoped);
        let json = serde_json::to_value(&spec).unwrap();
        let statuses = |path: &str| {
            let responses = json["paths"][path]["get"]["responses"].as_object().unwrap();
            responses.keys().cloned().collect::<Vec<_>>()
        };
        assert_eq!(statuses("/scoped"), ["401", "403"]);
        assert_eq!(statuses("/session"), ["401"], "a session has no scopes");
        assert!(
            statuses("/optional").is_empty(),
            "anonymous callers are served"
        );
        assert!(statuses("/anonymous").is_empty());
    }

    #[test]
    fn error_responses_without_a_body_are_problems() {
        let operation = OperationBuilder::new()
            .response("200", ResponseBuilder::new().description("Fine"))
            .response("404", ResponseBuilder::new().description("Gone"))
            .response(
                "503",
                ResponseBuilder::new()
                    .description("Its own body")
                    .content("application/json", ContentBuilder::new().build()),
            )
            .build();
        let mut spec = OpenApiBuilder::new()
            .paths(PathsBuilder::new().path("/a", PathItem::new(HttpMethod::Get, operation)))
            .build();
        add_problem_bodies(&mut spec);
        let json = serde_json::to_value(&spec).unwrap();
        let responses = &json["paths"]["/a"]["get"]["responses"];
        assert!(responses["200"].get("content").is_none());
        assert_eq!(
            responses["404"]["content"][PROBLEM_JSON]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        assert!(responses["503"]["content"].get(PROBLEM_JSON).is_none());
        assert!(json["components"]["schemas"]["FieldError"].is_object());
    }

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
