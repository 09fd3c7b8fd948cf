//! Running a third-party Python judge (MAVSDK-Python, pymavlink) against a
//! simulated drone: its script under tests/conformance/ prints a line per
//! step it got through; the test passes when the script succeeds and every
//! expected step is there.

use std::process::Command;
use std::time::Duration;

/// Whether `python3` can import `package`. Outside CI a missing package
/// skips the test with a printed reason; in CI it fails it, since
/// scripts/test installs every judge.
pub fn available(package: &str) -> bool {
    let reason = match Command::new("python3")
        .args(["-c", &format!("import {package}")])
        .output()
    {
        Ok(probe) if probe.status.success() => return true,
        Ok(_) => format!("python package `{package}` is not installed (scripts/test installs it)"),
        Err(e) => format!("python3 not runnable: {e}"),
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must run the {package} test: {reason}"
    );
    println!("SKIPPED: {reason}");
    false
}

/// Runs tests/conformance/`script` with `args` (and `env`) within `limit`,
/// and checks it succeeded and printed every one of `steps`.
pub async fn run(
    judge: &str,
    script: &str,
    args: &[String],
    env: &[(&str, &str)],
    limit: Duration,
    steps: &[&str],
) {
    let path = format!("{}/tests/conformance/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = tokio::time::timeout(
        limit,
        tokio::process::Command::new("python3")
            .arg(path)
            .args(args)
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{judge} script finished within {limit:?}"))
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr_tail: Vec<&str> = stderr.lines().rev().take(30).collect();
    assert!(
        output.status.success(),
        "{judge} refused the vehicle:\nstdout:\n{stdout}\nstderr (tail):\n{}",
        stderr_tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    for step in steps {
        assert!(stdout.contains(step), "missing step `{step}`:\n{stdout}");
    }
}
