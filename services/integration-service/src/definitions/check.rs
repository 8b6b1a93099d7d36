//! The checker: turns a parsed definition into its [`Compiled`] form, or names every
//! mistake in it at once (file, path, reason). Beyond what the types refuse: templates
//! name only declared parameters, settings and captured values; pointers are RFC 6901;
//! patterns compile; `ref`s, models and steps resolve; every request falls in exactly one
//! rate-limit bucket; auth methods exist; requests that may not be idempotent say so.
use std::sync::Arc;

use regex::Regex;
use reqwest::header::HeaderName;
use reqwest::Method;

use super::compiled::*;
use super::model::{self, CapabilityKind, Definition, ErrorKind, FieldBlame, HttpMethod};
use super::template::{plain, Name, Pointer, Template};
use crate::tenants::AuthKind;

/// The largest `limit` of an `all=true` read; the service's cap holds answers lower.
pub const MAX_LIST_ALL: u32 = 10_000;
/// A caller's cursor is at most this long (a vendor's own value, `as_given`).
pub const MAX_CURSOR: u32 = 512;
/// A sealed cursor is at most this long (it carries a vendor's whole next link).
pub const MAX_SEALED_CURSOR: u32 = 2048;
/// Names that would shadow the service's own routes.
pub const RESERVED: &[&str] = &[
    "capabilities",
    "integrations",
    "swagger",
    "tenants",
    "directory",
];

/// One mistake in a definition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    pub file: String,
    /// Where in the file, e.g. `capabilities.get_user.request.path`.
    pub path: String,
    pub reason: String,
}

impl std::fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.path, self.reason)
    }
}

struct Checker<'a> {
    file: &'a str,
    definition: &'a Definition,
    errors: Vec<DefinitionError>,
}

/// What a template may name where it is used.
struct Scope<'a> {
    params: &'a [ParamSpec],
    captured: &'a [String],
    errors: bool,
}

