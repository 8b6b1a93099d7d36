//! One bench run's processes: the emulator, the issuer, the stand-ins and the services,
//! started on spare loopback ports, and the measurement of one route against them.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::emulator::EmulatorStats;
use crate::fixture::{CLIENT_ID, OKTA_USERS, TENANT};
use crate::load::{self, Target};
use crate::procs::{free_addr, wait_ready, Proc, RssPeak, Spec};
use crate::profile;
use crate::report::{RouteRow, StartRow};
use crate::settings::Settings;
const OKTA_TOKEN: &str = "bench-okta-token";
const SMS_API_KEY: &str = "bench-sms-key";
/// Provider records the partner stand-in serves to a sync.
const PARTNER_PROVIDERS: usize = 40;
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The peers and services of one run, and where they listen.
pub struct Run {
    pub root: PathBuf,
    pub bin: PathBuf,
    /// Where the services' binaries are (`bin` unless `--services` says otherwise).
    pub services: PathBuf,
    pub logs: PathBuf,
    pub http: reqwest::Client,
    /// Environment every service gets: emulator, credentials, fresh table prefix.
    pub service_env: Vec<(String, String)>,
    pub prefix: String,
    pub issuer: String,
    pub sms: SocketAddr,
    pub okta: SocketAddr,
    /// The partner providers API (provider syncs).
    pub partner: SocketAddr,
    /// The emulator's address (`http://...`).
    pub emulator: String,
    /// Kept alive (killed on drop) for the whole run.
    pub peers: Vec<Proc>,
}

pub struct Started {
    pub proc: Proc,
    pub addr: SocketAddr,
}

/// The three services of one build.
pub struct Services {
    pub user: Started,
    pub sales: Started,
    pub integration: Started,
}

pub fn start_row(
    process: &'static str,
    started: &Started,
    cold_start: Duration,
    first_start: Option<Duration>,
) -> StartRow {
    StartRow {
        process,
        cold_start,
        first_start,
        rss_after_start_kib: started.proc.rss_kib().unwrap_or_default(),
        rss_after_load_kib: None,
    }
}

/// A file name for a route: `user-service GET /user/{name} (session)` becomes
/// `user-service-get-user-name-session`.
fn slug(service: &str, route: &str) -> String {
    let mut slug = String::from(service);
    for word in route
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
    {
        slug.push('-');
        slug.push_str(word);
    }
    slug
}

