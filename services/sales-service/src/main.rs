use std::process::ExitCode;

use sales_service::config::Config;
use tokio_util::sync::CancellationToken;

const USAGE: &str = "usage: sales-service [serve | print-tables]";

#[tokio::main]
async fn main() -> ExitCode {
    let result = match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve().await,
        Some("print-tables") => serde_json::to_string_pretty(&sales_service::store::tables())
            .map(|json| println!("{json}"))
            .map_err(Into::into),
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`; {USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // Logging may not be set up yet (bad configuration): stderr always works.
            eprintln!("sales-service: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config(None).await;
    let app = sales_service::build(&config, &sdk).await?;
    let stop_dispatching = CancellationToken::new();
    let dispatcher = app
        .dispatcher
        .map(|dispatcher| tokio::spawn(dispatcher.run(stop_dispatching.clone())));
    let served = app.service.run("sales-service", &config.common).await;
    // The dispatcher finishes the pass it is in (each send is bounded by its timeout);
    // whatever it has not claimed stays in the outbox for the other replicas.
    stop_dispatching.cancel();
    if let Some(dispatcher) = dispatcher {
        let _ = tokio::time::timeout(config.common.shutdown_grace, dispatcher).await;
    }
    served
}
