//! Engine behaviour at its boundary: a scripted probe node, a configuration,
//! and assertions on what the probe observed and what the engine counted.

use celluler_core::node::{CellIndex, Context, Input, Node, Payload, TimerId};
use celluler_core::rng::Probability;
use celluler_core::time::{NS_PER_MS, TimeNs};
use celluler_sim::gossip::{GossipConfig, GossipNode};
use celluler_sim::metrics::DropReason;
use celluler_sim::trace::{self, InputKind};
use celluler_sim::{
    Fault, LatencyModel, LinkModel, ScheduledFault, SimConfig, Simulation, TraceMode,
};

const TICK: TimerId = TimerId(7);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Value(u64);

impl Payload for Value {
    fn wire_bytes(&self) -> u32 {
        8
    }
    fn digest(&self) -> u64 {
        self.0
    }
}

#[derive(Debug, Clone, Default)]
struct Script {
    /// Broadcast a fresh value every `tick_ns` (and set the first tick at start).
    tick_ns: Option<TimeNs>,
    /// Charged at start, before `start_sends`.
    start_cpu_ns: TimeNs,
    start_sends: Vec<(CellIndex, u64)>,
    /// Charged per delivery.
    deliver_cpu_ns: TimeNs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Started {
        local_ns: TimeNs,
        restarted: bool,
        log_len: usize,
    },
    Delivered {
        local_ns: TimeNs,
        from: CellIndex,
        value: u64,
        handled: u64,
    },
    Tick {
        local_ns: TimeNs,
    },
    Commanded {
        local_ns: TimeNs,
        value: u64,
    },
}

/// Persists every delivered value in a log (its durable state); counts
/// handled inputs in volatile memory.
struct Probe {
    script: Script,
    log: Vec<u64>,
    handled: u64,
    next_value: u64,
}

impl Probe {
    fn new(script: Script) -> Probe {
        Probe {
            script,
            log: Vec::new(),
            handled: 0,
            next_value: 0,
        }
    }
}

impl Node for Probe {
    type Message = Value;
    type Observation = Seen;
    /// An operator command: broadcast this value.
    type Command = u64;
    type Durable = (Script, Vec<u64>);

    fn handle(&mut self, input: Input<Value, u64>, ctx: &mut Context<'_, Value, Seen>) {
        self.handled += 1;
        match input {
            Input::Start | Input::Restart => {
                ctx.observe(Seen::Started {
                    local_ns: ctx.now,
                    restarted: matches!(input, Input::Restart),
                    log_len: self.log.len(),
                });
                ctx.charge_cpu(self.script.start_cpu_ns);
                for &(to, value) in &self.script.start_sends {
                    ctx.send(to, Value(value));
                }
                if let Some(tick_ns) = self.script.tick_ns {
                    ctx.set_timer(TICK, tick_ns);
                }
            }
            Input::Deliver { from, message } => {
                self.log.push(message.0);
                ctx.observe(Seen::Delivered {
                    local_ns: ctx.now,
                    from,
                    value: message.0,
                    handled: self.handled,
                });
                ctx.charge_cpu(self.script.deliver_cpu_ns);
            }
            Input::Command(value) => {
                ctx.observe(Seen::Commanded {
                    local_ns: ctx.now,
                    value,
                });
                ctx.broadcast(Value(value));
            }
            Input::Timer(_) => {
                ctx.observe(Seen::Tick { local_ns: ctx.now });
                self.next_value += 1;
                ctx.broadcast(Value(u64::from(ctx.me.0) << 32 | self.next_value));
                ctx.set_timer(TICK, self.script.tick_ns.expect("ticking"));
            }
        }
    }

    fn crash(self) -> (Script, Vec<u64>) {
        (self.script, self.log)
    }

    fn recover((script, log): (Script, Vec<u64>)) -> Probe {
        Probe {
            script,
            log,
            handled: 0,
            next_value: 1_000_000,
        }
    }
}

fn constant_link(latency_ns: TimeNs) -> LinkModel {
    LinkModel {
        latency: LatencyModel::Constant { latency_ns },
        ..LinkModel::default()
    }
}

fn fault(at_ns: TimeNs, fault: Fault) -> ScheduledFault {
    ScheduledFault { at_ns, fault }
}

fn deliveries(sim: &Simulation<Probe>) -> Vec<(TimeNs, CellIndex, CellIndex)> {
    sim.observations()
        .iter()
        .filter_map(|observed| match observed.observation {
            Seen::Delivered { from, .. } => Some((observed.time_ns, from, observed.cell)),
            _ => None,
        })
        .collect()
}

