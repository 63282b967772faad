//! Parser tests: the shape from issue 6, every library file, and hostile text.

use super::*;
use celluler_core::time::{NS_PER_MS, NS_PER_S};
use proptest::prelude::*;

const ISSUE_EXAMPLE: &str = r#"
name = "quickstart"
seed = 7
duration = "30s"
[cells]
count = 16
[consensus]
gossip_interval = "100ms"
coin_round_frequency = 10
[network]
latency = { distribution = "lognormal", median = "50ms", sigma = 0.4 }
loss = 0.01
duplicate = 0.0
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
max_finality_p99 = "5s"
min_throughput_tps = 10
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse("test.toml", text)
}

/// The issue's example with `replace` swapped for `with`; the swap must apply.
fn variant(replace: &str, with: &str) -> String {
    assert!(ISSUE_EXAMPLE.contains(replace), "{replace}");
    ISSUE_EXAMPLE.replacen(replace, with, 1)
}

fn error_of(text: &str) -> ScenarioError {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(error) => error,
    }
}

#[test]
fn issue_example_parses_to_the_stated_values() {
    let scenario = parse(ISSUE_EXAMPLE).unwrap();
    assert_eq!(scenario.name, "quickstart");
    assert_eq!(scenario.seed, 7);
    assert_eq!(scenario.duration_ns, 30 * NS_PER_S);
    assert_eq!(scenario.cells.count, 16);
    assert_eq!(scenario.consensus.gossip_interval_ns, 100 * NS_PER_MS);
    assert_eq!(scenario.consensus.coin_round_frequency, 10);
    assert_eq!(
        scenario.network.latency,
        Latency::Uniform(Distribution::LogNormal {
            median_ns: 50 * NS_PER_MS,
            sigma: 0.4
        })
    );
    assert_eq!(scenario.network.loss, 0.01);
    assert_eq!(
        scenario.network.loss_probability(),
        celluler_core::rng::Probability::from_f64(0.01).unwrap()
    );
    assert_eq!(
        scenario.network.bandwidth_bits_per_second,
        Some(100_000_000)
    );
    assert_eq!(scenario.network.topology, Topology::FullMesh);
    assert_eq!(scenario.workload.tx_rate.per_second(), 20.0);
    assert_eq!(
        scenario.faults,
        vec![Fault::Partition {
            at_ns: 10 * NS_PER_S,
            heal_ns: Some(15 * NS_PER_S),
            groups: vec![(0..8).collect(), (8..16).collect()],
        }]
    );
    assert!(scenario.checks.safety);
    assert_eq!(scenario.checks.max_finality_p99_ns, Some(5 * NS_PER_S));
    assert_eq!(scenario.checks.min_throughput_tps, Some(10.0));
    assert!(scenario.byzantine.cells.is_empty());
    assert_eq!(scenario.honest_cells().len(), 16);
    let summary = scenario.summary();
    assert!(
        summary.contains("\"quickstart\" (seed 7): 16 cells for 30s"),
        "{summary}"
    );
    assert!(
        summary.contains("1 fault: partition into 2 groups at 10s, healed at 15s"),
        "{summary}"
    );
}

#[test]
fn minimal_scenario_takes_documented_defaults() {
    let scenario =
        parse("name = \"m\"\nseed = 0\nduration = \"1s\"\n[cells]\ncount = 1\n").unwrap();
    assert_eq!(scenario.consensus.gossip_interval_ns, 100 * NS_PER_MS);
    assert_eq!(scenario.consensus.coin_round_frequency, 10);
    assert_eq!(
        scenario.network.latency,
        Latency::Uniform(Distribution::Constant {
            value_ns: 50 * NS_PER_MS
        })
    );
    assert_eq!(scenario.network.loss, 0.0);
    assert_eq!(scenario.workload.tx_rate.per_second(), 10.0);
    assert!(scenario.checks.safety && !scenario.checks.liveness);
    assert_eq!(scenario.cells.stake, 1);
    assert_eq!(scenario.cells.genesis_balance, 1_000_000);
}

