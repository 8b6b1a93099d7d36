//! The partner providers API for tests, with controllable faults. `GET /auth` answers a
//! new token in `Super-Secure-Token` (each call invalidates the previous one);
//! `GET /providers` needs `X-Request-Checksum: hex(sha256(token + path))`.
//!
//! A raw HTTP/1.1 server, so faults can be real: a dropped connection is a closed socket.
//! Stands in for `stand_ins::partner` until the shared crate has it.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

#[derive(Clone)]
pub struct Partner {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn checksum(token: &str, path: &str) -> String {
    hex::encode(Sha256::digest(format!("{token}{path}").as_bytes()))
}

impl Partner {
    pub async fn spawn() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
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

    pub fn set_providers(&self, providers: Vec<Value>) {
        self.state().providers = providers;
    }

    pub fn auth_faults(&self, faults: &[Fault]) {
        self.state().auth_faults.extend(faults.iter().cloned());
    }

    pub fn provider_faults(&self, faults: &[Fault]) {
        self.state().provider_faults.extend(faults.iter().cloned());
    }

    pub fn auth_calls(&self) -> usize {
        self.state().auth_calls
    }

    pub fn provider_calls(&self) -> usize {
        self.state().provider_calls
    }
}

async fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.shutdown().await;
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buffer).to_string();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("/")
        .to_owned();
    let header = |name: &str| {
        head.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let path = target.clone();
    let (fault, body_for_providers) = {
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
        Some(Fault::Drop) => return,
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Status(status)) => {
            return respond(&mut stream, status, &[], b"{\"error\":\"unavailable\"}").await;
        }
        Some(Fault::Truncated) => {
            let body = body_for_providers.unwrap_or_default();
            let half = &body[..body.len() / 2];
            return respond(
                &mut stream,
                200,
                &[("content-type", "application/json".into())],
                half,
            )
            .await;
        }
        None => {}
    }
    if path == "/auth" {
        let token = {
            let mut state = state.lock().unwrap();
            state.issued += 1;
            let token = format!("tok-{}-{}", state.issued, uuid::Uuid::new_v4().simple());
            state.token = Some(token.clone());
            token
        };
        return respond(&mut stream, 200, &[("super-secure-token", token)], b"").await;
    }
    if path != "/providers" {
        return respond(&mut stream, 404, &[], b"{}").await;
    }
    let expected = state
        .lock()
        .unwrap()
        .token
        .as_deref()
        .map(|token| checksum(token, &path));
    if expected.is_none() || header("x-request-checksum") != expected {
        return respond(&mut stream, 401, &[], b"{\"error\":\"bad checksum\"}").await;
    }
    let body = body_for_providers.unwrap_or_default();
    respond(
        &mut stream,
        200,
        &[("content-type", "application/json".into())],
        &body,
    )
    .await;
}
