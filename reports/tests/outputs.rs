//! The output files of a synthetic run: snapshots of summary.json and
//! report.md, CSV shape, plot files, and a failing check.

use std::fs;
use std::path::PathBuf;

use celluler_reports::record::{NS_PER_MS, NS_PER_S};
use celluler_reports::tables::{AGENTS_HEADER, MARKETS_HEADER};
use celluler_reports::tables::{TIMESERIES_HEADER, TRANSACTIONS_HEADER};
use celluler_reports::{
    AgentRecord, BookTop, CapacityRecord, Checks, Counter, DivergenceRecord, FaultWindow,
    LeaseEventRecord, LedgerViolationRecord, MarketRecord, MarketRoundRecord, OrderRecord,
    RunRecord, RunRecorder, TimeNs, TradeRecord, TxMarket, TxOrder, write_run_outputs,
};

/// A fixed pseudo-random sequence (xorshift64*) so the fixture needs no RNG crate.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % below
    }
}

/// Eight cells, cell 7 Byzantine, cell 6 crashes at 12 s for good; 20 s of
/// virtual time; a partition from 8 s to 11 s stalls consensus; one
/// transaction every 50 ms; consensus orders by a noisy timestamp.
fn synthetic_record(checks: Checks) -> RunRecord {
    finish_synthetic(synthetic_recorder(checks))
}

/// The synthetic run's virtual duration.
const SYNTHETIC_DURATION_NS: TimeNs = 20 * NS_PER_S;

/// [`synthetic_record`]'s recorder, before `finish`.
fn synthetic_recorder(checks: Checks) -> RunRecorder {
    let cells = 8u32;
    let duration_ns = SYNTHETIC_DURATION_NS;
    let mut recorder = RunRecorder::new("synthetic", 42, cells, 0..7, 50 * NS_PER_MS, checks);
    let mut sequence = Sequence(0x9E37_79B9_7F4A_7C15);
    // Its own stream, so the other numbers do not move with the claims.
    let mut claim_delays = Sequence(0x2545_F491_4F6C_DD1D);
    recorder.fault(FaultWindow {
        kind: "partition".into(),
        label: "cells 0..4 | 4..8".into(),
        start_ns: 8 * NS_PER_S,
        end_ns: 11 * NS_PER_S,
    });
    recorder.fault(FaultWindow {
        kind: "crash".into(),
        label: "cell 6, no restart".into(),
        start_ns: 12 * NS_PER_S,
        end_ns: duration_ns,
    });
    recorder.cell_crashed(12 * NS_PER_S, 6);
    let in_partition = |t: TimeNs| (8 * NS_PER_S..11 * NS_PER_S).contains(&t);

    let mut planned: Vec<(TimeNs, String, Vec<TimeNs>)> = Vec::new();
    for index in 0..390u64 {
        let submit_ns = index * 50 * NS_PER_MS + sequence.next(10 * NS_PER_MS);
        let submitter = (index % 7) as u32;
        let id = format!("tx-{index:04}");
        recorder.tx_submitted(submit_ns, submitter, &id);
        let mut receipts = Vec::new();
        for cell in 0..cells {
            let latency_ns = 20 * NS_PER_MS + sequence.next(80 * NS_PER_MS);
            let received_ns = if cell == submitter {
                submit_ns
            } else {
                submit_ns + latency_ns
            };
            recorder.tx_received(received_ns, cell, &id);
            receipts.push(received_ns);
            // The cell's next event reaches it 0–60 ms after it received it.
            let claim_ns = received_ns + claim_delays.next(60 * NS_PER_MS);
            recorder.tx_reached(cell, &id, claim_ns);
        }
        // Consensus timestamp: a middle receipt plus up to 30 ms, so a few
        // land outside the band of claims.
        let mut sorted = receipts[..7].to_vec();
        sorted.sort_unstable();
        let timestamp_ns = sorted[3] + sequence.next(30 * NS_PER_MS);
        planned.push((timestamp_ns, id, receipts));
    }
    planned.sort();
    for (position, (timestamp_ns, id, _)) in planned.iter().enumerate() {
        let order = TxOrder {
            round_received: timestamp_ns / (250 * NS_PER_MS),
            consensus_timestamp_ns: *timestamp_ns,
            position: position as u64,
        };
        // Final 300–600 ms after its timestamp, or after the partition heals.
        let mut base_ns = timestamp_ns + 300 * NS_PER_MS;
        if in_partition(base_ns) {
            base_ns = 11 * NS_PER_S + 200 * NS_PER_MS;
        }
        for cell in 0..cells {
            let final_ns = base_ns + sequence.next(300 * NS_PER_MS);
            if cell == 6 && final_ns >= 12 * NS_PER_S {
                continue;
            }
            if final_ns < duration_ns {
                recorder.tx_ordered(final_ns, cell, id, order);
            }
        }
    }
    let mut round = 0;
    let mut time_ns = 250 * NS_PER_MS;
    while time_ns < duration_ns {
        if !in_partition(time_ns) {
            round += 1;
            for cell in 0..cells {
                recorder.round_decided(time_ns + sequence.next(40 * NS_PER_MS), cell, round);
            }
        }
        time_ns += 250 * NS_PER_MS;
    }
    for millisecond in 0..20_000u64 {
        let time_ns = millisecond * NS_PER_MS;
        recorder.count(time_ns, Counter::MessagesSent, 7);
        recorder.count(time_ns, Counter::EventsCreated, 1);
        if in_partition(time_ns) || millisecond % 97 == 0 {
            recorder.count(time_ns, Counter::MessagesDropped, 3);
        }
    }
    recorder
}