impl Run {
    pub async fn start_peers(
        root: PathBuf,
        bin: PathBuf,
        services: PathBuf,
        logs: PathBuf,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let mut peers = Vec::new();

        let moto = free_addr()?;
        // The emulator the tests use (keep-alive, DynamoDB requests atomic): see
        // scripts/emulator_server.py.
        let python = root.join(".tools/moto/bin/python");
        anyhow::ensure!(
            python.exists(),
            "{} is missing: run bench/run.sh (it installs the emulator)",
            python.display()
        );
        peers.push(
            Spec::new("moto", python)
                .args(["scripts/emulator_server.py", "-H", "127.0.0.1"])
                .args(["-p", &moto.port().to_string()])
                .dir(&root)
                .spawn(&logs)?,
        );
        let emulator = format!("http://{moto}");
        wait_for_emulator(&http, &emulator).await?;

        let issuer_addr = free_addr()?;
        let mut issuer_proc = Spec::new("oidc-issuer", "node")
            .args(["issuer.mjs", "--port", &issuer_addr.port().to_string()])
            .dir(&root.join("tools/oidc-issuer"))
            .spawn(&logs)?;
        let issuer = format!("http://{issuer_addr}");
        wait_ready(
            &http,
            &mut issuer_proc,
            &format!("{issuer}/.well-known/openid-configuration"),
            READY_TIMEOUT,
        )
        .await?;
        peers.push(issuer_proc);

        let (sms, okta, partner) = (free_addr()?, free_addr()?, free_addr()?);
        let mut stand_ins = Spec::new("stand-ins", bin.join("stand-ins"))
            .args(["sms", "--bind", &sms.to_string()])
            .args(["--username", "sandbox", "--api-key", SMS_API_KEY])
            .args(["okta", "--bind", &okta.to_string(), "--org", "bench"])
            .args([
                "--api-token",
                OKTA_TOKEN,
                "--users",
                &OKTA_USERS.to_string(),
            ])
            .args(["--rate-limit", "1000000000"])
            .args(["partner", "--bind", &partner.to_string()])
            .args(["--providers", &PARTNER_PROVIDERS.to_string()])
            .env("RUST_LOG", "warn")
            .spawn(&logs)?;
        wait_ready(
            &http,
            &mut stand_ins,
            &format!("http://{sms}/__stand-in/messages"),
            READY_TIMEOUT,
        )
        .await?;
        peers.push(stand_ins);

        let prefix = format!("bench{}-", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let service_env = [
            ("AWS_ENDPOINT_URL", emulator.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("TABLE_PREFIX", prefix.as_str()),
            ("AUTO_CREATE_RESOURCES", "true"),
            ("SHUTDOWN_DRAIN_SECONDS", "0"),
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .to_vec();
        Ok(Self {
            root,
            bin,
            services,
            logs,
            http,
            service_env,
            prefix,
            issuer,
            sms,
            okta,
            partner,
            emulator,
            peers,
        })
    }

    /// Starts the three services from `dir`. With `starts`, each is started twice and the
    /// second start, with its tables in place, is recorded as the cold start.
    pub async fn start_services(
        &self,
        dir: &Path,
        mut starts: Option<&mut Vec<StartRow>>,
    ) -> anyhow::Result<Services> {
        let mut services = Vec::new();
        for (name, spec) in [
            ("user-service", self.user_spec(dir)?),
            ("sales-service", self.sales_spec(dir)?),
            ("integration-service", self.integration_spec(dir)?),
        ] {
            let service = match starts.as_deref_mut() {
                Some(starts) => {
                    let (first, first_start) = self.start_measured(spec.clone()).await?;
                    first.proc.stop().await;
                    let (service, cold_start) = self.start_measured(spec).await?;
                    starts.push(start_row(name, &service, cold_start, Some(first_start)));
                    service
                }
                None => self.start_measured(spec).await?.0,
            };
            services.push(service);
        }
        let [user, sales, integration] =
            <[Started; 3]>::try_from(services).map_err(|_| anyhow::anyhow!("three services"))?;
        Ok(Services {
            user,
            sales,
            integration,
        })
    }

    /// Loads one route and measures it: throughput, latency, the service's CPU and
    /// memory, the AWS calls it makes, and (with `--profile`) a flamegraph.
    pub async fn measure_route(
        &self,
        settings: &Settings,
        service: &'static str,
        started: &Started,
        route: &str,
        target: Target,
    ) -> anyhow::Result<RouteRow> {
        let pid = started.proc.pid();
        let rss_rest_kib = started.proc.rss_kib().unwrap_or_default();
        let peak = RssPeak::watch(pid);
        let aws_before = EmulatorStats::fetch(&self.http, &self.emulator).await?;
        let recording = match &settings.profile {
            Some(dir) => Some(profile::start(
                dir,
                &slug(service, route),
                &format!("{service} {route}"),
                pid,
                settings.warmup + settings.duration,
            )?),
            None => None,
        };
        let outcome = load::run(
            target,
            pid,
            settings.connections,
            settings.warmup,
            settings.duration,
        )
        .await;
        let rss_peak_kib = peak.finish();
        let aws = EmulatorStats::fetch(&self.http, &self.emulator)
            .await?
            .since(&aws_before);
        let mut profile = None;
        if let Some(recording) = recording {
            let svg = recording
                .finish(&self.root.join(".tools/inferno/bin"))
                .await?;
            eprintln!("bench: profile in {}", svg.display());
            let folded = std::fs::read_to_string(svg.with_extension("folded"))?;
            profile = Some((svg, profile::widest(&folded, 6)));
        }
        let aws_calls = aws.per_request(outcome.answers_with_warmup);
        eprintln!(
            "bench: {service} {route}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {:.0} us CPU/request, AWS calls/request {aws_calls}, errors {}",
            outcome.requests_per_second(),
            outcome.percentile_ms(50.0),
            outcome.percentile_ms(99.0),
            outcome.cpu_per_request_us(),
            outcome.errors()
        );
        Ok(RouteRow {
            profile,
            service,
            route: route.to_owned(),
            aws_calls,
            outcome,
            rss_rest_kib,
            rss_peak_kib,
        })
    }

    /// Starts `spec` (on the address in its `BIND_ADDR`) and measures the time to ready.
    pub async fn start_measured(
        &self,
        spec: (Spec, SocketAddr),
    ) -> anyhow::Result<(Started, Duration)> {
        let (spec, addr) = spec;
        let mut proc = spec.spawn(&self.logs)?;
        let ready = wait_ready(
            &self.http,
            &mut proc,
            &format!("http://{addr}/readyz"),
            READY_TIMEOUT,
        )
        .await?;
        Ok((Started { proc, addr }, ready))
    }

    pub fn hello_spec(&self) -> anyhow::Result<(Spec, SocketAddr)> {
        let addr = free_addr()?;
        let spec = Spec::new("hello", self.bin.join("bench-hello")).args([addr.to_string()]);
        Ok((spec, addr))
    }

    fn service(&self, dir: &Path, name: &str, addr: SocketAddr) -> Spec {
        let log_name = if dir == self.services {
            name.to_owned()
        } else {
            format!("{name}-baseline")
        };
        Spec::new(&log_name, dir.join(name))
            .envs(&self.service_env)
            .env("BIND_ADDR", addr.to_string())
    }

    pub fn user_spec(&self, dir: &Path) -> anyhow::Result<(Spec, SocketAddr)> {
        let addr = free_addr()?;
        let spec = self
            .service(dir, "user-service", addr)
            .env("AVATAR_BUCKET", format!("{}avatars", self.prefix))
            .env("ADMIN_USERNAME", "admin")
            .env("ADMIN_PASSWORD", "admin-password-1")
            .env("LOGIN_ATTEMPTS_PER_USERNAME_PER_MINUTE", "1000000")
            .env("LOGIN_ATTEMPTS_PER_ADDRESS_PER_MINUTE", "1000000")
            .env("SIGNUPS_PER_ADDRESS_PER_MINUTE", "1000000");
        Ok((spec, addr))
    }

    pub fn sales_spec(&self, dir: &Path) -> anyhow::Result<(Spec, SocketAddr)> {
        let addr = free_addr()?;
        let spec = self
            .service(dir, "sales-service", addr)
            .env("OIDC_ISSUER_URL", &self.issuer)
            .env("OIDC_AUDIENCE", "api://sales")
            .env("AFRICASTALKING_BASE_URL", format!("http://{}", self.sms))
            .env("AFRICASTALKING_USERNAME", "sandbox")
            .env("AFRICASTALKING_API_KEY", SMS_API_KEY)
            // Every order of the load goes to the one seeded customer: each SMS is sent as
            // in earlier runs, not failed by the per-number limit.
            .env("SMS_MAX_PER_NUMBER_PER_HOUR", u32::MAX.to_string());
        Ok((spec, addr))
    }

    pub fn integration_spec(&self, dir: &Path) -> anyhow::Result<(Spec, SocketAddr)> {
        let addr = free_addr()?;
        let tenants = json!({TENANT: {
            "callers": {"integrations:read": [CLIENT_ID], "integrations:write": [CLIENT_ID]},
            "okta": {
                "base_url": format!("http://{}", self.okta),
                "auth": {"method": "api_token"},
            },
            "providers": {
                "base_url": format!("http://{}", self.partner),
                "auth": {"method": "checksum"},
            },
        }});
        let spec = self
            .service(dir, "integration-service", addr)
            .args(["serve"])
            .env("TENANTS_JSON", tenants.to_string())
            .env("SECRETS_BACKEND", "env")
            .env("SECRET_INTEGRATIONS_BENCH_OKTA", OKTA_TOKEN)
            .env("OIDC_ISSUER_URL", &self.issuer)
            .env("OIDC_AUDIENCE", "api://integrations");
        Ok((spec, addr))
    }
}

async fn wait_for_emulator(http: &reqwest::Client, endpoint: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let answer = http
            .post(endpoint)
            .header("x-amz-target", "DynamoDB_20120810.ListTables")
            .header("content-type", "application/x-amz-json-1.0")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body("{}")
            .send()
            .await;
        if let Ok(response) = answer {
            if response
                .text()
                .await
                .is_ok_and(|body| body.contains("TableNames"))
            {
                return Ok(());
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the emulator did not answer at {endpoint}; see .run/bench/moto.log"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
