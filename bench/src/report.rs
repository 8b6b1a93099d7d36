//! The figures as a Markdown report (printed and written to a file).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use crate::chart::{BarChart, LineChart, Series};
use crate::load::Outcome;
use crate::profile::Widest;

pub struct RouteRow {
    pub service: &'static str,
    pub route: String,
    pub outcome: Outcome,
    /// AWS operations per answered request, as the emulator counted them.
    pub aws_calls: String,
    pub rss_rest_kib: u64,
    pub rss_peak_kib: u64,
    /// With `--profile`: the flamegraph and its widest frames.
    pub profile: Option<(std::path::PathBuf, Widest)>,
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
    /// Each process's resident memory over the run: (seconds, MiB).
    pub rss_timeline: Vec<(String, Vec<(f64, f64)>)>,
    /// Server CPU us per request of each route in the previous run (its JSON results).
    pub previous: BTreeMap<String, f64>,
}

/// A route's key in the JSON results: `service route`.
fn key(row: &RouteRow) -> String {
    format!("{} {}", row.service, row.route)
}

/// `user-service GET /user/{name} (session)` as `user GET /user/{name}`: a bar's label.
fn label(route: &str) -> String {
    let route = route.replace("-service", "");
    match route.find(" (") {
        Some(cut) => route[..cut].to_owned(),
        None => route,
    }
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
        let profiled: Vec<&RouteRow> = self
            .routes
            .iter()
            .filter(|row| row.profile.is_some())
            .collect();
        if !profiled.is_empty() {
            out.push_str(
                "\n## Profiles: the widest frames\n\n\
                 Per flamegraph: where the samples are (inclusive: the frame and what it called; \
                 the runtime's plumbing left out) and where the CPU itself went (self: the frame on \
                 top of the stack), as shares of the route's samples.\n",
            );
            for row in profiled {
                let Some((svg, widest)) = &row.profile else {
                    continue;
                };
                let list = |frames: &[(String, f64)]| {
                    frames
                        .iter()
                        .map(|(frame, share)| format!("`{frame}` {:.0} %", 100.0 * share))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = write!(
                    out,
                    "\n- **{} {}** ({}): inclusive {}; self {}.\n",
                    row.service,
                    row.route,
                    svg.display(),
                    list(&widest.inclusive),
                    list(&widest.own),
                );
            }
        }
        if !self.footer.is_empty() {
            out.push('\n');
            for line in &self.footer {
                let _ = writeln!(out, "{line}  ");
            }
        }
        out
    }

    /// The figures a later run compares with (`previous`): per route, CPU per request,
    /// req/s and latency.
    pub fn json(&self) -> serde_json::Value {
        let routes: serde_json::Map<String, serde_json::Value> = self
            .routes
            .iter()
            .map(|row| {
                (
                    key(row),
                    serde_json::json!({
                        "cpu_us": row.outcome.cpu_per_request_us(),
                        "requests_per_second": row.outcome.requests_per_second(),
                        "p50_ms": row.outcome.percentile_ms(50.0),
                        "p99_ms": row.outcome.percentile_ms(99.0),
                    }),
                )
            })
            .collect();
        serde_json::json!({ "routes": routes })
    }

    /// Server CPU per request of each route in an earlier run's [`json`](Self::json).
    pub fn previous_cpu(json: &serde_json::Value) -> BTreeMap<String, f64> {
        json["routes"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(route, figures)| Some((route.clone(), figures["cpu_us"].as_f64()?)))
            .collect()
    }

    /// `(file stem, SVG)`: CPU per request per route against hello, the baseline build
    /// and the previous run; latency percentiles per route; memory over the run.
    pub fn charts(&self) -> Vec<(String, String)> {
        let (hello, measured): (Vec<&RouteRow>, Vec<&RouteRow>) =
            self.routes.iter().partition(|row| row.service == "hello");
        let ours: Vec<&RouteRow> = measured
            .iter()
            .copied()
            .filter(|row| !row.route.ends_with("[baseline]"))
            .collect();
        let categories: Vec<String> = ours.iter().map(|row| label(&key(row))).collect();
        let mut cpu = vec![(
            "this run".to_owned(),
            ours.iter()
                .map(|row| row.outcome.cpu_per_request_us())
                .collect::<Vec<_>>(),
        )];
        if !self.comparison.is_empty() {
            let before = |row: &&RouteRow| {
                let wanted = format!("{} [baseline]", row.route);
                measured
                    .iter()
                    .find(|other| other.service == row.service && other.route == wanted)
                    .map_or(f64::NAN, |other| other.outcome.cpu_per_request_us())
            };
            cpu.push((
                "baseline build, same run".to_owned(),
                ours.iter().map(before).collect(),
            ));
        }
        if !self.previous.is_empty() {
            cpu.push((
                "previous run".to_owned(),
                ours.iter()
                    .map(|row| self.previous.get(&key(row)).copied().unwrap_or(f64::NAN))
                    .collect(),
            ));
        }
        let hello_cpu = hello.first().map(|row| row.outcome.cpu_per_request_us());
        let cpu_chart = BarChart {
            title: "Server CPU per request (us), against the hello ceiling".to_owned(),
            value_label: "us of CPU per request".to_owned(),
            categories: categories.clone(),
            series: cpu,
            reference: hello_cpu.map(|us| (format!("hello {us:.0} us"), us)),
            log_scale: true,
        };
        let latency_chart = BarChart {
            title: "Latency percentiles under load (ms)".to_owned(),
            value_label: "ms from request to the answer's last byte".to_owned(),
            categories,
            series: [50.0, 90.0, 99.0]
                .into_iter()
                .map(|p| {
                    (
                        format!("p{p:.0}"),
                        ours.iter()
                            .map(|row| row.outcome.percentile_ms(p))
                            .collect(),
                    )
                })
                .collect(),
            reference: None,
            log_scale: true,
        };
        let mut charts = vec![
            ("routes-cpu".to_owned(), cpu_chart.svg()),
            ("routes-latency".to_owned(), latency_chart.svg()),
        ];
        if !self.rss_timeline.is_empty() {
            let rss = LineChart {
                title: "Resident memory over the run".to_owned(),
                x_label: "seconds into the run".to_owned(),
                y_label: "RSS, MiB".to_owned(),
                log_x: false,
                log_y: false,
                series: self
                    .rss_timeline
                    .iter()
                    .map(|(name, points)| Series {
                        name: name.clone(),
                        points: points.clone(),
                    })
                    .collect(),
            };
            charts.push(("routes-rss".to_owned(), rss.svg()));
        }
        charts
    }
}
