use std::process::ExitCode;

use console::config::{Config, SETTINGS};

const USAGE: &str = "usage: console [serve | print-tables | --help]";

#[tokio::main]
async fn main() -> ExitCode {
    let result = match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve().await.map(|()| ExitCode::SUCCESS),
        Some("print-tables") => common::command::print_tables(&console::session::tables()),
        Some("--help" | "-h" | "help") => {
            help();
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`; {USAGE}")),
    };
    common::command::exit("console", result)
}

fn help() {
    println!("console: the web console for people (HTML on BIND_ADDR, default 0.0.0.0:8080)\n");
    println!("{USAGE}\n  serve         serve the console (the default)\n  print-tables  its DynamoDB table, as JSON (for the Terraform drift check)\n");
    println!("settings (environment):");
    for (name, default, meaning) in SETTINGS {
        println!(
            "  {name}\n      {meaning}{}",
            if default.is_empty() {
                String::new()
            } else {
                format!(" [{default}]")
            }
        );
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config_with(None, config.common.aws_timeouts).await;
    let application = console::build(&config, &sdk).await?;
    application.run("console", &config.common).await
}
