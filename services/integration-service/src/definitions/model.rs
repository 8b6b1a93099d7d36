//! The `integration/v1` format as Rust types: what a definition file may say, and nothing
//! more (`deny_unknown_fields` everywhere, so a misspelt key names itself). The JSON Schema
//! of the format is generated from these types (`integration-service
//! print-definition-schema`, committed as `docs/integration-definition.schema.json`).
//!
//! A closed vocabulary, no expression language: a value is a JSON Pointer (RFC 6901), a
//! `{name}` template over the capability's parameters, `settings.*`, captured values or
//! the error being mapped, or a literal. What needs logic is Rust (`capability::Integration`).
use std::fmt;

use schemars::JsonSchema;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// A map that keeps the file's order (results are written in it, capabilities listed in
/// it) and refuses a key given twice.
#[derive(Debug, Clone)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Default for Ordered<V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<V> Ordered<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(name, _)| name == key).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(name, value)| (name.as_str(), value))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| name.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.iter().any(|(name, _)| *name == key) {
                        return Err(serde::de::Error::custom(format!("`{key}` is given twice")));
                    }
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(Ordered(entries))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(std::marker::PhantomData))
    }
}

impl<V: JsonSchema> JsonSchema for Ordered<V> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "additionalProperties": generator.subschema_for::<V>(),
        })
    }
}

/// One integration, one file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Always `integration/v1`.
    pub format: Format,
    /// The first path segment of its capabilities (`/okta/list_users`): lowercase letters,
    /// digits and `_`.
    pub name: String,
    /// What the vendor is called in messages ("Okta answered 500 ...").
    pub vendor: String,
    /// One line for the catalogue.
    pub title: String,
    /// The vendor's API reference.
    #[serde(default)]
    pub docs: Option<String>,
    pub connection: Connection,
    #[serde(default)]
    pub rate_limits: RateLimits,
    #[serde(default)]
    pub errors: Errors,
    /// Record models: the answers' shapes, field by field from the vendor's records.
    #[serde(default)]
    pub models: Ordered<Model>,
    /// Parameter types shared by several capabilities (`ref:` names them).
    #[serde(default)]
    pub params: Ordered<Param>,
    /// The capabilities, in the catalogue's order.
    pub capabilities: Ordered<CapabilityDef>,
    /// A directory of users: what `/directory/*` runs for a tenant that uses this one.
    #[serde(default)]
    pub directory: Option<DirectoryDef>,
}

/// The common directory model: the model that maps the vendor's user to `directory_user`
/// (fields `id`, `user_name`, `email`, `given_name`, `family_name`, `status`, in this
/// order; `status` maps the vendor's values to `active`, `suspended` or `deprovisioned`),
/// and the capabilities `/directory/list_users`, `get_user`, `suspend_user` and
/// `delete_user` run (each taking `user_id`, lists `limit`, `next`, `all`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryDef {
    pub user: String,
    pub list_users: String,
    pub get_user: String,
    pub suspend_user: String,
    pub delete_user: String,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
pub enum Format {
    #[serde(rename = "integration/v1")]
    V1,
}

/// Where the tenant's API is and how the service gets in.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connection {
    /// The API's base URL: a fixed URL, or `{settings.base_url}` (the tenant's).
    pub base_url: String,
    /// The non-secret settings a tenant gives (secrets live in the secret store).
    #[serde(default)]
    pub settings: Ordered<Setting>,
    /// The request "test connection" sends: any 2xx answer means the credentials work.
    /// A read: it must change nothing.
    pub check: RequestDef,
    /// The auth methods (implemented in Rust) a tenant may choose, with their parameters.
    pub auth: Ordered<AuthParams>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    #[serde(rename = "type")]
    pub kind: SettingType,
    #[serde(default)]
    pub description: Option<String>,
    /// Strings: a regular expression the whole value must match.
    #[serde(default)]
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SettingType {
    /// An http(s) URL; rendered without a trailing `/`.
    Url,
    /// Text, e.g. a directory's tenant id; `pattern` says which.
    String,
}

