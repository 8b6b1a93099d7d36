//! The figures as a Markdown report (printed and written to a file).

use std::fmt::Write;
use std::time::Duration;

use crate::load::Outcome;

pub struct RouteRow {
    pub service: &'static str,
    pub route: String,
    pub outcome: Outcome,
    /// AWS operations per answered request, as the emulator counted them.
    pub aws_calls: String,
    pub rss_rest_kib: u64,
    pub rss_peak_kib: u64,
}

/// One route of this build beside the same route of the `--baseline` build.
pub struct Comparison {
    pub route: String,
    pub before_us: f64,
    pub after_us: f64,
    /// Hello's CPU per request in the same run: the unit of the ratios.
    pub hello_us: f64,
    pub target_us: Option<f64>,
}

/// user-service's resident memory after the whole load, both builds.
pub struct MemoryComparison {
    pub before_kib: u64,
    pub after_kib: u64,
    pub target_mib: f64,
}

pub struct StartRow {
    pub process: &'static str,
    /// Process start to `/readyz` 200, with its tables already there (as in production).
    pub cold_start: Duration,
    /// The same on the first start of the run, which also creates its tables.
    pub first_start: Option<Duration>,
    pub rss_after_start_kib: u64,
    pub rss_after_load_kib: Option<u64>,
}

pub struct HashTiming {
    pub params: String,
    /// Mean CPU time per hash.
    pub cpu: Duration,
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub samples: usize,
}

pub struct Report {
    pub header: Vec<String>,
    pub routes: Vec<RouteRow>,
    pub comparison: Vec<Comparison>,
    pub memory: Option<MemoryComparison>,
    pub starts: Vec<StartRow>,
    pub hashing: Option<HashTiming>,
    pub footer: Vec<String>,
}

fn mib(kib: u64) -> String {
    format!("{:.0}", kib as f64 / 1024.0)
}

fn ms(duration: Duration) -> String {
    format!("{:.0}", duration.as_secs_f64() * 1000.0)
}

impl Report {
    pub fn render(&self) -> String {
        let mut out = String::from("# Benchmark results\n\n");
        for line in &self.header {
            let _ = writeln!(out, "{line}  ");
        }
        let ceiling = self
            .routes
            .first()
            .map(|row| row.outcome.requests_per_second())
            .unwrap_or(f64::NAN);
        out.push_str(
            "\n## Routes\n\n\
             | service | route | req/s | % of hello | p50 ms | p99 ms | server CPU us/req | AWS calls per request | errors | RSS at rest MiB | RSS peak MiB |\n\
             | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |\n",
        );
        for row in &self.routes {
            let rate = row.outcome.requests_per_second();
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} | {} | {} | {} | {} |",
                row.service,
                row.route,
                rate,
                100.0 * rate / ceiling,
                row.outcome.percentile_ms(50.0),
                row.outcome.percentile_ms(99.0),
                row.outcome.cpu_per_request_us(),
                row.aws_calls,
                row.outcome.errors(),
                mib(row.rss_rest_kib),
                mib(row.rss_peak_kib),
            );
        }
        if !self.comparison.is_empty() {
            out.push_str(
                "\n## Before and after: server CPU us per request, both builds in this run\n\n\
                 Before: the `--baseline` build; after: this build. Each route ran for both, one \
                 after the other, against the same tables. x hello: the route's CPU per request \
                 over hello's in this run.\n\n\
                 | route | before | after | cut | before x hello | after x hello | target | met |\n\
                 | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
            );
            for row in &self.comparison {
                let met =
                    row.target_us.map_or(
                        "-",
                        |target| if row.after_us <= target { "yes" } else { "no" },
                    );
                let _ = writeln!(
                    out,
                    "| {} | {:.0} | {:.0} | {:.1}x | {:.0} | {:.0} | {} | {met} |",
                    row.route,
                    row.before_us,
                    row.after_us,
                    row.before_us / row.after_us,
                    row.before_us / row.hello_us,
                    row.after_us / row.hello_us,
                    row.target_us.map_or("-".to_owned(), |t| format!("{t:.0}")),
                );
            }
            if let Some(memory) = &self.memory {
                let after_mib = memory.after_kib as f64 / 1024.0;
                let _ =
                    writeln!(
                    out,
                    "| user-service RSS after the load (MiB) | {} | {} | {:.1}x | | | {:.0} | {} |",
                    mib(memory.before_kib),
                    mib(memory.after_kib),
                    memory.before_kib as f64 / memory.after_kib.max(1) as f64,
                    memory.target_mib,
                    if after_mib <= memory.target_mib { "yes" } else { "no" },
                );
            }
        }
        out.push_str(
            "\n## Start and memory\n\n\
             | process | cold start ms (start to /readyz 200) | first start ms (creates its tables) | RSS after start MiB | RSS after the load MiB |\n\
             | --- | ---: | ---: | ---: | ---: |\n",
        );
        for row in &self.starts {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                row.process,
                ms(row.cold_start),
                row.first_start.map_or("-".to_owned(), ms),
                mib(row.rss_after_start_kib),
                row.rss_after_load_kib.map_or("-".to_owned(), mib),
            );
        }
        if let Some(hash) = &self.hashing {
            let _ = write!(
                out,
                "\n## Password hashing\n\n\
                 argon2id {} (the default cost of the user-service code this bench was built with), \
                 one hash at a time on the blocking pool: \
                 {:.1} ms of CPU per hash; wall time median {:.1} ms, min {:.1} ms, max {:.1} ms over {} hashes.\n",
                hash.params,
                hash.cpu.as_secs_f64() * 1000.0,
                hash.median.as_secs_f64() * 1000.0,
                hash.min.as_secs_f64() * 1000.0,
                hash.max.as_secs_f64() * 1000.0,
                hash.samples,
            );
        }
        if !self.footer.is_empty() {
            out.push('\n');
            for line in &self.footer {
                let _ = writeln!(out, "{line}  ");
            }
        }
        out
    }
}
