//! The golden runs: every library scenario below 100 cells still gives the
//! trace hash and headline metrics recorded in scenarios/golden.json — and
//! a recording that differs is reported, naming the scenario and the value.
//! (One run of the library serves both: the copy differs in exactly one
//! entry, so any other difference is a real one.)

mod common;

use common::{celluler, fresh_dir};

#[test]
fn the_library_matches_its_golden_runs_and_a_changed_one_is_named() {
    let dir = fresh_dir("golden", "tampered");
    let golden = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/golden.json"),
    )
    .expect("scenarios/golden.json");
    let mut value: serde_json::Value = serde_json::from_str(&golden).unwrap();
    let quickstart = &mut value["runs"]["scenarios/quickstart.toml"];
    let recorded = quickstart["trace_hash"].as_str().unwrap().to_string();
    quickstart["trace_hash"] = serde_json::Value::String("0".repeat(64));
    let tampered = dir.join("golden.json");
    std::fs::write(&tampered, serde_json::to_string_pretty(&value).unwrap()).unwrap();

    let output = celluler(&[
        "golden",
        "--skip-large",
        "--quiet",
        "--file",
        tampered.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("  "))
        .collect();
    assert_eq!(
        lines,
        vec![format!(
            "  scenarios/quickstart.toml: trace hash 0000000000000000 → {}",
            &recorded[..16]
        )],
        "every other library scenario must match scenarios/golden.json; if a change \
         is intended, run `celluler golden --update` and review the diff:\n{stdout}"
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
}

/// The whole library, large scenarios included (large-1000 takes minutes and
/// ~5 GiB): `cargo test --release -- --ignored`.
#[test]
#[ignore = "large"]
fn the_whole_library_matches_its_golden_runs() {
    let output = celluler(&["golden", "--quiet"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
