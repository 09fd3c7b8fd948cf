//! `skyshare bench dispatch`: the planner on the shared benchmark instance,
//! beside Google OR-Tools' routing solver run in the same session, and how
//! planning time grows with the fleet.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::bench_instance::InstanceFile;
use super::search::{solve, SearchLimits, SearchReport};

/// Where to find the peer: a Python with `ortools` and the peer script.
#[derive(Debug, Clone)]
pub struct Peer {
    pub python: PathBuf,
    pub script: PathBuf,
    /// Guided-local-search budgets to run the peer with, in seconds.
    pub guided_seconds: Vec<u64>,
}

#[derive(Debug, Clone)]
pub struct DispatchBench {
    pub instance: PathBuf,
    /// Time budgets for skyshare's planner.
    pub budgets: Vec<Duration>,
    pub seed: u64,
    pub peer: Option<Peer>,
    /// Also plan generated instances up to 2,000 tasks and 200 drones.
    pub scaling: bool,
    /// Annealing temperatures at the start and the end; default: the planner's.
    pub temperature: Option<(f64, f64)>,
}

/// One line of the peer's output.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerRun {
    pub label: String,
    pub wall: Duration,
    pub objective: i64,
    pub served: usize,
}

/// Read the peer's report lines: `LABEL: wall 2.180s objective 360827 served 192/200 ...`.
pub fn parse_peer_output(text: &str) -> Vec<PeerRun> {
    text.lines()
        .filter_map(|line| {
            let (label, rest) = line.split_once(": wall ")?;
            let mut words = rest.split_whitespace();
            let wall: f64 = words.next()?.trim_end_matches('s').parse().ok()?;
            let objective: i64 = match (words.next()?, words.next()?) {
                ("objective", value) => value.parse().ok()?,
                _ => return None,
            };
            let served: usize = match (words.next()?, words.next()?) {
                ("served", value) => value.split('/').next()?.parse().ok()?,
                _ => return None,
            };
            Some(PeerRun {
                label: label.trim().to_string(),
                wall: Duration::from_secs_f64(wall),
                objective,
                served,
            })
        })
        .collect()
}

