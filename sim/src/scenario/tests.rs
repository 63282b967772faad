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
    "[[byzantine]]",
    "behavior = \"eclipse\"",
    "behavior = \"double-spend\"",
    "behavior = \"censor\"",
    "params = { victims = \"all\", share = 1e-7, kinds = [\"replay\", 3] }",
    "params = { at = \"40s\", offset = \"-\", branches = 99 }",
    "from = \"29.999999999s\"",
    "until = \"30s\"",
    "clients = 3",
    "entry = \"all\"",
    "[expect]",
    "agreement = 1",
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
        // The fault, Byzantine and workload examples use 16 cells, the
        // region example 45.
        let count = if block.contains("[network]") { 45 } else { 16 };
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
    assert_eq!(scenario.consensus.store, crate::arena::StoreMode::Shared);
    let text = variant(
        "coin_round_frequency = 10",
        "coin_round_frequency = 10\nstore = \"independent\"",
    );
    let scenario = parse(&text).unwrap();
    assert_eq!(
        scenario.consensus.store,
        crate::arena::StoreMode::Independent
    );
    assert_eq!(
        scenario.world_config().store,
        crate::arena::StoreMode::Independent
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

/// The issue's example with `blocks` inserted before `[checks]`; the first
/// inserted line is line 23.
fn with_byzantine(blocks: &str) -> String {
    variant("[checks]", &format!("{blocks}\n[checks]"))
}

/// One `[[byzantine]]` block on cells 12..16 with `extra` lines after it.
fn block(behavior: &str, extra: &str) -> String {
    format!("[[byzantine]]\nbehavior = \"{behavior}\"\ncells = \"12..16\"\n{extra}")
}

/// The behaviour of a lone block on cells 12..16.
fn behaviour_of(text: &str) -> Behaviour {
    let scenario = parse(text).unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert_eq!(scenario.byzantine.cells, (12..16).collect::<Vec<_>>());
    assert_eq!(scenario.byzantine.behaviours.len(), 1);
    let block = &scenario.byzantine.behaviours[0];
    assert_eq!(block.cells, (12..16).collect::<Vec<_>>());
    assert_eq!((block.from_ns, block.until_ns), (0, None));
    block.behaviour.clone()
}

/// The issue's example with 50 clients entering through cells 8..16, so the
/// censor cells 12..16 are entry cells.
fn with_clients(blocks: &str) -> String {
    with_byzantine(blocks).replacen(
        "tx_rate = \"20/s\"",
        "tx_rate = \"20/s\"\nclients = 50\nentry = \"8..16\"",
        1,
    )
}

fn rate_of(text: &str) -> Rate {
    units::parse_rate(text).unwrap()
}

#[test]
fn every_behaviour_parses_with_its_defaults() {
    let table = [
        ("equivocate", "", Behaviour::Equivocate { branches: 2 }),
        (
            "withhold",
            "",
            Behaviour::Withhold {
                hold_ns: 2 * NS_PER_S,
                release: WithholdRelease::Burst,
            },
        ),
        (
            "eclipse",
            "params = { victims = \"0..4\" }",
            Behaviour::Eclipse {
                victims: (0..4).collect(),
                mode: EclipseMode::Drop,
                delay_ns: 2 * NS_PER_S,
            },
        ),
        (
            "delay",
            "",
            Behaviour::Delay {
                hold_ns: 300 * NS_PER_MS,
                victims: None,
                share_ppm: 340_000,
            },
        ),
        (
            "timestamp-skew",
            "",
            Behaviour::TimestampSkew {
                offset_ns: 60 * NS_PER_S as i64,
            },
        ),
        (
            "front-run",
            "",
            Behaviour::FrontRun {
                victims: None,
                fee_bump: 1,
            },
        ),
        (
            "spam",
            "",
            Behaviour::Spam {
                rate: rate_of("200/s"),
                kind: SpamKind::Transactions,
            },
        ),
        (
            "garbage",
            "",
            Behaviour::Garbage {
                rate: rate_of("20/s"),
                kinds: vec![
                    GarbageKind::Malformed,
                    GarbageKind::BadSignature,
                    GarbageKind::Replay,
                    GarbageKind::Mutated,
                ],
            },
        ),
        (
            "sybil",
            "",
            Behaviour::Sybil {
                identities: 20,
                attack_edges: 2,
                rate: rate_of("20/s"),
            },
        ),
        (
            "double-spend",
            "",
            Behaviour::DoubleSpend {
                at_ns: 5 * NS_PER_S,
                amount: None,
            },
        ),
        (
            "wrong-exec",
            "",
            Behaviour::WrongExec {
                share_ppm: 1_000_000,
            },
        ),
    ];
    for (name, extra, expected) in table {
        let behaviour = behaviour_of(&with_byzantine(&block(name, extra)));
        assert_eq!(behaviour, expected, "{name}");
        assert_eq!(behaviour.name(), name);
    }
    assert_eq!(
        behaviour_of(&with_clients(&block("censor", ""))),
        Behaviour::Censor {
            clients: None,
            mode: CensorMode::Drop,
            hold_ns: 5 * NS_PER_S,
        }
    );
}

#[test]
fn every_behaviour_parses_with_explicit_params() {
    let table = [
        (
            "equivocate",
            "params = { branches = 8 }",
            Behaviour::Equivocate { branches: 8 },
        ),
        (
            "withhold",
            "params = { hold = \"500ms\", release = \"burst\" }",
            Behaviour::Withhold {
                hold_ns: 500 * NS_PER_MS,
                release: WithholdRelease::Burst,
            },
        ),
        (
            "withhold",
            "params = { release = \"never\" }",
            Behaviour::Withhold {
                hold_ns: 2 * NS_PER_S,
                release: WithholdRelease::Never,
            },
        ),
        (
            "eclipse",
            "params = { victims = [0, 2], mode = \"delay\", delay = \"750ms\" }",
            Behaviour::Eclipse {
                victims: vec![0, 2],
                mode: EclipseMode::Delay,
                delay_ns: 750 * NS_PER_MS,
            },
        ),
        (
            "delay",
            "params = { hold = \"1s\", victims = \"0..2\", share = 0.5 }",
            Behaviour::Delay {
                hold_ns: NS_PER_S,
                victims: Some(vec![0, 1]),
                share_ppm: 500_000,
            },
        ),
        (
            "timestamp-skew",
            "params = { offset = \"-30s\" }",
            Behaviour::TimestampSkew {
                offset_ns: -30 * NS_PER_S as i64,
            },
        ),
        (
            "front-run",
            "params = { victims = 3, fee_bump = 0 }",
            Behaviour::FrontRun {
                victims: Some(vec![3]),
                fee_bump: 0,
            },
        ),
        (
            "spam",
            "params = { rate = \"50/s\", kind = \"events\" }",
            Behaviour::Spam {
                rate: rate_of("50/s"),
                kind: SpamKind::Events,
            },
        ),
        (
            "garbage",
            "params = { rate = \"0.5/s\", kinds = [\"replay\", \"malformed\"] }",
            Behaviour::Garbage {
                rate: rate_of("0.5/s"),
                kinds: vec![GarbageKind::Malformed, GarbageKind::Replay],
            },
        ),
        (
            "sybil",
            "params = { identities = 10000, attack_edges = 0, rate = \"0/s\" }",
            Behaviour::Sybil {
                identities: 10_000,
                attack_edges: 0,
                rate: rate_of("0/s"),
            },
        ),
        (
            // A params sub-table is the same as an inline table.
            "double-spend",
            "[byzantine.params]\nat = \"7s\"\namount = 500",
            Behaviour::DoubleSpend {
                at_ns: 7 * NS_PER_S,
                amount: Some(500),
            },
        ),
        (
            "wrong-exec",
            "params = { share = 0.25 }",
            Behaviour::WrongExec { share_ppm: 250_000 },
        ),
    ];
    for (name, extra, expected) in table {
        assert_eq!(
            behaviour_of(&with_byzantine(&block(name, extra))),
            expected,
            "{name}: {extra}"
        );
    }
    assert_eq!(
        behaviour_of(&with_clients(&block(
            "censor",
            "params = { clients = \"0..10\", mode = \"hold\", hold = \"3s\" }"
        ))),
        Behaviour::Censor {
            clients: Some((0..10).collect()),
            mode: CensorMode::Hold,
            hold_ns: 3 * NS_PER_S,
        }
    );
}

#[test]
fn delay_share_is_exact_parts_per_million() {
    for (share, expected_ppm) in [
        ("0.34", 340_000),
        ("0", 0),
        ("1", 1_000_000),
        ("1.0", 1_000_000),
        ("0.000001", 1),
        ("3.4e-1", 340_000),
        ("34E-2", 340_000),
        ("0.1000000000", 100_000),
        ("-0.0", 0),
        ("+0.25", 250_000),
        ("0.333_333", 333_333),
    ] {
        let text = with_byzantine(&block("delay", &format!("params = {{ share = {share} }}")));
        let Behaviour::Delay { share_ppm, .. } = behaviour_of(&text) else {
            panic!("a delay block");
        };
        assert_eq!(share_ppm, expected_ppm, "{share}");
    }
    for (share, fragment) in [
        ("0.0000001", "at most 6 decimals"),
        ("0.3333333", "at most 6 decimals"),
        ("1.000001", "between 0 and 1, got 1.000001"),
        ("2", "between 0 and 1, got 2"),
        ("-0.1", "between 0 and 1, got -0.1"),
        ("1e9999999999999", "between 0 and 1"),
        ("1e-9999999999999", "at most 6 decimals"),
        ("nan", "between 0 and 1"),
        ("inf", "between 0 and 1"),
        ("0x1", "must be a number between 0 and 1"),
        ("\"34%\"", "must be a number between 0 and 1"),
    ] {
        let error = error_of(&with_byzantine(&block(
            "delay",
            &format!("params = {{ share = {share} }}"),
        )));
        assert!(error.message.contains(fragment), "{share}: {error}");
        // The params table is on line 26; share's value starts at column 20.
        assert_eq!((error.line, error.column), (26, 20), "{share}: {error}");
    }
}

#[test]
fn several_blocks_combine_into_one_byzantine_set() {
    let text = with_byzantine(
        r#"[[byzantine]]
behavior = "equivocate"
cells = "12..16"
from = "5s"
until = "20s"
params = { branches = 3 }

[[byzantine]]
behavior = "withhold"
count = 2

[[byzantine]]
behavior = "eclipse"
cells = [1, 13]
params = { victims = "2..4", mode = "delay" }"#,
    );
    let scenario = parse(&text).unwrap();
    let byzantine = &scenario.byzantine;
    // The union, sorted and without duplicates: 14 and 15 are in two blocks, 13 in two.
    assert_eq!(byzantine.cells, vec![1, 12, 13, 14, 15]);
    assert_eq!(
        scenario.honest_cells(),
        [0].into_iter().chain(2..12).collect::<Vec<_>>()
    );
    assert_eq!(byzantine.behaviours.len(), 3);
    let [equivocate, withhold, eclipse] = &byzantine.behaviours[..] else {
        panic!("three blocks");
    };
    assert_eq!(
        equivocate,
        &BehaviourBlock {
            cells: (12..16).collect(),
            from_ns: 5 * NS_PER_S,
            until_ns: Some(20 * NS_PER_S),
            behaviour: Behaviour::Equivocate { branches: 3 },
            line: 23,
        }
    );
    assert_eq!(withhold.cells, vec![14, 15]);
    assert_eq!(withhold.line, 30);
    assert_eq!(eclipse.cells, vec![1, 13]);
    assert_eq!(eclipse.line, 34);

    // Windows are half-open; a window without until lasts to the end.
    assert!(!equivocate.is_active_at(5 * NS_PER_S - 1));
    assert!(equivocate.is_active_at(5 * NS_PER_S));
    assert!(equivocate.is_active_at(20 * NS_PER_S - 1));
    assert!(!equivocate.is_active_at(20 * NS_PER_S));
    assert!(withhold.is_active_at(0) && withhold.is_active_at(30 * NS_PER_S));

    let names = |cell| {
        byzantine
            .blocks_of(cell)
            .map(|block| block.behaviour.name())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(13), ["equivocate", "eclipse"]);
    assert_eq!(names(15), ["equivocate", "withhold"]);
    assert_eq!(names(1), ["eclipse"]);
    assert!(names(0).is_empty());

    let summary = scenario.summary();
    assert!(
        summary.contains(
            "16 cells (5 Byzantine: equivocate on 12..16 from 5s until 20s; withhold on 14..16; eclipse on 1, 13 around 2..4) for 30s"
        ),
        "{summary}"
    );
    let json = serde_json::to_value(&scenario).unwrap();
    assert_eq!(
        json["byzantine"]["behaviours"][0]["behaviour"]["Equivocate"]["branches"],
        3
    );
    assert_eq!(
        json["byzantine"]["behaviours"][2]["behaviour"]["Eclipse"]["mode"],
        "Delay"
    );
}

#[test]
fn table_form_labels_cells_without_behaviours() {
    let scenario = parse(&with_byzantine("[byzantine]\ncells = \"10..12\"")).unwrap();
    assert_eq!(scenario.byzantine.cells, vec![10, 11]);
    assert!(scenario.byzantine.behaviours.is_empty());
    assert!(scenario.byzantine.blocks_of(10).next().is_none());
    assert!(
        scenario
            .summary()
            .contains("16 cells (2 Byzantine) for 30s"),
        "{}",
        scenario.summary()
    );
    // An empty array is no Byzantine cell at all.
    let scenario = parse(&variant("seed = 7", "seed = 7\nbyzantine = []")).unwrap();
    assert_eq!(scenario.byzantine, Byzantine::default());
}

#[test]
fn table_and_array_forms_cannot_be_mixed() {
    let error = error_of(&with_byzantine(&format!(
        "[byzantine]\ncount = 2\n{}",
        block("equivocate", "")
    )));
    assert_eq!(error.file, "test.toml");
    assert_eq!(error.line, 25, "{error}");
    assert!(error.message.starts_with("invalid TOML"), "{error}");
    let error = error_of(&variant("seed = 7", "seed = 7\nbyzantine = [1]"));
    assert_eq!(
        error.to_string(),
        "test.toml:4:14: byzantine block 1 must be a table, got integer 1"
    );
    let error = error_of(&variant("seed = 7", "seed = 7\nbyzantine = 3"));
    assert!(
        error
            .message
            .contains("byzantine must be a table ([byzantine] with count or cells) or an array of tables ([[byzantine]] with behavior = one of equivocate, withhold"),
        "{error}"
    );
}

/// `(blocks inserted at line 23, expected line:column, message fragment)`.
const INVALID_BYZANTINE: &[(&str, &str, &str)] = &[
    (
        "[[byzantine]]\nbehavior = \"lie\"\ncells = 1",
        "24:12",
        "unknown behavior \"lie\"; allowed: equivocate, withhold, eclipse, delay, timestamp-skew, censor, front-run, spam, garbage, sybil, double-spend",
    ),
    (
        "[[byzantine]]\ncells = 1",
        "23:1",
        "byzantine block 1 needs `behavior`, one of: equivocate, withhold",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"",
        "23:1",
        "byzantine block 1 (equivocate) needs cells = \"12..16\" (a cell group) or count = N",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncount = 2\ncells = 1",
        "26:9",
        "takes count or cells, not both",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncount = 0",
        "25:9",
        "count must be an integer from 1 to 16, got 0",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nparams = { branches = 2, twins = 3 }",
        "26:26",
        "unknown key `twins` in the params of byzantine block 1 (equivocate); allowed keys: branches",
    ),
    (
        "[[byzantine]]\nbehavior = \"withhold\"\ncells = 1\nparams = { hold = \"1s\", branches = 2 }",
        "26:25",
        "unknown key `branches` in the params of byzantine block 1 (withhold); allowed keys: hold, release",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nbranches = 3",
        "26:1",
        "`branches` is a parameter of equivocate; write it inside params, like params = { branches = ... }",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nstart = \"1s\"",
        "26:1",
        "unknown key `start` in byzantine block 1 (equivocate); allowed keys: behavior, cells, count, from, until, params",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nparams = 2",
        "26:10",
        "the params of byzantine block 1 (equivocate) must be a table, got integer 2",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nfrom = \"10s\"\nuntil = \"10s\"",
        "27:9",
        "until (10s) must be after from (10s)",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nfrom = \"10s\"\nuntil = \"5s\"",
        "27:9",
        "until (5s) must be after from (10s)",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nuntil = \"31s\"",
        "26:9",
        "until (31s) is after the end of the run (30s)",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nfrom = \"30s\"",
        "26:8",
        "byzantine block 1 (equivocate) starts at 30s, at or after the end of the run (30s)",
    ),
    (
        "[[byzantine]]\nbehavior = \"eclipse\"\ncells = \"12..16\"\nparams = { victims = [0, 13] }",
        "26:22",
        "victims: cell 13 is one of the block's own cells (12..16); the victims must be other cells",
    ),
    (
        "[[byzantine]]\nbehavior = \"eclipse\"\ncells = \"12..16\"",
        "23:1",
        "eclipse needs victims, for example: params = { victims = \"0..4\" }",
    ),
    (
        "[[byzantine]]\nbehavior = \"eclipse\"\ncells = 1\nparams = { victims = 2, delay = \"1s\" }",
        "26:33",
        "delay applies only with mode = \"delay\"",
    ),
    (
        "[[byzantine]]\nbehavior = \"eclipse\"\ncells = 1\nparams = { victims = 2, mode = \"partial\" }",
        "26:32",
        "unknown mode \"partial\"; allowed: drop, delay",
    ),
    (
        "[[byzantine]]\nbehavior = \"delay\"\ncells = 1\nparams = { victims = 1 }",
        "26:22",
        "victims: cell 1 is one of the block's own cells",
    ),
    (
        "[[byzantine]]\nbehavior = \"withhold\"\ncells = 1\nparams = { hold = \"0s\" }",
        "26:19",
        "hold must be longer than 0",
    ),
    (
        "[[byzantine]]\nbehavior = \"withhold\"\ncells = 1\nparams = { release = \"never\", hold = \"1s\" }",
        "26:38",
        "hold applies only with release = \"burst\"",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nparams = { branches = 9 }",
        "26:23",
        "branches must be an integer from 2 to 8, got 9",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = 1\nparams = { branches = 1 }",
        "26:23",
        "branches must be an integer from 2 to 8, got 1",
    ),
    (
        "[[byzantine]]\nbehavior = \"timestamp-skew\"\ncells = 1\nparams = { offset = \"0s\" }",
        "26:21",
        "offset must be non-zero and within ±60m",
    ),
    (
        "[[byzantine]]\nbehavior = \"timestamp-skew\"\ncells = 1\nparams = { offset = \"-61m\" }",
        "26:21",
        "offset must be non-zero and within ±60m, got -61m",
    ),
    (
        "[[byzantine]]\nbehavior = \"front-run\"\ncells = 1\nparams = { fee_bump = -1 }",
        "26:23",
        "fee_bump must be an integer of at least 0, got -1",
    ),
    (
        "[[byzantine]]\nbehavior = \"spam\"\ncells = 1\nparams = { rate = \"0/s\" }",
        "26:19",
        "rate must be more than 0",
    ),
    (
        "[[byzantine]]\nbehavior = \"spam\"\ncells = 1\nparams = { kind = \"votes\" }",
        "26:19",
        "unknown kind \"votes\"; allowed: tx, events",
    ),
    (
        "[[byzantine]]\nbehavior = \"garbage\"\ncells = 1\nparams = { kinds = [] }",
        "26:20",
        "kinds names no kind; give at least one of: malformed, bad-signature, replay, mutated",
    ),
    (
        "[[byzantine]]\nbehavior = \"garbage\"\ncells = 1\nparams = { kinds = [\"replay\", \"replay\"] }",
        "26:31",
        "kinds lists \"replay\" twice",
    ),
    (
        "[[byzantine]]\nbehavior = \"garbage\"\ncells = 1\nparams = { kinds = [\"noise\"] }",
        "26:21",
        "unknown garbage kind \"noise\"; allowed: malformed, bad-signature, replay, mutated",
    ),
    (
        "[[byzantine]]\nbehavior = \"garbage\"\ncells = 1\nparams = { kinds = \"replay\" }",
        "26:20",
        "kinds must be an array of strings",
    ),
    (
        "[[byzantine]]\nbehavior = \"sybil\"\ncells = 1\nparams = { identities = 0 }",
        "26:25",
        "identities must be an integer from 1 to 10000, got 0",
    ),
    (
        "[[byzantine]]\nbehavior = \"sybil\"\ncells = 1\nparams = { attack_edges = 1001 }",
        "26:27",
        "attack_edges must be an integer from 0 to 1000, got 1001",
    ),
    (
        "[[byzantine]]\nbehavior = \"double-spend\"\ncells = 1\nfrom = \"10s\"",
        "23:1",
        "double-spend at 5s (the default) is outside the block's window (10s until 30s)",
    ),
    (
        "[[byzantine]]\nbehavior = \"double-spend\"\ncells = 1\nuntil = \"20s\"\nparams = { at = \"20s\" }",
        "27:17",
        "double-spend at 20s is outside the block's window (0s until 20s)",
    ),
    (
        "[[byzantine]]\nbehavior = \"double-spend\"\ncells = 1\nparams = { amount = 0 }",
        "26:21",
        "amount must be an integer of at least 1, got 0",
    ),
    (
        "[[byzantine]]\nbehavior = \"censor\"\ncells = 1",
        "24:12",
        "censor acts on client TXs, and there are none; set clients = N (more than 0) in [workload]",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = \"0..8\"\n[[byzantine]]\nbehavior = \"spam\"\ncells = \"8..16\"",
        "28:9",
        "all 16 cells would be Byzantine (counting every [[byzantine]] block up to block 2); at least one cell must be honest (at most 15 Byzantine)",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncount = 16",
        "25:9",
        "all 16 cells would be Byzantine",
    ),
    (
        "[[byzantine]]\nbehavior = \"equivocate\"\ncells = \"0..15\"\n[[byzantine]]\nbehavior = \"double-spend\"\ncells = 0",
        "26:1",
        "byzantine block 2 (double-spend) pays two different honest cells, but only 1 cell is honest",
    ),
];

#[test]
fn invalid_byzantine_blocks_give_one_located_message() {
    for &(blocks, position, fragment) in INVALID_BYZANTINE {
        let error = error_of(&with_byzantine(blocks));
        let shown = error.to_string();
        assert_eq!(
            format!("{}:{}", error.line, error.column),
            position,
            "{blocks}: {shown}"
        );
        assert!(shown.contains(fragment), "{blocks}: {shown}");
    }
}

#[test]
fn censor_needs_clients_entering_through_its_cells() {
    // Entry cells default to the honest cells, so a censor never sees a client TX.
    let text = with_byzantine(&block("censor", "")).replacen(
        "tx_rate = \"20/s\"",
        "tx_rate = \"20/s\"\nclients = 50",
        1,
    );
    let error = error_of(&text);
    assert!(
        error.message.contains(
            "censor cells 12..16 are not entry cells, so no client submits through them; list them in [workload] entry"
        ),
        "{error}"
    );
    assert_eq!((error.line, error.column), (26, 9), "{error}");
    let text = with_clients(&block("censor", "")).replacen("\"8..16\"", "\"8..14\"", 1);
    assert!(
        error_of(&text)
            .message
            .contains("censor cells 14..16 are not entry cells")
    );
    // Clients are numbered 0..clients, like cells.
    let error = error_of(&with_clients(&block(
        "censor",
        "params = { clients = \"40..60\" }",
    )));
    assert!(
        error
            .message
            .contains("clients names client 59, which does not exist; clients are 0..50"),
        "{error}"
    );
    let error = error_of(&with_clients(&block(
        "censor",
        "params = { hold = \"1s\" }",
    )));
    assert!(
        error
            .message
            .contains("hold applies only with mode = \"hold\""),
        "{error}"
    );
}

#[test]
fn expect_claims_parse_and_reject_non_booleans() {
    let scenario = parse(ISSUE_EXAMPLE).unwrap();
    assert_eq!(scenario.expect, Expect::default());
    assert_eq!(
        (
            scenario.expect.agreement,
            scenario.expect.state,
            scenario.expect.liveness
        ),
        (None, None, None)
    );
    let scenario = parse(&format!(
        "{ISSUE_EXAMPLE}[expect]\nagreement = true\nliveness = false\n"
    ))
    .unwrap();
    assert_eq!(
        scenario.expect,
        Expect {
            agreement: Some(true),
            state: None,
            liveness: Some(false),
        }
    );
    let scenario = parse(&format!("{ISSUE_EXAMPLE}[expect]\nstate = true\n")).unwrap();
    assert_eq!(scenario.expect.state, Some(true));
    for (line, expected) in [
        (
            "agreement = \"yes\"",
            "test.toml:28:13: agreement must be true or false, got string \"yes\"",
        ),
        (
            "state = 1",
            "test.toml:28:9: state must be true or false, got integer 1",
        ),
        (
            "safety = true",
            "test.toml:28:1: unknown key `safety` in [expect]; allowed keys: agreement, state, liveness",
        ),
    ] {
        let error = error_of(&format!("{ISSUE_EXAMPLE}[expect]\n{line}\n"));
        assert_eq!(error.to_string(), expected);
    }
    let error = error_of(&variant("seed = 7", "seed = 7\nexpect = true"));
    assert!(
        error
            .message
            .contains("[expect] must be a table, got boolean true"),
        "{error}"
    );
}

#[test]
fn workload_clients_entry_and_retry_parse() {
    let scenario = parse(ISSUE_EXAMPLE).unwrap();
    assert_eq!(scenario.workload.clients, 0);
    assert_eq!(scenario.workload.entry, None);
    assert_eq!(scenario.workload.retry_after_ns, 2 * NS_PER_S);
    let text = variant(
        "tx_rate = \"20/s\"",
        "tx_rate = \"20/s\"\nclients = 200\nentry = \"0..4\"\nretry_after = \"1.5s\"",
    );
    let scenario = parse(&text).unwrap();
    assert_eq!(scenario.workload.clients, 200);
    assert_eq!(scenario.workload.entry, Some(vec![0, 1, 2, 3]));
    assert_eq!(scenario.workload.retry_after_ns, 1_500 * NS_PER_MS);
    assert!(
        scenario.summary().contains("20 TX/s, 200 clients;"),
        "{}",
        scenario.summary()
    );
    // Clients without entry: every honest cell is an entry cell.
    let scenario = parse(&variant("tx_rate = \"20/s\"", "clients = 100000")).unwrap();
    assert_eq!(
        (scenario.workload.clients, scenario.workload.entry),
        (100_000, None)
    );
    for (lines, expected) in [
        (
            "clients = 100001",
            "test.toml:17:11: clients must be an integer from 0 to 100000, got 100001",
        ),
        (
            "clients = -1",
            "test.toml:17:11: clients must be an integer from 0 to 100000, got -1",
        ),
        (
            "entry = \"0..4\"",
            "test.toml:17:9: entry only applies to clients; set clients = N (more than 0) in [workload]",
        ),
        (
            "clients = 0\nretry_after = \"1s\"",
            "test.toml:18:15: retry_after only applies to clients",
        ),
        (
            "clients = 5\nentry = \"0..17\"",
            "test.toml:18:9: entry names cell 16, which does not exist",
        ),
        (
            "clients = 5\nretry_after = \"0s\"",
            "test.toml:18:15: retry_after must be longer than 0",
        ),
        (
            "client = 5",
            "test.toml:17:1: unknown key `client` in [workload]; allowed keys: tx_rate, submitters, messages, clients, entry, retry_after",
        ),
    ] {
        let error = error_of(&variant("tx_rate = \"20/s\"", lines));
        assert!(error.to_string().starts_with(expected), "{lines}: {error}");
    }
}

#[test]
fn too_many_behaviour_blocks_are_refused() {
    let blocks = (0..257)
        .map(|_| "[[byzantine]]\nbehavior = \"spam\"\ncells = 0\n")
        .collect::<String>();
    let error = error_of(&with_byzantine(&blocks));
    assert!(
        error
            .message
            .contains("257 [[byzantine]] blocks; a scenario has at most 256"),
        "{error}"
    );
    let blocks = (0..256)
        .map(|_| "[[byzantine]]\nbehavior = \"spam\"\ncells = 0\n")
        .collect::<String>();
    let scenario = parse(&with_byzantine(&blocks)).unwrap();
    assert_eq!(scenario.byzantine.behaviours.len(), 256);
    assert_eq!(scenario.byzantine.cells, vec![0]);
}

#[test]
fn access_thresholds_parse_as_fractions_and_reject_the_rest() {
    let scenario = parse(ISSUE_EXAMPLE).unwrap();
    assert_eq!(scenario.access, Access::default());
    assert_eq!(
        scenario.access.policy(),
        celluler_core::trust::AccessPolicy::default()
    );
    let scenario = parse(&format!(
        "{ISSUE_EXAMPLE}[access]\nchat = 0.01\nexec = 0.25\n"
    ))
    .unwrap();
    assert_eq!(
        scenario.access,
        Access {
            chat_min_ppm: 10_000,
            auth_min_ppm: 0,
            query_min_ppm: 0,
            exec_min_ppm: 250_000,
        }
    );
    let policy = scenario.access.policy();
    use celluler_core::trust::AccessAction;
    assert_eq!(policy.threshold_ppm(AccessAction::Chat), 10_000);
    assert_eq!(policy.threshold_ppm(AccessAction::Exec), 250_000);
    assert_eq!(policy.threshold_ppm(AccessAction::Query), 0);
    for (line, expected) in [
        (
            "chat = 2",
            "test.toml:28:8: chat must be between 0 and 1, got 2",
        ),
        (
            "exec = 0.0000001",
            "test.toml:28:8: exec must be a whole number of millionths (at most 6 decimals), got 0.0000001",
        ),
        (
            "post = 0.1",
            "test.toml:28:1: unknown key `post` in [access]; allowed keys: chat, auth, query, exec",
        ),
    ] {
        let error = error_of(&format!("{ISSUE_EXAMPLE}[access]\n{line}\n"));
        assert_eq!(error.to_string(), expected);
    }
}

/// The issue's example with `lines` added to `[consensus]` (from line 10).
fn with_consensus(lines: &str) -> String {
    variant(
        "coin_round_frequency = 10",
        &format!("coin_round_frequency = 10\n{lines}"),
    )
}

#[test]
fn consensus_knobs_default_to_the_protocol_as_it_ran() {
    use celluler_core::cell::{GossipPolicy, PeerSelection, SyncMode};
    let scenario = parse(ISSUE_EXAMPLE).unwrap();
    let consensus = &scenario.consensus;
    assert_eq!(consensus.sync, SyncMode::PushPull);
    assert_eq!(consensus.peer_selection, PeerSelection::Random);
    assert_eq!(consensus.max_events_per_sync, None);
    // 256: the constant events were filled by before the knob was real.
    assert_eq!(consensus.max_transactions_per_event, 256);
    assert_eq!(consensus.max_event_bytes, 1_000_000);
    assert_eq!(consensus.min_fee, crate::workload::TRANSFER_FEE);
    let world = scenario.world_config();
    assert_eq!(world.gossip, GossipPolicy::DEFAULT);
    assert_eq!(world.fee_min, crate::workload::TRANSFER_FEE);
    // The same as a world built in code.
    let plain = crate::world::WorldConfig::new(7, 16);
    assert_eq!(world.gossip, plain.gossip);
    assert_eq!(world.fee_min, plain.fee_min);
}

#[test]
fn consensus_knobs_parse_and_reach_the_world() {
    use celluler_core::cell::{GossipPolicy, PeerSelection, SyncMode};
    let text = with_consensus(
        "sync = \"pull\"\npeer_selection = \"stake-weighted\"\nmax_events_per_sync = 3\n\
         max_transactions_per_event = 4096\nmax_event_bytes = 256\nmin_fee = 0",
    );
    let scenario = parse(&text).unwrap();
    let consensus = &scenario.consensus;
    assert_eq!(consensus.sync, SyncMode::Pull);
    assert_eq!(consensus.peer_selection, PeerSelection::StakeWeighted);
    assert_eq!(consensus.max_events_per_sync, Some(3));
    assert_eq!(consensus.max_transactions_per_event, 4096);
    assert_eq!(consensus.max_event_bytes, 256);
    assert_eq!(consensus.min_fee, 0);
    let world = scenario.world_config();
    assert_eq!(
        world.gossip,
        GossipPolicy {
            sync: SyncMode::Pull,
            peer_selection: PeerSelection::StakeWeighted,
            events_per_sync_max: Some(3),
            transactions_per_event_max: 4096,
            transaction_bytes_per_event_max: 256,
        }
    );
    assert_eq!(world.fee_min, 0);
    for (line, selection) in [
        ("peer_selection = \"random\"", PeerSelection::Random),
        (
            "peer_selection = \"least-recent\"",
            PeerSelection::LeastRecent,
        ),
    ] {
        let scenario = parse(&with_consensus(line)).unwrap();
        assert_eq!(scenario.consensus.peer_selection, selection);
    }
    let scenario = parse(&with_consensus("sync = \"push-pull\"\nmin_fee = 5")).unwrap();
    assert_eq!(scenario.consensus.sync, SyncMode::PushPull);
    assert_eq!(scenario.world_config().fee_min, 5);
    // The names serialize as the file spells them.
    let json = serde_json::to_value(&scenario).unwrap();
    assert_eq!(json["consensus"]["sync"], "push-pull");
    assert_eq!(json["consensus"]["peer_selection"], "random");
}

#[test]
fn consensus_knob_errors_name_the_allowed_values() {
    for (line, expected) in [
        (
            "sync = \"push\"",
            "test.toml:10:8: sync must be \"push-pull\" or \"pull\", got \"push\"",
        ),
        (
            "sync = 1",
            "test.toml:10:8: sync must be a string, got integer 1",
        ),
        (
            "peer_selection = \"round-robin\"",
            "test.toml:10:18: peer_selection must be \"random\", \"least-recent\" or \"stake-weighted\", got \"round-robin\"",
        ),
        (
            "max_events_per_sync = 0",
            "test.toml:10:23: max_events_per_sync must be an integer from 1 to 4294967295, got 0",
        ),
        (
            "max_events_per_sync = \"all\"",
            "test.toml:10:23: max_events_per_sync must be an integer from 1 to 4294967295, got string \"all\"",
        ),
        (
            "max_transactions_per_event = 4097",
            "test.toml:10:30: max_transactions_per_event must be an integer from 1 to 4096, got 4097",
        ),
        (
            "max_transactions_per_event = 0",
            "test.toml:10:30: max_transactions_per_event must be an integer from 1 to 4096, got 0",
        ),
        (
            "max_event_bytes = 1000001",
            "test.toml:10:19: max_event_bytes must be an integer from 256 to 1000000, got 1000001",
        ),
        (
            "max_event_bytes = 255",
            "test.toml:10:19: max_event_bytes must be an integer from 256 to 1000000, got 255",
        ),
        (
            "min_fee = -1",
            "test.toml:10:11: min_fee must be an integer of at least 0, got -1",
        ),
        (
            "min_fee = 1.5",
            "test.toml:10:11: min_fee must be an integer of at least 0, got float 1.5",
        ),
        (
            "gossip_policy = \"pull\"",
            "test.toml:10:1: unknown key `gossip_policy` in [consensus]; allowed keys: gossip_interval, coin_round_frequency, sync, peer_selection, max_events_per_sync, max_transactions_per_event, max_event_bytes, min_fee, store, stake",
        ),
    ] {
        let error = error_of(&with_consensus(line));
        assert_eq!(error.to_string(), expected, "{line}");
    }
}

/// Every market and agent setting, each away from its default where it
/// has one.
const MARKETS_EXAMPLE: &str = r#"
name = "market"
seed = 3
duration = "20s"
[cells]
count = 16
genesis_balance = 50000
[consensus]
stake = "prana"
[markets]
tokens = ["data-credit", "gpu-hour"]
fundamental = [100, 40]
interval = "500ms"
challenge_window = "2s"
[[markets.genesis]]
cells = "0..4"
prana = 1000000
tokens = [500, 20]
[[markets.genesis]]
cells = [4, 5]
tokens = [0, 7]
[[agents]]
kind = "noise-trader"
count = 2
rate = "2/s"
params = { quantity_max = 20, limit_share = 0.3, price_range = 0.1 }
[[agents]]
kind = "market-maker"
cells = [2, 3]
params = { token = 1, spread = 6, quantity = 4, inventory_max = 50 }
[[agents]]
kind = "momentum"
cells = 6
params = { lookback = 8, quantity = 3, threshold = 0.005 }
[[agents]]
kind = "value"
count = 1
params = { token = 1, threshold = 0.05 }
[[agents]]
kind = "compute-provider"
cells = "8..10"
params = { units = 50, price = 3, collateral = 2000 }
[[agents]]
kind = "storage-provider"
cells = 10
params = { blocks = 128, price = 2, collateral = 0 }
[[agents]]
kind = "consumer"
cells = [11, 12]
rate = "500/m"
params = { market = "storage", amount = 8, intervals = 20, price_max = 3, trust_min = 0.25, work = 50, exec_timeout = "1.5s" }
[[agents]]
kind = "front-runner"
cells = 13
[agents.params]
quantity_min = 25
quantity = 5
"#;

#[test]
fn markets_and_agents_parse_to_the_stated_values() {
    let scenario = parse(MARKETS_EXAMPLE).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(scenario.consensus.stake, StakeRule::Prana);
    let markets = scenario.markets.as_ref().unwrap();
    assert_eq!(markets.tokens, ["data-credit", "gpu-hour"]);
    assert_eq!(markets.fundamental, [Some(100), Some(40)]);
    assert_eq!(markets.interval_ns, 500 * NS_PER_MS);
    assert_eq!(markets.challenge_window_ns, 2 * NS_PER_S);
    assert_eq!(
        markets.genesis,
        [
            MarketGenesis {
                cells: vec![0, 1, 2, 3],
                prana: 1_000_000,
                tokens: vec![500, 20],
            },
            // prana left out: [cells] genesis_balance.
            MarketGenesis {
                cells: vec![4, 5],
                prana: 50_000,
                tokens: vec![0, 7],
            },
        ]
    );
    assert_eq!(scenario.genesis_prana(0), 1_000_000);
    assert_eq!(scenario.genesis_prana(5), 50_000);
    assert_eq!(scenario.genesis_prana(15), 50_000);
    assert_eq!(scenario.genesis_tokens(1), [500, 20]);
    assert_eq!(scenario.genesis_tokens(15), [0, 0]);
    let stakes = scenario.stakes();
    assert_eq!(stakes.len(), 16);
    assert_eq!(
        (stakes[3], stakes[4], stakes[15]),
        (1_000_000, 50_000, 50_000)
    );

    let per_second = |count: u64| rate_of(&format!("{count}/s"));
    let expected = [
        AgentBlock {
            kind: AgentKind::NoiseTrader,
            // count = 2: the first two cells.
            cells: vec![0, 1],
            rate: per_second(2),
            params: AgentParams::NoiseTrader(NoiseTraderParams {
                token: 0,
                quantity_max: 20,
                limit_share_ppm: 300_000,
                price_range_ppm: 100_000,
            }),
        },
        AgentBlock {
            kind: AgentKind::MarketMaker,
            cells: vec![2, 3],
            rate: per_second(1),
            params: AgentParams::MarketMaker(MarketMakerParams {
                token: 1,
                spread: 6,
                quantity: 4,
                inventory_max: 50,
            }),
        },
        AgentBlock {
            kind: AgentKind::Momentum,
            cells: vec![6],
            rate: per_second(1),
            params: AgentParams::Momentum(MomentumParams {
                token: 0,
                lookback: 8,
                quantity: 3,
                threshold_ppm: 5_000,
            }),
        },
        AgentBlock {
            kind: AgentKind::Value,
            // count = 1: the first cell without an agent.
            cells: vec![4],
            rate: per_second(1),
            // The fundamental of token 1, from [markets].
            params: AgentParams::Value(ValueParams {
                token: 1,
                fundamental: 40,
                threshold_ppm: 50_000,
                quantity: 5,
            }),
        },
        AgentBlock {
            kind: AgentKind::ComputeProvider,
            cells: vec![8, 9],
            rate: per_second(1),
            params: AgentParams::ComputeProvider(ComputeProviderParams {
                units: 50,
                price: 3,
                collateral: 2_000,
            }),
        },
        AgentBlock {
            kind: AgentKind::StorageProvider,
            cells: vec![10],
            rate: per_second(1),
            params: AgentParams::StorageProvider(StorageProviderParams {
                blocks: 128,
                price: 2,
                collateral: 0,
            }),
        },
        AgentBlock {
            kind: AgentKind::Consumer,
            cells: vec![11, 12],
            rate: units::parse_rate("500/m").unwrap(),
            params: AgentParams::Consumer(ConsumerParams {
                market: LeaseMarket::Storage,
                amount: 8,
                intervals: 20,
                price_max: 3,
                trust_min_ppm: 250_000,
                work: 50,
                exec_timeout_ns: 1_500 * NS_PER_MS,
            }),
        },
        AgentBlock {
            kind: AgentKind::FrontRunner,
            cells: vec![13],
            rate: per_second(1),
            params: AgentParams::FrontRunner(FrontRunnerParams {
                token: 0,
                quantity_min: 25,
                quantity: 5,
            }),
        },
    ];
    assert_eq!(scenario.agents, expected);
    assert_eq!(scenario.agent_of(6).map(|(index, _)| index), Some(4));
    assert_eq!(scenario.agent_of(13).map(|(index, _)| index), Some(11));
    assert!(scenario.agent_of(7).is_none());
    let summary = scenario.summary();
    assert!(
        summary.contains("exchange of 2 tokens (data-credit, gpu-hour); agents: 2 noise-trader at 2/s, 2 market-maker at 1/s"),
        "{summary}"
    );
    let json = serde_json::to_value(&scenario).unwrap();
    assert_eq!(json["markets"]["tokens"][1], "gpu-hour");
    assert_eq!(json["agents"][6]["params"]["Consumer"]["market"], "Storage");
    assert_eq!(json["consensus"]["stake"], "Prana");
}

#[test]
fn markets_and_agents_default_to_none() {
    let scenario = parse(ISSUE_EXAMPLE).unwrap();
    assert_eq!(scenario.markets, None);
    assert!(scenario.agents.is_empty());
    assert_eq!(scenario.consensus.stake, StakeRule::Equal);
    assert_eq!(scenario.stakes(), vec![1; 16]);
    assert_eq!(scenario.genesis_prana(3), 1_000_000);
    assert!(scenario.genesis_tokens(3).is_empty());
    // An empty [markets]: no exchange, the documented intervals.
    let scenario = parse(&format!("{ISSUE_EXAMPLE}[markets]\n")).unwrap();
    assert_eq!(scenario.markets, Some(Markets::default()));
    let markets = scenario.markets.unwrap();
    assert_eq!(
        (markets.interval_ns, markets.challenge_window_ns),
        (NS_PER_S, 10 * NS_PER_S)
    );
    // Lease agents need no exchange, nor a [markets] section.
    let text = format!(
        "{ISSUE_EXAMPLE}[[agents]]\nkind = \"compute-provider\"\ncount = 3\n[[agents]]\nkind = \"consumer\"\ncount = 2\n"
    );
    let scenario = parse(&text).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(scenario.markets, None);
    assert_eq!(scenario.agents[1].cells, [3, 4]);
    assert_eq!(
        scenario.agents[1].params,
        AgentParams::Consumer(ConsumerParams {
            market: LeaseMarket::Compute,
            amount: 10,
            intervals: 10,
            price_max: 5,
            trust_min_ppm: 0,
            work: 1_000,
            exec_timeout_ns: 3 * NS_PER_S,
        })
    );
}

#[test]
fn every_agent_kind_takes_its_documented_defaults() {
    let mut text = String::from(
        "name = \"d\"\nseed = 1\nduration = \"5s\"\n[cells]\ncount = 8\n[markets]\ntokens = [\"t\"]\nfundamental = [70]\n",
    );
    for kind in AgentKind::ALL {
        text.push_str(&format!(
            "[[agents]]\nkind = \"{}\"\ncount = 1\n",
            kind.name()
        ));
    }
    let scenario = parse(&text).unwrap_or_else(|error| panic!("{error}"));
    let params: Vec<AgentParams> = scenario
        .agents
        .iter()
        .map(|block| {
            assert_eq!(
                block.rate,
                Rate {
                    count: 1,
                    per_ns: NS_PER_S
                }
            );
            assert_eq!(block.kind, block.params.kind());
            block.params.clone()
        })
        .collect();
    assert_eq!(
        params,
        [
            AgentParams::NoiseTrader(NoiseTraderParams {
                token: 0,
                quantity_max: 10,
                limit_share_ppm: 700_000,
                price_range_ppm: 50_000,
            }),
            AgentParams::MarketMaker(MarketMakerParams {
                token: 0,
                spread: 4,
                quantity: 10,
                inventory_max: 200,
            }),
            AgentParams::Momentum(MomentumParams {
                token: 0,
                lookback: 5,
                quantity: 5,
                threshold_ppm: 10_000,
            }),
            AgentParams::Value(ValueParams {
                token: 0,
                fundamental: 70,
                threshold_ppm: 20_000,
                quantity: 5,
            }),
            AgentParams::ComputeProvider(ComputeProviderParams {
                units: 100,
                price: 2,
                collateral: 10_000,
            }),
            AgentParams::StorageProvider(StorageProviderParams {
                blocks: 64,
                price: 1,
                collateral: 10_000,
            }),
            AgentParams::Consumer(ConsumerParams {
                market: LeaseMarket::Compute,
                amount: 10,
                intervals: 10,
                price_max: 5,
                trust_min_ppm: 0,
                work: 1_000,
                exec_timeout_ns: 3 * NS_PER_S,
            }),
            AgentParams::FrontRunner(FrontRunnerParams {
                token: 0,
                quantity_min: 10,
                quantity: 10,
            }),
        ]
    );
    let cells: Vec<Vec<CellIndex>> = scenario.agents.iter().map(|b| b.cells.clone()).collect();
    assert_eq!(cells, (0..8).map(|cell| vec![cell]).collect::<Vec<_>>());
}

/// Eight lines with one exchange token; `extra` starts at line 9.
const MARKET_BASE: &str = "name = \"market\"
seed = 3
duration = \"20s\"
[cells]
count = 16
[markets]
tokens = [\"data-credit\"]
fundamental = [100]
";

/// `(text after MARKET_BASE (from line 9), line:column, message)`.
const INVALID_MARKETS: &[(&str, &str, &str)] = &[
    (
        "[[agents]]\nkind = \"whale\"\ncount = 1",
        "10:8",
        "unknown agent kind \"whale\"; allowed: noise-trader, market-maker, momentum, value, compute-provider, storage-provider, consumer, front-runner",
    ),
    (
        "[[agents]]\ncount = 1",
        "9:1",
        "agents block 1 needs `kind`, one of: noise-trader, market-maker",
    ),
    (
        "[[agents]]\nkind = \"momentum\"\ncount = 1\nparams = { lookbak = 3 }",
        "12:12",
        "unknown key `lookbak` in the params of agents block 1 (momentum); allowed keys: token, lookback, quantity, threshold",
    ),
    (
        "[[agents]]\nkind = \"noise-trader\"\ncount = 1\nquantity_max = 3",
        "12:1",
        "`quantity_max` is a parameter of noise-trader; write it inside params, like params = { quantity_max = ... }",
    ),
    (
        "[[agents]]\nkind = \"noise-trader\"\ncount = 1\nwhen = \"1s\"",
        "12:1",
        "unknown key `when` in agents block 1 (noise-trader); allowed keys: kind, count, cells, rate, params",
    ),
    (
        "[[agents]]\nkind = \"value\"\ncount = 1\ncells = 2",
        "12:9",
        "agents block 1 (value) takes count or cells, not both",
    ),
    (
        "[[agents]]\nkind = \"value\"",
        "9:1",
        "agents block 1 (value) needs count = N (the first N cells without an agent) or cells = \"0..10\" (a cell group)",
    ),
    (
        "[[agents]]\nkind = \"noise-trader\"\ncells = \"0..4\"\n[[agents]]\nkind = \"market-maker\"\ncells = [3, 4]",
        "14:9",
        "agents block 2 (market-maker): cell 3 already hosts the agent of agents block 1 (noise-trader); a cell hosts at most one agent",
    ),
    (
        "[[agents]]\nkind = \"noise-trader\"\ncount = 10\n[[agents]]\nkind = \"market-maker\"\ncount = 7",
        "14:9",
        "agents block 2 (market-maker) asks for 7 agents, but only 6 of the 16 cells are without one",
    ),
    (
        "[[agents]]\nkind = \"noise-trader\"\ncount = 17",
        "11:9",
        "count must be an integer from 1 to 16, got 17",
    ),
    (
        "[[agents]]\nkind = \"momentum\"\ncount = 1\nparams = { token = 1 }",
        "12:20",
        "token must be the index of one of [markets] tokens, 0 to 0 (data-credit), got 1",
    ),
    (
        "[[agents]]\nkind = \"momentum\"\ncount = 1\nparams = { token = \"data-credit\" }",
        "12:20",
        "token must be the index of one of [markets] tokens, 0 to 0 (data-credit), got string \"data-credit\"",
    ),
    (
        "[[agents]]\nkind = \"front-runner\"\ncount = 1\nrate = \"0/s\"",
        "12:8",
        "rate must be more than 0 (an agent that never wakes does nothing)",
    ),
    (
        "[[agents]]\nkind = \"noise-trader\"\ncount = 1\nparams = { limit_share = 0.33333333 }",
        "12:26",
        "limit_share must be a whole number of millionths (at most 6 decimals), got 0.33333333",
    ),
    (
        "[[agents]]\nkind = \"noise-trader\"\ncount = 1\nparams = { quantity_max = 0 }",
        "12:27",
        "quantity_max must be an integer from 1 to 1000000000, got 0",
    ),
    (
        "[[agents]]\nkind = \"consumer\"\ncount = 1\nparams = { market = \"bandwidth\" }",
        "12:21",
        "unknown market \"bandwidth\"; allowed: compute, storage",
    ),
    (
        "[[agents]]\nkind = \"consumer\"\ncount = 1\nparams = { exec_timeout = \"0s\" }",
        "12:27",
        "exec_timeout must be longer than 0",
    ),
    (
        "[[agents]]\nkind = \"momentum\"\ncount = 1\nparams = { lookback = 0 }",
        "12:23",
        "lookback must be an integer from 1 to 10000, got 0",
    ),
    (
        "[[markets.genesis]]\ncells = \"0..4\"\nprana = 5\n[[markets.genesis]]\ncells = [3, 9]\nprana = 6",
        "13:9",
        "cell 3 is in both [[markets.genesis]] block 1 and block 2; a cell takes its genesis from one block",
    ),
    (
        "[[markets.genesis]]\ncells = 1\ntokens = [1, 2]",
        "11:10",
        "tokens must list one balance per exchange token (1: data-credit), got 2",
    ),
    (
        "[[markets.genesis]]\ncells = 1\ntokens = 5",
        "11:10",
        "tokens must list one balance per exchange token (1: data-credit), got integer 5",
    ),
    (
        "[[markets.genesis]]\ncells = 1",
        "9:1",
        "[[markets.genesis]] block 1 needs prana = N, tokens = [...] or both",
    ),
    (
        "[[markets.genesis]]\nprana = 1",
        "9:1",
        "missing key `cells` in [[markets.genesis]] block 1, for example: cells = \"0..10\"",
    ),
    (
        "[[markets.genesis]]\ncells = 1\nprana = -1",
        "11:9",
        "prana must be an integer of at least 0, got -1",
    ),
    (
        "[consensus]\nstake = \"wealth\"",
        "10:9",
        "stake must be \"equal\" or \"prana\", got \"wealth\"",
    ),
    (
        "[consensus]\nstake = \"prana\"\n[[markets.genesis]]\ncells = \"4..6\"\nprana = 0",
        "10:9",
        "stake = \"prana\" gives cell 4 stake 0 (it holds no PRANA at genesis); every member needs stake above 0",
    ),
];

#[test]
fn invalid_markets_and_agents_give_one_located_message() {
    for &(extra, position, fragment) in INVALID_MARKETS {
        let text = format!("{MARKET_BASE}{extra}\n");
        let error = error_of(&text);
        assert_eq!(
            format!("{}:{}", error.line, error.column),
            position,
            "{extra}: {error}"
        );
        assert!(error.message.starts_with(fragment), "{extra}: {error}");
    }
}

#[test]
fn invalid_market_sections_give_one_located_message() {
    // (replace in MARKET_BASE, with, line:column, message)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "tokens = [\"data-credit\"]",
            "tokens = [\"Data\"]",
            "7:11",
            "a token name is 1 to 32 of a-z, 0-9 and '-', got \"Data\"",
        ),
        (
            "tokens = [\"data-credit\"]",
            "tokens = [\"a\", \"b\", \"a\"]",
            "7:21",
            "tokens lists \"a\" twice",
        ),
        (
            "tokens = [\"data-credit\"]",
            "tokens = []",
            "7:10",
            "tokens must name 1 to 16 tokens, got 0",
        ),
        (
            "fundamental = [100]",
            "fundamental = [100, 3]",
            "8:15",
            "fundamental must give one price per token (1: data-credit), got 2",
        ),
        (
            "fundamental = [100]",
            "fundamental = [0]",
            "8:16",
            "fundamental must be an integer from 1 to 1000000000000, got 0",
        ),
        (
            "fundamental = [100]",
            "interval = \"0s\"",
            "8:12",
            "interval must be longer than 0",
        ),
        (
            "fundamental = [100]",
            "window = \"3s\"",
            "8:1",
            "unknown key `window` in [markets]; allowed keys: tokens, fundamental, interval, challenge_window, genesis",
        ),
        (
            "tokens = [\"data-credit\"]\nfundamental = [100]",
            "fundamental = [100]",
            "7:15",
            "fundamental gives one price per exchange token, and [markets] lists no tokens",
        ),
        (
            "count = 16",
            "count = 16\nstake = 3",
            "6:9",
            "[cells] stake applies only with [consensus] stake = \"equal\"",
        ),
    ];
    for &(replace, with, position, fragment) in cases {
        assert!(MARKET_BASE.contains(replace), "{replace}");
        let mut text = MARKET_BASE.replacen(replace, with, 1);
        if with.contains("stake") {
            text.push_str("[consensus]\nstake = \"prana\"\n");
        }
        let error = error_of(&text);
        assert_eq!(
            format!("{}:{}", error.line, error.column),
            position,
            "{with}: {error}"
        );
        assert!(error.message.starts_with(fragment), "{with}: {error}");
    }
}

