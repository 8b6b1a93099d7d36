use std::process::ExitCode;

use integration_service::config::Config;

use common::command::Usage;
use common::config::Env;

const USAGE: Usage = Usage {
    name: "integration-service",
    about: "integration capabilities per tenant (Okta users, ...), and the provider sync",
    commands: &[
        (
            "serve",
            "serve HTTP on BIND_ADDR until SIGTERM (the default); also needs OIDC_ISSUER_URL",
        ),
        (
            "sync-providers [--tenant <id>]",
            "sync the providers of every tenant (or one) once, a JSON line per run; exit 1 if one failed (the CronJob)",
        ),
        ("print-tables", "print the DynamoDB tables as JSON (Terraform's drift check)"),
        (
            "check-definitions [FILE...]",
            "check integration definition files (none: the built-in ones and INTEGRATION_DEFINITIONS_DIR's)",
        ),
        ("print-definition-schema", "print the JSON Schema of a definition file"),
        (
            "print-definition-reference",
            "print the definition format's reference (Markdown)",
        ),
    ],
    reference: "docs/services/integration-service.md",
};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        help if Usage::asked(help) => USAGE.print_help(Config::read(Env::empty())),
        None | Some("serve") => serve().await.map(|()| ExitCode::SUCCESS),
        Some("sync-providers") => sync_providers(&args[1..]).await,
        Some("print-tables") => {
            common::command::print_tables(&integration_service::store::tables())
        }
        Some("check-definitions") => check_definitions(&args[1..]),
        Some("print-definition-reference") => {
            print!(
                "{}",
                integration_service::definitions::reference::markdown()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some("print-definition-schema") => {
            print!("{}", integration_service::definitions::json_schema());
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(USAGE.unknown(other)),
    };
    common::command::exit("integration-service", result)
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config_with(None, config.common.aws_timeouts).await;
    let application = integration_service::build(&config, &sdk).await?;
    application.run("integration-service", &config.common).await
}

/// Checks definition files (none: the built-in ones and INTEGRATION_DEFINITIONS_DIR's),
/// printing each integration and its capabilities, or every mistake (exit 1).
fn check_definitions(files: &[String]) -> anyhow::Result<ExitCode> {
    use integration_service::definitions;
    let checked = if files.is_empty() {
        let dir = std::env::var_os("INTEGRATION_DEFINITIONS_DIR").map(std::path::PathBuf::from);
        definitions::load(dir.as_deref())
    } else {
        let mut compiled = Vec::new();
        let mut errors = Vec::new();
        for file in files {
            match std::fs::read_to_string(file) {
                Ok(text) => match definitions::parse(file, &text) {
                    Ok(definition) => compiled.push(std::sync::Arc::new(definition)),
                    Err(mistakes) => errors.extend(mistakes),
                },
                Err(error) => errors.push(definitions::DefinitionError {
                    file: file.clone(),
                    path: "(file)".into(),
                    reason: error.to_string(),
                }),
            }
        }
        if errors.is_empty() {
            Ok(compiled)
        } else {
            Err(errors)
        }
    };
    match checked {
        Ok(all) => {
            for definition in all {
                let names: Vec<&str> = definition
                    .capabilities
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect();
                println!(
                    "{} ({}): {}",
                    definition.name,
                    definition.file,
                    names.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{}", integration_service::definitions_refused(&errors));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// One sync per tenant, each run's record printed as a JSON line; exit 1 if any failed.
async fn sync_providers(args: &[String]) -> anyhow::Result<ExitCode> {
    let tenant = match args {
        [] => None,
        [flag, tenant] if flag == "--tenant" => Some(tenant.as_str()),
        _ => anyhow::bail!("{}", USAGE.line()),
    };
    let config = Config::from_env()?;
    common::telemetry::init(config.common.log_format);
    let sdk = common::aws::load_sdk_config_with(None, config.common.aws_timeouts).await;
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
