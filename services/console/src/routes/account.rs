//! My account: an account holder's own account at user-service: see and edit it, change
//! the picture, delete it (behind a confirmation).
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::ConsoleError;
use crate::forms::{FormErrors, SummaryLine};
use crate::page::{page, see_other, Chrome, Page, When};
use crate::state::AppState;
use crate::web::{end_session, AccountHolder};

/// An account as user-service shows it to its owner.
#[derive(Deserialize)]
pub struct Account {
    pub username: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    pub role: String,
    #[serde(default)]
    pub profile: Map<String, Value>,
    pub created_at: String,
}

impl Account {
    pub fn about(&self) -> &str {
        self.profile
            .get("about")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Profile entries besides `about`, as text.
    pub fn other_profile(&self) -> Vec<(String, String)> {
        self.profile
            .iter()
            .filter(|(key, _)| *key != "about")
            .map(|(key, value)| {
                let text = match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                (key.clone(), text)
            })
            .collect()
    }

    pub fn created(&self) -> Option<When> {
        When::parse(&self.created_at)
    }
}

const FIELDS: &[(&str, &str)] = &[
    ("name", "Full name"),
    ("email", "Email address"),
    ("about", "About you"),
    ("avatar", "New picture"),
];

#[derive(Template)]
#[template(path = "account/show.html")]
struct AccountPage {
    chrome: Chrome,
    account: Account,
    /// What the edit form shows (the account's values, or what was just sent).
    name: String,
    email: String,
    about: String,
    errors: FormErrors,
    summary: Vec<SummaryLine>,
}

async fn fetch(state: &AppState, holder: &AccountHolder) -> Result<Account, ConsoleError> {
    let caller = holder.caller(state).await;
    let path = format!("/user/{}", holder.account.username);
    let request = state.users.request(Method::GET, &path, &caller);
    let answer = state
        .users
        .send::<Account>(request)
        .await
        .map_err(|error| ConsoleError::from_call(error, false))?;
    Ok(answer.body)
}

fn account_page(
    holder: &AccountHolder,
    status: StatusCode,
    account: Account,
    sent: Option<EditForm>,
    errors: FormErrors,
) -> Page<AccountPage> {
    let (name, email, about) = match sent {
        Some(form) => (form.name, form.email, form.about),
        None => (
            account.name.clone().unwrap_or_default(),
            account.email.clone().unwrap_or_default(),
            account.about().to_owned(),
        ),
    };
    Page(
        status,
        AccountPage {
            chrome: holder.visitor.chrome("account"),
            summary: errors.summary(FIELDS),
            account,
            name,
            email,
            about,
            errors,
        },
    )
}

/// `GET /account`.
pub async fn show(
    State(state): State<AppState>,
    holder: AccountHolder,
) -> Result<Response, ConsoleError> {
    let account = fetch(&state, &holder).await?;
    Ok(account_page(&holder, StatusCode::OK, account, None, FormErrors::new()).into_response())
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    about: String,
}

/// `POST /account`: name and email replaced when given, `about` removed when emptied.
pub async fn edit(
    State(state): State<AppState>,
    holder: AccountHolder,
    Form(form): Form<EditForm>,
) -> Result<Response, ConsoleError> {
    let mut update = Map::new();
    for (key, value) in [("name", form.name.trim()), ("email", form.email.trim())] {
        if !value.is_empty() {
            update.insert(key.to_owned(), json!(value));
        }
    }
    let about = form.about.trim();
    update.insert(
        "about".to_owned(),
        if about.is_empty() {
            Value::Null
        } else {
            json!(about)
        },
    );
    let caller = holder.caller(&state).await;
    let path = format!("/user/{}", holder.account.username);
    let request = state
        .users
        .request(Method::PUT, &path, &caller)
        .json(&update);
    match state.users.send::<Value>(request).await {
        Ok(_) => Ok(see_other("/account?done=updated")),
        Err(error) => {
            let error = match FormErrors::from_upstream(error, &["name", "email", "about"]) {
                Ok(errors) => Ok(errors),
                Err(error) => Err(ConsoleError::from_call(error, false)),
            }?;
            let account = fetch(&state, &holder).await?;
            Ok(account_page(
                &holder,
                StatusCode::UNPROCESSABLE_ENTITY,
                account,
                Some(form),
                error,
            )
            .into_response())
        }
    }
}

/// `POST /account/avatar`: the picture goes to user-service as it is (it checks the bytes).
pub async fn change_avatar(
    State(state): State<AppState>,
    holder: AccountHolder,
    mut multipart: Multipart,
) -> Result<Response, ConsoleError> {
    let mut picture = None;
    let mut errors = FormErrors::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("avatar") => {
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                match field.bytes().await {
                    Ok(bytes) if !bytes.is_empty() => picture = Some((content_type, bytes)),
                    Ok(_) => {}
                    Err(_) => errors.field(
                        "avatar",
                        "The picture is larger than 5 MB; choose a smaller one.",
                    ),
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                errors.field("avatar", "The picture could not be read; choose it again.");
                break;
            }
        }
    }
    if let Some((content_type, bytes)) = picture {
        let caller = holder.caller(&state).await;
        let path = format!("/user/{}/avatar", holder.account.username);
        // A type user-service would not take as an image is sent as one it checks anyway.
        let content_type = if content_type.starts_with("image/") {
            content_type
        } else {
            "image/png".to_owned()
        };
        let request = state
            .users
            .request(Method::PUT, &path, &caller)
            .header(header::CONTENT_TYPE, content_type)
            .body(bytes);
        match state.users.send::<Value>(request).await {
            Ok(_) => return Ok(see_other("/account?done=avatar")),
            Err(error) => match FormErrors::from_upstream(error, &["avatar"]) {
                Ok(problems) => {
                    // user-service names the body, not the form's field.
                    let text = problems
                        .summary(&[])
                        .into_iter()
                        .map(|l| l.text)
                        .collect::<Vec<_>>()
                        .join(" ");
                    errors.field("avatar", text.trim_start_matches("avatar: ").to_owned());
                }
                Err(error) => return Err(ConsoleError::from_call(error, false)),
            },
        }
    } else if errors.is_empty() {
        errors.field("avatar", "Choose a picture to upload.");
    }
    let account = fetch(&state, &holder).await?;
    Ok(account_page(
        &holder,
        StatusCode::UNPROCESSABLE_ENTITY,
        account,
        None,
        errors,
    )
    .into_response())
}

#[derive(Template)]
#[template(path = "account/delete.html")]
struct DeletePage {
    chrome: Chrome,
    username: String,
}

/// `GET /account/delete`: the confirmation.
pub async fn confirm_delete(holder: AccountHolder) -> impl IntoResponse {
    page(DeletePage {
        chrome: holder.visitor.chrome("account"),
        username: holder.account.username.clone(),
    })
}

/// `POST /account/delete`: deletes the account at user-service (its sessions and picture
/// go with it), then the console session.
pub async fn delete(
    State(state): State<AppState>,
    holder: AccountHolder,
) -> Result<Response, ConsoleError> {
    let caller = holder.caller(&state).await;
    let path = format!("/user/{}", holder.account.username);
    let request = state.users.request(Method::DELETE, &path, &caller);
    state
        .users
        .send::<()>(request)
        .await
        .map_err(|error| ConsoleError::from_call(error, false))?;
    end_session(&state, &holder.visitor, "/?done=deleted-self").await
}
