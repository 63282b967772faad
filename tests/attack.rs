//! `celluler attack` end to end, through the built binary: a small
//! honest-majority equivocation attack judged by its claim, the same outputs
//! whatever `--threads`, a golden `attack.json`, a `false` claim that fails
//! and names the command that replays it, and bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{celluler, text};

/// 7 cells, 2 of them equivocating (2/7 of the stake: below one third).
const N7_F2_EQUIVOCATE: &str = r#"
name = "n7-f2-equivocate"
seed = 5
duration = "8s"

[cells]
count = 7

[consensus]
gossip_interval = "100ms"

[network]
latency = { distribution = "lognormal", median = "40ms", sigma = 0.3 }
loss = 0.0
topology = "full-mesh"

[workload]
tx_rate = "20/s"

[[byzantine]]
behavior = "equivocate"
count = 2

[expect]
agreement = true
"#;

/// A fresh directory for one test.
fn test_dir(name: &str) -> PathBuf {
    common::fresh_dir("attack-tests", name)
}

/// Writes the scenario (with `replace` applied) into `dir`; returns its path.
fn scenario_file(dir: &Path, replace: Option<(&str, &str)>) -> String {
    let text = match replace {
        Some((from, to)) => N7_F2_EQUIVOCATE.replace(from, to),
        None => N7_F2_EQUIVOCATE.to_string(),
    };
    let path = dir.join("n7-f2-equivocate.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn attack(scenario: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "attack",
        scenario,
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    celluler(&args)
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path:?}: {error}"));
    serde_json::from_str(&text).expect("valid JSON")
}

/// Removes every `wall_ms` key, at any depth.
fn without_wall_times(mut value: serde_json::Value) -> serde_json::Value {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("wall_ms");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut value);
    value
}

/// The honest-majority attack holds its agreement claim on every seed (exit
/// 0); forks are found in the attacked runs and none in the baseline; each
/// run has its `celluler run` directory; and one thread or two give the
/// same attack.json, attack.md and run outputs, byte for byte (but wall time,
/// which only summary.json and report.md carry). attack.json is golden.
#[test]
fn n7_f2_equivocate_holds_agreement_the_same_on_one_or_two_threads() {
    let dir = test_dir("threads");
    let scenario = scenario_file(&dir, None);
    let one = dir.join("one");
    let two = dir.join("two");
    let a = attack(&scenario, &one, &["--seeds", "2", "--threads", "1"]);
    let b = attack(&scenario, &two, &["--seeds", "2", "--threads", "2"]);
    assert_eq!(a.status.code(), Some(0), "{}", text(&a));
    assert_eq!(b.status.code(), Some(0), "{}", text(&b));

    let report = json(&one.join("attack.json"));
    assert_eq!(report["seeds"], serde_json::json!([5, 6]));
    assert_eq!(report["verdict"]["holds"], true);
    assert_eq!(report["claims"]["agreement"], true);
    assert_eq!(report["claims"]["source"], "expect");
    assert_eq!(report["adversary"]["below_one_third"], true);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    for run in runs {
        let seed = run["seed"].as_u64().unwrap();
        let attacked = &run["attacked"];
        let baseline = &run["baseline"];
        assert_eq!(attacked["dir"], format!("attacked/seed-{seed}"));
        assert_eq!(baseline["dir"], format!("baseline/seed-{seed}"));
        assert_eq!(attacked["agreement_violated"], false);
        assert_eq!(
            attacked["attack"]["forkers_detected"], 2,
            "both equivocating cells are caught on seed {seed}"
        );
        assert_eq!(baseline["attack"]["forkers_detected"], 0);
        assert_ne!(attacked["trace_hash"], baseline["trace_hash"]);
        for arm in ["attacked", "baseline"] {
            let summary = json(&one.join(format!("{arm}/seed-{seed}/summary.json")));
            assert_eq!(summary["seed"], seed);
            assert_eq!(summary["trace_hash"], run[arm]["trace_hash"]);
            assert!(summary["attack"].is_object(), "{summary}");
        }
    }
    let forks = json(&one.join("attacked/seed-5/summary.json"))["attack"]["forks"].clone();
    assert_eq!(forks.as_array().unwrap().len(), 2, "{forks}");
    assert_eq!(forks[0]["cells_detected"], 5, "every honest cell: {forks}");
    let markdown = std::fs::read_to_string(one.join("attack.md")).unwrap();
    assert!(markdown.contains("**HOLDS**"), "{markdown}");
    assert!(markdown.contains("equivocate on 5..7"), "{markdown}");
    assert!(markdown.contains("below one third"), "{markdown}");
    for stem in ["finality_cdf", "throughput", "fork_detection"] {
        for extension in ["svg", "png"] {
            let size = std::fs::metadata(one.join(format!("{stem}.{extension}")))
                .map(|m| m.len())
                .unwrap_or(0);
            assert!(size > 100, "{stem}.{extension} written ({size} bytes)");
        }
    }

    // One thread or two: the same bytes.
    for file in [
        "attack.json",
        "attack.md",
        "finality_cdf.svg",
        "throughput.svg",
        "fork_detection.svg",
        "attacked/seed-6/transactions.csv",
        "baseline/seed-5/timeseries.csv",
    ] {
        let left = std::fs::read(one.join(file)).unwrap();
        let right = std::fs::read(two.join(file)).unwrap();
        assert!(left == right, "{file} differs between --threads 1 and 2");
    }
    for run in ["attacked/seed-6", "baseline/seed-5"] {
        assert_eq!(
            without_wall_times(json(&one.join(run).join("summary.json"))),
            without_wall_times(json(&two.join(run).join("summary.json"))),
            "{run}/summary.json"
        );
    }
    // The golden attack.json (it has no wall time; the file path is the
    // test's, so it is replaced).
    let mut golden = without_wall_times(report);
    golden["file"] = serde_json::json!("n7-f2-equivocate.toml");
    insta::assert_json_snapshot!("n7_f2_equivocate_attack_json", golden);
}

