//! Overload mode (`bench --overload`): at twice the request rate a replica can serve,
//! does it keep answering what it accepts within its latency budget, refuse the rest
//! fast, and keep its memory flat? Each route runs on two instances of its service, one
//! with the default `MAX_CONCURRENT_REQUESTS` and one with the limit out of reach (as
//! before load shedding), each driven by an open loop (independent arrivals at a fixed
//! rate, latency from each request's scheduled time) at twice the rate a closed loop
//! measured as its saturation.
//!
//! The service must be the bottleneck, not its peers: the integration route calls the
//! Okta stand-in (Rust, answers at once); the store routes' AWS calls go to a
//! [`Replay`] that answers what it has seen after a constant 5 ms (DynamoDB's usual
//! latency), where the emulator would serialise them behind Python.
use std::time::Duration;

use crate::fixture::TENANT;
use crate::load::{self, OpenOutcome, Target};
use crate::procs::{cpu_time, free_addr, RssPeak, Spec};
use crate::replay::Replay;
use crate::run::{Run, Started};
use crate::settings::Settings;

/// The constant latency of every AWS call in the store routes' runs.
pub const STORE_LATENCY: Duration = Duration::from_millis(5);
/// Connections of the closed loop that finds the saturation rate: well below the
/// default limit, so nothing is shed while it is measured.
const SATURATION_CONNECTIONS: usize = 64;
/// Connections the open loop may open: what a few hundred independent clients would.
const MAX_CONNECTIONS: usize = 2000;
/// The CPU request of a production pod (`charts/platform/values-production.yaml`).
const CPU_REQUEST_MILLICORES: u32 = 250;
/// The limit of the instance that stands for "no load shedding".
const UNLIMITED: &str = "1000000";

pub struct OverloadRow {
    pub route: String,
    /// `default (128)` or `none`.
    pub limit: String,
    pub saturation_rps: f64,
    /// CPU time per answer while the closed loop found the saturation rate.
    pub saturation_cpu_us: f64,
    pub offered_rps: f64,
    pub outcome: OpenOutcome,
    pub cpu_per_answer_us: f64,
    pub rss_before_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_after_kib: u64,
    /// The route's stated p99 budget.
    pub budget_ms: f64,
}

pub struct Overload {
    pub rows: Vec<OverloadRow>,
    pub window: Duration,
    pub default_limit: usize,
}

/// A route's request, for one instance of its service.
type TargetOn<'a> = Box<dyn Fn(&Started) -> Target + 'a>;

/// A service twice: with the default limit, and with none.
struct Pair {
    limited: Started,
    unlimited: Started,
}

async fn pair(
    run: &Run,
    spec: impl Fn() -> anyhow::Result<(Spec, std::net::SocketAddr)>,
) -> anyhow::Result<Pair> {
    let limited = run.start_measured(spec()?).await?.0;
    let (unlimited, addr) = spec()?;
    let name = format!("{}-unlimited", unlimited.name);
    let unlimited = run
        .start_measured((
            unlimited
                .env("MAX_CONCURRENT_REQUESTS", UNLIMITED)
                .name(&name),
            addr,
        ))
        .await?
        .0;
    Ok(Pair { limited, unlimited })
}

