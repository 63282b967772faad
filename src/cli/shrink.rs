//! `celluler shrink FILE --seed S [--check NAME] [--out FILE] [--max-runs N] [--threads T]`:
//! delta-debugs a failing run. The scenario is made smaller one reduction
//! at a time (`celluler_sim::scenario::shrink`, in its fixed order), and a
//! reduction is kept when the run at the same seed still shows the same
//! failure; the first reduction that keeps it is accepted and the next
//! round starts from it, until none does or `--max-runs` runs have been
//! spent. Each accepted step is printed, and the smallest scenario found
//! is written with a header saying what it reproduces. Deterministic: the
//! same file, seed and options give the same steps and file whatever
//! `--threads` (candidates run in parallel, but the first success in
//! candidate order wins, and runs after it are not counted). Exit 0 when
//! a shrunk file was written, 2 when the run does not fail (nothing to
//! shrink) or on bad input. docs/shrink.md.

use std::path::PathBuf;

use celluler_sim::scenario::Scenario;
use celluler_sim::scenario::shrink::{Candidate, Document, Size};
use indicatif::ProgressBar;

use super::Outcome;
use super::batch::{self, progress_bar, run_jobs};
use super::run::{Executed, RunOptions, execute};

/// Candidate runs when `--max-runs` is not given.
pub const DEFAULT_MAX_RUNS: u64 = 500;

/// The `[checks]` a run can fail, in the order a report lists them.
const CHECK_NAMES: [&str; 7] = celluler_sim::scenario::CHECK_KEYS;
/// The world checker's verdicts, which hold whatever `[checks]` says.
const VERDICT_NAMES: [&str; 2] = ["agreement", "state"];

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file whose run fails (TOML; see docs/scenarios.md).
    file: PathBuf,
    /// The seed the run fails at; every candidate runs at it.
    #[arg(long)]
    seed: u64,
    /// The failure to keep: a [checks] name (safety, liveness,
    /// max_finality_p99, min_throughput_tps, max_stall, max_inversion_rate,
    /// max_timestamp_band_violations), or agreement or state (the safety
    /// checker's verdicts). Default: every failure the run shows.
    #[arg(long, value_name = "NAME")]
    check: Option<String>,
    /// Where the shrunk scenario goes; default `<name>-shrunk.toml` in the
    /// current directory.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The most candidate runs (the first run, of the file as it is, not
    /// counted); at the limit the smallest scenario found so far is written.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_RUNS)]
    max_runs: u64,
    /// Candidates run in parallel, each on one thread; the result is the same
    /// for any T. Default: every core.
    #[arg(long, value_name = "T")]
    threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// One failure a run shows: a check's or verdict's name, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    name: String,
    reason: String,
}

/// What a run shows failing, in a fixed order: its failed `[checks]` in
/// the report's order, then `agreement`, then `state`.
fn failures_of(executed: &Executed) -> Vec<Failure> {
    let mut failures: Vec<Failure> = executed
        .report
        .checks
        .iter()
        .filter(|check| !check.passed)
        .map(|check| Failure {
            name: check.name.clone(),
            reason: check.reason.clone(),
        })
        .collect();
    if executed.agreement_violated {
        failures.push(Failure {
            name: "agreement".to_string(),
            reason: "honest cells ordered differently".to_string(),
        });
    }
    if executed.state_violated {
        failures.push(Failure {
            name: "state".to_string(),
            reason: "honest cells reached different states, or one finalized a double spend"
                .to_string(),
        });
    }
    failures
}

/// The `[checks]` a scenario asks for, in the order a report lists them.
fn requested_checks(scenario: &Scenario) -> Vec<&'static str> {
    let checks = &scenario.checks;
    let requested = [
        checks.safety,
        checks.liveness,
        checks.max_finality_p99_ns.is_some(),
        checks.min_throughput_tps.is_some(),
        checks.max_stall_ns.is_some(),
        checks.max_inversion_rate.is_some(),
        checks.max_timestamp_band_violations.is_some(),
    ];
    CHECK_NAMES
        .iter()
        .zip(requested)
        .filter(|(_, requested)| *requested)
        .map(|(name, _)| *name)
        .collect()
}

