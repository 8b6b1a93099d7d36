//! The command line: `bench --help` and the settings of one run.
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

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

SCALE MODE (does a request's cost grow with the data?):
    --scale           grow the tables to each size and measure every read route there:
                      items read, capacity units, AWS calls and CPU per request, and the
                      SMS dispatcher's idle poll per outbox backlog (default out:
                      bench/results/scale.md; ~10 min with the default sizes)
    --sizes LIST      table sizes, comma-separated (default 1000,10000,100000)
    --backlogs LIST   outbox backlogs (default 0,1000,10000)
    --requests N      requests per route and size (default 20; at most 10 s each)

OVERLOAD MODE (does a replica shed what it cannot serve, and stay within budget?):
    --overload        per route: the saturation rate, then an open loop at twice it for
                      --duration seconds, against the service with the default
                      MAX_CONCURRENT_REQUESTS and without a limit: accepted p99, shed
                      rate and latency, RSS (default out: bench/results/overload.md)

Charts (SVG) go beside the Markdown report, one file per chart.
";

pub struct Settings {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub out: PathBuf,
    pub services: Option<PathBuf>,
    pub profile: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub mode: Mode,
    pub scale: ScalePlan,
}

pub enum Mode {
    /// Every route under load (the default).
    Routes,
    /// Every read route at growing table sizes.
    Scale,
    /// Twice the saturation rate, with and without load shedding.
    Overload,
}

/// What a scale run measures, and how long it may spend per route.
pub struct ScalePlan {
    pub sizes: Vec<usize>,
    pub backlogs: Vec<usize>,
    /// Requests per route and size (fewer when `budget` runs out first).
    pub requests: usize,
    pub budget: Duration,
    /// How long the idle dispatcher is watched at each backlog.
    pub poll_window: Duration,
}

pub fn settings(root: &Path) -> anyhow::Result<Settings> {
    let mut settings = Settings {
        connections: 16,
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(5),
        out: PathBuf::new(),
        services: None,
        profile: None,
        baseline: None,
        mode: Mode::Routes,
        scale: ScalePlan {
            sizes: vec![1000, 10_000, 100_000],
            backlogs: vec![0, 1000, 10_000],
            requests: 20,
            budget: Duration::from_secs(10),
            poll_window: Duration::from_secs(5),
        },
    };
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        if flag == "--scale" || flag == "--overload" {
            settings.mode = if flag == "--scale" {
                Mode::Scale
            } else {
                Mode::Overload
            };
            continue;
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
            "--out" => out = Some(PathBuf::from(&value)),
            "--sizes" => settings.scale.sizes = counts(&flag, &value)?,
            "--backlogs" => settings.scale.backlogs = counts(&flag, &value)?,
            "--requests" => settings.scale.requests = value.parse().context("--requests")?,
            "--services" => settings.services = Some(PathBuf::from(&value)),
            "--profile" => settings.profile = Some(PathBuf::from(&value)),
            "--baseline" => settings.baseline = Some(PathBuf::from(&value)),
            other => anyhow::bail!("unknown option {other}\n\n{USAGE}"),
        }
    }
    anyhow::ensure!(settings.connections > 0, "--connections must be at least 1");
    anyhow::ensure!(settings.scale.requests > 0, "--requests must be at least 1");
    settings.out = out.unwrap_or_else(|| {
        root.join(match settings.mode {
            Mode::Routes => "bench/results/latest.md",
            Mode::Scale => "bench/results/scale.md",
            Mode::Overload => "bench/results/overload.md",
        })
    });
    Ok(settings)
}

/// `1000,10000` as numbers, ascending.
fn counts(flag: &str, value: &str) -> anyhow::Result<Vec<usize>> {
    let mut counts = value
        .split(',')
        .map(|part| {
            part.trim()
                .parse()
                .with_context(|| format!("{flag}: `{part}` is not a count"))
        })
        .collect::<anyhow::Result<Vec<usize>>>()?;
    counts.sort_unstable();
    Ok(counts)
}
