//! Workload clients: accounts that are not consensus members. Each signs its
//! own transfers ([`Client`], sequential nonces) and submits them through an
//! entry cell (`CellCommand::Relay`). A client keeps one TX outstanding
//! (its nonces must be applied in order) and queues the rest; when its TX is
//! not ordered `retry_after` after a submission, it submits the same signed
//! TX through the next entry cell — what gets a TX past a censoring entry.
//!
//! A client learns that its TX was ordered when some honest cell reports
//! it ordered (as if it asked one). It acts only at exact virtual times (its
//! arrivals and its retry deadlines, [`ClientPool::next_wakeup`]), so a run
//! is the same however the world's caller steps time.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use celluler_core::cell::client::Client;
use celluler_core::cell::{CellCommand, CellObservation};
use celluler_core::identity::{CellId, CellKeys};
use celluler_core::node::CellIndex;
use celluler_core::rng::{self, DetRng};
use celluler_core::time::TimeNs;

use crate::Observed;

/// One transfer a client wants to make, from the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientArrival {
    pub at_ns: TimeNs,
    pub client: u32,
    pub to: CellIndex,
    pub amount: u64,
    pub fee: u64,
}

/// The keys of client `index` of a world seeded `seed`.
pub fn client_keys(seed: u64, index: u32) -> CellKeys {
    CellKeys::from_seed(rng::derive_seed(seed, "client-identity", u64::from(index)))
}

struct Outstanding {
    tx: [u8; 32],
    encoded: Arc<[u8]>,
    first_submitted_ns: TimeNs,
    /// Position in the entry list of the last entry used.
    entry: usize,
}

struct ClientState {
    client: Client,
    outstanding: Option<Outstanding>,
    queue: VecDeque<ClientArrival>,
}

/// Every client of a world (module docs).
pub struct ClientPool {
    clients: Vec<ClientState>,
    /// Entry cells, ascending.
    entries: Vec<CellIndex>,
    /// Honest cells, ascending: whose `TxOrdered` a client trusts.
    honest: Vec<CellIndex>,
    /// Every member's cell id, by index (transfer targets).
    members: Vec<CellId>,
    retry_after_ns: TimeNs,
    arrivals: VecDeque<ClientArrival>,
    /// Retry deadlines: (time, client).
    checks: BTreeSet<(TimeNs, u32)>,
    /// TXs some honest cell has ordered (lookup only).
    ordered: BTreeSet<[u8; 32]>,
    rng: DetRng,
}

impl ClientPool {
    /// `count` clients of a world seeded `seed`; `arrivals` in time order.
    pub fn new(
        seed: u64,
        count: u32,
        entries: Vec<CellIndex>,
        honest: Vec<CellIndex>,
        members: Vec<CellId>,
        retry_after_ns: TimeNs,
        mut arrivals: Vec<ClientArrival>,
    ) -> ClientPool {
        arrivals.sort_by_key(|arrival| arrival.at_ns);
        ClientPool {
            clients: (0..count)
                .map(|index| ClientState {
                    client: Client::new(client_keys(seed, index)),
                    outstanding: None,
                    queue: VecDeque::new(),
                })
                .collect(),
            entries,
            honest,
            members,
            retry_after_ns: retry_after_ns.max(1),
            arrivals: arrivals.into(),
            checks: BTreeSet::new(),
            ordered: BTreeSet::new(),
            rng: rng::stream(seed, "clients", 0),
        }
    }

    /// Each client's account id (its genesis account).
    pub fn account_ids(seed: u64, count: u32) -> Vec<CellId> {
        (0..count)
            .map(|index| client_keys(seed, index).cell_id())
            .collect()
    }

    /// When a client next acts.
    pub fn next_wakeup(&self) -> Option<TimeNs> {
        let arrival = self.arrivals.front().map(|arrival| arrival.at_ns);
        let check = self.checks.first().map(|&(at, _)| at);
        match (arrival, check) {
            (Some(a), Some(c)) => Some(a.min(c)),
            (a, c) => a.or(c),
        }
    }

    /// What honest cells report: a client learns its TX was ordered.
    pub fn observe(&mut self, observed: &Observed<CellObservation>) {
        if let CellObservation::TxOrdered { tx, .. } = observed.observation
            && self.honest.binary_search(&observed.cell).is_ok()
        {
            self.ordered.insert(tx);
        }
    }

