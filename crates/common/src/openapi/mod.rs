//! OpenAPI plumbing: the security schemes, the statuses shared layers answer, problem
//! bodies with real examples, and the finishing touches Swagger UI needs ([`finish`]);
//! serving the spec and Swagger UI is [`docs`].
//!
//! # Layout
//!
//! - this file: building the spec (schemes, shared responses, problem examples, plain
//!   optional parameters);
//! - [`docs`]: `/openapi.json` (OAuth2 token URL from the issuer's discovery) and `/swagger`.

mod docs;

use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{
    ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::openapi::{Content, ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

use crate::auth::OidcSettings;
use crate::error::{FieldError, Problem, PROBLEM_JSON};

pub use docs::docs_router;

/// On a client-credentials flow: the issuer whose discovery document gives the token URL
/// (filled in when the spec is served, see [`docs`]).
const TOKEN_URL_FROM: &str = "x-token-url-from-issuer";

/// The OAuth2 scheme offered beside the bearer scheme `bearer` by [`add_oidc_schemes`].
pub fn client_credentials_scheme(bearer: &str) -> String {
    format!("{bearer}-client-credentials")
}

/// Declares how callers present OpenID Connect access tokens: the bearer scheme `name`
/// (a token pasted in Swagger UI) that operations name in `security(..)`, and beside it an
/// OAuth2 client-credentials flow at the issuer's token endpoint with `scopes`, so Swagger
/// UI's Authorize gets a token itself ([`finish`] offers it wherever `name` is required).
/// `how` says where production callers get their client (appended to the descriptions).
pub fn add_oidc_schemes(
    spec: &mut OpenApi,
    name: &str,
    oidc: &OidcSettings,
    scopes: &[(&str, &str)],
    how: &str,
) {
    let scope_names: Vec<&str> = scopes.iter().map(|(scope, _)| *scope).collect();
    let token_request = format!(
        "curl -u CLIENT_ID:CLIENT_SECRET <token endpoint> -d grant_type=client_credentials -d 'scope={}'",
        scope_names.join(" ")
    );
    let local = "with `scripts/dev.sh`: client `platform-dev`, secret `platform-dev-secret`";
    add_bearer_scheme(
        spec,
        name,
        "JWT",
        &format!(
            "An OpenID Connect access token (a JWT) from the issuer {issuer}, audience \
             `{audience}`. In this page: **Authorize** with `{flow}` below ({local}), or \
             paste a token here. Anywhere else: `{token_request}` (the token endpoint is in \
             {issuer}/.well-known/openid-configuration), then send `Authorization: Bearer \
             <access_token>`. {how}",
            issuer = oidc.issuer,
            audience = oidc.audience,
            flow = client_credentials_scheme(name),
        ),
    );
    let mut flow = ClientCredentials::new(
        format!(
            "{}/.well-known/openid-configuration",
            oidc.issuer.trim_end_matches('/')
        ),
        Scopes::from_iter(scopes.iter().copied()),
    );
    flow.extensions = Some(
        utoipa::openapi::extensions::ExtensionsBuilder::new()
            .add(TOKEN_URL_FROM, oidc.issuer.clone())
            .build(),
    );
    let oauth2 = OAuth2::with_description(
        [Flow::ClientCredentials(flow)],
        format!(
            "Swagger UI gets the token itself: the client id and secret of a client of \
             {issuer} ({local}) and the scopes to ask for. {how}",
            issuer = oidc.issuer
        ),
    );
    spec.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            client_credentials_scheme(name),
            SecurityScheme::OAuth2(oauth2),
        );
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

fn problem_content(example: Option<Value>) -> Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(Problem::name())))
        .example(example)
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
                .content(
                    PROBLEM_JSON,
                    problem_content(problem_example(status, description, None)),
                )
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
///
/// Each gets an example: the problem the services answer for that status, its `detail`
/// the response's description, so Swagger UI shows a real problem instead of a sample
/// generated from the schema (`"status": 1073741824`, `additionalProp1`).
pub fn add_problem_bodies(spec: &mut OpenApi) {
    add_problem_schemas(spec);
    let schemas = spec
        .components
        .as_ref()
        .and_then(|components| serde_json::to_value(&components.schemas).ok())
        .unwrap_or_default();
    for operation in operations_mut(spec) {
        let invalid = invalid_field(&schemas, operation);
        for (status, response) in operation.responses.responses.iter_mut() {
            let error = status.parse::<u16>().is_ok_and(|code| code >= 400);
            if let (true, RefOr::T(response)) = (error, response) {
                if response.content.is_empty() {
                    let example = problem_example(status, &response.description, invalid.as_ref());
                    response
                        .content
                        .insert(PROBLEM_JSON.to_owned(), problem_content(example));
                }
            }
        }
    }
}

