//! A definition once checked: everything parsed (templates, pointers, patterns, bucket of
//! each request), so running a capability never meets a mistake in the file.
use std::sync::Arc;

use regex::Regex;
use reqwest::Method;

use super::model::{CapabilityKind, ErrorKind, SettingType, StatusClass, StatusMatch};
use super::template::{Pointer, Template};
use crate::tenants::AuthKind;
pub use crate::upstream::credentials::AssertionStyle;
pub use crate::upstream::throttle::{ExhaustedBy, RateHeaderNames};

#[derive(Debug)]
pub struct Compiled {
    /// The file it came from (for messages).
    pub file: String,
    pub name: String,
    pub vendor: String,
    pub title: String,
    pub base_url: Template,
    /// The tenant settings it declares beyond `base_url` (its own, checked at start).
    pub settings: Vec<SettingSpec>,
    /// The auth methods a tenant may choose, in the file's order, with an OAuth method's
    /// token URL.
    pub auth: Vec<(AuthKind, Option<Template>)>,
    pub rate_headers: Option<RateHeaderNames>,
    pub exhausted_by: Option<ExhaustedBy>,
    /// How `oauth_private_key_jwt` signs for this vendor.
    pub assertion_style: AssertionStyle,
    pub error_body: ErrorBody,
    pub rules: Vec<Rule>,
    /// The detail of an error answer no rule matched.
    pub otherwise: Option<Template>,
    pub models: Vec<CompiledModel>,
    pub check: Request,
    pub capabilities: Vec<CompiledCapability>,
    pub directory: Option<Directory>,
}

/// What `/directory/*` runs: capabilities by index, their records as the `user` model.
#[derive(Debug)]
pub struct Directory {
    pub user: usize,
    pub list_users: usize,
    pub get_user: usize,
    pub suspend_user: usize,
    pub delete_user: usize,
    /// `/directory/list_users`'s parameters: `limit`, `next`, `all` (no vendor filter).
    pub list_params: Vec<ParamSpec>,
}

/// A setting a tenant gives.
#[derive(Debug)]
pub struct SettingSpec {
    pub name: String,
    pub kind: SettingType,
    pub pattern: Option<(String, Regex)>,
}

#[derive(Debug, Default)]
pub struct ErrorBody {
    pub code: Option<Pointer>,
    pub message: Option<Pointer>,
    pub id: Option<Pointer>,
    pub causes: Option<Pointer>,
}

#[derive(Debug)]
pub struct Rule {
    pub status: StatusMatch,
    pub code: Option<String>,
    pub challenge_error: Option<String>,
    pub kind: ErrorKind,
    pub detail: Option<Template>,
    pub field: Option<Blame>,
}

impl Rule {
    pub fn matches_status(&self, status: u16) -> bool {
        match self.status {
            StatusMatch::Code(code) => code == status,
            StatusMatch::Class(StatusClass::ClientError) => (400..500).contains(&status),
            StatusMatch::Class(StatusClass::ServerError) => (500..600).contains(&status),
        }
    }
}

#[derive(Debug)]
pub enum Blame {
    Named(String),
    /// The first of these the caller gave, else the last.
    FirstGiven(Vec<String>),
}

#[derive(Debug)]
pub struct CompiledModel {
    pub name: String,
    pub schema: String,
    pub description: Option<String>,
    pub fields: Vec<ModelField>,
}

#[derive(Debug)]
pub struct ModelField {
    pub name: Arc<str>,
    pub from: Pointer,
    pub required: bool,
    pub description: Option<String>,
    /// The vendor's values (as text) and what each becomes; empty: the value as it is.
    pub map: Vec<(String, String)>,
}

/// A parameter callers give.
#[derive(Debug, Clone)]
pub struct ParamSpec {
    pub name: String,
    pub description: Option<String>,
    pub required: bool,
    pub rule: ParamRule,
    /// Reads: the vendor's query parameter it is sent as.
    pub query: Option<String>,
    /// Used in a request path: refused when it would be a dot segment.
    pub in_path: bool,
}

#[derive(Debug, Clone)]
pub enum ParamRule {
    Text {
        min_length: Option<u32>,
        max_length: Option<u32>,
        pattern: Option<(String, Regex)>,
        refused: Vec<String>,
        message: Option<String>,
    },
    /// The caller's page size (`limit`): 1 to `page_max`, or with `all=true` 1 to
    /// `all_max`.
    Limit { page_max: u32, all_max: u32 },
    /// The caller's cursor: the `next` of an earlier answer, at most this long.
    Cursor { max_length: u32 },
    /// `all=true`: every page up to the cap.
    All,
}

#[derive(Debug)]
pub struct CompiledCapability {
    pub name: String,
    pub kind: CapabilityKind,
    pub summary: String,
    pub description: Option<String>,
    pub params_schema: String,
    pub params: Vec<ParamSpec>,
    pub rules: Vec<Rule>,
    pub action: Action,
}

#[derive(Debug)]
pub enum Action {
    List(Box<List>),
    Steps {
        steps: Vec<Step>,
        result: ResultShape,
    },
}

#[derive(Debug)]
pub struct List {
    pub request: Request,
    pub continuation: Continuation,
    pub caller_cursor: String,
    /// Callers' cursors are sealed (opaque, bound to the tenant and the capability).
    pub sealed: bool,
    pub size_param: String,
    pub page_max: u32,
    pub all_max: u32,
    pub halve_after_server_error: bool,
    pub records_at: Pointer,
    pub model: usize,
    pub field: Arc<str>,
    pub schema: String,
    pub warn_if_empty: Option<(Vec<String>, String)>,
}

/// Where a page says how the list goes on.
#[derive(Debug)]
pub enum Continuation {
    /// The `rel="next"` link's query parameter of this name.
    LinkHeader { vendor_cursor: String },
    /// The next page's URL at this pointer of the body.
    NextLinkInBody { next_link: Pointer },
}

#[derive(Debug)]
pub struct Step {
    pub id: String,
    /// Runs only when the rendered template differs from the text.
    pub unless: Option<(Template, String)>,
    pub request: Request,
    pub captures: Vec<(String, Pointer)>,
    pub rules: Vec<Rule>,
}

#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub path: Template,
    pub query: Vec<(String, Template)>,
    pub idempotent: bool,
    pub bucket: Arc<str>,
    /// A JSON object body, field by field (empty: no body).
    pub body: Vec<(String, BodyField)>,
}

#[derive(Debug)]
pub enum BodyField {
    Text(Template),
    Json(serde_json::Value),
}

#[derive(Debug)]
pub enum ResultShape {
    /// A record of the last step's body.
    Record { at: Pointer, model: usize },
    Fields {
        schema: String,
        fields: Vec<(Arc<str>, ResultField)>,
    },
}

#[derive(Debug)]
pub enum ResultField {
    Text(Template),
    Bool(bool),
    StepSucceeded(usize),
}

impl Compiled {
    pub fn capability(&self, name: &str) -> Option<&CompiledCapability> {
        self.capabilities.iter().find(|c| c.name == name)
    }
}
