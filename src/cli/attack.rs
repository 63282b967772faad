//! `celluler attack SCENARIO [--seeds N | --seeds A..B] [--threads T] [--out DIR] [--quiet]`:
//! runs a scenario over many seeds, each attacked and as its honest baseline
//! (the same seed, the Byzantine cells present but silent), in parallel, and
//! judges the scenario's `[expect]` claims. Writes one run directory per seed
//! and arm (`attacked/seed-S/`, `baseline/seed-S/`, as `celluler run` writes
//! them), `attack.json`, `attack.md` and plots. Exit 0 when every claim holds
//! on every seed, 1 when one does not, 2 on bad input.
//!
//! Each run is single-threaded and deterministic, built inside the worker
//! that runs it; results are put back in seed order, so every output but
//! wall times is byte-identical whatever `--threads`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use celluler_reports::{
    ArmRun, AttackCampaign, Claims, ScriptBlock, SeedRuns, write_attack_outputs,
};
use celluler_sim::scenario::Scenario;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Outcome;
use super::run::{RunOptions, execute};

/// Seeds run when `--seeds` is not given: this many from the scenario's.
pub const DEFAULT_SEEDS: u64 = 8;

/// The most seeds one attack runs (each seed is two runs).
pub const SEEDS_MAX: u64 = 10_000;

/// The most worker threads.
pub const THREADS_MAX: usize = 1_024;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file (TOML; `[[byzantine]]` and `[expect]` in docs/scenarios.md).
    file: PathBuf,
    /// N seeds starting from the scenario's (`--seeds 20`), or the half-open
    /// range A..B (`--seeds 100..120`). Default: 8 from the scenario's seed.
    #[arg(long, value_name = "N|A..B", value_parser = parse_seeds)]
    seeds: Option<Seeds>,
    /// Runs in parallel, each on one thread. Default: every core.
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// Where the outputs go; default `attacks/<name>/`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// What `--seeds` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeds {
    /// This many, from the scenario's seed.
    Count(u64),
    /// `start..end`, end excluded.
    Range(u64, u64),
}

fn parse_seeds(text: &str) -> Result<Seeds, String> {
    let number = |part: &str| {
        part.trim()
            .parse::<u64>()
            .map_err(|_| format!("{part:?} is not a seed (a non-negative integer); use N or A..B"))
    };
    let seeds = match text.split_once("..") {
        Some((start, end)) => {
            let (start, end) = (number(start)?, number(end)?);
            if start >= end {
                return Err(format!(
                    "the range {start}..{end} is empty (A..B runs A up to B, B excluded)"
                ));
            }
            Seeds::Range(start, end)
        }
        None => {
            let count = number(text)?;
            if count == 0 {
                return Err("at least one seed is needed".to_string());
            }
            Seeds::Count(count)
        }
    };
    let count = match seeds {
        Seeds::Count(count) => count,
        Seeds::Range(start, end) => end - start,
    };
    if count > SEEDS_MAX {
        return Err(format!(
            "{count} seeds asked for; an attack runs at most {SEEDS_MAX}"
        ));
    }
    Ok(seeds)
}

/// The seeds to run, ascending.
fn seed_list(seeds: Option<Seeds>, scenario_seed: u64) -> Result<Vec<u64>, String> {
    let (start, end) = match seeds.unwrap_or(Seeds::Count(DEFAULT_SEEDS)) {
        Seeds::Count(count) => (
            scenario_seed,
            scenario_seed.checked_add(count).ok_or_else(|| {
                format!("--seeds {count} from the scenario's seed {scenario_seed} overflows u64")
            })?,
        ),
        Seeds::Range(start, end) => (start, end),
    };
    Ok((start..end).collect())
}

/// Which run of a seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arm {
    Attacked,
    Baseline,
}

impl Arm {
    fn name(self) -> &'static str {
        match self {
            Arm::Attacked => "attacked",
            Arm::Baseline => "baseline",
        }
    }
}

/// One run's result, as the worker hands it back.
struct Finished {
    run: ArmRun,
    wall_ms: u64,
}

