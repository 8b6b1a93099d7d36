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
