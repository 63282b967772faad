//! The numbers: finality, throughput, liveness and fairness, folded from a
//! [`RunRecord`]. Definitions and formulas are in `docs/metrics.md`; every
//! function here names the section it implements.
//!
//! Integers decide; floats only carry final ratios, computed with basic IEEE
//! operations in a fixed order, so every machine prints the same digits.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::market::MarketMetrics;

use crate::record::{
    CellIndex, DivergenceRecord, LivenessRecord, NS_PER_S, RunRecord, TimeNs, last_reported_second,
};

/// The γ values of γ-receive-order-fairness, as exact fractions
/// (label, numerator, denominator).
pub const GAMMAS: [(&str, u64, u64); 4] =
    [("0.6", 3, 5), ("0.75", 3, 4), ("0.9", 9, 10), ("1.0", 1, 1)];

/// Above this many per-cell comparisons, γ-fairness samples the pairs whose
/// receive-time spreads overlap (see docs/metrics.md, "γ-fairness at scale").
pub const GAMMA_CELL_COMPARISONS_MAX: u64 = 50_000_000;

/// Nearest-rank percentiles of a distribution, in integer nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Percentiles {
    pub p50: Option<TimeNs>,
    pub p90: Option<TimeNs>,
    pub p99: Option<TimeNs>,
    pub max: Option<TimeNs>,
}

impl Percentiles {
    /// `sorted` must be ascending.
    pub fn of_sorted(sorted: &[TimeNs]) -> Self {
        Percentiles {
            p50: nearest_rank(sorted, 500),
            p90: nearest_rank(sorted, 900),
            p99: nearest_rank(sorted, 990),
            max: nearest_rank(sorted, 1000),
        }
    }
}

/// Nearest-rank percentile: the smallest value with at least `permille`/1000
/// of the values at or below it, i.e. `sorted[ceil(permille·n/1000) − 1]`.
/// `None` for an empty distribution.
pub fn nearest_rank(sorted: &[TimeNs], permille: u64) -> Option<TimeNs> {
    assert!(permille <= 1000, "a percentile is at most 100%");
    assert!(
        sorted.windows(2).all(|w| w[0] <= w[1]),
        "input must be sorted"
    );
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (permille * n).div_ceil(1000).max(1);
    Some(sorted[(rank - 1) as usize])
}

/// One row of `timeseries.csv`: what happened in virtual second `second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct TimeseriesRow {
    pub second: u64,
    pub txs_submitted: u64,
    /// Transactions that became known final by all live honest cells.
    pub txs_finalized: u64,
    /// Rounds first decided by an honest cell.
    pub rounds_decided: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    pub events_created: u64,
}

/// γ-receive-order-fairness for one γ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GammaFairness {
    pub gamma: &'static str,
    /// Pairs where at least γ of the live honest cells received one first
    /// (weighted by the sampling stride when sampled).
    pub eligible_pairs: u64,
    /// Of those, pairs the consensus order puts the other way round.
    pub violated_pairs: u64,
    pub violation_rate: Option<f64>,
}

/// Every fairness number, with the counts behind each ratio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FairnessMetrics {
    /// Ordered transactions received by at least one live honest cell: the
    /// population of every fairness metric.
    pub measured_txs: u64,
    pub inversion_eligible_pairs: u64,
    pub inversion_violated_pairs: u64,
    pub inversion_rate: Option<f64>,
    pub gamma: Vec<GammaFairness>,
    /// 1 when every pair with overlapping receive spreads was evaluated;
    /// otherwise every `gamma_sampling_stride`-th such pair was.
    pub gamma_sampling_stride: u64,
    pub kendall_tau: Option<f64>,
    /// Measured transactions whose consensus timestamp lies outside the
    /// claims of honest cells' first events to reach them.
    pub timestamp_band_violations: u64,
    /// Measured transactions with a band (some honest cell's event reached
    /// them); the band count is over these.
    pub timestamp_band_measured: u64,
    /// Of the violations, those received in rounds whose unique famous
    /// witnesses honest cells created a majority of (as reported): the
    /// protocol promises none (a violation here is a bug).
    pub timestamp_band_violations_honest_majority: u64,
    /// Decided rounds where Byzantine creators held half or more of the
    /// unique famous witnesses (the band's assumption broken).
    pub rounds_byzantine_half_famous: u64,
    pub jain_index: Option<f64>,
    /// Honest submitters in the Jain index.
    pub jain_submitters: u64,
}

