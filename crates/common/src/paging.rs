//! One way to list and page, for every route that hands out cursors (crates.io's
//! `pagination.rs`, svix's `Pagination<T>`/`ListResponse<T>`):
//!
//! - [`PageQuery`]: what the client asked for, an extractor: `limit` within the route's
//!   stated bounds ([`Paging`]) and its cursor. The limit is checked when the handler asks
//!   for it, after the caller's authorisation, so a caller without access learns nothing
//!   from a 422.
//! - [`PageView`]: what the client gets back, `{"<items>": [..], "next": ".."}`.
//! - [`CursorKeys`]: the one cursor format. A cursor is sealed with authenticated
//!   encryption (AES-256-GCM, `ring`), bound to its listing and to what the listing was
//!   for (a tenant, a filter): a client can neither read the key inside (an account's
//!   username, a tenant's ids) nor make or alter a cursor, and one listing's cursor does
//!   not open for another listing, tenant or filter. The keys come from Secrets Manager
//!   (`CURSOR_KEYS_SECRET_ID`) or the environment (`CURSOR_KEYS`), shared by every replica;
//!   the newest seals, every listed key opens, so a key is rotated without refusing the
//!   cursors clients hold.
//!
//! The stores own their cursors: a listing method takes the client's cursor text, and
//! `common::aws::dynamo::Listing` opens it (checking the key against the table's key
//! schema) and seals the next one. Every way a cursor can be wrong is one
//! [`StorageError::BadCursor`], which [`PageQuery::bad_cursor`] names after the route's
//! own parameter.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize, Serializer};
use tokio_util::sync::CancellationToken;

// From its own module: `aws` itself reads the configuration, which holds the cursor keys.
use crate::aws::error::StorageError;
use crate::error::{FieldError, Problem};
use crate::extract::Query;
use crate::secrets::{Secret, SecretStore};

/// A route's paging parameters: the cursor's query parameter and the page sizes. Most
/// routes take the defaults ([`Next`]); a route that states others names its own type.
pub trait Paging: Send + Sync + 'static {
    /// The cursor's query parameter: `next`, or `after` on the user directory (a name the
    /// original service chose; docs/development.md, known quirks).
    const CURSOR: CursorParameter = CursorParameter::Next;
    const DEFAULT_LIMIT: u32 = 20;
    const MAX_LIMIT: u32 = 100;
}

/// The names a cursor parameter has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorParameter {
    Next,
    After,
}

impl CursorParameter {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::After => "after",
        }
    }
}

/// `next`, 20 items a page by default, 100 at most.
pub struct Next;

impl Paging for Next {}

/// What a client asked of a listing: `limit` (checked by [`PageQuery::limit`]) and the
/// cursor it was handed (opened by the store).
pub struct PageQuery<P: Paging = Next> {
    limit: Option<u32>,
    cursor: Option<String>,
    paging: PhantomData<P>,
}

/// The query string as sent: a `limit` that is no number is a 400 naming `limit`, as in
/// [`Query`].
#[derive(Deserialize)]
struct SentPage {
    limit: Option<u32>,
    next: Option<String>,
    after: Option<String>,
}

impl<P: Paging, S: Send + Sync> FromRequestParts<S> for PageQuery<P> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let Query(sent) = Query::<SentPage>::from_request_parts(parts, state).await?;
        Ok(Self {
            limit: sent.limit,
            cursor: match P::CURSOR {
                CursorParameter::Next => sent.next,
                CursorParameter::After => sent.after,
            },
            paging: PhantomData,
        })
    }
}

impl<P: Paging> PageQuery<P> {
    /// A query as a handler would extract it (for stores and tests).
    pub fn new(limit: Option<u32>, cursor: Option<&str>) -> Self {
        Self {
            limit,
            cursor: cursor.map(str::to_owned),
            paging: PhantomData,
        }
    }

    /// The page size: the route's default when absent; outside 1 to its maximum a 422
    /// naming `limit`. Ask for it after the caller's authorisation.
    pub fn limit(&self) -> Result<i32, Problem> {
        match self.limit.unwrap_or(P::DEFAULT_LIMIT) {
            limit @ 1.. if limit <= P::MAX_LIMIT => Ok(limit as i32),
            _ => Err(Problem::validation(vec![FieldError::new(
                "limit",
                format!("must be between 1 and {}", P::MAX_LIMIT),
            )])),
        }
    }

