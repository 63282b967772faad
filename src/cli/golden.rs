//! `celluler golden [--update] [--skip-large] [--threads T]`: every library
//! scenario (`scenarios/*.toml`, `scenarios/attacks/*.toml`, `scenarios/markets/*.toml`) run at its own
//! seed and checked against `scenarios/golden.json` — its trace hash and
//! headline metrics, exactly. A change that alters behaviour shows up as a
//! failing check, and `--update` rewrites the file: a visible, reviewed diff.
//! Runs go through the engine `attack` and `sweep` use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use celluler_sim::scenario::Scenario;
use serde::{Deserialize, Serialize};

use super::Outcome;
use super::batch::{self, progress_bar, run_jobs};
use super::run::{RunOptions, execute};

pub const GOLDEN_FORMAT: &str = "celluler-golden/1";
/// Where the golden runs are kept, from the repository root.
pub const GOLDEN_FILE: &str = "scenarios/golden.json";
/// A scenario with at least this many cells is large: `--skip-large` (what
/// the test suite runs) leaves it out.
pub const LARGE_CELLS_MIN: u32 = 100;

/// The summary numbers a golden run keeps besides its trace hash.
const HEADLINE: [&str; 9] = [
    "txs_submitted",
    "txs_finalized",
    "throughput_tps",
    "finality_ms.p50",
    "finality_ms.p99",
    "liveness.last_decided_round",
    "liveness.longest_stall_ms",
    "fairness.inversion_rate",
    "fairness.timestamp_band_violations",
];

#[derive(clap::Args)]
pub struct Args {
    /// Rewrite scenarios/golden.json from this build's runs.
    #[arg(long)]
    update: bool,
    /// Leave out scenarios of 100 cells or more (what the test suite runs).
    #[arg(long)]
    skip_large: bool,
    /// Runs in parallel, each on one thread. Default: every core.
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// The golden file (default scenarios/golden.json).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Golden {
    pub format: String,
    /// By scenario file, relative to the repository root.
    pub runs: BTreeMap<String, GoldenRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldenRun {
    pub seed: u64,
    pub large: bool,
    pub trace_hash: String,
    pub passed: bool,
    /// [`HEADLINE`] by dotted summary key (`null`: no value).
    pub metrics: BTreeMap<String, Option<f64>>,
}

/// The library's scenario files, sorted.
fn library() -> Result<Vec<String>, Outcome> {
    let mut files = Vec::new();
    for dir in ["scenarios", "scenarios/attacks", "scenarios/markets"] {
        let entries = std::fs::read_dir(dir)
            .map_err(|error| Outcome::BadInput(format!("{dir}: cannot read: {error}")))?;
        for entry in entries {
            let path = entry
                .map_err(|error| Outcome::BadInput(format!("{dir}: {error}")))?
                .path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                files.push(path.display().to_string());
            }
        }
    }
    files.sort();
    Ok(files)
}

fn number_at(value: &serde_json::Value, key: &str) -> Option<f64> {
    key.split('.')
        .try_fold(value, |value, part| value.get(part))
        .and_then(serde_json::Value::as_f64)
}