#[test]
fn every_library_scenario_validates() {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&directory).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|extension| extension == "toml")
        {
            let scenario = Scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
            assert_eq!(
                path.file_stem().unwrap().to_str().unwrap(),
                scenario.name,
                "a library file is named after its scenario"
            );
            names.push(scenario.name);
        }
    }
    // The issue's library; more files may join it, each validated above.
    for expected in [
        "baseline-100",
        "clock-skew",
        "crash-restart",
        "large-1000",
        "lossy-10pct",
        "partition-heal",
        "quickstart",
        "regions",
    ] {
        assert!(
            names.iter().any(|name| name == expected),
            "scenarios/{expected}.toml is missing"
        );
    }
}

#[test]
fn regions_scenario_assigns_every_cell() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regions.toml");
    let scenario = Scenario::load(&path).unwrap();
    let Latency::Regions(regions) = &scenario.network.latency else {
        panic!("regions.toml has regions");
    };
    assert_eq!(regions.names, ["eu", "us-east", "asia"]);
    assert_eq!(regions.region_of_cell.len(), 45);
    assert_eq!(regions.region_of_cell[14], 0);
    assert_eq!(regions.region_of_cell[15], 1);
    assert_eq!(regions.region_of_cell[44], 2);
    assert_eq!(
        regions.distribution(0, 44),
        &Distribution::LogNormal {
            median_ns: 120 * NS_PER_MS,
            sigma: 0.2
        }
    );
}

#[test]
fn every_fault_kind_and_topology_parses() {
    let text = variant(
        "[[faults]]",
        r#"[[faults]]
kind = "crash"
cells = [1, "3..5"]
at = "2s"
restart = "4s"
[[faults]]
kind = "link"
from = 0
to = "all"
at = "1s"
latency = "20ms"
direction = "one-way"
[[faults]]
kind = "clock-skew"
cells = "2"
offset = "-250ms"
drift = -50
[[faults]]
kind = "pause"
cells = [9]
at = "3s"
until = "3.5s"
[[faults]]"#,
    );
    let scenario = parse(&text).unwrap();
    assert_eq!(
        scenario.faults[0],
        Fault::Crash {
            cells: vec![1, 3, 4],
            at_ns: 2 * NS_PER_S,
            restart_ns: Some(4 * NS_PER_S)
        }
    );
    assert_eq!(
        scenario.faults[1],
        Fault::Link {
            from: vec![0],
            to: (0..16).collect(),
            at_ns: NS_PER_S,
            until_ns: None,
            loss: None,
            extra_latency: Some(Distribution::Constant {
                value_ns: 20 * NS_PER_MS
            }),
            direction: Direction::OneWay,
        }
    );
    assert_eq!(
        scenario.faults[2],
        Fault::ClockSkew {
            cells: vec![2],
            at_ns: 0,
            offset_ns: -250 * NS_PER_MS as i64,
            drift_ppm: -50
        }
    );
    assert_eq!(
        scenario.faults[3],
        Fault::Pause {
            cells: vec![9],
            at_ns: 3 * NS_PER_S,
            until_ns: 3_500 * NS_PER_MS
        }
    );
    assert_eq!(scenario.faults[4].kind(), "partition");

    let topologies = [
        (
            "{ kind = \"random-regular\", degree = 4 }",
            Topology::RandomRegular { degree: 4 },
        ),
        (
            "{ kind = \"small-world\", neighbors = 4, rewire = 0.2 }",
            Topology::SmallWorld {
                neighbors: 4,
                rewire: 0.2,
            },
        ),
        (
            "{ kind = \"scale-free\", edges = 2 }",
            Topology::ScaleFree { edges: 2 },
        ),
        (
            "{ kind = \"edges\", edges = [[2, 1], [0, 1]] }",
            Topology::Edges(vec![(0, 1), (1, 2)]),
        ),
    ];
    for (text, expected) in topologies {
        let scenario = parse(&variant("\"full-mesh\"", text)).unwrap();
        assert_eq!(scenario.network.topology, expected, "{text}");
    }
}

