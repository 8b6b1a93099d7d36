//! The start page, sign-up, log-in and log-out of account holders (user-service accounts).
use askama::Template;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use common::timestamp::Timestamp;
use reqwest::Method;
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::forms::{FormErrors, SummaryLine};
use crate::page::{local_path, page, see_other, see_other_with_cookie, Chrome, Page};
use crate::session::{self, AccountSession, SessionData, SessionSecret};
use crate::state::AppState;
use crate::upstream::{Caller, Service};
use crate::web::{end_session, AccountHolder, Visitor};

#[derive(Template)]
#[template(path = "public/home.html")]
struct HomePage {
    chrome: Chrome,
    operators_enabled: bool,
}

/// `GET /`: what this console is and where to start; people signed in go to their pages.
pub async fn home(State(state): State<AppState>, visitor: Visitor) -> Response {
    match visitor.session.as_ref().map(|s| &s.data) {
        Some(SessionData::Account(_)) => see_other("/account"),
        Some(SessionData::Operator(_)) => see_other("/ops"),
        _ => page(HomePage {
            chrome: visitor.chrome("home"),
            operators_enabled: state.oidc.is_some(),
        })
        .into_response(),
    }
}

/// `/{*path}`: anything else.
pub async fn not_found() -> ConsoleError {
    ConsoleError::NotFound
}

const SIGNUP_FIELDS: &[(&str, &str)] = &[
    ("username", "Username"),
    ("password", "Password"),
    ("name", "Full name"),
    ("email", "Email address"),
    ("about", "About you"),
    ("avatar", "Picture"),
];

#[derive(Default)]
struct SignupValues {
    username: String,
    password: String,
    name: String,
    email: String,
    about: String,
    avatar: Option<(String, String, bytes::Bytes)>,
}

#[derive(Template)]
#[template(path = "public/signup.html")]
struct SignupPage {
    chrome: Chrome,
    values: SignupValues,
    errors: FormErrors,
    summary: Vec<SummaryLine>,
}

fn signup_page(
    visitor: &Visitor,
    status: StatusCode,
    values: SignupValues,
    errors: FormErrors,
) -> Page<SignupPage> {
    Page(
        status,
        SignupPage {
            chrome: visitor.chrome("signup"),
            summary: errors.summary(SIGNUP_FIELDS),
            values,
            errors,
        },
    )
}

/// `GET /signup`.
pub async fn signup_form(visitor: Visitor) -> impl IntoResponse {
    signup_page(
        &visitor,
        StatusCode::OK,
        SignupValues::default(),
        FormErrors::new(),
    )
}

/// Reads the sign-up form (multipart: it may carry a picture).
async fn read_signup(mut multipart: Multipart) -> Result<SignupValues, String> {
    let mut values = SignupValues::default();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| "The form could not be read; send it again.".to_owned())?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "avatar" {
            let file_name = field.file_name().unwrap_or("avatar").to_owned();
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|_| "The picture is larger than 5 MB; choose a smaller one.".to_owned())?;
            if !bytes.is_empty() {
                values.avatar = Some((file_name, content_type, bytes));
            }
            continue;
        }
        let text = field
            .text()
            .await
            .map_err(|_| "The form could not be read; send it again.".to_owned())?;
        match name.as_str() {
            "username" => values.username = text.trim().to_owned(),
            "password" => values.password = text,
            "name" => values.name = text.trim().to_owned(),
            "email" => values.email = text.trim().to_owned(),
            "about" => values.about = text.trim().to_owned(),
            _ => {}
        }
    }
    Ok(values)
}

