//! What an attack did and what the honest cells made of it, for one run: the
//! record ([`AttackRecord`], filled by [`crate::RunRecorder`]) and its fold,
//! the `attack` block of `summary.json` ([`AttackSummary`]). Every run has
//! the block; a run without Byzantine behaviour has zeros and empty lists.
//! Definitions: docs/metrics.md, "Attack".

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::record::{CellIndex, ForkDetection, RunRecord, TimeNs, TxRecord};
use crate::summary::ns_to_ms;

/// What Byzantine cells did and how honest cells reacted, as recorded.
/// Every collection is ordered, so the same observations give the same record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AttackRecord {
    /// Messages and events honest cells rejected, by the cell's reason label
    /// (`event: bad signature`, `message: undecodable`, …).
    pub rejections: BTreeMap<String, u64>,
    /// Behaviour name → action kind → how many times a Byzantine cell did it.
    pub actions: BTreeMap<String, BTreeMap<String, u64>>,
    /// Messages carrying a withholding cell's own events that it held back.
    pub messages_held: u64,
    /// Held messages it later sent.
    pub messages_released: u64,
    /// Every front-running act, in the order observed.
    pub front_runs: Vec<FrontRunRecord>,
    /// Every double-spend attempt, in the order observed.
    pub double_spends: Vec<DoubleSpendRecord>,
    /// Per skewing cell, the clock offset it claims (the last one reported).
    pub clock_offsets_ns: BTreeMap<CellIndex, i64>,
    /// Per client, the TXs censoring entry cells dropped or held.
    pub censored: BTreeMap<u32, CensoredRecord>,
    /// Messages the network adversary dropped over the run.
    pub network_dropped: u64,
    /// Messages the network adversary held and delivered late.
    pub network_delayed: u64,
    /// Per forker, the highest reputation (ppm) any honest cell live at the
    /// end of the run gives it: 0 once every one of them holds its proof.
    pub forker_trust_ppm: BTreeMap<CellIndex, u64>,
    /// Non-member identities the scenario's sybil blocks run.
    #[serde(default)]
    pub sybil_identities: u64,
    /// What they obtained in each honest cell live at the end, ascending.
    #[serde(default)]
    pub sybil_standings: Vec<SybilStanding>,
}

/// What sybil identities obtained in one honest cell's own trust network
/// at the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SybilStanding {
    pub cell: CellIndex,
    /// The sum of every sybil identity's reputation (ppm of the total).
    pub sybil_share_ppm: u64,
    /// The best-placed sybil identity's reputation (ppm).
    pub best_sybil_ppm: u64,
    /// The median consensus member's reputation (ppm), for scale.
    pub member_median_ppm: u64,
    /// Sybil identities this cell attested (its user vouched): attack edges.
    pub vouched: u64,
    /// Messages from sybil identities this cell accepted.
    pub messages_accepted: u64,
}

/// A Byzantine cell saw `victim` (a TX id, hex) in gossip and submitted `own`
/// to be ordered ahead of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontRunRecord {
    pub attacker: CellIndex,
    pub time_ns: TimeNs,
    pub victim: String,
    pub own: String,
}

/// Conflicting transfers of the same funds (TX ids, hex), one per branch of
/// an equivocating cell; `applied_by` counts, per honest cell, how many of
/// them its ledger applied (at most one is the claim).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoubleSpendRecord {
    pub attacker: CellIndex,
    pub time_ns: TimeNs,
    pub txs: Vec<String>,
    pub applied_by: BTreeMap<CellIndex, u32>,
}

/// What censoring entry cells did to one client's TXs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CensoredRecord {
    pub dropped: u64,
    pub held: u64,
    /// Sum and maximum of the holds.
    pub held_ns_total: TimeNs,
    pub held_ns_max: TimeNs,
    /// The distinct TXs (ids) censored at least once.
    #[serde(default)]
    pub txs: std::collections::BTreeSet<String>,
}