pub fn run(args: Args) -> Outcome {
    let scenario = match Scenario::load(&args.file) {
        Ok(scenario) => scenario,
        Err(error) => return Outcome::BadInput(error.to_string()),
    };
    let seeds = match seed_list(args.seeds, scenario.seed) {
        Ok(seeds) => seeds,
        Err(message) => return Outcome::BadInput(message),
    };
    let threads = match args.threads {
        Some(0) => return Outcome::BadInput("--threads 0: at least one thread".to_string()),
        Some(threads) if threads > THREADS_MAX => {
            return Outcome::BadInput(format!("--threads {threads}: at most {THREADS_MAX}"));
        }
        Some(threads) => threads,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("attacks").join(&scenario.name));
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|index| format!("attack-{index}"))
        .build()
    {
        Ok(pool) => pool,
        Err(error) => return Outcome::BadInput(format!("cannot start {threads} threads: {error}")),
    };
    if let Err(error) = std::fs::create_dir_all(&out_dir) {
        return Outcome::BadInput(format!("creating {}: {error}", out_dir.display()));
    }

    // Attacked runs first: they tend to be the longer ones, and starting the
    // long jobs first shortens the tail.
    let jobs: Vec<(Arm, u64)> = [Arm::Attacked, Arm::Baseline]
        .into_iter()
        .flat_map(|arm| seeds.iter().map(move |&seed| (arm, seed)))
        .collect();
    let baseline = scenario.baseline();
    let label = args.file.display().to_string();
    let progress = progress_bar(jobs.len() as u64, args.quiet);
    let started = Instant::now();
    let results = run_jobs(&pool, &jobs, |(arm, seed)| {
        let template = match arm {
            Arm::Attacked => &scenario,
            Arm::Baseline => &baseline,
        };
        let seeded = template.clone().with_seed(seed);
        let dir = format!("{}/seed-{seed}", arm.name());
        let options = RunOptions {
            out_dir: out_dir.join(&dir),
            label: label.clone(),
            ..RunOptions::default()
        };
        let outcome = execute(&seeded, &options).map(|executed| Finished {
            run: ArmRun::new(
                &executed.report,
                &dir,
                executed.agreement_violated,
                executed.state_violated,
            ),
            wall_ms: executed.wall_ms,
        });
        progress.inc(1);
        progress.set_message(format!("seed {seed} {} done", arm.name()));
        outcome.map_err(|outcome| match outcome {
            Outcome::BadInput(message) | Outcome::CheckFailed(message) => {
                format!("seed {seed} ({}): {message}", arm.name())
            }
            Outcome::Success => format!("seed {seed} ({}) failed", arm.name()),
        })
    });
    progress.finish_and_clear();
    let wall_ms = started.elapsed().as_millis() as u64;

    let mut finished = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Some(Ok(run)) => finished.push(run),
            Some(Err(message)) => return Outcome::BadInput(message),
            None => return Outcome::BadInput("a run was not started".to_string()),
        }
    }
    let runs_wall_ms: Vec<u64> = finished.iter().map(|run| run.wall_ms).collect();
    let mut finished = finished.into_iter().map(|run| run.run);
    let attacked: Vec<ArmRun> = finished.by_ref().take(seeds.len()).collect();
    let baselines: Vec<ArmRun> = finished.collect();
    let campaign = AttackCampaign {
        scenario: scenario.name.clone(),
        file: label,
        description: scenario.summary(),
        virtual_duration_ns: scenario.duration_ns,
        cells: scenario.cells.count,
        byzantine_cells: scenario.byzantine.cells.clone(),
        stake_per_cell: scenario.cells.stake,
        script: scenario
            .byzantine
            .behaviours
            .iter()
            .map(|block| ScriptBlock {
                behaviour: block.behaviour.name().to_string(),
                description: block.describe(),
                cells: block.cells.clone(),
                from_ns: block.from_ns,
                until_ns: block.until_ns,
            })
            .collect(),
        expect: Claims {
            agreement: scenario.expect.agreement,
            state: scenario.expect.state,
            liveness: scenario.expect.liveness,
        },
        runs: seeds
            .iter()
            .zip(attacked)
            .zip(baselines)
            .map(|((&seed, attacked), baseline)| SeedRuns {
                seed,
                attacked,
                baseline,
            })
            .collect(),
    };
    let report = match write_attack_outputs(&campaign, &out_dir) {
        Ok(report) => report,
        Err(error) => {
            return Outcome::BadInput(format!("writing {}: {error}", out_dir.display()));
        }
    };

    let sum_ms: u64 = runs_wall_ms.iter().sum();
    let longest_ms = runs_wall_ms.iter().copied().max().unwrap_or(0);
    println!(
        "{}: {} seeds × 2 runs on {threads} thread(s) in {:.2} s wall \
         (runs sum {:.2} s, longest {:.2} s)",
        scenario.name,
        seeds.len(),
        wall_ms as f64 / 1000.0,
        sum_ms as f64 / 1000.0,
        longest_ms as f64 / 1000.0
    );
    println!(
        "  Byzantine stake {}/{}: {}",
        report.adversary.byzantine_stake, report.adversary.total_stake, report.adversary.threshold
    );
    if report.verdict.claims.is_empty() {
        println!("  no claim: {}", report.claims.note);
    }
    for claim in &report.verdict.claims {
        println!(
            "  claim {} {}: {} ({})",
            claim.property,
            if claim.claimed { "holds" } else { "breaks" },
            if claim.holds { "pass" } else { "FAIL" },
            claim.reason
        );
    }
    for violation in &report.violations {
        println!(
            "  seed {} ({}): {}; replay: {}",
            violation.seed,
            violation.arm,
            violation.what.join(", "),
            violation.command
        );
    }
    println!("  report: {}", out_dir.join("attack.md").display());
    if report.verdict.holds {
        Outcome::Success
    } else {
        let failed: Vec<String> = report
            .verdict
            .claims
            .iter()
            .filter(|claim| !claim.holds)
            .map(|claim| format!("{}: {}", claim.property, claim.reason))
            .collect();
        Outcome::CheckFailed(failed.join("; "))
    }
}

