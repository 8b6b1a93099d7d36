//! `/user` and `/user/{username}`: sign-up, the account (read, update, delete), its avatar.
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use bytes::{Bytes, BytesMut};
use common::extract::{has_content_type, parse_json, Json, JsonOrForm};
use common::rate_limit::too_many_requests;
use common::FieldErrors;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::{
    AvatarError, AvatarImage, DisplayName, Email, Password, Profile, Role, Username,
};
use crate::error::{ApiError, Error};
use crate::session::CurrentUser;
use crate::state::AppState;
use crate::store::{DetailsUpdate, StoreError, UserRecord};

/// An account as its owner (or an admin) sees it. Never includes the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    username: String,
    name: Option<String>,
    email: Option<String>,
    /// A time-limited link to the avatar image.
    avatar_url: Option<String>,
    role: Role,
    /// Free-form profile data.
    #[schema(value_type = Object)]
    profile: Map<String, Value>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    updated_at: OffsetDateTime,
}

impl UserView {
    pub async fn from_record(user: UserRecord, state: &AppState) -> Result<Self, ApiError> {
        let avatar_url = match &user.avatar_key {
            Some(key) => Some(state.avatars.url_for(key).await?),
            None => None,
        };
        Ok(Self {
            username: user.username,
            name: Some(user.name).filter(|n| !n.is_empty()),
            email: Some(user.email).filter(|e| !e.is_empty()),
            avatar_url,
            role: user.role,
            profile: user.profile,
            created_at: user.created_at,
            updated_at: user.updated_at,
        })
    }
}

/// Sign-up as JSON or as a urlencoded form (`http --form POST :8081/user username=ben
/// password=...`, as the original service took it): the named fields, and any other key
/// is profile data (text, from a form).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"username": "ada", "password": "correct horse battery", "name": "Ada Lovelace", "email": "ada@example.com", "city": "London"}))]
pub struct SignUpRequest {
    username: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    name: Option<String>,
    email: Option<String>,
    /// Every other key is stored as profile data.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    profile: Map<String, Value>,
}

/// Sign-up as a form with an avatar image. Other text fields become profile data.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the multipart body for the OpenAPI spec only
pub struct SignUpForm {
    username: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    name: Option<String>,
    email: Option<String>,
    /// A JSON object of profile data.
    profile: Option<String>,
    /// A PNG, JPEG, GIF or WebP image.
    #[schema(value_type = Option<String>, format = Binary)]
    avatar: Option<Vec<u8>>,
}

/// A new avatar as a form field.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the multipart body for the OpenAPI spec only
pub struct AvatarForm {
    /// A PNG, JPEG, GIF or WebP image.
    #[schema(value_type = String, format = Binary)]
    avatar: Vec<u8>,
}

/// A new avatar as the body itself: the image's bytes, with its `image/*` content type.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // documents the raw-image body for the OpenAPI spec only
pub struct RawImage(Vec<u8>);

/// Replaces name and email when given and merges profile data (RFC 7396: a key set to
/// `null` is removed). Username and password cannot be changed here.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Ada King", "city": "Paris", "age": null}))]
pub struct UpdateRequest {
    name: Option<String>,
    email: Option<String>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    profile: Map<String, Value>,
}

/// Sign-up fields from either body format, before validation.
#[derive(Default)]
struct SignUpInput {
    username: Option<String>,
    password: Option<String>,
    name: Option<String>,
    email: Option<String>,
    profile: Map<String, Value>,
    avatar: Option<Bytes>,
}

impl From<SignUpRequest> for SignUpInput {
    fn from(body: SignUpRequest) -> Self {
        Self {
            username: Some(body.username),
            password: Some(body.password),
            name: body.name,
            email: body.email,
            profile: body.profile,
            avatar: None,
        }
    }
}

/// A sign-up that passed validation.
struct NewAccount {
    username: Username,
    password: Password,
    name: Option<DisplayName>,
    email: Option<Email>,
    profile: Profile,
    avatar: Option<AvatarImage>,
}

