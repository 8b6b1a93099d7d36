//! `bench`: starts a private AWS emulator, the OIDC issuer, the stand-ins and release
//! builds of the three services on spare loopback ports, seeds data, then loads each
//! service's main routes in turn, beside a plain axum hello route as the ceiling of this
//! machine. Prints the figures and writes them to a Markdown file. Run it with
//! `bench/run.sh` (which builds first); `bench --help` lists the options.

mod floor;
mod load;
mod procs;
mod profile;
mod report;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::time::Instant;
use user_service::config::HashCost;

use crate::load::Target;
use crate::procs::{free_addr, wait_ready, Proc, RssPeak, Spec};
use crate::report::{Comparison, HashTiming, MemoryComparison, Report, RouteRow, StartRow};

const USAGE: &str = "\
bench: each service's main routes under concurrent load, against the AWS emulator on loopback

USAGE:
    bench/run.sh [OPTIONS]        (builds the release binaries, then runs target/release/bench)

OPTIONS:
    --connections N   concurrent keep-alive connections per route (default 16)
    --warmup S        unmeasured seconds before each route's measurement (default 1)
    --duration S      measured seconds per route (default 5)
    --out FILE        where the Markdown report goes (default bench/results/latest.md)
    --services DIR    run the three services' binaries from DIR instead (e.g. another
                      checkout's target/release, to compare two versions on one machine)
    --baseline DIR    also run the three services' binaries from DIR (another build, e.g.
                      of the commit before a change), route by route beside this build's,
                      and print the before/after table of CPU per request
    --profile DIR     sample each route's service with `perf record` while it is loaded
                      and draw a flamegraph per route into DIR (needs linux-perf; bench/run.sh
                      installs inferno)
";

const BENCH_USER: &str = "bench";
const BENCH_PASSWORD: &str = "bench-password-1";
const DIRECTORY_USERS: usize = 30;
const SEEDED_ORDERS: usize = 20;
const OKTA_USERS: usize = 200;
const OKTA_TOKEN: &str = "bench-okta-token";
const SMS_API_KEY: &str = "bench-sms-key";
const TENANT: &str = "bench";
/// The issuer's default client: the bench's caller, listed for the bench tenant.
const CLIENT_ID: &str = "platform-dev";
const CLIENT_SECRET: &str = "platform-dev-secret";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

struct Settings {
    connections: usize,
    warmup: Duration,
    duration: Duration,
    out: PathBuf,
    services: Option<PathBuf>,
    profile: Option<PathBuf>,
    baseline: Option<PathBuf>,
}

fn settings(root: &Path) -> anyhow::Result<Settings> {
    let mut settings = Settings {
        connections: 16,
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(5),
        out: root.join("bench/results/latest.md"),
        services: None,
        profile: None,
        baseline: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n\n{USAGE}"))?;
        let seconds = || -> anyhow::Result<Duration> {
            Ok(Duration::from_secs_f64(value.parse().with_context(
                || format!("{flag}: `{value}` is not a number of seconds"),
            )?))
        };
        match flag.as_str() {
            "--connections" => settings.connections = value.parse().context("--connections")?,
            "--warmup" => settings.warmup = seconds()?,
            "--duration" => settings.duration = seconds()?,
            "--out" => settings.out = PathBuf::from(&value),
            "--services" => settings.services = Some(PathBuf::from(&value)),
            "--profile" => settings.profile = Some(PathBuf::from(&value)),
            "--baseline" => settings.baseline = Some(PathBuf::from(&value)),
            other => anyhow::bail!("unknown option {other}\n\n{USAGE}"),
        }
    }
    anyhow::ensure!(settings.connections > 0, "--connections must be at least 1");
    Ok(settings)
}

