//! `celluler run` end to end, through the built binary: outputs, the golden
//! summary of quickstart, determinism across processes, failing checks and
//! bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{celluler, text};

/// A fresh output directory for one test.
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("run-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run_scenario(scenario: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["run", scenario, "--quiet", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    celluler(&args)
}

fn summary_without_wall_time(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json written");
    let mut summary: serde_json::Value = serde_json::from_str(&text).expect("summary.json is JSON");
    summary
        .as_object_mut()
        .expect("an object")
        .remove("wall_ms");
    summary
}

#[test]
fn quickstart_writes_every_output_and_matches_its_golden_summary() {
    let out = out_dir("quickstart");
    let output = run_scenario("scenarios/quickstart.toml", &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    for file in [
        "summary.json",
        "transactions.csv",
        "timeseries.csv",
        "report.md",
        "finality_cdf.svg",
        "finality_cdf.png",
        "throughput.svg",
        "throughput.png",
        "rounds_decided.svg",
        "rounds_decided.png",
        "finality_per_cell.svg",
        "finality_per_cell.png",
    ] {
        let size = std::fs::metadata(out.join(file))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 100, "{file} written ({size} bytes)");
    }
    let summary = summary_without_wall_time(&out);
    assert_eq!(summary["safety"]["ok"], true);
    assert!(
        summary["txs_finalized"].as_u64().unwrap() > 400,
        "{summary}"
    );
    insta::assert_json_snapshot!("quickstart_seed_7_summary", summary);
}

#[test]
fn two_processes_give_the_same_trace_and_byte_identical_outputs() {
    let first = out_dir("determinism-a");
    let second = out_dir("determinism-b");
    let a = run_scenario("scenarios/quickstart.toml", &first, &["--seed", "11"]);
    let b = run_scenario("scenarios/quickstart.toml", &second, &["--seed", "11"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));
    assert_eq!(
        summary_without_wall_time(&first),
        summary_without_wall_time(&second)
    );
    for file in ["transactions.csv", "timeseries.csv"] {
        let left = std::fs::read(first.join(file)).unwrap();
        let right = std::fs::read(second.join(file)).unwrap();
        assert!(left == right, "{file} differs between two runs of one seed");
    }
    let other = out_dir("determinism-c");
    let c = run_scenario("scenarios/quickstart.toml", &other, &["--seed", "12"]);
    assert_eq!(c.status.code(), Some(0), "{}", text(&c));
    assert_ne!(
        summary_without_wall_time(&first)["trace_hash"],
        summary_without_wall_time(&other)["trace_hash"],
        "another seed, another run"
    );
}

#[test]
fn a_check_that_does_not_hold_fails_the_run_with_exit_1() {
    let dir = out_dir("strict");
    std::fs::create_dir_all(&dir).unwrap();
    let quickstart = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/quickstart.toml"),
    )
    .unwrap();
    let strict = quickstart
        .replace("max_finality_p99 = \"10s\"", "max_finality_p99 = \"1ms\"")
        .replace("duration = \"30s\"", "duration = \"12s\"");
    assert_ne!(strict, quickstart);
    let scenario = dir.join("strict.toml");
    std::fs::write(&scenario, strict).unwrap();
    let out = dir.join("out");
    let output = run_scenario(scenario.to_str().unwrap(), &out, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("max_finality_p99"), "{stderr}");
    let summary = summary_without_wall_time(&out);
    assert_eq!(summary["checks"]["max_finality_p99"], "fail");
    assert_eq!(summary["passed"], false);
    assert!(out.join("report.md").exists(), "a failed run still reports");
}

