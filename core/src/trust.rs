//! The trust network IdentityService keeps: attestations and interaction
//! history between cells, a reputation score computed over them, fork proofs
//! against misbehaving cells, and reputation-based access control.
//!
//! **Graph.** A petgraph `GraphMap` keyed by [`CellId`]; an edge `a → b`
//! carries `a`'s latest attestation weight for `b` (0 to
//! [`ATTESTATION_WEIGHT_MAX`]) and the count of successful and failed
//! interactions `a` had with `b`. Nodes are always visited in ascending
//! `CellId` order, never in the map's insertion or hash order.
//!
//! **Reputation** is EigenTrust (Kamvar, Schlosser, Garcia-Molina 2003, §4.5
//! "Basic EigenTrust with pre-trusted peers"): `t ← (1 − a)·Cᵀt + a·p`, where
//! `C` is the row-normalised local-trust matrix and `p` the uniform
//! distribution over pre-trusted cells. Local trust `a → b` is
//! `attestation weight + interaction_weight · max(successes − failures, 0)`
//! (the paper's `s_ij = sat − unsat`, floored at 0, plus explicit vouching).
//! A cell with no outgoing trust gives its mass to `p` (the paper's rule for
//! peers that trust nobody). Everything is integer: the vector holds
//! [`TRUST_TOTAL_UNITS`] (2^40) units of mass in `u64`; each row of `C` is
//! normalised once to weights out of 2^23 (so `mass · weight < 2^64` and a
//! step is a multiply and a shift per edge); each step's rounding loss is
//! handed to `p` like the teleport mass, so the total is conserved exactly. The iteration stops after `iterations_max` steps or
//! once the L1 change falls to `convergence_units`. Scores are then rounded
//! to parts per million by largest remainder (ties to the lower `CellId`),
//! so they always sum to exactly 1,000,000 (unless every cell is a forker).
//!
//! **Forkers.** A recorded fork proof sets the forker's trust to zero for
//! good: it is removed from `p`, every edge into it is ignored, and access
//! control denies it everything.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasherDefault;

use petgraph::Directed;
use petgraph::graphmap::GraphMap;

use crate::identity::CellId;

/// Largest attestation weight a cell may give another.
pub const ATTESTATION_WEIGHT_MAX: u64 = 1_000;
/// Total reputation mass during the iteration (2^40 units).
pub const TRUST_TOTAL_UNITS: u64 = 1 << 40;
/// Scores are reported in parts per million; they sum to this.
pub const PPM_TOTAL: u64 = 1_000_000;
/// Local trust per edge is capped (sums of a row stay far below 2^64).
const LOCAL_TRUST_MAX: u64 = 1 << 40;
/// A normalised row of `C` sums to (at most) `1 << ROW_WEIGHT_BITS`.
const ROW_WEIGHT_BITS: u32 = 23;

/// Deterministic hasher for the graph's index maps. Their order is never
/// iterated into an output anyway (see the module docs); a fixed hasher just
/// keeps the type independent of petgraph's `std` feature.
// tidy: lookup-only (GraphMap iterates its IndexMaps in insertion order, not hash order)
type FixedHasher = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;

/// What one cell knows of another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrustEdge {
    /// The latest attestation weight (0 revokes).
    pub attestation_weight: u64,
    pub successes: u64,
    pub failures: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionOutcome {
    Success,
    Failure,
}

/// Parameters of the reputation iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustConfig {
    /// `a`, the weight of the pre-trusted distribution, in ppm (0..=1e6).
    pub pre_trusted_weight_ppm: u64,
    /// Local trust one net successful interaction adds.
    pub interaction_weight: u64,
    pub iterations_max: u32,
    /// Stop early once the L1 change of one step is at most this many units
    /// (of [`TRUST_TOTAL_UNITS`]).
    pub convergence_units: u64,
}

impl Default for TrustConfig {
    fn default() -> Self {
        TrustConfig {
            // The paper's experiments use a = 0.1 to 0.2.
            pre_trusted_weight_ppm: 150_000,
            interaction_weight: 10,
            iterations_max: 100,
            // About 1e-9 of the total mass: well below one ppm.
            convergence_units: 1_024,
        }
    }
}

/// Actions gated by reputation; one per message type a cell may refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessAction {
    Chat,
    Auth,
    Tx,
    Post,
    Query,
    Exec,
}