/// One act of a Byzantine behaviour, as plain data (`celluler_core`'s
/// `AdversaryAction` with TX ids as hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdversaryAct {
    Equivocating {
        branches: u32,
    },
    Held {
        messages: u32,
    },
    Released {
        messages: u32,
    },
    FrontRun {
        victim: String,
        own: String,
    },
    DoubleSpend {
        txs: Vec<String>,
    },
    Garbage {
        kind: String,
    },
    /// As an entry cell, it dropped (`held_ns` `None`) or held a client's TX.
    Censored {
        client: u32,
        tx: String,
        held_ns: Option<TimeNs>,
    },
    Spam {
        kind: String,
    },
    Skewing {
        offset_ns: i64,
    },
    /// A hosted sybil identity sent a message of `kind` to an honest cell.
    SybilMessage {
        kind: String,
    },
    /// Honest cell `by` vouched for a hosted sybil identity.
    SybilVouched {
        by: CellIndex,
    },
}

impl AdversaryAct {
    /// The action kind counted in `adversary_actions`: `equivocating`,
    /// `held`, `released`, `front_run`, `double_spend`, `garbage: <kind>`,
    /// `spam: <kind>`, `skewing`, `sybil: <kind>`, `sybil: vouched`.
    pub fn label(&self) -> String {
        match self {
            AdversaryAct::Equivocating { .. } => "equivocating".to_string(),
            AdversaryAct::Held { .. } => "held".to_string(),
            AdversaryAct::Released { .. } => "released".to_string(),
            AdversaryAct::FrontRun { .. } => "front_run".to_string(),
            AdversaryAct::DoubleSpend { .. } => "double_spend".to_string(),
            AdversaryAct::Garbage { kind } => format!("garbage: {kind}"),
            AdversaryAct::Censored { held_ns: None, .. } => "censored: dropped".to_string(),
            AdversaryAct::Censored {
                held_ns: Some(_), ..
            } => "censored: held".to_string(),
            AdversaryAct::Spam { kind } => format!("spam: {kind}"),
            AdversaryAct::Skewing { .. } => "skewing".to_string(),
            AdversaryAct::SybilMessage { kind } => format!("sybil: {kind}"),
            AdversaryAct::SybilVouched { .. } => "sybil: vouched".to_string(),
        }
    }
}

/// The recorder's working state for the attack record: which TX belongs to
/// which double-spend attempt, and which (attempt, cell, TX) were counted.
#[derive(Debug, Clone, Default)]
pub(crate) struct AttackTracker {
    /// TX id → (attempt index, the TX's index in the attempt). Lookup only.
    double_spend_txs: HashMap<String, (usize, usize)>,
    /// (attempt, honest cell, TX index) already counted as applied (a
    /// restarted cell orders again). Lookup only.
    applied: std::collections::HashSet<(usize, CellIndex, usize)>,
}

impl AttackTracker {
    pub(crate) fn adversary(
        &mut self,
        record: &mut AttackRecord,
        time_ns: TimeNs,
        cell: CellIndex,
        behaviour: &str,
        act: AdversaryAct,
    ) {
        *record
            .actions
            .entry(behaviour.to_string())
            .or_default()
            .entry(act.label())
            .or_default() += 1;
        match act {
            AdversaryAct::Held { messages } => record.messages_held += u64::from(messages),
            AdversaryAct::Released { messages } => record.messages_released += u64::from(messages),
            AdversaryAct::FrontRun { victim, own } => record.front_runs.push(FrontRunRecord {
                attacker: cell,
                time_ns,
                victim,
                own,
            }),
            AdversaryAct::DoubleSpend { txs } => {
                let attempt = record.double_spends.len();
                for (index, tx) in txs.iter().enumerate() {
                    self.double_spend_txs
                        .entry(tx.clone())
                        .or_insert((attempt, index));
                }
                record.double_spends.push(DoubleSpendRecord {
                    attacker: cell,
                    time_ns,
                    txs,
                    applied_by: BTreeMap::new(),
                });
            }
            AdversaryAct::Skewing { offset_ns } => {
                record.clock_offsets_ns.insert(cell, offset_ns);
            }
            AdversaryAct::Censored {
                client,
                held_ns,
                tx,
            } => {
                let censored = record.censored.entry(client).or_default();
                censored.txs.insert(tx);
                match held_ns {
                    None => censored.dropped += 1,
                    Some(held_ns) => {
                        censored.held += 1;
                        censored.held_ns_total = censored.held_ns_total.saturating_add(held_ns);
                        censored.held_ns_max = censored.held_ns_max.max(held_ns);
                    }
                }
            }
            AdversaryAct::Equivocating { .. }
            | AdversaryAct::Garbage { .. }
            | AdversaryAct::Spam { .. }
            | AdversaryAct::SybilMessage { .. }
            | AdversaryAct::SybilVouched { .. } => {}
        }
    }

