//! Neighbour graphs, built with petgraph from the seeded `topology` stream and
//! then frozen into compact ascending neighbour lists (one offsets array and
//! one flat list). A full mesh is a rule, not a list: 10,000 cells do not
//! materialize 10^8 edges.

use std::hash::BuildHasherDefault;

use celluler_core::node::{CellIndex, Peers};
use celluler_core::rng::{self, DetRng};
use petgraph::Undirected;
use petgraph::graphmap::GraphMap;

use crate::config::{ConfigError, TopologySpec};

/// Deterministic hashing for lookups; the graph iterates in insertion order.
// tidy: lookup-only (GraphMap iterates its IndexMaps in insertion order, not hash order)
type Hasher = BuildHasherDefault<std::collections::hash_map::DefaultHasher>;
type Graph = GraphMap<u32, (), Undirected, Hasher>;

/// Restarts allowed when random pairing for a regular graph gets stuck.
const REGULAR_ATTEMPTS_MAX: u32 = 100;
/// Random tries per pairing step before scanning for any valid pair.
const PAIRING_TRIES_MAX: u32 = 64;

/// A directed link's index into dense per-link arrays, or `NONE` for a link
/// outside the topology (a full mesh, or a send to a non-neighbour).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LinkSlot(pub u32);

impl LinkSlot {
    pub const NONE: LinkSlot = LinkSlot(u32::MAX);

    #[inline]
    pub fn dense(self) -> Option<usize> {
        (self != LinkSlot::NONE).then_some(self.0 as usize)
    }
}

#[derive(Debug, Clone)]
pub enum Topology {
    FullMesh {
        cells: u32,
    },
    Lists {
        /// `neighbours[offsets[c]..offsets[c + 1]]` are cell `c`'s, ascending.
        offsets: Vec<u32>,
        neighbours: Vec<CellIndex>,
    },
}

impl Topology {
    /// Builds the graph `spec` describes from `(seed, "topology", 0)`.
    pub fn build(spec: &TopologySpec, cells: u32, seed: u64) -> Result<Topology, ConfigError> {
        let mut rng = rng::stream(seed, "topology", 0);
        let graph = match spec {
            TopologySpec::FullMesh => return Ok(Topology::FullMesh { cells }),
            TopologySpec::RandomRegular { degree } => random_regular(cells, *degree, &mut rng)?,
            TopologySpec::SmallWorld { degree, rewire } => {
                small_world(cells, *degree, *rewire, &mut rng)
            }
            TopologySpec::ScaleFree { edges_per_new_cell } => {
                scale_free(cells, *edges_per_new_cell, &mut rng)
            }
            TopologySpec::EdgeList(edges) => {
                let mut graph = empty_graph(cells);
                for &(a, b) in edges {
                    if a.0 >= cells || b.0 >= cells || a == b {
                        return Err(ConfigError::Topology(format!("bad edge {a}–{b}")));
                    }
                    graph.add_edge(a.0, b.0, ());
                }
                graph
            }
        };
        Ok(freeze(&graph, cells))
    }

    pub fn cells(&self) -> u32 {
        match self {
            Topology::FullMesh { cells } => *cells,
            Topology::Lists { offsets, .. } => offsets.len() as u32 - 1,
        }
    }

    pub fn peers(&self, cell: CellIndex) -> Peers<'_> {
        match self {
            Topology::FullMesh { cells } => Peers::AllExcept {
                cells: *cells,
                me: cell,
            },
            Topology::Lists {
                offsets,
                neighbours,
            } => {
                let start = offsets[cell.as_usize()] as usize;
                let end = offsets[cell.as_usize() + 1] as usize;
                Peers::List(&neighbours[start..end])
            }
        }
    }

    /// Directed links with a dense slot (both directions of every edge).
    pub fn link_slot_count(&self) -> usize {
        match self {
            Topology::FullMesh { .. } => 0,
            Topology::Lists { neighbours, .. } => neighbours.len(),
        }
    }

    /// The dense slot of `from → to` when `to` is a neighbour of `from`: its
    /// position in the flat neighbour list, so per-link state can live in
    /// arrays parallel to it. Slots are ordered by `(from, to)`.
    #[inline]
    pub fn link_slot(&self, from: CellIndex, to: CellIndex) -> LinkSlot {
        match self {
            Topology::FullMesh { .. } => LinkSlot::NONE,
            Topology::Lists {
                offsets,
                neighbours,
            } => {
                let start = offsets[from.as_usize()] as usize;
                let end = offsets[from.as_usize() + 1] as usize;
                match neighbours[start..end].binary_search(&to) {
                    Ok(position) => LinkSlot((start + position) as u32),
                    Err(_) => LinkSlot::NONE,
                }
            }
        }
    }

    /// `(from, to)` of every dense slot, in slot order.
    pub fn link_slot_keys(&self) -> Vec<(CellIndex, CellIndex)> {
        match self {
            Topology::FullMesh { .. } => Vec::new(),
            Topology::Lists {
                offsets,
                neighbours,
            } => (0..offsets.len() - 1)
                .flat_map(|from| {
                    neighbours[offsets[from] as usize..offsets[from + 1] as usize]
                        .iter()
                        .map(move |&to| (CellIndex(from as u32), to))
                })
                .collect(),
        }
    }

    /// Undirected edges.
    pub fn edge_count(&self) -> u64 {
        match self {
            Topology::FullMesh { cells } => {
                u64::from(*cells) * u64::from(cells.saturating_sub(1)) / 2
            }
            Topology::Lists { neighbours, .. } => neighbours.len() as u64 / 2,
        }
    }
}