fn finish_synthetic(recorder: RunRecorder) -> RunRecord {
    recorder.finish(
        SYNTHETIC_DURATION_NS,
        1234,
        "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
    )
}

fn passing_checks() -> Checks {
    Checks {
        safety: true,
        liveness: true,
        max_finality_p99_ns: Some(5 * NS_PER_S),
        min_throughput_tps: Some(10.0),
        max_stall_ns: Some(4 * NS_PER_S),
        ..Checks::default()
    }
}

fn output_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = fs::remove_dir_all(&dir);
    dir
}

#[test]
fn summary_and_report_snapshots() {
    let dir = output_dir("snapshots");
    let report = write_run_outputs(&synthetic_record(passing_checks()), &dir).unwrap();
    assert!(report.summary.passed, "{:?}", report.checks);
    insta::assert_snapshot!(
        "summary_json",
        fs::read_to_string(dir.join("summary.json")).unwrap()
    );
    insta::assert_snapshot!(
        "report_md",
        fs::read_to_string(dir.join("report.md")).unwrap()
    );
}

#[test]
fn outputs_are_byte_identical_across_runs() {
    let (first, second) = (output_dir("repeat-1"), output_dir("repeat-2"));
    write_run_outputs(&synthetic_record(passing_checks()), &first).unwrap();
    write_run_outputs(&synthetic_record(passing_checks()), &second).unwrap();
    for file in [
        "summary.json",
        "transactions.csv",
        "timeseries.csv",
        "report.md",
        "throughput.svg",
    ] {
        assert_eq!(
            fs::read(first.join(file)).unwrap(),
            fs::read(second.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn csv_headers_and_rows() {
    let dir = output_dir("csv");
    let record = synthetic_record(passing_checks());
    write_run_outputs(&record, &dir).unwrap();

    let transactions = fs::read_to_string(dir.join("transactions.csv")).unwrap();
    let lines: Vec<&str> = transactions.lines().collect();
    assert_eq!(lines[0], TRANSACTIONS_HEADER.join(","));
    assert_eq!(lines.len(), 1 + record.transactions.len());
    let first: Vec<&str> = lines[1].split(',').collect();
    let tx = &record.transactions[0];
    let order = tx.order.unwrap();
    assert_eq!(first[0], tx.id);
    assert_eq!(first[2], tx.submit_ns.to_string());
    assert_eq!(first[3], order.round_received.to_string());
    assert_eq!(first[5], order.position.to_string());
    // Live honest cells are 0..6 (cell 6 is down at the end).
    let finals: Vec<TimeNs> = (0..6).map(|cell| tx.final_ns[&cell]).collect();
    assert_eq!(first[6], finals.iter().min().unwrap().to_string());
    assert_eq!(first[7], finals.iter().max().unwrap().to_string());

    let timeseries = fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let lines: Vec<&str> = timeseries.lines().collect();
    assert_eq!(lines[0], TIMESERIES_HEADER.join(","));
    assert_eq!(lines.len(), 1 + 20);
    // Second 9 is inside the partition: no round decided, drops every ms.
    let partition: Vec<&str> = lines[1 + 9].split(',').collect();
    assert_eq!(partition[0], "9");
    assert_eq!(partition[3], "0");
    assert_eq!(partition[4], "7000");
    assert_eq!(partition[5], "3000");
    assert_eq!(partition[6], "1000");
    let total_submitted: u64 = lines[1..]
        .iter()
        .map(|line| line.split(',').nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total_submitted, 390);
}

#[test]
fn plots_are_written_as_svg_and_png() {
    let dir = output_dir("plots");
    write_run_outputs(&synthetic_record(passing_checks()), &dir).unwrap();
    for stem in celluler_reports::plots::PLOT_STEMS {
        let svg = fs::read(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.len() > 2_000, "{stem}.svg is {} bytes", svg.len());
        assert!(svg.starts_with(b"<svg"), "{stem}.svg header");
        assert!(
            String::from_utf8(svg)
                .unwrap()
                .trim_end()
                .ends_with("</svg>")
        );
        let png = fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert!(png.len() > 5_000, "{stem}.png is {} bytes", png.len());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png header");
    }
}

#[test]
fn unmet_thresholds_fail_the_run_and_say_why() {
    let checks = Checks {
        max_finality_p99_ns: Some(100 * NS_PER_MS),
        min_throughput_tps: Some(1_000.0),
        ..passing_checks()
    };
    let dir = output_dir("failing");
    let report = write_run_outputs(&synthetic_record(checks), &dir).unwrap();
    assert!(!report.summary.passed);
    assert_eq!(report.summary.checks["max_finality_p99"], "fail");
    assert_eq!(report.summary.checks["min_throughput_tps"], "fail");
    assert_eq!(report.summary.checks["safety"], "pass");
    let markdown = fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(markdown.contains("**FAIL**: 2 of 5 checks do not hold."));
    assert!(markdown.contains("exceeds the maximum 100.000 ms"));
}

#[test]
fn a_first_divergence_is_reported_and_fails_safety() {
    let mut recorder = synthetic_recorder(passing_checks());
    let (ours, theirs) = ("ab".repeat(32), "cd".repeat(32));
    let text = format!(
        "order diverges at round 12, position 3481: cell 0 ordered {ours} but cell 5 ordered {theirs}"
    );
    recorder.safety_violation(7_250 * NS_PER_MS, &text);
    recorder.first_divergence(DivergenceRecord {
        kind: "order".into(),
        round: 12,
        position: 3481,
        cells: [0, 5],
        events: [Some(ours.clone()), Some(theirs.clone())],
        time_ns: 7_250 * NS_PER_MS,
    });
    let dir = output_dir("divergence");
    let report = write_run_outputs(&finish_synthetic(recorder), &dir).unwrap();

    assert!(!report.summary.passed);
    assert!(!report.summary.safety.ok);
    assert_eq!(report.summary.checks["safety"], "fail");
    assert!(
        report.summary.check_reasons["safety"].starts_with(
            "1 safety violation(s); first divergence: order diverges at round 12, position 3481"
        ),
        "{}",
        report.summary.check_reasons["safety"]
    );
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["safety"]["first_divergence"],
        serde_json::json!({
            "kind": "order",
            "round": 12,
            "position": 3481,
            "cells": [0, 5],
            "events": [ours, theirs],
            "time_ms": 7250.0,
        })
    );
    assert_eq!(summary["safety"]["ok"], false);
    assert_eq!(
        summary["safety"]["violations"][0],
        format!("at 7250000000 ns: {text}")
    );
    let markdown = fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        markdown.contains(&format!(
            "**First divergence**: order diverges at round 12, position 3481, at 7250.000 ms: \
             cell 0 ordered {ours} but cell 5 ordered {theirs}.\n"
        )),
        "{markdown}"
    );
    assert!(markdown.contains("| Safety | **1 violation(s)** |"));
    assert!(markdown.contains("| safety | **FAIL** |"));

    // A divergence alone (a record from elsewhere, without its text) fails too.
    let mut record = synthetic_record(passing_checks());
    record.first_divergence = Some(DivergenceRecord {
        kind: "state_hash".into(),
        round: 3,
        position: 40,
        cells: [1, 2],
        events: [None, None],
        time_ns: NS_PER_S,
    });
    let report = write_run_outputs(&record, &output_dir("divergence-alone")).unwrap();
    assert!(!report.summary.safety.ok);
    assert_eq!(report.summary.checks["safety"], "fail");
    record.first_divergence.as_mut().unwrap().cells = [1, 8];
    assert!(write_run_outputs(&record, &output_dir("divergence-invalid")).is_err());
}

#[test]
fn invalid_record_is_rejected_before_writing() {
    let mut record = synthetic_record(Checks::default());
    record.trace_hash = "not a hash".into();
    let dir = output_dir("invalid");
    let error = write_run_outputs(&record, &dir).unwrap_err();
    assert!(error.to_string().contains("64 lowercase hex"), "{error}");
    assert!(!dir.exists());
}

#[test]
fn run_record_round_trips_through_json() {
    let record = synthetic_record(passing_checks());
    let json = serde_json::to_string(&record).unwrap();
    let back: RunRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, record);
    // Checks absent from a document default to "not requested".
    let checks: Checks = serde_json::from_str(r#"{"safety": true}"#).unwrap();
    assert_eq!(
        checks,
        Checks {
            safety: true,
            ..Checks::default()
        }
    );
}

/// The synthetic run with markets: two tokens quoted every 250 ms round
/// (data-credit around its fundamental 100, gpu-hour without one), an
/// order per transaction tx-0000.. (every third one fills in the next
/// round), a compute market whose lease is slashed once, seven agents.
fn synthetic_market_record() -> RunRecord {
    let mut recorder = synthetic_recorder(passing_checks());
    let mut sequence = Sequence(0x5DEE_CE66_D1CE_4E5B);
    let mut rounds = Vec::new();
    let mut order_id = 0u64;
    let mut pending: Vec<(u64, u16, u64)> = Vec::new();
    for round in 1..=76u64 {
        let time_ns = round * 250 * NS_PER_MS;
        let mut market_round = MarketRoundRecord {
            round,
            time_ns,
            ..MarketRoundRecord::default()
        };
        for (maker, token, price) in pending.drain(..) {
            market_round.trades.push(TradeRecord {
                token,
                price,
                quantity: 2,
                buyer: Some((maker % 7) as u32),
                seller: Some(((maker + 1) % 7) as u32),
                taker_side: "bid".into(),
                maker_order: maker,
                taker_order: maker + 1_000_000,
            });
        }
        for token in 0..2u16 {
            let centre = if token == 0 { 100 } else { 40 };
            let bid = centre - 1 - sequence.next(4);
            let ask = centre + 1 + sequence.next(4);
            market_round.books.push(BookTop {
                token,
                best_bid: Some(bid),
                best_ask: (round % 10 != 0).then_some(ask),
                bid_depth: 5 + sequence.next(20),
                ask_depth: 5 + sequence.next(20),
            });
            let index = (round * 2 + u64::from(token)) as usize;
            let tx = format!("tx-{index:04}");
            recorder.tx_market(
                &tx,
                TxMarket {
                    kind: "order".into(),
                    token: Some(token),
                    side: Some("ask".into()),
                    price: Some(ask),
                    quantity: Some(4),
                },
            );
            market_round.orders.push(OrderRecord {
                id: order_id,
                token,
                owner: Some((order_id % 7) as u32),
                side: "ask".into(),
                price: Some(ask),
                quantity: 4,
                tx,
                filled: 0,
                resting: 4,
                cancelled: 0,
            });
            if order_id % 3 == 0 {
                pending.push((order_id, token, ask));
            }
            order_id += 1;
        }
        if round == 4 {
            market_round.leases.push(LeaseEventRecord {
                lease: 1,
                market: "compute".into(),
                provider: Some(5),
                consumer: Some(6),
                event: "opened".into(),
                amount: 40,
                reason: None,
            });
        }
        if round == 60 {
            market_round.leases.push(LeaseEventRecord {
                lease: 1,
                market: "compute".into(),
                provider: Some(5),
                consumer: Some(6),
                event: "slashed".into(),
                amount: 25,
                reason: Some("missed proof".into()),
            });
        }
        market_round.capacity.push(CapacityRecord {
            market: "compute".into(),
            offered: 10,
            leased: if (4..60).contains(&round) { 4 } else { 0 },
        });
        rounds.push(market_round);
    }
    let kinds = [
        "market-maker",
        "noise-trader",
        "noise-trader",
        "momentum",
        "front-runner",
        "compute-provider",
        "consumer",
    ];
    let agents = kinds
        .iter()
        .enumerate()
        .map(|(cell, kind)| AgentRecord {
            cell: cell as u32,
            kind: (*kind).into(),
            byzantine: *kind == "front-runner",
            initial_prana: 10_000,
            initial_tokens: vec![50, 50],
            final_prana: 10_000 - 300 + 100 * cell as u64,
            final_tokens: vec![50 + cell as u64, 48],
            fees_paid: 10 + cell as u64,
            txs_submitted: 20,
            orders_submitted: 18,
            rejected: [("insufficient-funds".to_string(), cell as u64)].into(),
        })
        .collect();
    recorder.set_markets(MarketRecord {
        tokens: vec!["data-credit".into(), "gpu-hour".into()],
        fundamental: vec![Some(100), None],
        agents,
        rounds,
        violations: vec![LedgerViolationRecord {
            cell: 2,
            round: 30,
            time_ns: 30 * 250 * NS_PER_MS,
            invariant: "conservation".into(),
            detail: "supply 1 PRANA short".into(),
        }],
        fee_pool_final: 35,
        burned_final: 7,
    });
    finish_synthetic(recorder)
}

#[test]
fn a_run_with_markets_writes_the_market_outputs() {
    let dir = output_dir("markets");
    let record = synthetic_market_record();
    let report = write_run_outputs(&record, &dir).unwrap();
    assert!(report.summary.passed, "{:?}", report.checks);

    let markdown = fs::read_to_string(dir.join("report.md")).unwrap();
    for expected in [
        "## Markets\n",
        "### Exchange\n",
        "| data-credit | ",
        "### Lease markets\n",
        "| compute | 1 | 0 | 0 | 1 | 0 | 40 | 0 | 25 |",
        "All agents, highest PnL first:",
        "- round 60: compute lease 1, provider cell 5, 25 PRANA slashed: missed proof",
        "- cell 2, round 30 (7500.000 ms): conservation: supply 1 PRANA short",
        "![Traded volume per virtual second](market_volume.svg)",
        "[markets.csv](markets.csv)",
    ] {
        assert!(
            markdown.contains(expected),
            "missing {expected:?} in\n{markdown}"
        );
    }

    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let credit = &summary["markets"]["tokens"]["data-credit"];
    // Orders 0, 3, 6, … fill 2 units in the next round: 50 of the 152
    // (order 150, of the last round, never does), 25 of each token.
    assert_eq!(credit["trades"], 25);
    assert_eq!(credit["volume_units"], 50);
    assert_eq!(summary["markets"]["tokens"]["gpu-hour"]["trades"], 25);
    assert_eq!(
        summary["markets"]["lease_markets"]["compute"]["leases_slashed"],
        1
    );
    assert_eq!(summary["markets"]["violations_total"], 1);

    let markets_csv = fs::read_to_string(dir.join("markets.csv")).unwrap();
    let lines: Vec<&str> = markets_csv.lines().collect();
    assert_eq!(lines[0], MARKETS_HEADER.join(","));
    assert_eq!(lines.len(), 1 + 76 * 2);
    let agents_csv = fs::read_to_string(dir.join("agents.csv")).unwrap();
    let lines: Vec<&str> = agents_csv.lines().collect();
    assert_eq!(lines[0], AGENTS_HEADER.join(","));
    assert_eq!(lines.len(), 1 + 7);
    let transactions = fs::read_to_string(dir.join("transactions.csv")).unwrap();
    assert!(
        transactions
            .lines()
            .any(|line| line.starts_with("tx-0002,") && line.contains(",order,data-credit,ask,")),
        "{transactions}"
    );

    for stem in [
        "market_price_0",
        "market_price_1",
        "market_volume",
        "market_pnl_by_kind",
        "market_capacity",
    ] {
        let svg = fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.len() > 2_000, "{stem}.svg is {} bytes", svg.len());
        assert!(svg.trim_end().ends_with("</svg>"), "{stem}.svg");
        let png = fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png header");
    }

    // The same record gives the same market files.
    let again = output_dir("markets-again");
    write_run_outputs(&synthetic_market_record(), &again).unwrap();
    for file in [
        "summary.json",
        "markets.csv",
        "agents.csv",
        "transactions.csv",
        "market_price_0.svg",
        "market_pnl_by_kind.svg",
    ] {
        assert!(
            fs::read(dir.join(file)).unwrap() == fs::read(again.join(file)).unwrap(),
            "{file} differs between two writes of one record"
        );
    }
}

#[test]
fn a_run_without_markets_writes_no_market_outputs() {
    let dir = output_dir("no-markets");
    write_run_outputs(&synthetic_record(passing_checks()), &dir).unwrap();
    for file in ["markets.csv", "agents.csv", "market_volume.svg"] {
        assert!(!dir.join(file).exists(), "{file}");
    }
    let summary = fs::read_to_string(dir.join("summary.json")).unwrap();
    assert!(!summary.contains("\"markets\""));
    let markdown = fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(!markdown.contains("## Markets"));
}