fn run_peer(peer: &Peer, instance: &Path) -> anyhow::Result<Vec<PeerRun>> {
    let folder = instance
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if instance.file_name().and_then(|n| n.to_str()) != Some("vrp_instance.json") {
        bail!("the OR-Tools peer reads vrp_instance.json from its working folder; name the instance so");
    }
    let script = peer
        .script
        .canonicalize()
        .with_context(|| format!("peer script {}", peer.script.display()))?;
    let output = Command::new(&peer.python)
        .arg(script)
        .arg("PATH_CHEAPEST_ARC")
        .args(peer.guided_seconds.iter().map(u64::to_string))
        .current_dir(folder)
        .output()
        .with_context(|| format!("running {}", peer.python.display()))?;
    if !output.status.success() {
        bail!(
            "the OR-Tools peer failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let runs = parse_peer_output(&String::from_utf8_lossy(&output.stdout));
    if runs.is_empty() {
        bail!("the OR-Tools peer printed no result lines");
    }
    Ok(runs)
}

fn describe(report: &SearchReport, tasks: usize) -> String {
    format!(
        "objective {:>9}  served {:>4}/{tasks}  flown {:>7.1} km  sorties {:>3}  iterations {:>8}",
        report.objective,
        report.plan.served(),
        report.plan.distance_m() as f64 / 1000.0,
        report.plan.sorties.len(),
        report.iterations,
    )
}

pub fn run(bench: &DispatchBench) -> anyhow::Result<String> {
    let defaults = SearchLimits::default();
    let (start_temperature, end_temperature) = bench
        .temperature
        .unwrap_or((defaults.start_temperature, defaults.end_temperature));
    let limits = |time: Duration, iterations: u64| SearchLimits {
        time,
        iterations,
        seed: bench.seed,
        start_temperature,
        end_temperature,
        target_objective: None,
    };
    let text = std::fs::read_to_string(&bench.instance)
        .with_context(|| format!("reading {}", bench.instance.display()))?;
    let instance =
        InstanceFile::parse(&text).with_context(|| format!("in {}", bench.instance.display()))?;
    let built = Instant::now();
    let problem = instance.problem()?;
    let build_time = built.elapsed();
    let mut out = String::new();
    writeln!(
        out,
        "instance {}: {} tasks, {} drones, {} docks (matrices built in {:.1} ms)",
        bench.instance.display(),
        problem.tasks().len(),
        problem.drones().len(),
        problem.docks().len(),
        build_time.as_secs_f64() * 1e3
    )?;

    let peer_runs = match &bench.peer {
        Some(peer) => {
            let runs = run_peer(peer, &bench.instance)?;
            writeln!(out, "\nOR-Tools (same machine, same run):")?;
            for run in &runs {
                writeln!(
                    out,
                    "  {:<58} {:>8.3} s  objective {:>9}  served {}",
                    run.label,
                    run.wall.as_secs_f64(),
                    run.objective,
                    run.served
                )?;
            }
            runs
        }
        None => Vec::new(),
    };

    writeln!(
        out,
        "\nskyshare (one core, seed {}, annealing {start_temperature} -> {end_temperature} m):",
        bench.seed
    )?;
    for budget in &bench.budgets {
        let report = solve(&problem, &limits(*budget, u64::MAX));
        check(&report, &problem)?;
        writeln!(
            out,
            "  budget {:>6} ms: {}",
            budget.as_millis(),
            describe(&report, problem.tasks().len())
        )?;
        for run in &peer_runs {
            let reached = report.time_to_reach(run.objective);
            match reached {
                Some(at) => writeln!(
                    out,
                    "      reached OR-Tools' {:<40} objective {:>9} after {:>8.1} ms ({:.1}x its time)",
                    short_label(&run.label),
                    run.objective,
                    at.as_secs_f64() * 1e3,
                    run.wall.as_secs_f64() / at.as_secs_f64().max(1e-9)
                )?,
                None => writeln!(
                    out,
                    "      did not reach OR-Tools' {:<36} objective {:>9} within the budget",
                    short_label(&run.label),
                    run.objective
                )?,
            }
        }
    }

    if bench.scaling {
        writeln!(
            out,
            "\nscaling (generated instances at the benchmark's density; objective and tasks served after each budget):"
        )?;
        for (tasks, drones) in [(200, 20), (500, 50), (1000, 100), (2000, 200)] {
            let instance = InstanceFile::generate(tasks, drones, bench.seed);
            let started = Instant::now();
            let problem = instance.problem()?;
            let build = started.elapsed();
            let first = solve(&problem, &limits(Duration::MAX, 0));
            check(&first, &problem)?;
            write!(
                out,
                "  {tasks:>5} tasks {drones:>4} drones: matrices {:>6.1} ms; first plan {:>6.1} ms, served {:>4}",
                build.as_secs_f64() * 1e3,
                first.elapsed.as_secs_f64() * 1e3,
                first.plan.served(),
            )?;
            for budget in SCALING_BUDGETS {
                let searched = solve(&problem, &limits(budget, u64::MAX));
                check(&searched, &problem)?;
                write!(
                    out,
                    "; {:>5} ms: {:>9} served {:>4} ({:>5.0} us/it)",
                    budget.as_millis(),
                    searched.objective,
                    searched.plan.served(),
                    searched.elapsed.as_secs_f64() * 1e6 / searched.iterations.max(1) as f64
                )?;
            }
            writeln!(out)?;
        }
    }
    Ok(out)
}

/// Every figure printed is of a plan re-checked from scratch, with its
/// objective recounted from the plan itself.
fn check(report: &SearchReport, problem: &super::Problem) -> anyhow::Result<()> {
    report
        .plan
        .verify(problem)
        .context("the planner produced an unflyable plan")?;
    let recounted = report.plan.objective(problem);
    if recounted != report.objective {
        bail!(
            "the planner reported objective {} but its plan counts {recounted}",
            report.objective
        );
    }
    Ok(())
}

const SCALING_BUDGETS: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(1000),
    Duration::from_millis(5000),
];

fn short_label(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peers_result_lines_and_skips_the_rest() {
        let text = "first-solution strategy: PATH_CHEAPEST_ARC\n\
            first solution only (solution_limit=1) (model build 0.300s): wall 0.017s objective 2582567 served 131/200 (priority-sum 1/2) flown 1.0 km drones used 20 max span 1500s\n\
            GUIDED_LOCAL_SEARCH 60s (model build 0.3s): wall 60.001s objective 304554 served 195/200 (x)\n";
        let runs = parse_peer_output(text);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].objective, 2_582_567);
        assert_eq!(runs[0].served, 131);
        assert_eq!(runs[1].label, "GUIDED_LOCAL_SEARCH 60s (model build 0.3s)");
        assert_eq!(runs[1].wall, Duration::from_secs_f64(60.001));
    }
}
