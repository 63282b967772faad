//! What happens to a message between send and arrival: cuts, loss, latency
//! (per message, so jitter reorders), bandwidth with per-link serialization and
//! a FIFO transmit queue, an optional queue limit, and duplication.
//!
//! Each sender draws from its own stream `(seed, "network", sender)` (kept
//! by the engine next to the sender's other state, for locality), in a fixed
//! order per message: loss, latency, duplicate, duplicate latency.

use celluler_core::node::CellIndex;
use celluler_core::rng::DetRng;
use celluler_core::time::{NS_PER_S, TimeNs};

use crate::config::{LinkModel, RegionMatrix};
use crate::faults::FaultState;
use crate::metrics::DropReason;
use crate::topology::LinkSlot;

/// One message handed to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmission {
    pub from: CellIndex,
    pub to: CellIndex,
    /// The slot of `from → to` (`LinkSlot::NONE` outside the topology).
    pub slot: LinkSlot,
    pub wire_bytes: u32,
    pub send_ns: TimeNs,
}

/// The network's verdict on one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Dropped(DropReason),
    Deliver {
        arrival_ns: TimeNs,
        /// A second copy, with its own latency.
        duplicate_arrival_ns: Option<TimeNs>,
    },
}

pub struct Network {
    cells: u32,
    link: LinkModel,
    regions: Option<RegionMatrix>,
    /// With a bandwidth: when each topology link's transmitter is free, by
    /// dense slot...
    dense_free_ns: Vec<TimeNs>,
    /// ...and for other links, per sender `(to, free at)` sorted by `to`.
    transmit_free_ns: Vec<Vec<(CellIndex, TimeNs)>>,
}

impl Network {
    pub fn new(
        cells: u32,
        link_slots: usize,
        link: LinkModel,
        regions: Option<RegionMatrix>,
    ) -> Network {
        let bandwidth = link.bandwidth_bytes_per_s.is_some();
        Network {
            dense_free_ns: if bandwidth {
                vec![0; link_slots]
            } else {
                Vec::new()
            },
            cells,
            transmit_free_ns: if link.bandwidth_bytes_per_s.is_some() {
                vec![Vec::new(); cells as usize]
            } else {
                Vec::new()
            },
            link,
            regions,
        }
    }

    fn latency(&self, rng: &mut DetRng, from: CellIndex, to: CellIndex) -> TimeNs {
        match &self.regions {
            Some(regions) => regions.model(from, to).sample(rng),
            None => self.link.latency.sample(rng),
        }
    }

    /// Decides the fate of a message of `wire_bytes` sent at `send_ns`.
    pub fn route(
        &mut self,
        rng: &mut DetRng,
        faults: &FaultState,
        transmission: Transmission,
    ) -> Route {
        let Transmission {
            from,
            to,
            slot,
            wire_bytes,
            send_ns,
        } = transmission;
        if to.0 >= self.cells {
            return Route::Dropped(DropReason::UnknownCell);
        }
        if faults.separated(from, to) {
            return Route::Dropped(DropReason::Partition);
        }
        let link_fault = faults.link(from, to);
        if link_fault.cut {
            return Route::Dropped(DropReason::LinkCut);
        }
        if link_fault.loss.unwrap_or(self.link.loss).sample(rng) {
            return Route::Dropped(DropReason::Loss);
        }
        // A faulted link draws its extra delay from the same stream, and only
        // while the fault lasts, so other runs' streams are not shifted.
        let extra_ns = |rng: &mut DetRng| link_fault.extra.map_or(0, |extra| extra.sample(rng));
        let latency_ns = self.latency(rng, from, to).saturating_add(extra_ns(rng));
        let departure_ns = match self.link.bandwidth_bytes_per_s {
            None => send_ns,
            Some(bandwidth) => {
                match self.transmit(from, to, slot, wire_bytes, send_ns, bandwidth) {
                    Some(departure_ns) => departure_ns,
                    None => return Route::Dropped(DropReason::QueueOverflow),
                }
            }
        };
        let duplicate_arrival_ns = if self.link.duplicate.sample(rng) {
            Some(
                departure_ns
                    .saturating_add(self.latency(rng, from, to).saturating_add(extra_ns(rng))),
            )
        } else {
            None
        };
        Route::Deliver {
            arrival_ns: departure_ns.saturating_add(latency_ns),
            duplicate_arrival_ns,
        }
    }

