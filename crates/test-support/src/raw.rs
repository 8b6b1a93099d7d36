//! Requests written byte for byte on a raw connection, for what an HTTP client will not
//! send: a body that promises more than it delivers.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long an answer may take once the partial body is out.
const ANSWER_WITHIN: Duration = Duration::from_secs(20);

/// Sends `request_line` (`"POST /user"`) to `address` (`http://host:port` or `host:port`)
/// with `extra_headers` (each line ending in `\r\n`), `content-length: promised` and
/// `body`, then waits for the answer without ever sending the rest of the body. Returns
/// its status and JSON body (`Null` when not JSON).
///
/// Panics when no complete answer comes within 20 s: the server waited for the whole body
/// before answering.
pub async fn answer_before_the_body_ends(
    address: &str,
    request_line: &str,
    extra_headers: &str,
    promised: usize,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let address = address.trim_start_matches("http://");
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "{request_line} HTTP/1.1\r\nhost: {address}\r\n{extra_headers}content-length: {promised}\r\n\r\n"
    );
    // The server may stop reading (and answer) at any point of the body: written aside.
    let sender = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        writer.write_all(&body).await?;
        // Keeps the connection open, the rest of the body never coming.
        std::future::pending::<()>().await;
        Ok::<_, std::io::Error>(writer)
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = tokio::time::timeout(ANSWER_WITHIN, async {
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
            if complete_response(&answer) {
                break;
            }
        }
    })
    .await;
    sender.abort();
    assert!(
        read.is_ok() && !answer.is_empty(),
        "no answer while the body was unfinished: the server waited for all of it"
    );
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    (
        StatusCode::from_u16(status).unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// A head and a body as long as its `content-length` says.
fn complete_response(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .is_some_and(|length| body.len() >= length)
}