fn names(failures: &[Failure]) -> String {
    failures
        .iter()
        .map(|failure| failure.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a run that shows `failures` still shows every one of `kept`.
fn keeps(failures: &[Failure], kept: &[String]) -> bool {
    kept.iter()
        .all(|name| failures.iter().any(|failure| &failure.name == name))
}

/// Runs `scenario` without writing anything: what it shows failing.
fn failures_at(scenario: &Scenario, label: &str) -> Result<Vec<Failure>, Outcome> {
    let options = RunOptions {
        out_dir: None,
        label: label.to_string(),
        ..RunOptions::default()
    };
    execute(scenario, &options).map(|executed| failures_of(&executed))
}

pub fn run(args: Args) -> Outcome {
    let known = |check: &str| CHECK_NAMES.contains(&check) || VERDICT_NAMES.contains(&check);
    if let Some(check) = args.check.as_deref().filter(|check| !known(check)) {
        return Outcome::BadInput(format!(
            "--check {check}: no such check; allowed: {}, {}",
            CHECK_NAMES.join(", "),
            VERDICT_NAMES.join(", ")
        ));
    }
    if args.max_runs == 0 {
        return Outcome::BadInput("--max-runs 0: at least one run".to_string());
    }
    let label = args.file.display().to_string();
    // The seed goes into the document, so the shrunk file runs at it alone.
    let mut current = match Scenario::read_text(&args.file)
        .and_then(|text| Document::at_seed(&label, &text, args.seed))
    {
        Ok(document) => document,
        Err(error) => return Outcome::BadInput(error.to_string()),
    };
    let original_size = Size::of(&current.scenario);

    let original_failures = match failures_at(&current.scenario, &label) {
        Ok(failures) => failures,
        Err(outcome) => return outcome,
    };
    if original_failures.is_empty() {
        return Outcome::BadInput(format!(
            "{label} at seed {}: every check holds and safety holds; nothing to shrink",
            args.seed
        ));
    }
    let kept: Vec<String> = match &args.check {
        Some(check)
            if original_failures
                .iter()
                .any(|failure| &failure.name == check) =>
        {
            vec![check.clone()]
        }
        Some(check) => {
            let requested = requested_checks(&current.scenario);
            let missing =
                CHECK_NAMES.contains(&check.as_str()) && !requested.contains(&check.as_str());
            return Outcome::BadInput(if missing {
                format!(
                    "--check {check}: {label} has no {check} check (its [checks]: {}); it fails {}",
                    requested.join(", "),
                    names(&original_failures)
                )
            } else {
                format!(
                    "--check {check}: {label} at seed {} passes {check}; it fails {}",
                    args.seed,
                    names(&original_failures)
                )
            });
        }
        None => original_failures
            .iter()
            .map(|failure| failure.name.clone())
            .collect(),
    };
    println!(
        "{label} at seed {} fails {}; keeping {}",
        args.seed,
        original_failures
            .iter()
            .map(|failure| format!("{} ({})", failure.name, failure.reason))
            .collect::<Vec<_>>()
            .join(", "),
        kept.join(", ")
    );

    let (pool, threads) = match batch::pool(args.threads, "shrink") {
        Ok(pool) => pool,
        Err(outcome) => return outcome,
    };
    let progress = progress_bar(args.max_runs, args.quiet);
    let mut runs: u64 = 0;
    let mut steps: u64 = 0;
    let mut final_failures = original_failures;
    let out_of_runs = loop {
        let round = current.candidates(&label);
        let search = Search {
            pool: &pool,
            threads,
            round: &round,
            label: &label,
            kept: &kept,
            max_runs: args.max_runs,
            progress: &progress,
        };
        let (index, failures) = match search.first_keeping(&mut runs) {
            Found::Keeps(index, failures) => (index, failures),
            Found::NoneKeeps => break false,
            Found::OutOfRuns => break true,
        };
        let candidate = &round[index];
        steps += 1;
        progress.suspend(|| {
            println!(
                "step {steps}: {} (failure kept: {})",
                candidate.change,
                kept.join(", ")
            );
        });
        current = candidate.document.clone();
        final_failures = failures;
    };
    progress.finish_and_clear();

    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}-shrunk.toml", current.scenario.name)));
    let command = match &args.check {
        Some(check) => format!(
            "celluler shrink {label} --seed {} --check {check}",
            args.seed
        ),
        None => format!("celluler shrink {label} --seed {}", args.seed),
    };
    let shown: Vec<&Failure> = final_failures
        .iter()
        .filter(|failure| kept.contains(&failure.name))
        .collect();
    let header = Header {
        command: &command,
        seed: args.seed,
        steps,
        runs,
        failures: &shown,
        out: &out,
    };
    if let Err(error) = std::fs::write(&out, header.text() + &current.text) {
        return Outcome::BadInput(format!("writing {}: {error}", out.display()));
    }

    if steps == 0 && !out_of_runs {
        println!("no reduction keeps the failure: the scenario is as small as shrinking makes it");
    }
    println!(
        "shrunk in {steps} steps and {runs} runs: {}",
        Size::describe_change(&original_size, &Size::of(&current.scenario))
    );
    if out_of_runs {
        println!(
            "stopped at --max-runs {}: a smaller scenario may still fail the same way",
            args.max_runs
        );
    }
    println!(
        "wrote {} (celluler run {} --seed {} fails {})",
        out.display(),
        out.display(),
        args.seed,
        kept.join(", ")
    );
    Outcome::Success
}

/// What a shrunk file's header says: how it was made, what it reproduces,
/// and how.
struct Header<'a> {
    command: &'a str,
    seed: u64,
    steps: u64,
    runs: u64,
    failures: &'a [&'a Failure],
    out: &'a std::path::Path,
}

