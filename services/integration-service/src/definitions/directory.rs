//! The common directory: `/directory/list_users`, `get_user`, `suspend_user` and
//! `delete_user` act on whichever directory a tenant uses (Okta, Microsoft Graph, ...), so
//! a client written once works for every one. Each definition with a `directory` section
//! maps its vendor's users to `directory_user`; the route finds the tenant's one directory
//! (`routes::execute`) and runs that definition's capability.
use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use common::paging::CursorKeys;

use super::check::{DIRECTORY_FIELDS, DIRECTORY_STATUSES, MAX_LIST_ALL, MAX_SEALED_CURSOR};
use super::compiled::{Compiled, CompiledModel, ModelField, ParamRule, ParamSpec};
use super::engine::{run_directory, DirectoryCall};
use super::openapi::{model_schema, page, params_of};
use super::template::Pointer;
use crate::capability::{Capability, ExtraResponse, Kind, NamedSchema, Registered, SettingsCheck};
use crate::error::{ApiError, Error};
use crate::upstream::UpstreamProfile;

/// The route's first segment, and the integration's name in the catalogue.
pub const DIRECTORY: &str = "directory";

/// `directory_user` as the spec shows it.
fn user_model() -> CompiledModel {
    let describe = |name: &str| -> &'static str {
        match name {
            "id" => "The vendor's user id (pass it as `user_id`).",
            "user_name" => "The sign-in name (Okta's login, Entra's userPrincipalName).",
            "email" => "The primary email address.",
            "given_name" => "First name.",
            "family_name" => "Last name.",
            _ => "active (may sign in, or will once activated), suspended (blocked) or deprovisioned (deactivated, on its way out).",
        }
    };
    CompiledModel {
        name: "directory_user".into(),
        schema: "DirectoryUser".into(),
        description: Some(format!(
            "A user of the tenant's directory, the same for every vendor (status: {}).",
            DIRECTORY_STATUSES.join(", ")
        )),
        fields: DIRECTORY_FIELDS
            .iter()
            .map(|name| ModelField {
                name: Arc::from(*name),
                from: Pointer::parse("", false).expect("the empty pointer"),
                required: matches!(*name, "id" | "status"),
                description: Some(describe(name).to_owned()),
                map: Vec::new(),
            })
            .collect(),
    }
}

fn user_id() -> ParamSpec {
    ParamSpec {
        name: "user_id".into(),
        description: Some(
            "The user's id in the tenant's directory (its `id` in list_users); each vendor \
             checks its own form (422 naming user_id)."
                .into(),
        ),
        required: true,
        rule: ParamRule::Text {
            min_length: Some(1),
            max_length: Some(64),
            pattern: None,
            refused: Vec::new(),
            message: None,
        },
        query: None,
        in_path: true,
    }
}

fn list_params() -> Vec<ParamSpec> {
    let optional = |name: &str, description: &str, rule| ParamSpec {
        name: name.into(),
        description: Some(description.into()),
        required: false,
        rule,
        query: None,
        in_path: false,
    };
    vec![
        optional(
            "limit",
            "The most users in the answer: up to one page of the directory, or with `all=true` across pages.",
            ParamRule::Limit {
                page_max: MAX_LIST_ALL,
                all_max: MAX_LIST_ALL,
            },
        ),
        optional(
            "next",
            "The `next` cursor of the previous page.",
            ParamRule::Cursor {
                max_length: MAX_SEALED_CURSOR,
            },
        ),
        optional(
            "all",
            "Follow the pages up to `limit` or the service's cap.",
            ParamRule::All,
        ),
    ]
}

fn fields(name: &str, fields: &[(&str, bool)]) -> NamedSchema {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut object = ObjectBuilder::new();
    for (field, boolean) in fields {
        let kind = if *boolean {
            Type::Boolean
        } else {
            Type::String
        };
        object = object
            .property(*field, ObjectBuilder::new().schema_type(kind))
            .required(*field);
    }
    NamedSchema {
        name: name.into(),
        schema: object.into(),
        dependencies: Vec::new(),
    }
}

