use std::process::ExitCode;

use user_service::config::Config;

const USAGE: &str = "usage: user-service [serve | print-tables]";

#[tokio::main]
async fn main() -> ExitCode {
    let result = match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve().await.map(|()| ExitCode::SUCCESS),
        Some("print-tables") => common::command::print_tables(&user_service::store::tables()),
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`; {USAGE}")),
    };
    common::command::exit("user-service", result)
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config(None).await;
    let application = user_service::build(&config, &sdk).await?;
    application.run("user-service", &config.common).await
}
