//! The discrete-event engine: one queue of events ordered by (true virtual
//! time, insertion sequence), a slot per cell holding its node (or, crashed,
//! only its durable state), and the network, faults, metrics and trace that
//! every event passes through.
//!
//! A node sees only `Node::handle(input, ctx)`: `ctx.now` is its local clock,
//! its outputs are applied here. A `ChargeCpu` output moves the emission time
//! of every later output of the same input, and the cell is busy until the
//! total charge has elapsed: inputs arriving meanwhile wait for it.
//!
//! A message the network routes is then judged by the configured
//! [`NetworkAdversary`] (scripted Byzantine control of links; see
//! [`crate::links`]), which may drop it or hold it longer.

use std::cmp::Ordering;

use celluler_core::node::{CellIndex, Context, Input, Node, Output, Payload, TimerId};
use celluler_core::rng::{self, DetRng};
use celluler_core::time::TimeNs;

use crate::config::{ConfigError, Fault, ScheduledFault, SimConfig};
use crate::faults::{FaultState, LocalClock};
use crate::links::{LinkAction, NetworkAdversary};
use crate::metrics::{DropReason, MessageEvent, Metrics};
use crate::network::{Network, Route, Transmission};
use crate::queue::{EventQueue, Keyed};
use crate::topology::{LinkSlot, Topology};
use crate::trace::{InputKind, Trace, TraceMode, TraceRecord};

enum EventKind<M> {
    Start(CellIndex),
    Restart(CellIndex),
    Deliver {
        from: CellIndex,
        to: CellIndex,
        slot: LinkSlot,
        message: M,
    },
    Timer {
        cell: CellIndex,
        timer: TimerId,
        /// The sequence number the timer was set with; a re-set or cancelled
        /// timer leaves a stale event behind, recognised by this.
        generation: u64,
    },
    /// An operator's command; the value waits in `Simulation::commands`.
    Command {
        cell: CellIndex,
        index: usize,
    },
    Fault(usize),
}

impl<M> EventKind<M> {
    fn cell(&self) -> Option<CellIndex> {
        match *self {
            EventKind::Start(cell) | EventKind::Restart(cell) => Some(cell),
            EventKind::Deliver { to, .. } => Some(to),
            EventKind::Timer { cell, .. } | EventKind::Command { cell, .. } => Some(cell),
            EventKind::Fault(_) => None,
        }
    }
}

struct Event<M> {
    time_ns: TimeNs,
    seq: u64,
    kind: EventKind<M>,
}

// The queue pops the greatest: the earliest (time, seq) must compare greatest.
impl<M> Ord for Event<M> {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time_ns, other.seq).cmp(&(self.time_ns, self.seq))
    }
}
impl<M> PartialOrd for Event<M> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<M> PartialEq for Event<M> {
    fn eq(&self, other: &Self) -> bool {
        (self.time_ns, self.seq) == (other.time_ns, other.seq)
    }
}
impl<M> Eq for Event<M> {}
impl<M> Keyed for Event<M> {
    fn time_ns(&self) -> TimeNs {
        self.time_ns
    }
}

enum CellState<N: Node> {
    Running(N),
    Crashed(N::Durable),
    /// Only between taking a node out and putting its successor in.
    Moving,
}

struct PendingTimer {
    timer: TimerId,
    local_deadline_ns: TimeNs,
    generation: u64,
}

struct CellSlot<N: Node> {
    state: CellState<N>,
    /// The network's stream for this sender, `(seed, "network", cell)`.
    network_rng: DetRng,
    clock: LocalClock,
    /// True time until which the cell is processing (CPU model).
    busy_until_ns: TimeNs,
    timers: Vec<PendingTimer>,
    paused: bool,
    /// Inputs that arrived while paused, in arrival order.
    held: Vec<EventKind<N::Message>>,
}

/// An observation with the true time it was emitted at and its cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed<O> {
    pub time_ns: TimeNs,
    pub cell: CellIndex,
    pub observation: O,
}

pub struct Simulation<N: Node> {
    cells: u32,
    now_ns: TimeNs,
    next_seq: u64,
    queue: EventQueue<Event<N::Message>>,
    slots: Vec<CellSlot<N>>,
    topology: Topology,
    network: Network,
    /// Judges every routed message; empty = no effect, one branch per message.
    adversary: NetworkAdversary,
    fault_state: FaultState,
    faults: Vec<ScheduledFault>,
    metrics: Metrics,
    trace: Trace,
    observations: Vec<Observed<N::Observation>>,
    outputs: Vec<Output<N::Message, N::Observation>>,
    /// Scheduled commands by schedule number; taken when handled (or when
    /// their cell is down, which loses them as a real operator's request is).
    commands: Vec<Option<N::Command>>,
}

