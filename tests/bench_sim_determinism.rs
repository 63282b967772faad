//! The simulator's determinism across processes: the same seed run twice as
//! separate processes gives the same trace hash; another seed does not.

use std::process::Command;

fn bench_sim(cells: u32, seed: u64) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_celluler"))
        .args([
            "bench",
            "sim",
            "--cells",
            &cells.to_string(),
            "--seed",
            &seed.to_string(),
            "--json",
        ])
        .output()
        .expect("celluler runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let last = stdout.lines().last().expect("a summary line");
    serde_json::from_str(last).expect("the last line is one JSON object")
}

#[test]
fn same_seed_same_trace_hash_across_processes() {
    let first = bench_sim(200, 5);
    let second = bench_sim(200, 5);
    let hash = first["trace_hash"].as_str().expect("trace_hash");
    assert_eq!(hash.len(), 64);
    assert_eq!(Some(hash), second["trace_hash"].as_str());
    assert_eq!(first["deliveries"], second["deliveries"]);
    assert!(first["deliveries"].as_u64().unwrap() > 10_000);
    for field in ["deliveries_per_s", "virtual_to_wall", "peak_rss_mb"] {
        assert!(first[field].as_f64().is_some_and(|v| v > 0.0), "{field}");
    }
    let other = bench_sim(200, 6);
    assert_ne!(first["trace_hash"], other["trace_hash"]);
}

#[test]
fn trace_file_replays_and_a_tampered_one_diverges() {
    let directory = std::env::temp_dir().join(format!("celluler-trace-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("trace.jsonl");
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_celluler"))
            .args([
                "bench",
                "sim",
                "--cells",
                "50",
                "--seed",
                "3",
                "--virtual-ms",
                "200",
            ])
            .args(extra)
            .output()
            .expect("celluler runs")
    };
    assert!(run(&["--trace", path.to_str().unwrap()]).status.success());
    let replay = run(&["--replay", path.to_str().unwrap()]);
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );

    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(lines.len() > 100);
    lines.swap(40, 41);
    std::fs::write(&path, lines.join("\n")).unwrap();
    let diverged = run(&["--replay", path.to_str().unwrap()]);
    assert_eq!(diverged.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&diverged.stderr).contains("diverges at step 40"));
    std::fs::remove_dir_all(&directory).unwrap();
}
