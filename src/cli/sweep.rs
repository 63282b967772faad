//! `celluler sweep SCENARIO [--seeds N|A..B] [--set KEY=V1,V2,...]...
//! [--threads T] [--shard I/N] --out DIR` and `celluler merge DIR... --out DIR`.
//!
//! The grid is every combination of the `--set` values (the first key
//! varying slowest) times the seeds; runs are numbered point-major, then
//! seed. Every grid point is validated before anything runs. Runs go
//! through the engine `celluler attack` uses ([`super::batch`]): one
//! single-threaded deterministic run per job, results in run order, so
//! every output is byte-identical whatever `--threads`. `--shard I/N` runs
//! the runs whose number is I mod N and writes `shard.json`; `merge` joins
//! the shards into exactly what the whole sweep writes.

use std::path::{Path, PathBuf};
use std::time::Instant;

use celluler_reports::sweep::{Grid, SWEEP_FORMAT, Shard, Sweep, SweepRun, write_sweep_outputs};
use celluler_sim::scenario::Scenario;
use celluler_sim::scenario::overrides::{Setting, parse_set_argument};

use super::Outcome;
use super::batch::{self, Seeds, parse_seeds, progress_bar, run_jobs, seed_list};
use super::run::{RunOptions, execute};

/// The most runs one sweep (or shard) holds.
pub const RUNS_MAX: u64 = 1_000_000;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file (TOML; docs/scenarios.md).
    file: PathBuf,
    /// N seeds starting from the scenario's (`--seeds 20`), or the half-open
    /// range A..B (`--seeds 100..120`). Default: 8 from the scenario's seed.
    #[arg(long, value_name = "N|A..B", value_parser = parse_seeds)]
    seeds: Option<Seeds>,
    /// A grid axis: a dotted scenario key and its values
    /// (`--set network.loss=0,0.05,0.1`). Repeatable; every combination runs.
    #[arg(long = "set", value_name = "KEY=V1,V2,...", value_parser = parse_set_argument)]
    set: Vec<(String, Vec<String>)>,
    /// Runs in parallel, each on one thread. Default: every core.
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// Run only shard I of N (0 ≤ I < N): the runs whose number is I mod N;
    /// writes `shard.json` for `celluler merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<Shard>,
    /// Where the outputs go.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Also write every run's directory (`runs/p<POINT>-seed-<S>/`, as
    /// `celluler run` writes it).
    #[arg(long)]
    keep_runs: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// Shard output directories (each holding `shard.json`).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where the merged sweep goes.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    let (index, count) = text
        .split_once('/')
        .ok_or_else(|| format!("--shard {text}: expected I/N, for example 0/4"))?;
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .map_err(|_| format!("--shard {text}: {part:?} is not a non-negative integer"))
    };
    let (index, count) = (number(index)?, number(count)?);
    if count == 0 || index >= count {
        return Err(format!(
            "--shard {text}: I must be below N and N at least 1 (shards are 0/N to {}/N)",
            count.saturating_sub(1)
        ));
    }
    Ok(Shard { index, count })
}

