use user_service::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve().await,
        Some("print-tables") => {
            println!(
                "{}",
                serde_json::to_string_pretty(&user_service::store::tables())?
            );
            Ok(())
        }
        Some(other) => {
            anyhow::bail!("unknown command `{other}`; expected `serve` or `print-tables`")
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config(None).await;
    let service = user_service::build(&config, &sdk).await?;
    service.run("user-service", &config.common).await
}