impl Checker<'_> {
    fn fail(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(DefinitionError {
            file: self.file.to_owned(),
            path: path.into(),
            reason: reason.into(),
        });
    }

    fn pointer(&mut self, path: &str, text: &str, wildcard: bool) -> Pointer {
        Pointer::parse(text, wildcard).unwrap_or_else(|reason| {
            self.fail(path, reason);
            Pointer::parse("", false).expect("the empty pointer")
        })
    }

    fn template(&mut self, path: &str, text: &str, scope: &Scope<'_>) -> Template {
        let template = match Template::parse(text) {
            Ok(template) => template,
            Err(reason) => {
                self.fail(path, reason);
                return Template::parse("-").expect("a literal");
            }
        };
        for name in template.names() {
            let known = match name {
                Name::Value(value) => {
                    scope.params.iter().any(|p| &p.name == value) || scope.captured.contains(value)
                }
                Name::Setting(setting) => {
                    self.definition.connection.settings.get(setting).is_some()
                }
                Name::Error(_) => scope.errors,
            };
            if !known {
                self.fail(
                    path,
                    format!("`{{{}}}` is not declared here", display(name)),
                );
            }
        }
        template
    }

    fn header(&mut self, path: &str, name: &str) -> HeaderName {
        HeaderName::try_from(name).unwrap_or_else(|_| {
            self.fail(path, format!("`{name}` is not a header name"));
            HeaderName::from_static("x-invalid")
        })
    }

    fn rules(&mut self, path: &str, rules: &[model::ErrorRule], params: &[ParamSpec]) -> Vec<Rule> {
        let scope = Scope {
            params,
            captured: &[],
            errors: true,
        };
        rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let at = format!("{path}.{index}");
                if let model::StatusMatch::Code(code) = rule.status {
                    if !(400..600).contains(&code) {
                        self.fail(format!("{at}.status"), "rules are for 4xx and 5xx answers");
                    }
                }
                let field = rule.field.as_ref().map(|blame| match blame {
                    FieldBlame::Named(name) => Blame::Named(name.clone()),
                    FieldBlame::FirstGiven { first_given } => {
                        Blame::FirstGiven(first_given.clone())
                    }
                });
                let blamed: Vec<&String> = match &rule.field {
                    Some(FieldBlame::Named(name)) => vec![name],
                    Some(FieldBlame::FirstGiven { first_given }) => first_given.iter().collect(),
                    None => Vec::new(),
                };
                for name in blamed {
                    if !params.iter().any(|p| &p.name == name) {
                        self.fail(
                            format!("{at}.field"),
                            format!("`{name}` is not a parameter"),
                        );
                    }
                }
                if (rule.kind == ErrorKind::InvalidRequest) != rule.field.is_some() {
                    self.fail(
                        format!("{at}.field"),
                        "`field` goes with `invalid_request`, always",
                    );
                }
                Rule {
                    status: rule.status,
                    code: rule.code.clone(),
                    challenge_error: rule.www_authenticate.as_ref().map(|c| c.error.clone()),
                    kind: rule.kind,
                    detail: rule
                        .detail
                        .as_ref()
                        .map(|detail| self.template(&format!("{at}.detail"), detail, &scope)),
                    field,
                }
            })
            .collect()
    }

    fn bucket(&mut self, path: &str, method: HttpMethod, template: &str) -> Arc<str> {
        let buckets = &self.definition.rate_limits.buckets;
        if buckets.is_empty() {
            return Arc::from(crate::upstream::WHOLE_UPSTREAM);
        }
        let request: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        let matching: Vec<&str> = buckets
            .iter()
            .filter(|(_, patterns)| {
                patterns
                    .iter()
                    .any(|pattern| pattern_matches(pattern, method, &request))
            })
            .map(|(name, _)| name)
            .collect();
        match matching.as_slice() {
            [one] => Arc::from(*one),
            [] => {
                self.fail(
                    path,
                    format!(
                        "`{} {template}` matches no rate-limit bucket",
                        method.as_str()
                    ),
                );
                Arc::from(crate::upstream::WHOLE_UPSTREAM)
            }
            many => {
                self.fail(
                    path,
                    format!(
                        "`{} {template}` matches several buckets: {}",
                        method.as_str(),
                        many.join(", ")
                    ),
                );
                Arc::from(crate::upstream::WHOLE_UPSTREAM)
            }
        }
    }

    fn request(&mut self, path: &str, request: &model::RequestDef, scope: &Scope<'_>) -> Request {
        if !request.path.starts_with('/') {
            self.fail(format!("{path}.path"), "must start with `/`");
        }
        let template = self.template(&format!("{path}.path"), &request.path, scope);
        for name in template.names() {
            if let Name::Value(value) = name {
                if scope.params.iter().any(|p| &p.name == value && !p.required) {
                    self.fail(
                        format!("{path}.path"),
                        format!("`{{{value}}}` is optional: a path needs required parameters"),
                    );
                }
            }
        }
        let idempotent = match (request.idempotent, request.method.idempotent_by_default()) {
            (Some(said), _) => said,
            (None, true) => true,
            (None, false) => {
                self.fail(
                    format!("{path}.idempotent"),
                    format!(
                        "{} may not be idempotent: say whether repeating it is harmless",
                        request.method.as_str()
                    ),
                );
                false
            }
        };
        if !request.body.is_empty() && request.method.idempotent_by_default() {
            self.fail(
                format!("{path}.body"),
                format!(
                    "{} sends no body: only POST, PUT and PATCH do",
                    request.method.as_str()
                ),
            );
        }
        let body = request
            .body
            .iter()
            .map(|(name, value)| {
                let field = match value {
                    model::BodyValue::Bool(value) => BodyField::Json((*value).into()),
                    model::BodyValue::Number(value) => BodyField::Json((*value).into()),
                    model::BodyValue::Template(text) => {
                        BodyField::Text(self.template(&format!("{path}.body.{name}"), text, scope))
                    }
                };
                (name.to_owned(), field)
            })
            .collect();
        Request {
            body,
            method: Method::from_bytes(request.method.as_str().as_bytes()).expect("a method"),
            query: request
                .query
                .iter()
                .map(|(name, value)| {
                    (
                        name.to_owned(),
                        self.template(&format!("{path}.query.{name}"), value, scope),
                    )
                })
                .collect(),
            path: template,
            idempotent,
            bucket: self.bucket(path, request.method, &request.path),
        }
    }

    fn param(&mut self, path: &str, name: &str, param: &model::Param) -> ParamSpec {
        let resolved = match &param.reference {
            Some(reference) => {
                let shared = self.definition.params.get(reference).cloned();
                if shared.is_none() {
                    self.fail(
                        format!("{path}.ref"),
                        format!("`{reference}` is not in `params`"),
                    );
                }
                let has_own =
                    param.kind.is_some() || param.pattern.is_some() || param.description.is_some();
                if has_own {
                    self.fail(path, "a `ref` parameter says nothing else");
                }
                shared.unwrap_or_default()
            }
            None => param.clone(),
        };
        if !plain(name) || matches!(name, "limit" | "all") {
            self.fail(
                path,
                "a parameter name is lowercase letters, digits and `_`, and not `limit` or `all`",
            );
        }
        if resolved.kind.is_none() {
            self.fail(path, "a parameter has a `type` (or a `ref`)");
        }
        let pattern = resolved
            .pattern
            .as_ref()
            .and_then(|pattern| match Regex::new(pattern) {
                Ok(regex) => Some((pattern.clone(), regex)),
                Err(error) => {
                    self.fail(
                        format!("{path}.pattern"),
                        format!("not a regular expression: {error}"),
                    );
                    None
                }
            });
        ParamSpec {
            name: name.to_owned(),
            description: resolved.description.clone(),
            required: resolved.required,
            rule: ParamRule::Text {
                min_length: resolved.min_length,
                max_length: resolved.max_length,
                pattern,
                refused: resolved.refused.clone(),
                message: resolved.message.clone(),
            },
            query: param.query.clone().or(resolved.query),
            in_path: false,
        }
    }

    fn model(&mut self, path: &str, name: &str) -> usize {
        match self
            .definition
            .models
            .keys()
            .position(|model| model == name)
        {
            Some(index) => index,
            None => {
                self.fail(path, format!("no model `{name}`"));
                0
            }
        }
    }

    fn capability(&mut self, name: &str, def: &model::CapabilityDef) -> CompiledCapability {
        let path = format!("capabilities.{name}");
        if !plain(name) {
            self.fail(
                &path,
                "a capability name is lowercase letters, digits and `_`",
            );
        }
        let mut params: Vec<ParamSpec> = def
            .params
            .iter()
            .map(|(param, spec)| self.param(&format!("{path}.params.{param}"), param, spec))
            .collect();
        if let Some(page) = &def.page {
            let cursor = ParamSpec {
                name: page.caller_cursor.param.clone(),
                description: Some("The `next` cursor of the previous page.".into()),
                required: false,
                rule: ParamRule::Cursor {
                    max_length: match page.caller_cursor.form {
                        model::CursorForm::Sealed => MAX_SEALED_CURSOR,
                        model::CursorForm::AsGiven => MAX_CURSOR,
                    },
                },
                query: None,
                in_path: false,
            };
            let limit = ParamSpec {
                name: "limit".into(),
                description: Some(format!(
                    "The most records in the answer: 1 to {max} (one {vendor} page; default {max}), \
                     or with `all=true` 1 to {MAX_LIST_ALL} across pages (default and ceiling: the \
                     service's cap).",
                    max = page.size.max,
                    vendor = self.definition.vendor
                )),
                required: false,
                rule: ParamRule::Limit { page_max: page.size.max, all_max: MAX_LIST_ALL },
                query: None,
                in_path: false,
            };
            let all = ParamSpec {
                name: "all".into(),
                description: Some(format!(
                    "Follow the pages up to `limit`, the service's cap, or while the tenant's {} \
                     rate limit has more than the reserve left (`truncated` and `next` say it \
                     stopped early).",
                    self.definition.vendor
                )),
                required: false,
                rule: ParamRule::All,
                query: None,
                in_path: false,
            };
            params.insert(0, limit);
            params.insert(1, cursor);
            params.push(all);
        }
        let rules = self.rules(&format!("{path}.errors"), &def.errors, &params);
        let action = match (&def.page, &def.request, def.steps.is_empty()) {
            (Some(page), Some(request), true) => self.list(&path, def, page, request, &mut params),
            (None, Some(request), true) => {
                let step = model::Step {
                    id: name.to_owned(),
                    when: None,
                    request: clone_request(request),
                    capture: model::Ordered::default(),
                    errors: Vec::new(),
                };
                self.steps(&path, def, std::slice::from_ref(&step), &mut params)
            }
            (None, None, false) => self.steps(&path, def, &def.steps, &mut params),
            _ => {
                self.fail(&path, "one `request` (with `page` for a list) or `steps`");
                Action::Steps {
                    steps: Vec::new(),
                    result: ResultShape::Fields {
                        schema: String::new(),
                        fields: Vec::new(),
                    },
                }
            }
        };
        if def.page.is_some() && def.kind != CapabilityKind::Read {
            self.fail(format!("{path}.page"), "only reads are lists");
        }
        CompiledCapability {
            name: name.to_owned(),
            kind: def.kind,
            summary: def.summary.clone(),
            description: def.description.clone(),
            params_schema: def.params_schema.clone(),
            params,
            rules,
            action,
        }
    }

    fn list(
        &mut self,
        path: &str,
        def: &model::CapabilityDef,
        page: &model::Page,
        request: &model::RequestDef,
        params: &mut [ParamSpec],
    ) -> Action {
        let scope = Scope {
            params,
            captured: &[],
            errors: false,
        };
        let request = self.request(&format!("{path}.request"), request, &scope);
        if request.method != Method::GET {
            self.fail(format!("{path}.request.method"), "a list is read with GET");
        }
        if !(1..=MAX_LIST_ALL).contains(&page.size.all_max) {
            self.fail(
                format!("{path}.page.size.all_max"),
                format!("1 to {MAX_LIST_ALL}"),
            );
        }
        let Some(records) = &def.records else {
            self.fail(path, "a list says where its `records` are");
            return Action::Steps {
                steps: Vec::new(),
                result: ResultShape::Fields {
                    schema: String::new(),
                    fields: Vec::new(),
                },
            };
        };
        if def.result.is_some() {
            self.fail(format!("{path}.result"), "a list answers its `records`");
        }
        let warn_if_empty = def.warn_if_empty.as_ref().map(|warn| {
            for name in &warn.unless_given {
                if !params.iter().any(|p| &p.name == name) {
                    self.fail(
                        format!("{path}.warn_if_empty"),
                        format!("`{name}` is not a parameter"),
                    );
                }
            }
            (warn.unless_given.clone(), warn.message.clone())
        });
        let model = self.model(&format!("{path}.records.model"), &records.model);
        if !plain(&records.field) {
            self.fail(
                format!("{path}.records.field"),
                "lowercase letters, digits and `_`",
            );
        }
        let continuation = match (page.style, &page.vendor_cursor, &page.next_link) {
            (model::PageStyle::LinkHeader, Some(vendor_cursor), None) => Continuation::LinkHeader {
                vendor_cursor: vendor_cursor.clone(),
            },
            (model::PageStyle::NextLinkInBody, None, Some(next_link)) => {
                if page.caller_cursor.form != model::CursorForm::Sealed {
                    self.fail(
                        format!("{path}.page.caller_cursor.form"),
                        "a next link is a URL: callers get it `sealed`, never as given",
                    );
                }
                Continuation::NextLinkInBody {
                    next_link: self.pointer(&format!("{path}.page.next_link"), next_link, false),
                }
            }
            _ => {
                self.fail(
                    format!("{path}.page"),
                    "`link_header` names its `vendor_cursor`, `next_link_in_body` its `next_link`",
                );
                Continuation::LinkHeader {
                    vendor_cursor: String::new(),
                }
            }
        };
        let sealed = page.caller_cursor.form == model::CursorForm::Sealed;
        if sealed && page.caller_cursor.param != "next" {
            self.fail(
                format!("{path}.page.caller_cursor.param"),
                "a sealed cursor is passed back as `next` (the service's paging convention)",
            );
        }
        Action::List(Box::new(List {
            request,
            continuation,
            sealed,
            caller_cursor: page.caller_cursor.param.clone(),
            size_param: page.size.param.clone(),
            page_max: page.size.max,
            all_max: page.size.all_max,
            halve_after_server_error: page.size.halve_after_server_error,
            records_at: self.pointer(&format!("{path}.records.at"), &records.at, false),
            model,
            field: Arc::from(records.field.as_str()),
            schema: records.schema.clone(),
            warn_if_empty,
        }))
    }

    fn steps(
        &mut self,
        path: &str,
        def: &model::CapabilityDef,
        steps: &[model::Step],
        params: &mut [ParamSpec],
    ) -> Action {
        let mut captured: Vec<String> = Vec::new();
        let mut compiled = Vec::new();
        for (index, step) in steps.iter().enumerate() {
            let at = if def.steps.is_empty() {
                format!("{path}.request")
            } else {
                format!("{path}.steps.{index}")
            };
            if compiled.iter().any(|s: &Step| s.id == step.id) || !plain(&step.id) {
                self.fail(
                    format!("{at}.id"),
                    "step ids are unique, lowercase letters, digits and `_`",
                );
            }
            let scope = Scope {
                params,
                captured: &captured,
                errors: false,
            };
            let unless = step.when.as_ref().map(|when| {
                (
                    self.template(&format!("{at}.when.value"), &when.value, &scope),
                    when.is_not.clone(),
                )
            });
            let request_at = if def.steps.is_empty() {
                at.clone()
            } else {
                format!("{at}.request")
            };
            let request = self.request(&request_at, &step.request, &scope);
            let rules = self.rules(&format!("{at}.errors"), &step.errors, params);
            let captures = step
                .capture
                .iter()
                .map(|(name, pointer)| {
                    (
                        name.to_owned(),
                        self.pointer(&format!("{at}.capture.{name}"), pointer, false),
                    )
                })
                .collect::<Vec<_>>();
            captured.extend(captures.iter().map(|(name, _)| name.clone()));
            compiled.push(Step {
                id: step.id.clone(),
                unless,
                request,
                captures,
                rules,
            });
        }
        for step in &compiled {
            for name in step.request.path.names() {
                if let Name::Value(value) = name {
                    if let Some(param) = params.iter_mut().find(|p| &p.name == value) {
                        param.in_path = true;
                    }
                }
            }
        }
        let Some(result) = &def.result else {
            self.fail(path, "say what the capability answers: `result`");
            return Action::Steps {
                steps: compiled,
                result: ResultShape::Fields {
                    schema: String::new(),
                    fields: Vec::new(),
                },
            };
        };
        let scope = Scope {
            params,
            captured: &captured,
            errors: false,
        };
        let result = match (&result.model, result.fields.is_empty(), &result.schema) {
            (Some(model), true, None) => ResultShape::Record {
                at: self.pointer(
                    &format!("{path}.result.at"),
                    result.at.as_deref().unwrap_or(""),
                    false,
                ),
                model: self.model(&format!("{path}.result.model"), model),
            },
            (None, false, Some(schema)) => ResultShape::Fields {
                schema: schema.clone(),
                fields: result
                    .fields
                    .iter()
                    .map(|(name, value)| {
                        let at = format!("{path}.result.fields.{name}");
                        let field = match value {
                            model::ResultValue::Template(text) => {
                                ResultField::Text(self.template(&at, text, &scope))
                            }
                            model::ResultValue::Bool(value) => ResultField::Bool(*value),
                            model::ResultValue::StepSucceeded { step_succeeded } => {
                                match compiled.iter().position(|s| &s.id == step_succeeded) {
                                    Some(index) => ResultField::StepSucceeded(index),
                                    None => {
                                        self.fail(&at, format!("no step `{step_succeeded}`"));
                                        ResultField::Bool(false)
                                    }
                                }
                            }
                        };
                        (Arc::from(name), field)
                    })
                    .collect(),
            },
            _ => {
                self.fail(
                    format!("{path}.result"),
                    "either `model` (with `at`) or `fields` with `schema`",
                );
                ResultShape::Fields {
                    schema: String::new(),
                    fields: Vec::new(),
                }
            }
        };
        Action::Steps {
            steps: compiled,
            result,
        }
    }
}