impl Header<'_> {
    /// Comment lines, then a blank line. Every part is kept to one line, so
    /// the header stays a comment whatever a reason or path holds.
    fn text(&self) -> String {
        let one_line = |text: &str| text.replace(['\n', '\r'], " ");
        let failures: Vec<String> = self
            .failures
            .iter()
            .map(|failure| format!("{} ({})", failure.name, one_line(&failure.reason)))
            .collect();
        format!(
            "# Shrunk by `{}`: {} steps, {} runs.\n\
             # At seed {} it still fails {}.\n\
             # Reproduce: celluler run {} --seed {}\n\n",
            one_line(self.command),
            self.steps,
            self.runs,
            self.seed,
            failures.join(", "),
            one_line(&self.out.display().to_string()),
            self.seed
        )
    }
}

/// One round of the search: its candidates, and how to run them.
struct Search<'a> {
    pool: &'a rayon::ThreadPool,
    threads: usize,
    round: &'a [Candidate],
    label: &'a str,
    kept: &'a [String],
    max_runs: u64,
    progress: &'a ProgressBar,
}

/// How a round ended.
enum Found {
    /// The first candidate, in order, whose run keeps the failure, and
    /// what that run shows failing.
    Keeps(usize, Vec<Failure>),
    /// Every candidate was run; none keeps it.
    NoneKeeps,
    /// The runs ran out before a candidate that keeps it was found.
    OutOfRuns,
}

impl Search<'_> {
    /// Runs the round's candidates in order, `threads` at a time, until one
    /// keeps the failure, counting each run in `runs`. Those after the
    /// accepted one in its batch are neither used nor counted, so the
    /// result and the count are the same for any number of threads.
    fn first_keeping(&self, runs: &mut u64) -> Found {
        let mut next = 0;
        while next < self.round.len() {
            if *runs >= self.max_runs {
                return Found::OutOfRuns;
            }
            let runs_left = usize::try_from(self.max_runs - *runs).unwrap_or(usize::MAX);
            let batch_len = self.threads.min(self.round.len() - next).min(runs_left);
            let jobs: Vec<usize> = (next..next + batch_len).collect();
            let results = run_jobs(self.pool, &jobs, |index| {
                let failures = failures_at(&self.round[index].document.scenario, self.label);
                // A candidate the world cannot be built from is no candidate.
                Ok(failures.ok())
            });
            for (&index, result) in jobs.iter().zip(results) {
                *runs += 1;
                self.progress.inc(1);
                match result {
                    Some(Ok(Some(failures))) if keeps(&failures, self.kept) => {
                        return Found::Keeps(index, failures);
                    }
                    _ => {}
                }
            }
            next += batch_len;
        }
        Found::NoneKeeps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(name: &str) -> Failure {
        Failure {
            name: name.to_string(),
            reason: String::new(),
        }
    }

    #[test]
    fn the_header_stays_a_comment() {
        let failure = Failure {
            name: "safety".to_string(),
            reason: "two\nlines".to_string(),
        };
        let header = Header {
            command: "celluler shrink x.toml --seed 3",
            seed: 3,
            steps: 2,
            runs: 9,
            failures: &[&failure],
            out: std::path::Path::new("x-shrunk.toml"),
        };
        assert_eq!(
            header.text(),
            "# Shrunk by `celluler shrink x.toml --seed 3`: 2 steps, 9 runs.\n\
             # At seed 3 it still fails safety (two lines).\n\
             # Reproduce: celluler run x-shrunk.toml --seed 3\n\n"
        );
    }

    #[test]
    fn a_run_keeps_the_failure_when_it_shows_every_kept_name() {
        let kept = vec!["safety".to_string(), "agreement".to_string()];
        assert!(keeps(
            &[failure("safety"), failure("liveness"), failure("agreement")],
            &kept
        ));
        assert!(!keeps(&[failure("safety")], &kept));
        assert!(!keeps(&[], &kept));
    }
}
