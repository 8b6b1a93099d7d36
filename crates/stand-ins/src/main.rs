//! `stand-ins`: the external APIs' stand-ins as one process, for local runs and
//! docker-compose. See `stand-ins --help`.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use stand_ins::graph::GraphTenant;
use stand_ins::okta::OktaOrg;
use stand_ins::partner::{sample_providers, Partner};
use stand_ins::sms::SmsGateway;

const USAGE: &str = "\
stand-ins: fakes of the platform's external APIs, for local runs (tests use the library).

USAGE:
    stand-ins [STAND-IN OPTIONS...]...

Name one or more stand-ins, each followed by its options (`--name value` or
`--name=value`); all run in this process until Ctrl-C or SIGTERM. Bind 0.0.0.0 to be
reachable from other containers.

STAND-INS:
    sms       Africa's Talking SMS API: POST /version1/messaging (apiKey header, form
              fields username, to, message, from). GET /__stand-in/messages lists what
              was delivered; each delivered message is also logged.
        --bind ADDR          listen address, e.g. 127.0.0.1:9101 (required)
        --username NAME      the account's username (required)
        --api-key KEY        the account's API key (required)
        --delivery-reports URL   post a delivery report (status Success) for every
                             accepted message to this callback URL, as Africa's Talking
                             does for the URL registered on the account (default: none)
        --report-delay-ms N  how long after acceptance the report is posted (default 500)

    okta      An Okta org: Users API (/api/v1/users...) with SSWS API token auth, Link
              pagination, lifecycle rules and rate-limit headers.
        --bind ADDR          listen address (required)
        --org NAME           org name, part of every user id and login (required)
        --api-token TOKEN    the API token (required)
        --users N            users to create, mostly ACTIVE, some SUSPENDED, STAGED,
                             PROVISIONED or LOCKED_OUT (default 30)
        --rate-limit N       API requests per minute before 429 (default 600)

    partner   The partner providers API: GET /auth (token), GET /providers (checksum).
        --bind ADDR          listen address (required)
        --providers N        generated provider records (default 40)

    graph     A Microsoft Entra ID tenant through Microsoft Graph v1.0: the token endpoint
              POST /{tenant}/oauth2/v2.0/token (client credentials, client_secret_post)
              and /v1.0/users (list with $top/$select/$filter and @odata.nextLink, get,
              PATCH, DELETE).
        --bind ADDR          listen address (required)
        --tenant NAME        tenant name; its id is a GUID derived from it (required)
        --client-id ID       the app registration's client id (required)
        --client-secret S    its client secret (required)
        --users N            sample users, one in ten disabled (default 30)

ENVIRONMENT:
    RUST_LOG     log filter (default info)
    LOG_FORMAT   pretty (default) or json; logs go to stdout

EXAMPLE:
    stand-ins sms --bind 127.0.0.1:9101 --username sandbox --api-key dev-sms-key \\
              okta --bind 127.0.0.1:9102 --org acme --api-token stand-in-token-acme
";

#[derive(Debug, PartialEq)]
enum StandIn {
    Sms {
        bind: SocketAddr,
        username: String,
        api_key: String,
        delivery_reports: Option<String>,
        report_delay_ms: u64,
    },
    Okta {
        bind: SocketAddr,
        org: String,
        api_token: String,
        users: usize,
        rate_limit: u64,
    },
    Partner {
        bind: SocketAddr,
        providers: usize,
    },
    Graph {
        bind: SocketAddr,
        tenant: String,
        client_id: String,
        client_secret: String,
        users: usize,
    },
}

/// One stand-in's options, each taken once.
struct Options {
    stand_in: String,
    values: HashMap<String, String>,
}

impl Options {
    fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    fn required(&mut self, name: &str) -> Result<String, String> {
        self.take(name)
            .ok_or_else(|| format!("{} needs --{name}", self.stand_in))
    }

    fn parsed<T: std::str::FromStr>(
        &mut self,
        name: &str,
        default: Option<T>,
    ) -> Result<T, String> {
        match (self.take(name), default) {
            (Some(value), _) => value
                .parse()
                .map_err(|_| format!("{} --{name}: cannot read {value:?}", self.stand_in)),
            (None, Some(default)) => Ok(default),
            (None, None) => Err(format!("{} needs --{name}", self.stand_in)),
        }
    }

    /// Builds the stand-in; any option left over is not one of its own.
    fn build(mut self) -> Result<StandIn, String> {
        let stand_in = match self.stand_in.as_str() {
            "sms" => StandIn::Sms {
                bind: self.parsed("bind", None)?,
                username: self.required("username")?,
                api_key: self.required("api-key")?,
                delivery_reports: self.take("delivery-reports"),
                report_delay_ms: self.parsed("report-delay-ms", Some(500))?,
            },
            "okta" => StandIn::Okta {
                bind: self.parsed("bind", None)?,
                org: self.required("org")?,
                api_token: self.required("api-token")?,
                users: self.parsed("users", Some(30))?,
                rate_limit: self.parsed("rate-limit", Some(600))?,
            },
            "partner" => StandIn::Partner {
                bind: self.parsed("bind", None)?,
                providers: self.parsed("providers", Some(40))?,
            },
            "graph" => StandIn::Graph {
                bind: self.parsed("bind", None)?,
                tenant: self.required("tenant")?,
                client_id: self.required("client-id")?,
                client_secret: self.required("client-secret")?,
                users: self.parsed("users", Some(30))?,
            },
            other => return Err(format!("unknown stand-in {other:?}")),
        };
        match self.values.keys().next() {
            Some(unknown) => Err(format!("{} has no option --{unknown}", self.stand_in)),
            None => Ok(stand_in),
        }
    }
}