/// Parameters of one auth method for this integration.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthParams {
    /// OAuth methods: the token endpoint, a template over `settings.*` (a tenant's own
    /// `token_url` wins).
    #[serde(default)]
    pub token_url: Option<String>,
    /// `oauth_private_key_jwt`: the client assertion's algorithm (default RS256).
    #[serde(default)]
    pub alg: Option<SigningAlg>,
    /// `oauth_private_key_jwt`: how the assertion names its key (default `kid`, the
    /// tenant's `key_id`).
    #[serde(default)]
    pub key_id_header: Option<KeyIdHeader>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256 (Microsoft's certificate credentials).
    PS256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum KeyIdHeader {
    /// The tenant's `key_id`.
    #[serde(rename = "kid")]
    Kid,
    /// The SHA-256 thumbprint of the certificate in the tenant's secret (`certificate`).
    #[serde(rename = "x5t#S256")]
    CertificateThumbprint,
}

/// The vendor's rate-limit signals.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    /// Headers that carry the current window's numbers on answers (a 429's `Retry-After`
    /// is always read).
    #[serde(default)]
    pub headers: Option<RateLimitHeaders>,
    /// Quotas by name: each request counts against the bucket whose pattern
    /// (`"METHOD /path/{param}"`, `*` for one segment) matches its method and path. No
    /// buckets: one quota for everything.
    #[serde(default)]
    pub buckets: Ordered<Vec<String>>,
    /// A header of a 429 that names the quota used up: it then holds back every bucket
    /// that quota stands for, not only the request's own.
    #[serde(default)]
    pub exhausted_by: Option<ExhaustedByDef>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExhaustedByDef {
    /// e.g. `x-ms-throttle-scope`.
    pub header: String,
    /// Which `/`-separated part of its value names the quota (0 is the first).
    pub part: usize,
    /// Each quota name and the buckets it stands for.
    pub quotas: Ordered<Vec<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitHeaders {
    /// The window's size, e.g. `X-Rate-Limit-Limit`.
    pub limit: String,
    /// What is left of it, e.g. `X-Rate-Limit-Remaining`.
    pub remaining: String,
    /// When it resets, e.g. `X-Rate-Limit-Reset`.
    pub reset: ResetHeader,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetHeader {
    pub header: String,
    /// How the value reads.
    #[serde(rename = "as")]
    pub format: ResetFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResetFormat {
    /// UTC epoch seconds, measured against the answer's own `Date` header.
    EpochSeconds,
}

/// How the vendor's error answers read, and what they mean.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Errors {
    #[serde(default)]
    pub body: ErrorBody,
    /// Checked in order after the capability's own rules; the first that matches decides.
    #[serde(default)]
    pub rules: Vec<ErrorRule>,
    /// What the caller is told of an error answer no rule matched (a 502), a template as
    /// a rule's `detail`.
    #[serde(default)]
    pub otherwise: Option<String>,
}

/// Where an error body keeps its parts (JSON Pointers); safe to pass on to callers.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    /// Details, appended to the message in parentheses; `*` is every array element, e.g.
    /// `/errorCauses/*/errorSummary`.
    #[serde(default)]
    pub causes: Option<String>,
}

/// Which answers a rule is about, and what they mean.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    pub status: StatusMatch,
    /// The error body's code equals this.
    #[serde(default)]
    pub code: Option<String>,
    /// The `WWW-Authenticate` challenge's parameters (RFC 6750 section 3).
    #[serde(default)]
    pub www_authenticate: Option<ChallengeMatch>,
    pub kind: ErrorKind,
    /// What the caller is told: a template over the parameters, `{status}`,
    /// `{error.code}`, `{error.message}`, `{error.id}` and `{challenge.scope}`.
    #[serde(default)]
    pub detail: Option<String>,
    /// `invalid_request`: the parameter to blame.
    #[serde(default)]
    pub field: Option<FieldBlame>,
}

/// A status (`404`) or a class (`"4xx"`, `"5xx"`).
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum StatusMatch {
    Code(u16),
    Class(StatusClass),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum StatusClass {
    #[serde(rename = "4xx")]
    ClientError,
    #[serde(rename = "5xx")]
    ServerError,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeMatch {
    /// The challenge's `error`, e.g. `insufficient_scope`.
    pub error: String,
}

/// What an error answer means; the service's answer follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Try again later: 503 with Retry-After.
    Transient,
    /// The vendor's quota is used up: 503 with Retry-After.
    RateLimited,
    /// The credentials were refused: 502.
    AuthRejected,
    /// The credentials lack a scope (named by the challenge's `scope`): 502 naming it.
    AuthScope,
    /// The credentials lack a permission: 502.
    AuthPermission,
    /// The object does not exist: 404.
    NotFound,
    /// The object's state forbids the change: 409.
    Conflict,
    /// The vendor refused a parameter the caller gave: 422 naming it.
    InvalidRequest,
    /// The goal is already reached (e.g. a 404 to a repeated DELETE): the step succeeds
    /// and the steps after it are skipped.
    Done,
}

/// The parameter to blame: one name, or the first of several the caller gave.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FieldBlame {
    Named(String),
    FirstGiven { first_given: Vec<String> },
}

/// A record model: the answer's fields in order, each from the vendor's record.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Its name in the OpenAPI components.
    pub schema: String,
    #[serde(default)]
    pub description: Option<String>,
    pub fields: Ordered<ModelField>,
}