/// Runs every job on the pool, each worker taking the next job in order as
/// it becomes free (so the long jobs listed first start first), and returns
/// the results in job order. After a job fails no new job starts; those
/// not started are `None`.
fn run_jobs<J, R, F>(
    pool: &rayon::ThreadPool,
    jobs: &[J],
    work: F,
) -> Vec<Option<Result<R, String>>>
where
    J: Copy + Sync,
    R: Send,
    F: Fn(J) -> Result<R, String> + Sync,
{
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<R, String>>>> =
        jobs.iter().map(|_| Mutex::new(None)).collect();
    pool.scope(|scope| {
        for _ in 0..pool.current_num_threads().min(jobs.len()) {
            scope.spawn(|_| {
                loop {
                    if failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&job) = jobs.get(index) else { break };
                    let result = work(job);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    *slots[index].lock().expect("a worker panicked") = Some(result);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.into_inner().expect("a worker panicked"))
        .collect()
}

fn progress_bar(runs: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(runs), ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} runs  {msg}",
        )
        .expect("a valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_as_a_count_or_a_half_open_range() {
        assert_eq!(parse_seeds("20"), Ok(Seeds::Count(20)));
        assert_eq!(parse_seeds("100..120"), Ok(Seeds::Range(100, 120)));
        for bad in ["0", "5..5", "9..3", "x", "1..", "-3", "1..20000"] {
            assert!(parse_seeds(bad).is_err(), "{bad}");
        }
        assert_eq!(seed_list(None, 7).unwrap(), (7..15).collect::<Vec<_>>());
        assert_eq!(seed_list(Some(Seeds::Range(3, 5)), 7).unwrap(), vec![3, 4]);
        assert!(seed_list(Some(Seeds::Count(2)), u64::MAX).is_err());
    }
}
