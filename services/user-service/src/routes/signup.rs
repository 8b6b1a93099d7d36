//! `POST /user`: sign-up, as JSON, a urlencoded form, or a multipart form with an avatar.
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use common::client_address::ClientAddress;
use common::extract::{
    has_content_type, is_json, parse_json, unsupported_media_type, Json, JsonOrForm,
};
use common::rate_limit::too_many_requests;
use common::{FieldErrors, Problem};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::upload::{
    avatar_key, field_too_large, is_multipart, multipart_problem, read_avatar, read_text,
};
use super::views::UserView;
use crate::domain::{
    AvatarError, AvatarImage, DisplayName, Email, Password, Profile, Role, UserRecord, Username,
};
use crate::error::{ApiError, Error};
use crate::state::AppState;

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
        (status = 422, description = "Invalid fields, every one named", body = common::Problem,
            content_type = "application/problem+json",
            example = json!({"type": "urn:problem:validation", "title": "Invalid request fields", "status": 422,
                "detail": "username: must be 3 to 32 characters long; password: must be at least 8 characters long",
                "errors": [{"field": "username", "message": "must be 3 to 32 characters long"},
                           {"field": "password", "message": "must be at least 8 characters long"}]})),
        (status = 429, description = "Too many sign-ups from this address",
            headers(("retry-after" = u64, description = "Seconds until the next sign-up is allowed"))),
        (status = 503, description = "A dependency is unavailable, or too many passwords are being hashed"),
    ))]
pub async fn sign_up(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    // Sign-ups are anonymous and each costs a password hash: a few a minute per address.
    state
        .limits
        .signup_by_address
        .check(&address)
        .map_err(|wait| too_many_requests("sign-ups from this address", wait))?;
    let headers = request.headers();
    let input = if is_multipart(headers) {
        read_sign_up_form(request, &state).await?
    } else if is_json(headers) || has_content_type(headers, "application/x-www-form-urlencoded") {
        // Neither carries an avatar: the router holds them to the default body limit.
        let JsonOrForm(body) = JsonOrForm::<SignUpRequest>::from_request(request, &state).await?;
        body.into()
    } else {
        return Err(unsupported_media_type(
            "application/json, application/x-www-form-urlencoded or multipart/form-data",
        )
        .into());
    };
    let account = validate(input, state.avatar_max_bytes)?;
    // The bootstrap admin's name, and any name that looks like it, is never anyone
    // else's, even after that account is gone.
    if state
        .bootstrap_admin
        .as_ref()
        .is_some_and(|admin| admin.looks_like(&account.username))
    {
        return Err(Error::UsernameTaken.into());
    }
    let password_hash = state.hasher.hash(&account.password).await?;
    let key = avatar_key(&account.username);
    let record = UserRecord {
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
        ..UserRecord::new_account(&account.username, password_hash, Role::User)
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

/// Most bytes of an account field's text in a form (username, password, name, email:
/// each far shorter once valid).
const ACCOUNT_FIELD_MAX_BYTES: usize = 1024;
/// Most fields in a sign-up form.
const MAX_FORM_FIELDS: usize = 64;

/// Reads a multipart sign-up, each field under its cap while it streams: an account field
/// 1 KiB, the profile's text (the JSON `profile` field and every other field, names and
/// values together) the profile's limit, the avatar the avatar limit. Reading stops at the
/// first field over its cap.
async fn read_sign_up_form(request: Request, state: &AppState) -> Result<SignUpInput, ApiError> {
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(multipart_problem)?;
    let mut input = SignUpInput::default();
    let mut profile_left = Profile::MAX_BYTES;
    let mut fields = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_problem)? {
        fields += 1;
        if fields > MAX_FORM_FIELDS {
            return Err(ApiError::Problem(
                Problem::of_kind(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-many-fields",
                    "Too many form fields",
                )
                .detail(format!(
                    "A sign-up form has at most {MAX_FORM_FIELDS} fields"
                ))
                .field("body", format!("has more than {MAX_FORM_FIELDS} fields")),
            ));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let account_field = match name.as_str() {
            "" => return Err(ApiError::field("body", "every form field needs a name")),
            "avatar" => {
                let avatar = read_avatar(&mut field, state.avatar_max_bytes).await?;
                if input.avatar.replace(avatar).is_some() {
                    return Err(sent_twice("avatar"));
                }
                continue;
            }
            "username" => &mut input.username,
            "password" => &mut input.password,
            "name" => &mut input.name,
            "email" => &mut input.email,
            _ => {
                let limit = profile_left
                    .checked_sub(name.len())
                    .ok_or_else(|| field_too_large(&name, profile_left))?;
                let text = read_text(&mut field, &name, limit).await?;
                profile_left = limit - text.len();
                if name == "profile" {
                    let data: Map<String, Value> = parse_json(text.as_bytes())
                        .map_err(|_| ApiError::field("profile", "must be a JSON object"))?;
                    input.profile.extend(data);
                } else {
                    input.profile.insert(name, Value::String(text));
                }
                continue;
            }
        };
        let text = read_text(&mut field, &name, ACCOUNT_FIELD_MAX_BYTES).await?;
        if account_field.replace(text).is_some() {
            return Err(sent_twice(&name));
        }
    }
    Ok(input)
}

fn sent_twice(field: &str) -> ApiError {
    ApiError::field(field, "was sent more than once")
}