impl<N: Node> Simulation<N> {
    /// Validates `config`, builds the topology and one node per cell with
    /// `make_node`, and schedules every cell's `Start` at time 0 (in index
    /// order) and the fault timeline.
    pub fn new(
        config: SimConfig,
        mode: TraceMode,
        mut make_node: impl FnMut(CellIndex) -> N,
    ) -> Result<Simulation<N>, ConfigError> {
        config.validate()?;
        let topology = Topology::build(&config.topology, config.cells, config.seed)?;
        let link_slot_count = topology.link_slot_count();
        let link_slot_keys = topology.link_slot_keys();
        let slots = (0..config.cells)
            .map(|cell| CellSlot {
                state: CellState::Running(make_node(CellIndex(cell))),
                network_rng: rng::stream(config.seed, "network", u64::from(cell)),
                clock: LocalClock::default(),
                busy_until_ns: 0,
                timers: Vec::new(),
                paused: false,
                held: Vec::new(),
            })
            .collect();
        let mut simulation = Simulation {
            cells: config.cells,
            now_ns: 0,
            next_seq: 0,
            queue: EventQueue::default(),
            slots,
            topology,
            network: Network::new(config.cells, link_slot_count, config.link, config.regions),
            adversary: config.adversary,
            fault_state: FaultState::default(),
            faults: Vec::new(),
            metrics: Metrics::new(config.cells, link_slot_keys),
            trace: Trace::new(mode),
            observations: Vec::new(),
            outputs: Vec::new(),
            commands: Vec::new(),
        };
        for cell in 0..config.cells {
            simulation.push(0, EventKind::Start(CellIndex(cell)));
        }
        for scheduled in config.faults {
            simulation.schedule_validated_fault(scheduled);
        }
        Ok(simulation)
    }

    /// Adds a fault to the timeline (at `at_ns`, or now if that has passed).
    pub fn schedule_fault(&mut self, scheduled: ScheduledFault) -> Result<(), ConfigError> {
        let mut check = SimConfig::new(0, self.cells);
        check.faults.push(scheduled.clone());
        check.validate()?;
        self.schedule_validated_fault(scheduled);
        Ok(())
    }

    /// Hands `command` to `cell` as `Input::Command` at true time `at_ns`
    /// (or now, if that has passed). A command for a crashed cell is lost.
    pub fn schedule_command(&mut self, at_ns: TimeNs, cell: CellIndex, command: N::Command) {
        assert!(
            cell.0 < self.cells,
            "command for {cell}, which does not exist"
        );
        let index = self.commands.len();
        self.commands.push(Some(command));
        self.push(at_ns.max(self.now_ns), EventKind::Command { cell, index });
    }

    fn schedule_validated_fault(&mut self, scheduled: ScheduledFault) {
        let at_ns = scheduled.at_ns.max(self.now_ns);
        self.faults.push(scheduled);
        self.push(at_ns, EventKind::Fault(self.faults.len() - 1));
    }