#[test]
fn byzantine_count_takes_the_last_cells() {
    let scenario = parse(&variant("[checks]", "[byzantine]\ncount = 5\n[checks]")).unwrap();
    assert_eq!(scenario.byzantine.cells, (11..16).collect::<Vec<_>>());
    assert_eq!(scenario.honest_cells(), (0..11).collect::<Vec<_>>());
    let scenario = parse(&variant(
        "[checks]",
        "[byzantine]\ncells = [0, 3]\n[checks]",
    ))
    .unwrap();
    assert_eq!(scenario.byzantine.cells, vec![0, 3]);
}

/// `(replace, with, expected line:column, expected message fragment)`.
const INVALID: &[(&str, &str, &str, &str)] = &[
    (
        "latency = { distribution = \"lognormal\", median = \"50ms\", sigma = 0.4 }",
        "latency = { median = \"50ms\" }",
        "11:11",
        "latency needs `distribution`, one of: constant",
    ),
    (
        "topology = \"full-mesh\"",
        "topology = { degree = 4 }",
        "15:12",
        "topology needs `kind`, one of: full-mesh",
    ),
    (
        "bandwidth = \"100Mbps\"",
        "bandwidth = \"100Mbps\"\nqueue_limit = \"lots\"",
        "15:15",
        "queue_limit: expected a size like \"256KiB\"",
    ),
    (
        "bandwidth = \"100Mbps\"",
        "queue_limit = 65536",
        "14:15",
        "queue_limit needs a bandwidth",
    ),
    (
        "loss = 0.01",
        "loss = 1.5",
        "12:8",
        "loss must be between 0 and 1, got 1.5",
    ),
    (
        "loss = 0.01",
        "lose = 0.01",
        "12:1",
        "unknown key `lose` in [network]; allowed keys: latency, loss",
    ),
    (
        "count = 16",
        "count = \"16\"",
        "6:9",
        "count must be an integer from 1 to 100000, got string \"16\"",
    ),
    ("count = 16", "count = 0", "6:9", "count must be at least 1"),
    (
        "\"8..16\"]",
        "\"8..17\"]",
        "22:19",
        "names cell 16, which does not exist; cells are 0..16",
    ),
    (
        "\"8..16\"]",
        "\"7..16\"]",
        "22:19",
        "cell 7 is in both group 1 and group 2",
    ),
    (
        "\"8..16\"]",
        "\"8..12\"]",
        "22:10",
        "cells 12..16 are in no group",
    ),
    (
        "at = \"10s\"",
        "at = \"40s\"",
        "20:6",
        "starts at 40s, at or after the end of the run (30s)",
    ),
    (
        "heal = \"15s\"",
        "heal = \"5s\"",
        "21:8",
        "heal (5s) must be after at (10s)",
    ),
    (
        "gossip_interval = \"100ms\"",
        "gossip_interval = \"100\"",
        "8:19",
        "expected a duration like",
    ),
    (
        "gossip_interval = \"100ms\"",
        "gossip_interval = 100",
        "8:19",
        "must be a duration string",
    ),
    (
        "tx_rate = \"20/s\"",
        "tx_rate = \"20 per second\"",
        "17:11",
        "expected a rate like \"20/s\"",
    ),
    (
        "bandwidth = \"100Mbps\"",
        "bandwidth = \"100MB\"",
        "14:13",
        "expected a bandwidth like \"100Mbps\"",
    ),
    (
        "\"lognormal\"",
        "\"gamma\"",
        "11:28",
        "unknown distribution \"gamma\"; allowed: constant, uniform, normal, lognormal, pareto",
    ),
    (
        "\"full-mesh\"",
        "\"ring\"",
        "15:12",
        "unknown topology \"ring\"; allowed: full-mesh",
    ),
    (
        "\"full-mesh\"",
        "{ kind = \"random-regular\", degree = 16 }",
        "15:48",
        "degree must be an integer from 1 to 15",
    ),
    (
        "kind = \"partition\"",
        "kind = \"meteor\"",
        "19:8",
        "unknown fault kind \"meteor\"",
    ),
    (
        "[checks]",
        "[byzantine]\ncount = 20\n[checks]",
        "24:9",
        "more Byzantine cells (20) than cells (16)",
    ),
    (
        "[checks]",
        "[byzantine]\ncount = 16\n[checks]",
        "24:9",
        "at least one cell must be honest",
    ),
    (
        "safety = true",
        "safety = \"yes\"",
        "24:10",
        "safety must be true or false",
    ),
    (
        "seed = 7",
        "seed = -1",
        "3:8",
        "seed must be an integer of at least 0",
    ),
    (
        "name = \"quickstart\"",
        "name = \"../etc\"",
        "2:8",
        "name must be 1 to 64 letters",
    ),
    (
        "duration = \"30s\"",
        "duration = \"0s\"",
        "4:12",
        "duration must be longer than 0",
    ),
    (
        "duration = \"30s\"",
        "duration = \"1.5ns\"",
        "4:12",
        "not a whole number of nanoseconds",
    ),
    (
        "seed = 7\n",
        "",
        "1:1",
        "missing key `seed` in the top level",
    ),
    (
        "sigma = 0.4",
        "sigma = 0.4, mean = \"3ms\"",
        "11:71",
        "unknown key `mean` in the lognormal distribution of latency; allowed keys: distribution, median, sigma",
    ),
    (
        "[cells]",
        "[cells]\nregion = 1",
        "6:1",
        "unknown key `region` in [cells]",
    ),
    (
        "duplicate = 0.0",
        "duplicate = -0.5",
        "13:13",
        "duplicate must be between 0 and 1, got -0.5",
    ),
    (
        "duration = \"30s\"",
        "duration = \"30s\"\nduration = \"40s\"",
        "5:1",
        "invalid TOML: duplicate key",
    ),
];