/// `POST /signup`: creates the account with user-service (its avatar in the same request),
/// then logs the person in.
pub async fn signup(
    State(state): State<AppState>,
    visitor: Visitor,
    multipart: Multipart,
) -> Result<Response, ConsoleError> {
    let values = match read_signup(multipart).await {
        Ok(values) => values,
        Err(message) => {
            let mut errors = FormErrors::new();
            errors.general(message);
            return Ok(signup_page(
                &visitor,
                StatusCode::BAD_REQUEST,
                SignupValues::default(),
                errors,
            )
            .into_response());
        }
    };
    let caller = visitor.anonymous_caller(&state, Service::Users).await;
    let mut form = reqwest::multipart::Form::new()
        .text("username", values.username.clone())
        .text("password", values.password.clone());
    for (name, value) in [
        ("name", &values.name),
        ("email", &values.email),
        ("about", &values.about),
    ] {
        if !value.is_empty() {
            form = form.text(name, value.clone());
        }
    }
    if let Some((file_name, content_type, bytes)) = &values.avatar {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(file_name.clone())
            .mime_str(content_type)
            .unwrap_or_else(|_| {
                reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("avatar")
            });
        form = form.part("avatar", part);
    }
    let request = state
        .users
        .request(Method::POST, "/user", &caller)
        .multipart(form);
    if let Err(error) = state.users.send::<serde_json::Value>(request).await {
        let fields: Vec<&str> = SIGNUP_FIELDS.iter().map(|(f, _)| *f).collect();
        let mut errors = FormErrors::from_upstream(error, &fields)?;
        if errors.is_empty() {
            errors.general("The account could not be created.");
        }
        let mut values = values;
        values.password.clear();
        return Ok(
            signup_page(&visitor, StatusCode::UNPROCESSABLE_ENTITY, values, errors).into_response(),
        );
    }
    // The account exists: a failed log-in now (a limit reached) leaves the person on the
    // log-in page with the reason.
    match log_in(
        &state,
        &visitor,
        &caller,
        &values.username,
        &values.password,
        "/account?done=signed-up",
    )
    .await
    {
        Ok(response) => Ok(response),
        Err(errors) => Ok(login_page(
            &visitor,
            StatusCode::UNAUTHORIZED,
            &values.username,
            "/account",
            errors,
        )
        .into_response()),
    }
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

const LOGIN_FIELDS: &[(&str, &str)] = &[("username", "Username"), ("password", "Password")];

#[derive(Template)]
#[template(path = "public/login.html")]
struct LoginPage {
    chrome: Chrome,
    username: String,
    next: String,
    errors: FormErrors,
    summary: Vec<SummaryLine>,
}

fn login_page(
    visitor: &Visitor,
    status: StatusCode,
    username: &str,
    next: &str,
    errors: FormErrors,
) -> Page<LoginPage> {
    Page(
        status,
        LoginPage {
            chrome: visitor.chrome("login"),
            username: username.to_owned(),
            next: local_path(next).to_owned(),
            summary: errors.summary(LOGIN_FIELDS),
            errors,
        },
    )
}

/// `GET /login`.
pub async fn login_form(visitor: Visitor, Query(query): Query<NextQuery>) -> impl IntoResponse {
    let next = query.next.unwrap_or_else(|| "/account".to_owned());
    login_page(&visitor, StatusCode::OK, "", &next, FormErrors::new())
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`.
pub async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<LoginForm>,
) -> Result<Response, ConsoleError> {
    let caller = visitor.anonymous_caller(&state, Service::Users).await;
    let next = if form.next.is_empty() {
        "/account"
    } else {
        local_path(&form.next)
    };
    let done = format!(
        "{next}{}done=logged-in",
        if next.contains('?') { '&' } else { '?' }
    );
    match log_in(
        &state,
        &visitor,
        &caller,
        form.username.trim(),
        &form.password,
        &done,
    )
    .await
    {
        Ok(response) => Ok(response),
        Err(errors) => Ok(login_page(
            &visitor,
            StatusCode::UNAUTHORIZED,
            form.username.trim(),
            next,
            errors,
        )
        .into_response()),
    }
}

#[derive(Deserialize)]
struct LoginAnswer {
    token: String,
    expires_in: u64,
}

/// Logs in with user-service and starts a console session (a new cookie: the session
/// before it, if any, is not reused); `Err` holds what the form shows.
async fn log_in(
    state: &AppState,
    visitor: &Visitor,
    caller: &Caller,
    username: &str,
    password: &str,
    then: &str,
) -> Result<Response, FormErrors> {
    let request = state
        .users
        .request(Method::POST, "/auth", caller)
        .form(&[("username", username), ("password", password)]);
    let answer = match state.users.send::<LoginAnswer>(request).await {
        Ok(answer) => answer.body,
        Err(error) => {
            let mut errors = match FormErrors::from_upstream(error, &["username", "password"]) {
                Ok(errors) => errors,
                Err(crate::upstream::UpstreamError::Problem { problem, .. })
                    if problem.status == 401 =>
                {
                    let mut errors = FormErrors::new();
                    errors.general("The username or password is wrong.");
                    errors
                }
                Err(other) => {
                    let mut errors = FormErrors::new();
                    errors.general(format!(
                        "Logging in is not possible right now: {other}. Try again shortly."
                    ));
                    errors
                }
            };
            if errors.is_empty() {
                errors.general("The username or password is wrong.");
            }
            return Err(errors);
        }
    };
    if let Some(old) = &visitor.session {
        let _ = state.sessions.delete(&old.secret).await;
    }
    let ttl = state
        .config
        .session_ttl
        .min(std::time::Duration::from_secs(answer.expires_in));
    let secret = SessionSecret::generate();
    let data = SessionData::Account(AccountSession {
        username: username.to_ascii_lowercase(),
        token: answer.token,
    });
    let expires_at = Timestamp::now().unix_seconds() + ttl.as_secs() as i64;
    if let Err(error) = state.sessions.put(&secret, &data, expires_at).await {
        tracing::warn!(%error, "could not store a session");
        let mut errors = FormErrors::new();
        errors.general("The console could not start your session. Try again shortly.");
        return Err(errors);
    }
    Ok(see_other_with_cookie(
        then,
        session::set_cookie(&secret, ttl),
    ))
}

/// `POST /logout`: revokes the user-service token and ends the console session.
pub async fn logout(
    State(state): State<AppState>,
    holder: AccountHolder,
) -> Result<Response, ConsoleError> {
    let caller = holder.caller(&state).await;
    let request = state.users.request(Method::DELETE, "/auth", &caller);
    if let Err(error) = state.users.send::<()>(request).await {
        // The console session ends anyway; the token then dies at its expiry.
        tracing::warn!(%error, "could not revoke a user-service token at log-out");
    }
    end_session(&state, &holder.visitor, "/?done=logged-out").await
}
