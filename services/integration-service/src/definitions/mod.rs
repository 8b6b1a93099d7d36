//! Integrations declared as data: one `integration/v1` YAML file per integration
//! (`services/integration-service/definitions/`, embedded at build time; more from
//! `INTEGRATION_DEFINITIONS_DIR`). The engine here reads them, checks every file and
//! cross-reference (all mistakes at once, each with file, path and reason; the service
//! does not start with any), and runs their capabilities through the same
//! [`Upstream`](crate::upstream::Upstream) as the Rust integrations.
//!
//! - [`model`]: the format's types (its JSON Schema is generated from them);
//! - [`check`]: the checker, which compiles a file into [`compiled`] form;
//! - [`template`]: JSON Pointers and `{name}` templates; [`params`]: callers' parameters;
//! - [`engine`]: a call's steps; [`run`]: its requests; [`paging`]: lists; [`answer`]: the
//!   answers' shapes; [`errors`]: error rules;
//! - [`openapi`]: the capabilities' schemas.
//!
//! Safety by construction: a path value is encoded as one segment (and never a dot
//! segment); next links are followed only on the base URL's origin; a cursor repeated in
//! one listing stops it; a request that may not be idempotent is never sent again once it
//! may have reached the vendor; templates reach only parameters, declared settings and
//! captured values. The upstream layer caps bodies and follows no redirect.
mod answer;
pub mod check;
pub mod compiled;
pub mod directory;
mod engine;
mod errors;
pub mod model;
mod openapi;
mod paging;
pub mod params;
pub mod reference;
mod run;
pub mod template;

use std::path::Path;
use std::sync::Arc;

use axum::http::StatusCode;
use common::paging::CursorKeys;
use url::Url;

use crate::capability::{only_known, Capability, ExtraResponse, Kind, Registered, SettingsCheck};
use crate::tenants::IntegrationSettings;
use crate::upstream::{UpstreamProfile, UpstreamRequest};
pub use check::DefinitionError;
use compiled::{Action, Compiled};
use model::{CapabilityKind, Definition, ErrorKind};
use template::Name;

mod built_in {
    include!(concat!(env!("OUT_DIR"), "/definitions.rs"));
}

/// Reads one file's text as a definition and checks it.
pub fn parse(file: &str, text: &str) -> Result<Compiled, Vec<DefinitionError>> {
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    let definition: Definition =
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let path = error.path().to_string();
            vec![DefinitionError {
                file: file.to_owned(),
                path: if path == "." { "(top)".into() } else { path },
                reason: error.into_inner().to_string(),
            }]
        })?;
    check::compile(file, &definition)
}

/// The built-in definitions, then those of `dir` (`*.yaml`), every one checked; all the
/// mistakes of all the files, or the definitions.
pub fn load(dir: Option<&Path>) -> Result<Vec<Arc<Compiled>>, Vec<DefinitionError>> {
    let mut sources: Vec<(String, String)> = built_in::BUILT_IN
        .iter()
        .map(|(name, text)| (format!("definitions/{name}"), (*text).to_owned()))
        .collect();
    let mut errors = Vec::new();
    if let Some(dir) = dir {
        match read_dir(dir) {
            Ok(files) => sources.extend(files),
            Err(reason) => errors.push(DefinitionError {
                file: dir.display().to_string(),
                path: "(directory)".into(),
                reason,
            }),
        }
    }
    let mut definitions: Vec<Arc<Compiled>> = Vec::new();
    for (file, text) in sources {
        match parse(&file, &text) {
            Ok(definition) => {
                if let Some(other) = definitions.iter().find(|d| d.name == definition.name) {
                    errors.push(DefinitionError {
                        file,
                        path: "name".into(),
                        reason: format!(
                            "`{}` is already defined by {}",
                            definition.name, other.file
                        ),
                    });
                } else {
                    definitions.push(Arc::new(definition));
                }
            }
            Err(mistakes) => errors.extend(mistakes),
        }
    }
    if errors.is_empty() {
        Ok(definitions)
    } else {
        Err(errors)
    }
}

fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|error| error.to_string())?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            Ok((path.display().to_string(), text))
        })
        .collect()
}

