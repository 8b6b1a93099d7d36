//! The ceiling of the machine: a plain axum "hello" route with no middleware, no state and
//! no I/O, on the same runtime settings as the services. `bench-hello <bind address>`.
//! `POST /` answers as DynamoDB does to a GetItem of a missing item (`{}`), at once: the
//! peer of the SDK floor measurement (bench/src/floor.rs).
use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let router = Router::new()
        .route(
            "/",
            get(|| async { "Hello, World!" })
                .post(|| async { ([("content-type", "application/x-amz-json-1.0")], "{}") }),
        )
        .route("/readyz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    axum::serve(listener, router).await?;
    Ok(())
}
