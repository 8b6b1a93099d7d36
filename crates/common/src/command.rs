//! What every service's `main` shares: the `print-tables` command and how a command ends.

use std::process::ExitCode;

use crate::aws::dynamo::TableSpec;

/// `<service> print-tables`: the table definitions as JSON, for the Terraform drift check.
pub fn print_tables(tables: &[TableSpec]) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(tables)?);
    Ok(ExitCode::SUCCESS)
}

/// The exit status of a command; an error goes to stderr as `<service>: <error:#>`, since
/// logging may not be set up yet (bad configuration).
pub fn exit(service: &str, result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|error| {
        eprintln!("{service}: {error:#}");
        ExitCode::FAILURE
    })
}
