//! `celluler diff` end to end, through the built binary: identical traces,
//! runs that diverge (another seed, a fault moved late in the run, a planted
//! consensus disagreement) and malformed trace files.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{celluler, fresh_dir, text};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Quickstart's partition moved to 4 s..6 s and its throughput check
/// lowered, for runs of 8 s.
const SHORT_RUN_EDITS: [(&str, &str); 3] = [
    ("at = \"10s\"", "at = \"4s\""),
    ("heal = \"15s\"", "heal = \"6s\""),
    ("min_throughput_tps = 10", "min_throughput_tps = 1"),
];

/// Quickstart, shortened to `duration` and with each `(from, to)` text
/// replaced, written into `dir` as `name.toml`.
fn quickstart_variant(dir: &Path, name: &str, duration: &str, edits: &[(&str, &str)]) -> PathBuf {
    let quickstart = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml"),
    )
    .unwrap();
    let mut scenario =
        quickstart.replace("duration = \"30s\"", &format!("duration = \"{duration}\""));
    for (from, to) in edits {
        assert!(scenario.contains(from), "quickstart holds {from}");
        scenario = scenario.replace(from, to);
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, scenario).unwrap();
    path
}

/// `celluler run SCENARIO --trace DIR/NAME.jsonl` (a failed check is fine:
/// the trace is still written); returns the trace's path.
fn trace_run(scenario: &Path, dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let trace = dir.join(format!("{name}.jsonl"));
    let out = dir.join(format!("{name}-out"));
    let mut args = vec![
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = celluler(&args);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        text(&output)
    );
    assert!(trace.exists(), "{}", text(&output));
    trace
}

fn diff(a: &Path, b: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["diff", a.to_str().unwrap(), b.to_str().unwrap()];
    args.extend_from_slice(extra);
    celluler(&args)
}

/// The number after `prefix` on the line that starts with it.
fn number_after(text: &str, prefix: &str) -> u64 {
    let line = text
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("a line starting {prefix:?} in\n{text}"));
    line[prefix.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("a number after {prefix:?} in {line:?}"))
}

