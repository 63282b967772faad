//! `celluler validate`: exit 0 with a summary for valid scenarios, exit 2 with
//! one located message for each kind of invalid input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn celluler() -> Command {
    Command::new(env!("CARGO_BIN_EXE_celluler"))
}

fn scenarios_directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

const VALID: &str = r#"name = "probe"
seed = 7
duration = "30s"
[cells]
count = 16
[network]
latency = { distribution = "lognormal", median = "50ms", sigma = 0.4 }
loss = 0.01
bandwidth = "100Mbps"
topology = "full-mesh"
[workload]
tx_rate = "20/s"
[[faults]]
kind = "partition"
at = "10s"
heal = "15s"
groups = ["0..8", "8..16"]
[checks]
safety = true
"#;

/// Writes `text` to a fresh file named after the test and validates it.
fn validate_text(test_name: &str, text: &str) -> (i32, String, String, String) {
    let directory = Path::new(env!("CARGO_TARGET_TMPDIR")).join("validate");
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join(format!("{test_name}.toml"));
    std::fs::write(&path, text).unwrap();
    let output = celluler().arg("validate").arg(&path).output().unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
        path.display().to_string(),
    )
}

/// `VALID` with one substitution must fail with exit 2 and
/// `celluler: <path>:<position>: <message…>` on stderr.
fn assert_invalid(test_name: &str, replace: &str, with: &str, position: &str, message: &str) {
    assert!(VALID.contains(replace), "{replace}");
    let (status, stdout, stderr, path) =
        validate_text(test_name, &VALID.replacen(replace, with, 1));
    assert_eq!(status, 2, "{stderr}");
    assert!(stdout.is_empty(), "nothing printed on stdout: {stdout}");
    let expected = format!("celluler: {path}:{position}: {message}");
    assert!(
        stderr.starts_with(&expected),
        "expected\n{expected}\ngot\n{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
}

#[test]
fn every_library_scenario_validates_with_a_summary() {
    let mut count = 0;
    for entry in std::fs::read_dir(scenarios_directory()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "toml") {
            continue;
        }
        let output = celluler().arg("validate").arg(&path).output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let name = path.file_stem().unwrap().to_str().unwrap();
        assert!(
            stdout.contains(&format!("Scenario \"{name}\" (seed ")),
            "{stdout}"
        );
        count += 1;
    }
    assert!(
        count >= 8,
        "the library has its eight scenarios, found {count}"
    );
}

