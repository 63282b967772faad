//! Metric tests: tiny hand-computed runs, and the fast pair algorithms
//! against naive O(n²) definitions on random inputs.

use proptest::prelude::*;

use super::*;
use crate::record::{Checks, FaultWindow, RunRecorder, TxOrder};

const HASH: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn order(position: u64, timestamp_ns: TimeNs) -> TxOrder {
    TxOrder {
        round_received: position + 1,
        consensus_timestamp_ns: timestamp_ns,
        position,
    }
}

/// Three honest cells, three transactions; every number below is worked
/// out by hand in the comments.
fn three_tx_record() -> RunRecord {
    three_tx_record_with(|_| {})
}

/// [`three_tx_record`], with `more` recorded before the end.
fn three_tx_record_with(more: impl FnOnce(&mut RunRecorder)) -> RunRecord {
    let mut recorder = RunRecorder::new("hand", 7, 3, [0, 1, 2], 10, Checks::default());
    // a: receipts 0, 10, 20 → reference 10; position 1; timestamp 15,
    // inside the claims [12, 18] of the events that reached it.
    recorder.tx_submitted(0, 0, "a");
    recorder.tx_received(10, 1, "a");
    recorder.tx_received(20, 2, "a");
    // b: receipts 30, 5, 40 → reference 30; position 0; timestamp 50,
    // outside the claims [20, 45]. c: no claims (no band).
    recorder.tx_submitted(5, 1, "b");
    recorder.tx_received(30, 0, "b");
    recorder.tx_received(40, 2, "b");
    // c: receipts 110, 120, 100 → reference 110; position 2; timestamp 110.
    recorder.tx_submitted(100, 2, "c");
    recorder.tx_received(110, 0, "c");
    recorder.tx_received(120, 1, "c");
    recorder.tx_reached(0, "a", 12);
    recorder.tx_reached(2, "a", 18);
    recorder.tx_reached(1, "a", 30); // later claims of one cell: the first is kept
    recorder.tx_reached(1, "a", 14);
    recorder.tx_reached(0, "b", 20);
    recorder.tx_reached(1, "b", 45);
    let order_a = order(1, 15);
    let order_b = order(0, 50);
    let order_c = order(2, 110);
    // a final at 1000, 1200, 1100 → L_first 1000, L_all 1200.
    recorder.tx_ordered(1000, 0, "a", order_a);
    recorder.tx_ordered(1200, 1, "a", order_a);
    recorder.tx_ordered(1100, 2, "a", order_a);
    // b final at 1005, 1005, 1505 → L_first 1000, L_all 1500.
    recorder.tx_ordered(1005, 0, "b", order_b);
    recorder.tx_ordered(1005, 1, "b", order_b);
    recorder.tx_final_at_cell(1505, 2, "b");
    // c final only at cell 0, 2100 → L_first 2000, not finalized.
    recorder.tx_ordered(2100, 0, "c", order_c);
    recorder.round_decided(500, 0, 1);
    recorder.round_decided(600, 1, 1);
    recorder.round_decided(700, 2, 1);
    more(&mut recorder);
    recorder.finish(2 * NS_PER_S, 3, HASH)
}

#[test]
fn band_violations_are_told_apart_by_who_created_the_famous_witnesses() {
    // b (round received 1) is the one violation. Cell 3 is not honest.
    let with_famous = |creators: &'static [u32]| {
        Metrics::compute(&three_tx_record_with(|recorder| {
            recorder.round_famous(0, 1, creators);
            // Later reports of the round do not count (honest cells agree).
            recorder.round_famous(1, 1, &[0, 1, 2]);
        }))
        .fairness
    };
    // Honest creators hold 2 of 3 unique famous witnesses: the median is
    // between honest claims, so the violation is a broken promise.
    let fairness = with_famous(&[0, 1, 3]);
    assert_eq!(fairness.timestamp_band_violations, 1);
    assert_eq!(fairness.timestamp_band_violations_honest_majority, 1);
    assert_eq!(fairness.rounds_byzantine_half_famous, 0);
    // Byzantine creators hold half: the round is outside the promise.
    let fairness = with_famous(&[0, 3]);
    assert_eq!(fairness.timestamp_band_violations, 1);
    assert_eq!(fairness.timestamp_band_violations_honest_majority, 0);
    assert_eq!(fairness.rounds_byzantine_half_famous, 1);
    // A Byzantine reporter's account is not taken.
    let fairness = Metrics::compute(&three_tx_record_with(|recorder| {
        recorder.round_famous(3, 1, &[3]);
    }))
    .fairness;
    assert_eq!(fairness.rounds_byzantine_half_famous, 0);
}