/// Whether `pattern` (`"METHOD /a/{id}/*"`) covers a request of `method` to the path
/// template `request` (segments; a placeholder or `*` in the pattern is any one segment).
fn pattern_matches(pattern: &str, method: HttpMethod, request: &[&str]) -> bool {
    let Some((verb, path)) = pattern.split_once(' ') else {
        return false;
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    verb == method.as_str()
        && segments.len() == request.len()
        && segments.iter().zip(request).all(|(pattern, segment)| {
            *pattern == "*"
                || pattern.starts_with('{')
                || (pattern == segment && !segment.starts_with('{'))
        })
}

/// The fields of `directory_user`, in order.
pub const DIRECTORY_FIELDS: [&str; 6] = [
    "id",
    "user_name",
    "email",
    "given_name",
    "family_name",
    "status",
];
/// What a `directory_user`'s status can be.
pub const DIRECTORY_STATUSES: [&str; 3] = ["active", "suspended", "deprovisioned"];

impl Checker<'_> {
    fn directory(
        &mut self,
        directory: &model::DirectoryDef,
        models: &[CompiledModel],
        capabilities: &[CompiledCapability],
    ) -> Directory {
        let user = self.model("directory.user", &directory.user);
        if let Some(model) = models.get(user) {
            let names: Vec<&str> = model.fields.iter().map(|f| &*f.name).collect();
            if names != DIRECTORY_FIELDS {
                self.fail(
                    format!("models.{}.fields", model.name),
                    format!(
                        "a directory user has the fields {} in this order",
                        DIRECTORY_FIELDS.join(", ")
                    ),
                );
            }
            let status = model.fields.iter().find(|f| &*f.name == "status");
            let closed = status.is_some_and(|status| {
                !status.map.is_empty()
                    && status
                        .map
                        .iter()
                        .all(|(_, to)| DIRECTORY_STATUSES.contains(&to.as_str()))
            });
            if !closed {
                self.fail(
                    format!("models.{}.fields.status", model.name),
                    format!(
                        "`map` every vendor status to one of {}",
                        DIRECTORY_STATUSES.join(", ")
                    ),
                );
            }
        }
        let mut find =
            |role: &str, name: &str, want: &str, fits: &dyn Fn(&CompiledCapability) -> bool| {
                match capabilities.iter().position(|c| c.name == name) {
                    Some(index) if fits(&capabilities[index]) => index,
                    Some(_) => {
                        self.fail(
                            format!("directory.{role}"),
                            format!("`{name}` is not {want}"),
                        );
                        0
                    }
                    None => {
                        self.fail(
                            format!("directory.{role}"),
                            format!("no capability `{name}`"),
                        );
                        0
                    }
                }
            };
        let takes_user_id =
            |c: &CompiledCapability| c.params.iter().any(|p| p.name == "user_id" && p.required);
        let list_users = find("list_users", &directory.list_users, "a list", &|c| {
            matches!(c.action, Action::List(_))
        });
        let get_user = find(
            "get_user",
            &directory.get_user,
            "a read of one record taking `user_id`",
            &|c| {
                takes_user_id(c)
                    && matches!(
                        c.action,
                        Action::Steps {
                            result: ResultShape::Record { .. },
                            ..
                        }
                    )
            },
        );
        let write = |c: &CompiledCapability| {
            c.kind == CapabilityKind::Write
                && takes_user_id(c)
                && matches!(c.action, Action::Steps { .. })
        };
        let suspend_user = find(
            "suspend_user",
            &directory.suspend_user,
            "a write taking `user_id`",
            &write,
        );
        let delete_user = find(
            "delete_user",
            &directory.delete_user,
            "a write taking `user_id`",
            &write,
        );
        let list_params = match capabilities.get(list_users).map(|c| &c.action) {
            Some(Action::List(list)) => vec![
                ParamSpec {
                    name: "limit".into(),
                    description: Some(format!(
                        "The most users in the answer: 1 to {max} (one page of the directory), \
                         or with `all=true` 1 to {MAX_LIST_ALL} across pages.",
                        max = list.page_max
                    )),
                    required: false,
                    rule: ParamRule::Limit {
                        page_max: list.page_max,
                        all_max: MAX_LIST_ALL,
                    },
                    query: None,
                    in_path: false,
                },
                ParamSpec {
                    name: "next".into(),
                    description: Some("The `next` cursor of the previous page.".into()),
                    required: false,
                    rule: ParamRule::Cursor {
                        max_length: MAX_SEALED_CURSOR,
                    },
                    query: None,
                    in_path: false,
                },
                ParamSpec {
                    name: "all".into(),
                    description: Some(
                        "Follow the pages up to `limit` or the service's cap.".into(),
                    ),
                    required: false,
                    rule: ParamRule::All,
                    query: None,
                    in_path: false,
                },
            ],
            _ => Vec::new(),
        };
        Directory {
            user,
            list_users,
            get_user,
            suspend_user,
            delete_user,
            list_params,
        }
    }
}