#[test]
fn exchange_agents_need_tokens_and_value_agents_a_fundamental() {
    let no_exchange = "name = \"m\"\nseed = 1\nduration = \"5s\"\n[cells]\ncount = 4\n";
    for kind in AgentKind::ALL {
        let text = format!(
            "{no_exchange}[[agents]]\nkind = \"{}\"\ncount = 1\n",
            kind.name()
        );
        match parse(&text) {
            Ok(_) => assert!(!kind.trades_tokens(), "{}", kind.name()),
            Err(error) => {
                assert!(kind.trades_tokens(), "{}: {error}", kind.name());
                assert_eq!((error.line, error.column), (7, 8), "{error}");
                assert_eq!(
                    error.message,
                    format!(
                        "{} agents trade on the exchange, and there is none; list its tokens in [markets] tokens = [\"data-credit\"]",
                        kind.name()
                    )
                );
            }
        }
    }
    let text = format!(
        "{no_exchange}[markets]\ntokens = [\"a\", \"b\"]\n[[agents]]\nkind = \"value\"\ncount = 1\nparams = {{ token = 1 }}\n"
    );
    let error = error_of(&text);
    assert_eq!((error.line, error.column), (11, 10), "{error}");
    assert!(
        error
            .message
            .starts_with("value agents need a fundamental price for token 1 (b)"),
        "{error}"
    );
    let fixed = text.replace("token = 1 }", "token = 1, fundamental = 9 }");
    let scenario = parse(&fixed).unwrap_or_else(|error| panic!("{error}"));
    assert!(matches!(
        scenario.agents[0].params,
        AgentParams::Value(ValueParams { fundamental: 9, .. })
    ));
}