pub async fn run(run: &mut Run, settings: &Settings) -> anyhow::Result<Overload> {
    let replay = Replay::start(free_addr()?, &run.emulator, STORE_LATENCY)?;
    let through_replay = |spec: (Spec, std::net::SocketAddr)| {
        let (spec, addr) = spec;
        (
            spec.env("AWS_ENDPOINT_URL", format!("http://{}", replay.addr)),
            addr,
        )
    };
    eprintln!("bench --overload: starting each service twice (default limit, and none)");
    let integration = pair(run, || run.integration_spec(&run.services)).await?;
    let user = pair(run, || Ok(through_replay(run.user_spec(&run.services)?))).await?;
    let sales = pair(run, || {
        let (spec, addr) = through_replay(run.sales_spec(&run.services)?);
        Ok((spec.env("OUTBOX_DISPATCHER_ENABLED", "false"), addr))
    })
    .await?;

    eprintln!("bench --overload: seeding through the replay, then freezing it");
    let session = run.seed_users(user.limited.addr).await?;
    let sales_token = run
        .access_token("api://sales", "sales:read sales:write")
        .await?;
    run.seed_sales(sales.limited.addr, &sales_token).await?;
    let integrations = run
        .access_token("api://integrations", "integrations:read")
        .await?;

    let routes: Vec<(&str, &Pair, f64, TargetOn)> = vec![
        (
            "integration GET /okta/list_users?limit=20 (Okta stand-in)",
            &integration,
            250.0,
            Box::new(|s: &Started| {
                Target::get(s.addr, "/okta/list_users?limit=20")
                    .bearer(&integrations)
                    .header("x-tenant-id", TENANT)
            }),
        ),
        (
            "user GET /user/{name} (store at 5 ms)",
            &user,
            250.0,
            Box::new(|s: &Started| Target::get(s.addr, "/user/bench").bearer(&session)),
        ),
        (
            "sales GET /api/v1/sales/orders (store at 5 ms)",
            &sales,
            250.0,
            Box::new(|s: &Started| {
                Target::get(s.addr, "/api/v1/sales/orders").bearer(&sales_token)
            }),
        ),
    ];
    // Every read the routes make, seen once on each instance, is then answered by the
    // replay alone.
    for (_, pair, _, target) in &routes {
        for started in [&pair.limited, &pair.unlimited] {
            load::once(&target(started)).await;
        }
    }
    replay.freeze();

    let mut rows = Vec::new();
    for (route, pair, budget_ms, target) in &routes {
        let closed = load::run(
            target(&pair.limited),
            pair.limited.proc.pid(),
            SATURATION_CONNECTIONS,
            Duration::from_secs(1),
            Duration::from_secs(3),
        )
        .await;
        let saturation = closed.requests_per_second();
        let saturation_cpu_us = closed.cpu_per_request_us();
        let offered = 2.0 * saturation;
        eprintln!("bench --overload: {route}: saturation {saturation:.0} req/s; offering {offered:.0} req/s");
        for (limit, started) in [
            (
                format!(
                    "default ({})",
                    common::shedding::DEFAULT_MAX_CONCURRENT_REQUESTS
                ),
                &pair.limited,
            ),
            ("none".to_owned(), &pair.unlimited),
        ] {
            let pid = started.proc.pid();
            let rss_before_kib = started.proc.rss_kib().unwrap_or_default();
            let peak = RssPeak::watch(pid);
            let cpu_before = cpu_time(&pid.to_string());
            let outcome =
                load::open_loop(target(started), offered, settings.duration, MAX_CONNECTIONS).await;
            let cpu = cpu_time(&pid.to_string()).saturating_sub(cpu_before);
            let answers = outcome.accepted.len() + outcome.shed.len();
            let row = OverloadRow {
                route: (*route).to_owned(),
                limit,
                saturation_rps: saturation,
                saturation_cpu_us,
                offered_rps: offered,
                cpu_per_answer_us: cpu.as_secs_f64() * 1e6 / answers.max(1) as f64,
                rss_before_kib,
                rss_peak_kib: peak.finish(),
                rss_after_kib: started.proc.rss_kib().unwrap_or_default(),
                budget_ms: *budget_ms,
                outcome,
            };
            eprintln!(
                "bench --overload: {route}, limit {}: accepted {:.0}/s p99 {:.1} ms, shed {:.0} % (p99 {:.1} ms), send lag p99 {:.1} ms, failed {:?}, RSS {} -> {} KiB",
                row.limit,
                row.outcome.accepted_per_second(),
                row.outcome.accepted.value_at_percentile(99.0) as f64 / 1000.0,
                100.0 * row.outcome.shed_share(),
                row.outcome.shed.value_at_percentile(99.0) as f64 / 1000.0,
                row.outcome.send_lag.value_at_percentile(99.0) as f64 / 1000.0,
                row.outcome.failed,
                row.rss_before_kib,
                row.rss_peak_kib,
            );
            rows.push(row);
        }
    }
    replay.stop();
    for pair in [integration, user, sales] {
        pair.limited.proc.stop().await;
        pair.unlimited.proc.stop().await;
    }
    Ok(Overload {
        rows,
        window: settings.duration,
        default_limit: common::shedding::DEFAULT_MAX_CONCURRENT_REQUESTS,
    })
}