fn clone_request(request: &model::RequestDef) -> model::RequestDef {
    model::RequestDef {
        method: request.method,
        path: request.path.clone(),
        query: model::Ordered(request.query.0.clone()),
        idempotent: request.idempotent,
        body: model::Ordered(request.body.0.clone()),
    }
}

fn display(name: &Name) -> String {
    match name {
        Name::Value(value) => value.clone(),
        Name::Setting(setting) => format!("settings.{setting}"),
        Name::Error(part) => format!("{part:?}"),
    }
}

/// Checks `definition` (read from `file`) and compiles it; every mistake at once.
pub fn compile(file: &str, definition: &Definition) -> Result<Compiled, Vec<DefinitionError>> {
    let mut checker = Checker {
        file,
        definition,
        errors: Vec::new(),
    };
    let name = &definition.name;
    if !plain(name) || RESERVED.contains(&name.as_str()) {
        checker.fail(
            "name",
            format!(
                "`{name}` must be lowercase letters, digits and `_`, and not one of {}",
                RESERVED.join(", ")
            ),
        );
    }
    let connection = &definition.connection;
    let mut settings = Vec::new();
    for (setting, spec) in connection.settings.iter() {
        let path = format!("connection.settings.{setting}");
        if !plain(setting) || setting == super::paging::LIST_ALL_MAX {
            checker.fail(
                &path,
                "a setting name is lowercase letters, digits and `_`, and not list_all_max",
            );
        }
        if setting == "base_url" && spec.kind != model::SettingType::Url {
            checker.fail(&path, "`base_url` is a `url`");
        }
        if spec.pattern.is_some() && spec.kind != model::SettingType::String {
            checker.fail(format!("{path}.pattern"), "only a `string` has a pattern");
        }
        let pattern = spec.pattern.as_ref().and_then(|pattern| {
            match Regex::new(&format!("^(?:{pattern})$")) {
                Ok(regex) => Some((pattern.clone(), regex)),
                Err(error) => {
                    checker.fail(
                        format!("{path}.pattern"),
                        format!("not a regular expression: {error}"),
                    );
                    None
                }
            }
        });
        if setting != "base_url" {
            settings.push(SettingSpec {
                name: setting.to_owned(),
                kind: spec.kind,
                pattern,
            });
        }
    }
    let no_params = Scope {
        params: &[],
        captured: &[],
        errors: false,
    };
    let base_url = checker.template("connection.base_url", &connection.base_url, &no_params);
    let auth = connection
        .auth
        .iter()
        .filter_map(|(method, params)| {
            let path = format!("connection.auth.{method}");
            let Some(kind) = AuthKind::from_name(method) else {
                let names: Vec<&str> = AuthKind::ALL.iter().map(|(_, name)| *name).collect();
                checker.fail(
                    &path,
                    format!(
                        "no auth method `{method}` (the service has {})",
                        names.join(", ")
                    ),
                );
                return None;
            };
            let token_url = params
                .token_url
                .as_ref()
                .map(|url| checker.template(&format!("{path}.token_url"), url, &no_params));
            if kind.is_oauth() && token_url.is_none() {
                checker.fail(&path, "an OAuth method needs its `token_url`");
            }
            if kind != AuthKind::OauthPrivateKeyJwt
                && (params.alg.is_some() || params.key_id_header.is_some())
            {
                checker.fail(
                    &path,
                    "`alg` and `key_id_header` are oauth_private_key_jwt's",
                );
            }
            Some((kind, token_url))
        })
        .collect();
    if connection.auth.is_empty() {
        checker.fail("connection.auth", "name at least one auth method");
    }
    let check = checker.request("connection.check", &connection.check, &no_params);
    if connection.check.method != HttpMethod::Get {
        checker.fail(
            "connection.check.method",
            "a connection test only reads: GET",
        );
    }
    let assertion_style = connection
        .auth
        .get("oauth_private_key_jwt")
        .map(|params| AssertionStyle {
            alg: match params.alg {
                Some(model::SigningAlg::PS256) => jsonwebtoken::Algorithm::PS256,
                Some(model::SigningAlg::RS256) | None => jsonwebtoken::Algorithm::RS256,
            },
            certificate_thumbprint: params.key_id_header
                == Some(model::KeyIdHeader::CertificateThumbprint),
        })
        .unwrap_or_default();
    let rate_headers = definition
        .rate_limits
        .headers
        .as_ref()
        .map(|headers| RateHeaderNames {
            limit: checker.header("rate_limits.headers.limit", &headers.limit),
            remaining: checker.header("rate_limits.headers.remaining", &headers.remaining),
            reset: checker.header("rate_limits.headers.reset.header", &headers.reset.header),
        });
    for (bucket, patterns) in definition.rate_limits.buckets.iter() {
        for pattern in patterns {
            let well_formed = pattern.split_once(' ').is_some_and(|(verb, path)| {
                ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&verb) && path.starts_with('/')
            });
            if !well_formed {
                checker.fail(
                    format!("rate_limits.buckets.{bucket}"),
                    format!("`{pattern}` is not `METHOD /path`"),
                );
            }
        }
    }
    let exhausted_by = definition.rate_limits.exhausted_by.as_ref().map(|by| {
        let header = checker.header("rate_limits.exhausted_by.header", &by.header);
        for (quota, buckets) in by.quotas.iter() {
            for bucket in buckets {
                if definition.rate_limits.buckets.get(bucket).is_none() {
                    checker.fail(
                        format!("rate_limits.exhausted_by.quotas.{quota}"),
                        format!("no bucket `{bucket}`"),
                    );
                }
            }
        }
        ExhaustedBy {
            header,
            part: by.part,
            buckets: by
                .quotas
                .iter()
                .map(|(quota, buckets)| (quota.to_owned(), buckets.clone()))
                .collect(),
        }
    });
    let body = &definition.errors.body;
    let error_body = ErrorBody {
        code: body
            .code
            .as_ref()
            .map(|p| checker.pointer("errors.body.code", p, false)),
        message: body
            .message
            .as_ref()
            .map(|p| checker.pointer("errors.body.message", p, false)),
        id: body
            .id
            .as_ref()
            .map(|p| checker.pointer("errors.body.id", p, false)),
        causes: body
            .causes
            .as_ref()
            .map(|p| checker.pointer("errors.body.causes", p, true)),
    };
    let rules = checker.rules("errors.rules", &definition.errors.rules, &[]);
    let error_scope = Scope {
        params: &[],
        captured: &[],
        errors: true,
    };
    let otherwise = definition
        .errors
        .otherwise
        .as_ref()
        .map(|text| checker.template("errors.otherwise", text, &error_scope));
    let models: Vec<CompiledModel> = definition
        .models
        .iter()
        .map(|(name, model)| CompiledModel {
            name: name.to_owned(),
            schema: model.schema.clone(),
            description: model.description.clone(),
            fields: model
                .fields
                .iter()
                .map(|(field, spec)| {
                    let path = format!("models.{name}.fields.{field}");
                    let (from, required, description, map) = match spec {
                        model::ModelField::Pointer(pointer) => {
                            (pointer.as_str(), false, None, Vec::new())
                        }
                        model::ModelField::Detailed(detailed) => (
                            detailed.from.as_str(),
                            detailed.required,
                            detailed.description.clone(),
                            detailed
                                .map
                                .iter()
                                .map(|(from, to)| (from.to_owned(), to.clone()))
                                .collect(),
                        ),
                    };
                    ModelField {
                        name: Arc::from(field),
                        from: checker.pointer(&path, from, false),
                        required,
                        description,
                        map,
                    }
                })
                .collect(),
        })
        .collect();
    let capabilities: Vec<CompiledCapability> = definition
        .capabilities
        .iter()
        .map(|(name, def)| checker.capability(name, def))
        .collect();
    if definition.capabilities.is_empty() {
        checker.fail("capabilities", "declare at least one capability");
    }
    let directory = definition
        .directory
        .as_ref()
        .map(|directory| checker.directory(directory, &models, &capabilities));
    if !checker.errors.is_empty() {
        return Err(checker.errors);
    }
    Ok(Compiled {
        directory,
        file: file.to_owned(),
        name: name.clone(),
        vendor: definition.vendor.clone(),
        title: definition.title.clone(),
        base_url,
        settings,
        auth,
        rate_headers,
        exhausted_by,
        assertion_style,
        error_body,
        rules,
        otherwise,
        models,
        check,
        capabilities,
    })
}