    /// Queues a message on the link's transmitter; returns when its last byte
    /// leaves, or `None` if the queue limit would be exceeded. The bytes still
    /// waiting are what the transmitter has yet to send at its rate.
    fn transmit(
        &mut self,
        from: CellIndex,
        to: CellIndex,
        slot: LinkSlot,
        wire_bytes: u32,
        send_ns: TimeNs,
        bandwidth_bytes_per_s: u64,
    ) -> Option<TimeNs> {
        let free_ns = match slot.dense() {
            Some(slot) => &mut self.dense_free_ns[slot],
            None => {
                let links = &mut self.transmit_free_ns[from.as_usize()];
                let position = match links.binary_search_by_key(&to, |&(to, _)| to) {
                    Ok(position) => position,
                    Err(position) => {
                        links.insert(position, (to, 0));
                        position
                    }
                };
                &mut links[position].1
            }
        };
        let backlog_ns = free_ns.saturating_sub(send_ns);
        if let Some(limit_bytes) = self.link.queue_limit_bytes {
            let backlog_bytes = (u128::from(backlog_ns) * u128::from(bandwidth_bytes_per_s))
                .div_ceil(u128::from(NS_PER_S));
            if backlog_bytes + u128::from(wire_bytes) > u128::from(limit_bytes) {
                return None;
            }
        }
        let serialization_ns = (u128::from(wire_bytes) * u128::from(NS_PER_S))
            .div_ceil(u128::from(bandwidth_bytes_per_s));
        let serialization_ns = u64::try_from(serialization_ns).unwrap_or(u64::MAX);
        *free_ns = send_ns.max(*free_ns).saturating_add(serialization_ns);
        Some(*free_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LatencyModel;
    use celluler_core::rng::{self, Probability};

    /// A transmission on no dense slot.
    fn send(from: CellIndex, to: CellIndex, wire_bytes: u32, send_ns: u64) -> Transmission {
        Transmission {
            from,
            to,
            slot: LinkSlot::NONE,
            wire_bytes,
            send_ns,
        }
    }

    fn link() -> LinkModel {
        LinkModel {
            latency: LatencyModel::Constant { latency_ns: 1_000 },
            ..LinkModel::default()
        }
    }

    #[test]
    fn bandwidth_serializes_and_queues_in_order() {
        let model = LinkModel {
            bandwidth_bytes_per_s: Some(1_000_000), // 1 µs per byte
            queue_limit_bytes: Some(2_500),
            ..link()
        };
        let mut network = Network::new(3, 0, model, None);
        let faults = FaultState::default();
        let mut rng = rng::stream(1, "network", 0);
        let (a, b) = (CellIndex(0), CellIndex(1));
        let arrival = |route| match route {
            Route::Deliver { arrival_ns, .. } => arrival_ns,
            Route::Dropped(reason) => panic!("dropped: {reason:?}"),
        };
        assert_eq!(
            arrival(network.route(&mut rng, &faults, send(a, b, 1_000, 0))),
            1_000_000 + 1_000
        );
        assert_eq!(
            arrival(network.route(&mut rng, &faults, send(a, b, 1_000, 0))),
            2_000_000 + 1_000
        );
        // 2,000 bytes waiting: 1,000 more would exceed 2,500.
        assert_eq!(
            network.route(&mut rng, &faults, send(a, b, 1_000, 0)),
            Route::Dropped(DropReason::QueueOverflow)
        );
        assert_eq!(
            arrival(network.route(&mut rng, &faults, send(a, b, 500, 0))),
            2_500_000 + 1_000
        );
        // Another link has its own transmitter.
        assert_eq!(
            arrival(network.route(&mut rng, &faults, send(a, CellIndex(2), 1_000, 0))),
            1_001_000
        );
        // Once drained, the queue accepts again.
        assert_eq!(
            arrival(network.route(&mut rng, &faults, send(a, b, 1_000, 5_000_000))),
            6_001_000
        );
    }

    #[test]
    fn cuts_slowdowns_and_partitions_are_directional_where_configured() {
        let mut network = Network::new(3, 0, link(), None);
        let mut faults = FaultState::default();
        let mut rng = rng::stream(1, "network", 0);
        let (a, b, c) = (CellIndex(0), CellIndex(1), CellIndex(2));
        faults.cut(a, b);
        faults.slow(b, a, LatencyModel::Constant { latency_ns: 5_000 });
        assert_eq!(
            network.route(&mut rng, &faults, send(a, b, 1, 0)),
            Route::Dropped(DropReason::LinkCut)
        );
        assert_eq!(
            network.route(&mut rng, &faults, send(b, a, 1, 0)),
            Route::Deliver {
                arrival_ns: 6_000,
                duplicate_arrival_ns: None
            }
        );
        faults.restore(a, b);
        faults.partition(3, &[vec![a, b]]);
        assert!(matches!(
            network.route(&mut rng, &faults, send(a, b, 1, 0)),
            Route::Deliver { .. }
        ));
        assert_eq!(
            network.route(&mut rng, &faults, send(c, a, 1, 0)),
            Route::Dropped(DropReason::Partition)
        );
        assert_eq!(
            network.route(&mut rng, &faults, send(a, CellIndex(7), 1, 0)),
            Route::Dropped(DropReason::UnknownCell)
        );
    }

    #[test]
    fn a_lossy_link_replaces_the_network_loss_in_one_direction() {
        let mut network = Network::new(2, 0, link(), None);
        let mut faults = FaultState::default();
        let mut rng = rng::stream(2, "network", 0);
        let (a, b) = (CellIndex(0), CellIndex(1));
        faults.lossy(a, b, Probability::from_f64(0.5).unwrap());
        let send = |network: &mut Network, rng: &mut DetRng, from, to| {
            let transmission = Transmission {
                from,
                to,
                slot: LinkSlot::NONE,
                wire_bytes: 1,
                send_ns: 0,
            };
            matches!(
                network.route(rng, &faults, transmission),
                Route::Dropped(DropReason::Loss)
            )
        };
        let lost_forward = (0..4_000)
            .filter(|_| send(&mut network, &mut rng, a, b))
            .count();
        let lost_back = (0..4_000)
            .filter(|_| send(&mut network, &mut rng, b, a))
            .count();
        assert!((1_800..2_200).contains(&lost_forward), "{lost_forward}");
        assert_eq!(
            lost_back, 0,
            "the reverse direction keeps the network's loss (0)"
        );
    }

    #[test]
    fn duplicates_get_their_own_latency() {
        let model = LinkModel {
            latency: LatencyModel::Uniform {
                min_ns: 0,
                max_ns: 1_000_000,
            },
            duplicate: Probability::ALWAYS,
            ..LinkModel::default()
        };
        let mut network = Network::new(2, 0, model, None);
        let faults = FaultState::default();
        let mut rng = rng::stream(1, "network", 0);
        let Route::Deliver {
            arrival_ns,
            duplicate_arrival_ns: Some(duplicate),
        } = network.route(&mut rng, &faults, send(CellIndex(0), CellIndex(1), 10, 0))
        else {
            panic!("always duplicated");
        };
        assert_ne!(arrival_ns, duplicate);
    }
}
