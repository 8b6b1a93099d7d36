//! `bench`: starts a private AWS emulator, the OIDC issuer, the stand-ins and release
//! builds of the three services on spare loopback ports, seeds data, then loads each
//! service's main routes in turn, beside a plain axum hello route as the ceiling of this
//! machine (or, with `--scale`, measures every read route at growing table sizes).
//! Prints the figures and writes them to a Markdown file with SVG charts beside it. Run
//! it with `bench/run.sh` (which builds first); `bench --help` lists the options.
//!
//! # Layout
//!
//! Each module imports only those listed after it (one-way, top to bottom):
//!
//! - `main.rs`: the run from start to report, the report's header.
//! - [`scale_report`]: the scale run's tables and charts.
//! - [`scale`]: the scale mode; [`plan`]: the routes measured under load and what they
//!   send; [`seed`]: the data they read, and the tokens. All drive a [`run`].
//! - [`run`]: the processes of one run (emulator, issuer, stand-ins, services) and the
//!   measurement of one route under load.
//! - [`report`]: the Markdown report and its charts; [`load`]: the load generator;
//!   [`floor`]: the SDK's own cost.
//! - Leaves: [`bulk`]: tables grown by copying an item; [`emulator`]: what the emulator
//!   counted (calls, items read, capacity units); [`chart`]: SVG charts; [`procs`]:
//!   processes, readiness and memory; [`profile`]: flamegraphs; [`settings`]: the command
//!   line; [`fixture`]: the fixed names and credentials; [`cost`]: money at AWS's prices.

mod bulk;
mod chart;
mod cost;
mod emulator;
mod fixture;
mod floor;
mod load;
mod outbox;
mod overload;
mod plan;
mod procs;
mod profile;
mod replay;
mod report;
mod run;
mod scale;
mod scale_report;
mod seed;
mod settings;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::time::Instant;
use user_service::config::HashCost;

use crate::fixture::{BENCH_PASSWORD, OKTA_USERS};
use crate::load::Target;
use crate::plan::{plan, Credentials, TARGETS, USER_SERVICE_RSS_TARGET_MIB};
use crate::procs::RssTimeline;
use crate::report::{Comparison, HashTiming, MemoryComparison, Report};
use crate::run::{start_row, Run, Services};
use crate::seed::{DIRECTORY_USERS, SEEDED_ORDERS};
use crate::settings::{settings, Mode, Settings};

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

    let json_path = settings.out.with_extension("json");
    let (text, charts) = match settings.mode {
        Mode::Routes => {
            let previous = std::fs::read_to_string(&json_path)
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
                .map(|json| Report::previous_cpu(&json))
                .unwrap_or_default();
            let mut report = routes(&mut run, &settings, &root, &load_before, began).await?;
            report.previous = previous;
            std::fs::create_dir_all(json_path.parent().unwrap_or(Path::new(".")))?;
            std::fs::write(&json_path, report.json().to_string())?;
            (report.render(), report.charts())
        }
        Mode::Scale => {
            let scale = scale::run(&mut run, &settings.scale).await?;
            let text = framed(
                "Scale results",
                header(&root, &settings, &run, &load_before),
                &scale.render(),
                footer(&load_before, began),
            );
            (text, scale.charts())
        }
        Mode::Overload => {
            let overload = overload::run(&mut run, &settings).await?;
            let text = framed(
                "Overload results",
                header(&root, &settings, &run, &load_before),
                &overload.render(),
                footer(&load_before, began),
            );
            (text, overload.charts())
        }
    };
    print!("{text}");
    let dir = settings.out.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    std::fs::write(&settings.out, &text)
        .with_context(|| format!("writing {}", settings.out.display()))?;
    for (name, svg) in charts {
        std::fs::write(dir.join(format!("{name}.svg")), svg)?;
    }
    eprintln!(
        "bench: written to {} (charts beside it)",
        settings.out.display()
    );

    for peer in run.peers.drain(..) {
        peer.stop().await;
    }
    Ok(())
}