/// The peers and services of one run, and where they listen.
struct Run {
    root: PathBuf,
    bin: PathBuf,
    /// Where the services' binaries are (`bin` unless `--services` says otherwise).
    services: PathBuf,
    logs: PathBuf,
    http: reqwest::Client,
    /// Environment every service gets: emulator, credentials, fresh table prefix.
    service_env: Vec<(String, String)>,
    prefix: String,
    issuer: String,
    sms: SocketAddr,
    okta: SocketAddr,
    /// The emulator's address (`http://...`).
    emulator: String,
    /// Kept alive (killed on drop) for the whole run.
    peers: Vec<Proc>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()?;
    let settings = settings(&root)?;
    let began = Instant::now();
    let bin = std::env::current_exe()?
        .parent()
        .context("the binary's directory")?
        .to_path_buf();
    let logs = root.join(".run/bench");
    std::fs::create_dir_all(&logs)?;
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    eprintln!(
        "bench: starting the emulator, the OIDC issuer and the stand-ins (logs in .run/bench/)"
    );
    let services = settings.services.clone().unwrap_or_else(|| bin.clone());
    let mut run = Run::start_peers(root.clone(), bin, services, logs).await?;

    eprintln!("bench: starting each service twice (the second start is the cold start)");
    let mut starts = Vec::new();
    let (hello, hello_start) = run.start_measured(run.hello_spec()?).await?;
    starts.push(start_row(
        "hello (axum, no middleware)",
        &hello,
        hello_start,
        None,
    ));
    let current = run.start_services(&run.services, Some(&mut starts)).await?;
    let baseline = match &settings.baseline {
        Some(dir) => Some(run.start_services(dir, None).await?),
        None => None,
    };

    let floor = floor::measure(hello.addr).await?;
    eprintln!(
        "bench: SDK floor: {} us CPU per DynamoDB GetItem, {} us per plain HTTP POST",
        floor.sdk_get_item.as_micros(),
        floor.plain_post.as_micros()
    );
    eprintln!("bench: timing argon2id at user-service's default cost");
    let hashing = time_hashing().await?;

    eprintln!("bench: seeding users, a customer and orders; fetching tokens");
    // Both builds share the tables, so the seed and the tokens serve both.
    let sales = run
        .access_token("api://sales", "sales:read sales:write")
        .await?;
    let credentials = Credentials {
        session: run.seed_users(current.user.addr).await?,
        customer: run.seed_sales(current.sales.addr, &sales).await?,
        sales,
        integrations: run
            .access_token("api://integrations", "integrations:read")
            .await?,
    };

    let hello_row = run
        .measure_route(
            &settings,
            "hello",
            &hello,
            "GET /",
            Target::get(hello.addr, "/"),
        )
        .await?;
    let hello_cpu = hello_row.outcome.cpu_per_request_us();
    let mut routes = vec![hello_row];
    let mut comparison = Vec::new();
    let baseline_plan = baseline.as_ref().map(|set| plan(set, &credentials));
    for (index, (service, started, route, target)) in
        plan(&current, &credentials).into_iter().enumerate()
    {
        // Interleaved, route by route: both builds meet the same tables and machine.
        let before = match &baseline_plan {
            Some(plan) => {
                let (_, started, _, target) = &plan[index];
                let label = format!("{route} [baseline]");
                Some(
                    run.measure_route(&settings, service, started, &label, target.clone())
                        .await?,
                )
            }
            None => None,
        };
        let after = run
            .measure_route(&settings, service, started, route, target)
            .await?;
        if let Some(before) = before {
            comparison.push(Comparison {
                route: format!("{service} {route}"),
                before_us: before.outcome.cpu_per_request_us(),
                after_us: after.outcome.cpu_per_request_us(),
                hello_us: hello_cpu,
                target_us: TARGETS
                    .iter()
                    .find(|(name, _)| *name == route)
                    .map(|(_, target)| *target),
            });
            routes.push(before);
        }
        routes.push(after);
    }
    let rss_after_load = |set: &Services| set.user.proc.rss_kib().unwrap_or_default();
    let memory = baseline.as_ref().map(|baseline| MemoryComparison {
        before_kib: rss_after_load(baseline),
        after_kib: rss_after_load(&current),
        target_mib: USER_SERVICE_RSS_TARGET_MIB,
    });