/// `agreement = false` claims the attack breaks agreement; an honest-majority
/// equivocation does not, so the claim fails (exit 1), and the report names
/// the command that replays the seed.
#[test]
fn a_false_agreement_claim_on_an_honest_majority_attack_fails_and_names_the_replay() {
    let dir = test_dir("false-claim");
    let scenario = scenario_file(&dir, Some(("agreement = true", "agreement = false")));
    let out = dir.join("out");
    let output = attack(&scenario, &out, &["--seeds", "40..41", "--threads", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("agreement"), "{stderr}");
    let command = format!("celluler run {scenario} --seed 40");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains(&command), "{stdout}");
    let markdown = std::fs::read_to_string(out.join("attack.md")).unwrap();
    assert!(markdown.contains("**FAILS**"), "{markdown}");
    assert!(markdown.contains(&command), "{markdown}");
    let report = json(&out.join("attack.json"));
    assert_eq!(report["verdict"]["holds"], false);
    assert_eq!(report["seeds"], serde_json::json!([40]));
    assert_eq!(report["violations"][0]["command"], command);

    // The command replays the attacked run: the same trace.
    let replay_out = dir.join("replay");
    let replayed = celluler(&[
        "run",
        &scenario,
        "--seed",
        "40",
        "--quiet",
        "--out",
        replay_out.to_str().unwrap(),
    ]);
    assert_eq!(replayed.status.code(), Some(0), "{}", text(&replayed));
    assert_eq!(
        json(&replay_out.join("summary.json"))["trace_hash"],
        report["runs"][0]["attacked"]["trace_hash"]
    );
}

#[test]
fn bad_seeds_threads_or_files_exit_2_with_a_clear_message() {
    let dir = test_dir("bad");
    let scenario = scenario_file(&dir, None);
    for (flag, value, expected) in [
        ("--seeds", "0", "at least one seed"),
        ("--seeds", "9..9", "is empty"),
        ("--seeds", "9..3", "is empty"),
        ("--seeds", "many", "is not a seed"),
        ("--seeds", "1..100000", "at most"),
        ("--threads", "0", "at least one thread"),
    ] {
        let out = dir.join("out");
        let output = attack(&scenario, &out, &[flag, value]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{flag} {value}: {}",
            text(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{flag} {value}: {stderr}");
        assert!(!out.join("attack.json").exists(), "{flag} {value}");
    }
    let missing = celluler(&["attack", "scenarios/does-not-exist.toml", "--quiet"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}