#[test]
fn invalid_input_gives_one_located_message() {
    for &(replace, with, position, fragment) in INVALID {
        let error = error_of(&variant(replace, with));
        let shown = error.to_string();
        assert_eq!(
            format!("{}:{}", error.line, error.column),
            position,
            "{replace} -> {with}: {shown}"
        );
        assert!(
            shown.starts_with(&format!("test.toml:{position}: ")),
            "{shown}"
        );
        assert!(shown.contains(fragment), "{replace} -> {with}: {shown}");
    }
}

#[test]
fn regions_must_cover_cells_and_match_the_matrix() {
    let base = |regions: &str, matrix: &str| {
        format!(
            "name = \"r\"\nseed = 1\nduration = \"10s\"\n[cells]\ncount = 6\n[network]\nregion_latency = {matrix}\n{regions}"
        )
    };
    let two = "[[network.regions]]\nname = \"a\"\ncells = \"0..3\"\n[[network.regions]]\nname = \"b\"\ncells = \"3..6\"\n";
    let matrix =
        "[[\"5ms\", \"50ms\"], [\"50ms\", { distribution = \"constant\", value = \"5ms\" }]]";
    assert!(parse(&base(two, matrix)).is_ok());
    let error = error_of(&base(two, "[[\"5ms\", \"50ms\"]]"));
    assert!(error.message.contains("2×2"), "{error}");
    let error = error_of(&base(two, "[[\"5ms\"], [\"50ms\", \"5ms\"]]"));
    assert!(error.message.contains("must have 2 entries"), "{error}");
    let gap = two.replace("\"3..6\"", "\"4..6\"");
    let error = error_of(&base(&gap, matrix));
    assert!(
        error.message.contains("cells 3 are in no region"),
        "{error}"
    );
    let text = base(two, matrix).replace("[network]\n", "[network]\nlatency = \"5ms\"\n");
    assert!(
        error_of(&text)
            .message
            .contains("cannot be combined with regions")
    );
}

#[test]
fn cell_groups_reject_empty_reversed_and_repeated() {
    for (group, fragment) in [
        ("\"8..8\"", "is empty"),
        ("\"9..8\"", "is empty"),
        ("[8, \"8..16\"]", "lists cell 8 twice"),
        ("[]", "names no cell"),
        ("\"eight\"", "a range like \"0..8\""),
        ("\"8..99999999999999999999\"", "a range like"),
        ("\"8..4000000000\"", "does not exist"),
        ("1.5", "must be a cell index"),
    ] {
        let error = error_of(&variant("\"8..16\"]", &format!("{group}]")));
        assert!(error.message.contains(fragment), "{group}: {error}");
    }
}