#[test]
fn hand_computed_finality() {
    let metrics = Metrics::compute(&three_tx_record());
    assert_eq!(metrics.txs_submitted, 3);
    assert_eq!(metrics.txs_ordered, 3);
    assert_eq!(metrics.txs_finalized, 2);
    assert_eq!(metrics.finality_all_ns, vec![1200, 1500]);
    assert_eq!(metrics.finality_first_ns, vec![1000, 1000, 2000]);
    assert_eq!(
        metrics.finality_all,
        Percentiles {
            p50: Some(1200),
            p90: Some(1500),
            p99: Some(1500),
            max: Some(1500)
        }
    );
    assert_eq!(metrics.finality_first.p50, Some(1000));
    assert_eq!(metrics.finality_first.p90, Some(2000));
    assert_eq!(metrics.unfinalized_submit_ns, vec![100]);
    assert_eq!(metrics.finality_by_cell_ns[&2], vec![1100, 1500]);
    assert_eq!(metrics.throughput_tps, Some(1.0));
}

#[test]
fn hand_computed_fairness() {
    let fairness = Metrics::compute(&three_tx_record()).fairness;
    assert_eq!(fairness.measured_txs, 3);
    // Reference times a 10, b 30, c 110 all differ by more than 10 ns; only
    // (a, b) is ordered against them.
    assert_eq!(fairness.inversion_eligible_pairs, 3);
    assert_eq!(fairness.inversion_violated_pairs, 1);
    assert_eq!(fairness.inversion_rate, Some(1.0 / 3.0));
    // Reference order a, b, c; ranks 1, 0, 2: C = 2, D = 1, τ = 1/3.
    assert_eq!(fairness.kendall_tau, Some(1.0 / 3.0));
    // (a, b): 2 of 3 cells got a first: eligible only for γ = 0.6, violated.
    // (a, c), (b, c): every cell agrees and the order agrees.
    let rates: Vec<_> = fairness
        .gamma
        .iter()
        .map(|g| (g.gamma, g.eligible_pairs, g.violated_pairs))
        .collect();
    assert_eq!(
        rates,
        vec![("0.6", 3, 1), ("0.75", 2, 0), ("0.9", 2, 0), ("1.0", 2, 0)]
    );
    assert_eq!(fairness.gamma_sampling_stride, 1);
    assert_eq!(fairness.timestamp_band_violations, 1);
    assert_eq!(fairness.timestamp_band_measured, 2);
    // Mean inclusion latency (L_first) per submitter: 1000, 1000, 2000:
    // 4000² / (3 · 6·10⁶) = 8/9.
    assert_eq!(fairness.jain_submitters, 3);
    let jain = fairness.jain_index.unwrap();
    assert!((jain - 8.0 / 9.0).abs() < 1e-12, "{jain}");
}

#[test]
fn inversion_threshold_is_strict() {
    let measured = vec![
        measured_tx(0, 1, vec![0]),
        measured_tx(10, 0, vec![10]),
        measured_tx(11, 2, vec![11]),
    ];
    // Differences: 10 (not > 10), 11, 1. Only (0, 11) is eligible, in order.
    assert_eq!(inversions_beyond(&measured, 10), (1, 0));
    assert_eq!(inversions_beyond(&measured, 0), (3, 1));
}

#[test]
fn percentiles_nearest_rank() {
    let hundred: Vec<TimeNs> = (1..=100).collect();
    assert_eq!(
        Percentiles::of_sorted(&hundred),
        Percentiles {
            p50: Some(50),
            p90: Some(90),
            p99: Some(99),
            max: Some(100)
        }
    );
    assert_eq!(nearest_rank(&[10], 500), Some(10));
    assert_eq!(nearest_rank(&[1, 2, 3, 4], 500), Some(2));
    assert_eq!(nearest_rank(&[1, 2, 3, 4], 510), Some(3));
    assert_eq!(nearest_rank(&[1, 2, 3, 4], 0), Some(1));
    assert_eq!(Percentiles::of_sorted(&[]), Percentiles::default());
}

