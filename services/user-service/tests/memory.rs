//! Issue 23 point 1, measured: the real binary's peak resident memory (`VmHWM`) while it
//! is sent the body tricks of the security review (`shared/reviews/2026-12-06-security.md`,
//! F1), three at a time as one address may. Before the fix three `image/pt+json` sign-ups
//! of 5 MiB took a debug build from 165 MB to 363 MB; no trick may now grow the peak by
//! more than a few of the service's small body limits.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;

mod process;

const FIVE_MIB: usize = 5 * 1024 * 1024;
/// Growth of the peak allowed across every trick: three requests at once, each held to
/// the 64 KiB body limit or the 64 KiB multipart text budget, leave this much room for the
/// allocator's and the runtime's own growth. One legitimate 5 MiB avatar upload alone is
/// allowed to cost about 10 MiB.
const PEAK_GROWTH_LIMIT_KIB: u64 = 16 * 1024;

/// `VmHWM` (peak) and `VmRSS` (now) of process `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("linux /proc");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// `{"username":..,"password":..,"a":[0,0,...]}` of about 5 MiB: the review's body.
fn zeros_sign_up() -> Vec<u8> {
    let zeros = vec!["0"; FIVE_MIB / 2].join(",");
    format!(r#"{{"username":"pth3json","password":"pw-12345678","a":[{zeros}]}}"#).into_bytes()
}

/// How one trick was answered: a status, or the connection cut after an early answer.
fn outcome(result: reqwest::Result<reqwest::Response>) -> String {
    match result {
        Ok(response) => response.status().as_u16().to_string(),
        Err(error) if error.is_request() || error.is_body() => "cut".to_owned(),
        Err(error) => panic!("the service failed: {error}"),
    }
}

/// Sends `request()` three times at once and returns the outcomes.
async fn three_at_once<F>(request: F) -> Vec<String>
where
    F: Fn() -> reqwest::RequestBuilder,
{
    let sends = (0..3).map(|_| request().send());
    futures::future::join_all(sends)
        .await
        .into_iter()
        .map(outcome)
        .collect()
}

#[tokio::test]
async fn no_body_trick_grows_the_peak_memory_past_the_limits() {
    let service = process::start(&[("SIGNUPS_PER_ADDRESS_PER_MINUTE", "1000")]).await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", service.base);

    // Warm up every path the tricks take, so first-use allocations are not counted.
    let token = service.user_with_token("owner", "pw-12345678").await;
    let small_form = Form::new()
        .text("username", "warm")
        .text("password", "pw-12345678")
        .text("profile", r#"{"a": 1}"#);
    let warm = client
        .post(url("/user"))
        .multipart(small_form)
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), StatusCode::CREATED);

    let pid = service.pid();
    let (peak_before, rss_before) = memory_kib(pid);
    // The kernel syncs its per-thread counters lazily, so VmHWM read twice may even go
    // down: the highest of VmHWM and VmRSS sampled through the run is the peak.
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn({
        let sampling = sampling.clone();
        async move {
            let mut highest = 0;
            while sampling.load(Ordering::SeqCst) {
                let (peak, rss) = memory_kib(pid);
                highest = highest.max(peak).max(rss);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            highest
        }
    });
    let zeros = zeros_sign_up();
    let profile = format!("{{\"a\":[{}]}}", vec!["0"; FIVE_MIB / 2].join(","));
    let long_text = "x".repeat(FIVE_MIB);
    // Built by hand: reqwest chains one stream per part, and 10,000 overflow its stack.
    let many_fields: Vec<u8> = (0..10_000)
        .map(|n| {
            format!(
                "--b\r\ncontent-disposition: form-data; name=\"f{n}\"\r\n\r\n{}\r\n",
                "y".repeat(500)
            )
        })
        .chain(["--b--\r\n".to_owned()])
        .collect::<String>()
        .into_bytes();
    let started = Instant::now();
    let mut report = Vec::new();
    for declared in ["image/pt+json", "application/vnd.trick+json", "image/png"] {
        let answers = three_at_once(|| {
            client
                .post(url("/user"))
                .header("content-type", declared)
                .body(zeros.clone())
        })
        .await;
        report.push((format!("POST /user as {declared}, 5 MiB"), answers));
    }
    let answers = three_at_once(|| {
        client
            .put(url("/user/owner/avatar"))
            .bearer_auth(&token)
            .header("content-type", "image/pt+json")
            .body(zeros.clone())
    })
    .await;
    report.push(("PUT avatar as image/pt+json, 5 MiB".to_owned(), answers));
    for field in ["profile", "name", "bio"] {
        let answers = three_at_once(|| {
            let value = if field == "profile" {
                profile.clone()
            } else {
                long_text.clone()
            };
            let form = Form::new()
                .text("username", "pthmulti")
                .text("password", "pw-12345678")
                .part(field, Part::text(value).mime_str("text/plain").unwrap());
            client.post(url("/user")).multipart(form)
        })
        .await;
        report.push((format!("multipart {field} of 5 MiB"), answers));
    }
    let answers = three_at_once(|| {
        client
            .post(url("/user"))
            .header("content-type", "multipart/form-data; boundary=b")
            .body(many_fields.clone())
    })
    .await;
    report.push(("multipart of 10,000 fields of 500 B".to_owned(), answers));
    let answers = three_at_once(|| {
        (0..250).fold(client.get(url("/healthz")), |request, n| {
            request.header(format!("x-pad-{n}"), "h".repeat(1000))
        })
    })
    .await;
    report.push(("250 headers of 1 kB".to_owned(), answers));

    sampling.store(false, Ordering::SeqCst);
    let (peak_after, rss_after) = memory_kib(pid);
    let peak_after = peak_after.max(sampler.await.unwrap());
    let growth = peak_after.saturating_sub(peak_before.max(rss_before));
    println!("tricks sent in {:.1} s", started.elapsed().as_secs_f64());
    for (trick, answers) in &report {
        println!("  {trick}: {}", answers.join(" "));
    }
    println!(
        "peak {peak_before} kB -> {peak_after} kB (+{growth} kB; limit +{PEAK_GROWTH_LIMIT_KIB} kB); \
         VmRSS {rss_before} kB -> {rss_after} kB"
    );
    for (trick, answers) in &report {
        for answer in answers {
            assert!(
                answer == "cut" || answer.starts_with('4'),
                "{trick} was answered {answer}"
            );
        }
    }
    let health = client.get(url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the service is still up");
    assert!(
        growth <= PEAK_GROWTH_LIMIT_KIB,
        "the peak grew by {growth} kB"
    );
}
