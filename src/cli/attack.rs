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

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Outcome;
use super::batch::{self, Seeds, parse_seeds, progress_bar, run_jobs, seed_list};
use super::run::{RunOptions, execute};
use celluler_reports::{
    ArmRun, AttackCampaign, Claims, ScriptBlock, SeedRuns, write_attack_outputs,
};
use celluler_sim::scenario::Scenario;

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
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("attacks").join(&scenario.name));
    let (pool, threads) = match batch::pool(args.threads, "attack") {
        Ok(pool) => pool,
        Err(outcome) => return outcome,
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
            out_dir: Some(out_dir.join(&dir)),
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