    /// The cursor as the client sent it: the store opens it.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// The answer to a cursor the store could not open: a 400 naming this route's
    /// cursor parameter.
    pub fn bad_cursor(&self) -> Problem {
        let name = P::CURSOR.name();
        Problem::malformed(format!("{name}: not a cursor returned by this API"))
            .field(name, "invalid cursor")
    }

    /// `error` as the client sees it: a bad cursor named after this route's parameter,
    /// any other storage failure as [`Problem::from`] maps it.
    pub fn problem(&self, error: StorageError) -> Problem {
        match error {
            StorageError::BadCursor => self.bad_cursor(),
            other => other.into(),
        }
    }
}

/// The items a listing answers, named in the page: `{"<ITEMS>": [..], "next": ..}`.
pub trait Listed {
    /// The page's field that holds the items (`customers`, `orders`).
    const ITEMS: &'static str;
    /// What the spec says of the items, if anything (e.g. their order).
    const ITEMS_DOC: Option<&'static str> = None;
    /// What the spec says of `next`.
    const NEXT_DOC: Option<&'static str> =
        Some("Pass as `next` for the following page; absent on the last page.");
}

/// A page as the client gets it: the items under [`Listed::ITEMS`], and `next`, the cursor
/// of the following page (`null` on the last one).
#[derive(Debug)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> From<crate::aws::dynamo::Page<T>> for PageView<T> {
    fn from(page: crate::aws::dynamo::Page<T>) -> Self {
        Self {
            items: page.items,
            next: page.next,
        }
    }
}

impl<T: Listed + Serialize> Serialize for PageView<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut page = serializer.serialize_struct("PageView", 2)?;
        page.serialize_field(T::ITEMS, &self.items)?;
        page.serialize_field("next", &self.next)?;
        page.end()
    }
}

/// Cursor keys: a name (carried in every cursor, so the right key opens it) and 32 bytes.
struct CursorKey {
    id: String,
    key: LessSafeKey,
}

/// The keys cursors are sealed and opened with. The first seals, all open: rotating adds
/// a key second (every replica then accepts it), moves it first once every replica has
/// read it, and removes the old one when the cursors sealed with it may go stale
/// (docs/development.md, conventions: paging).
#[derive(Clone)]
pub struct CursorKeys {
    keys: Arc<RwLock<Arc<Vec<CursorKey>>>>,
    source: Option<(Arc<dyn SecretStore>, String)>,
}

impl fmt::Debug for CursorKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self.current().iter().map(|key| key.id.clone()).collect();
        f.debug_struct("CursorKeys").field("ids", &ids).finish()
    }
}

/// Where a service's cursor keys come from (`CommonConfig::cursor_keys`).
#[derive(Debug, Clone)]
pub enum CursorKeySource {
    /// `CURSOR_KEYS`: the key list itself (local runs, tests).
    Plain(Secret),
    /// `CURSOR_KEYS_SECRET_ID`: the Secrets Manager secret holding the list, re-read now
    /// and then, so a rotation needs no restart.
    SecretsManager(String),
    /// Neither set: a key made at start. Cursors then open on this process only, until
    /// it stops; fine for one replica, wrong for several (a warning says so at start).
    Ephemeral,
}

/// The parameter a key list's errors name.
const KEYS_SETTING: &str = "CURSOR_KEYS";
/// Longest cursor opened: a real one is a few hundred characters.
const MAX_CURSOR_CHARS: usize = 2048;
/// First byte of a sealed cursor: the format, so a later one can be told apart.
const FORMAT: u8 = 1;

impl CursorKeys {
    /// Parses a key list: `id:key[,id:key...]`, newest first; each key 32 random bytes in
    /// URL-safe base64 (`openssl rand 32 | basenc --base64url`), each id up to 32 letters,
    /// digits, `-` or `_`.
    pub fn parse(list: &Secret) -> Result<Self, String> {
        Ok(Self::fixed(parse_keys(list.expose())?))
    }