#[test]
fn bad_input_exits_2_and_runs_nothing() {
    let dir = out_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("bad.toml");
    std::fs::write(
        &scenario,
        "name = \"bad\"\nseed = 1\nduration = \"10s\"\n[cells]\ncount = 0\n",
    )
    .unwrap();
    let out = dir.join("out");
    let output = run_scenario(scenario.to_str().unwrap(), &out, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:5:"), "{stderr}");
    assert!(!out.exists(), "nothing written for bad input");

    let missing = celluler(&["run", "scenarios/does-not-exist.toml", "--quiet"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}

#[test]
fn a_recorded_trace_replays_and_a_tampered_one_is_caught() {
    let dir = out_dir("trace");
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("quickstart.trace.jsonl");
    let trace_arg = trace.to_str().unwrap();
    let recorded = run_scenario(
        "scenarios/quickstart.toml",
        &dir.join("a"),
        &["--trace", trace_arg],
    );
    assert_eq!(recorded.status.code(), Some(0), "{}", text(&recorded));
    let replayed = run_scenario(
        "scenarios/quickstart.toml",
        &dir.join("b"),
        &["--replay", trace_arg],
    );
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));

    // Change the time of one step in the middle of the recording.
    let lines: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(lines.len() > 1000, "{} steps recorded", lines.len());
    let middle = lines.len() / 2;
    let mut step: serde_json::Value = serde_json::from_str(&lines[middle]).unwrap();
    let time = step["time_ns"].as_u64().unwrap();
    step["time_ns"] = serde_json::json!(time + 1);
    let mut tampered_lines = lines.clone();
    tampered_lines[middle] = step.to_string();
    let tampered = dir.join("tampered.trace.jsonl");
    std::fs::write(&tampered, tampered_lines.join("\n") + "\n").unwrap();
    let diverged = run_scenario(
        "scenarios/quickstart.toml",
        &dir.join("c"),
        &["--replay", tampered.to_str().unwrap()],
    );
    assert_eq!(diverged.status.code(), Some(1), "{}", text(&diverged));
    let stderr = String::from_utf8_lossy(&diverged.stderr);
    assert!(stderr.contains("diverged"), "{stderr}");
    assert!(
        stderr.contains(&middle.to_string()),
        "names step {middle}: {stderr}"
    );
}

/// `--dag CELL:PATH` writes the cell's view of the hashgraph; `celluler dag`
/// replays it through the standalone engine (the one the reference vectors
/// check) and agrees with every fact the cell decided. A restarted cell's
/// view replays too. A tampered fact is caught (exit 1, naming the event);
/// a cell that does not exist or is down at the end is bad input.
#[test]
fn a_runs_dag_exports_and_replays_to_the_same_consensus() {
    let out = out_dir("dag-export");
    std::fs::create_dir_all(&out).unwrap();
    let live = out.join("cell-3.json");
    let restarted = out.join("cell-16.json");
    let output = run_scenario(
        "scenarios/crash-restart.toml",
        &out,
        &[
            "--dag",
            &format!("3:{}", live.display()),
            "--dag",
            &format!("16:{}", restarted.display()),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let summary = summary_without_wall_time(&out);
    let ordered_txs = summary["txs_ordered"].as_u64().unwrap();
    for path in [&live, &restarted] {
        let replayed = celluler(&["dag", path.to_str().unwrap()]);
        assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
        let result: serde_json::Value = serde_json::from_slice(&replayed.stdout).unwrap();
        let recorded_events = result["recorded"]["events"].as_u64().unwrap();
        assert!(recorded_events > 5_000, "{recorded_events} events recorded");
        assert_eq!(result["recorded"]["disagreements"], serde_json::json!([]));
        // Rounds were decided, witnesses famous, events ordered.
        let events = result["events"].as_object().unwrap();
        assert!(events.values().any(|event| event["famous"] == true));
        let order = result["consensus_order"].as_array().unwrap();
        assert!(order.len() > 1_000, "{} events ordered", order.len());
        // Every transaction the run ordered is in some recorded event.
        let file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let transactions: usize = file["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| event["transactions_hex"].as_array().map_or(0, Vec::len))
            .sum();
        assert!(
            transactions as u64 >= ordered_txs,
            "{transactions} < {ordered_txs}"
        );
    }

    // Tamper with one decided fact: the replay names the event and fails.
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&live).unwrap()).unwrap();
    let target = file["events"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|event| event["recorded"]["position"] == 10)
        .expect("an event at position 10");
    target["recorded"]["position"] = serde_json::json!(11);
    let id = target["id"].as_str().unwrap().to_string();
    let tampered = out.join("tampered.json");
    std::fs::write(&tampered, serde_json::to_string(&file).unwrap()).unwrap();
    let replayed = celluler(&["dag", tampered.to_str().unwrap()]);
    assert_eq!(replayed.status.code(), Some(1), "{}", text(&replayed));
    let stderr = String::from_utf8_lossy(&replayed.stderr);
    assert!(
        stderr.contains(&id) && stderr.contains("position recorded 11, replayed 10"),
        "{stderr}"
    );

    // A forged signature no longer verifies against the cell's real key.
    let mut file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&live).unwrap()).unwrap();
    let first = &mut file["events"][0];
    let signature = first["signature"].as_str().unwrap().to_string();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    first["signature"] = serde_json::json!(format!("{flipped}{}", &signature[1..]));
    std::fs::write(&tampered, serde_json::to_string(&file).unwrap()).unwrap();
    let replayed = celluler(&["dag", tampered.to_str().unwrap()]);
    assert_eq!(replayed.status.code(), Some(2), "{}", text(&replayed));

    for bad in ["99:x.json", "13:x.json", "nocolon", "3:"] {
        let output = run_scenario("scenarios/crash-restart.toml", &out, &["--dag", bad]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "--dag {bad}: {}",
            text(&output)
        );
    }
}

