//! The real `user-service` binary in a subprocess, on fresh resources in the emulator, for
//! the tests that need a whole process: its signals, its memory.
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

/// A running service process, killed when dropped.
pub struct ServiceProcess {
    pub child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

/// Starts the binary with the test settings plus `env`, and waits until it is ready.
pub async fn start(env: &[(&str, &str)]) -> ServiceProcess {
    test_support::emulator::endpoint(); // sets the AWS variables the binary inherits
    let prefix = test_support::emulator::unique_prefix();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let base = format!("http://{address}");
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_user-service"))
        .env("BIND_ADDR", &address)
        .env("TABLE_PREFIX", &prefix)
        .env("AUTO_CREATE_RESOURCES", "true")
        .env("AVATAR_BUCKET", format!("{prefix}avatars"))
        .env("PASSWORD_HASH_MEMORY_KIB", "4096")
        .env("PASSWORD_HASH_ITERATIONS", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the service binary starts");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map_or(true, |r| r.status() != StatusCode::OK)
    {
        assert!(
            Instant::now() < deadline,
            "the service did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ServiceProcess { child, base }
}

impl ServiceProcess {
    pub fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Signs `username` up with `password` and logs in: its session token.
    pub async fn user_with_token(&self, username: &str, password: &str) -> String {
        let client = reqwest::Client::new();
        let credentials = json!({"username": username, "password": password});
        let signed_up = client
            .post(format!("{}/user", self.base))
            .json(&credentials)
            .send()
            .await
            .unwrap();
        assert_eq!(signed_up.status(), StatusCode::CREATED);
        let login: Value = client
            .post(format!("{}/auth", self.base))
            .json(&credentials)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        login["token"].as_str().unwrap().to_owned()
    }
}