/// Per-action minimum reputation, in ppm. An action without a threshold is
/// open to every cell except forkers. Note that ppm scores shrink as the
/// network grows (the average is 1e6 / cells): scale thresholds with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    thresholds_ppm: BTreeMap<AccessAction, u64>,
}

impl AccessPolicy {
    pub fn with_threshold(mut self, action: AccessAction, minimum_ppm: u64) -> Self {
        self.thresholds_ppm.insert(action, minimum_ppm);
        self
    }

    pub fn threshold_ppm(&self, action: AccessAction) -> u64 {
        self.thresholds_ppm.get(&action).copied().unwrap_or(0)
    }
}

/// Evidence that `forker` signed two conflicting histories. The trust network
/// stores it; verifying the two signed statements is the caller's job (the
/// journal and hashgraph modules define what a conflict is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ForkProof {
    pub forker: CellId,
    pub reporter: CellId,
    /// A digest of the two conflicting signed statements.
    pub evidence_hash: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("a cell cannot attest to or interact with itself ({cell:?})")]
    SelfEdge { cell: CellId },
    #[error("attestation weight {weight} exceeds the maximum {max}")]
    WeightTooLarge { weight: u64, max: u64 },
}

/// The result of one reputation computation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reputation {
    /// Every known cell's score in ppm, ascending by cell id.
    pub scores_ppm: BTreeMap<CellId, u64>,
    /// Steps the iteration ran before converging or hitting the cap.
    pub iterations: u32,
}

impl Reputation {
    /// A cell's score; 0 for unknown cells.
    pub fn score_ppm(&self, cell: &CellId) -> u64 {
        self.scores_ppm.get(cell).copied().unwrap_or(0)
    }
}

/// Attestations, interactions, pre-trusted cells, fork proofs, and the
/// reputation computed over them (cached until the next change).
#[derive(Clone)]
pub struct TrustNetwork {
    config: TrustConfig,
    policy: AccessPolicy,
    graph: GraphMap<CellId, TrustEdge, Directed, FixedHasher>,
    pre_trusted: BTreeSet<CellId>,
    fork_proofs: BTreeMap<CellId, BTreeSet<ForkProof>>,
    cached: Option<Reputation>,
}

impl std::fmt::Debug for TrustNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustNetwork")
            .field("cells", &self.graph.node_count())
            .field("edges", &self.graph.edge_count())
            .field("pre_trusted", &self.pre_trusted.len())
            .field("forkers", &self.fork_proofs.len())
            .finish()
    }
}

impl TrustNetwork {
    pub fn new(config: TrustConfig, policy: AccessPolicy) -> Self {
        assert!(
            config.pre_trusted_weight_ppm <= PPM_TOTAL,
            "pre_trusted_weight_ppm is a fraction of 1e6"
        );
        TrustNetwork {
            config,
            policy,
            graph: GraphMap::with_capacity_and_hasher(0, 0, FixedHasher::default()),
            pre_trusted: BTreeSet::new(),
            fork_proofs: BTreeMap::new(),
            cached: None,
        }
    }

    /// Make a cell known (with no edges), so it gets a score.
    pub fn add_cell(&mut self, cell: CellId) {
        if !self.graph.contains_node(cell) {
            self.graph.add_node(cell);
            self.cached = None;
        }
    }

    /// Mark a cell pre-trusted (a genesis member, say).
    pub fn add_pre_trusted(&mut self, cell: CellId) {
        self.add_cell(cell);
        if self.pre_trusted.insert(cell) {
            self.cached = None;
        }
    }

    /// Record `from`'s attestation of `to`, replacing any earlier one.
    pub fn attest(&mut self, from: CellId, to: CellId, weight: u64) -> Result<(), TrustError> {
        if weight > ATTESTATION_WEIGHT_MAX {
            return Err(TrustError::WeightTooLarge {
                weight,
                max: ATTESTATION_WEIGHT_MAX,
            });
        }
        self.edge_mut(from, to)?.attestation_weight = weight;
        Ok(())
    }