/// Collects every field error at once, so a client fixes its request in one round.
fn validate(input: SignUpInput, avatar_max_bytes: usize) -> Result<NewAccount, ApiError> {
    let mut errors = FieldErrors::new();
    let username = errors.required("username", input.username, |u| Username::parse(&u));
    let password = errors.required("password", input.password, Password::parse);
    let name = errors.optional("name", input.name, |n| DisplayName::parse(&n));
    let email = errors.optional("email", input.email, |e| Email::parse(&e));
    let profile = Profile::parse(input.profile).map_err(|problems| {
        for (field, message) in problems {
            errors.push(field, message);
        }
    });
    let avatar = match input
        .avatar
        .map(|bytes| AvatarImage::parse(bytes, avatar_max_bytes))
    {
        Some(Err(too_large @ AvatarError::TooLarge { .. })) => return Err(too_large.into()),
        Some(Err(other)) => {
            errors.push("avatar", other.to_string());
            None
        }
        Some(Ok(image)) => Some(image),
        None => None,
    };
    match (username, password, name, email, profile) {
        (Some(username), Some(password), name, email, Ok(profile)) if errors.is_empty() => {
            Ok(NewAccount {
                username,
                password,
                name,
                email,
                profile,
                avatar,
            })
        }
        _ => Err(ApiError::Invalid(errors.into_vec())),
    }
}

fn avatar_key(username: &Username) -> String {
    format!("avatars/{username}")
}

/// Signs up a new account, from JSON or from a multipart form with an avatar image.
#[utoipa::path(post, path = "/user", tag = "accounts",
    request_body(content(
        (SignUpRequest = "application/json"),
        (SignUpRequest = "application/x-www-form-urlencoded"),
        (SignUpForm = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "The account was created", body = UserView,
            headers(("location" = String, description = "The account's URL"))),
        (status = 400, description = "Malformed body"),
        (status = 409, description = "The username is taken"),
        (status = 413, description = "The avatar or body is too large"),
        (status = 422, description = "Invalid fields"),
        (status = 429, description = "Too many sign-ups from this address",
            headers(("retry-after" = u64, description = "Seconds until the next sign-up is allowed"))),
        (status = 503, description = "A dependency is unavailable, or too many passwords are being hashed"),
    ))]
pub async fn sign_up(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    // Sign-ups are anonymous and each costs a password hash: a few a minute per address.
    let address = state.limits.client(request.headers(), peer);
    state
        .limits
        .signup_by_address
        .check(&address)
        .map_err(|wait| too_many_requests("sign-ups from this address", wait))?;
    let input = if has_content_type(request.headers(), "multipart/form-data") {
        read_sign_up_form(request, &state).await?
    } else if has_content_type(request.headers(), "application/x-www-form-urlencoded") {
        // A form carries no avatar: the router holds it to the default body limit.
        let JsonOrForm(body) = JsonOrForm::<SignUpRequest>::from_request(request, &state).await?;
        body.into()
    } else {
        let Json(body) = Json::<SignUpRequest>::from_request(request, &state).await?;
        body.into()
    };
    let account = validate(input, state.avatar_max_bytes)?;
    // The bootstrap admin's name is never anyone else's, even after that account is gone.
    if state.bootstrap_admin.as_ref() == Some(&account.username) {
        return Err(Error::UsernameTaken.into());
    }
    let password_hash = state.hasher.hash(&account.password).await?;
    let now = OffsetDateTime::now_utc();
    let key = avatar_key(&account.username);
    let record = UserRecord {
        username: account.username.to_string(),
        password_hash,
        role: Role::User,
        name: account
            .name
            .map(|n| n.as_str().to_owned())
            .unwrap_or_default(),
        email: account
            .email
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        avatar_url: account
            .avatar
            .as_ref()
            .map(|_| state.avatars.stored_url(&key))
            .unwrap_or_default(),
        avatar_key: account.avatar.as_ref().map(|_| key.clone()),
        profile: account.profile.into_inner(),
        created_at: now,
        updated_at: now,
    };
    // The item first: its conditional put is what decides that the username is free, so a
    // losing racer never overwrites the winner's avatar.
    state.users.create(&record).await?;
    if let Some(avatar) = &account.avatar {
        if let Err(error) = state
            .avatars
            .put(&key, avatar.bytes(), avatar.content_type())
            .await
        {
            // No half-made account: undo the item (best effort) and report the failure.
            if let Err(undo) = state.users.delete(&account.username).await {
                tracing::error!(?undo, username = %account.username, "could not undo sign-up after avatar failure");
            }
            return Err(error.into());
        }
    }
    tracing::info!(username = %account.username, "account created");
    let location = format!("/user/{}", account.username);
    let view = UserView::from_record(record, &state).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    ))
}