/// How a tenant's upstream for this definition is reached: its token URL per tenant base
/// URL, and the rate-limit headers it reads.
fn profile(definition: &Arc<Compiled>) -> UpstreamProfile {
    let token_urls = definition.clone();
    UpstreamProfile {
        token_url: Some(Arc::new(move |method, settings: &IntegrationSettings| {
            let (_, template) = token_urls.auth.iter().find(|(kind, _)| *kind == method)?;
            let text = template.as_ref()?.render(|name| match name {
                Name::Setting(setting) => settings.setting(setting),
                _ => None,
            });
            Url::parse(&text).ok()
        })),
        rate_headers: definition.rate_headers.clone(),
        assertion_style: definition.assertion_style,
        exhausted_by: definition.exhausted_by.clone(),
    }
}

/// The integration `definition` declares, ready for the registry; callers' cursors of
/// its lists are sealed with `keys`.
pub fn integration(definition: Arc<Compiled>, keys: CursorKeys) -> Registered {
    let capabilities = definition
        .capabilities
        .iter()
        .enumerate()
        .map(|(index, capability)| {
            let kind = match capability.kind {
                CapabilityKind::Read => Kind::Read,
                CapabilityKind::Write => Kind::Write,
            };
            let shared = definition.clone();
            let keys = keys.clone();
            let handler = move |call, input| {
                let shared = shared.clone();
                let keys = keys.clone();
                async move {
                    let capability = &shared.capabilities[index];
                    engine::run(&shared, capability, &keys, call, input).await
                }
            };
            Capability::dynamic(
                capability.name.clone(),
                kind,
                capability.summary.clone(),
                capability.description.clone(),
                openapi::params(capability),
                openapi::result(&definition, capability),
                responses(capability),
                handler,
            )
        })
        .collect();
    Registered {
        name: definition.name.clone(),
        description: definition.title.clone(),
        auth_methods: definition.auth.iter().map(|(kind, _)| *kind).collect(),
        capabilities,
        profile: profile(&definition),
        check_settings: settings_check(&definition),
        check: Some(check_request(&definition)),
        directory: definition.directory.is_some(),
    }
}

/// The definition's `connection.check`, as the upstream layer sends it.
fn check_request(definition: &Compiled) -> UpstreamRequest {
    let check = &definition.check;
    let mut request = UpstreamRequest::new(
        "test_connection",
        check.method.clone(),
        check.path.render(|_| None),
        common::http_client::Idempotency::Idempotent,
    )
    .bucket(check.bucket.clone());
    for (name, value) in &check.query {
        request = request.query(name, value.render(|_| None));
    }
    request
}

/// A tenant's own settings for a declared integration: the settings the definition
/// declares beyond `base_url` (each required, of its type and pattern), and
/// `list_all_max` (1 to 10000) when it has a list; nothing else.
fn settings_check(definition: &Arc<Compiled>) -> SettingsCheck {
    let has_list = definition
        .capabilities
        .iter()
        .any(|capability| matches!(capability.action, Action::List(_)));
    let definition = definition.clone();
    Arc::new(move |own| {
        let mut known: Vec<&str> = definition
            .settings
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        if has_list {
            known.push(paging::LIST_ALL_MAX);
        }
        only_known(own, &known)?;
        for setting in &definition.settings {
            let name = &setting.name;
            let Some(value) = own.get(name) else {
                return Err(format!(
                    "`{name}` is missing ({} needs it)",
                    definition.name
                ));
            };
            let text = value.as_str().unwrap_or_default();
            let fits = match setting.kind {
                model::SettingType::Url => {
                    Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https"))
                }
                model::SettingType::String => setting
                    .pattern
                    .as_ref()
                    .map_or(!text.is_empty(), |(_, regex)| regex.is_match(text)),
            };
            if !fits {
                return Err(match (&setting.pattern, setting.kind) {
                    (Some((pattern, _)), _) => {
                        format!("`{name}` must be text matching `{pattern}`")
                    }
                    (None, model::SettingType::Url) => format!("`{name}` must be an http(s) URL"),
                    (None, model::SettingType::String) => format!("`{name}` must be text"),
                });
            }
        }
        match own.get(paging::LIST_ALL_MAX) {
            Some(cap)
                if !cap
                    .as_u64()
                    .is_some_and(|cap| (1..=u64::from(check::MAX_LIST_ALL)).contains(&cap)) =>
            {
                Err(format!(
                    "`{}` must be a number from 1 to {}",
                    paging::LIST_ALL_MAX,
                    check::MAX_LIST_ALL
                ))
            }
            _ => Ok(()),
        }
    })
}