/// Every route under load, beside hello (and the `--baseline` build's, route by route).
async fn routes(
    run: &mut Run,
    settings: &Settings,
    root: &Path,
    load_before: &str,
    began: Instant,
) -> anyhow::Result<Report> {
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
    let memory_timeline = RssTimeline::watch(
        [
            ("hello", &hello),
            ("user-service", &current.user),
            ("sales-service", &current.sales),
            ("integration-service", &current.integration),
        ]
        .into_iter()
        .map(|(name, started)| (name.to_owned(), started.proc.pid()))
        .collect(),
        Duration::from_millis(250),
    );

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
            settings,
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
                    run.measure_route(settings, service, started, &label, target.clone())
                        .await?,
                )
            }
            None => None,
        };
        let after = run
            .measure_route(settings, service, started, route, target)
            .await?;
        if let Some(before) = before {
            if let (Some((before_svg, _)), Some((after_svg, _))) = (&before.profile, &after.profile)
            {
                let title = format!("{service} {route}: this build against the baseline");
                let inferno = root.join(".tools/inferno/bin");
                let diff = profile::diff(before_svg, after_svg, &inferno, &title).await?;
                eprintln!("bench: differential flamegraph in {}", diff.display());
            }
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
    let report = Report {
        header: header(root, settings, run, load_before),
        routes,
        comparison,
        memory,
        starts,
        hashing: Some(hashing),
        footer: footer(load_before, began),
        rss_timeline: memory_timeline.finish(),
        previous: Default::default(),
    };
    hello.proc.stop().await;
    for set in std::iter::once(current).chain(baseline) {
        for started in [set.user, set.sales, set.integration] {
            started.proc.stop().await;
        }
    }
    Ok(report)
}

/// A report of another mode, under the run's header and above its footer.
fn framed(title: &str, header: Vec<String>, body: &str, footer: Vec<String>) -> String {
    let mut text = format!("# {title}\n\n");
    for line in header.into_iter() {
        text.push_str(&line);
        text.push_str("  \n");
    }
    text.push_str(body);
    text.push('\n');
    for line in footer {
        text.push_str(&line);
        text.push_str("  \n");
    }
    text
}

fn footer(load_before: &str, began: Instant) -> Vec<String> {
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    vec![
        format!(
            "Load average (1, 5, 15 min) before: {}; after: {}. Bench run time: {:.0} s.",
            first_three(load_before),
            first_three(&load_after),
            began.elapsed().as_secs_f64()
        ),
        "Logs of every process: .run/bench/.".to_owned(),
    ]
}

fn first_three(loadavg: &str) -> String {
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn header(root: &Path, settings: &Settings, run: &Run, load_before: &str) -> Vec<String> {
    let prefix = &run.prefix;
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
    let load = match settings.mode {
        Mode::Routes => format!(
            "Each route: {} keep-alive connections in a closed loop (each sends its next request when the answer's last byte arrives), {:.0} s warm-up, then {:.0} s measured. The load generator runs on one thread of the same machine.",
            settings.connections,
            settings.warmup.as_secs_f64(),
            settings.duration.as_secs_f64(),
        ),
        Mode::Scale => format!(
            "Each route and size: up to {} requests one after another on one keep-alive connection (at most {:.0} s).",
            settings.scale.requests,
            settings.scale.budget.as_secs_f64(),
        ),
        Mode::Overload => format!(
            "Each route: an open loop for {:.0} s (see below); the load generator and the AWS replay run on their own threads of the same machine.",
            settings.duration.as_secs_f64(),
        ),
    };
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
            "Build measured: services {}; the bench itself {}. Services run with their default settings except where noted below. {load}",
            build_profile(&run.services),
            if cfg!(debug_assertions) { "a debug build" } else { "a release build" },
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

/// Which Cargo profile built the binaries in `dir` (`target/<profile>`): a debug build's
/// CPU and latency say little about production, so the report must say which it measured.
fn build_profile(dir: &Path) -> String {
    let profile = dir.canonicalize().ok().and_then(|dir| {
        dir.file_name()
            .map(|name| name.to_string_lossy().into_owned())
    });
    match profile.as_deref() {
        Some("release") => "a **release** build (`target/release`)".to_owned(),
        Some("debug") => {
            "a **debug** build (`target/debug`: CPU and latency far above a release build's; compare only within this run)".to_owned()
        }
        Some(other) => format!("from `{}` (Cargo profile `{other}`, if built by Cargo)", dir.display()),
        None => format!("from `{}` (profile unknown)", dir.display()),
    }
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