    for (row, started) in
        starts
            .iter_mut()
            .zip([&hello, &current.user, &current.sales, &current.integration])
    {
        row.rss_after_load_kib = started.proc.rss_kib();
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let report = Report {
        header: header(&root, &settings, &run.prefix, &load_before),
        routes,
        comparison,
        memory,
        starts,
        hashing: Some(hashing),
        footer: vec![
            format!(
                "Load average (1, 5, 15 min) before: {}; after: {}. Bench run time: {:.0} s.",
                first_three(&load_before),
                first_three(&load_after),
                began.elapsed().as_secs_f64()
            ),
            "Logs of every process: .run/bench/.".to_owned(),
        ],
    };
    let text = report.render();
    print!("{text}");
    if let Some(dir) = settings.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&settings.out, &text)
        .with_context(|| format!("writing {}", settings.out.display()))?;
    eprintln!("bench: written to {}", settings.out.display());

    hello.proc.stop().await;
    for set in std::iter::once(current).chain(baseline) {
        for started in [set.user, set.sales, set.integration] {
            started.proc.stop().await;
        }
    }
    for peer in run.peers.drain(..) {
        peer.stop().await;
    }
    Ok(())
}

struct Started {
    proc: Proc,
    addr: SocketAddr,
}

/// The three services of one build.
struct Services {
    user: Started,
    sales: Started,
    integration: Started,
}

/// What the routes' requests carry, made once for both builds.
struct Credentials {
    session: String,
    sales: String,
    integrations: String,
    customer: String,
}

/// Issue 16's targets, in server CPU us per request on this machine.
const TARGETS: [(&str, f64); 4] = [
    ("GET /user/{name} (session)", 400.0),
    ("GET /users (session)", 600.0),
    ("GET /api/v1/sales/orders (JWT)", 900.0),
    ("POST /api/v1/sales/orders (JWT)", 1500.0),
];
const USER_SERVICE_RSS_TARGET_MIB: f64 = 30.0;

/// Every route after hello, in order: those that add data run after those that read it
/// (a scan reads the whole table in the emulator), and orders last: their SMS keep the
/// dispatcher busy afterwards.
fn plan<'a>(
    set: &'a Services,
    credentials: &Credentials,
) -> Vec<(&'static str, &'a Started, &'static str, Target)> {
    let (user, sales, integration) = (&set.user, &set.sales, &set.integration);
    vec![
        (
            "user-service",
            user,
            "GET /healthz (shared middleware, no AWS)",
            Target::get(user.addr, "/healthz"),
        ),
        (
            "user-service",
            user,
            "POST /auth",
            Target::post_json(
                user.addr,
                "/auth",
                &json!({"username": BENCH_USER, "password": BENCH_PASSWORD}),
            ),
        ),
        (
            "user-service",
            user,
            "GET /user/{name} (session)",
            Target::get(user.addr, &format!("/user/{BENCH_USER}")).bearer(&credentials.session),
        ),
        (
            "user-service",
            user,
            "GET /users (session)",
            Target::get(user.addr, "/users").bearer(&credentials.session),
        ),
        (
            "integration-service",
            integration,
            "GET /okta/list_users?limit=20 (JWT)",
            Target::get(integration.addr, "/okta/list_users?limit=20")
                .bearer(&credentials.integrations)
                .header("x-tenant-id", TENANT),
        ),
        (
            "sales-service",
            sales,
            "GET /api/v1/sales/orders (JWT)",
            Target::get(sales.addr, "/api/v1/sales/orders").bearer(&credentials.sales),
        ),
        (
            "sales-service",
            sales,
            "POST /api/v1/sales/orders (JWT)",
            Target::post_json(
                sales.addr,
                "/api/v1/sales/orders",
                &order(&credentials.customer),
            )
            .bearer(&credentials.sales)
            .expect(StatusCode::CREATED),
        ),
    ]
}