#[test]
fn prana_stake_must_be_positive_and_fit_in_u64() {
    let base = "name = \"m\"\nseed = 1\nduration = \"5s\"\n[consensus]\nstake = \"prana\"\n[cells]\ncount = 4\n";
    let scenario = parse(&format!("{base}genesis_balance = 7\n")).unwrap();
    assert_eq!(scenario.stakes(), [7, 7, 7, 7]);
    let error = error_of(&format!("{base}genesis_balance = 0\n"));
    assert_eq!((error.line, error.column), (5, 9), "{error}");
    assert!(error.message.contains("gives cell 0 stake 0"), "{error}");
    // Zero balance everywhere but where a genesis block gives PRANA.
    let text = format!(
        "{base}genesis_balance = 0\n[markets]\n[[markets.genesis]]\ncells = \"all\"\nprana = 3\n"
    );
    assert_eq!(parse(&text).unwrap().stakes(), [3, 3, 3, 3]);
    let error = error_of(&format!("{base}genesis_balance = 9223372036854775807\n"));
    assert_eq!((error.line, error.column), (5, 9), "{error}");
    assert_eq!(
        error.message,
        "stake = \"prana\": the cells' genesis PRANA adds up to more than 18446744073709551615, the most total stake can be"
    );
    // "equal" is today's rule: [cells] stake each.
    let equal = base.replace("\"prana\"", "\"equal\"");
    let scenario = parse(&format!("{equal}stake = 5\ngenesis_balance = 0\n")).unwrap();
    assert_eq!(scenario.stakes(), [5, 5, 5, 5]);
}

