//! `celluler sweep`, `merge` and `compare` end to end, on a scenario small
//! enough for a debug build: outputs byte-identical whatever `--threads`
//! and however sharded, bad settings refused before anything runs, and
//! compare flagging a planted regression while passing a sweep against
//! itself.

mod common;

use std::path::Path;

use common::{assert_same_files, celluler, files_in, fresh_dir};

/// 6 cells for 4 virtual seconds: a few hundred ms of debug-build time.
const TINY: &str = r#"
name = "tiny"
seed = 1
duration = "4s"

[cells]
count = 6

[consensus]
gossip_interval = "100ms"

[network]
latency = { distribution = "constant", value = "20ms" }

[workload]
tx_rate = "20/s"
"#;

fn tiny(dir: &Path) -> String {
    let path = dir.join("tiny.toml");
    std::fs::write(&path, TINY).expect("a scenario file");
    path.display().to_string()
}

fn sweep(scenario: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    sweep_seeds(scenario, "3", out, extra)
}

fn sweep_seeds(scenario: &str, seeds: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let out = out.display().to_string();
    let mut args = vec![
        "sweep",
        scenario,
        "--seeds",
        seeds,
        "--set",
        "consensus.gossip_interval=100ms,250ms",
        "--out",
        &out,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    celluler(&args)
}

#[test]
fn a_sweep_is_the_same_on_one_or_four_threads_and_sharded_then_merged() {
    let dir = fresh_dir("sweep", "threads-and-shards");
    let scenario = tiny(&dir);
    let one = dir.join("one");
    let output = sweep(&scenario, &one, &["--threads", "1"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let four = dir.join("four");
    let output = sweep(&scenario, &four, &["--threads", "4"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let whole = files_in(&one);
    let names: Vec<&str> = whole.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "sweep.json",
        "sweep.csv",
        "sweep.md",
        "sweep_finality_ms_p50.svg",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert_same_files(&whole, &files_in(&four));
    // 2 grid points × 3 seeds, one CSV row each.
    let csv = String::from_utf8(std::fs::read(one.join("sweep.csv")).unwrap()).unwrap();
    assert_eq!(csv.lines().count(), 7);
    assert!(
        csv.lines().nth(1).unwrap().starts_with("0,100ms,1,"),
        "{csv}"
    );

    // Three shards, merged in another order, give the same bytes.
    let mut shard_dirs = Vec::new();
    for index in 0..3 {
        let shard_dir = dir.join(format!("shard-{index}"));
        let shard = format!("{index}/3");
        let output = sweep(&scenario, &shard_dir, &["--shard", &shard]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert!(shard_dir.join("shard.json").is_file());
        shard_dirs.push(shard_dir.display().to_string());
    }
    let merged = dir.join("merged");
    let merged_arg = merged.display().to_string();
    let output = celluler(&[
        "merge",
        &shard_dirs[2],
        &shard_dirs[0],
        &shard_dirs[1],
        "--out",
        &merged_arg,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_same_files(&whole, &files_in(&merged));

    // An overlap or a gap is refused.
    let refused = dir.join("refused").display().to_string();
    for shards in [
        vec![
            &shard_dirs[0],
            &shard_dirs[0],
            &shard_dirs[1],
            &shard_dirs[2],
        ],
        vec![&shard_dirs[0], &shard_dirs[2]],
    ] {
        let mut args = vec!["merge"];
        args.extend(shards.iter().map(|dir| dir.as_str()));
        args.extend(["--out", &refused]);
        let output = celluler(&args);
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("cannot merge"), "{stderr}");
    }
}

#[test]
fn a_bad_setting_is_refused_with_the_allowed_keys_before_anything_runs() {
    let dir = fresh_dir("sweep", "bad-setting");
    let scenario = tiny(&dir);
    let out = dir.join("out");
    let output = sweep(&scenario, &out, &["--set", "network.los=0,0.1"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown key `los`"), "{stderr}");
    assert!(stderr.contains("allowed keys"), "{stderr}");
    assert!(!out.join("sweep.json").exists());
    let output = sweep(&scenario, &out, &["--set", "network.loss=0,2"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("network.loss=2"));
    // A replayed grid point takes --set too.
    let run_out = dir.join("run").display().to_string();
    let output = celluler(&[
        "run",
        &scenario,
        "--seed",
        "2",
        "--set",
        "consensus.gossip_interval=250ms",
        "--out",
        &run_out,
        "--quiet",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn compare_flags_a_slower_gossip_and_passes_a_sweep_against_itself() {
    let dir = fresh_dir("sweep", "compare");
    let scenario = tiny(&dir);
    let out = dir.join("sweep");
    // 6 seeds: the fewest for which an exact Wilcoxon p can be below 0.05.
    let output = sweep_seeds(&scenario, "6", &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let sweep_dir = out.display().to_string();
    let report = dir.join("compare").display().to_string();
    // Gossip 2.5 times slower: far fewer TXs finalized in 4 s, on every seed.
    let output = celluler(&[
        "compare",
        &format!("{sweep_dir}@consensus.gossip_interval=100ms"),
        &format!("{sweep_dir}@consensus.gossip_interval=250ms"),
        "--out",
        &report,
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("throughput_tps worse"), "{stdout}");
    let json = std::fs::read_to_string(Path::new(&report).join("compare.json")).unwrap();
    assert!(json.contains("\"regressed\": true"), "{json}");
    // The same sweep against itself: no regression.
    let output = celluler(&["compare", &sweep_dir, &sweep_dir, "--out", &report]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    // A metric no run has, or a split on a key the sweep lacks, is bad input.
    let output = celluler(&[
        "compare",
        &sweep_dir,
        &sweep_dir,
        "--metric",
        "finality_ms.p55",
        "--out",
        &report,
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let output = celluler(&[
        "compare",
        &format!("{sweep_dir}@network.loss=0"),
        &format!("{sweep_dir}@network.loss=0.1"),
        "--out",
        &report,
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