/// The issue's example with `extra` added as the last line of `[checks]`
/// (line 27 of the text).
fn with_check(extra: &str) -> String {
    variant(
        "min_throughput_tps = 10\n",
        &format!("min_throughput_tps = 10\n{extra}\n"),
    )
}

#[test]
fn stall_inversion_and_timestamp_band_checks_parse() {
    let scenario = parse(&with_check(
        "max_stall = \"10s\"\nmax_inversion_rate = 0.05\nmax_timestamp_band_violations = 3",
    ))
    .unwrap();
    assert_eq!(scenario.checks.max_stall_ns, Some(10 * NS_PER_S));
    assert_eq!(scenario.checks.max_inversion_rate, Some(0.05));
    assert_eq!(scenario.checks.max_timestamp_band_violations, Some(3));

    // Both ends of each range are allowed; an integer rate is a number.
    let scenario = parse(&with_check(
        "max_stall = \"1ns\"\nmax_inversion_rate = 0\nmax_timestamp_band_violations = 0",
    ))
    .unwrap();
    assert_eq!(scenario.checks.max_stall_ns, Some(1));
    assert_eq!(scenario.checks.max_inversion_rate, Some(0.0));
    assert_eq!(scenario.checks.max_timestamp_band_violations, Some(0));
    let scenario = parse(&with_check(
        "max_stall = \"1.5m\"\nmax_inversion_rate = 1\nmax_timestamp_band_violations = 9223372036854775807",
    ))
    .unwrap();
    assert_eq!(scenario.checks.max_stall_ns, Some(90 * NS_PER_S));
    assert_eq!(scenario.checks.max_inversion_rate, Some(1.0));
    assert_eq!(
        scenario.checks.max_timestamp_band_violations,
        Some(i64::MAX as u64)
    );

    // Absent, they are not checked.
    let scenario = parse(ISSUE_EXAMPLE).unwrap();
    assert_eq!(scenario.checks.max_stall_ns, None);
    assert_eq!(scenario.checks.max_inversion_rate, None);
    assert_eq!(scenario.checks.max_timestamp_band_violations, None);
}

#[test]
fn stall_inversion_and_timestamp_band_checks_reject_bad_values() {
    for (extra, position, message) in [
        (
            "max_stall = 10",
            "27:13",
            "max_stall must be a duration string such as \"100ms\" or \"1.5s\" (units ns, us, ms, s, m), got integer 10",
        ),
        (
            "max_stall = \"0s\"",
            "27:13",
            "max_stall must be longer than 0",
        ),
        (
            "max_stall = \"-1s\"",
            "27:13",
            "max_stall: expected a duration like \"30s\" or \"1.5ms\"",
        ),
        (
            "max_stall = \"ten seconds\"",
            "27:13",
            "max_stall: expected a duration like \"30s\" or \"1.5ms\" (a number, then one of ns, us, ms, s, m), got \"ten seconds\"",
        ),
        (
            "max_inversion_rate = 2",
            "27:22",
            "max_inversion_rate must be between 0 and 1, got 2",
        ),
        (
            "max_inversion_rate = 1.01",
            "27:22",
            "max_inversion_rate must be between 0 and 1, got 1.01",
        ),
        (
            "max_inversion_rate = -0.1",
            "27:22",
            "max_inversion_rate must be between 0 and 1, got -0.1",
        ),
        (
            "max_inversion_rate = \"5%\"",
            "27:22",
            "max_inversion_rate must be a number between 0 and 1, got string \"5%\"",
        ),
        (
            "max_inversion_rate = nan",
            "27:22",
            "max_inversion_rate must be a finite number, got float nan",
        ),
        (
            "max_timestamp_band_violations = -1",
            "27:33",
            "max_timestamp_band_violations must be an integer of at least 0, got -1",
        ),
        (
            "max_timestamp_band_violations = 1.5",
            "27:33",
            "max_timestamp_band_violations must be an integer of at least 0, got float 1.5",
        ),
        (
            "max_timestamp_band_violations = 2.0",
            "27:33",
            "max_timestamp_band_violations must be an integer of at least 0, got float 2.0",
        ),
        (
            "max_timestamp_band_violations = \"3\"",
            "27:33",
            "max_timestamp_band_violations must be an integer of at least 0, got string \"3\"",
        ),
        (
            "max_timestamp_band_violations = true",
            "27:33",
            "max_timestamp_band_violations must be an integer of at least 0, got boolean true",
        ),
        (
            "max_timestamp_band_violations = 99999999999999999999",
            "27:33",
            "max_timestamp_band_violations must be an integer of at least 0",
        ),
        (
            "max_stalls = \"5s\"",
            "27:1",
            "unknown key `max_stalls` in [checks]; allowed keys: safety, liveness, max_finality_p99, min_throughput_tps, max_stall, max_inversion_rate, max_timestamp_band_violations",
        ),
    ] {
        let error = error_of(&with_check(extra));
        let shown = error.to_string();
        assert_eq!(
            format!("{}:{}", error.line, error.column),
            position,
            "{extra}: {shown}"
        );
        assert!(
            shown.starts_with(&format!("test.toml:{position}: {message}")),
            "{extra}: {shown}"
        );
    }
}