    /// Record one interaction `from` had with `to` and how it went.
    pub fn record_interaction(
        &mut self,
        from: CellId,
        to: CellId,
        outcome: InteractionOutcome,
    ) -> Result<(), TrustError> {
        let edge = self.edge_mut(from, to)?;
        match outcome {
            InteractionOutcome::Success => edge.successes = edge.successes.saturating_add(1),
            InteractionOutcome::Failure => edge.failures = edge.failures.saturating_add(1),
        }
        Ok(())
    }

    /// `provider` was slashed in a market (a fraud proof or a missed
    /// storage challenge): a consensus fact every cell knows, so every edge
    /// into it this network holds — its own and what others attested —
    /// loses its attestation and every success it had counted. The
    /// provider keeps only what new successes earn (unlike a forker, whose
    /// trust is zero for good).
    pub fn record_slash(&mut self, provider: CellId) {
        self.add_cell(provider);
        let sources: Vec<CellId> = self
            .graph
            .neighbors_directed(provider, petgraph::Direction::Incoming)
            .collect();
        for from in sources {
            if let Some(edge) = self.graph.edge_weight_mut(from, provider) {
                edge.attestation_weight = 0;
                edge.failures = edge.successes.saturating_add(1);
            }
        }
        self.cached = None;
    }

    fn edge_mut(&mut self, from: CellId, to: CellId) -> Result<&mut TrustEdge, TrustError> {
        if from == to {
            return Err(TrustError::SelfEdge { cell: from });
        }
        self.cached = None;
        if !self.graph.contains_edge(from, to) {
            self.graph.add_edge(from, to, TrustEdge::default());
        }
        Ok(self
            .graph
            .edge_weight_mut(from, to)
            .expect("edge inserted above"))
    }

    /// Record misbehaviour evidence. Returns whether the proof is new. From
    /// then on the forker's trust is zero.
    pub fn record_fork_proof(&mut self, proof: ForkProof) -> bool {
        self.add_cell(proof.forker);
        let is_new = self
            .fork_proofs
            .entry(proof.forker)
            .or_default()
            .insert(proof);
        if is_new {
            self.cached = None;
        }
        is_new
    }

    pub fn is_forker(&self, cell: &CellId) -> bool {
        self.fork_proofs.contains_key(cell)
    }

    /// Fork proofs recorded against `cell`, in a fixed order.
    pub fn fork_proofs(&self, cell: &CellId) -> impl Iterator<Item = &ForkProof> {
        self.fork_proofs.get(cell).into_iter().flatten()
    }

    pub fn edge(&self, from: CellId, to: CellId) -> Option<&TrustEdge> {
        self.graph.edge_weight(from, to)
    }

    pub fn cell_count(&self) -> usize {
        self.graph.node_count()
    }

    pub fn policy(&self) -> &AccessPolicy {
        &self.policy
    }

    /// The reputation vector, recomputed only if something changed.
    pub fn reputation(&mut self) -> &Reputation {
        if self.cached.is_none() {
            self.cached = Some(self.compute());
        }
        self.cached.as_ref().expect("computed above")
    }

    pub fn score_ppm(&mut self, cell: &CellId) -> u64 {
        self.reputation().score_ppm(cell)
    }

    /// May `cell` perform `action`? Forkers never; others when their score
    /// reaches the policy's threshold (unknown cells score 0).
    pub fn allows(&mut self, cell: &CellId, action: AccessAction) -> bool {
        if self.is_forker(cell) {
            return false;
        }
        let threshold = self.policy.threshold_ppm(action);
        threshold == 0 || self.score_ppm(cell) >= threshold
    }

    /// Local trust `from → to` before normalisation.
    fn local_trust(&self, edge: &TrustEdge) -> u64 {
        let net_successes = edge.successes.saturating_sub(edge.failures);
        edge.attestation_weight
            .saturating_add(self.config.interaction_weight.saturating_mul(net_successes))
            .min(LOCAL_TRUST_MAX)
    }