/// What the spec needs once every route is in it, for Swagger UI to be usable:
/// - the OAuth2 flow of [`add_oidc_schemes`] is offered wherever its bearer scheme is
///   required (either credential works);
/// - optional parameters are plain types (`integer`, not `["integer","null"]`): an absent
///   parameter already means "none", and Swagger UI shows `integernull` and a text box
///   for a nullable boolean.
pub fn finish(spec: &mut OpenApi) {
    let schemes: Vec<String> = spec
        .components
        .iter()
        .flat_map(|components| components.security_schemes.keys().cloned())
        .collect();
    let paired: Vec<(String, String)> = schemes
        .iter()
        .filter(|name| schemes.contains(&client_credentials_scheme(name)))
        .map(|name| (name.clone(), client_credentials_scheme(name)))
        .collect();
    for operation in operations_mut(spec) {
        offer_client_credentials(operation, &paired);
        for parameter in operation.parameters.iter_mut().flatten() {
            if !matches!(parameter.required, utoipa::openapi::Required::True) {
                if let Some(schema) = parameter.schema.as_mut() {
                    drop_null_type(schema);
                }
            }
        }
    }
}

/// Adds, beside every security requirement naming a bearer scheme of `paired`, the same
/// requirement on its client-credentials scheme.
fn offer_client_credentials(operation: &mut Operation, paired: &[(String, String)]) {
    let Some(security) = operation.security.as_mut() else {
        return;
    };
    let mut alternatives = Vec::new();
    for requirement in security.iter() {
        // `SecurityRequirement` keeps its scheme-to-scopes map private: read it as JSON.
        let Ok(Value::Object(schemes)) = serde_json::to_value(requirement) else {
            continue;
        };
        for (bearer, oauth2) in paired {
            if let Some(scopes) = schemes.get(bearer).and_then(Value::as_array) {
                let scopes: Vec<String> = scopes
                    .iter()
                    .filter_map(|scope| scope.as_str().map(str::to_owned))
                    .collect();
                alternatives.push(utoipa::openapi::security::SecurityRequirement::new(
                    oauth2, scopes,
                ));
            }
        }
    }
    security.extend(alternatives);
}

/// `["integer", "null"]` becomes `integer`; `oneOf: [{"type": "null"}, X]` becomes `X`.
fn drop_null_type(schema: &mut RefOr<utoipa::openapi::schema::Schema>) {
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    let RefOr::T(inner) = schema else {
        return;
    };
    match inner {
        Schema::Object(object) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let concrete: Vec<Type> = types
                    .iter()
                    .filter(|kind| **kind != Type::Null)
                    .cloned()
                    .collect();
                if let [only] = concrete.as_slice() {
                    object.schema_type = SchemaType::Type(only.clone());
                }
            }
        }
        Schema::OneOf(one_of) => {
            let is_null = |item: &RefOr<Schema>| {
                matches!(item, RefOr::T(Schema::Object(object))
                    if object.schema_type == SchemaType::Type(Type::Null))
            };
            let rest: Vec<RefOr<Schema>> = one_of
                .items
                .iter()
                .filter(|item| !is_null(item))
                .cloned()
                .collect();
            if let [only] = rest.as_slice() {
                *schema = only.clone();
            }
        }
        _ => {}
    }
}

/// A problem as the services answer it for `status`, as an example: `detail` is what the
/// operation documents for the status; a 422 names the field of `invalid` the way a
/// validation problem does.
fn problem_example(
    status: &str,
    description: &str,
    invalid: Option<&InvalidField>,
) -> Option<Value> {
    use axum::http::StatusCode;
    let code = StatusCode::from_bytes(status.as_bytes()).ok()?;
    let problem = match code.as_u16() {
        400 => Problem::malformed(description),
        401 => Problem::unauthorized(description),
        403 => Problem::forbidden(description),
        404 => Problem::not_found(description),
        409 => Problem::conflict(description),
        413 => {
            Problem::of_kind(code, "body-too-large", "Request body too large").detail(description)
        }
        422 => Problem::validation(vec![match invalid {
            Some(InvalidField {
                name,
                rule: Some(rule),
            }) => FieldError::new(name, rule),
            Some(InvalidField { name, rule: None }) => FieldError::new(name, description),
            None => FieldError::new("body", description),
        }]),
        503 => Problem::unavailable(description),
        _ => Problem::new(code).detail(description),
    };
    serde_json::to_value(problem).ok()
}

/// The field a 422 example of an operation names, and the rule it breaks when the schema
/// says it.
struct InvalidField {
    name: String,
    rule: Option<String>,
}