/// A field: a JSON Pointer into the record, or the pointer with rules.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ModelField {
    Pointer(String),
    Detailed(DetailedField),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetailedField {
    pub from: String,
    /// A record without it is an invalid answer (otherwise the field is `null`).
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub description: Option<String>,
    /// The vendor's values (a string, or `true`/`false`/a number as written in JSON) and
    /// what each becomes; a value not listed is an invalid answer.
    #[serde(default)]
    pub map: Ordered<String>,
}

/// A parameter: its type and limits, or `ref:` to a shared one.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// A parameter of the definition's `params`.
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<ParamType>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// Strings: a regular expression the whole value must match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Strings: at least this many characters (1 also refuses whitespace only).
    #[serde(default)]
    pub min_length: Option<u32>,
    #[serde(default)]
    pub max_length: Option<u32>,
    /// Strings: values refused whatever the pattern says, compared without case (names the
    /// vendor reads as something else than an id, e.g. Okta's `me`).
    #[serde(default)]
    pub refused: Vec<String>,
    /// What a value that breaks the rules is told (a default names the rules).
    #[serde(default)]
    pub message: Option<String>,
    /// Reads: the vendor's query parameter it is sent as.
    #[serde(default)]
    pub query: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CapabilityKind {
    /// GET with query parameters; scope `integrations:read`.
    Read,
    /// POST with a JSON body; scope `integrations:write`.
    Write,
}

/// One capability: one request, or a few steps.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapabilityDef {
    pub kind: CapabilityKind,
    pub summary: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The parameters' object in the OpenAPI components.
    pub params_schema: String,
    #[serde(default)]
    pub params: Ordered<Param>,
    /// The one request (or `steps`).
    #[serde(default)]
    pub request: Option<RequestDef>,
    /// Requests in order (or `request`).
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Reads of a list: how pages follow each other.
    #[serde(default)]
    pub page: Option<Page>,
    /// Reads of a list: where the records are and what they become.
    #[serde(default)]
    pub records: Option<Records>,
    /// Everything but lists: the answer.
    #[serde(default)]
    pub result: Option<ResultDef>,
    /// Checked before the definition's own rules.
    #[serde(default)]
    pub errors: Vec<ErrorRule>,
    /// Lists: a warning when an unfiltered first page is empty.
    #[serde(default)]
    pub warn_if_empty: Option<WarnIfEmpty>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// Whether sending it twice does what sending it once does (RFC 9110 section 9.2.2).
    pub fn idempotent_by_default(self) -> bool {
        !matches!(self, Self::Post | Self::Patch)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestDef {
    pub method: HttpMethod,
    /// Below the base URL; `{param}` placeholders are encoded as one path segment each.
    pub path: String,
    /// Query parameters: templates.
    #[serde(default)]
    pub query: Ordered<String>,
    /// Whether repeating it is harmless; must be said for POST and PATCH. A request that
    /// is not is never sent again once it may have reached the vendor.
    #[serde(default)]
    pub idempotent: Option<bool>,
    /// A JSON object sent as the body (POST, PUT, PATCH): strings are templates, `true`,
    /// `false` and numbers are sent as written.
    #[serde(default)]
    pub body: Ordered<BodyValue>,
}

/// A field of a request body.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum BodyValue {
    Bool(bool),
    Number(i64),
    Template(String),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Names the step (`step_succeeded` in a result refers to it).
    pub id: String,
    /// Run the step only when this holds.
    #[serde(default)]
    pub when: Option<Condition>,
    pub request: RequestDef,
    /// Values of the answer's body kept for later templates (name: JSON Pointer).
    #[serde(default)]
    pub capture: Ordered<String>,
    #[serde(default)]
    pub errors: Vec<ErrorRule>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A template, e.g. `{previous_status}`.
    pub value: String,
    /// Holds when the value differs from this.
    pub is_not: String,
}