    /// Honest `cell` ordered TX `id`; `applied`: its ledger applied it.
    pub(crate) fn tx_applied(
        &mut self,
        record: &mut AttackRecord,
        cell: CellIndex,
        id: &str,
        applied: bool,
    ) {
        if !applied {
            return;
        }
        let Some(&(attempt, index)) = self.double_spend_txs.get(id) else {
            return;
        };
        if self.applied.insert((attempt, cell, index)) {
            *record.double_spends[attempt]
                .applied_by
                .entry(cell)
                .or_default() += 1;
        }
    }
}

/// The `attack` block of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackSummary {
    /// Per forker, ascending: every honest cell that holds a proof, when.
    pub forks: Vec<ForkDetectionSummary>,
    /// Forkers some honest cell holds a proof of.
    pub forkers_detected: u64,
    /// Honest cells' rejections by reason.
    pub rejections: BTreeMap<String, u64>,
    pub rejections_total: u64,
    /// Behaviour → action kind → count.
    pub adversary_actions: BTreeMap<String, BTreeMap<String, u64>>,
    pub messages_held: u64,
    pub messages_released: u64,
    pub network_adversary: NetworkAdversarySummary,
    pub front_running: FrontRunningSummary,
    pub double_spends: DoubleSpendSummary,
    /// Per skewing cell, the offset of the clock it claims, in ms.
    pub clock_offsets_ms: BTreeMap<CellIndex, f64>,
    /// Per client, TXs censoring entry cells dropped or held.
    pub censored: BTreeMap<u32, CensoredSummary>,
    /// Over every client (`null` without client TXs).
    pub censorship: Option<CensorshipSummary>,
    /// What sybil identities obtained (`null` without a sybil block).
    pub sybil: Option<SybilSummary>,
}

/// docs/metrics.md "Sybil standing".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SybilSummary {
    pub identities: u64,
    /// Attestations honest cells made of sybil identities.
    pub attack_edges: u64,
    /// Messages the identities sent to honest cells, and how many were
    /// accepted (the rest were denied or lost).
    pub messages_sent: u64,
    pub messages_accepted: u64,
    /// Over the honest cells live at the end: the sybils' summed share of
    /// each cell's reputation (median and max), the best sybil anywhere,
    /// and the median member's reputation (median over cells).
    pub share_ppm_median: Option<u64>,
    pub share_ppm_max: Option<u64>,
    pub best_sybil_ppm_max: Option<u64>,
    pub member_median_ppm: Option<u64>,
    /// Honest cells where some sybil ranks at or above the median member.
    pub cells_outranked: u64,
    pub cells_measured: u64,
    /// Per honest cell.
    pub standings: Vec<SybilStanding>,
}