/// The small scenarios of the library hold every check their files ask for,
/// the timestamp band among them: with every cell honest, no consensus
/// timestamp leaves the band of honest claims — under loss, a partition and
/// skewed clocks alike (crash-restart runs in the DAG export test above).
#[test]
fn the_scenario_library_holds_its_checks_with_no_timestamp_band_violation() {
    for scenario in ["lossy-10pct", "partition-heal", "clock-skew"] {
        let out = out_dir(&format!("library-{scenario}"));
        let output = run_scenario(&format!("scenarios/{scenario}.toml"), &out, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{scenario}: {}",
            text(&output)
        );
        let summary = summary_without_wall_time(&out);
        assert_eq!(
            summary["fairness"]["timestamp_band_violations"], 0,
            "{scenario}"
        );
        let measured = summary["fairness"]["timestamp_band_measured"]
            .as_u64()
            .unwrap();
        let finalized = summary["txs_finalized"].as_u64().unwrap();
        assert!(
            measured >= finalized && finalized > 500,
            "{scenario}: {measured} measured, {finalized} finalized"
        );
    }
}

/// A planted disagreement is caught: one honest cell breaks ties of
/// consensus timestamp by descending event hash instead of the whitened
/// signature. Its order differs from every other cell's at some round; the
/// run fails its `safety` check (exit 1) and names the first divergence —
/// round, position, both cells and both events — in summary.json and
/// report.md. The same scenario without the mutation passes (see above).
#[test]
fn a_planted_ordering_mutation_fails_the_run_and_names_the_first_divergence() {
    let mut named = Vec::new();
    for mode in [&[][..], &["--independent"][..]] {
        let out = out_dir(&format!("mutated-tie-break{}", mode.len()));
        let mut args = vec!["--mutate-tie-break", "5"];
        args.extend_from_slice(mode);
        let output = run_scenario("scenarios/quickstart.toml", &out, &args);
        assert_eq!(output.status.code(), Some(1), "{mode:?}: {}", text(&output));
        let summary = summary_without_wall_time(&out);
        assert_eq!(summary["safety"]["ok"], false);
        let divergence = summary["safety"]["first_divergence"].clone();
        assert!(divergence.is_object(), "{summary}");
        let cells = divergence["cells"].as_array().unwrap();
        assert!(cells.contains(&serde_json::json!(5)), "{divergence}");
        let events = divergence["events"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_ne!(events[0], events[1], "{divergence}");
        assert!(divergence["round"].as_u64().is_some());
        let report = std::fs::read_to_string(out.join("report.md")).unwrap();
        let position = divergence["position"].as_u64().unwrap().to_string();
        assert!(
            report.contains("diverge") && report.contains(&position),
            "report.md names the first divergence:\n{report}"
        );
        named.push(divergence);
    }
    assert_eq!(
        named[0], named[1],
        "both store modes name the same divergence"
    );
}

/// The shared store decides nothing for anyone: every cell running its own
/// engine (`--independent`, nothing shared) gives the same run, bit for bit
/// — trace hash, transactions.csv and summary.json (but wall time) — on
/// every small scenario of the library, a crash and restart included.
#[test]
fn shared_and_independent_stores_give_the_same_run() {
    for scenario in [
        "quickstart",
        "lossy-10pct",
        "partition-heal",
        "crash-restart",
        "clock-skew",
        "markets/exchange",
        "markets/storage",
    ] {
        let scenario = scenario.replace('/', "-");
        let scenario = scenario.as_str();
        let shared = out_dir(&format!("store-shared-{scenario}"));
        let independent = out_dir(&format!("store-independent-{scenario}"));
        let file = format!(
            "scenarios/{}.toml",
            scenario.replacen("markets-", "markets/", 1)
        );
        let a = run_scenario(&file, &shared, &[]);
        let b = run_scenario(&file, &independent, &["--independent"]);
        assert_eq!(a.status.code(), Some(0), "{scenario}: {}", text(&a));
        assert_eq!(b.status.code(), Some(0), "{scenario}: {}", text(&b));
        assert_eq!(
            summary_without_wall_time(&shared),
            summary_without_wall_time(&independent),
            "{scenario}: summary.json"
        );
        let csv = |dir: &Path| std::fs::read(dir.join("transactions.csv")).unwrap();
        assert!(
            csv(&shared) == csv(&independent),
            "{scenario}: transactions.csv differs"
        );
    }
}

/// The market library through the binary: each scenario passes, writes
/// its market files, and says in summary.json and report.md who traded,
/// who profited and who was slashed, with no ledger invariant broken.
#[test]
fn market_scenarios_report_trades_profits_and_slashes() {
    for (scenario, slashed) in [("exchange", 0), ("compute", 1), ("storage", 1)] {
        let out = out_dir(&format!("markets-{scenario}"));
        let output = run_scenario(&format!("scenarios/markets/{scenario}.toml"), &out, &[]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{scenario}: {}",
            text(&output)
        );
        for file in ["markets.csv", "agents.csv", "market_pnl_by_kind.svg"] {
            assert!(out.join(file).exists(), "{scenario}: {file}");
        }
        let summary = summary_without_wall_time(&out);
        let markets = &summary["markets"];
        assert_eq!(markets["violations_total"], 0, "{scenario}");
        let slashes: u64 = ["compute", "storage"]
            .iter()
            .map(|m| {
                markets["lease_markets"][m]["leases_slashed"]
                    .as_u64()
                    .unwrap()
            })
            .sum();
        assert_eq!(slashes >= 1, slashed == 1, "{scenario}: {slashes} slashes");
        let report = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(report.contains("## Markets"), "{scenario}");
        if slashed == 1 {
            assert!(report.contains("PRANA slashed"), "{scenario}");
        }
        let agents = std::fs::read_to_string(out.join("agents.csv")).unwrap();
        assert!(agents.lines().count() > 8, "{scenario}: {agents}");
        if scenario == "exchange" {
            let trades = markets["tokens"]["data-credit"]["trades"].as_u64().unwrap();
            assert!(trades >= 20, "{trades} trades");
        }
    }
}
