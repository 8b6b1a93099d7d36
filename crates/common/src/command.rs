//! What every service's `main` shares: `--help`, the `print-tables` command and how a
//! command ends.

use std::process::ExitCode;

use crate::aws::dynamo::TableSpec;
use crate::config::ConfigError;

/// What a service binary says about itself.
pub struct Usage {
    /// The binary, e.g. `sales-service`.
    pub name: &'static str,
    /// One line: what the service does.
    pub about: &'static str,
    /// Each command and what it does; the first is the default.
    pub commands: &'static [(&'static str, &'static str)],
    /// Where every setting is documented, e.g. `docs/services/sales-service.md`.
    pub reference: &'static str,
}

impl Usage {
    /// `usage: <name> [<command> | ...]`, for an unknown command's error.
    pub fn line(&self) -> String {
        let commands: Vec<&str> = self.commands.iter().map(|(command, _)| *command).collect();
        format!("usage: {} [{} | --help]", self.name, commands.join(" | "))
    }

    /// Whether `arg` asks for help (`--help`, `-h`, `help`).
    pub fn asked(arg: Option<&str>) -> bool {
        matches!(arg, Some("--help" | "-h" | "help"))
    }

    /// The help text: what the service is, its commands, and the settings a start needs,
    /// found by reading the service's config from an empty environment (`start_needs`:
    /// `Config::read(Env::empty())`), so the list is the code's own.
    pub fn help<T>(&self, start_needs: Result<T, ConfigError>) -> String {
        let width = self
            .commands
            .iter()
            .map(|(command, _)| command.len())
            .max()
            .unwrap_or(0);
        let mut text = format!(
            "{}: {}\n\n{}\n\nCommands:\n",
            self.name,
            self.about,
            self.line()
        );
        for (command, what) in self.commands {
            text.push_str(&format!("  {command:width$}  {what}\n"));
        }
        text.push_str(&format!("  {:width$}  this help\n", "--help"));
        text.push_str(
            "\nSettings a start needs (environment variables; the rest have defaults):\n",
        );
        match start_needs {
            Ok(_) => text.push_str("  none\n"),
            Err(ConfigError(problems)) => {
                for problem in problems {
                    text.push_str(&format!("  {problem}\n"));
                }
            }
        }
        text.push_str(&format!(
            "\nEvery setting, its default and meaning: {}; the ones every service shares: \
             docs/configuration.md.\n",
            self.reference
        ));
        text
    }

    /// Prints [`Usage::help`] on stdout: exit 0.
    pub fn print_help<T>(&self, start_needs: Result<T, ConfigError>) -> anyhow::Result<ExitCode> {
        print!("{}", self.help(start_needs));
        Ok(ExitCode::SUCCESS)
    }

    /// The error for an unknown command.
    pub fn unknown(&self, command: &str) -> anyhow::Error {
        anyhow::anyhow!("unknown command `{command}`; {}", self.line())
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const USAGE: Usage = Usage {
        name: "demo-service",
        about: "demonstrates help",
        commands: &[
            ("serve", "serve HTTP (the default)"),
            ("print-tables", "the tables as JSON"),
        ],
        reference: "docs/services/demo-service.md",
    };

    #[test]
    fn help_names_the_commands_and_what_a_start_needs() {
        let needs: Result<(), _> = Err(ConfigError(vec!["AVATAR_BUCKET is required".into()]));
        let help = USAGE.help(needs);
        assert!(help.starts_with("demo-service: demonstrates help\n\nusage: demo-service [serve | print-tables | --help]"), "{help}");
        assert!(
            help.contains("  print-tables  the tables as JSON\n"),
            "{help}"
        );
        assert!(help.contains("  AVATAR_BUCKET is required\n"), "{help}");
        assert!(help.contains("docs/services/demo-service.md"), "{help}");
        assert!(USAGE.help(Ok(())).contains("  none\n"));
        assert!(Usage::asked(Some("--help")) && Usage::asked(Some("-h")) && !Usage::asked(None));
    }
}