/// The statuses a capability can answer beyond the generic ones, from its rules.
fn responses(capability: &compiled::CompiledCapability) -> Vec<ExtraResponse> {
    let mut responses = Vec::new();
    let mut rules = capability.rules.iter().collect::<Vec<_>>();
    if let Action::Steps { steps, .. } = &capability.action {
        rules.extend(steps.iter().flat_map(|step| step.rules.iter()));
    }
    if rules.iter().any(|rule| rule.kind == ErrorKind::Conflict) {
        responses.push(ExtraResponse {
            status: StatusCode::CONFLICT,
            description: "The object's state does not allow this (the detail says why)".into(),
            with_result: false,
        });
    }
    let not_idempotent = match &capability.action {
        Action::Steps { steps, .. } => steps.iter().any(|step| !step.request.idempotent),
        Action::List(_) => false,
    };
    if not_idempotent {
        responses.push(ExtraResponse {
            status: StatusCode::GATEWAY_TIMEOUT,
            description: "The outcome is unknown (the request may have reached the vendor): check before repeating".into(),
            with_result: false,
        });
    }
    responses
}

/// The format's JSON Schema (committed as `docs/integration-definition.schema.json`).
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Definition);
    serde_json::to_string_pretty(&schema).expect("a schema serialises") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const OKTA: &str = include_str!("../../definitions/okta.yaml");

    #[test]
    fn the_committed_json_schema_is_the_format_s() {
        let committed = include_str!("../../../../docs/integration-definition.schema.json");
        assert!(
            committed == json_schema(),
            "the format changed: run `integration-service print-definition-schema > docs/integration-definition.schema.json`"
        );
    }

    #[test]
    fn the_format_reference_in_the_docs_is_current() {
        let docs = include_str!("../../../../docs/integrations.md");
        let (_, rest) = docs
            .split_once("<!-- BEGIN format reference (generated) -->\n")
            .expect("the BEGIN marker");
        let (committed, _) = rest
            .split_once("<!-- END format reference -->")
            .expect("the END marker");
        assert!(
            committed == reference::markdown(),
            "the format changed: regenerate the reference in docs/integrations.md \
             (integration-service print-definition-reference)"
        );
    }

    #[test]
    fn the_built_in_definitions_load() {
        let names: Vec<String> = load(None).unwrap().iter().map(|d| d.name.clone()).collect();
        let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/definitions"))
            .unwrap()
            .filter(|entry| {
                entry
                    .as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|ext| ext == "yaml")
            })
            .count();
        assert!(names.iter().any(|name| name == "okta"), "{names:?}");
        assert_eq!(names.len(), files, "one integration per file: {names:?}");
    }

    /// The Okta file with a declared string setting `org_id` (pattern `[a-z]+`).
    fn okta_with_a_setting() -> Arc<Compiled> {
        let text = OKTA.replacen(
            "  settings:\n",
            "  settings:\n    org_id: { type: string, pattern: \"[a-z]+\" }\n",
            1,
        );
        Arc::new(parse("okta.yaml", &text).unwrap())
    }

    #[test]
    fn declared_settings_are_required_and_checked_at_start() {
        let okta = integration(okta_with_a_setting(), CursorKeys::ephemeral());
        let own = |json: serde_json::Value| json.as_object().unwrap().clone();
        assert!((okta.check_settings)(&own(serde_json::json!({"org_id": "acme"}))).is_ok());
        for (bad, says) in [
            (serde_json::json!({}), "`org_id` is missing"),
            (serde_json::json!({"org_id": "Acme-1"}), "matching `[a-z]+`"),
            (serde_json::json!({"org_id": 7}), "matching `[a-z]+`"),
        ] {
            let error = (okta.check_settings)(&own(bad)).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn a_value_map_turns_vendor_values_into_the_model_s_and_refuses_others() {
        let text = OKTA.replacen(
            "      login: /profile/login",
            "      login: /profile/login\n      enabled: { from: /enabled, map: { \"true\": active, \"false\": suspended } }",
            1,
        );
        let okta = parse("okta.yaml", &text).unwrap();
        let model = &okta.models[0];
        let record = |enabled: serde_json::Value| serde_json::json!({"id": "00u1", "status": "ACTIVE", "enabled": enabled});
        let mapped = |enabled| {
            serde_json::to_value(answer::map_record(model, &record(enabled)).unwrap()).unwrap()
        };
        assert_eq!(mapped(serde_json::json!(true))["enabled"], "active");
        assert_eq!(mapped(serde_json::json!(false))["enabled"], "suspended");
        let error = answer::map_record(model, &record(serde_json::json!("maybe")))
            .unwrap_err()
            .to_string();
        assert!(error.contains("a value it never has"), "{error}");
    }

    #[test]
    fn a_tenant_s_own_settings_are_the_definition_s_to_check() {
        let okta = load(None)
            .unwrap()
            .into_iter()
            .find(|definition| definition.name == "okta")
            .unwrap();
        let okta = integration(okta, CursorKeys::ephemeral());
        let own = |json: serde_json::Value| json.as_object().unwrap().clone();
        assert!((okta.check_settings)(&own(serde_json::json!({}))).is_ok());
        assert!((okta.check_settings)(&own(serde_json::json!({"list_all_max": 320}))).is_ok());
        for (bad, says) in [
            (serde_json::json!({"list_all_max": 0}), "1 to 10000"),
            (serde_json::json!({"list_all_max": "lots"}), "1 to 10000"),
            (
                serde_json::json!({"secrt": "a"}),
                "`secrt` is not a setting it takes (it takes list_all_max)",
            ),
            (
                serde_json::json!({"fields": {"name": "{n}"}}),
                "`fields` is not a setting",
            ),
        ] {
            let error = (okta.check_settings)(&own(bad)).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }

    /// The Okta file with `from` replaced by `to` (which must be there).
    fn broken(from: &str, to: &str) -> Vec<DefinitionError> {
        assert!(OKTA.contains(from), "{from}");
        parse("bad.yaml", &OKTA.replacen(from, to, 1)).expect_err("refused")
    }

    #[test]
    fn the_checker_refuses_one_bad_file_per_rule_naming_file_path_and_reason() {
        let cases = [
            // (rule, from, to, path, reason)
            (
                "unknown key",
                "vendor: Okta",
                "vendor: Okta\nretries: 3",
                "retries",
                "unknown field `retries`",
            ),
            (
                "undeclared placeholder",
                "path: \"/api/v1/users/{user_id}\" }\n    result",
                "path: \"/api/v1/users/{user}\" }\n    result",
                "capabilities.get_user.request.path",
                "`{user}` is not declared",
            ),
            (
                "template outside params/settings",
                "{settings.base_url}/oauth2",
                "{env.home}/oauth2",
                "connection.auth.oauth_private_key_jwt.token_url",
                "names nothing",
            ),
            (
                "undeclared setting",
                "\"{settings.base_url}\"",
                "\"{settings.org_url}\"",
                "connection.base_url",
                "`{settings.org_url}` is not declared",
            ),
            (
                "request in no bucket",
                "path: \"/api/v1/users/{user_id}\" }\n    result",
                "path: \"/api/v2/users/{user_id}\" }\n    result",
                "capabilities.get_user.request",
                "matches no rate-limit bucket",
            ),
            (
                "request in two buckets",
                "user: [\"GET /api/v1/users/{id}\"]",
                "user: [\"GET /api/v1/users/{id}\", \"GET /api/v1/users\"]",
                "capabilities.list_users.request",
                "matches several buckets",
            ),
            (
                "unresolved ref",
                "params: { user_id: { ref: user_id } }\n    request: { method: GET",
                "params: { user_id: { ref: userid } }\n    request: { method: GET",
                "capabilities.get_user.params.user_id.ref",
                "`userid` is not in `params`",
            ),
            (
                "unknown auth method",
                "api_token: {}",
                "api_key: {}",
                "connection.auth.api_key",
                "no auth method `api_key`",
            ),
            (
                "pointer not RFC 6901",
                "login: /profile/login",
                "login: profile/login",
                "models.okta_user.fields.login",
                "must start with `/`",
            ),
            (
                "POST without idempotent",
                ", idempotent: false }",
                " }",
                "capabilities.suspend_user.request.idempotent",
                "POST may not be idempotent",
            ),
            (
                "pattern that is no regex",
                "\"^[A-Za-z0-9_-]{1,64}$\"",
                "\"^[A-Z\"",
                "capabilities.get_user.params.user_id.pattern",
                "not a regular expression",
            ),
            (
                "unknown model",
                "model: okta_user }\n    errors",
                "model: okta_usr }\n    errors",
                "capabilities.get_user.result.model",
                "no model `okta_usr`",
            ),
            (
                "unknown step",
                "step_succeeded: deactivate",
                "step_succeeded: deactivated",
                "capabilities.delete_user.result.fields.deactivated",
                "no step `deactivated`",
            ),
            (
                "unknown error kind",
                "kind: auth_permission",
                "kind: permission",
                "errors.rules[1].kind",
                "unknown variant `permission`",
            ),
            (
                "blame of no parameter",
                "first_given: [search, filter, after]",
                "first_given: [search, filter, cursor]",
                "capabilities.list_users.errors.0.field",
                "`cursor` is not a parameter",
            ),
            (
                "assertion options on another method",
                "api_token: {}",
                "api_token: { alg: PS256 }",
                "connection.auth.api_token",
                "oauth_private_key_jwt's",
            ),
            (
                "body on a GET",
                "path: \"/api/v1/users/{user_id}\" }\n    result",
                "path: \"/api/v1/users/{user_id}\", body: { a: true } }\n    result",
                "capabilities.get_user.request.body",
                "GET sends no body",
            ),
            (
                "a page style without its continuation",
                "vendor_cursor: after",
                "next_link: /next",
                "capabilities.list_users.page",
                "`next_link_in_body` its `next_link`",
            ),
            (
                "a next link handed out as given",
                "style: link_header                   # Link: <...?after=X&limit=200>; rel=\"next\"\n      vendor_cursor: after",
                "style: next_link_in_body\n      next_link: /next",
                "capabilities.list_users.page.caller_cursor.form",
                "callers get it `sealed`",
            ),
            (
                "a sealed cursor not passed back as `next`",
                "form: as_given",
                "form: sealed",
                "capabilities.list_users.page.caller_cursor.param",
                "passed back as `next`",
            ),
            (
                "a pattern on a url setting",
                "base_url: { type: url,",
                "base_url: { type: url, pattern: \"x\",",
                "connection.settings.base_url.pattern",
                "only a `string` has a pattern",
            ),
            (
                "a directory user without the common fields",
                "      family_name: /profile/lastName",
                "      surname: /profile/lastName",
                "models.directory_user.fields",
                "id, user_name, email, given_name, family_name, status in this order",
            ),
            (
                "a directory status outside the closed set",
                "SUSPENDED: suspended",
                "SUSPENDED: paused",
                "models.directory_user.fields.status",
                "one of active, suspended, deprovisioned",
            ),
            (
                "a directory capability that is not there",
                "  get_user: get_user",
                "  get_user: read_user",
                "directory.get_user",
                "no capability `read_user`",
            ),
            (
                "a directory list that is no list",
                "  list_users: list_users",
                "  list_users: get_user",
                "directory.list_users",
                "`get_user` is not a list",
            ),
            (
                "a quota of no bucket",
                "    api_v1: [\"POST /api/v1/users/{id}/lifecycle/*\"]",
                "    api_v1: [\"POST /api/v1/users/{id}/lifecycle/*\"]\n  exhausted_by: { header: x-scope, part: 0, quotas: { All: [users, everything] } }",
                "rate_limits.exhausted_by.quotas.All",
                "no bucket `everything`",
            ),
            (
                "key given twice",
                "  get_user:\n",
                "  list_users: {}\n  get_user:\n",
                "capabilities",
                "`list_users` is given twice",
            ),
        ];
        for (rule, from, to, path, reason) in cases {
            let errors = broken(from, to);
            assert!(
                errors
                    .iter()
                    .any(|e| e.file == "bad.yaml" && e.path == path && e.reason.contains(reason)),
                "{rule}: expected `{path}: ...{reason}...` in {errors:#?}"
            );
        }
    }

    #[test]
    fn every_mistake_of_a_file_is_reported_at_once() {
        let text = OKTA
            .replacen("api_token: {}", "api_key: {}", 1)
            .replacen("login: /profile/login", "login: profile/login", 1)
            .replacen(", idempotent: false }", " }", 1);
        let errors = parse("bad.yaml", &text).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "connection.auth.api_key",
                "models.okta_user.fields.login",
                "capabilities.suspend_user.request.idempotent"
            ]
        );
    }
}
