//! CPU profiles of the process under test while a route is loaded (`--profile DIR`):
//! `perf record` (Debian's linux-perf) samples the service, then `perf script` folded by
//! inferno (crates.io; bench/run.sh installs it under .tools/) draws a flamegraph SVG.
//! Release builds keep their symbols (`strip = "debuginfo"`), and perf unwinds with DWARF
//! call frames, so no frame-pointer build is needed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};

/// Samples per second: enough for a readable graph over a few seconds, little enough
/// that perf's own work (on the same two cores) does not distort the route it watches.
const FREQUENCY: &str = "499";

/// A `perf record` attached to one process for a fixed time.
pub struct Recording {
    child: Child,
    data: PathBuf,
    svg: PathBuf,
    title: String,
}

/// Starts sampling `pid` for `length`; the graph is `dir/<name>.svg`.
pub fn start(
    dir: &Path,
    name: &str,
    title: &str,
    pid: u32,
    length: Duration,
) -> anyhow::Result<Recording> {
    std::fs::create_dir_all(dir)?;
    let data = dir.join(format!("{name}.perf.data"));
    let child = Command::new("perf")
        .args([
            "record",
            "--quiet",
            "-F",
            FREQUENCY,
            "--call-graph",
            "dwarf,65528",
        ])
        .arg("-p")
        .arg(pid.to_string())
        .arg("-o")
        .arg(&data)
        .args(["--", "sleep"])
        .arg(format!("{:.1}", length.as_secs_f64()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting `perf record` (apt-get install linux-perf)")?;
    Ok(Recording {
        child,
        data,
        svg: dir.join(format!("{name}.svg")),
        title: title.to_owned(),
    })
}

impl Recording {
    /// Waits for the recording to end, folds the stacks, draws the flamegraph and removes
    /// the raw data.
    pub async fn finish(mut self, inferno: &Path) -> anyhow::Result<PathBuf> {
        let status = self.child.wait().await?;
        anyhow::ensure!(status.success(), "perf record failed ({status})");
        let script = Command::new("perf")
            .args(["script", "--no-inline", "-i"])
            .arg(&self.data)
            .stderr(Stdio::null())
            .output()
            .await
            .context("perf script")?;
        let folded = pipe(&inferno.join("inferno-collapse-perf"), &[], script.stdout).await?;
        // The folded stacks too: `inferno-diff-folded` compares two runs' files.
        std::fs::write(self.svg.with_extension("folded"), &folded)?;
        let svg = pipe(
            &inferno.join("inferno-flamegraph"),
            &["--title", &self.title, "--width", "1600"],
            folded,
        )
        .await?;
        std::fs::write(&self.svg, svg)?;
        std::fs::remove_file(&self.data)?;
        Ok(self.svg)
    }
}

/// A differential flamegraph of two profiles of the same route (`before`'s and `after`'s
/// SVGs, their folded stacks beside them): the frames of `after`, red where it spends
/// more of its samples than `before`, blue where less. Written as `after`'s `.diff.svg`.
pub async fn diff(
    before: &Path,
    after: &Path,
    inferno: &Path,
    title: &str,
) -> anyhow::Result<PathBuf> {
    let folded = Command::new(inferno.join("inferno-diff-folded"))
        .arg("--normalize")
        .arg(before.with_extension("folded"))
        .arg(after.with_extension("folded"))
        .stderr(Stdio::null())
        .output()
        .await
        .context("inferno-diff-folded")?;
    anyhow::ensure!(folded.status.success(), "inferno-diff-folded failed");
    let svg = pipe(
        &inferno.join("inferno-flamegraph"),
        &["--title", title, "--width", "1600"],
        folded.stdout,
    )
    .await?;
    let path = after.with_extension("diff.svg");
    std::fs::write(&path, svg)?;
    Ok(path)
}

/// The widest frames of a profile: where its samples are (inclusive: the frame or
/// anything it called) and where the CPU itself went (self: the frame on top).
pub struct Widest {
    pub inclusive: Vec<(String, f64)>,
    pub own: Vec<(String, f64)>,
}

/// Reads inferno's folded stacks (`frame;frame;frame count` per line) and names the
/// `top` widest frames both ways, as shares of all samples. Frames of the runtime's
/// plumbing that every stack goes through (thread starts, tokio's scheduler) are left out
/// of the inclusive list: they are 100 % of everything and explain nothing.
pub fn widest(folded: &str, top: usize) -> Widest {
    use std::collections::{HashMap, HashSet};
    let mut inclusive: HashMap<&str, u64> = HashMap::new();
    let mut own: HashMap<&str, u64> = HashMap::new();
    let mut total = 0u64;
    for line in folded.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(count) = count.parse::<u64>() else {
            continue;
        };
        total += count;
        let frames: Vec<&str> = stack.split(';').collect();
        let mut seen = HashSet::new();
        for frame in &frames {
            if seen.insert(*frame) {
                *inclusive.entry(frame).or_default() += count;
            }
        }
        if let Some(leaf) = frames.last() {
            *own.entry(leaf).or_default() += count;
        }
    }
    let plumbing = |frame: &str| {
        [
            "std::",
            "core::",
            "tokio::runtime",
            "start_thread",
            "clone3",
            "__clone",
            "[unknown]",
        ]
        .iter()
        .any(|prefix| frame.starts_with(prefix))
            || !frame.contains("::")
    };
    let ranked = |counts: HashMap<&str, u64>, skip: &dyn Fn(&str) -> bool| {
        let mut ranked: Vec<(String, f64)> = counts
            .into_iter()
            .filter(|(frame, _)| !skip(frame))
            .map(|(frame, count)| (frame.to_owned(), count as f64 / total.max(1) as f64))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(top);
        ranked
    };
    Widest {
        inclusive: ranked(inclusive, &plumbing),
        own: ranked(own, &|_| false),
    }
}

async fn pipe(program: &Path, args: &[&str], input: Vec<u8>) -> anyhow::Result<Vec<u8>> {
    use tokio::io::AsyncWriteExt;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let writer = tokio::spawn(async move { stdin.write_all(&input).await });
    let output = child.wait_with_output().await?;
    writer.await??;
    anyhow::ensure!(output.status.success(), "{} failed", program.display());
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_ranked_by_their_share_of_the_samples() {
        let folded = "\
start_thread;tokio::runtime::run;app::handler;serde_json::to_vec 30
start_thread;tokio::runtime::run;app::handler;aws_sdk::send;ring::sign 50
start_thread;tokio::runtime::run;app::handler;aws_sdk::send 20
";
        let widest = widest(folded, 3);
        assert_eq!(widest.inclusive[0], ("app::handler".to_owned(), 1.0));
        assert_eq!(widest.inclusive[1], ("aws_sdk::send".to_owned(), 0.7));
        assert_eq!(widest.own[0], ("ring::sign".to_owned(), 0.5));
    }
}