    /// A key made now, for a process that was given none.
    pub fn ephemeral() -> Self {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system's random source works");
        Self::fixed(vec![CursorKey {
            id: "ephemeral".to_owned(),
            key: aead_key(&bytes),
        }])
    }

    fn fixed(keys: Vec<CursorKey>) -> Self {
        Self {
            keys: Arc::new(RwLock::new(Arc::new(keys))),
            source: None,
        }
    }

    /// The keys of `source`, read now (a secret that cannot be read or parsed fails the
    /// start, as a bad setting would).
    pub async fn load(
        source: &CursorKeySource,
        secrets: Arc<dyn SecretStore>,
    ) -> anyhow::Result<Self> {
        match source {
            CursorKeySource::Plain(list) => Self::parse(list).map_err(anyhow::Error::msg),
            CursorKeySource::Ephemeral => {
                tracing::warn!(
                    "neither CURSOR_KEYS nor CURSOR_KEYS_SECRET_ID is set: page cursors are \
                     sealed with a key made at start, which other replicas and the next \
                     start do not have"
                );
                Ok(Self::ephemeral())
            }
            CursorKeySource::SecretsManager(name) => {
                let list = secrets
                    .get(name)
                    .await
                    .map_err(|error| anyhow::anyhow!("cursor keys ({name}): {error}"))?;
                let mut keys = Self::parse(&list)
                    .map_err(|error| anyhow::anyhow!("cursor keys ({name}): {error}"))?;
                keys.source = Some((secrets, name.clone()));
                Ok(keys)
            }
        }
    }

    /// Re-reads the keys from Secrets Manager every `interval` until `stop` (a service's
    /// background task, `Application::with_background`); a failed read keeps the keys it
    /// has and is logged. Keys given any other way never change.
    pub async fn refresh_every(self, interval: Duration, stop: CancellationToken) {
        let Some((secrets, name)) = self.source.clone() else {
            return;
        };
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            secrets.invalidate(&name).await;
            match secrets
                .get(&name)
                .await
                .map_err(|e| e.to_string())
                .and_then(|list| parse_keys(list.expose()))
            {
                Ok(keys) => *self.keys.write().expect("not poisoned") = Arc::new(keys),
                Err(error) => {
                    tracing::warn!(%error, "cursor keys ({name}) not re-read; keeping the ones read before")
                }
            }
        }
    }

    fn current(&self) -> Arc<Vec<CursorKey>> {
        self.keys.read().expect("not poisoned").clone()
    }

    /// `plain` sealed for `listing` and `bound_to` (a tenant, a filter; empty for none),
    /// with the newest key: URL-safe text that only these keys open, and only for the same
    /// listing and binding.
    pub fn seal(&self, listing: &str, bound_to: &str, plain: &[u8]) -> String {
        let keys = self.current();
        let newest = &keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system's random source works");
        let mut sealed = plain.to_vec();
        newest
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(additional_data(&newest.id, listing, bound_to)),
                &mut sealed,
            )
            .expect("AES-GCM seals any length a cursor has");
        let mut bytes = Vec::with_capacity(2 + newest.id.len() + NONCE_LEN + sealed.len());
        bytes.push(FORMAT);
        bytes.push(newest.id.len() as u8);
        bytes.extend_from_slice(newest.id.as_bytes());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What [`seal`](Self::seal) sealed, if `cursor` was sealed by one of these keys for
    /// the same `listing` and `bound_to`; any other text (altered, foreign, made up, of an
    /// unknown or removed key) is a [`StorageError::BadCursor`].
    pub fn open(
        &self,
        listing: &str,
        bound_to: &str,
        cursor: &str,
    ) -> Result<Vec<u8>, StorageError> {
        if cursor.len() > MAX_CURSOR_CHARS {
            return Err(StorageError::BadCursor);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| StorageError::BadCursor)?;
        let (&format, rest) = bytes.split_first().ok_or(StorageError::BadCursor)?;
        let (&id_len, rest) = rest.split_first().ok_or(StorageError::BadCursor)?;
        if format != FORMAT || rest.len() < id_len as usize + NONCE_LEN {
            return Err(StorageError::BadCursor);
        }
        let (id, rest) = rest.split_at(id_len as usize);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let keys = self.current();
        let key = keys
            .iter()
            .find(|key| key.id.as_bytes() == id)
            .ok_or(StorageError::BadCursor)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| StorageError::BadCursor)?;
        let mut sealed = sealed.to_vec();
        let plain = key
            .key
            .open_in_place(
                nonce,
                Aad::from(additional_data(&key.id, listing, bound_to)),
                &mut sealed,
            )
            .map_err(|_| StorageError::BadCursor)?;
        Ok(plain.to_vec())
    }
}