/// The step numbers of the context table's rows, the divergent one last.
fn table_steps(text: &str) -> Vec<u64> {
    text.lines()
        .filter(|line| line.starts_with("  ") || line.starts_with("> "))
        .filter_map(|line| line[2..].split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn two_traces_of_the_same_run_are_identical() {
    let dir = fresh_dir("diff-tests", "identical");
    let scenario = quickstart_variant(&dir, "short", "8s", &SHORT_RUN_EDITS);
    let a = trace_run(&scenario, &dir, "a", &[]);
    let b = trace_run(&scenario, &dir, "b", &[]);
    let lines = std::fs::read_to_string(&a).unwrap();
    assert!(
        lines.lines().any(|line| line.starts_with("{\"decided\":{")),
        "the trace carries decided rounds"
    );
    let output = diff(&a, &b, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let out = stdout(&output);
    let steps = number_after(&out, "steps: identical (");
    assert!(steps > 1000, "{out}");
    assert!(out.contains(&format!("{steps} steps; ")), "{out}");
    assert!(out.contains("consensus: identical ("), "{out}");
    assert!(out.contains("decided by 16 honest cells"), "{out}");
    assert_eq!(out.lines().last(), Some("identical"), "{out}");

    // A trace with decided rounds still replays: they are not steps.
    let replayed = celluler(&[
        "run",
        scenario.to_str().unwrap(),
        "--quiet",
        "--out",
        dir.join("replay-out").to_str().unwrap(),
        "--replay",
        a.to_str().unwrap(),
    ]);
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
}

#[test]
fn two_seeds_diverge_at_a_named_step_and_in_consensus() {
    let dir = fresh_dir("diff-tests", "seeds");
    let scenario = quickstart_variant(&dir, "short", "8s", &SHORT_RUN_EDITS);
    let a = trace_run(&scenario, &dir, "seed-7", &[]);
    let b = trace_run(&scenario, &dir, "seed-8", &["--seed", "8"]);
    let output = diff(&a, &b, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let out = stdout(&output);
    let step = number_after(&out, "steps: first divergent step ");
    assert_eq!(table_steps(&out).last(), Some(&step), "{out}");
    assert!(
        out.contains("consensus: first differing ordered event at round "),
        "{out}"
    );
    assert!(out.contains("cells that disagree: "), "{out}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("diverge at step {step}")),
        "{stderr}"
    );
}

/// The same scenario with its partition moved from 4 s to 5 s: both runs
/// are the same step for step until the earlier partition drops a message,
/// so the first divergent step lies after 4 s, with its context before it.
#[test]
fn a_fault_moved_late_diverges_after_the_start_with_context() {
    let dir = fresh_dir("diff-tests", "late-fault");
    let early = quickstart_variant(
        &dir,
        "early",
        "6s",
        &[
            ("at = \"10s\"", "at = \"4s\""),
            ("heal = \"15s\"", "heal = \"6s\""),
        ],
    );
    let late = quickstart_variant(
        &dir,
        "late",
        "6s",
        &[
            ("at = \"10s\"", "at = \"5s\""),
            ("heal = \"15s\"", "heal = \"6s\""),
        ],
    );
    let a = trace_run(&early, &dir, "early", &[]);
    let b = trace_run(&late, &dir, "late", &[]);
    for (context, rows) in [(None, 5), (Some("2"), 2), (Some("0"), 0)] {
        let extra: Vec<&str> = context.iter().flat_map(|n| ["--context", n]).collect();
        let output = diff(&a, &b, &extra);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        let out = stdout(&output);
        let step = number_after(&out, "steps: first divergent step ");
        assert!(step > 1000, "diverges after the start: {out}");
        let steps = table_steps(&out);
        let expected: Vec<u64> = (step - rows..=step).collect();
        assert_eq!(steps, expected, "{out}");
        // The divergent row's time (either side) is at or after the
        // partition of A.
        let divergent = out.lines().find(|line| line.starts_with("> ")).unwrap();
        let time_ms: f64 = divergent
            .split_whitespace()
            .nth(2)
            .unwrap()
            .parse()
            .unwrap();
        assert!(time_ms >= 4000.0, "{divergent}");
    }
}

/// A planted consensus disagreement: cell 5 breaks consensus-timestamp ties
/// otherwise (`--mutate-tie-break 5`). Diffing against the honest run names
/// the round and position at which cell 5's ordered event differs — the
/// position the mutated run's own safety checker names — and cell 5 among
/// the cells that disagree.
#[test]
fn a_planted_ordering_mutation_is_named_by_round_position_and_cell() {
    let dir = fresh_dir("diff-tests", "tie-break");
    let scenario = quickstart_variant(&dir, "short", "8s", &SHORT_RUN_EDITS);
    let honest = trace_run(&scenario, &dir, "honest", &[]);
    let mutated = trace_run(&scenario, &dir, "mutated", &["--mutate-tie-break", "5"]);
    let output = diff(&honest, &mutated, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let out = stdout(&output);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("mutated-out/summary.json")).unwrap(),
    )
    .unwrap();
    let named = &summary["safety"]["first_divergence"];
    let (round, position) = (
        named["round"].as_u64().unwrap(),
        named["position"].as_u64().unwrap(),
    );
    assert!(
        out.contains(&format!(
            "consensus: first differing ordered event at round {round}, position {position}"
        )),
        "the checker named round {round}, position {position}:\n{out}"
    );
    let disagree = out
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("cells that disagree: "))
        .unwrap_or_else(|| panic!("{out}"));
    let cells: Vec<&str> = disagree.split(';').next().unwrap().split(", ").collect();
    assert!(cells.contains(&"5"), "{out}");
    let events: Vec<&str> = named["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event.as_str().unwrap())
        .collect();
    assert!(
        events.iter().all(|event| out.contains(event)),
        "both events {events:?} printed:\n{out}"
    );
}

/// A hand-written pair: the exact output, the table aligned.
#[test]
fn the_context_table_shows_both_files_aligned() {
    let dir = fresh_dir("diff-tests", "table");
    let a = dir.join("a.jsonl");
    let b = dir.join("b.jsonl");
    let steps = [
        r#"{"time_ns":0,"cell":0,"kind":"start","from":0,"detail":0}"#,
        r#"{"time_ns":100000000,"cell":0,"kind":"timer","from":0,"detail":1}"#,
        r#"{"time_ns":150250000,"cell":1,"kind":"deliver","from":0,"detail":255}"#,
    ];
    std::fs::write(&a, steps.join("\n") + "\n").unwrap();
    let other = r#"{"time_ns":150251000,"cell":1,"kind":"deliver","from":0,"detail":254}"#;
    std::fs::write(&b, format!("{}\n{}\n{other}\n", steps[0], steps[1])).unwrap();
    let output = diff(&a, &b, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let expected = format!(
        "A {}: 3 steps; 0 ordered events decided by 0 honest cells
B {}: 3 steps; 0 ordered events decided by 0 honest cells
steps: first divergent step 2 (differs in time, digest)
        step        time ms  cell kind     from digest           |       time ms  cell kind     from digest
           0          0.000     0 start       - -                |         0.000     0 start       - -
           1        100.000     0 timer       - 0000000000000001 |       100.000     0 timer       - 0000000000000001
>          2        150.250     1 deliver     0 00000000000000ff |       150.251     1 deliver     0 00000000000000fe
consensus: not compared (no decided rounds recorded in A or B)
diverged
",
        a.display(),
        b.display()
    );
    assert_eq!(stdout(&output), expected);

    // A file that ends first.
    std::fs::write(&b, format!("{}\n{}\n", steps[0], steps[1])).unwrap();
    let output = diff(&a, &b, &["--context", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let out = stdout(&output);
    assert!(
        out.contains("steps: first divergent step 2 (B ends here)"),
        "{out}"
    );
    assert!(out.contains("| (end of trace)"), "{out}");
    assert_eq!(table_steps(&out), [1, 2], "{out}");
}

#[test]
fn malformed_or_missing_files_exit_2_naming_the_line() {
    let dir = fresh_dir("diff-tests", "malformed");
    let good = dir.join("good.jsonl");
    let step = r#"{"time_ns":0,"cell":0,"kind":"start","from":0,"detail":0}"#;
    std::fs::write(&good, format!("{step}\n{step}\n{step}\n")).unwrap();
    let decided = format!(
        r#"{{"decided":{{"time_ns":5,"cell":1,"round":0,"ordered_events":1,"order_digest":"{zeros}","first_position":0,"events":["{zeros}"]}}}}"#,
        zeros = "0".repeat(64)
    );
    let cases: [(&str, String, &str); 5] = [
        (
            "kind",
            format!("{step}\n{step}\n{}\n", step.replace("start", "teleport")),
            "expected a step",
        ),
        (
            "truncated",
            format!("{step}\n\n{{\"time_ns\":1\n"),
            "expected a step",
        ),
        (
            "long",
            format!("{step}\n{step}\n{}\n", "x".repeat(5000)),
            "at most 4096 bytes",
        ),
        (
            "decided",
            format!(
                "{step}\n{step}\n{}\n",
                decided.replace("\"events\":[\"", "\"events\":[\"z")
            ),
            "expected a decided round",
        ),
        (
            "decided-past-end",
            format!(
                "{step}\n{step}\n{}\n",
                decided.replace("\"first_position\":0", "\"first_position\":1")
            ),
            "run past ordered_events",
        ),
    ];
    for (name, content, expected) in cases {
        let bad = dir.join(format!("{name}.jsonl"));
        std::fs::write(&bad, content).unwrap();
        for (a, b) in [(&good, &bad), (&bad, &good)] {
            let output = diff(a, b, &[]);
            assert_eq!(output.status.code(), Some(2), "{name}: {}", text(&output));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                stderr.contains(&format!("{}:3: ", bad.display())) && stderr.contains(expected),
                "{name}: {stderr}"
            );
        }
    }
    let well_formed = dir.join("with-decided.jsonl");
    std::fs::write(&well_formed, format!("{step}\n{step}\n{step}\n{decided}\n")).unwrap();
    let output = diff(&good, &well_formed, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    let missing = dir.join("missing.jsonl");
    let output = diff(&good, &missing, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let too_much_context = diff(&good, &good, &["--context", "10001"]);
    assert_eq!(
        too_much_context.status.code(),
        Some(2),
        "{}",
        text(&too_much_context)
    );
}