#[test]
fn agent_settings_can_be_overridden_with_set() {
    use super::overrides::{Setting, with_settings};
    let setting = |key: &str, value: &str| Setting {
        key: key.to_string(),
        value: value.to_string(),
    };
    let scenario = with_settings(
        "m.toml",
        MARKETS_EXAMPLE,
        &[
            setting("agents.0.rate", "5/s"),
            setting("agents.0.params.quantity_max", "3"),
            setting("markets.interval", "2s"),
            setting("consensus.stake", "equal"),
        ],
    )
    .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(scenario.agents[0].rate, rate_of("5/s"));
    assert!(matches!(
        scenario.agents[0].params,
        AgentParams::NoiseTrader(NoiseTraderParams {
            quantity_max: 3,
            ..
        })
    ));
    assert_eq!(scenario.markets.unwrap().interval_ns, 2 * NS_PER_S);
    assert_eq!(scenario.consensus.stake, StakeRule::Equal);
    let error = with_settings(
        "m.toml",
        MARKETS_EXAMPLE,
        &[setting("agents.0.params.quantity", "3")],
    )
    .unwrap_err();
    assert!(
        error
            .message
            .contains("unknown key `quantity` in the params of agents block 1 (noise-trader)"),
        "{error}"
    );
}

/// Lines that break the markets and agents sections in every way we know.
const MARKET_FRAGMENTS: &[&str] = &[
    "[markets]",
    "[[markets.genesis]]",
    "[[agents]]",
    "[agents.params]",
    "[consensus]",
    "stake = \"prana\"",
    "stake = 0",
    "genesis_balance = 0",
    "genesis_balance = 9223372036854775807",
    "tokens = []",
    "tokens = [\"a\", \"a\"]",
    "tokens = [1, 2]",
    "tokens = [-1]",
    "fundamental = [0, 99999999999999999999]",
    "fundamental = 3",
    "prana = -1",
    "cells = \"all\"",
    "count = 16",
    "count = 0",
    "kind = \"value\"",
    "kind = \"consumer\"",
    "kind = 7",
    "rate = \"0/s\"",
    "rate = \"1e9/s\"",
    "params = { token = 65536, lookback = 0, threshold = 2 }",
    "params = { market = 1, exec_timeout = \"-1s\", trust_min = 1e-9 }",
    "params = { fundamental = 0, quantity = 9223372036854775807 }",
    "token = 0",
    "interval = \"0s\"",
];

proptest! {
    #[test]
    fn mutated_market_scenarios_never_panic(
        edits in proptest::collection::vec(
            (0usize..70, 0usize..MARKET_FRAGMENTS.len(), any::<bool>()),
            1..6,
        )
    ) {
        let mut lines: Vec<String> = MARKETS_EXAMPLE.lines().map(str::to_string).collect();
        for (line, fragment, replace) in edits {
            let line = line % (lines.len() + 1);
            if replace && line < lines.len() {
                lines[line] = MARKET_FRAGMENTS[fragment].to_string();
            } else {
                lines.insert(line, MARKET_FRAGMENTS[fragment].to_string());
            }
        }
        let text = lines.join("\n");
        if let Err(error) = parse(&text) {
            prop_assert!(error.line >= 1);
            prop_assert!(error.line as usize <= text.lines().count() + 1);
            prop_assert!(!error.message.is_empty());
        }
    }
}
