use std::process::ExitCode;

use integration_service::config::Config;

const USAGE: &str =
    "usage: integration-service [serve | sync-providers [--tenant <id>] | print-tables]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None | Some("serve") => serve().await.map(|()| ExitCode::SUCCESS),
        Some("sync-providers") => sync_providers(&args[1..]).await,
        Some("print-tables") => {
            common::command::print_tables(&integration_service::store::tables())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`; {USAGE}")),
    };
    common::command::exit("integration-service", result)
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config(None).await;
    let application = integration_service::build(&config, &sdk).await?;
    application.run("integration-service", &config.common).await
}

/// One sync per tenant, each run's record printed as a JSON line; exit 1 if any failed.
async fn sync_providers(args: &[String]) -> anyhow::Result<ExitCode> {
    let tenant = match args {
        [] => None,
        [flag, tenant] if flag == "--tenant" => Some(tenant.as_str()),
        _ => anyhow::bail!("{USAGE}"),
    };
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config(None).await;
    let runs = integration_service::sync_providers(&config, &sdk, tenant).await?;
    for run in &runs {
        println!("{}", serde_json::to_string(run)?);
    }
    Ok(if integration_service::all_succeeded(&runs) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
