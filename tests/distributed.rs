//! docs/distributed.md's shard script under the environments a Slurm array
//! task and a Kubernetes Indexed Job pod give it: the shards it writes merge
//! into the unsharded sweep, byte for byte; and the two job files call it
//! with a shard count that matches their task count.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_same_files, celluler, files_in, fresh_dir};

const SCENARIO: &str = r#"
name = "tiny"
seed = 1
duration = "3s"

[cells]
count = 5

[network]
latency = { distribution = "constant", value = "20ms" }
"#;

const SHARDS: u32 = 3;

/// Runs the shard script for every index with `environment(index)` set.
fn run_shards(root: &Path, scenario: &str, environment: impl Fn(u32) -> Vec<(String, String)>) {
    for index in 0..SHARDS {
        let output = Command::new("docs/distributed/sweep-shard.sh")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CELLULER", env!("CARGO_BIN_EXE_celluler"))
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env_remove("SLURM_ARRAY_TASK_COUNT")
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("SHARD_COUNT")
            .envs(environment(index))
            .args([
                root.to_str().unwrap(),
                scenario,
                "--seeds",
                "4",
                "--set",
                "network.loss=0,0.1",
            ])
            .output()
            .expect("the shard script runs");
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert!(root.join(format!("shard-{index}/shard.json")).is_file());
    }
}

#[test]
fn the_shard_script_under_slurm_and_kubernetes_merges_into_the_whole_sweep() {
    let dir = fresh_dir("distributed", "shards");
    let scenario = dir.join("tiny.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let scenario = scenario.display().to_string();
    let whole = dir.join("whole");
    let output = celluler(&[
        "sweep",
        &scenario,
        "--seeds",
        "4",
        "--set",
        "network.loss=0,0.1",
        "--out",
        whole.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let expected = files_in(&whole);

    let slurm = dir.join("slurm");
    run_shards(&slurm, &scenario, |index| {
        vec![
            ("SLURM_ARRAY_TASK_ID".into(), index.to_string()),
            ("SLURM_ARRAY_TASK_COUNT".into(), SHARDS.to_string()),
        ]
    });
    let kubernetes = dir.join("kubernetes");
    run_shards(&kubernetes, &scenario, |index| {
        vec![
            ("JOB_COMPLETION_INDEX".into(), index.to_string()),
            ("SHARD_COUNT".into(), SHARDS.to_string()),
        ]
    });
    for root in [&slurm, &kubernetes] {
        let shards: Vec<String> = (0..SHARDS)
            .map(|index| root.join(format!("shard-{index}")).display().to_string())
            .collect();
        let merged = root.join("merged");
        let mut args = vec!["merge"];
        args.extend(shards.iter().map(String::as_str));
        args.extend(["--out", merged.to_str().unwrap()]);
        let output = celluler(&args);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_same_files(&expected, &files_in(&merged));
    }

    // Without a scheduler's environment the script refuses (exit 2).
    let output = Command::new("docs/distributed/sweep-shard.sh")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SHARD_COUNT")
        .args([dir.to_str().unwrap(), &scenario])
        .output()
        .expect("the shard script runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

/// The value after `key` on the line that holds it.
fn value_after<'t>(text: &'t str, key: &str) -> &'t str {
    let line = text
        .lines()
        .find(|line| line.trim_start().starts_with(key))
        .unwrap_or_else(|| panic!("no {key}"));
    line.trim_start()[key.len()..].trim().trim_matches('"')
}

#[test]
fn the_job_files_run_the_shard_script_with_matching_shard_counts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/distributed");
    let sbatch = std::fs::read_to_string(root.join("slurm-sweep.sbatch")).unwrap();
    assert!(sbatch.contains("docs/distributed/sweep-shard.sh"));
    // Array task ids are shard indices: they start at 0.
    assert_eq!(value_after(&sbatch, "#SBATCH --array="), "0-7");

    let manifest = std::fs::read_to_string(root.join("kubernetes-sweep.yaml")).unwrap();
    assert_eq!(value_after(&manifest, "completionMode:"), "Indexed");
    let completions = value_after(&manifest, "completions:");
    let lines: Vec<&str> = manifest.lines().collect();
    let shard_count = lines
        .iter()
        .position(|line| line.trim() == "- name: SHARD_COUNT")
        .map(|at| value_after(lines[at + 1], "value:"))
        .expect("SHARD_COUNT is set");
    assert_eq!(
        completions, shard_count,
        "SHARD_COUNT must equal completions"
    );
    assert!(manifest.contains("- docs/distributed/sweep-shard.sh"));
}