async fn read_sign_up_form(request: Request, state: &AppState) -> Result<SignUpInput, ApiError> {
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(multipart_problem)?;
    let mut input = SignUpInput::default();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_problem)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "avatar" {
            input.avatar = Some(read_limited(&mut field, state.avatar_max_bytes).await?);
            continue;
        }
        let text = field.text().await.map_err(multipart_problem)?;
        match name.as_str() {
            "username" => input.username = Some(text),
            "password" => input.password = Some(text),
            "name" => input.name = Some(text),
            "email" => input.email = Some(text),
            "profile" => {
                let data: Map<String, Value> = parse_json(text.as_bytes())
                    .map_err(|_| ApiError::field("profile", "must be a JSON object"))?;
                input.profile.extend(data);
            }
            "" => return Err(ApiError::field("body", "every form field needs a name")),
            _ => {
                input.profile.insert(name, Value::String(text));
            }
        }
    }
    Ok(input)
}

/// Reads a file field, stopping as soon as it passes the limit (never buffering more).
async fn read_limited(
    field: &mut axum::extract::multipart::Field<'_>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_problem)? {
        if buffer.len() + chunk.len() > limit {
            return Err(AvatarError::TooLarge {
                size: buffer.len() + chunk.len(),
                limit,
            }
            .into());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}

fn multipart_problem(error: impl Into<MultipartFailure>) -> ApiError {
    let MultipartFailure { status, text } = error.into();
    ApiError::Problem(common::extract::body_problem(status, text))
}

/// A multipart extraction or parsing failure with the status axum chose for it.
struct MultipartFailure {
    status: StatusCode,
    text: String,
}

impl From<axum::extract::multipart::MultipartError> for MultipartFailure {
    fn from(error: axum::extract::multipart::MultipartError) -> Self {
        Self {
            status: error.status(),
            text: error.body_text(),
        }
    }
}

impl From<axum::extract::multipart::MultipartRejection> for MultipartFailure {
    fn from(rejection: axum::extract::multipart::MultipartRejection) -> Self {
        Self {
            status: rejection.status(),
            text: rejection.body_text(),
        }
    }
}

fn parse_username(raw: &str) -> Result<Username, ApiError> {
    // An invalid name cannot exist, so it is not found rather than a validation error.
    Username::parse(raw).map_err(|_| Error::UserNotFound.into())
}

/// Reads an account (owner or admin).
#[utoipa::path(get, path = "/user/{username}", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    security(("session" = [])),
    responses(
        (status = 200, description = "The account", body = UserView),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(username): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let username = parse_username(&username)?;
    current.may_act_on(&username)?;
    let user = state
        .users
        .get(&username)
        .await?
        .ok_or(Error::UserNotFound)?;
    Ok(Json(UserView::from_record(user, &state).await?))
}

/// Updates name, email and profile data (owner or admin).
#[utoipa::path(put, path = "/user/{username}", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    request_body(content = UpdateRequest, content_type = "application/json"),
    security(("session" = [])),
    responses(
        (status = 200, description = "The updated account", body = UserView),
        (status = 400, description = "Malformed body"),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "Changed concurrently; retry"),
        (status = 422, description = "Invalid fields"),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(username): Path<String>,
    Json(request): Json<UpdateRequest>,
) -> Result<Json<UserView>, ApiError> {
    let username = parse_username(&username)?;
    current.may_act_on(&username)?;
    let mut errors = FieldErrors::new();
    let name = errors.optional("name", request.name, |n| DisplayName::parse(&n));
    let email = errors.optional("email", request.email, |e| Email::parse(&e));
    let patch = Profile::parse(request.profile).map_err(|problems| {
        for (field, message) in problems {
            errors.push(field, message);
        }
    });
    let (Ok(patch), true) = (patch, errors.is_empty()) else {
        return Err(ApiError::Invalid(errors.into_vec()));
    };
    let name = name.map(|n| n.as_str().to_owned());
    let email = email.map(|e| e.as_str().to_owned());

    // Optimistic concurrency: merge onto what was read, write only if nobody changed it
    // since, and re-read and retry a few times if somebody did.
    for _ in 0..3 {
        let user = state
            .users
            .get(&username)
            .await?
            .ok_or(Error::UserNotFound)?;
        let current_profile = Profile::parse(user.profile.clone()).unwrap_or_default();
        let merged = Profile::parse(current_profile.merged(&patch))
            .map_err(|problems| ApiError::field("profile", problems[0].1.clone()))?;
        let update = DetailsUpdate {
            name: name.clone(),
            email: email.clone(),
            profile: merged.into_inner(),
        };
        match state
            .users
            .update_details(&username, &update, user.updated_at)
            .await
        {
            Ok(updated) => return Ok(Json(UserView::from_record(updated, &state).await?)),
            Err(StoreError::Conflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(Error::ConcurrentUpdate.into())
}

/// Deletes an account with its sessions and avatar (owner or admin). Safe to retry.
#[utoipa::path(delete, path = "/user/{username}", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    security(("session" = [])),
    responses(
        (status = 204, description = "The account, its sessions and its avatar are gone"),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "The last admin account, which cannot be deleted"),
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let username = parse_username(&username)?;
    current.may_act_on(&username)?;
    let user = state
        .users
        .get(&username)
        .await?
        .ok_or(Error::UserNotFound)?;
    // Sessions and avatar first, the item last: if anything fails midway the account
    // still exists and a retry finishes the job.
    // An admin goes only while another remains: checked before anything is undone, and
    // again atomically with the delete (against the admin found here, first).
    let keeper = match user.role {
        Role::Admin => Some(
            state
                .users
                .another_admin(&username)
                .await?
                .ok_or(Error::LastAdmin)?,
        ),
        Role::User => None,
    };
    let revoked = state.sessions.delete_all_for(&username).await?;
    if let Some(key) = &user.avatar_key {
        state.avatars.delete(key).await?;
    }
    match keeper {
        Some(keeper) => {
            state.users.delete_admin(&username, keeper).await?;
            state.audit.admin_deleted(&username, &current.user.username);
        }
        None => state.users.delete(&username).await?,
    }
    tracing::info!(%username, revoked, by = %current.user.username, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Uploads or replaces the avatar (owner or admin): a multipart form with an `avatar`
/// file, or the raw image as the body with an `image/*` content type.
#[utoipa::path(put, path = "/user/{username}/avatar", tag = "accounts",
    params(("username" = String, Path, description = "The account's username")),
    request_body(content(
        (AvatarForm = "multipart/form-data"),
        (RawImage = "image/png"),
        (RawImage = "image/jpeg"),
        (RawImage = "image/gif"),
        (RawImage = "image/webp"),
    )),
    security(("session" = [])),
    responses(
        (status = 200, description = "The account with its new avatar", body = UserView),
        (status = 400, description = "Malformed body"),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
        (status = 413, description = "The avatar is too large"),
        (status = 422, description = "Not an image"),
    ))]
pub async fn put_avatar(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(username): Path<String>,
    request: Request,
) -> Result<Json<UserView>, ApiError> {
    let username = parse_username(&username)?;
    current.may_act_on(&username)?;
    let bytes = read_avatar_body(request, &state).await?;
    let avatar = AvatarImage::parse(bytes, state.avatar_max_bytes)?;
    if state.users.get(&username).await?.is_none() {
        return Err(Error::UserNotFound.into());
    }
    let key = avatar_key(&username);
    state
        .avatars
        .put(&key, avatar.bytes(), avatar.content_type())
        .await?;
    state
        .users
        .set_avatar(&username, &key, &state.avatars.stored_url(&key))
        .await?;
    let user = state
        .users
        .get(&username)
        .await?
        .ok_or(Error::UserNotFound)?;
    Ok(Json(UserView::from_record(user, &state).await?))
}

async fn read_avatar_body(request: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(request, state)
            .await
            .map_err(multipart_problem)?;
        while let Some(mut field) = multipart.next_field().await.map_err(multipart_problem)? {
            if field.name() == Some("avatar") {
                return read_limited(&mut field, state.avatar_max_bytes).await;
            }
        }
        Err(ApiError::field("avatar", "is required"))
    } else if content_type.starts_with("image/") {
        let body = axum::body::to_bytes(request.into_body(), state.avatar_max_bytes + 1)
            .await
            .map_err(|_| AvatarError::TooLarge {
                size: state.avatar_max_bytes + 1,
                limit: state.avatar_max_bytes,
            })?;
        Ok(body)
    } else {
        Err(ApiError::Problem(
            common::Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .detail("Send multipart/form-data with an `avatar` file, or the image itself with an image/* content type"),
        ))
    }
}