#[test]
fn quickstart_summary_names_seed_cells_duration_and_faults() {
    let output = celluler()
        .arg("validate")
        .arg(scenarios_directory().join("quickstart.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("quickstart.toml: valid"), "{stdout}");
    assert!(
        stdout.contains("Scenario \"quickstart\" (seed 7): 16 cells for 30s of virtual time"),
        "{stdout}"
    );
    assert!(
        stdout.contains("lognormal(median 50ms, sigma 0.4) latency, 1% loss"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 fault: partition into 2 groups at 10s, healed at 15s"),
        "{stdout}"
    );
}

#[test]
fn the_probe_itself_is_valid() {
    let (status, stdout, stderr, _) = validate_text("probe", VALID);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains("16 cells"), "{stdout}");
}

#[test]
fn stall_inversion_and_timestamp_band_checks_are_accepted() {
    let text = VALID.replacen(
        "safety = true",
        "safety = true\nmax_stall = \"10s\"\nmax_inversion_rate = 0.05\nmax_timestamp_band_violations = 0",
        1,
    );
    let (status, stdout, stderr, path) = validate_text("stall_inversion_band_checks", &text);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.contains(&format!("{path}: valid")), "{stdout}");
}

#[test]
fn inversion_rate_above_one_is_bad_input() {
    assert_invalid(
        "inversion_rate_above_one",
        "safety = true",
        "safety = true\nmax_inversion_rate = 2",
        "20:22",
        "max_inversion_rate must be between 0 and 1, got 2",
    );
}

#[test]
fn missing_file_is_bad_input() {
    let output = celluler()
        .args(["validate", "no/such/scenario.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("celluler: no/such/scenario.toml: cannot read:"),
        "{stderr}"
    );
}

#[test]
fn unknown_key_lists_the_allowed_ones() {
    assert_invalid(
        "unknown_key",
        "loss = 0.01",
        "lose = 0.01",
        "8:1",
        "unknown key `lose` in [network]; allowed keys: latency, loss, duplicate, bandwidth, queue_limit, topology, regions, region_latency",
    );
}

#[test]
fn unknown_top_level_key() {
    assert_invalid(
        "unknown_top_level_key",
        "seed = 7",
        "seed = 7\nsede = 8",
        "3:1",
        "unknown key `sede` in the top level; allowed keys: name, seed, duration",
    );
}

#[test]
fn wrong_type() {
    assert_invalid(
        "wrong_type",
        "count = 16",
        "count = \"sixteen\"",
        "5:9",
        "count must be an integer from 1 to 100000, got string \"sixteen\"",
    );
    assert_invalid(
        "wrong_type_table",
        "[cells]\ncount = 16",
        "cells = 16",
        "4:9",
        "[cells] must be a table, got integer 16",
    );
}

#[test]
fn loss_outside_zero_to_one() {
    assert_invalid(
        "loss_high",
        "loss = 0.01",
        "loss = 1.5",
        "8:8",
        "loss must be between 0 and 1, got 1.5",
    );
    assert_invalid(
        "loss_negative",
        "loss = 0.01",
        "loss = -0.1",
        "8:8",
        "loss must be between 0 and 1, got -0.1",
    );
}

#[test]
fn loss_of_the_wrong_type() {
    assert_invalid(
        "loss_string",
        "loss = 0.01",
        "loss = \"1%\"",
        "8:8",
        "loss must be a number between 0 and 1, got string \"1%\"",
    );
}

#[test]
fn group_naming_a_cell_that_does_not_exist() {
    assert_invalid(
        "group_missing_cell",
        "\"8..16\"]",
        "\"8..20\"]",
        "17:19",
        "groups names cell 19, which does not exist; cells are 0..16 (16 excluded)",
    );
    assert_invalid(
        "group_missing_cell_list",
        "\"8..16\"]",
        "[8, 9, 10, 11, 12, 13, 14, 15, 16]]",
        "17:50",
        "groups names cell 16, which does not exist",
    );
}

#[test]
fn overlapping_partition_groups() {
    assert_invalid(
        "overlapping_groups",
        "\"8..16\"]",
        "\"4..16\"]",
        "17:19",
        "groups: cell 4 is in both group 1 and group 2; groups must not overlap",
    );
}

#[test]
fn incomplete_partition_groups() {
    assert_invalid(
        "incomplete_groups",
        "\"8..16\"]",
        "\"8..14\"]",
        "17:10",
        "groups: cells 14..16 are in no group; the groups must together hold all 16 cells",
    );
}

#[test]
fn fault_after_the_end_of_the_run() {
    assert_invalid(
        "fault_after_end",
        "at = \"10s\"",
        "at = \"45s\"",
        "15:6",
        "fault 1 (partition) starts at 45s, at or after the end of the run (30s); it would never happen",
    );
}

#[test]
fn more_byzantine_than_cells() {
    assert_invalid(
        "more_byzantine",
        "[checks]",
        "[byzantine]\ncount = 17\n[checks]",
        "19:9",
        "more Byzantine cells (17) than cells (16)",
    );
}

#[test]
fn bad_duration_syntax() {
    assert_invalid(
        "bad_duration",
        "duration = \"30s\"",
        "duration = \"30 seconds\"",
        "3:12",
        "duration: expected a duration like \"30s\" or \"1.5ms\" (a number, then one of ns, us, ms, s, m), got \"30 seconds\"",
    );
    assert_invalid(
        "duration_not_string",
        "duration = \"30s\"",
        "duration = 30",
        "3:12",
        "duration must be a duration string such as \"100ms\"",
    );
}

#[test]
fn bad_rate_syntax() {
    assert_invalid(
        "bad_rate",
        "tx_rate = \"20/s\"",
        "tx_rate = \"20/hour\"",
        "12:11",
        "tx_rate: expected a rate like \"20/s\" (a number, '/', then one of ms, s, m), got \"20/hour\"",
    );
}

#[test]
fn bad_bandwidth_syntax() {
    assert_invalid(
        "bad_bandwidth",
        "\"100Mbps\"",
        "\"100 megabits\"",
        "9:13",
        "expected a bandwidth like \"100Mbps\" (a number, then one of bps, kbps, Mbps, Gbps, Tbps; bits per second), got \"100 megabits\"",
    );
}

#[test]
fn zero_cells() {
    assert_invalid(
        "zero_cells",
        "count = 16",
        "count = 0",
        "5:9",
        "count must be at least 1 (a scenario needs cells), got 0",
    );
}

#[test]
fn unknown_distribution() {
    assert_invalid(
        "unknown_distribution",
        "\"lognormal\"",
        "\"weibull\"",
        "7:28",
        "unknown distribution \"weibull\"; allowed: constant, uniform, normal, lognormal, pareto",
    );
}

#[test]
fn unknown_topology() {
    assert_invalid(
        "unknown_topology",
        "\"full-mesh\"",
        "\"hypercube\"",
        "10:12",
        "unknown topology \"hypercube\"; allowed: full-mesh, random-regular, small-world, scale-free, edges",
    );
}

#[test]
fn malformed_toml() {
    assert_invalid(
        "malformed_toml",
        "seed = 7",
        "seed = = 7",
        "2:8",
        "invalid TOML:",
    );
}