impl Overload {
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "\n## Overload: twice the saturation rate, with and without load shedding\n\n\
             Each route: its saturation rate measured with a closed loop of {SATURATION_CONNECTIONS} \
             connections, then an open loop at twice that rate for {:.0} s against an instance with \
             the default `MAX_CONCURRENT_REQUESTS` ({}) and one without a reachable limit. Latency \
             counts from each request's scheduled send time, so it includes the load generator's own \
             delay (send lag: how late requests left against their schedule). Store routes' AWS calls \
             answer after a constant {} ms (a replay of the emulator's answers, on its own thread).\n\n\
             | route | limit | saturation req/s | offered req/s | accepted req/s | accepted p50 / p99 ms | p99 budget ms | within | shed | shed p50 / p99 ms | send lag p99 ms | failed | CPU us per answer | RSS before / peak / after MiB |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: |\n",
            self.window.as_secs_f64(),
            self.default_limit,
            STORE_LATENCY.as_millis(),
        );
        let mib = |kib: u64| kib as f64 / 1024.0;
        for row in &self.rows {
            let accepted = &row.outcome.accepted;
            let p99 = accepted.value_at_percentile(99.0) as f64 / 1000.0;
            let failed = if row.outcome.failed.is_empty() {
                "-".to_owned()
            } else {
                row.outcome
                    .failed
                    .iter()
                    .map(|(kind, count)| format!("{count}x {kind}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.0} | {:.0} | {:.1} / {:.1} | {:.0} | {} | {:.0} % | {} | {:.1} | {} | {:.0} | {:.0} / {:.0} / {:.0} |",
                row.route,
                row.limit,
                row.saturation_rps,
                row.offered_rps,
                row.outcome.accepted_per_second(),
                accepted.value_at_percentile(50.0) as f64 / 1000.0,
                p99,
                row.budget_ms,
                if p99 <= row.budget_ms { "yes" } else { "**no**" },
                100.0 * row.outcome.shed_share(),
                if row.outcome.shed.is_empty() {
                    "-".to_owned()
                } else {
                    format!(
                        "{:.1} / {:.1}",
                        row.outcome.shed.value_at_percentile(50.0) as f64 / 1000.0,
                        row.outcome.shed.value_at_percentile(99.0) as f64 / 1000.0
                    )
                },
                row.outcome.send_lag.value_at_percentile(99.0) as f64 / 1000.0,
                failed,
                row.cpu_per_answer_us,
                mib(row.rss_before_kib),
                mib(row.rss_peak_kib),
                mib(row.rss_after_kib),
            );
        }
        out.push_str(&self.scaling());
        out
    }

    /// The HPA's CPU target from the CPU a request costs: scaling must start well before
    /// a replica saturates (where it starts shedding), and the target is a share of the
    /// pod's CPU request, not of what it could burst to.
    fn scaling(&self) -> String {
        use std::fmt::Write;
        let mut out = format!(
            "\n### Where the HPA should start scaling\n\n\
             A replica saturates at the rate the closed loop measured, using `CPU us per request x \
             rate` of CPU (its cores at saturation). Shedding starts there, so the HPA must add \
             replicas before it: at about half the saturation rate, which leaves room for a \
             doubling of the load while new pods start (the cold start is seconds). The HPA's \
             target is a percentage of the pod's CPU request ({CPU_REQUEST_MILLICORES}m in \
             `charts/platform/values-production.yaml`): target = 50 % x CPU at saturation / request.\n\n\
             | route | saturation req/s | CPU us per request at saturation | cores at saturation | requests/s per {CPU_REQUEST_MILLICORES}m | target for half saturation |\n\
             | --- | ---: | ---: | ---: | ---: | ---: |\n"
        );
        for row in self.rows.iter().filter(|row| row.limit != "none") {
            let cores = row.saturation_rps * row.saturation_cpu_us / 1e6;
            let request = CPU_REQUEST_MILLICORES as f64 / 1000.0;
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} % |",
                row.route,
                row.saturation_rps,
                row.saturation_cpu_us,
                cores,
                request * 1e6 / row.saturation_cpu_us.max(1.0),
                50.0 * cores / request,
            );
        }
        out
    }

    /// Accepted p99 and peak memory per route, with and without the limit.
    pub fn charts(&self) -> Vec<(String, String)> {
        use crate::chart::BarChart;
        let routes: Vec<String> =
            self.rows
                .iter()
                .map(|row| row.route.clone())
                .fold(Vec::new(), |mut routes, route| {
                    if !routes.contains(&route) {
                        routes.push(route);
                    }
                    routes
                });
        let by_limit = |value: &dyn Fn(&OverloadRow) -> f64| -> Vec<(String, Vec<f64>)> {
            [true, false]
                .into_iter()
                .map(|limited| {
                    let name = if limited { "default limit" } else { "no limit" };
                    let values = routes
                        .iter()
                        .map(|route| {
                            self.rows
                                .iter()
                                .find(|row| row.route == *route && (row.limit != "none") == limited)
                                .map_or(f64::NAN, value)
                        })
                        .collect();
                    (name.to_owned(), values)
                })
                .collect()
        };
        let p99 = BarChart {
            title: "Accepted requests' p99 at twice the saturation rate".to_owned(),
            value_label: "ms, from scheduled send to the last byte".to_owned(),
            categories: routes.clone(),
            series: by_limit(&|row| row.outcome.accepted.value_at_percentile(99.0) as f64 / 1000.0),
            reference: Some(("budget 250 ms".to_owned(), 250.0)),
            log_scale: true,
        };
        let memory = BarChart {
            title: "Peak RSS at twice the saturation rate".to_owned(),
            value_label: "MiB".to_owned(),
            categories: routes.clone(),
            series: by_limit(&|row| row.rss_peak_kib as f64 / 1024.0),
            reference: None,
            log_scale: false,
        };
        vec![
            ("overload-p99".to_owned(), p99.svg()),
            ("overload-rss".to_owned(), memory.svg()),
        ]
    }
}