impl SybilSummary {
    fn new(record: &RunRecord) -> Option<SybilSummary> {
        let attack = &record.attack;
        if attack.sybil_identities == 0 {
            return None;
        }
        let standings = &attack.sybil_standings;
        let median = |mut values: Vec<u64>| -> Option<u64> {
            values.sort_unstable();
            values.get(values.len().checked_sub(1)? / 2).copied()
        };
        let sybil_actions = attack.actions.get("sybil");
        Some(SybilSummary {
            identities: attack.sybil_identities,
            attack_edges: standings.iter().map(|standing| standing.vouched).sum(),
            messages_sent: sybil_actions
                .map(|actions| {
                    actions
                        .iter()
                        .filter(|(label, _)| label.as_str() != "sybil: vouched")
                        .map(|(_, count)| count)
                        .sum()
                })
                .unwrap_or(0),
            messages_accepted: standings.iter().map(|s| s.messages_accepted).sum(),
            share_ppm_median: median(standings.iter().map(|s| s.sybil_share_ppm).collect()),
            share_ppm_max: standings.iter().map(|s| s.sybil_share_ppm).max(),
            best_sybil_ppm_max: standings.iter().map(|s| s.best_sybil_ppm).max(),
            member_median_ppm: median(standings.iter().map(|s| s.member_median_ppm).collect()),
            cells_outranked: standings
                .iter()
                .filter(|s| s.best_sybil_ppm > 0 && s.best_sybil_ppm >= s.member_median_ppm)
                .count() as u64,
            cells_measured: standings.len() as u64,
            standings: standings.clone(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CensoredSummary {
    pub dropped: u64,
    pub held: u64,
    /// Mean and longest hold; `null` when nothing was held.
    pub held_ms_mean: Option<f64>,
    pub held_ms_max: Option<f64>,
    /// The client's TXs an entry cell put into consensus, and how many of
    /// them were censored at least once (their ratio: the censorship rate).
    pub txs: u64,
    pub txs_censored: u64,
    pub censored_rate: Option<f64>,
    /// Median `L_all` of the client's finalized TXs, from its first
    /// submission (so censorship delay counts).
    pub finality_ms_p50: Option<f64>,
}

/// docs/metrics.md "Censorship": what censoring entry cells cost clients.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CensorshipSummary {
    /// Clients whose TXs were relayed, and of them those censored.
    pub clients: u64,
    pub clients_censored: u64,
    /// Client TXs relayed, and of them those censored at least once.
    pub txs: u64,
    pub txs_censored: u64,
    /// Median and longest `L_all` of finalized censored TXs, and the
    /// median of the other client TXs: the delay censorship costs.
    pub finality_ms_p50_censored: Option<f64>,
    pub finality_ms_max_censored: Option<f64>,
    pub finality_ms_p50_uncensored: Option<f64>,
    /// Censored TXs never finalized by every live honest cell.
    pub censored_unfinalized: u64,
}

/// The honest cells holding a proof of one forker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForkDetectionSummary {
    pub forker: CellIndex,
    /// Honest cells holding a proof.
    pub cells_detected: u64,
    pub first_detected_ms: f64,
    /// Honest cell → when it first held a proof (ms).
    pub detected_ms: BTreeMap<CellIndex, f64>,
    /// The highest reputation (ppm) an honest cell live at the end gives
    /// the forker (`None`: not measured).
    pub trust_ppm_max_after: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NetworkAdversarySummary {
    pub dropped: u64,
    pub delayed: u64,
}

/// docs/metrics.md "Front-running advantage".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FrontRunningSummary {
    /// (victim TX, attacker TX) pairs the attackers made.
    pub pairs: u64,
    /// Pairs both ordered, where every honest cell that received both
    /// received the victim's first (and at least one did).
    pub measured_pairs: u64,
    /// Of those, pairs the consensus order puts attacker-first.
    pub attacker_first: u64,
    /// `attacker_first / measured_pairs`: 0 is fair; `null` with none measured.
    pub advantage: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoubleSpendSummary {
    pub attempts: u64,
    /// Attempts of which some honest cell applied more than one TX.
    pub finalized_twice: u64,
    pub detail: Vec<DoubleSpendAttemptSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoubleSpendAttemptSummary {
    pub attacker: CellIndex,
    pub time_ms: f64,
    pub txs: Vec<String>,
    /// Per honest cell, how many of `txs` it applied (0 included).
    pub applied_by_cell: BTreeMap<CellIndex, u32>,
    /// The most any honest cell applied: at most 1 is the claim.
    pub max_applied: u32,
}

impl AttackSummary {
    pub fn new(record: &RunRecord) -> AttackSummary {
        let attack = &record.attack;
        let mut forks = fork_detection_summaries(&record.forks_detected);
        for fork in &mut forks {
            fork.trust_ppm_max_after = record.attack.forker_trust_ppm.get(&fork.forker).copied();
        }
        let double_spends: Vec<DoubleSpendAttemptSummary> = attack
            .double_spends
            .iter()
            .map(|attempt| {
                let applied_by_cell: BTreeMap<CellIndex, u32> = record
                    .honest_cells
                    .iter()
                    .map(|&cell| (cell, attempt.applied_by.get(&cell).copied().unwrap_or(0)))
                    .collect();
                DoubleSpendAttemptSummary {
                    attacker: attempt.attacker,
                    time_ms: ns_to_ms(attempt.time_ns),
                    txs: attempt.txs.clone(),
                    max_applied: applied_by_cell.values().copied().max().unwrap_or(0),
                    applied_by_cell,
                }
            })
            .collect();
        AttackSummary {
            forkers_detected: forks.len() as u64,
            forks,
            rejections_total: attack.rejections.values().sum(),
            rejections: attack.rejections.clone(),
            adversary_actions: attack.actions.clone(),
            messages_held: attack.messages_held,
            messages_released: attack.messages_released,
            network_adversary: NetworkAdversarySummary {
                dropped: attack.network_dropped,
                delayed: attack.network_delayed,
            },
            front_running: front_running(record),
            double_spends: DoubleSpendSummary {
                attempts: double_spends.len() as u64,
                finalized_twice: double_spends
                    .iter()
                    .filter(|attempt| attempt.max_applied > 1)
                    .count() as u64,
                detail: double_spends,
            },
            clock_offsets_ms: attack
                .clock_offsets_ns
                .iter()
                .map(|(&cell, &offset_ns)| (cell, offset_ns as f64 / 1e6))
                .collect(),
            censored: censored_by_client(record),
            censorship: censorship(record),
            sybil: SybilSummary::new(record),
        }
    }
}

/// Per client a censor touched: what it did and what it cost the client.
fn censored_by_client(record: &RunRecord) -> BTreeMap<u32, CensoredSummary> {
    let live = record.live_honest_cells();
    record
        .attack
        .censored
        .iter()
        .map(|(&client, censored)| {
            let held = censored.held > 0;
            let mut txs = 0;
            let mut finality_ns = Vec::new();
            for tx in record
                .transactions
                .iter()
                .filter(|tx| tx.client == Some(client))
            {
                txs += 1;
                finality_ns.extend(crate::metrics::finality_all_of(tx, &live));
            }
            finality_ns.sort_unstable();
            let txs_censored = censored.txs.len() as u64;
            (
                client,
                CensoredSummary {
                    dropped: censored.dropped,
                    held: censored.held,
                    held_ms_mean: held
                        .then(|| ns_to_ms(censored.held_ns_total) / censored.held as f64),
                    held_ms_max: held.then(|| ns_to_ms(censored.held_ns_max)),
                    txs,
                    txs_censored,
                    censored_rate: (txs > 0).then(|| txs_censored as f64 / txs as f64),
                    finality_ms_p50: lower_median(&finality_ns).map(ns_to_ms),
                },
            )
        })
        .collect()
}

/// The lower median of sorted `values`.
fn lower_median(values: &[TimeNs]) -> Option<TimeNs> {
    values.get(values.len().checked_sub(1)? / 2).copied()
}

/// docs/metrics.md "Censorship", over every client TX.
fn censorship(record: &RunRecord) -> Option<CensorshipSummary> {
    let live = record.live_honest_cells();
    let censored_ids: std::collections::BTreeSet<&str> = record
        .attack
        .censored
        .values()
        .flat_map(|censored| censored.txs.iter().map(String::as_str))
        .collect();
    let mut clients = std::collections::BTreeSet::new();
    let (mut txs, mut txs_censored, mut censored_unfinalized) = (0, 0, 0);
    let (mut censored_ns, mut uncensored_ns) = (Vec::new(), Vec::new());
    for tx in &record.transactions {
        let Some(client) = tx.client else { continue };
        clients.insert(client);
        txs += 1;
        let finality = crate::metrics::finality_all_of(tx, &live);
        if censored_ids.contains(tx.id.as_str()) {
            txs_censored += 1;
            match finality {
                Some(ns) => censored_ns.push(ns),
                None => censored_unfinalized += 1,
            }
        } else {
            uncensored_ns.extend(finality);
        }
    }
    if txs == 0 {
        return None;
    }
    censored_ns.sort_unstable();
    uncensored_ns.sort_unstable();
    Some(CensorshipSummary {
        clients: clients.len() as u64,
        clients_censored: record.attack.censored.len() as u64,
        txs,
        txs_censored,
        finality_ms_p50_censored: lower_median(&censored_ns).map(ns_to_ms),
        finality_ms_max_censored: censored_ns.last().copied().map(ns_to_ms),
        finality_ms_p50_uncensored: lower_median(&uncensored_ns).map(ns_to_ms),
        censored_unfinalized,
    })
}

/// Folds fork detections (ordered by forker, then time) per forker.
pub fn fork_detection_summaries(detections: &[ForkDetection]) -> Vec<ForkDetectionSummary> {
    let mut summaries: Vec<ForkDetectionSummary> = Vec::new();
    for detection in detections {
        let summary = match summaries.last_mut() {
            Some(summary) if summary.forker == detection.forker => summary,
            _ => {
                summaries.push(ForkDetectionSummary {
                    forker: detection.forker,
                    cells_detected: 0,
                    first_detected_ms: ns_to_ms(detection.time_ns),
                    detected_ms: BTreeMap::new(),
                    trust_ppm_max_after: None,
                });
                summaries.last_mut().expect("just pushed")
            }
        };
        summary
            .detected_ms
            .insert(detection.cell, ns_to_ms(detection.time_ns));
        summary.cells_detected = summary.detected_ms.len() as u64;
    }
    summaries
}

/// docs/metrics.md "Front-running advantage".
fn front_running(record: &RunRecord) -> FrontRunningSummary {
    let pairs = record.attack.front_runs.len() as u64;
    let (mut measured_pairs, mut attacker_first) = (0, 0);
    if pairs > 0 {
        // Lookup only: the pairs are visited in record order.
        let by_id: HashMap<&str, &TxRecord> = record
            .transactions
            .iter()
            .map(|tx| (tx.id.as_str(), tx))
            .collect();
        for pair in &record.attack.front_runs {
            let (Some(victim), Some(own)) = (
                by_id.get(pair.victim.as_str()),
                by_id.get(pair.own.as_str()),
            ) else {
                continue;
            };
            let (Some(victim_order), Some(own_order)) = (victim.order, own.order) else {
                continue;
            };
            let mut both = 0;
            let mut victim_first_everywhere = true;
            for (cell, &victim_ns) in &victim.received_ns {
                if let Some(&own_ns) = own.received_ns.get(cell) {
                    both += 1;
                    victim_first_everywhere &= victim_ns < own_ns;
                }
            }
            if both == 0 || !victim_first_everywhere {
                continue;
            }
            measured_pairs += 1;
            attacker_first += u64::from(own_order.position < victim_order.position);
        }
    }
    FrontRunningSummary {
        pairs,
        measured_pairs,
        attacker_first,
        advantage: (measured_pairs > 0).then(|| attacker_first as f64 / measured_pairs as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Checks, NS_PER_S, RunRecorder, TxOrder};

    fn order(position: u64) -> TxOrder {
        TxOrder {
            round_received: 1,
            consensus_timestamp_ns: 0,
            position,
        }
    }

    #[test]
    fn front_running_counts_pairs_received_victim_first_and_ordered_attacker_first() {
        // Cells 0..3 honest, 3 the attacker.
        let mut recorder = RunRecorder::new("t", 1, 4, [0, 1, 2], 10, Checks::default());
        for id in ["v1", "a1", "v2", "a2", "v3", "a3"] {
            recorder.tx_submitted(0, if id.starts_with('v') { 0 } else { 3 }, id);
        }
        // Pair 1: received victim-first everywhere, ordered attacker-first.
        recorder.tx_received(10, 0, "a1");
        recorder.tx_received(10, 1, "a1");
        recorder.tx_received(5, 1, "v1");
        recorder.tx_ordered(100, 0, "v1", order(2));
        recorder.tx_ordered(100, 0, "a1", order(1));
        // Pair 2: cell 1 received the attacker's first: not measured.
        recorder.tx_received(5, 1, "a2");
        recorder.tx_received(6, 1, "v2");
        recorder.tx_ordered(100, 0, "v2", order(3));
        recorder.tx_ordered(100, 0, "a2", order(4));
        // Pair 3: fair.
        recorder.tx_received(10, 0, "a3");
        recorder.tx_ordered(100, 0, "v3", order(5));
        recorder.tx_ordered(100, 0, "a3", order(6));
        for (victim, own) in [("v1", "a1"), ("v2", "a2"), ("v3", "a3"), ("v9", "a9")] {
            recorder.adversary(
                1,
                3,
                "front-run",
                AdversaryAct::FrontRun {
                    victim: victim.into(),
                    own: own.into(),
                },
            );
        }
        let record = recorder.finish(NS_PER_S, 0, &"0".repeat(64));
        let summary = AttackSummary::new(&record);
        assert_eq!(summary.front_running.pairs, 4);
        assert_eq!(summary.front_running.measured_pairs, 2);
        assert_eq!(summary.front_running.attacker_first, 1);
        assert_eq!(summary.front_running.advantage, Some(0.5));
        assert_eq!(summary.adversary_actions["front-run"]["front_run"], 4);
    }

    #[test]
    fn double_spends_count_each_honest_cells_applied_txs_once() {
        let mut recorder = RunRecorder::new("t", 1, 4, [0, 1, 2], 10, Checks::default());
        recorder.adversary(
            5,
            3,
            "double-spend",
            AdversaryAct::DoubleSpend {
                txs: vec!["x".into(), "y".into()],
            },
        );
        recorder.tx_applied(0, "x", true);
        recorder.tx_applied(0, "y", false);
        recorder.tx_applied(1, "x", true);
        recorder.tx_applied(1, "x", true); // again after a restart: once
        recorder.tx_applied(2, "x", true);
        recorder.tx_applied(2, "y", true); // both: the state claim breaks
        recorder.tx_applied(3, "y", true); // the attacker: no evidence
        let record = recorder.finish(NS_PER_S, 0, &"0".repeat(64));
        let summary = AttackSummary::new(&record).double_spends;
        assert_eq!(summary.attempts, 1);
        assert_eq!(summary.finalized_twice, 1);
        let attempt = &summary.detail[0];
        assert_eq!(
            attempt.applied_by_cell,
            BTreeMap::from([(0, 1), (1, 1), (2, 2)])
        );
        assert_eq!(attempt.max_applied, 2);
    }

    #[test]
    fn rejections_count_honest_cells_only_and_forks_keep_every_detection() {
        let mut recorder = RunRecorder::new("t", 1, 4, [0, 1, 2], 10, Checks::default());
        recorder.message_rejected(0, "event: bad signature");
        recorder.message_rejected(1, "event: bad signature");
        recorder.message_rejected(2, "message: undecodable");
        recorder.message_rejected(3, "event: bad signature");
        recorder.fork_detected(700, 1, 3);
        recorder.fork_detected(500, 2, 3);
        let record = recorder.finish(NS_PER_S, 0, &"0".repeat(64));
        let summary = AttackSummary::new(&record);
        assert_eq!(summary.rejections["event: bad signature"], 2);
        assert_eq!(summary.rejections_total, 3);
        assert_eq!(summary.forkers_detected, 1);
        let fork = &summary.forks[0];
        assert_eq!(fork.cells_detected, 2);
        assert_eq!(fork.first_detected_ms, 0.0005);
        assert_eq!(fork.detected_ms[&1], 0.0007);
    }

    #[test]
    fn censorship_times_client_txs_from_their_first_submission() {
        // Cells 0..3 honest, 3 a censoring entry. Client 7's TX "c" was
        // dropped by cell 3 at 100, first submitted at 100, relayed by
        // cell 0 at 2,100 (and again by cell 1: the same TX). Client 8's
        // TX "u" went straight through cell 1.
        let mut recorder = RunRecorder::new("t", 1, 4, [0, 1, 2], 10, Checks::default());
        recorder.adversary(
            100,
            3,
            "censor",
            AdversaryAct::Censored {
                client: 7,
                tx: "c".into(),
                held_ns: None,
            },
        );
        recorder.tx_relayed(2_100, 0, "c", 7, 100);
        recorder.tx_relayed(2_200, 1, "c", 7, 100);
        recorder.tx_relayed(500, 1, "u", 8, 500);
        for cell in 0..3 {
            recorder.tx_ordered(3_100 + cell as u64, cell, "c", order(0));
            recorder.tx_ordered(1_500, cell, "u", order(1));
        }
        let record = recorder.finish(NS_PER_S, 0, &"0".repeat(64));
        let c = &record.transactions[0];
        assert_eq!((c.client, c.submitter, c.submit_ns), (Some(7), 0, 100));
        assert_eq!(c.received_ns, BTreeMap::from([(0, 2_100), (1, 2_200)]));
        assert_eq!(record.unknown_tx_observations, 0);
        let summary = AttackSummary::new(&record);
        let censorship = summary.censorship.expect("client TXs");
        assert_eq!((censorship.clients, censorship.clients_censored), (2, 1));
        assert_eq!((censorship.txs, censorship.txs_censored), (2, 1));
        // L_all: 3,102 − 100 for "c", 1,500 − 500 for "u" (in ms).
        assert_eq!(censorship.finality_ms_p50_censored, Some(0.003002));
        assert_eq!(censorship.finality_ms_p50_uncensored, Some(0.001));
        let client = summary.censored[&7];
        assert_eq!((client.dropped, client.txs, client.txs_censored), (1, 1, 1));
        assert_eq!(client.censored_rate, Some(1.0));
        assert_eq!(client.finality_ms_p50, Some(0.003002));
    }

    #[test]
    fn sybil_standing_sums_what_each_honest_cell_gave_the_identities() {
        let mut recorder = RunRecorder::new("t", 1, 4, [0, 1, 2], 10, Checks::default());
        for _ in 0..5 {
            recorder.adversary(
                10,
                3,
                "sybil",
                AdversaryAct::SybilMessage {
                    kind: "chat".into(),
                },
            );
        }
        recorder.adversary(20, 3, "sybil", AdversaryAct::SybilVouched { by: 1 });
        let standing = |cell, share, best, member, vouched, accepted| SybilStanding {
            cell,
            sybil_share_ppm: share,
            best_sybil_ppm: best,
            member_median_ppm: member,
            vouched,
            messages_accepted: accepted,
        };
        recorder.sybil_standings(
            20,
            vec![
                standing(2, 0, 0, 300_000, 0, 0),
                standing(1, 90_000, 80_000, 70_000, 1, 3),
                standing(0, 10_000, 2_000, 300_000, 0, 1),
            ],
        );
        let record = recorder.finish(NS_PER_S, 0, &"0".repeat(64));
        let sybil = AttackSummary::new(&record).sybil.expect("a sybil block");
        assert_eq!(sybil.identities, 20);
        assert_eq!((sybil.messages_sent, sybil.messages_accepted), (5, 4));
        assert_eq!(sybil.attack_edges, 1);
        assert_eq!(sybil.share_ppm_median, Some(10_000));
        assert_eq!(sybil.share_ppm_max, Some(90_000));
        assert_eq!(sybil.best_sybil_ppm_max, Some(80_000));
        assert_eq!(sybil.member_median_ppm, Some(300_000));
        // Only cell 1's best sybil outranks its median member.
        assert_eq!((sybil.cells_outranked, sybil.cells_measured), (1, 3));
        assert_eq!(
            sybil.standings.iter().map(|s| s.cell).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
    }
}
