//! The partner providers API (tests and local runs), with controllable faults. `GET /auth`
//! answers a new token in `Super-Secure-Token` (each call invalidates the previous one);
//! `GET /providers` needs `X-Request-Checksum: hex(sha256(token + path))` (the path with
//! its query, if any), and answers the providers as a JSON array.
//!
//! A raw HTTP/1.1 server, so faults can be real: a dropped connection is a closed socket.
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the partner does to one request instead of (or before) answering it normally.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Close the connection without answering.
    Drop,
    /// Answer after this long (past the client's timeout).
    Delay(Duration),
    /// Answer this status.
    Status(u16),
    /// Answer 200 with the first half of the JSON body.
    Truncated,
}

#[derive(Default)]
struct State {
    providers: Vec<Value>,
    token: Option<String>,
    auth_faults: VecDeque<Fault>,
    provider_faults: VecDeque<Fault>,
    auth_calls: usize,
    provider_calls: usize,
    issued: usize,
}

/// A running partner API. Clones share it.
#[derive(Clone)]
pub struct Partner {
    /// `http://host:port`: the partner's base URL.
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn checksum(token: &str, path: &str) -> String {
    hex::encode(Sha256::digest(format!("{token}{path}").as_bytes()))
}

impl Partner {
    /// A partner with no providers, on a random loopback port.
    pub async fn spawn() -> Self {
        Self::spawn_on(crate::LOOPBACK).await
    }

    /// The same on `addr` (local runs). Panics if `addr` cannot be bound.
    pub async fn spawn_on(addr: SocketAddr) -> Self {
        let (listener, url) = crate::bind(addr).await;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Self { url, state }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The records `GET /providers` answers (a JSON array of these, as they are: tests
    /// put invalid records here on purpose).
    pub fn set_providers(&self, providers: Vec<Value>) {
        self.state().providers = providers;
    }

    /// The next `GET /auth` requests get these faults, one each, in order.
    pub fn auth_faults(&self, faults: &[Fault]) {
        self.state().auth_faults.extend(faults.iter().cloned());
    }

    /// The next `GET /providers` requests get these faults, one each, in order.
    pub fn provider_faults(&self, faults: &[Fault]) {
        self.state().provider_faults.extend(faults.iter().cloned());
    }

    /// Requests to `/auth` so far, faulted ones included.
    pub fn auth_calls(&self) -> usize {
        self.state().auth_calls
    }

    /// Requests to any other path so far, faulted ones included.
    pub fn provider_calls(&self) -> usize {
        self.state().provider_calls
    }
}

/// `count` realistic provider records for local runs: ids `prv-00001`..., a doctor's name,
/// a specialty, and (for most) a valid NPI, a phone number and a city. All pass the
/// integration service's validation.
pub fn sample_providers(count: usize) -> Vec<Value> {
    use crate::sample::{npi, person, CITIES, SPECIALTIES};
    (0..count)
        .map(|index| {
            let (first, last) = person(index);
            json!({
                "id": format!("prv-{:05}", index + 1),
                "name": format!("Dr. {first} {last}"),
                "specialty": SPECIALTIES[index % SPECIALTIES.len()],
                "npi": (index % 6 != 5).then(|| npi(index)),
                "phone": (index % 4 != 3)
                    .then(|| format!("+254 20 {:03} {:04}", 200 + index % 700, index * 37 % 10_000)),
                "city": CITIES[index * 5 % CITIES.len()],
            })
        })
        .collect()
}

/// A response to write; `None` in its place closes the connection without one.
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body,
        }
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let target = head
        .split("\r\n")
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let Some(answer) = answer(&head, &target, &path, &state).await else {
        tracing::info!(stand_in = "partner", path, "request dropped (fault)");
        return;
    };
    tracing::info!(
        stand_in = "partner",
        path,
        status = answer.status,
        "request"
    );
    let reason = axum::http::StatusCode::from_u16(answer.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .unwrap_or("Unknown");
    let mut response = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-length: {}\r\nconnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    let mut response = response.into_bytes();
    response.extend_from_slice(&answer.body);
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

/// The request line and headers (the partner's API takes no request bodies).
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    Some(String::from_utf8_lossy(&buffer).into_owned())
}

/// The faults first, then `/auth` (a new token) or `/providers` (checked against the
/// current token's checksum of the request target, query included).
async fn answer(head: &str, target: &str, path: &str, state: &Mutex<State>) -> Option<Answer> {
    let (fault, providers) = {
        let mut state = state.lock().unwrap();
        if path == "/auth" {
            state.auth_calls += 1;
            (state.auth_faults.pop_front(), None)
        } else {
            state.provider_calls += 1;
            let fault = state.provider_faults.pop_front();
            (fault, Some(serde_json::to_vec(&state.providers).unwrap()))
        }
    };
    match fault {
        Some(Fault::Drop) => return None,
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Status(status)) => {
            return Some(Answer::json(status, br#"{"error":"unavailable"}"#.to_vec()));
        }
        Some(Fault::Truncated) => {
            let body = providers.unwrap_or_default();
            return Some(Answer::json(200, body[..body.len() / 2].to_vec()));
        }
        None => {}
    }
    if path == "/auth" {
        let mut state = state.lock().unwrap();
        state.issued += 1;
        let token = format!("tok-{}-{}", state.issued, uuid::Uuid::new_v4().simple());
        state.token = Some(token.clone());
        return Some(Answer {
            status: 200,
            headers: vec![("super-secure-token", token)],
            body: Vec::new(),
        });
    }
    if path != "/providers" {
        return Some(Answer::json(404, b"{}".to_vec()));
    }
    let expected = state
        .lock()
        .unwrap()
        .token
        .as_deref()
        .map(|token| checksum(token, target));
    let presented = head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("x-request-checksum")
            .then(|| value.trim().to_owned())
    });
    if expected.is_none() || presented != expected {
        return Some(Answer::json(401, br#"{"error":"bad checksum"}"#.to_vec()));
    }
    Some(Answer::json(200, providers.unwrap_or_default()))
}