fn empty_graph(cells: u32) -> Graph {
    let mut graph = Graph::with_capacity_and_hasher(cells as usize, 0, Hasher::default());
    for cell in 0..cells {
        graph.add_node(cell);
    }
    graph
}

fn freeze(graph: &Graph, cells: u32) -> Topology {
    let mut offsets = Vec::with_capacity(cells as usize + 1);
    let mut neighbours = Vec::with_capacity(graph.edge_count() * 2);
    offsets.push(0);
    for cell in 0..cells {
        let start = neighbours.len();
        neighbours.extend(graph.neighbors(cell).map(CellIndex));
        neighbours[start..].sort_unstable();
        offsets.push(u32::try_from(neighbours.len()).expect("fewer than 2^32 neighbour entries"));
    }
    Topology::Lists {
        offsets,
        neighbours,
    }
}

/// Random pairing of `degree` stubs per cell (Steger–Wormald): pick two random
/// stubs, join them unless that makes a loop or a double edge; when no valid
/// pair is left, start again.
fn random_regular(cells: u32, degree: u32, rng: &mut DetRng) -> Result<Graph, ConfigError> {
    'attempt: for _ in 0..REGULAR_ATTEMPTS_MAX {
        let mut graph = empty_graph(cells);
        let mut stubs: Vec<u32> = (0..cells)
            .flat_map(|cell| std::iter::repeat_n(cell, degree as usize))
            .collect();
        while stubs.len() >= 2 {
            let mut chosen = None;
            for _ in 0..PAIRING_TRIES_MAX {
                let first = rng::index(rng, stubs.len());
                let second = rng::index(rng, stubs.len());
                let (a, b) = (stubs[first], stubs[second]);
                if a != b && !graph.contains_edge(a, b) {
                    chosen = Some((first, second));
                    break;
                }
            }
            if chosen.is_none() {
                chosen = (0..stubs.len())
                    .flat_map(|first| (first + 1..stubs.len()).map(move |second| (first, second)))
                    .find(|&(first, second)| {
                        stubs[first] != stubs[second]
                            && !graph.contains_edge(stubs[first], stubs[second])
                    });
            }
            let Some((first, second)) = chosen else {
                continue 'attempt;
            };
            graph.add_edge(stubs[first], stubs[second], ());
            let (high, low) = (first.max(second), first.min(second));
            stubs.swap_remove(high);
            stubs.swap_remove(low);
        }
        return Ok(graph);
    }
    Err(ConfigError::Topology(format!(
        "no {degree}-regular graph on {cells} cells after {REGULAR_ATTEMPTS_MAX} attempts"
    )))
}

/// Watts–Strogatz: ring lattice, then each lattice edge `(i, i + j)` rewired to
/// `(i, random)` with probability `rewire`.
fn small_world(
    cells: u32,
    degree: u32,
    rewire: celluler_core::rng::Probability,
    rng: &mut DetRng,
) -> Graph {
    let mut graph = empty_graph(cells);
    let half = degree / 2;
    for cell in 0..cells {
        for step in 1..=half {
            graph.add_edge(cell, (cell + step) % cells, ());
        }
    }
    for step in 1..=half {
        for cell in 0..cells {
            let old = (cell + step) % cells;
            if !rewire.sample(rng) || !graph.contains_edge(cell, old) {
                continue;
            }
            // A cell adjacent to everyone cannot be rewired; bounded tries.
            for _ in 0..cells {
                let new = rng::below(rng, u64::from(cells)) as u32;
                if new != cell && !graph.contains_edge(cell, new) {
                    graph.remove_edge(cell, old);
                    graph.add_edge(cell, new, ());
                    break;
                }
            }
        }
    }
    graph
}