#[test]
fn partition_cuts_every_crossing_and_heal_restores_all() {
    let mut config = SimConfig::new(11, 6);
    config.link = constant_link(NS_PER_MS);
    let left: Vec<CellIndex> = (0..3).map(CellIndex).collect();
    config.faults = vec![
        fault(
            10 * NS_PER_MS,
            Fault::Partition {
                groups: vec![left.clone()],
            },
        ),
        fault(30 * NS_PER_MS, Fault::Heal),
    ];
    let script = Script {
        tick_ns: Some(NS_PER_MS),
        ..Script::default()
    };
    let mut sim =
        Simulation::new(config, TraceMode::HashOnly, |_| Probe::new(script.clone())).unwrap();
    sim.run_until(50 * NS_PER_MS);
    let crosses = |from: CellIndex, to: CellIndex| left.contains(&from) != left.contains(&to);
    let all = deliveries(&sim);
    assert!(
        all.iter()
            .filter(
                |&&(time, from, to)| (10 * NS_PER_MS..=30 * NS_PER_MS).contains(&time)
                    && crosses(from, to)
            )
            .count()
            == 0,
        "no message crosses the cut while it stands"
    );
    // Every tick broadcasts to 5 peers; after the heal every crossing one arrives:
    // ticks at 31..=49 ms arrive at 32..=50 ms, 9 crossing pairs per tick.
    let crossing_after_heal = all
        .iter()
        .filter(|&&(time, from, to)| time >= 32 * NS_PER_MS && crosses(from, to))
        .count();
    assert_eq!(crossing_after_heal, 19 * 18);
    let dropped = sim.metrics().totals().dropped(DropReason::Partition);
    // Ticks 10..=29 ms dropped at send, and the 9 ms ticks on arrival at 10 ms.
    assert_eq!(dropped, 21 * 18);
    assert!(
        all.iter()
            .any(|&(time, from, to)| time == 20 * NS_PER_MS && !crosses(from, to))
    );
}

#[test]
fn commands_reach_their_cell_at_their_time_and_are_lost_while_it_is_down() {
    let mut config = SimConfig::new(4, 2);
    config.link = constant_link(NS_PER_MS);
    config.faults = vec![
        fault(5 * NS_PER_MS, Fault::Crash { cell: CellIndex(1) }),
        fault(8 * NS_PER_MS, Fault::Restart { cell: CellIndex(1) }),
    ];
    let mut sim = Simulation::new(config, TraceMode::HashOnly, |_| {
        Probe::new(Script::default())
    })
    .unwrap();
    sim.schedule_command(3 * NS_PER_MS, CellIndex(0), 41);
    sim.schedule_command(6 * NS_PER_MS, CellIndex(1), 42); // cell 1 is down
    sim.schedule_command(9 * NS_PER_MS, CellIndex(1), 43);
    sim.run_until(20 * NS_PER_MS);
    let commanded: Vec<(TimeNs, CellIndex, u64)> = sim
        .observations()
        .iter()
        .filter_map(|o| match o.observation {
            Seen::Commanded { value, .. } => Some((o.time_ns, o.cell, value)),
            _ => None,
        })
        .collect();
    assert_eq!(
        commanded,
        vec![
            (3 * NS_PER_MS, CellIndex(0), 41),
            (9 * NS_PER_MS, CellIndex(1), 43)
        ]
    );
    // The commands' broadcasts arrive one latency later.
    let delivered: Vec<_> = deliveries(&sim);
    assert_eq!(
        delivered,
        vec![
            (4 * NS_PER_MS, CellIndex(0), CellIndex(1)),
            (10 * NS_PER_MS, CellIndex(1), CellIndex(0))
        ]
    );
}