    /// Run the EigenTrust iteration from scratch.
    pub fn compute(&self) -> Reputation {
        let mut cells: Vec<CellId> = self.graph.nodes().collect();
        cells.sort_unstable();
        let position = |cell: &CellId| cells.binary_search(cell).expect("graph node");
        let is_forker: Vec<bool> = cells.iter().map(|c| self.is_forker(c)).collect();

        // Row i: (column, local trust) ascending by column, and the row sum.
        // Row i of C: (column, weight out of 2^ROW_WEIGHT_BITS), ascending.
        let mut rows: Vec<Vec<(usize, u64)>> = Vec::with_capacity(cells.len());
        for (i, cell) in cells.iter().enumerate() {
            let mut row: Vec<(usize, u64)> = Vec::new();
            if !is_forker[i] {
                for (_, to, edge) in self.graph.edges(*cell) {
                    let j = position(&to);
                    let trust = self.local_trust(edge);
                    if !is_forker[j] && trust > 0 {
                        row.push((j, trust));
                    }
                }
            }
            row.sort_unstable();
            let sum: u128 = row.iter().map(|&(_, t)| u128::from(t)).sum();
            let normalised = row
                .into_iter()
                .map(|(j, t)| (j, ((u128::from(t) << ROW_WEIGHT_BITS) / sum) as u64))
                .filter(|&(_, weight)| weight > 0)
                .collect();
            rows.push(normalised);
        }

        // p: the pre-trusted non-forkers, or every non-forker if none.
        let mut teleport: Vec<usize> = self
            .pre_trusted
            .iter()
            .map(&position)
            .filter(|&i| !is_forker[i])
            .collect();
        if teleport.is_empty() {
            teleport = (0..cells.len()).filter(|&i| !is_forker[i]).collect();
        }
        if teleport.is_empty() {
            return Reputation {
                scores_ppm: cells.iter().map(|&c| (c, 0)).collect(),
                iterations: 0,
            };
        }

        let spread = |vector: &mut [u64], amount: u64| {
            let count = teleport.len() as u64;
            let (share, remainder) = (amount / count, amount % count);
            for (k, &i) in teleport.iter().enumerate() {
                vector[i] += share + u64::from((k as u64) < remainder);
            }
        };

        let keep_ppm = PPM_TOTAL - self.config.pre_trusted_weight_ppm;
        let mut trust = vec![0u64; cells.len()];
        spread(&mut trust, TRUST_TOTAL_UNITS);
        let mut next = vec![0u64; cells.len()];
        let mut iterations = 0;
        while iterations < self.config.iterations_max {
            iterations += 1;
            next.iter_mut().for_each(|x| *x = 0);
            for (i, row) in rows.iter().enumerate() {
                // Mass of a cell that trusts nobody returns to p below.
                let mass = trust[i];
                for &(j, weight) in row {
                    next[j] += (mass * weight) >> ROW_WEIGHT_BITS;
                }
            }
            let mut kept: u64 = 0;
            for value in next.iter_mut() {
                *value = *value * keep_ppm / PPM_TOTAL;
                kept += *value;
            }
            // Teleport mass, dangling mass and rounding loss, all to p.
            spread(&mut next, TRUST_TOTAL_UNITS - kept);
            let change: u64 = trust.iter().zip(&next).map(|(a, b)| a.abs_diff(*b)).sum();
            std::mem::swap(&mut trust, &mut next);
            if change <= self.config.convergence_units {
                break;
            }
        }
        assert_eq!(trust.iter().sum::<u64>(), TRUST_TOTAL_UNITS);

        Reputation {
            scores_ppm: to_ppm(&cells, &trust),
            iterations,
        }
    }
}