pub fn run(args: Args) -> Outcome {
    let golden_path = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(GOLDEN_FILE));
    let files = match library() {
        Ok(files) => files,
        Err(outcome) => return outcome,
    };
    let mut scenarios = Vec::with_capacity(files.len());
    for file in &files {
        match Scenario::load(Path::new(file)) {
            Ok(scenario) => {
                let large = scenario.cells.count >= LARGE_CELLS_MIN;
                if !(large && args.skip_large) {
                    scenarios.push((file.clone(), large, scenario));
                }
            }
            Err(error) => return Outcome::BadInput(error.to_string()),
        }
    }
    let (pool, _) = match batch::pool(args.threads, "golden") {
        Ok(pool) => pool,
        Err(outcome) => return outcome,
    };
    let jobs: Vec<usize> = (0..scenarios.len()).collect();
    let progress = progress_bar(jobs.len() as u64, args.quiet);
    let results = run_jobs(&pool, &jobs, |index| {
        let (file, large, scenario) = &scenarios[index];
        let options = RunOptions {
            out_dir: None,
            label: file.clone(),
            ..RunOptions::default()
        };
        let executed = execute(scenario, &options).map_err(|outcome| match outcome {
            Outcome::BadInput(message) | Outcome::CheckFailed(message) => message,
            Outcome::Success => format!("{file} failed"),
        })?;
        let summary = serde_json::to_value(&executed.report.summary)
            .map_err(|error| format!("{file}: {error}"))?;
        progress.inc(1);
        Ok(GoldenRun {
            seed: scenario.seed,
            large: *large,
            trace_hash: executed.report.summary.trace_hash.clone(),
            passed: executed.report.summary.passed
                && !executed.agreement_violated
                && !executed.state_violated,
            metrics: HEADLINE
                .iter()
                .map(|key| (key.to_string(), number_at(&summary, key)))
                .collect(),
        })
    });
    progress.finish_and_clear();
    let mut measured = BTreeMap::new();
    for ((file, _, _), result) in scenarios.iter().zip(results) {
        match result {
            Some(Ok(run)) => {
                measured.insert(file.clone(), run);
            }
            Some(Err(message)) => return Outcome::BadInput(message),
            None => return Outcome::BadInput("a run was not started".to_string()),
        }
    }
    let stored: Option<Golden> = match std::fs::read_to_string(&golden_path) {
        Ok(text) => match serde_json::from_str(&text) {
            Ok(golden) => Some(golden),
            Err(error) => {
                return Outcome::BadInput(format!("{}: {error}", golden_path.display()));
            }
        },
        Err(_) if args.update => None,
        Err(error) => {
            return Outcome::BadInput(format!(
                "{}: cannot read: {error} (celluler golden --update writes it)",
                golden_path.display()
            ));
        }
    };
    if args.update {
        let mut runs = stored.map(|golden| golden.runs).unwrap_or_default();
        // Runs left out (--skip-large) keep their entries; files gone lose theirs.
        runs.retain(|file, _| files.contains(file));
        runs.extend(measured);
        let golden = Golden {
            format: GOLDEN_FORMAT.to_string(),
            runs,
        };
        let mut text = serde_json::to_string_pretty(&golden).expect("golden serialises");
        text.push('\n');
        if let Err(error) = std::fs::write(&golden_path, text) {
            return Outcome::BadInput(format!("writing {}: {error}", golden_path.display()));
        }
        println!(
            "{}: {} scenario(s) recorded",
            golden_path.display(),
            golden.runs.len()
        );
        return Outcome::Success;
    }
    let stored = stored.expect("read above");
    let mut differences = Vec::new();
    for (file, run) in &measured {
        let Some(expected) = stored.runs.get(file) else {
            differences.push(format!("{file}: not in {}", golden_path.display()));
            continue;
        };
        if expected.seed != run.seed {
            differences.push(format!("{file}: seed {} → {}", expected.seed, run.seed));
        }
        if expected.trace_hash != run.trace_hash {
            differences.push(format!(
                "{file}: trace hash {} → {}",
                &expected.trace_hash[..expected.trace_hash.len().min(16)],
                &run.trace_hash[..run.trace_hash.len().min(16)]
            ));
        }
        if expected.passed != run.passed {
            differences.push(format!(
                "{file}: checks {} → {}",
                expected.passed, run.passed
            ));
        }
        for (key, value) in &run.metrics {
            let before = expected.metrics.get(key).copied().flatten();
            if before != *value {
                differences.push(format!("{file}: {key} {before:?} → {value:?}"));
            }
        }
    }
    for file in stored.runs.keys() {
        if !files.contains(file) {
            differences.push(format!(
                "{file}: in {} but not in the library",
                golden_path.display()
            ));
        }
    }
    println!(
        "golden: {} scenario(s) run against {}",
        measured.len(),
        golden_path.display()
    );
    if differences.is_empty() {
        println!("  every trace hash and headline metric as recorded");
        return Outcome::Success;
    }
    for difference in &differences {
        println!("  {difference}");
    }
    Outcome::CheckFailed(format!(
        "{} difference(s) from {}: if the change is intended, run celluler golden --update \
         and review the diff",
        differences.len(),
        golden_path.display()
    ))
}