#[test]
fn crash_drops_volatile_state_and_restart_recovers_the_log() {
    let mut config = SimConfig::new(3, 2);
    config.link = constant_link(NS_PER_MS);
    config.faults = vec![
        fault(
            10 * NS_PER_MS + 500_000,
            Fault::Crash { cell: CellIndex(1) },
        ),
        fault(
            20 * NS_PER_MS + 500_000,
            Fault::Restart { cell: CellIndex(1) },
        ),
    ];
    let scripts = [
        Script {
            tick_ns: Some(NS_PER_MS),
            ..Script::default()
        },
        Script::default(),
    ];
    let mut sim = Simulation::new(config, TraceMode::HashOnly, |cell| {
        Probe::new(scripts[cell.as_usize()].clone())
    })
    .unwrap();
    sim.run_until(10 * NS_PER_MS);
    let before = sim.node(CellIndex(1)).unwrap();
    assert_eq!((before.log.len(), before.handled), (9, 10)); // start + 9 deliveries
    let logged_before = before.log.clone();

    sim.run_until(15 * NS_PER_MS);
    assert!(sim.node(CellIndex(1)).is_none(), "crashed: no node");
    assert_eq!(
        sim.durable(CellIndex(1)).unwrap().1,
        logged_before,
        "the durable log survives"
    );

    sim.run_until(40 * NS_PER_MS);
    let after = sim.node(CellIndex(1)).unwrap();
    assert_eq!(&after.log[..9], &logged_before[..]);
    // Volatile counter restarted: restart + deliveries at 21..=40 ms.
    assert_eq!(after.handled, 1 + 20);
    assert_eq!(after.log.len(), 9 + 20);
    let restarted = sim.observations().iter().find(|o| {
        matches!(
            o.observation,
            Seen::Started {
                restarted: true,
                ..
            }
        )
    });
    let restarted = restarted.expect("Input::Restart handled");
    assert_eq!(restarted.time_ns, 20 * NS_PER_MS + 500_000);
    assert_eq!(
        restarted.observation,
        Seen::Started {
            local_ns: 20 * NS_PER_MS + 500_000,
            restarted: true,
            log_len: 9
        }
    );
    // Ticks at 11..=20 ms arrive while crashed.
    assert_eq!(sim.metrics().totals().dropped(DropReason::CellDown), 10);
}

#[test]
fn observed_loss_rate_matches_the_configured_one() {
    let mut config = SimConfig::new(5, 2);
    config.link = LinkModel {
        loss: Probability::from_f64(0.2).unwrap(),
        ..constant_link(1_000)
    };
    let script = Script {
        tick_ns: Some(1_000),
        ..Script::default()
    };
    let mut sim =
        Simulation::new(config, TraceMode::HashOnly, |_| Probe::new(script.clone())).unwrap();
    sim.run_until(100_000 * 1_000);
    let totals = sim.metrics().totals();
    assert_eq!(totals.sent, 200_000);
    let rate = totals.dropped(DropReason::Loss) as f64 / totals.sent as f64;
    assert!((rate - 0.2).abs() < 0.005, "observed loss {rate}");
    let in_flight = totals.sent - totals.delivered - totals.dropped_total();
    assert!(
        in_flight <= 2,
        "only the last tick's messages may be in flight"
    );
    let link = sim.metrics().link(CellIndex(0), CellIndex(1)).unwrap();
    assert_eq!(link.sent, 100_000);
}

#[test]
fn cpu_charge_delays_outputs_and_later_inputs() {
    let mut config = SimConfig::new(1, 2);
    config.link = constant_link(NS_PER_MS);
    let scripts = [
        Script {
            start_cpu_ns: 5 * NS_PER_MS,
            start_sends: vec![(CellIndex(1), 1)],
            ..Script::default()
        },
        Script {
            start_cpu_ns: 3 * NS_PER_MS,
            start_sends: vec![(CellIndex(0), 2), (CellIndex(0), 3)],
            deliver_cpu_ns: 10 * NS_PER_MS,
            ..Script::default()
        },
    ];
    let mut sim = Simulation::new(config, TraceMode::HashOnly, |cell| {
        Probe::new(scripts[cell.as_usize()].clone())
    })
    .unwrap();
    sim.run_until(100 * NS_PER_MS);
    let seen: Vec<_> = deliveries(&sim);
    // Cell 1's sends leave after its 3 ms charge and arrive at 4 ms, but cell 0
    // is busy with its 5 ms start charge, so both are handled at 5 ms. Cell 0's
    // send left after its charge: 5 ms + 1 ms latency.
    assert_eq!(
        seen,
        vec![
            (5 * NS_PER_MS, CellIndex(1), CellIndex(0)),
            (5 * NS_PER_MS, CellIndex(1), CellIndex(0)),
            (6 * NS_PER_MS, CellIndex(0), CellIndex(1)),
        ]
    );
    let mut config = SimConfig::new(1, 2);
    config.link = constant_link(NS_PER_MS);
    let scripts = [
        Script {
            start_sends: vec![(CellIndex(1), 1), (CellIndex(1), 2)],
            ..Script::default()
        },
        Script {
            deliver_cpu_ns: 10 * NS_PER_MS,
            ..Script::default()
        },
    ];
    let mut sim = Simulation::new(config, TraceMode::HashOnly, |cell| {
        Probe::new(scripts[cell.as_usize()].clone())
    })
    .unwrap();
    sim.run_until(100 * NS_PER_MS);
    let times: Vec<TimeNs> = deliveries(&sim).iter().map(|d| d.0).collect();
    assert_eq!(
        times,
        [NS_PER_MS, 11 * NS_PER_MS],
        "the second waits for the first's CPU"
    );
}

