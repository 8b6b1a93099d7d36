use std::process::ExitCode;

use sales_service::config::Config;

const USAGE: &str = "usage: sales-service [serve | print-tables]";

#[tokio::main]
async fn main() -> ExitCode {
    let result = match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve().await.map(|()| ExitCode::SUCCESS),
        Some("print-tables") => common::command::print_tables(&sales_service::store::tables()),
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`; {USAGE}")),
    };
    common::command::exit("sales-service", result)
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config(None).await;
    let application = sales_service::build(&config, &sdk).await?;
    application.run("sales-service", &config.common).await
}