/// All metrics of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub live_honest_cells: Vec<CellIndex>,
    pub txs_submitted: u64,
    /// Transactions with a place in the consensus order.
    pub txs_ordered: u64,
    /// Transactions known final by every live honest cell.
    pub txs_finalized: u64,
    /// L_all per finalized transaction, ascending.
    pub finality_all_ns: Vec<TimeNs>,
    /// L_first per transaction known final by a live honest cell, ascending.
    pub finality_first_ns: Vec<TimeNs>,
    pub finality_all: Percentiles,
    pub finality_first: Percentiles,
    /// T_i − t_s per live honest cell, ascending within a cell.
    pub finality_by_cell_ns: BTreeMap<CellIndex, Vec<TimeNs>>,
    /// Submission times of transactions not finalized by all, ascending.
    pub unfinalized_submit_ns: Vec<TimeNs>,
    pub throughput_tps: Option<f64>,
    pub fairness: FairnessMetrics,
    pub safety_violations: Vec<String>,
    /// The checker's first divergence, if any (docs/metrics.md).
    pub first_divergence: Option<DivergenceRecord>,
    pub liveness: LivenessRecord,
    /// A round was first decided after the last fault boundary (start or
    /// end of a fault window) that lies inside the run.
    pub liveness_ok: bool,
    pub timeseries: Vec<TimeseriesRow>,
    pub virtual_duration_ns: TimeNs,
    /// Market numbers (docs/metrics.md "Markets"); `None` without markets.
    pub markets: Option<MarketMetrics>,
}

impl Metrics {
    /// Safety holds: no violation and no divergence between honest cells.
    pub fn safety_ok(&self) -> bool {
        self.safety_violations.is_empty() && self.first_divergence.is_none()
    }

    /// Folds a record into metrics. The record should have passed
    /// [`RunRecord::validate`]; nothing here panics on an unvalidated one.
    pub fn compute(record: &RunRecord) -> Metrics {
        let live = record.live_honest_cells();
        let mut finality_all_ns = Vec::new();
        let mut finality_first_ns = Vec::new();
        let mut finality_by_cell_ns: BTreeMap<CellIndex, Vec<TimeNs>> =
            live.iter().map(|&cell| (cell, Vec::new())).collect();
        let mut unfinalized_submit_ns = Vec::new();
        // Honest submitter → (sum of L_first, count), for the Jain index.
        let mut inclusion_by_submitter: BTreeMap<CellIndex, (u128, u64)> = BTreeMap::new();
        let mut finalized_at_second: BTreeMap<u64, u64> = BTreeMap::new();
        let mut submitted_at_second: BTreeMap<u64, u64> = BTreeMap::new();

        for tx in &record.transactions {
            *submitted_at_second
                .entry(tx.submit_ns / NS_PER_S)
                .or_default() += 1;
            let known_final: Vec<TimeNs> = live
                .iter()
                .filter_map(|cell| tx.final_ns.get(cell).copied())
                .collect();
            for (&cell, &time) in &tx.final_ns {
                if let Some(latencies) = finality_by_cell_ns.get_mut(&cell) {
                    latencies.push(time.saturating_sub(tx.submit_ns));
                }
            }
            if let Some(&first) = known_final.iter().min() {
                let latency_first = first.saturating_sub(tx.submit_ns);
                finality_first_ns.push(latency_first);
                if record.honest_cells.binary_search(&tx.submitter).is_ok() {
                    let entry = inclusion_by_submitter.entry(tx.submitter).or_default();
                    entry.0 += latency_first as u128;
                    entry.1 += 1;
                }
            }
            if let Some(latency_all) = finality_all_of(tx, &live) {
                finality_all_ns.push(latency_all);
                *finalized_at_second
                    .entry((tx.submit_ns + latency_all) / NS_PER_S)
                    .or_default() += 1;
            } else {
                unfinalized_submit_ns.push(tx.submit_ns);
            }
        }
        finality_all_ns.sort_unstable();
        finality_first_ns.sort_unstable();
        unfinalized_submit_ns.sort_unstable();
        for latencies in finality_by_cell_ns.values_mut() {
            latencies.sort_unstable();
        }

        let txs_finalized = finality_all_ns.len() as u64;
        let throughput_tps = (record.virtual_duration_ns > 0)
            .then(|| txs_finalized as f64 / (record.virtual_duration_ns as f64 / NS_PER_S as f64));

        let mut fairness = fairness_metrics(record, &live);
        let (jain_index, jain_submitters) = jain_index_of_means(&inclusion_by_submitter);
        fairness.jain_index = jain_index;
        fairness.jain_submitters = jain_submitters;

        let timeseries = timeseries(record, &submitted_at_second, &finalized_at_second);

        Metrics {
            txs_submitted: record.transactions.len() as u64,
            txs_ordered: record
                .transactions
                .iter()
                .filter(|tx| tx.order.is_some())
                .count() as u64,
            txs_finalized,
            finality_all: Percentiles::of_sorted(&finality_all_ns),
            finality_first: Percentiles::of_sorted(&finality_first_ns),
            finality_all_ns,
            finality_first_ns,
            finality_by_cell_ns,
            unfinalized_submit_ns,
            throughput_tps,
            fairness,
            safety_violations: record.safety_violations.clone(),
            first_divergence: record.first_divergence.clone(),
            liveness: record.liveness,
            liveness_ok: liveness_ok(record),
            timeseries,
            live_honest_cells: live,
            virtual_duration_ns: record.virtual_duration_ns,
            markets: record
                .markets
                .as_ref()
                .map(|markets| MarketMetrics::compute(markets, &record.transactions)),
        }
    }
}