#[test]
fn clock_skew_and_drift_move_local_time_and_timers() {
    let mut config = SimConfig::new(1, 3);
    config.faults = vec![
        fault(
            0,
            Fault::ClockDrift {
                cell: CellIndex(1),
                drift_ppm: 100_000,
            },
        ),
        fault(
            NS_PER_MS,
            Fault::ClockSkew {
                cell: CellIndex(2),
                offset_ns: 3 * NS_PER_MS as i64,
            },
        ),
    ];
    let script = Script {
        tick_ns: Some(10 * NS_PER_MS),
        ..Script::default()
    };
    let mut sim =
        Simulation::new(config, TraceMode::HashOnly, |_| Probe::new(script.clone())).unwrap();
    sim.run_until(12 * NS_PER_MS);
    let ticks: Vec<(TimeNs, CellIndex, TimeNs)> = sim
        .observations()
        .iter()
        .filter_map(|o| match o.observation {
            Seen::Tick { local_ns } => Some((o.time_ns, o.cell, local_ns)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ticks,
        vec![
            (7 * NS_PER_MS, CellIndex(2), 10 * NS_PER_MS), // skewed 3 ms ahead
            (9_090_910, CellIndex(1), 10_000_001),         // 10 % fast: first ns at ≥ 10 ms local
            (10 * NS_PER_MS, CellIndex(0), 10 * NS_PER_MS),
        ]
    );
    assert_eq!(sim.local_time_ns(CellIndex(0)), 12 * NS_PER_MS);
    assert_eq!(sim.local_time_ns(CellIndex(1)), 13_200_000);
    assert_eq!(sim.local_time_ns(CellIndex(2)), 15 * NS_PER_MS);
    assert_eq!(sim.metrics().cell(CellIndex(2)).faults_applied, 1);
}

#[test]
fn pause_holds_inputs_until_resume() {
    let mut config = SimConfig::new(1, 2);
    config.link = constant_link(NS_PER_MS);
    config.faults = vec![
        fault(2 * NS_PER_MS + 1, Fault::Pause { cell: CellIndex(1) }),
        fault(8 * NS_PER_MS + 1, Fault::Resume { cell: CellIndex(1) }),
    ];
    let scripts = [
        Script {
            tick_ns: Some(NS_PER_MS),
            ..Script::default()
        },
        Script::default(),
    ];
    let mut sim = Simulation::new(config, TraceMode::HashOnly, |cell| {
        Probe::new(scripts[cell.as_usize()].clone())
    })
    .unwrap();
    sim.run_until(10 * NS_PER_MS);
    let times: Vec<TimeNs> = deliveries(&sim).iter().map(|d| d.0).collect();
    let resume = 8 * NS_PER_MS + 1;
    assert_eq!(
        times,
        [
            2 * NS_PER_MS,
            resume,
            resume,
            resume,
            resume,
            resume,
            resume,
            9 * NS_PER_MS,
            10 * NS_PER_MS
        ]
    );
}

#[test]
fn cut_and_slowed_links_are_asymmetric() {
    let mut config = SimConfig::new(1, 2);
    config.link = constant_link(NS_PER_MS);
    config.faults = vec![
        fault(
            0,
            Fault::CutLink {
                from: CellIndex(0),
                to: CellIndex(1),
            },
        ),
        fault(
            0,
            Fault::SlowLink {
                from: CellIndex(1),
                to: CellIndex(0),
                extra: LatencyModel::Constant {
                    latency_ns: 4 * NS_PER_MS,
                },
            },
        ),
        fault(
            5 * NS_PER_MS,
            Fault::RestoreLink {
                from: CellIndex(0),
                to: CellIndex(1),
            },
        ),
    ];
    let script = Script {
        tick_ns: Some(NS_PER_MS),
        ..Script::default()
    };
    let mut sim =
        Simulation::new(config, TraceMode::HashOnly, |_| Probe::new(script.clone())).unwrap();
    sim.run_until(8 * NS_PER_MS);
    let link = |a, b| sim.metrics().link(CellIndex(a), CellIndex(b)).unwrap();
    assert_eq!(link(0, 1).dropped(DropReason::LinkCut), 4); // ticks 1..=4 ms
    assert_eq!(link(0, 1).delivered, 3); // ticks 5, 6, 7 ms: the restore precedes the 5 ms tick
    assert_eq!(link(1, 0).delivered, 3); // ticks 1..=3 ms, 5 ms late
    assert_eq!(link(1, 0).dropped_total(), 0);
}

#[test]
fn jitter_reorders_and_duplication_is_counted() {
    let mut config = SimConfig::new(8, 2);
    config.link = LinkModel {
        latency: LatencyModel::Uniform {
            min_ns: 0,
            max_ns: 10 * NS_PER_MS,
        },
        duplicate: Probability::from_f64(0.1).unwrap(),
        ..LinkModel::default()
    };
    let scripts = [
        Script {
            tick_ns: Some(NS_PER_MS),
            ..Script::default()
        },
        Script::default(),
    ];
    let mut sim = Simulation::new(config, TraceMode::HashOnly, |cell| {
        Probe::new(scripts[cell.as_usize()].clone())
    })
    .unwrap();
    sim.run_until(1_000 * NS_PER_MS);
    let values: Vec<u64> = sim.node(CellIndex(1)).unwrap().log.clone();
    assert!(
        values.windows(2).any(|pair| pair[0] > pair[1]),
        "jitter reorders"
    );
    let link = sim.metrics().link(CellIndex(0), CellIndex(1)).unwrap();
    assert!((70..=130).contains(&link.duplicated), "{}", link.duplicated);
    assert_eq!(link.delivered, values.len() as u64);
    assert!(link.delivered > link.sent);
}

fn gossip(seed: u64, mode: TraceMode) -> Simulation<GossipNode> {
    let mut config = SimConfig::new(seed, 30);
    config.topology = celluler_sim::TopologySpec::RandomRegular { degree: 4 };
    config.link = LinkModel {
        latency: LatencyModel::LogNormal {
            median_ns: NS_PER_MS,
            sigma_milli: 500,
        },
        loss: Probability::from_f64(0.05).unwrap(),
        ..LinkModel::default()
    };
    let gossip = GossipConfig {
        seed,
        period_ns: 10 * NS_PER_MS,
        fanout: 2,
        hops: 3,
        cpu_per_message_ns: 1_000,
    };
    let mut sim = Simulation::new(config, mode, |cell| GossipNode::new(gossip, cell)).unwrap();
    sim.run_until(200 * NS_PER_MS);
    sim
}

#[test]
fn trace_replay_matches_itself_and_finds_the_first_divergence() {
    let recorded = gossip(4, TraceMode::Record(Vec::new()));
    let records = recorded.trace().records().unwrap().to_vec();
    assert!(records.len() > 1_000);
    assert!(records.iter().any(|r| r.kind == InputKind::Timer));
    let mut file = Vec::new();
    trace::write_json_lines(&records, &mut file).unwrap();
    let loaded = trace::read_json_lines(&file[..]).unwrap();
    assert_eq!(loaded, records);

    let replay = gossip(
        4,
        TraceMode::Verify {
            expected: loaded.clone(),
            divergence: None,
        },
    );
    assert_eq!(replay.trace().divergence(), None);
    assert_eq!(replay.trace().hash_hex(), recorded.trace().hash_hex());

    let mut tampered = loaded;
    tampered[500].detail ^= 1;
    let replay = gossip(
        4,
        TraceMode::Verify {
            expected: tampered,
            divergence: None,
        },
    );
    let divergence = replay.trace().divergence().expect("tampered step found");
    assert_eq!(divergence.step, 500);
    assert_eq!(divergence.actual, Some(records[500]));

    let other_seed = gossip(
        5,
        TraceMode::Verify {
            expected: records,
            divergence: None,
        },
    );
    assert!(other_seed.trace().divergence().is_some());
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(12))]
    #[test]
    fn same_seed_same_hash_different_seed_different_hash(seed in 0u64..1_000_000, delta in 1u64..1_000) {
        let first = gossip(seed, TraceMode::HashOnly).trace().hash_hex();
        let again = gossip(seed, TraceMode::HashOnly).trace().hash_hex();
        let other = gossip(seed.wrapping_add(delta), TraceMode::HashOnly).trace().hash_hex();
        proptest::prop_assert_eq!(&first, &again);
        proptest::prop_assert_ne!(first, other);
    }
}