/// The `directory` integration, when some definition is a directory: its four
/// capabilities run the tenant's directory's (chosen by the route from the tenant's
/// configuration and handed over as the call's upstream).
pub fn integration(definitions: &[Arc<Compiled>], keys: CursorKeys) -> Option<Registered> {
    let directories: Arc<HashMap<String, Arc<Compiled>>> = Arc::new(
        definitions
            .iter()
            .filter(|definition| definition.directory.is_some())
            .map(|definition| (definition.name.clone(), definition.clone()))
            .collect(),
    );
    if directories.is_empty() {
        return None;
    }
    let model = user_model();
    let user = || NamedSchema {
        name: model.schema.clone(),
        schema: model_schema(&model),
        dependencies: Vec::new(),
    };
    let not_found = ExtraResponse {
        status: StatusCode::NOT_FOUND,
        description: "The tenant's directory has no such user".into(),
        with_result: false,
    };
    let several = |also: &str| {
        ExtraResponse {
        status: StatusCode::CONFLICT,
        description: format!(
            "The tenant uses several directories (the detail names them: call the vendor's own routes){also}"
        ),
        with_result: false,
    }
    };
    let capability = |which: DirectoryCall,
                      name: &str,
                      kind: Kind,
                      summary: &str,
                      params: NamedSchema,
                      result: NamedSchema,
                      responses: Vec<ExtraResponse>| {
        let directories = directories.clone();
        let keys = keys.clone();
        Capability::dynamic(
            name.into(),
            kind,
            summary.into(),
            Some(
                "Acts on the tenant's directory, whichever vendor it is (the tenant's one \
                 integration with a directory; 409 when it has several)."
                    .into(),
            ),
            params,
            result,
            responses,
            move |call: crate::capability::Call, input| {
                let directories = directories.clone();
                let keys = keys.clone();
                async move {
                    let integration = call.upstream.integration.to_string();
                    let definition = directories
                        .get(&integration)
                        .ok_or_else(|| ApiError::from(Error::UnknownIntegration(integration)))?
                        .clone();
                    run_directory(&definition, which, &keys, call, input).await
                }
            },
        )
    };
    let capabilities = vec![
        capability(
            DirectoryCall::ListUsers,
            "list_users",
            Kind::Read,
            "List the directory's users, a page at a time or all pages",
            params_of("DirectoryListUsersParams", &list_params()),
            page(
                "users",
                "next",
                "DirectoryUsersPage",
                model.schema.clone(),
                model_schema(&model),
            ),
            vec![several("")],
        ),
        capability(
            DirectoryCall::GetUser,
            "get_user",
            Kind::Read,
            "One user by id",
            params_of("DirectoryUserParams", &[user_id()]),
            user(),
            vec![not_found.clone(), several("")],
        ),
        capability(
            DirectoryCall::SuspendUser,
            "suspend_user",
            Kind::Write,
            "Block a user's sign-in",
            params_of("DirectoryUserParams", &[user_id()]),
            fields(
                "DirectorySuspendResult",
                &[("id", false), ("status", false)],
            ),
            vec![
                not_found.clone(),
                several(", or the user's state does not allow it (the detail says why)"),
            ],
        ),
        capability(
            DirectoryCall::DeleteUser,
            "delete_user",
            Kind::Write,
            "Delete a user",
            params_of("DirectoryUserParams", &[user_id()]),
            fields("DirectoryDeleteResult", &[("id", false), ("deleted", true)]),
            vec![not_found, several("")],
        ),
    ];
    let check_settings: SettingsCheck = Arc::new(|_| Ok(()));
    Some(Registered {
        name: DIRECTORY.into(),
        description: "The tenant's directory of users, whichever vendor it is".into(),
        auth_methods: Vec::new(),
        capabilities,
        profile: UpstreamProfile::default(),
        check_settings,
        check: None,
        directory: false,
    })
}