    #[inline]
    fn push(&mut self, time_ns: TimeNs, kind: EventKind<N::Message>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Event { time_ns, seq, kind });
        seq
    }

    /// Runs every event up to and including `end_ns`; the clock then reads
    /// `end_ns`. Returns the number of events processed.
    pub fn run_until(&mut self, end_ns: TimeNs) -> u64 {
        let mut processed = 0;
        while let Some(event) = self.queue.pop_until(end_ns) {
            self.process(event);
            processed += 1;
        }
        self.now_ns = self.now_ns.max(end_ns);
        processed
    }

    /// Processes the next event, if any.
    pub fn step(&mut self) -> bool {
        match self.queue.pop() {
            Some(event) => {
                self.process(event);
                true
            }
            None => false,
        }
    }

    fn process(&mut self, event: Event<N::Message>) {
        assert!(
            event.time_ns >= self.now_ns,
            "virtual time never runs backwards"
        );
        self.now_ns = event.time_ns;
        let Some(cell) = event.kind.cell() else {
            let EventKind::Fault(index) = event.kind else {
                unreachable!("only faults have no cell")
            };
            self.apply_fault(index);
            return;
        };
        let slot = &mut self.slots[cell.as_usize()];
        if let CellState::Crashed(_) = slot.state {
            // A crashed cell handles nothing; messages to it are lost.
            if let EventKind::Deliver { from, to, slot, .. } = event.kind {
                self.metrics
                    .record(from, to, slot, MessageEvent::Dropped(DropReason::CellDown));
            }
            if let EventKind::Command { index, .. } = event.kind {
                self.commands[index] = None;
            }
            return;
        }
        if slot.paused {
            slot.held.push(event.kind);
            return;
        }
        if slot.busy_until_ns > self.now_ns {
            let busy_until_ns = slot.busy_until_ns;
            self.push(busy_until_ns, event.kind);
            return;
        }
        self.handle(cell, event.kind);
    }

    fn handle(&mut self, cell: CellIndex, kind: EventKind<N::Message>) {
        let now_ns = self.now_ns;
        let (input, record) = match kind {
            EventKind::Start(_) => (
                Input::Start,
                trace_record(now_ns, cell, InputKind::Start, 0, 0),
            ),
            EventKind::Restart(_) => (
                Input::Restart,
                trace_record(now_ns, cell, InputKind::Restart, 0, 0),
            ),
            EventKind::Deliver {
                from,
                to,
                slot,
                message,
            } => {
                if self.fault_state.separated(from, to) {
                    self.metrics.record(
                        from,
                        to,
                        slot,
                        MessageEvent::Dropped(DropReason::Partition),
                    );
                    return;
                }
                if self.fault_state.link(from, to).cut {
                    self.metrics
                        .record(from, to, slot, MessageEvent::Dropped(DropReason::LinkCut));
                    return;
                }
                let reverse_slot = self.topology.link_slot(to, from);
                self.metrics.delivered(from, to, reverse_slot);
                let record =
                    trace_record(now_ns, cell, InputKind::Deliver, from.0, message.digest());
                (Input::Deliver { from, message }, record)
            }
            EventKind::Timer {
                timer, generation, ..
            } => {
                let timers = &mut self.slots[cell.as_usize()].timers;
                let Some(position) = timers
                    .iter()
                    .position(|pending| pending.timer == timer && pending.generation == generation)
                else {
                    return; // re-set or cancelled since
                };
                timers.swap_remove(position);
                self.metrics.timer_fired(cell);
                (
                    Input::Timer(timer),
                    trace_record(now_ns, cell, InputKind::Timer, 0, timer.0),
                )
            }
            EventKind::Command { index, .. } => {
                let command = self.commands[index]
                    .take()
                    .expect("each command is handled once");
                (
                    Input::Command(command),
                    trace_record(now_ns, cell, InputKind::Command, 0, index as u64),
                )
            }
            EventKind::Fault(_) => unreachable!("faults are applied, not handled"),
        };
        self.trace.record(record);

        let mut outputs = std::mem::take(&mut self.outputs);
        let slot = &mut self.slots[cell.as_usize()];
        let CellState::Running(node) = &mut slot.state else {
            unreachable!("only running cells handle inputs")
        };
        let mut ctx = Context {
            now: slot.clock.local(now_ns),
            me: cell,
            peers: self.topology.peers(cell),
            outputs: &mut outputs,
        };
        node.handle(input, &mut ctx);

        let mut emit_ns = now_ns;
        for output in outputs.drain(..) {
            match output {
                Output::ChargeCpu { ns } => emit_ns = emit_ns.saturating_add(ns),
                Output::Send { to, message } => self.send(cell, to, message, emit_ns),
                Output::Broadcast { message } => {
                    let count = self.topology.peers(cell).len();
                    for position in 0..count {
                        let to = self.topology.peers(cell).get(position).expect("in range");
                        self.send(cell, to, message.clone(), emit_ns);
                    }
                }
                Output::SetTimer { timer, after_ns } => {
                    self.set_timer(cell, timer, after_ns, emit_ns)
                }
                Output::CancelTimer { timer } => {
                    self.slots[cell.as_usize()]
                        .timers
                        .retain(|pending| pending.timer != timer);
                }
                Output::Observe(observation) => self.observations.push(Observed {
                    time_ns: emit_ns,
                    cell,
                    observation,
                }),
            }
        }
        self.outputs = outputs;
        let slot = &mut self.slots[cell.as_usize()];
        slot.busy_until_ns = slot.busy_until_ns.max(emit_ns);
    }

    fn send(&mut self, from: CellIndex, to: CellIndex, message: N::Message, send_ns: TimeNs) {
        let slot = if to.0 < self.cells {
            self.topology.link_slot(from, to)
        } else {
            LinkSlot::NONE
        };
        if to.0 < self.cells {
            self.metrics.record(from, to, slot, MessageEvent::Sent);
        }
        match self.network.route(
            &mut self.slots[from.as_usize()].network_rng,
            &self.fault_state,
            Transmission {
                from,
                to,
                slot,
                wire_bytes: message.wire_bytes(),
                send_ns,
            },
        ) {
            Route::Dropped(DropReason::UnknownCell) => {
                // No link to count it on; the sender's counters still show it.
                self.metrics.record(
                    from,
                    from,
                    LinkSlot::NONE,
                    MessageEvent::Dropped(DropReason::UnknownCell),
                );
            }
            Route::Dropped(reason) => {
                self.metrics
                    .record(from, to, slot, MessageEvent::Dropped(reason))
            }
            Route::Deliver {
                mut arrival_ns,
                mut duplicate_arrival_ns,
            } => {
                // The adversary sits after the sender's transmitter: what the
                // network delivers, it may still drop or hold (module doc of
                // `links`). It draws nothing, so routing is unchanged.
                if !self.adversary.is_empty() {
                    match self.adversary.judge(from, to, send_ns) {
                        None => {}
                        Some((_, LinkAction::Drop)) => {
                            // The message and any network copy of it: one drop.
                            self.metrics.record(
                                from,
                                to,
                                slot,
                                MessageEvent::Dropped(DropReason::Adversary),
                            );
                            return;
                        }
                        Some((_, LinkAction::Delay { extra_ns })) => {
                            self.metrics
                                .record(from, to, slot, MessageEvent::AdversaryDelayed);
                            arrival_ns = arrival_ns.saturating_add(extra_ns);
                            duplicate_arrival_ns =
                                duplicate_arrival_ns.map(|ns| ns.saturating_add(extra_ns));
                        }
                    }
                }
                if let Some(duplicate_ns) = duplicate_arrival_ns {
                    self.metrics
                        .record(from, to, slot, MessageEvent::Duplicated);
                    let copy = message.clone();
                    self.push(
                        duplicate_ns,
                        EventKind::Deliver {
                            from,
                            to,
                            slot,
                            message: copy,
                        },
                    );
                }
                self.push(
                    arrival_ns,
                    EventKind::Deliver {
                        from,
                        to,
                        slot,
                        message,
                    },
                );
            }
        }
    }

    fn set_timer(&mut self, cell: CellIndex, timer: TimerId, after_ns: TimeNs, emit_ns: TimeNs) {
        let slot = &mut self.slots[cell.as_usize()];
        let local_deadline_ns = slot.clock.local(emit_ns).saturating_add(after_ns);
        let fire_ns = slot.clock.true_time_of(local_deadline_ns).max(emit_ns);
        slot.timers.retain(|pending| pending.timer != timer);
        let generation = self.next_seq;
        self.slots[cell.as_usize()].timers.push(PendingTimer {
            timer,
            local_deadline_ns,
            generation,
        });
        let seq = self.push(
            fire_ns,
            EventKind::Timer {
                cell,
                timer,
                generation,
            },
        );
        assert_eq!(seq, generation);
    }

    /// After a clock change, every pending timer fires when the new local
    /// clock reaches its local deadline.
    fn reschedule_timers(&mut self, cell: CellIndex) {
        let slot = &mut self.slots[cell.as_usize()];
        let mut pending: Vec<(TimerId, TimeNs)> = slot
            .timers
            .drain(..)
            .map(|timer| (timer.timer, timer.local_deadline_ns))
            .collect();
        pending.sort_unstable();
        for (timer, local_deadline_ns) in pending {
            let slot = &mut self.slots[cell.as_usize()];
            let fire_ns = slot.clock.true_time_of(local_deadline_ns).max(self.now_ns);
            let generation = self.next_seq;
            slot.timers.push(PendingTimer {
                timer,
                local_deadline_ns,
                generation,
            });
            self.push(
                fire_ns,
                EventKind::Timer {
                    cell,
                    timer,
                    generation,
                },
            );
        }
    }

    fn apply_fault(&mut self, index: usize) {
        let now_ns = self.now_ns;
        let fault = self.faults[index].fault.clone();
        match &fault {
            Fault::Partition { groups } => {
                self.fault_state.partition(self.cells, groups);
                self.metrics.fault_applied(&[]);
            }
            Fault::Heal => {
                self.fault_state.heal();
                self.metrics.fault_applied(&[]);
            }
            Fault::CutLink { from, to } => {
                self.fault_state.cut(*from, *to);
                self.metrics.fault_applied(&[*from, *to]);
            }
            Fault::LossyLink { from, to, loss } => {
                self.fault_state.lossy(*from, *to, *loss);
            }
            Fault::SlowLink { from, to, extra } => {
                self.fault_state.slow(*from, *to, *extra);
                self.metrics.fault_applied(&[*from, *to]);
            }
            Fault::RestoreLink { from, to } => {
                self.fault_state.restore(*from, *to);
                self.metrics.fault_applied(&[*from, *to]);
            }
            Fault::Crash { cell } => {
                let slot = &mut self.slots[cell.as_usize()];
                match std::mem::replace(&mut slot.state, CellState::Moving) {
                    CellState::Running(node) => {
                        slot.state = CellState::Crashed(node.crash());
                        slot.timers.clear();
                        slot.paused = false;
                        slot.busy_until_ns = now_ns;
                        let held = std::mem::take(&mut slot.held);
                        for kind in held {
                            if let EventKind::Deliver { from, to, slot, .. } = kind {
                                self.metrics.record(
                                    from,
                                    to,
                                    slot,
                                    MessageEvent::Dropped(DropReason::CellDown),
                                );
                            }
                        }
                    }
                    other => slot.state = other, // already crashed
                }
                self.metrics.fault_applied(&[*cell]);
            }
            Fault::Restart { cell } => {
                let slot = &mut self.slots[cell.as_usize()];
                match std::mem::replace(&mut slot.state, CellState::Moving) {
                    CellState::Crashed(durable) => {
                        slot.state = CellState::Running(N::recover(durable));
                        self.push(now_ns, EventKind::Restart(*cell));
                    }
                    other => slot.state = other, // restarting a running cell changes nothing
                }
                self.metrics.fault_applied(&[*cell]);
            }
            Fault::Pause { cell } => {
                self.slots[cell.as_usize()].paused = true;
                self.metrics.fault_applied(&[*cell]);
            }
            Fault::Resume { cell } => {
                let slot = &mut self.slots[cell.as_usize()];
                slot.paused = false;
                let held = std::mem::take(&mut slot.held);
                for kind in held {
                    self.push(now_ns, kind);
                }
                self.metrics.fault_applied(&[*cell]);
            }
            Fault::ClockSkew { cell, offset_ns } => {
                self.slots[cell.as_usize()].clock.skew(now_ns, *offset_ns);
                self.reschedule_timers(*cell);
                self.metrics.fault_applied(&[*cell]);
            }
            Fault::ClockDrift { cell, drift_ppm } => {
                self.slots[cell.as_usize()]
                    .clock
                    .set_drift(now_ns, *drift_ppm);
                self.reschedule_timers(*cell);
                self.metrics.fault_applied(&[*cell]);
            }
        }
    }

    /// Bytes of the engine's dense per-cell slot (node included), for memory
    /// accounting.
    pub fn cell_slot_bytes() -> usize {
        std::mem::size_of::<CellSlot<N>>()
    }

    /// True virtual time.
    pub fn now_ns(&self) -> TimeNs {
        self.now_ns
    }

    pub fn cells(&self) -> u32 {
        self.cells
    }

    /// A cell's local clock reading now.
    pub fn local_time_ns(&self, cell: CellIndex) -> TimeNs {
        self.slots[cell.as_usize()].clock.local(self.now_ns)
    }

    /// The node, unless the cell is crashed.
    pub fn node(&self, cell: CellIndex) -> Option<&N> {
        match &self.slots.get(cell.as_usize())?.state {
            CellState::Running(node) => Some(node),
            _ => None,
        }
    }

    /// The durable state of a crashed cell.
    pub fn durable(&self, cell: CellIndex) -> Option<&N::Durable> {
        match &self.slots.get(cell.as_usize())?.state {
            CellState::Crashed(durable) => Some(durable),
            _ => None,
        }
    }

    /// The network adversary the run was configured with.
    pub fn adversary(&self) -> &NetworkAdversary {
        &self.adversary
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn observations(&self) -> &[Observed<N::Observation>] {
        &self.observations
    }

    /// Removes and returns the observations collected so far.
    pub fn take_observations(&mut self) -> Vec<Observed<N::Observation>> {
        std::mem::take(&mut self.observations)
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Events waiting in the queue.
    pub fn pending_events(&self) -> usize {
        self.queue.len()
    }
}

fn trace_record(
    time_ns: TimeNs,
    cell: CellIndex,
    kind: InputKind,
    from: u32,
    detail: u64,
) -> TraceRecord {
    TraceRecord {
        time_ns,
        cell: cell.0,
        kind,
        from,
        detail,
    }
}