#[test]
fn link_cell_and_total_counters_agree_on_a_sparse_topology() {
    let sim = gossip(9, TraceMode::HashOnly);
    let totals = sim.metrics().totals();
    let cells = sim.metrics().cells();
    let links = sim.metrics().links();
    assert!(
        links
            .windows(2)
            .all(|pair| (pair[0].0, pair[0].1) < (pair[1].0, pair[1].1))
    );
    for (from, to, _) in &links {
        assert!(
            sim.topology().peers(*from).contains(*to),
            "gossip only uses neighbours"
        );
    }
    assert_eq!(
        cells.iter().map(|c| c.messages.sent).sum::<u64>(),
        totals.sent
    );
    assert_eq!(
        cells.iter().map(|c| c.received).sum::<u64>(),
        totals.delivered
    );
    assert_eq!(
        links
            .iter()
            .map(|l| l.2.dropped(DropReason::Loss))
            .sum::<u64>(),
        totals.dropped(DropReason::Loss)
    );
    assert!(totals.dropped(DropReason::Loss) > 0);
    let handled: u64 = (0..30)
        .map(|c| sim.node(CellIndex(c)).unwrap().received)
        .sum();
    assert_eq!(handled, totals.delivered);
    assert_eq!(
        cells.iter().map(|c| c.timers_fired).sum::<u64>(),
        sim.trace().steps() - 30 - totals.delivered
    );
}