/// A bounded query parameter (`limit`: "must be between 1 and 100", as the services say
/// it), else a required property of the JSON body, else the first query parameter.
fn invalid_field(schemas: &Value, operation: &Operation) -> Option<InvalidField> {
    let queries: Vec<(String, Value)> = operation
        .parameters
        .iter()
        .flatten()
        .filter(|parameter| {
            matches!(
                parameter.parameter_in,
                utoipa::openapi::path::ParameterIn::Query
            )
        })
        .map(|parameter| {
            let schema = serde_json::to_value(&parameter.schema).unwrap_or_default();
            (parameter.name.clone(), schema)
        })
        .collect();
    let bounded = queries.iter().find_map(|(name, schema)| {
        let (min, max) = (schema["minimum"].as_i64()?, schema["maximum"].as_i64()?);
        Some(InvalidField {
            name: name.clone(),
            rule: Some(format!("must be between {min} and {max}")),
        })
    });
    let body = || {
        let media = operation
            .request_body
            .as_ref()?
            .content
            .get("application/json")?;
        let schema = serde_json::to_value(&media.schema).ok()?;
        let schema = match schema["$ref"].as_str() {
            Some(reference) => schemas.get(reference.rsplit('/').next()?)?.clone(),
            None => schema,
        };
        let name = schema["required"][0].as_str()?.to_owned();
        Some(InvalidField { name, rule: None })
    };
    let first = || {
        queries.first().map(|(name, _)| InvalidField {
            name: name.clone(),
            rule: None,
        })
    };
    bounded.or_else(body).or_else(first)
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

    #[test]
    fn optional_parameters_are_plain_types_and_oauth2_is_offered_beside_the_bearer() {
        let operation: Operation = serde_json::from_value(serde_json::json!({
            "parameters": [
                {"name": "limit", "in": "query", "required": false,
                 "schema": {"type": ["integer", "null"], "minimum": 1, "maximum": 100}},
                {"name": "all", "in": "query", "required": false,
                 "schema": {"type": ["boolean", "null"]}},
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
            ],
            "security": [{"oidc": ["sales:read"]}],
            "responses": {},
        }))
        .unwrap();
        let mut spec = OpenApiBuilder::new()
            .paths(PathsBuilder::new().path("/a/{id}", PathItem::new(HttpMethod::Get, operation)))
            .build();
        add_oidc_schemes(
            &mut spec,
            "oidc",
            &OidcSettings::new("http://issuer.test", "api://sales"),
            &[("sales:read", "Read")],
            "",
        );
        finish(&mut spec);
        let json = serde_json::to_value(&spec).unwrap();
        let get = &json["paths"]["/a/{id}"]["get"];
        assert_eq!(get["parameters"][0]["schema"]["type"], "integer");
        assert_eq!(get["parameters"][1]["schema"]["type"], "boolean");
        assert_eq!(
            get["security"],
            serde_json::json!([{"oidc": ["sales:read"]}, {"oidc-client-credentials": ["sales:read"]}])
        );
        let flow = &json["components"]["securitySchemes"]["oidc-client-credentials"]["flows"]
            ["clientCredentials"];
        assert_eq!(flow[TOKEN_URL_FROM], "http://issuer.test");
        assert_eq!(flow["scopes"]["sales:read"], "Read");
    }

    #[test]
    fn error_responses_carry_the_problem_the_services_answer() {
        let operation: Operation = serde_json::from_value(serde_json::json!({
            "parameters": [{"name": "limit", "in": "query", "required": false,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
            "responses": {
                "404": {"description": "No such customer"},
                "422": {"description": "Limit out of range"},
            },
        }))
        .unwrap();
        let mut spec = OpenApiBuilder::new()
            .paths(PathsBuilder::new().path("/a", PathItem::new(HttpMethod::Get, operation)))
            .build();
        add_problem_bodies(&mut spec);
        add_shared_response(&mut spec, "503", "Unavailable for now", Answers::Every);
        let json = serde_json::to_value(&spec).unwrap();
        let example = |status: &str| {
            json["paths"]["/a"]["get"]["responses"][status]["content"][PROBLEM_JSON]["example"]
                .clone()
        };
        assert_eq!(
            example("404"),
            serde_json::json!({"type": "about:blank", "title": "Not Found", "status": 404,
                               "detail": "No such customer"})
        );
        assert_eq!(
            example("422")["errors"],
            serde_json::json!([{"field": "limit", "message": "must be between 1 and 100"}])
        );
        assert_eq!(example("422")["type"], "urn:problem:validation");
        let shared = &json["components"]["responses"]["503"]["content"][PROBLEM_JSON]["example"];
        assert_eq!(shared["status"], 503);
        assert_eq!(shared["detail"], "Unavailable for now");
    }
}