#[test]
fn oversized_file_is_refused_before_parsing() {
    let text = format!("{ISSUE_EXAMPLE}\n#{}", "x".repeat(FILE_BYTES_MAX));
    let error = error_of(&text);
    assert_eq!((error.line, error.column), (0, 0));
    assert!(error.message.contains("at most"), "{error}");
}

#[test]
fn format_duration_picks_an_exact_unit() {
    assert_eq!(format_duration(30 * NS_PER_S), "30s");
    assert_eq!(format_duration(1_500 * NS_PER_MS), "1.5s");
    assert_eq!(format_duration(100 * NS_PER_MS), "100ms");
    assert_eq!(format_duration(120 * NS_PER_S), "2m");
    assert_eq!(format_duration(7), "7ns");
    assert_eq!(format_duration(0), "0s");
    assert_eq!(format_duration(u64::MAX), "18446744073709551.615us");
    assert_eq!(format_duration(1_234_567), "1234.567us");
}

/// Lines a mutation can splice in: valid, invalid, and malformed TOML.
const FRAGMENTS: &[&str] = &[
    "[network]",
    "[[faults]]",
    "[cells]",
    "count = 99999999999999999999",
    "loss = nan",
    "loss = inf",
    "at = \"1e400s\"",
    "groups = [[[]]]",
    "groups = [\"0..\", \"..\"]",
    "cells = \"4294967295..4294967296\"",
    "latency = { distribution = \"pareto\", scale = \"0s\", shape = 0 }",
    "topology = { kind = \"edges\", edges = [[0, 0]] }",
    "kind = \"link\"",
    "x = {",
    "]]",
    "=",
    "duration = \"18446744073709551615ns\"",
    "duration = \"18446744073709551616ns\"",
    "offset = \"-\"",
    "drift = -9223372036854775808",
    "name = \"é\"",
    "\u{0}",
    "count = 0x10",
    "regions = [{ name = \"a\", cells = \"all\" }]",
    "region_latency = [[\"1ms\"]]",
    "[byzantine]",
    "count = 3",
    "cells = [1, [2]]",
    "tx_rate = \"0.0000000000000000001/s\"",
];

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = parse(&text);
    }

    #[test]
    fn mutated_scenarios_never_panic(
        edits in proptest::collection::vec((0usize..40, 0usize..FRAGMENTS.len(), any::<bool>()), 1..6)
    ) {
        let mut lines: Vec<String> = ISSUE_EXAMPLE.lines().map(str::to_string).collect();
        for (line, fragment, replace) in edits {
            let line = line % (lines.len() + 1);
            if replace && line < lines.len() {
                lines[line] = FRAGMENTS[fragment].to_string();
            } else {
                lines.insert(line, FRAGMENTS[fragment].to_string());
            }
        }
        let text = lines.join("\n");
        if let Err(error) = parse(&text) {
            // Every located error points inside the text.
            prop_assert!(error.line >= 1);
            prop_assert!(error.line as usize <= text.lines().count() + 1);
            prop_assert!(!error.message.is_empty());
        }
    }

    #[test]
    fn byte_flips_never_panic(position in 0usize..600, byte in any::<u8>()) {
        let mut bytes = ISSUE_EXAMPLE.as_bytes().to_vec();
        let position = position % bytes.len();
        bytes[position] = byte;
        if let Ok(text) = String::from_utf8(bytes) {
            let _ = parse(&text);
        }
    }
}