#[test]
fn region_matrix_sets_latency_and_unknown_destinations_are_counted() {
    let mut config = SimConfig::new(1, 4);
    config.regions = Some(celluler_sim::RegionMatrix::round_robin(
        4,
        2,
        vec![
            LatencyModel::Constant {
                latency_ns: NS_PER_MS,
            },
            LatencyModel::Constant {
                latency_ns: 30 * NS_PER_MS,
            },
            LatencyModel::Constant {
                latency_ns: 20 * NS_PER_MS,
            },
            LatencyModel::Constant {
                latency_ns: 2 * NS_PER_MS,
            },
        ],
    ));
    let scripts = [
        Script {
            start_sends: vec![(CellIndex(1), 1), (CellIndex(2), 2), (CellIndex(99), 3)],
            ..Script::default()
        },
        Script {
            start_sends: vec![(CellIndex(0), 4), (CellIndex(3), 5)],
            ..Script::default()
        },
        Script::default(),
        Script::default(),
    ];
    let mut sim = Simulation::new(config, TraceMode::HashOnly, |cell| {
        Probe::new(scripts[cell.as_usize()].clone())
    })
    .unwrap();
    sim.run_until(100 * NS_PER_MS);
    // Regions: cells 0, 2 in region 0; cells 1, 3 in region 1.
    assert_eq!(
        deliveries(&sim),
        vec![
            (NS_PER_MS, CellIndex(0), CellIndex(2)),
            (2 * NS_PER_MS, CellIndex(1), CellIndex(3)),
            (20 * NS_PER_MS, CellIndex(1), CellIndex(0)),
            (30 * NS_PER_MS, CellIndex(0), CellIndex(1)),
        ]
    );
    let sender = sim.metrics().cell(CellIndex(0));
    assert_eq!(sender.messages.dropped(DropReason::UnknownCell), 1);
    assert_eq!(
        sender.messages.sent, 2,
        "a send to no cell is dropped, not sent on a link"
    );
}

#[test]
fn bad_configuration_is_a_typed_error() {
    let mut config = SimConfig::new(1, 3);
    config.faults.push(ScheduledFault {
        at_ns: 5,
        fault: Fault::Restart { cell: CellIndex(3) },
    });
    assert!(
        Simulation::new(config, TraceMode::HashOnly, |_| Probe::new(
            Script::default()
        ))
        .is_err()
    );
    let mut sim = Simulation::new(SimConfig::new(1, 3), TraceMode::HashOnly, |_| {
        Probe::new(Script::default())
    })
    .unwrap();
    assert!(
        sim.schedule_fault(fault(5, Fault::Pause { cell: CellIndex(9) }))
            .is_err()
    );
    assert!(
        sim.schedule_fault(fault(5, Fault::Pause { cell: CellIndex(2) }))
            .is_ok()
    );
}