fn parse<S: AsRef<str>>(args: &[S]) -> Result<Vec<StandIn>, String> {
    let mut stand_ins = Vec::new();
    let mut current: Option<Options> = None;
    let mut args = args.iter().map(AsRef::as_ref);
    while let Some(arg) = args.next() {
        if let Some(flag) = arg.strip_prefix("--") {
            let options = current
                .as_mut()
                .ok_or_else(|| format!("--{flag} comes before any stand-in"))?;
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, value.to_owned()),
                None => {
                    let value = args
                        .next()
                        .ok_or_else(|| format!("--{flag} needs a value"))?;
                    (flag, value.to_owned())
                }
            };
            if options.values.insert(name.to_owned(), value).is_some() {
                return Err(format!("{} --{name} is given twice", options.stand_in));
            }
        } else {
            stand_ins.extend(current.take().map(Options::build).transpose()?);
            current = Some(Options {
                stand_in: arg.to_owned(),
                values: HashMap::new(),
            });
        }
    }
    stand_ins.extend(current.map(Options::build).transpose()?);
    Ok(stand_ins)
}

/// A believable org: mostly ACTIVE users, one in ten of each other common status.
fn seeded_status(index: usize) -> &'static str {
    match index % 10 {
        7 => "SUSPENDED",
        8 => "STAGED",
        9 if index % 20 == 9 => "PROVISIONED",
        9 => "LOCKED_OUT",
        _ => "ACTIVE",
    }
}

async fn start(stand_in: StandIn) {
    match stand_in {
        StandIn::Sms {
            bind,
            username,
            api_key,
            delivery_reports,
            report_delay_ms,
        } => {
            let gateway = SmsGateway::spawn_on(bind, &username, &api_key).await;
            if let Some(callback) = &delivery_reports {
                gateway.send_delivery_reports(callback, Duration::from_millis(report_delay_ms));
            }
            tracing::info!(
                url = gateway.url,
                username,
                "sms: POST /version1/messaging; GET /__stand-in/messages lists what was sent"
            );
        }
        StandIn::Okta {
            bind,
            org,
            api_token,
            users,
            rate_limit,
        } => {
            let okta = OktaOrg::spawn_on(bind, &org).await;
            okta.set_api_token(&api_token);
            okta.set_rate_limit(rate_limit, Duration::from_secs(60));
            for index in 0..users {
                okta.add_user(seeded_status(index));
            }
            tracing::info!(
                url = okta.url,
                org,
                users,
                rate_limit,
                "okta: /api/v1/users (SSWS token)"
            );
        }
        StandIn::Partner { bind, providers } => {
            let partner = Partner::spawn_on(bind).await;
            partner.set_providers(sample_providers(providers));
            tracing::info!(
                url = partner.url,
                providers,
                "partner: GET /auth, GET /providers"
            );
        }
        StandIn::Graph {
            bind,
            tenant,
            client_id,
            client_secret,
            users,
        } => {
            let graph = GraphTenant::spawn_on(bind, &tenant).await;
            graph.set_client_secret(&client_id, &client_secret);
            for index in 0..users {
                graph.add_user(index % 10 != 7);
            }
            tracing::info!(
                url = graph.url,
                tenant_id = graph.tenant_id,
                token_url = graph.token_url(),
                users,
                "graph: /v1.0/users (client credentials token)"
            );
        }
    }
}

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if std::env::var("LOG_FORMAT").as_deref() == Ok("json") {
        logs.json().init();
    } else {
        logs.init();
    }
}

async fn stop_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM can be handled");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let stand_ins = match parse(&args) {
        Ok(stand_ins) if stand_ins.is_empty() => {
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
        Ok(stand_ins) => stand_ins,
        Err(error) => {
            eprintln!("stand-ins: {error} (see stand-ins --help)");
            return ExitCode::from(2);
        }
    };
    init_logs();
    for stand_in in stand_ins {
        start(stand_in).await;
    }
    stop_signal().await;
    tracing::info!("stopping");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_stand_ins_parse_with_their_defaults() {
        let parsed = parse(&[
            "sms",
            "--bind",
            "127.0.0.1:9101",
            "--username",
            "sandbox",
            "--api-key=k",
            "partner",
            "--bind",
            "0.0.0.0:9104",
        ])
        .unwrap();
        assert_eq!(
            parsed,
            [
                StandIn::Sms {
                    bind: "127.0.0.1:9101".parse().unwrap(),
                    username: "sandbox".into(),
                    api_key: "k".into(),
                    delivery_reports: None,
                    report_delay_ms: 500,
                },
                StandIn::Partner {
                    bind: "0.0.0.0:9104".parse().unwrap(),
                    providers: 40,
                },
            ]
        );
    }

    #[test]
    fn mistakes_are_named() {
        let error = |args: &[&str]| parse(args).unwrap_err();
        assert_eq!(error(&["--bind", "x"]), "--bind comes before any stand-in");
        assert_eq!(
            error(&["okta", "--bind", "127.0.0.1:1", "--org", "a"]),
            "okta needs --api-token"
        );
        assert_eq!(
            error(&["partner", "--bind", "nowhere"]),
            "partner --bind: cannot read \"nowhere\""
        );
        assert_eq!(
            error(&["partner", "--bind", "127.0.0.1:1", "--users", "3"]),
            "partner has no option --users"
        );
        assert_eq!(error(&["partner", "--bind"]), "--bind needs a value");
        assert_eq!(
            error(&["graph", "--bind", "127.0.0.1:1", "--tenant", "globex"]),
            "graph needs --client-id"
        );
        assert_eq!(
            error(&["fax", "--bind", "127.0.0.1:1"]),
            "unknown stand-in \"fax\""
        );
    }
}
