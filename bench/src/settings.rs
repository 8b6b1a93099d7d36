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
";

pub struct Settings {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub out: PathBuf,
    pub services: Option<PathBuf>,
    pub profile: Option<PathBuf>,
    pub baseline: Option<PathBuf>,
}

pub fn settings(root: &Path) -> anyhow::Result<Settings> {
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
