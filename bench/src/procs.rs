//! The processes under test: started with a clean environment, logs to files, killed when
//! dropped; readiness polling and resident memory from /proc.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// A free loopback port for a child to bind, below the kernel's ephemeral range (32768
/// and up): tests running beside the bench take their random ports from that range, so
/// none of them can grab this one between the check and the child's bind.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    for _ in 0..100 {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            return Ok(listener.local_addr()?);
        }
    }
    anyhow::bail!("no free loopback port between 20000 and 32000")
}

/// A started child process.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub started: Instant,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }

    /// Resident memory now, in KiB (VmRSS).
    pub fn rss_kib(&self) -> Option<u64> {
        rss_kib(self.pid())
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// What to start: a program, its arguments and its whole environment (nothing inherited
/// but PATH and HOME, so a developer's RUST_LOG or AWS_PROFILE cannot skew a run).
#[derive(Clone)]
pub struct Spec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dir: Option<PathBuf>,
}

impl Spec {
    pub fn new(name: &str, program: impl Into<PathBuf>) -> Self {
        Self {
            name: name.to_owned(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
        }
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// The name its log file and messages go by.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// The working directory of the process.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_path_buf());
        self
    }

    pub fn envs(mut self, vars: &[(String, String)]) -> Self {
        self.env.extend_from_slice(vars);
        self
    }

    pub fn spawn(&self, log_dir: &Path) -> anyhow::Result<Proc> {
        let log_path = log_dir.join(format!("{}.log", self.name));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        for inherited in ["PATH", "HOME"] {
            if let Some(value) = std::env::var_os(inherited) {
                command.env(inherited, value);
            }
        }
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.program.display()))?;
        Ok(Proc {
            name: self.name.clone(),
            child,
            started,
        })
    }
}

/// Polls `url` every 5 ms until it answers 2xx; returns the time since `proc` started.
pub async fn wait_ready(
    http: &reqwest::Client,
    proc: &mut Proc,
    url: &str,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let deadline = Instant::now() + timeout;
    loop {
        let answered = http
            .get(url)
            .send()
            .await
            .is_ok_and(|response| response.status().is_success());
        let elapsed = proc.started.elapsed();
        // Alive after the answer too: the answer was this process's, not another's.
        if let Some(status) = proc.child.try_wait()? {
            anyhow::bail!(
                "{} exited ({status}); see its log in .run/bench/",
                proc.name
            );
        }
        if answered {
            return Ok(elapsed);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} not ready at {url} within {timeout:?}",
            proc.name
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// CPU time of process `pid` (or `self`) so far, all its threads (exited ones included),
/// from /proc/PID/stat in clock ticks of 10 ms. A machine shared with other work does not
/// inflate it the way it does wall time and throughput.
pub fn cpu_time(pid: &str) -> Duration {
    const TICKS_PER_SECOND: u64 = 100; // USER_HZ, fixed for /proc on Linux
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // After the command name in parentheses: state, ..., utime (12th), stime (13th).
            let fields: Vec<u64> = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .skip(11)
                .take(2)
                .map(|field| field.parse().ok())
                .collect::<Option<_>>()?;
            Some(fields.iter().sum::<u64>())
        })
        .unwrap_or_default();
    Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND)
}

/// Samples a process's resident memory every 50 ms until `finish`; keeps the peak.
pub struct RssPeak {
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssPeak {
    pub fn watch(pid: u32) -> Self {
        use std::sync::atomic::Ordering;
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(
            rss_kib(pid).unwrap_or_default(),
        ));
        let seen = peak.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                if let Some(rss) = rss_kib(pid) {
                    seen.fetch_max(rss, Ordering::Relaxed);
                }
            }
        });
        Self { peak, task }
    }

    pub fn finish(self) -> u64 {
        self.task.abort();
        self.peak.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// CPU time of process `pid`'s live threads, in nanoseconds, from the scheduler's own
/// accounting (/proc/PID/task/*/schedstat): precise enough for a few requests, where
/// /proc/PID/stat counts in 10 ms ticks. Threads that exited are not in it (tokio's
/// workers live as long as the process; blocking-pool threads idle out after 10 s).
pub fn cpu_time_precise(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// Seconds since the start, and each process's RSS in KiB then.
type Samples = std::sync::Arc<std::sync::Mutex<Vec<(f64, Vec<u64>)>>>;

/// Resident memory of a few processes over a whole run, sampled every `every`.
pub struct RssTimeline {
    samples: Samples,
    names: Vec<String>,
    task: tokio::task::JoinHandle<()>,
}

impl RssTimeline {
    pub fn watch(processes: Vec<(String, u32)>, every: Duration) -> Self {
        let samples = Samples::default();
        let names = processes.iter().map(|(name, _)| name.clone()).collect();
        let seen = samples.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let rss = processes
                    .iter()
                    .map(|(_, pid)| rss_kib(*pid).unwrap_or_default())
                    .collect();
                seen.lock()
                    .expect("the sampler does not panic")
                    .push((started.elapsed().as_secs_f64(), rss));
            }
        });
        Self {
            samples,
            names,
            task,
        }
    }

    /// Per process: (seconds since the start, MiB).
    pub fn finish(self) -> Vec<(String, Vec<(f64, f64)>)> {
        self.task.abort();
        let samples = self.samples.lock().expect("the sampler stopped").clone();
        self.names
            .into_iter()
            .enumerate()
            .map(|(index, name)| {
                let points = samples
                    .iter()
                    .map(|(at, rss)| (*at, rss[index] as f64 / 1024.0))
                    .collect();
                (name, points)
            })
            .collect()
    }
}