/// The fault and region examples in docs/scenarios.md are valid as written.
#[test]
fn documentation_examples_validate() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenarios.md");
    let documentation = std::fs::read_to_string(path).unwrap();
    let blocks: Vec<&str> = documentation
        .split("```toml\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 2, "docs/scenarios.md has its toml examples");
    for block in blocks {
        // The fault examples use 16 cells, the region example 45.
        let count = if block.contains("[[faults]]") { 16 } else { 45 };
        let header =
            format!("name = \"docs\"\nseed = 1\nduration = \"30s\"\n[cells]\ncount = {count}\n");
        let text = format!("{header}{block}");
        if let Err(error) = parse(&text) {
            panic!("{error}\n{text}");
        }
    }
}

#[test]
fn large_groups_and_edge_lists_are_checked_in_linear_time() {
    // Quadratic duplicate checks would take minutes here.
    let halves = "[\"0..50000\", \"50000..100000\"]";
    let text = format!(
        "name = \"big\"\nseed = 1\nduration = \"1s\"\n[cells]\ncount = 100000\n[workload]\nsubmitters = {halves}\n"
    );
    assert_eq!(
        parse(&text).unwrap().workload.submitters.unwrap().len(),
        100_000
    );
    let overlapping = text.replace("\"0..50000\"", "\"0..50001\"");
    assert!(
        error_of(&overlapping)
            .message
            .contains("lists cell 50000 twice")
    );
    let edges: Vec<String> = (0..60_000u32)
        .map(|cell| format!("[{cell}, {}]", cell + 1))
        .collect();
    let text = format!(
        "name = \"ring\"\nseed = 1\nduration = \"1s\"\n[cells]\ncount = 100000\n[network]\ntopology = {{ kind = \"edges\", edges = [{}] }}\n",
        edges.join(", ")
    );
    let Topology::Edges(parsed) = parse(&text).unwrap().network.topology else {
        panic!("an edge list");
    };
    assert_eq!(parsed.len(), 60_000);
}

#[test]
fn scenario_serializes_for_reports() {
    let scenario = parse(ISSUE_EXAMPLE).unwrap().with_seed(99);
    let json = serde_json::to_value(&scenario).unwrap();
    assert_eq!(json["seed"], 99);
    assert_eq!(json["duration_ns"], 30_000_000_000u64);
    assert_eq!(
        json["network"]["latency"]["Uniform"]["LogNormal"]["median_ns"],
        50_000_000
    );
    assert_eq!(json["faults"][0]["Partition"]["heal_ns"], 15_000_000_000u64);
}

#[test]
fn consensus_store_is_shared_by_default_or_independent() {
    let scenario = parse(ISSUE_EXAMPLE).unwrap();
    assert_eq!(
        scenario.consensus.store,
        celluler_core::cell::StoreMode::Shared
    );
    let text = variant(
        "coin_round_frequency = 10",
        "coin_round_frequency = 10\nstore = \"independent\"",
    );
    let scenario = parse(&text).unwrap();
    assert_eq!(
        scenario.consensus.store,
        celluler_core::cell::StoreMode::Independent
    );
    assert_eq!(
        scenario.world_config().store,
        celluler_core::cell::StoreMode::Independent
    );
    for (bad, says) in [
        (
            "store = \"global\"",
            "must be \"shared\" or \"independent\"",
        ),
        ("store = 1", "store must be a string"),
    ] {
        let error = error_of(&variant(
            "coin_round_frequency = 10",
            &format!("coin_round_frequency = 10\n{bad}"),
        ));
        assert!(error.to_string().contains(says), "{bad}: {error}");
        // Line 10: the line after `coin_round_frequency` (line 9).
        assert_eq!(error.line, 10, "{bad}: {error}");
    }
}
