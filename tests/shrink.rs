//! `celluler shrink` end to end: a planted failure shrinks to a stated
//! size, step by step, the same on one thread or two, and the file it
//! writes still fails; a run with nothing to shrink, or a `--check` the
//! run passes, is bad input.

mod common;

use std::path::Path;

use celluler_sim::scenario::Scenario;
use celluler_sim::scenario::units::parse_rate;
use common::{celluler, fresh_dir, text};

/// 12 cells for 8 s with a crash and a partition, and a finality check no
/// run can pass (1 ms): every reduction keeps the failure, so the result
/// is the smallest scenario shrinking can make of it.
const PLANTED: &str = r#"
name = "planted"
seed = 1
duration = "8s"

[cells]
count = 12

[network]
latency = "20ms"

[workload]
tx_rate = "20/s"

[[faults]]
kind = "crash"
cells = [3, 4]
at = "2s"
restart = "5s"

[[faults]]
kind = "partition"
at = "3s"
heal = "6s"
groups = ["0..6", "6..12"]

[checks]
max_finality_p99 = "1ms"
"#;

/// The same network with checks it passes.
const PASSING: &str = r#"
name = "passing"
seed = 1
duration = "2s"

[cells]
count = 4

[network]
latency = "20ms"
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("a scenario file");
    path.display().to_string()
}

fn shrink(scenario: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let out = out.display().to_string();
    let mut args = vec!["shrink", scenario, "--seed", "5", "--out", &out, "--quiet"];
    args.extend_from_slice(extra);
    celluler(&args)
}

/// Every accepted step: the reductions in their fixed order, each kept
/// because every candidate fails the check.
const PLANTED_STEPS: [&str; 15] = [
    "step 1: faults.0 removed (crash of 2 cells at 2s, restarted at 5s) (failure kept: max_finality_p99)",
    "step 2: faults.0 removed (partition into 2 groups at 3s, healed at 6s) (failure kept: max_finality_p99)",
    "step 3: cells.count 12 → 6 (failure kept: max_finality_p99)",
    "step 4: cells.count 6 → 3 (failure kept: max_finality_p99)",
    "step 5: cells.count 3 → 1 (failure kept: max_finality_p99)",
    "step 6: duration 8s → 4s (failure kept: max_finality_p99)",
    "step 7: duration 4s → 2s (failure kept: max_finality_p99)",
    "step 8: duration 2s → 1s (failure kept: max_finality_p99)",
    "step 9: duration 1s → 500ms (failure kept: max_finality_p99)",
    "step 10: duration 500ms → 200ms (failure kept: max_finality_p99)",
    "step 11: duration 200ms → 100ms (failure kept: max_finality_p99)",
    "step 12: workload.tx_rate 20/s → 10/s (failure kept: max_finality_p99)",
    "step 13: workload.tx_rate 10/s → 5/s (failure kept: max_finality_p99)",
    "step 14: workload.tx_rate 5/s → 2/s (failure kept: max_finality_p99)",
    "step 15: workload.tx_rate 2/s → 1/s (failure kept: max_finality_p99)",
];

#[test]
fn n12_two_faults_failing_p99_shrinks_to_one_cell_100ms_no_fault() {
    let dir = fresh_dir("shrink", "planted");
    let scenario = write(&dir, "planted.toml", PLANTED);
    let out = dir.join("shrunk.toml");
    let output = shrink(&scenario, &out, &["--threads", "1"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let steps: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("step "))
        .collect();
    assert_eq!(steps, PLANTED_STEPS, "{stdout}");
    assert!(
        stdout.contains(
            "shrunk in 15 steps and 15 runs: cells 12 → 1, duration 8s → 100ms, \
             faults 2 → 0, TX rate 20/s → 1/s"
        ),
        "{stdout}"
    );

    // The stated size, read back from the file.
    let shrunk = Scenario::load(&out).expect("the shrunk file is a valid scenario");
    assert_eq!(shrunk.cells.count, 1);
    assert_eq!(shrunk.duration_ns, 100_000_000);
    assert_eq!(shrunk.faults.len(), 0);
    assert_eq!(shrunk.workload.tx_rate, parse_rate("1/s").unwrap());
    assert_eq!(shrunk.seed, 5, "the file carries the seed it fails at");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(
        written.starts_with(&format!(
            "# Shrunk by `celluler shrink {scenario} --seed 5`: 15 steps, 15 runs.\n\
             # At seed 5 it still fails max_finality_p99 ("
        )),
        "{written}"
    );

    // Run as the header says, it still fails that check.
    let run_dir = dir.join("run");
    let output = celluler(&[
        "run",
        &out.display().to_string(),
        "--seed",
        "5",
        "--out",
        &run_dir.display().to_string(),
        "--quiet",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("check max_finality_p99: FAIL"),
        "{}",
        text(&output)
    );

    // Two threads: the same steps, runs and file.
    let out_two = dir.join("shrunk-two.toml");
    let output_two = shrink(&scenario, &out_two, &["--threads", "2"]);
    assert_eq!(output_two.status.code(), Some(0), "{}", text(&output_two));
    let same_path = |text: &str| text.replace(&out_two.display().to_string(), "OUT");
    assert_eq!(
        same_path(&String::from_utf8_lossy(&output_two.stdout)),
        stdout.replace(&out.display().to_string(), "OUT")
    );
    assert_eq!(
        same_path(&std::fs::read_to_string(&out_two).unwrap()),
        written.replace(&out.display().to_string(), "OUT")
    );
}

#[test]
fn max_runs_stops_the_search_and_writes_the_smallest_found() {
    let dir = fresh_dir("shrink", "max-runs");
    let scenario = write(&dir, "planted.toml", PLANTED);
    let out = dir.join("shrunk.toml");
    let output = shrink(&scenario, &out, &["--max-runs", "3"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(PLANTED_STEPS[2]), "{stdout}");
    assert!(!stdout.contains("step 4:"), "{stdout}");
    assert!(stdout.contains("stopped at --max-runs 3"), "{stdout}");
    let shrunk = Scenario::load(&out).unwrap();
    assert_eq!((shrunk.cells.count, shrunk.faults.len()), (6, 0));
}

#[test]
fn a_passing_run_has_nothing_to_shrink() {
    let dir = fresh_dir("shrink", "passing");
    let scenario = write(&dir, "passing.toml", PASSING);
    let out = dir.join("shrunk.toml");
    let output = shrink(&scenario, &out, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("at seed 5: every check holds and safety holds; nothing to shrink"),
        "{}",
        text(&output)
    );
    assert!(!out.exists());
}

#[test]
fn a_check_the_run_passes_or_lacks_is_bad_input() {
    let dir = fresh_dir("shrink", "check");
    let scenario = write(&dir, "planted.toml", PLANTED);
    let out = dir.join("shrunk.toml");
    for (check, expected) in [
        ("safety", "passes safety; it fails max_finality_p99"),
        (
            "liveness",
            "has no liveness check (its [checks]: safety, max_finality_p99)",
        ),
        ("agreement", "passes agreement"),
        (
            "finality",
            "--check finality: no such check; allowed: safety, liveness",
        ),
    ] {
        let output = shrink(&scenario, &out, &["--check", check]);
        assert_eq!(output.status.code(), Some(2), "{check}: {}", text(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(expected),
            "{check}: {}",
            text(&output)
        );
    }
    assert!(!out.exists());
    // A bad file is bad input, with the parser's message.
    let broken = write(&dir, "broken.toml", "name = \"x\"\n");
    let output = shrink(&broken, &out, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}