/// What a cursor is bound to besides its key: the format, the key's id, the listing and
/// what it was for. NUL cannot occur in the parts, so no two bindings read alike.
fn additional_data(key_id: &str, listing: &str, bound_to: &str) -> Vec<u8> {
    [
        &[FORMAT][..],
        key_id.as_bytes(),
        listing.as_bytes(),
        bound_to.as_bytes(),
    ]
    .join(&0u8)
}

fn aead_key(bytes: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32 bytes is an AES-256 key"))
}

fn parse_keys(list: &str) -> Result<Vec<CursorKey>, String> {
    let mut keys: Vec<CursorKey> = Vec::new();
    for entry in list
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let (id, key) = entry
            .split_once(':')
            .ok_or_else(|| format!("{KEYS_SETTING}: each key is `id:key`"))?;
        let valid_id = !id.is_empty()
            && id.len() <= 32
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_id {
            return Err(format!(
                "{KEYS_SETTING}: a key id is 1 to 32 letters, digits, `-` or `_`"
            ));
        }
        if keys.iter().any(|known| known.id == id) {
            return Err(format!("{KEYS_SETTING}: key id `{id}` appears twice"));
        }
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(key.trim_end_matches('='))
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                format!("{KEYS_SETTING}: key `{id}` is not 32 bytes of URL-safe base64")
            })?;
        keys.push(CursorKey {
            id: id.to_owned(),
            key: aead_key(&bytes),
        });
    }
    if keys.is_empty() {
        return Err(format!("{KEYS_SETTING}: no key"));
    }
    Ok(keys)
}

/// The schema `#[derive(ToSchema)]` would give a `<T>Page { <items>: Vec<T>, next:
/// Option<String> }` with the docs of [`Listed`], so a route's spec does not change when
/// its hand-written page becomes a `PageView`.
impl<T: Listed + utoipa::ToSchema> utoipa::PartialSchema for PageView<T> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
        use utoipa::openapi::Ref;
        ObjectBuilder::new()
            .property(
                T::ITEMS,
                ArrayBuilder::new()
                    .items(Ref::from_schema_name(T::name()))
                    .description(T::ITEMS_DOC),
            )
            .required(T::ITEMS)
            .property(
                "next",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(T::NEXT_DOC),
            )
            .into()
    }
}