/// How a list continues.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Page {
    pub style: PageStyle,
    /// `link_header`: the next link's query parameter that carries the vendor's cursor.
    #[serde(default)]
    pub vendor_cursor: Option<String>,
    /// `next_link_in_body`: JSON Pointer to the next page's URL in the body, e.g.
    /// `/@odata.nextLink`.
    #[serde(default)]
    pub next_link: Option<String>,
    /// The parameter callers pass the `next` of an answer back in.
    pub caller_cursor: CallerCursor,
    pub size: PageSize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PageStyle {
    /// `Link: <...>; rel="next"` (RFC 8288); the link must stay on the base URL's origin.
    LinkHeader,
    /// The next page's whole URL in the body (`next_link`), followed as given (query and
    /// all) and only on the base URL's origin; callers' cursors are `sealed`.
    NextLinkInBody,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallerCursor {
    pub param: String,
    /// `sealed` (new routes; `param` is then `next`) or `as_given` (the original `/okta/*`
    /// routes).
    pub form: CursorForm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CursorForm {
    /// Callers see the vendor's own cursor value. Allowed only where the cursor is a
    /// value sent as a query parameter, never a URL.
    AsGiven,
    /// Callers see an opaque cursor (the service's sealed format, `common::paging`), bound
    /// to the tenant and the capability: one altered, of another tenant or of another
    /// list is a 400 naming `next`.
    Sealed,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PageSize {
    /// The vendor's page-size parameter (the caller's is always `limit`).
    pub param: String,
    /// The vendor's largest page (and the default page).
    pub max: u32,
    /// The most records of one `all=true` answer, unless the tenant's `list_all_max`
    /// setting says otherwise (a caller's larger `limit` is held to it).
    pub all_max: u32,
    /// A page answered with a 5xx is asked for again with half the size (down to 1),
    /// instead of as it was: for vendors whose 500 means "too slow".
    #[serde(default)]
    pub halve_after_server_error: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Records {
    /// JSON Pointer to the array of records (`""`: the body is the array).
    pub at: String,
    pub model: String,
    /// The answer's property holding them, e.g. `users`.
    pub field: String,
    /// The page's object in the OpenAPI components.
    pub schema: String,
}

/// The answer: a record of the body, or fields made from the call.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultDef {
    /// With `model`: JSON Pointer to the record (`""`: the whole body).
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// Or: fields in order; strings are templates.
    #[serde(default)]
    pub fields: Ordered<ResultValue>,
    /// With `fields`: the answer's object in the OpenAPI components.
    #[serde(default)]
    pub schema: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ResultValue {
    Template(String),
    Bool(bool),
    /// Whether that step ran and succeeded (`false` when skipped, or ended as `done`).
    StepSucceeded {
        step_succeeded: String,
    },
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WarnIfEmpty {
    /// Parameters that make an empty answer believable.
    pub unless_given: Vec<String>,
    pub message: String,
}