/// blake3 of this binary: two builds of one version differ here.
fn build_id() -> String {
    std::env::current_exe()
        .and_then(std::fs::read)
        .map(|bytes| blake3::hash(&bytes).to_hex().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

pub fn run(args: Args) -> Outcome {
    let text = match Scenario::read_text(&args.file) {
        Ok(text) => text,
        Err(error) => return Outcome::BadInput(error.to_string()),
    };
    let label = args.file.display().to_string();
    let base = match Scenario::parse(&label, &text) {
        Ok(scenario) => scenario,
        Err(error) => return Outcome::BadInput(error.to_string()),
    };
    let seeds = match seed_list(args.seeds, base.seed) {
        Ok(seeds) => seeds,
        Err(message) => return Outcome::BadInput(message),
    };
    let mut keys: Vec<String> = Vec::new();
    for (key, _) in &args.set {
        if keys.contains(key) {
            return Outcome::BadInput(format!(
                "--set {key} is given twice: list its values in one --set"
            ));
        }
        keys.push(key.clone());
    }
    let grid = Grid {
        keys,
        values: args.set.iter().map(|(_, values)| values.clone()).collect(),
    };
    let points = grid.points();
    let runs_total = points.len() as u64 * seeds.len() as u64;
    if runs_total > RUNS_MAX {
        return Outcome::BadInput(format!(
            "{} grid points × {} seeds = {runs_total} runs; a sweep runs at most {RUNS_MAX}",
            points.len(),
            seeds.len()
        ));
    }
    // Every point is validated before anything runs.
    let mut scenarios = Vec::with_capacity(points.len());
    for point in &points {
        let settings: Vec<Setting> = point
            .iter()
            .map(|(key, value)| Setting {
                key: key.clone(),
                value: value.clone(),
            })
            .collect();
        match celluler_sim::scenario::overrides::with_settings(&label, &text, &settings) {
            Ok(scenario) => scenarios.push(scenario),
            Err(error) => return Outcome::BadInput(error.to_string()),
        }
    }
    let (pool, threads) = match batch::pool(args.threads, "sweep") {
        Ok(pool) => pool,
        Err(outcome) => return outcome,
    };
    if let Err(error) = std::fs::create_dir_all(&args.out) {
        return Outcome::BadInput(format!("creating {}: {error}", args.out.display()));
    }
    let jobs: Vec<u64> = (0..runs_total)
        .filter(|&run| args.shard.is_none_or(|shard| shard.owns(run)))
        .collect();
    let progress = progress_bar(jobs.len() as u64, args.quiet);
    let failed = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    let results = run_jobs(&pool, &jobs, |run_index| {
        let (point, seed) = Sweep::run_at(&seeds, run_index);
        let scenario = scenarios[point as usize].clone().with_seed(seed);
        let options = RunOptions {
            out_dir: args
                .keep_runs
                .then(|| args.out.join(format!("runs/p{point}-seed-{seed}"))),
            label: label.clone(),
            ..RunOptions::default()
        };
        let executed = execute(&scenario, &options).map_err(|outcome| match outcome {
            Outcome::BadInput(message) | Outcome::CheckFailed(message) => {
                format!("point {point} seed {seed}: {message}")
            }
            Outcome::Success => format!("point {point} seed {seed} failed"),
        })?;
        let failed_checks = executed
            .report
            .checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| format!("{}: {}", check.name, check.reason))
            .collect();
        let run = SweepRun::new(
            point,
            seed,
            &executed.report.summary,
            executed.agreement_violated,
            executed.state_violated,
            failed_checks,
        );
        if run.exit_status != 0 {
            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        progress.inc(1);
        progress.set_message(format!(
            "{} failed",
            failed.load(std::sync::atomic::Ordering::Relaxed)
        ));
        Ok((run, executed.wall_ms))
    });
    progress.finish_and_clear();
    let wall_ms = started.elapsed().as_millis() as u64;
    let mut runs = Vec::with_capacity(results.len());
    let mut runs_wall_ms = 0;
    for result in results {
        match result {
            Some(Ok((run, run_wall_ms))) => {
                runs.push(run);
                runs_wall_ms += run_wall_ms;
            }
            Some(Err(message)) => return Outcome::BadInput(message),
            None => return Outcome::BadInput("a run was not started".to_string()),
        }
    }
    let sweep = Sweep {
        format: SWEEP_FORMAT.to_string(),
        scenario: base.name.clone(),
        file: label,
        scenario_hash: blake3::hash(text.as_bytes()).to_hex().to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        build: build_id(),
        seeds,
        grid,
        shard: args.shard,
        runs,
    };
    println!(
        "{}: {} run(s) ({} grid point(s) × {} seed(s){}) on {threads} thread(s) in {:.2} s wall \
         (runs sum {:.2} s)",
        sweep.scenario,
        sweep.runs.len(),
        points.len(),
        sweep.seeds.len(),
        args.shard
            .map(|shard| format!(", shard {}/{}", shard.index, shard.count))
            .unwrap_or_default(),
        wall_ms as f64 / 1000.0,
        runs_wall_ms as f64 / 1000.0
    );
    if args.shard.is_some() {
        let path = args.out.join("shard.json");
        if let Err(error) = std::fs::write(&path, sweep.to_json()) {
            return Outcome::BadInput(format!("writing {}: {error}", path.display()));
        }
        println!(
            "  shard: {} (join the shards with celluler merge)",
            path.display()
        );
        return Outcome::Success;
    }
    finish(&sweep, &args.out)
}

/// Writes the whole sweep's outputs and says how it went: exit 1 when a run
/// failed a check or a safety property.
fn finish(sweep: &Sweep, out: &Path) -> Outcome {
    if let Err(error) = write_sweep_outputs(sweep, out) {
        return Outcome::BadInput(format!("writing {}: {error}", out.display()));
    }
    let failing: Vec<&SweepRun> = sweep
        .runs
        .iter()
        .filter(|run| run.exit_status != 0)
        .collect();
    println!("  report: {}", out.join("sweep.md").display());
    if failing.is_empty() {
        return Outcome::Success;
    }
    for run in failing.iter().take(10) {
        println!(
            "  point {} seed {}: {}; replay: {}",
            run.point,
            run.seed,
            run.failures.join("; "),
            sweep.replay_command(run)
        );
    }
    Outcome::CheckFailed(format!(
        "{} of {} run(s) failed (sweep.md lists them)",
        failing.len(),
        sweep.runs.len()
    ))
}

pub fn merge(args: MergeArgs) -> Outcome {
    let mut shards = Vec::with_capacity(args.dirs.len());
    for dir in &args.dirs {
        let path = dir.join("shard.json");
        let label = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => return Outcome::BadInput(format!("{label}: cannot read: {error}")),
        };
        let shard: Sweep = match serde_json::from_str(&text) {
            Ok(shard) => shard,
            Err(error) => {
                return Outcome::BadInput(format!("{label}: not a sweep shard: {error}"));
            }
        };
        if shard.format != SWEEP_FORMAT {
            return Outcome::BadInput(format!(
                "{label}: format {:?}, this build reads {SWEEP_FORMAT:?}",
                shard.format
            ));
        }
        shards.push((label, shard));
    }
    let sweep = match Sweep::merge(shards) {
        Ok(sweep) => sweep,
        Err(error) => return Outcome::BadInput(format!("cannot merge: {error}")),
    };
    println!(
        "{}: merged {} shard(s), {} run(s)",
        sweep.scenario,
        args.dirs.len(),
        sweep.runs.len()
    );
    finish(&sweep, &args.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_as_index_over_count() {
        assert_eq!(parse_shard("0/4"), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(parse_shard("3/4"), Ok(Shard { index: 3, count: 4 }));
        for bad in ["4/4", "0/0", "1", "a/2", "-1/2", "1/x"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