#[test]
fn jain_index_examples() {
    assert_eq!(jain_index(&[3.0, 3.0, 3.0, 3.0]), Some(1.0));
    assert_eq!(jain_index(&[1.0, 0.0, 0.0, 0.0]), Some(0.25));
    assert_eq!(jain_index(&[1.0, 3.0]), Some(16.0 / 20.0));
    assert_eq!(jain_index(&[0.0, 0.0]), Some(1.0));
    assert_eq!(jain_index(&[]), None);
}

#[test]
fn kendall_tau_examples() {
    assert_eq!(kendall_tau(&[(1, 0), (2, 1), (3, 2)]), Some(1.0));
    assert_eq!(kendall_tau(&[(1, 2), (2, 1), (3, 0)]), Some(-1.0));
    assert_eq!(kendall_tau(&[(5, 0)]), None);
    assert_eq!(kendall_tau(&[(5, 0), (5, 1)]), None);
    let mut values = vec![3, 1, 2, 0];
    assert_eq!(count_inversions(&mut values), 5);
    assert_eq!(values, vec![0, 1, 2, 3]);
}

#[test]
fn empty_run_has_no_numbers_and_no_nans() {
    let recorder = RunRecorder::new("empty", 1, 4, [0, 1, 2, 3], 10, Checks::default());
    let metrics = Metrics::compute(&recorder.finish(NS_PER_S, 0, HASH));
    assert_eq!(metrics.finality_all, Percentiles::default());
    assert_eq!(metrics.throughput_tps, Some(0.0));
    assert_eq!(metrics.fairness.inversion_rate, None);
    assert_eq!(metrics.fairness.kendall_tau, None);
    assert_eq!(metrics.fairness.jain_index, None);
    assert!(
        metrics
            .fairness
            .gamma
            .iter()
            .all(|g| g.violation_rate.is_none())
    );
    assert!(!metrics.liveness_ok);
}

#[test]
fn liveness_needs_progress_after_the_last_fault_boundary() {
    let build = |decided_at: TimeNs, fault_end: TimeNs| {
        let mut recorder = RunRecorder::new("l", 1, 2, [0, 1], 10, Checks::default());
        recorder.round_decided(decided_at, 0, 1);
        recorder.fault(FaultWindow {
            kind: "partition".into(),
            label: "0 | 1".into(),
            start_ns: 100,
            end_ns: fault_end,
        });
        Metrics::compute(&recorder.finish(1_000, 0, HASH)).liveness_ok
    };
    assert!(build(600, 500));
    assert!(!build(400, 500));
    // A fault that never heals: progress after it began is enough.
    assert!(build(400, 1_000));
    assert!(!build(50, 1_000));
}

fn measured_tx(reference_ns: TimeNs, rank: usize, received_ns: Vec<TimeNs>) -> MeasuredTx {
    MeasuredTx {
        reference_ns,
        rank,
        received_ns,
    }
}

fn naive_kendall_tau(items: &[(TimeNs, usize)]) -> Option<f64> {
    let (mut concordant, mut discordant, mut tied) = (0i64, 0i64, 0i64);
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let reference = items[i].0.cmp(&items[j].0);
            let rank = items[i].1.cmp(&items[j].1);
            if reference == std::cmp::Ordering::Equal {
                tied += 1;
            } else if reference == rank {
                concordant += 1;
            } else {
                discordant += 1;
            }
        }
    }
    let total = concordant + discordant + tied;
    (items.len() >= 2 && total > tied)
        .then(|| (concordant - discordant) as f64 / (((total - tied) as f64) * total as f64).sqrt())
}

fn naive_inversions(measured: &[MeasuredTx], threshold_ns: TimeNs) -> (u64, u64) {
    let (mut eligible, mut violated) = (0, 0);
    for a in measured {
        for b in measured {
            if a.reference_ns < b.reference_ns && b.reference_ns - a.reference_ns > threshold_ns {
                eligible += 1;
                violated += u64::from(a.rank > b.rank);
            }
        }
    }
    (eligible, violated)
}

