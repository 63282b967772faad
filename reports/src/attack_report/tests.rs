use super::*;
use crate::attack::AdversaryAct;
use crate::record::{Checks, NS_PER_MS, RunRecorder, TxOrder};

/// A small run: TXs finalized, a round decided; `forked` adds a fork
/// detection, `divergence` a first divergence.
fn arm(seed: u64, forked: bool, agreement_violated: bool) -> ArmRun {
    let mut recorder = RunRecorder::new(
        "t",
        seed,
        4,
        [0, 1, 2],
        10 * NS_PER_MS,
        Checks {
            safety: true,
            ..Checks::default()
        },
    );
    for i in 0..4u64 {
        let id = format!("tx{i}");
        recorder.tx_submitted(i * NS_PER_S, 0, &id);
        for cell in 0..3 {
            recorder.tx_ordered(
                i * NS_PER_S + (seed + i) * 100 * NS_PER_MS,
                cell,
                &id,
                TxOrder {
                    round_received: i,
                    consensus_timestamp_ns: i * NS_PER_S,
                    position: i,
                },
            );
        }
    }
    recorder.round_decided(NS_PER_S, 0, 1);
    if forked {
        recorder.fork_detected(2 * NS_PER_S, 1, 3);
        recorder.adversary(
            NS_PER_S,
            3,
            "equivocate",
            AdversaryAct::Equivocating { branches: 2 },
        );
        recorder.message_rejected(2, "event: bad signature");
    }
    if agreement_violated {
        recorder.first_divergence(DivergenceRecord {
            kind: "order".into(),
            round: 2,
            position: 7,
            cells: [0, 1],
            events: [Some("aa".into()), Some("bb".into())],
            time_ns: 3 * NS_PER_S,
        });
    }
    let record = recorder.finish(5 * NS_PER_S, 0, &"0".repeat(64));
    let report = RunReport::new(&record).unwrap();
    ArmRun::new(
        &report,
        &format!("attacked/seed-{seed}"),
        agreement_violated,
        false,
    )
}

fn campaign(expect: Claims, byzantine: u32, violated_seeds: &[u64]) -> AttackCampaign {
    AttackCampaign {
        scenario: "t".into(),
        file: "scenarios/attacks/t.toml".into(),
        description: "Scenario \"t\".".into(),
        virtual_duration_ns: 5 * NS_PER_S,
        cells: 10,
        byzantine_cells: (10 - byzantine..10).collect(),
        stake_per_cell: 1,
        script: vec![ScriptBlock {
            behaviour: "equivocate".into(),
            description: "equivocate on 7..10 from 1s".into(),
            cells: (10 - byzantine..10).collect(),
            from_ns: NS_PER_S,
            until_ns: None,
        }],
        expect,
        runs: (1..=3)
            .map(|seed| SeedRuns {
                seed,
                attacked: arm(seed, true, violated_seeds.contains(&seed)),
                baseline: arm(seed, false, false),
            })
            .collect(),
    }
}

#[test]
fn distributions_use_nearest_rank_quartiles_and_skip_undefined_values() {
    let distribution = Distribution::of([Some(4.0), None, Some(1.0), Some(3.0), Some(2.0)]);
    assert_eq!(distribution.seeds, 4);
    assert_eq!(distribution.q1, Some(1.0));
    assert_eq!(distribution.median, Some(2.0));
    assert_eq!(distribution.q3, Some(3.0));
    assert_eq!((distribution.min, distribution.max), (Some(1.0), Some(4.0)));
    assert_eq!(Distribution::of([None]).median, None);
}