    /// Act at `now`: new transfers and retry deadlines up to `now`. Returns
    /// the commands to hand entry cells at `now`.
    pub fn wake(&mut self, now: TimeNs) -> Vec<(CellIndex, CellCommand)> {
        let mut commands = Vec::new();
        loop {
            let arrival_next = self.arrivals.front().is_some_and(|a| a.at_ns <= now);
            let check_next = self.checks.first().is_some_and(|&(at, _)| at <= now);
            let arrival_first = match (arrival_next, check_next) {
                (false, false) => break,
                (true, false) => true,
                (false, true) => false,
                (true, true) => {
                    self.arrivals.front().map(|a| a.at_ns) <= self.checks.first().map(|&(at, _)| at)
                }
            };
            if arrival_first {
                let arrival = self.arrivals.pop_front().expect("checked");
                let Some(state) = self.clients.get_mut(arrival.client as usize) else {
                    continue;
                };
                state.queue.push_back(arrival);
                if state.outstanding.is_none() {
                    self.submit_next(arrival.client, now, &mut commands);
                }
            } else {
                let (_, client) = self.checks.pop_first().expect("checked");
                self.check(client, now, &mut commands);
            }
        }
        commands
    }

    /// Client `client`'s deadline: done, or try the next entry cell.
    fn check(&mut self, client: u32, now: TimeNs, commands: &mut Vec<(CellIndex, CellCommand)>) {
        let state = &mut self.clients[client as usize];
        let Some(outstanding) = &mut state.outstanding else {
            return;
        };
        if self.ordered.contains(&outstanding.tx) {
            state.outstanding = None;
            self.submit_next(client, now, commands);
            return;
        }
        outstanding.entry = (outstanding.entry + 1) % self.entries.len();
        commands.push((
            self.entries[outstanding.entry],
            CellCommand::Relay {
                client,
                encoded: Arc::clone(&outstanding.encoded),
                first_submitted_ns: outstanding.first_submitted_ns,
            },
        ));
        self.checks.insert((now + self.retry_after_ns, client));
    }

    /// Sign and submit client `client`'s next queued transfer, if any.
    fn submit_next(
        &mut self,
        client: u32,
        now: TimeNs,
        commands: &mut Vec<(CellIndex, CellCommand)>,
    ) {
        if self.entries.is_empty() {
            return;
        }
        let entry = rng::index(&mut self.rng, self.entries.len());
        let state = &mut self.clients[client as usize];
        let Some(arrival) = state.queue.pop_front() else {
            return;
        };
        let Some(&to) = self.members.get(arrival.to.as_usize()) else {
            return;
        };
        let Ok(message) = state
            .client
            .sign_transfer(now, to, arrival.amount, arrival.fee)
        else {
            return;
        };
        let encoded: Arc<[u8]> = message.encode().into();
        let tx = message.hash();
        state.outstanding = Some(Outstanding {
            tx,
            encoded: Arc::clone(&encoded),
            first_submitted_ns: now,
            entry,
        });
        commands.push((
            self.entries[entry],
            CellCommand::Relay {
                client,
                encoded,
                first_submitted_ns: now,
            },
        ));
        self.checks.insert((now + self.retry_after_ns, client));
    }
}

impl crate::scenario::Scenario {
    /// The scenario's workload clients (`None` without `[workload] clients`).
    pub fn client_pool(&self) -> Option<ClientPool> {
        let workload = &self.workload;
        if workload.clients == 0 {
            return None;
        }
        let honest: Vec<CellIndex> = self.honest_cells().into_iter().map(CellIndex).collect();
        let entries: Vec<CellIndex> = match &workload.entry {
            Some(cells) => cells.iter().map(|&cell| CellIndex(cell)).collect(),
            None => honest.clone(),
        };
        let members = (0..self.cells.count)
            .map(|index| CellKeys::for_simulated_cell(self.seed, index).cell_id())
            .collect();
        Some(ClientPool::new(
            self.seed,
            workload.clients,
            entries,
            honest,
            members,
            workload.retry_after_ns,
            crate::workload::client_arrivals(self),
        ))
    }
}
