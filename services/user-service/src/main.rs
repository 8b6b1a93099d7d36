use std::process::ExitCode;

use user_service::config::Config;

use common::command::Usage;
use common::config::Env;

const USAGE: Usage = Usage {
    name: "user-service",
    about: "accounts with profile data and avatars, session tokens, the user directory",
    commands: &[
        (
            "serve",
            "serve HTTP on BIND_ADDR until SIGTERM (the default)",
        ),
        (
            "print-tables",
            "print the DynamoDB tables as JSON (Terraform's drift check)",
        ),
    ],
    reference: "docs/services/user-service.md",
};

#[tokio::main]
async fn main() -> ExitCode {
    let result = match std::env::args().nth(1).as_deref() {
        help if Usage::asked(help) => USAGE.print_help(Config::read(Env::empty())),
        None | Some("serve") => serve().await.map(|()| ExitCode::SUCCESS),
        Some("print-tables") => common::command::print_tables(&user_service::store::tables()),
        Some(other) => Err(USAGE.unknown(other)),
    };
    common::command::exit("user-service", result)
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config_with(None, config.common.aws_timeouts).await;
    let application = user_service::build(&config, &sdk).await?;
    application.run("user-service", &config.common).await
}
