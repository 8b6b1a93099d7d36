//! The floor under every store-backed route: what one DynamoDB call costs the caller's CPU
//! in the AWS SDK alone, as the services configure it (`common::aws`), against a server
//! that answers at once (`bench-hello`'s `POST /`), beside a plain HTTP POST of the same
//! size on a keep-alive hyper connection. Sequential calls from 16 tasks, CPU time of this
//! process (the server is another process).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::procs::cpu_time;

const CALLS: u32 = 4000;
const TASKS: u32 = 16;

pub struct Floor {
    pub sdk_get_item: Duration,
    pub plain_post: Duration,
}

/// The table both measurements name; the server answers any request alike.
const TABLE: &str = "bench-users";

pub async fn measure(server: SocketAddr) -> anyhow::Result<Floor> {
    let endpoint = format!("http://{server}");
    let client = crate::emulator::dynamodb(&endpoint).await;
    let get_item = |client: aws_sdk_dynamodb::Client| async move {
        client
            .get_item()
            .table_name(TABLE)
            .key(
                "username",
                aws_sdk_dynamodb::types::AttributeValue::S("bench".into()),
            )
            .consistent_read(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
            })
    };
    get_item(client.clone()).await?;
    let sdk_get_item = per_call(|| get_item(client.clone())).await?;

    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let post = |http: hyper_util::client::legacy::Client<_, Full<Bytes>>| async move {
        let request = http::Request::post(format!("http://{server}/"))
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .body(Full::new(Bytes::from_static(
                br#"{"TableName":"bench-users","Key":{"username":{"S":"bench"}},"ConsistentRead":true}"#,
            )))?;
        let response = http.request(request).await?;
        response.into_body().collect().await?;
        anyhow::Ok(())
    };
    let plain_post = per_call(|| post(http.clone())).await?;
    Ok(Floor {
        sdk_get_item,
        plain_post,
    })
}

/// CPU time of this process per call, `CALLS` calls from `TASKS` concurrent tasks.
async fn per_call<F, Fut>(call: F) -> anyhow::Result<Duration>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let before = cpu_time("self");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let calls: Vec<_> = (0..CALLS / TASKS).map(|_| call()).collect();
        tasks.spawn(async move {
            for one in calls {
                one.await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(cpu_time("self").saturating_sub(before) / CALLS)
}