impl<T: Listed + utoipa::ToSchema> utoipa::ToSchema for PageView<T> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("{}Page", T::name()))
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &str) -> CursorKeys {
        CursorKeys::parse(&Secret::new(list)).unwrap()
    }

    const K1: &str = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const K2: &str = "k2:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";

    #[test]
    fn a_sealed_cursor_opens_for_its_listing_and_binding_only() {
        let keys = keys(K1);
        let cursor = keys.seal("customers", "acme", b"{\"id\":\"ada\"}");
        assert!(!cursor.contains("ada"), "the key inside is not readable");
        assert_eq!(
            keys.open("customers", "acme", &cursor).unwrap(),
            b"{\"id\":\"ada\"}"
        );
        for (listing, bound_to) in [
            ("orders", "acme"),
            ("customers", "globex"),
            ("customers", ""),
        ] {
            assert_eq!(
                keys.open(listing, bound_to, &cursor),
                Err(StorageError::BadCursor),
                "{listing} for {bound_to:?}"
            );
        }
    }

    #[test]
    fn an_altered_or_made_up_cursor_is_a_bad_cursor() {
        let keys = keys(K1);
        let cursor = keys.seal("customers", "", b"{}");
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = URL_SAFE_NO_PAD.encode(bytes);
        for text in [altered.as_str(), "", "garbage!", "AQ", &"A".repeat(5000)] {
            assert_eq!(
                keys.open("customers", "", text),
                Err(StorageError::BadCursor),
                "{text}"
            );
        }
    }

    #[test]
    fn the_newest_key_seals_and_every_listed_key_opens() {
        let old = keys(K1);
        let rotated = keys(&format!("{K2},{K1}"));
        let held = old.seal("customers", "", b"{}");
        assert_eq!(
            rotated.open("customers", "", &held).unwrap(),
            b"{}",
            "old cursors still open"
        );
        let new = rotated.seal("customers", "", b"{}");
        assert_eq!(
            old.open("customers", "", &new),
            Err(StorageError::BadCursor)
        );
        assert!(keys(K2).open("customers", "", &new).is_ok());
        assert_eq!(
            keys(K2).open("customers", "", &held),
            Err(StorageError::BadCursor),
            "a removed key opens nothing"
        );
    }

    #[test]
    fn key_lists_are_checked() {
        for bad in [
            "",
            "k1",
            "k1:short",
            "k 1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &format!("{K1},{K1}"),
        ] {
            assert!(CursorKeys::parse(&Secret::new(bad)).is_err(), "{bad}");
        }
    }

    struct After;
    impl Paging for After {
        const CURSOR: CursorParameter = CursorParameter::After;
        const DEFAULT_LIMIT: u32 = 50;
    }

    #[test]
    fn the_route_states_its_limits_and_names_its_cursor() {
        assert_eq!(PageQuery::<Next>::new(None, None).limit().unwrap(), 20);
        assert_eq!(PageQuery::<After>::new(None, None).limit().unwrap(), 50);
        assert_eq!(
            PageQuery::<Next>::new(Some(100), None).limit().unwrap(),
            100
        );
        for limit in [0, 101] {
            let problem = PageQuery::<Next>::new(Some(limit), None)
                .limit()
                .unwrap_err();
            assert_eq!(
                (problem.status, problem.errors[0].field.as_str()),
                (422, "limit")
            );
        }
        let problem = PageQuery::<After>::new(None, Some("x")).problem(StorageError::BadCursor);
        assert_eq!(
            (problem.status, problem.errors[0].field.as_str()),
            (400, "after")
        );
        let problem = PageQuery::<Next>::new(None, Some("x")).bad_cursor();
        assert_eq!(problem.errors[0].field, "next");
    }

    #[derive(Serialize, utoipa::ToSchema)]
    struct Thing {
        id: String,
    }

    impl Listed for Thing {
        const ITEMS: &'static str = "things";
    }

    // The hand-written page a route had before `PageView`.
    #[derive(Serialize, utoipa::ToSchema)]
    struct ThingPage {
        things: Vec<Thing>,
        /// Pass as `next` for the following page; absent on the last page.
        next: Option<String>,
    }

    #[derive(Serialize, utoipa::ToSchema)]
    struct Run {
        id: String,
    }

    impl Listed for Run {
        const ITEMS: &'static str = "runs";
        const ITEMS_DOC: Option<&'static str> = Some("Newest first.");
        const NEXT_DOC: Option<&'static str> = None;
    }

    #[derive(Serialize, utoipa::ToSchema)]
    struct RunPage {
        /// Newest first.
        runs: Vec<Run>,
        next: Option<String>,
    }

    #[test]
    fn a_page_view_reads_and_is_documented_as_the_page_it_replaces() {
        use utoipa::{PartialSchema, ToSchema};
        let view = PageView {
            items: vec![Thing { id: "a".into() }],
            next: None,
        };
        let page = ThingPage {
            things: vec![Thing { id: "a".into() }],
            next: None,
        };
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            serde_json::to_string(&page).unwrap()
        );
        assert_eq!(PageView::<Thing>::name(), ThingPage::name());
        let json = |schema| serde_json::to_string(&schema).unwrap();
        assert_eq!(json(PageView::<Thing>::schema()), json(ThingPage::schema()));
        assert_eq!(json(PageView::<Run>::schema()), json(RunPage::schema()));
    }

    #[test]
    fn the_test_settings_hold_a_key() {
        let CursorKeySource::Plain(list) = crate::config::CommonConfig::for_tests("x").cursor_keys
        else {
            panic!("tests seal with a fixed key");
        };
        CursorKeys::parse(&list).unwrap();
    }
}