/// Round mass to ppm by largest remainder; ties go to the lower cell id.
fn to_ppm(cells: &[CellId], trust: &[u64]) -> BTreeMap<CellId, u64> {
    let mut scores: Vec<u64> = Vec::with_capacity(cells.len());
    let mut remainders: Vec<(u64, usize)> = Vec::with_capacity(cells.len());
    for (i, &mass) in trust.iter().enumerate() {
        // mass ≤ 2^40 and PPM_TOTAL < 2^20: no overflow.
        let scaled = mass * PPM_TOTAL;
        scores.push(scaled / TRUST_TOTAL_UNITS);
        let remainder = scaled % TRUST_TOTAL_UNITS;
        if remainder > 0 {
            remainders.push((remainder, i));
        }
    }
    let leftover = PPM_TOTAL - scores.iter().sum::<u64>();
    // Largest remainder first; equal remainders by ascending cell index.
    remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert!(leftover as usize <= remainders.len());
    for &(_, i) in remainders.iter().take(leftover as usize) {
        scores[i] += 1;
    }
    cells.iter().copied().zip(scores).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::CellKeys;
    use proptest::prelude::*;

    fn cell(name: &str) -> CellId {
        CellKeys::from_name(name).cell_id()
    }

    fn network(a_ppm: u64) -> TrustNetwork {
        TrustNetwork::new(
            TrustConfig {
                pre_trusted_weight_ppm: a_ppm,
                ..TrustConfig::default()
            },
            AccessPolicy::default(),
        )
    }

    #[test]
    fn three_cycle_matches_the_hand_computed_fixed_point() {
        // A (pre-trusted) → B → C → A, a = 1/2:
        // t_B = t_A/2, t_C = t_B/2, t_A = t_C/2 + 1/2  ⇒  (4/7, 2/7, 1/7).
        let (a, b, c) = (cell("a"), cell("b"), cell("c"));
        let mut trust = network(500_000);
        trust.add_pre_trusted(a);
        trust.attest(a, b, 1).unwrap();
        trust.attest(b, c, 1).unwrap();
        trust.attest(c, a, 1).unwrap();
        let reputation = trust.reputation().clone();
        // 571428.57, 285714.29, 142857.14: the spare ppm goes to A.
        assert_eq!(reputation.score_ppm(&a), 571_429);
        assert_eq!(reputation.score_ppm(&b), 285_714);
        assert_eq!(reputation.score_ppm(&c), 142_857);
        assert!(reputation.iterations < TrustConfig::default().iterations_max);
    }

    #[test]
    fn weights_split_trust_proportionally() {
        // P (pre-trusted) trusts X with 3 and Y with 1; X, Y trust nobody, so
        // their mass returns to P. a = 1/2:
        // t_X = 3/8 t_P, t_Y = 1/8 t_P, t_P = 1/2 + 1/2 (t_X + t_Y) = 1/2 + t_P/4
        // ⇒ t_P = 2/3, t_X = 1/4, t_Y = 1/12.
        let (p, x, y) = (cell("p"), cell("x"), cell("y"));
        let mut trust = network(500_000);
        trust.add_pre_trusted(p);
        trust.attest(p, x, 3).unwrap();
        trust.attest(p, y, 1).unwrap();
        assert_eq!(trust.score_ppm(&p), 666_667);
        assert_eq!(trust.score_ppm(&x), 250_000);
        assert_eq!(trust.score_ppm(&y), 83_333);
    }

    #[test]
    fn interactions_count_net_successes() {
        let (p, x, y) = (cell("p"), cell("x"), cell("y"));
        let mut trust = network(500_000);
        trust.add_pre_trusted(p);
        for _ in 0..3 {
            trust
                .record_interaction(p, x, InteractionOutcome::Success)
                .unwrap();
        }
        trust
            .record_interaction(p, x, InteractionOutcome::Failure)
            .unwrap();
        trust
            .record_interaction(p, y, InteractionOutcome::Failure)
            .unwrap();
        // Net 2 successes → local trust 20 to X, 0 to Y: X gets all of P's.
        assert_eq!(
            trust.edge(p, x),
            Some(&TrustEdge {
                attestation_weight: 0,
                successes: 3,
                failures: 1
            })
        );
        assert_eq!(trust.score_ppm(&y), 0);
        // t_X = t_P/2, t_P = 1/2 + t_X/2 ⇒ t_P = 2/3, t_X = 1/3.
        assert_eq!(trust.score_ppm(&x), 333_333);
        assert_eq!(trust.score_ppm(&p), 666_667);
    }

    #[test]
    fn without_pre_trusted_cells_the_teleport_is_uniform() {
        let cells: Vec<CellId> = (0..3).map(|i| cell(&format!("u{i}"))).collect();
        let mut trust = network(150_000);
        for &c in &cells {
            trust.add_cell(c);
        }
        let scores = &trust.reputation().scores_ppm;
        let values: Vec<u64> = scores.values().copied().collect();
        // 333333.33 each: the spare ppm goes to the lowest cell id.
        assert_eq!(values, vec![333_334, 333_333, 333_333]);
    }

    #[test]
    fn forker_drops_to_zero_and_is_denied() {
        let (p, x, y) = (cell("p"), cell("x"), cell("y"));
        let mut trust = TrustNetwork::new(
            TrustConfig::default(),
            AccessPolicy::default().with_threshold(AccessAction::Exec, 100_000),
        );
        trust.add_pre_trusted(p);
        trust.attest(p, x, 10).unwrap();
        trust.attest(p, y, 10).unwrap();
        trust.attest(x, y, 10).unwrap();
        assert!(trust.score_ppm(&x) > 100_000);
        assert!(trust.allows(&x, AccessAction::Exec));
        let proof = ForkProof {
            forker: x,
            reporter: p,
            evidence_hash: [7; 32],
        };
        assert!(trust.record_fork_proof(proof));
        assert!(!trust.record_fork_proof(proof));
        assert_eq!(trust.score_ppm(&x), 0);
        assert!(!trust.allows(&x, AccessAction::Exec));
        assert!(!trust.allows(&x, AccessAction::Chat));
        assert_eq!(
            trust.reputation().scores_ppm.values().sum::<u64>(),
            PPM_TOTAL
        );
        assert_eq!(trust.fork_proofs(&x).count(), 1);
        // A pre-trusted forker loses its pre-trust too: all mass to the rest.
        trust.record_fork_proof(ForkProof {
            forker: p,
            reporter: y,
            evidence_hash: [8; 32],
        });
        assert_eq!(trust.score_ppm(&p), 0);
        assert_eq!(trust.score_ppm(&y), PPM_TOTAL);
    }

    #[test]
    fn access_thresholds_apply_per_action() {
        let (p, x, stranger) = (cell("p"), cell("x"), cell("stranger"));
        let mut trust = TrustNetwork::new(
            TrustConfig::default(),
            AccessPolicy::default()
                .with_threshold(AccessAction::Exec, 500_000)
                .with_threshold(AccessAction::Query, 1),
        );
        trust.add_pre_trusted(p);
        trust.attest(p, x, 1).unwrap();
        // t_X = 0.85 t_P, t_P = 0.15 + 0.85 t_X ⇒ t_X = 0.1275 / 0.2775.
        assert_eq!(trust.score_ppm(&x), 459_459);
        assert!(trust.allows(&x, AccessAction::Query));
        assert!(!trust.allows(&x, AccessAction::Exec));
        assert!(trust.allows(&p, AccessAction::Exec));
        assert!(trust.allows(&stranger, AccessAction::Chat));
        assert!(!trust.allows(&stranger, AccessAction::Query));
    }

    #[test]
    fn bad_edges_are_typed_errors() {
        let a = cell("a");
        let mut trust = network(150_000);
        assert_eq!(trust.attest(a, a, 1), Err(TrustError::SelfEdge { cell: a }));
        assert_eq!(
            trust.attest(a, cell("b"), ATTESTATION_WEIGHT_MAX + 1),
            Err(TrustError::WeightTooLarge {
                weight: ATTESTATION_WEIGHT_MAX + 1,
                max: ATTESTATION_WEIGHT_MAX
            })
        );
    }

    #[test]
    fn sybil_cluster_without_inbound_trust_gets_nothing() {
        let honest: Vec<CellId> = (0..10).map(|i| cell(&format!("honest{i}"))).collect();
        let sybils: Vec<CellId> = (0..30).map(|i| cell(&format!("sybil{i}"))).collect();
        let mut trust = network(150_000);
        trust.add_pre_trusted(honest[0]);
        trust.add_pre_trusted(honest[1]);
        for (i, &from) in honest.iter().enumerate() {
            trust.attest(from, honest[(i + 1) % 10], 5).unwrap();
            trust.attest(from, honest[(i + 3) % 10], 2).unwrap();
        }
        // Sybils vouch for each other at full weight, and for honest cells
        // (to look connected), but no honest cell vouches for them.
        for (i, &from) in sybils.iter().enumerate() {
            for (k, &to) in sybils.iter().enumerate() {
                if i != k {
                    trust.attest(from, to, ATTESTATION_WEIGHT_MAX).unwrap();
                    trust
                        .record_interaction(from, to, InteractionOutcome::Success)
                        .unwrap();
                }
            }
            trust.attest(from, honest[i % 10], 1).unwrap();
        }
        let reputation = trust.reputation().clone();
        let sybil_total: u64 = sybils.iter().map(|s| reputation.score_ppm(s)).sum();
        let lowest_honest = honest
            .iter()
            .map(|h| reputation.score_ppm(h))
            .min()
            .unwrap();
        assert_eq!(sybil_total, 0);
        assert!(lowest_honest > 10_000, "{lowest_honest}");
        assert_eq!(reputation.scores_ppm.values().sum::<u64>(), PPM_TOTAL);
    }

    #[test]
    fn sybil_cluster_behind_one_weak_edge_stays_below_its_sponsor() {
        // One non-pre-trusted honest cell vouches weakly for one sybil: the
        // cluster gets a trickle, far below the honest cells.
        let honest: Vec<CellId> = (0..10).map(|i| cell(&format!("honest{i}"))).collect();
        let sybils: Vec<CellId> = (0..20).map(|i| cell(&format!("sybil{i}"))).collect();
        let mut trust = network(150_000);
        trust.add_pre_trusted(honest[0]);
        for (i, &from) in honest.iter().enumerate() {
            for (k, &to) in honest.iter().enumerate() {
                if i != k {
                    trust.attest(from, to, 100).unwrap();
                }
            }
        }
        trust.attest(honest[9], sybils[0], 1).unwrap();
        for (i, &from) in sybils.iter().enumerate() {
            for (k, &to) in sybils.iter().enumerate() {
                if i != k {
                    trust.attest(from, to, ATTESTATION_WEIGHT_MAX).unwrap();
                }
            }
        }
        let reputation = trust.reputation().clone();
        let sybil_best = sybils
            .iter()
            .map(|s| reputation.score_ppm(s))
            .max()
            .unwrap();
        let honest_lowest = honest
            .iter()
            .map(|h| reputation.score_ppm(h))
            .min()
            .unwrap();
        let sybil_total: u64 = sybils.iter().map(|s| reputation.score_ppm(s)).sum();
        assert!(
            sybil_best < honest_lowest / 10,
            "{sybil_best} vs {honest_lowest}"
        );
        assert!(sybil_total < 100_000, "{sybil_total}");
    }

    /// A small random graph: `(from, to, weight)` edges over `cells` cells.
    fn edges_strategy(cells: usize) -> impl Strategy<Value = Vec<(usize, usize, u64)>> {
        proptest::collection::vec((0..cells, 0..cells, 1..=ATTESTATION_WEIGHT_MAX), 0..24)
    }

    fn build(cells: &[CellId], edges: &[(usize, usize, u64)], pre_trusted: usize) -> TrustNetwork {
        let mut trust = network(150_000);
        for &c in cells {
            trust.add_cell(c);
        }
        for &p in &cells[..pre_trusted] {
            trust.add_pre_trusted(p);
        }
        for &(from, to, weight) in edges {
            if from != to {
                trust.attest(cells[from], cells[to], weight).unwrap();
            }
        }
        trust
    }

    proptest! {
        #[test]
        fn scores_sum_to_a_million_and_are_deterministic(
            edges in edges_strategy(7),
            pre_trusted in 0usize..3,
        ) {
            let cells: Vec<CellId> = (0..7).map(|i| cell(&format!("q{i}"))).collect();
            let first = build(&cells, &edges, pre_trusted).compute();
            let second = build(&cells, &edges, pre_trusted).compute();
            prop_assert_eq!(first.scores_ppm.values().sum::<u64>(), PPM_TOTAL);
            prop_assert_eq!(first, second);
        }

        #[test]
        fn more_positive_attestation_never_lowers_the_target(
            edges in edges_strategy(6),
            from in 0usize..6,
            to in 0usize..6,
            extra in 1u64..=ATTESTATION_WEIGHT_MAX,
        ) {
            prop_assume!(from != to);
            let cells: Vec<CellId> = (0..6).map(|i| cell(&format!("m{i}"))).collect();
            let mut trust = build(&cells, &edges, 2);
            let before = trust.score_ppm(&cells[to]);
            let current = trust.edge(cells[from], cells[to]).map_or(0, |e| e.attestation_weight);
            let raised = (current + extra).min(ATTESTATION_WEIGHT_MAX);
            trust.attest(cells[from], cells[to], raised).unwrap();
            trust.record_interaction(cells[from], cells[to], InteractionOutcome::Success).unwrap();
            let after = trust.score_ppm(&cells[to]);
            // One ppm of slack: rounding to ppm may move a spare unit.
            prop_assert!(after + 1 >= before, "{} -> {}", before, after);
        }
    }
}