#[test]
fn a_true_claim_holds_only_without_violations_and_a_false_one_needs_one() {
    let holds = Claims {
        agreement: Some(true),
        ..Claims::default()
    };
    let report = AttackReport::new(&campaign(holds, 3, &[]));
    assert!(report.verdict.holds);
    assert_eq!(report.claims.source, "expect");
    assert!(report.violations.is_empty(), "{:?}", report.violations);

    let report = AttackReport::new(&campaign(holds, 3, &[2]));
    assert!(!report.verdict.holds);
    assert_eq!(report.verdict.claims[0].violated_seeds, vec![2]);
    let violation = &report.violations[0];
    assert_eq!(
        violation.command,
        "celluler run scenarios/attacks/t.toml --seed 2"
    );
    assert!(
        violation
            .first_divergence
            .as_deref()
            .unwrap()
            .contains("position 7"),
        "{violation:?}"
    );

    let breaks = Claims {
        agreement: Some(false),
        ..Claims::default()
    };
    assert!(AttackReport::new(&campaign(breaks, 4, &[3])).verdict.holds);
    let report = AttackReport::new(&campaign(breaks, 4, &[]));
    assert!(!report.verdict.holds);
    let failed = report.violations.last().unwrap();
    assert_eq!(failed.what, vec!["claim", "agreement"]);
    assert!(failed.command.ends_with("--seed 1"));
}

#[test]
fn without_expect_agreement_and_state_are_claimed_below_one_third_only() {
    let report = AttackReport::new(&campaign(Claims::default(), 3, &[]));
    assert!(report.adversary.below_one_third);
    assert_eq!(report.claims.source, "default");
    assert_eq!(
        (report.claims.agreement, report.claims.state),
        (Some(true), Some(true))
    );
    let report = AttackReport::new(&campaign(Claims::default(), 4, &[1]));
    assert!(!report.adversary.below_one_third);
    assert_eq!(report.adversary.threshold, "the threshold was crossed");
    assert_eq!(report.claims.source, "none");
    assert!(report.verdict.holds && report.verdict.claims.is_empty());
    // The violation is still listed, with its replay command.
    assert_eq!(report.violations[0].seed, 1);
    let markdown = render_attack_report(&campaign(Claims::default(), 4, &[1]), &report);
    assert!(markdown.contains("the threshold was crossed"), "{markdown}");
    assert!(markdown.contains("celluler run scenarios/attacks/t.toml --seed 1"));
}

#[test]
fn metrics_and_detection_compare_the_arms_over_seeds() {
    let report = AttackReport::new(&campaign(Claims::default(), 3, &[]));
    let forks = report
        .metrics
        .iter()
        .find(|metric| metric.name == "forks_detected")
        .unwrap();
    assert_eq!(forks.attacked.median, Some(1.0));
    assert_eq!(forks.baseline.max, Some(0.0));
    let finality = &report.metrics[0];
    assert_eq!(finality.attacked.seeds, 3);
    assert_eq!(
        report.detection.rejections_attacked["event: bad signature"],
        3
    );
    assert!(report.detection.rejections_baseline.is_empty());
    assert_eq!(
        report.detection.adversary_actions["equivocate"]["equivocating"],
        3
    );
    assert_eq!(report.detection.forks[0].forkers[0].cells_detected, 1);
    assert_eq!(report.detection.forks[0].forkers[0].honest_cells, 7);
}

#[test]
fn replay_commands_quote_unusual_paths() {
    assert_eq!(
        replay_command("my scenarios/a.toml", 3, true),
        "celluler run 'my scenarios/a.toml' --seed 3 --baseline"
    );
}

#[test]
fn outputs_are_written_and_deterministic() {
    let dir = std::env::temp_dir().join(format!("attack-report-test-{}", std::process::id()));
    let campaign = campaign(Claims::default(), 3, &[2]);
    let first = write_attack_outputs(&campaign, &dir).unwrap();
    let json = fs::read(dir.join("attack.json")).unwrap();
    let markdown = fs::read_to_string(dir.join("attack.md")).unwrap();
    for stem in ATTACK_PLOT_STEMS {
        for extension in ["svg", "png"] {
            let size = fs::metadata(dir.join(format!("{stem}.{extension}")))
                .unwrap()
                .len();
            assert!(size > 100, "{stem}.{extension}: {size} bytes");
        }
    }
    assert!(!first.verdict.holds);
    assert!(markdown.contains("**FAILS**"), "{markdown}");
    write_attack_outputs(&campaign, &dir).unwrap();
    assert!(json == fs::read(dir.join("attack.json")).unwrap());
    let _ = fs::remove_dir_all(&dir);
}