/// docs/metrics.md "Liveness".
fn liveness_ok(record: &RunRecord) -> bool {
    let last_boundary_ns = record
        .faults
        .iter()
        .flat_map(|fault| [fault.start_ns, fault.end_ns])
        .filter(|&time| time < record.virtual_duration_ns)
        .max()
        .unwrap_or(0);
    record
        .rounds
        .iter()
        .any(|round| round.first_decided_ns >= last_boundary_ns)
}

fn timeseries(
    record: &RunRecord,
    submitted_at_second: &BTreeMap<u64, u64>,
    finalized_at_second: &BTreeMap<u64, u64>,
) -> Vec<TimeseriesRow> {
    let mut rounds_at_second: BTreeMap<u64, u64> = BTreeMap::new();
    for round in &record.rounds {
        *rounds_at_second
            .entry(round.first_decided_ns / NS_PER_S)
            .or_default() += 1;
    }
    let last_second = [
        record.virtual_duration_ns.saturating_sub(1) / NS_PER_S,
        submitted_at_second.keys().next_back().copied().unwrap_or(0),
        finalized_at_second.keys().next_back().copied().unwrap_or(0),
        rounds_at_second.keys().next_back().copied().unwrap_or(0),
        record.counters.last().map_or(0, |bucket| bucket.second),
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
    .min(last_reported_second(record.virtual_duration_ns));
    let counters: BTreeMap<u64, _> = record.counters.iter().map(|b| (b.second, b)).collect();
    (0..=last_second)
        .map(|second| {
            let bucket = counters.get(&second);
            TimeseriesRow {
                second,
                txs_submitted: submitted_at_second.get(&second).copied().unwrap_or(0),
                txs_finalized: finalized_at_second.get(&second).copied().unwrap_or(0),
                rounds_decided: rounds_at_second.get(&second).copied().unwrap_or(0),
                messages_sent: bucket.map_or(0, |b| b.messages_sent),
                messages_dropped: bucket.map_or(0, |b| b.messages_dropped),
                events_created: bucket.map_or(0, |b| b.events_created),
            }
        })
        .collect()
}

/// A transaction in the fairness population.
#[derive(Debug, Clone)]
struct MeasuredTx {
    /// Reference time: the lower median of live honest receive times.
    reference_ns: TimeNs,
    /// Rank of its position among measured transactions, `0..m`.
    rank: usize,
    /// Receive time per live honest cell (index into the live list);
    /// `TimeNs::MAX` when the cell never received it.
    received_ns: Vec<TimeNs>,
}

fn fairness_metrics(record: &RunRecord, live: &[CellIndex]) -> FairnessMetrics {
    let mut population: Vec<(u64, MeasuredTx)> = Vec::new();
    let mut timestamp_band_violations = 0;
    let mut timestamp_band_measured = 0;
    let mut timestamp_band_violations_honest_majority = 0;
    // Rounds whose unique famous witnesses honest cells created most of
    // (a round not reported, as in a record from before the field, is in
    // neither set). Lookup only.
    let honest_majority: std::collections::BTreeSet<u64> = record
        .rounds
        .iter()
        .filter(|round| {
            round.unique_famous_witnesses > 0 && !round.byzantine_hold_half_the_famous()
        })
        .map(|round| round.round)
        .collect();
    let rounds_byzantine_half_famous = record
        .rounds
        .iter()
        .filter(|round| round.byzantine_hold_half_the_famous())
        .count() as u64;
    for tx in &record.transactions {
        let Some(order) = tx.order else { continue };
        let received_ns: Vec<TimeNs> = live
            .iter()
            .map(|cell| tx.received_ns.get(cell).copied().unwrap_or(TimeNs::MAX))
            .collect();
        let mut present: Vec<TimeNs> = received_ns
            .iter()
            .copied()
            .filter(|&t| t != TimeNs::MAX)
            .collect();
        if present.is_empty() {
            continue;
        }
        present.sort_unstable();
        // The band: what honest cells' first events to reach the TX claim.
        let claims = tx.reached_claim_ns.values();
        if let (Some(earliest), Some(latest)) = (claims.clone().min(), claims.max()) {
            timestamp_band_measured += 1;
            let timestamp = order.consensus_timestamp_ns;
            if timestamp < *earliest || timestamp > *latest {
                timestamp_band_violations += 1;
                if honest_majority.contains(&order.round_received) {
                    timestamp_band_violations_honest_majority += 1;
                }
            }
        }
        let reference_ns = present[(present.len() - 1) / 2];
        population.push((
            order.position,
            MeasuredTx {
                reference_ns,
                rank: 0,
                received_ns,
            },
        ));
    }
    // Ranks of positions; ties (a safety violation already) broken by
    // submission order, which `sort_by_key` (stable) preserves.
    population.sort_by_key(|(position, _)| *position);
    let measured: Vec<MeasuredTx> = population
        .into_iter()
        .enumerate()
        .map(|(rank, (_, tx))| MeasuredTx { rank, ..tx })
        .collect();

    let (inversion_eligible_pairs, inversion_violated_pairs) =
        inversions_beyond(&measured, record.network_median_latency_ns);
    let (gamma, gamma_sampling_stride) =
        gamma_fairness(&measured, live.len() as u64, GAMMA_CELL_COMPARISONS_MAX);
    let reference: Vec<(TimeNs, usize)> = measured
        .iter()
        .map(|tx| (tx.reference_ns, tx.rank))
        .collect();
    FairnessMetrics {
        measured_txs: measured.len() as u64,
        inversion_eligible_pairs,
        inversion_violated_pairs,
        inversion_rate: ratio(inversion_violated_pairs, inversion_eligible_pairs),
        gamma,
        gamma_sampling_stride,
        kendall_tau: kendall_tau(&reference),
        timestamp_band_violations,
        timestamp_band_measured,
        timestamp_band_violations_honest_majority,
        rounds_byzantine_half_famous,
        jain_index: None,
        jain_submitters: 0,
    }
}

/// `L_all` of `tx`: from submission until the last of the `live` honest
/// cells knew its final place (`None` until every one of them does).
pub fn finality_all_of(tx: &crate::TxRecord, live: &[CellIndex]) -> Option<TimeNs> {
    if live.is_empty() {
        return None;
    }
    let mut last = tx.submit_ns;
    for cell in live {
        last = last.max(*tx.final_ns.get(cell)?);
    }
    Some(last - tx.submit_ns)
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

/// Counts over ranks `0..n`: insert a rank, count inserted ranks ≤ r.
struct FenwickTree {
    tree: Vec<u64>,
    inserted: u64,
}

impl FenwickTree {
    fn new(size: usize) -> Self {
        FenwickTree {
            tree: vec![0; size + 1],
            inserted: 0,
        }
    }

    fn insert(&mut self, rank: usize) {
        self.inserted += 1;
        let mut index = rank + 1;
        while index < self.tree.len() {
            self.tree[index] += 1;
            index += index & index.wrapping_neg();
        }
    }

    fn count_at_most(&self, rank: usize) -> u64 {
        let mut index = (rank + 1).min(self.tree.len() - 1);
        let mut total = 0;
        while index > 0 {
            total += self.tree[index];
            index -= index & index.wrapping_neg();
        }
        total
    }

    fn count_above(&self, rank: usize) -> u64 {
        self.inserted - self.count_at_most(rank)
    }
}

/// docs/metrics.md "Inversion rate": pairs whose reference times differ by
/// more than `threshold_ns`, and those of them the order puts the other way
/// round. Exact, O(m log m): a sweep in reference order with a Fenwick tree
/// over order ranks. Returns (eligible pairs, violated pairs).
fn inversions_beyond(measured: &[MeasuredTx], threshold_ns: TimeNs) -> (u64, u64) {
    let mut by_reference: Vec<&MeasuredTx> = measured.iter().collect();
    by_reference.sort_by_key(|tx| (tx.reference_ns, tx.rank));
    let mut earlier = FenwickTree::new(measured.len());
    let mut next_earlier = 0;
    let (mut eligible, mut violated) = (0, 0);
    for later in &by_reference {
        while next_earlier < by_reference.len()
            && by_reference[next_earlier]
                .reference_ns
                .saturating_add(threshold_ns)
                < later.reference_ns
        {
            earlier.insert(by_reference[next_earlier].rank);
            next_earlier += 1;
        }
        eligible += earlier.inserted;
        violated += earlier.count_above(later.rank);
    }
    (eligible, violated)
}

/// docs/metrics.md "γ-receive-order-fairness". Returns one result per γ in
/// [`GAMMAS`] and the sampling stride over overlapping pairs (1 = exact).
fn gamma_fairness(
    measured: &[MeasuredTx],
    cells: u64,
    cell_comparisons_max: u64,
) -> (Vec<GammaFairness>, u64) {
    let mut eligible = [0u64; GAMMAS.len()];
    let mut violated = [0u64; GAMMAS.len()];
    let spread: Vec<(TimeNs, TimeNs)> = measured
        .iter()
        .map(|tx| {
            let earliest = tx.received_ns.iter().copied().min().unwrap_or(TimeNs::MAX);
            let latest = tx.received_ns.iter().copied().max().unwrap_or(TimeNs::MAX);
            (earliest, latest)
        })
        .collect();

    // Pairs with disjoint spreads: every cell received `a` before `b`, so they
    // are eligible for every γ. Sweep `b` by earliest receipt, inserting each
    // `a` whose latest receipt is earlier.
    let mut by_earliest: Vec<usize> = (0..measured.len()).collect();
    by_earliest.sort_by_key(|&i| (spread[i].0, measured[i].rank));
    let mut by_latest: Vec<usize> = (0..measured.len()).collect();
    by_latest.sort_by_key(|&i| (spread[i].1, measured[i].rank));
    let mut before = FenwickTree::new(measured.len());
    let mut next_before = 0;
    let (mut disjoint_eligible, mut disjoint_violated) = (0, 0);
    for &b in &by_earliest {
        while next_before < by_latest.len() && spread[by_latest[next_before]].1 < spread[b].0 {
            before.insert(measured[by_latest[next_before]].rank);
            next_before += 1;
        }
        disjoint_eligible += before.inserted;
        disjoint_violated += before.count_above(measured[b].rank);
    }
    for index in 0..GAMMAS.len() {
        eligible[index] += disjoint_eligible;
        violated[index] += disjoint_violated;
    }

    // Pairs with overlapping spreads: i < j in earliest-receipt order with
    // earliest_j ≤ latest_i. Count them, then evaluate all of them or every
    // stride-th one so that the work stays under the budget.
    let earliest_sorted: Vec<TimeNs> = by_earliest.iter().map(|&i| spread[i].0).collect();
    let overlap_end: Vec<usize> = by_earliest
        .iter()
        .map(|&i| earliest_sorted.partition_point(|&t| t <= spread[i].1))
        .collect();
    let overlapping_pairs: u64 = overlap_end
        .iter()
        .enumerate()
        .map(|(k, &end)| end.saturating_sub(k + 1) as u64)
        .sum();
    let work = overlapping_pairs.saturating_mul(cells.max(1));
    let stride = work.div_ceil(cell_comparisons_max.max(1)).max(1);
    let mut pairs_before: u64 = 0;
    for (k, &end) in overlap_end.iter().enumerate() {
        let count = end.saturating_sub(k + 1) as u64;
        // The first pair of this row whose global index is a multiple of stride.
        let skip = (stride - pairs_before % stride) % stride;
        let mut offset = skip;
        while offset < count {
            let a = &measured[by_earliest[k]];
            let b = &measured[by_earliest[k + 1 + offset as usize]];
            let (a_first, b_first) = a.received_ns.iter().zip(&b.received_ns).fold(
                (0u64, 0u64),
                |(a_first, b_first), (&ta, &tb)| {
                    (a_first + u64::from(ta < tb), b_first + u64::from(tb < ta))
                },
            );
            for (index, &(_, numerator, denominator)) in GAMMAS.iter().enumerate() {
                // At least γ of the cells: count / cells ≥ numerator / denominator.
                if a_first * denominator >= numerator * cells {
                    eligible[index] += stride;
                    violated[index] += stride * u64::from(b.rank < a.rank);
                } else if b_first * denominator >= numerator * cells {
                    eligible[index] += stride;
                    violated[index] += stride * u64::from(a.rank < b.rank);
                }
            }
            offset += stride;
        }
        pairs_before += count;
    }

    let results = GAMMAS
        .iter()
        .enumerate()
        .map(|(index, &(gamma, _, _))| GammaFairness {
            gamma,
            eligible_pairs: eligible[index],
            violated_pairs: violated[index],
            violation_rate: ratio(violated[index], eligible[index]),
        })
        .collect();
    (results, stride)
}

/// Kendall's τ-b between reference times and order ranks, over
/// `(reference_ns, rank)` with distinct ranks. O(n log n) (Knight 1966):
/// sort by (reference, rank), count reference ties, count discordant pairs
/// as inversions of the rank sequence with a merge sort.
/// `None` for fewer than two items or when every reference time is equal.
pub fn kendall_tau(items: &[(TimeNs, usize)]) -> Option<f64> {
    let n = items.len() as u64;
    if n < 2 {
        return None;
    }
    let mut sorted = items.to_vec();
    sorted.sort_unstable();
    let total_pairs = n * (n - 1) / 2;
    let mut reference_ties = 0;
    let mut run = 1u64;
    for window in sorted.windows(2) {
        if window[0].0 == window[1].0 {
            run += 1;
        } else {
            reference_ties += run * (run - 1) / 2;
            run = 1;
        }
    }
    reference_ties += run * (run - 1) / 2;
    if reference_ties == total_pairs {
        return None;
    }
    let mut ranks: Vec<usize> = sorted.iter().map(|&(_, rank)| rank).collect();
    let discordant = count_inversions(&mut ranks);
    // Within a tie run ranks ascend, so no tied pair is counted as discordant.
    let concordant = total_pairs - reference_ties - discordant;
    let numerator = concordant as f64 - discordant as f64;
    let denominator = ((total_pairs - reference_ties) as f64 * total_pairs as f64).sqrt();
    Some(numerator / denominator)
}

/// Pairs i < j with values[i] > values[j]; sorts `values` as a side effect.
pub fn count_inversions(values: &mut [usize]) -> u64 {
    let mut scratch = values.to_vec();
    merge_count(values, &mut scratch)
}

fn merge_count(values: &mut [usize], scratch: &mut [usize]) -> u64 {
    let n = values.len();
    if n < 2 {
        return 0;
    }
    let middle = n / 2;
    let mut inversions = merge_count(&mut values[..middle], &mut scratch[..middle])
        + merge_count(&mut values[middle..], &mut scratch[middle..]);
    let (mut left, mut right, mut out) = (0, middle, 0);
    while left < middle && right < n {
        if values[left] <= values[right] {
            scratch[out] = values[left];
            left += 1;
        } else {
            scratch[out] = values[right];
            inversions += (middle - left) as u64;
            right += 1;
        }
        out += 1;
    }
    scratch[out..out + middle - left].copy_from_slice(&values[left..middle]);
    out += middle - left;
    scratch[out..out + n - right].copy_from_slice(&values[right..n]);
    values.copy_from_slice(&scratch[..n]);
    inversions
}

/// Jain's fairness index (Σx)² / (k·Σx²) over per-submitter means.
/// 1 when all means are equal (all zero included); `None` with no submitter.
fn jain_index_of_means(sums: &BTreeMap<CellIndex, (u128, u64)>) -> (Option<f64>, u64) {
    let means: Vec<f64> = sums
        .values()
        .filter(|(_, count)| *count > 0)
        .map(|&(sum, count)| sum as f64 / count as f64)
        .collect();
    (jain_index(&means), means.len() as u64)
}

/// Jain's fairness index of `values`: (Σx)² / (k·Σx²), in [1/k, 1].
pub fn jain_index(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: f64 = values.iter().sum();
    let sum_of_squares: f64 = values.iter().map(|x| x * x).sum();
    if sum_of_squares == 0.0 {
        return Some(1.0);
    }
    Some(sum * sum / (values.len() as f64 * sum_of_squares))
}

#[cfg(test)]
mod tests;