fn naive_gamma(measured: &[MeasuredTx], cells: u64) -> Vec<(u64, u64)> {
    GAMMAS
        .iter()
        .map(|&(_, numerator, denominator)| {
            let (mut eligible, mut violated) = (0, 0);
            for a in measured {
                for b in measured {
                    if std::ptr::eq(a, b) {
                        continue;
                    }
                    let a_first = a
                        .received_ns
                        .iter()
                        .zip(&b.received_ns)
                        .filter(|(ta, tb)| ta < tb)
                        .count() as u64;
                    if a_first * denominator >= numerator * cells {
                        eligible += 1;
                        violated += u64::from(b.rank < a.rank);
                    }
                }
            }
            (eligible, violated)
        })
        .collect()
}

/// Random measured transactions: small time range (many ties and overlaps),
/// some missed receipts, a random permutation of ranks.
fn measured_strategy() -> impl Strategy<Value = (Vec<MeasuredTx>, u64)> {
    (1usize..5, 0usize..40).prop_flat_map(|(cells, count)| {
        (
            proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![9 => 0u64..60, 1 => Just(TimeNs::MAX)],
                    cells,
                ),
                count,
            ),
            Just((0..count).collect::<Vec<usize>>()).prop_shuffle(),
            Just(cells as u64),
        )
            .prop_map(|(receipts, ranks, cells)| {
                let measured = receipts
                    .into_iter()
                    .zip(ranks)
                    .map(|(received_ns, rank)| {
                        let mut present: Vec<_> = received_ns
                            .iter()
                            .copied()
                            .filter(|&t| t != TimeNs::MAX)
                            .collect();
                        present.sort_unstable();
                        let reference_ns = present
                            .get(present.len().saturating_sub(1) / 2)
                            .copied()
                            .unwrap_or(0);
                        measured_tx(reference_ns, rank, received_ns)
                    })
                    .collect();
                (measured, cells)
            })
    })
}

proptest! {
    #[test]
    fn kendall_tau_matches_naive(
        items in proptest::collection::vec(0u64..20, 0..60)
            .prop_flat_map(|references| {
                let n = references.len();
                (Just(references), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
            })
    ) {
        let (references, ranks) = items;
        let items: Vec<(TimeNs, usize)> = references.into_iter().zip(ranks).collect();
        let fast = kendall_tau(&items);
        let naive = naive_kendall_tau(&items);
        match (fast, naive) {
            (Some(f), Some(n)) => prop_assert!((f - n).abs() < 1e-12, "{f} vs {n}"),
            (f, n) => prop_assert_eq!(f, n),
        }
    }

    #[test]
    fn inversions_match_naive((measured, _cells) in measured_strategy(), threshold in 0u64..30) {
        prop_assert_eq!(inversions_beyond(&measured, threshold), naive_inversions(&measured, threshold));
    }

    #[test]
    fn gamma_fairness_matches_naive((measured, cells) in measured_strategy()) {
        let (fast, stride) = gamma_fairness(&measured, cells, u64::MAX);
        prop_assert_eq!(stride, 1);
        let fast: Vec<(u64, u64)> = fast.iter().map(|g| (g.eligible_pairs, g.violated_pairs)).collect();
        prop_assert_eq!(fast, naive_gamma(&measured, cells));
    }
}

#[test]
fn gamma_fairness_samples_deterministically_above_the_budget() {
    // 400 transactions whose receipts all overlap, 4 cells.
    let measured: Vec<MeasuredTx> = (0..400u64)
        .map(|i| {
            let received_ns = (0..4u64).map(|cell| (i * 7 + cell * 131) % 1000).collect();
            measured_tx(i, ((i * 37) % 400) as usize, received_ns)
        })
        .collect();
    let (exact, exact_stride) = gamma_fairness(&measured, 4, u64::MAX);
    let (sampled, stride) = gamma_fairness(&measured, 4, 40_000);
    assert_eq!(exact_stride, 1);
    assert!(stride > 1);
    assert_eq!(sampled, gamma_fairness(&measured, 4, 40_000).0);
    for (e, s) in exact.iter().zip(&sampled) {
        let (e_rate, s_rate) = (e.violation_rate.unwrap(), s.violation_rate.unwrap());
        assert!(
            (e_rate - s_rate).abs() < 0.05,
            "γ {}: {e_rate} vs {s_rate}",
            e.gamma
        );
    }
}