fn start_row(
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

fn order(customer: &str) -> Value {
    json!({"customer": customer, "item": "Bag of rice", "amount": "56000.68"})
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

fn first_three(loadavg: &str) -> String {
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn header(root: &Path, settings: &Settings, prefix: &str, load_before: &str) -> Vec<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let changed = !git(&["status", "--porcelain", "--", "services", "crates", "bench"]).is_empty();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|model| model.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let now = time::OffsetDateTime::now_utc();
    let services = settings.services.as_ref().map_or_else(String::new, |dir| {
        format!(" Services' binaries from {}.", dir.display())
    });
    vec![
        format!(
            "Run {} UTC at commit {}{}, on {cores} x {cpu}; load average before the run: {}.{services}",
            now.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            git(&["rev-parse", "--short", "HEAD"]),
            if changed { " with local changes" } else { "" },
            first_three(load_before),
        ),
        format!(
            "Each route: {} keep-alive connections in a closed loop (each sends its next request when the answer's last byte arrives), {:.0} s warm-up, then {:.0} s measured. The load generator runs on one thread of the same machine; services are release builds with their default settings except where noted below.",
            settings.connections,
            settings.warmup.as_secs_f64(),
            settings.duration.as_secs_f64(),
        ),
        "Server CPU us/req: CPU time of the process under test over the measured window, per answered request. It is what the route costs in our code, and a busy machine does not move it the way it moves req/s (the emulator's own CPU is not in it).".to_owned(),
        format!(
            "AWS: a private moto emulator (Python) on loopback, tables prefixed `{prefix}`; every DynamoDB call is a local HTTP round trip to a single-process Python server, far slower than DynamoDB: read the figures as ratios to hello, not as production capacity."
        ),
        format!(
            "Not defaults: login and sign-up limits raised to 1000000/min (one client signs up and logs in from one address); the Okta stand-in's rate limit raised; user-service seeded with {DIRECTORY_USERS} users, sales-service with one customer and {SEEDED_ORDERS} orders, the Okta stand-in with {OKTA_USERS} users."
        ),
    ]
}

/// Hashes with user-service's own hasher at its default cost, one at a time.
async fn time_hashing() -> anyhow::Result<HashTiming> {
    let cost = HashCost::DEFAULT;
    let hasher = user_service::session::PasswordHasher::new(cost)?;
    let password = user_service::domain::Password::parse(BENCH_PASSWORD.to_owned())
        .map_err(|e| anyhow::anyhow!(e))?;
    let mut samples = Vec::new();
    let cpu_before = procs::cpu_time("self");
    for _ in 0..12 {
        let started = Instant::now();
        hasher.hash(&password).await?;
        samples.push(started.elapsed());
    }
    let cpu = procs::cpu_time("self").saturating_sub(cpu_before) / samples.len() as u32;
    samples.sort();
    Ok(HashTiming {
        params: format!(
            "m={} KiB, t={}, p={}",
            cost.memory_kib, cost.iterations, cost.parallelism
        ),
        cpu,
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
        samples: samples.len(),
    })
}

/// What the emulator counted (scripts/emulator_server.py, `GET /__emulator/stats`).
#[derive(serde::Deserialize, Default)]
struct EmulatorStats {
    connections_accepted: u64,
    requests: std::collections::BTreeMap<String, u64>,
}

impl EmulatorStats {
    fn since(self, before: &EmulatorStats) -> EmulatorStats {
        EmulatorStats {
            connections_accepted: self.connections_accepted - before.connections_accepted,
            requests: self
                .requests
                .into_iter()
                .map(|(operation, count)| {
                    let earlier = before.requests.get(&operation).copied().unwrap_or(0);
                    (operation, count - earlier)
                })
                .filter(|(_, count)| *count > 0)
                .collect(),
        }
    }

    /// `GetItem 1.00`: each operation's calls per answered request, and new connections.
    fn per_request(&self, answers: u64) -> String {
        let answers = answers.max(1) as f64;
        // Background work (readiness checks, the SMS outbox) shows as small fractions.
        let mut parts: Vec<String> = self
            .requests
            .iter()
            .map(|(operation, count)| (operation, *count as f64 / answers))
            .filter(|(_, per_request)| *per_request >= 0.005)
            .map(|(operation, per_request)| {
                let name = operation.rsplit('.').next().unwrap_or(operation);
                format!("{name} {per_request:.2}")
            })
            .collect();
        if parts.is_empty() {
            parts.push("none".to_owned());
        }
        parts.push(format!(
            "(connections opened: {})",
            self.connections_accepted
        ));
        parts.join(", ")
    }
}

impl Run {
    async fn emulator_stats(&self) -> anyhow::Result<EmulatorStats> {
        let url = format!("{}/__emulator/stats", self.emulator);
        Ok(self
            .http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    async fn start_peers(
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

        let (sms, okta) = (free_addr()?, free_addr()?);
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
            emulator,
            peers,
        })
    }

    /// Starts the three services from `dir`. With `starts`, each is started twice and the
    /// second start, with its tables in place, is recorded as the cold start.
    async fn start_services(
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
    async fn measure_route(
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
        let aws_before = self.emulator_stats().await?;
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
        let aws = self.emulator_stats().await?.since(&aws_before);
        if let Some(recording) = recording {
            let svg = recording
                .finish(&self.root.join(".tools/inferno/bin"))
                .await?;
            eprintln!("bench: profile in {}", svg.display());
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
            service,
            route: route.to_owned(),
            aws_calls,
            outcome,
            rss_rest_kib,
            rss_peak_kib,
        })
    }

    /// Starts `spec` (on the address in its `BIND_ADDR`) and measures the time to ready.
    async fn start_measured(
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

    fn hello_spec(&self) -> anyhow::Result<(Spec, SocketAddr)> {
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

    fn user_spec(&self, dir: &Path) -> anyhow::Result<(Spec, SocketAddr)> {
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

    fn sales_spec(&self, dir: &Path) -> anyhow::Result<(Spec, SocketAddr)> {
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

    fn integration_spec(&self, dir: &Path) -> anyhow::Result<(Spec, SocketAddr)> {
        let addr = free_addr()?;
        let tenants = json!({TENANT: {
            "callers": {"integrations:read": [CLIENT_ID], "integrations:write": [CLIENT_ID]},
            "okta": {
                "base_url": format!("http://{}", self.okta),
                "auth": {"method": "api_token"},
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

    /// Signs up the bench user and the directory's users; returns a session token.
    async fn seed_users(&self, addr: SocketAddr) -> anyhow::Result<String> {
        let base = format!("http://{addr}");
        let sign_up = |username: String, password: &'static str| {
            let request = self.http.post(format!("{base}/user")).json(&json!({
                "username": username,
                "password": password,
                "name": format!("User {username}"),
                "email": format!("{username}@example.com"),
                "city": "Nairobi",
            }));
            async move { expect_status(request.send().await?, StatusCode::CREATED).await }
        };
        sign_up(BENCH_USER.to_owned(), BENCH_PASSWORD).await?;
        let names: Vec<String> = (0..DIRECTORY_USERS)
            .map(|i| format!("user{i:03}"))
            .collect();
        for chunk in names.chunks(4) {
            futures::future::try_join_all(
                chunk
                    .iter()
                    .map(|name| sign_up(name.clone(), "directory-password-1")),
            )
            .await?;
        }
        let login = self
            .http
            .post(format!("{base}/auth"))
            .json(&json!({"username": BENCH_USER, "password": BENCH_PASSWORD}))
            .send()
            .await?;
        let body = expect_status(login, StatusCode::OK).await?;
        text_field(&body, "token")
    }

    /// Creates a customer and a few orders; returns the customer's id.
    async fn seed_sales(&self, addr: SocketAddr, token: &str) -> anyhow::Result<String> {
        let base = format!("http://{addr}/api/v1/sales");
        let customer = self
            .http
            .post(format!("{base}/customers"))
            .bearer_auth(token)
            .json(&json!({"name": "Jane Wanjiku", "phone_number": "+254711000111"}))
            .send()
            .await?;
        let customer = expect_status(customer, StatusCode::CREATED).await?;
        let id = text_field(&customer, "id")?;
        for _ in 0..SEEDED_ORDERS {
            let response = self
                .http
                .post(format!("{base}/orders"))
                .bearer_auth(token)
                .json(&order(&id))
                .send()
                .await?;
            expect_status(response, StatusCode::CREATED).await?;
        }
        Ok(id)
    }

    /// An access token from the issuer (client credentials of the default client).
    async fn access_token(&self, audience: &str, scope: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", audience),
                ("scope", scope),
            ])
            .send()
            .await?;
        let body = expect_status(response, StatusCode::OK).await?;
        text_field(&body, "access_token")
    }
}

fn text_field(body: &Value, name: &str) -> anyhow::Result<String> {
    body[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no `{name}` in the answer {body}"))
}

async fn expect_status(response: reqwest::Response, status: StatusCode) -> anyhow::Result<Value> {
    let actual = response.status();
    let url = response.url().clone();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(
        actual == status,
        "{url}: {actual} (expected {status}): {body}"
    );
    Ok(body)
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