/// Barabási–Albert preferential attachment, seeded with a clique of
/// `edges_per_new_cell + 1` cells.
fn scale_free(cells: u32, edges_per_new_cell: u32, rng: &mut DetRng) -> Graph {
    let mut graph = empty_graph(cells);
    let seed_cells = edges_per_new_cell + 1;
    // Every edge endpoint once: a uniform pick is a degree-proportional pick.
    let mut endpoints: Vec<u32> = Vec::new();
    for a in 0..seed_cells {
        for b in a + 1..seed_cells {
            graph.add_edge(a, b, ());
            endpoints.extend([a, b]);
        }
    }
    let mut targets: Vec<u32> = Vec::with_capacity(edges_per_new_cell as usize);
    for cell in seed_cells..cells {
        targets.clear();
        while targets.len() < edges_per_new_cell as usize {
            let target = endpoints[rng::index(rng, endpoints.len())];
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        for &target in &targets {
            graph.add_edge(cell, target, ());
            endpoints.extend([cell, target]);
        }
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;
    use celluler_core::rng::Probability;

    fn degrees(topology: &Topology) -> Vec<usize> {
        (0..topology.cells())
            .map(|c| topology.peers(CellIndex(c)).len())
            .collect()
    }

    fn assert_symmetric_simple(topology: &Topology) {
        for cell in 0..topology.cells() {
            let peers = topology.peers(CellIndex(cell));
            let list: Vec<_> = peers.iter().collect();
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "ascending, no duplicates"
            );
            for peer in list {
                assert_ne!(peer, CellIndex(cell));
                assert!(topology.peers(peer).contains(CellIndex(cell)));
            }
        }
    }

    #[test]
    fn full_mesh_is_a_rule() {
        let topology = Topology::build(&TopologySpec::FullMesh, 10_000, 1).unwrap();
        assert_eq!(topology.peers(CellIndex(5)).len(), 9_999);
        assert_eq!(topology.edge_count(), 10_000 * 9_999 / 2);
        assert!(std::mem::size_of_val(&topology) < 64);
    }

    #[test]
    fn random_regular_is_regular() {
        let topology =
            Topology::build(&TopologySpec::RandomRegular { degree: 8 }, 2_000, 3).unwrap();
        assert!(degrees(&topology).iter().all(|&d| d == 8));
        assert_symmetric_simple(&topology);
        let other = Topology::build(&TopologySpec::RandomRegular { degree: 8 }, 2_000, 4).unwrap();
        assert_ne!(
            topology.peers(CellIndex(0)).iter().collect::<Vec<_>>(),
            other.peers(CellIndex(0)).iter().collect::<Vec<_>>()
        );
        // Tight case: degree = cells - 1 is the complete graph.
        let complete = Topology::build(&TopologySpec::RandomRegular { degree: 5 }, 6, 3).unwrap();
        assert!(degrees(&complete).iter().all(|&d| d == 5));
    }

    #[test]
    fn small_world_keeps_edge_count_and_rewires() {
        let ring = Topology::build(
            &TopologySpec::SmallWorld {
                degree: 4,
                rewire: Probability::NEVER,
            },
            100,
            1,
        )
        .unwrap();
        assert!(degrees(&ring).iter().all(|&d| d == 4));
        let peers: Vec<u32> = ring.peers(CellIndex(0)).iter().map(|c| c.0).collect();
        assert_eq!(peers, [1, 2, 98, 99]);
        let rewired = Topology::build(
            &TopologySpec::SmallWorld {
                degree: 4,
                rewire: Probability::from_f64(0.3).unwrap(),
            },
            100,
            1,
        )
        .unwrap();
        assert_eq!(rewired.edge_count(), 200);
        assert_symmetric_simple(&rewired);
        assert!(degrees(&rewired).iter().any(|&d| d != 4));
    }

    #[test]
    fn scale_free_has_hubs() {
        let topology = Topology::build(
            &TopologySpec::ScaleFree {
                edges_per_new_cell: 2,
            },
            2_000,
            7,
        )
        .unwrap();
        assert_eq!(topology.edge_count(), 1 + 2 * (2_000 - 3) as u64 + 2);
        assert_symmetric_simple(&topology);
        let degrees = degrees(&topology);
        assert!(degrees.iter().all(|&d| d >= 2));
        assert!(
            *degrees.iter().max().unwrap() > 40,
            "preferential attachment makes hubs"
        );
    }

    #[test]
    fn edge_list_merges_duplicates() {
        let edges = vec![
            (CellIndex(0), CellIndex(1)),
            (CellIndex(1), CellIndex(0)),
            (CellIndex(2), CellIndex(1)),
        ];
        let topology = Topology::build(&TopologySpec::EdgeList(edges), 4, 0).unwrap();
        assert_eq!(degrees(&topology), [1, 2, 1, 0]);
    }
}
