//! The network adversary at the engine's boundary: a ticking node that
//! broadcasts stamped values, a configuration with link rules, and what each
//! receiver observed and the engine counted. Also a scenario's `eclipse`
//! block run end to end in a world of cells.

use std::collections::BTreeMap;

use celluler_core::node::{CellIndex, Context, Input, Node, Payload, TimerId};
use celluler_core::rng::Probability;
use celluler_core::time::{NS_PER_MS, NS_PER_S, TimeNs};
use celluler_sim::gossip::{GossipConfig, GossipNode};
use celluler_sim::metrics::DropReason;
use celluler_sim::scenario::Scenario;
use celluler_sim::world::{CellWorld, WorldConfig};
use celluler_sim::{
    CellSet, LatencyModel, LinkAction, LinkModel, LinkRule, NetworkAdversary, SimConfig,
    Simulation, TopologySpec, TraceMode,
};

const TICK: TimerId = TimerId(1);
const TICK_NS: TimeNs = 100 * NS_PER_MS;

/// A value stamped with who sent it and when (true time: no clock faults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    origin: u32,
    sent_ns: TimeNs,
}

impl Payload for Stamp {
    fn wire_bytes(&self) -> u32 {
        100
    }
    fn digest(&self) -> u64 {
        u64::from(self.origin) << 48 ^ self.sent_ns
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Heard {
    from: CellIndex,
    stamp: Stamp,
    arrival_ns: TimeNs,
}

/// Broadcasts a stamp every `TICK_NS` from the first tick on; observes every
/// delivery. It never reacts to what it hears, so a message's fate cannot
/// change what else is sent.
struct Ticker;

impl Node for Ticker {
    type Message = Stamp;
    type Observation = Heard;
    type Command = ();
    type Durable = ();

    fn handle(&mut self, input: Input<Stamp, ()>, ctx: &mut Context<'_, Stamp, Heard>) {
        match input {
            Input::Start | Input::Restart => ctx.set_timer(TICK, TICK_NS),
            Input::Timer(_) => {
                ctx.broadcast(Stamp {
                    origin: ctx.me.0,
                    sent_ns: ctx.now,
                });
                ctx.set_timer(TICK, TICK_NS);
            }
            Input::Deliver { from, message } => ctx.observe(Heard {
                from,
                stamp: message,
                arrival_ns: ctx.now,
            }),
            Input::Command(()) => {}
        }
    }

    fn crash(self) {}

    fn recover((): ()) -> Self {
        Ticker
    }
}

fn ticker_run(config: SimConfig, end_ns: TimeNs) -> Simulation<Ticker> {
    let mut sim = Simulation::new(config, TraceMode::HashOnly, |_| Ticker).unwrap();
    sim.run_until(end_ns);
    sim
}

/// What `cell` heard: `(origin, sent_ns)` → arrival times (several with
/// duplicates), in arrival order.
fn heard_by(sim: &Simulation<Ticker>, cell: u32) -> BTreeMap<(u32, TimeNs), Vec<TimeNs>> {
    let mut heard: BTreeMap<(u32, TimeNs), Vec<TimeNs>> = BTreeMap::new();
    for observed in sim.observations() {
        if observed.cell == CellIndex(cell) {
            let Heard {
                from,
                stamp,
                arrival_ns,
            } = observed.observation;
            assert_eq!(from.0, stamp.origin);
            heard
                .entry((stamp.origin, stamp.sent_ns))
                .or_default()
                .push(arrival_ns);
        }
    }
    heard
}

fn ticks_in(from_ns: TimeNs, until_ns: TimeNs) -> u64 {
    (from_ns..until_ns)
        .step_by(TICK_NS as usize)
        .filter(|&ns| ns >= TICK_NS)
        .count() as u64
}

/// Coalition {4, 5} eclipses victims {0, 1} from 1 s until 3 s: inside the
/// window the victims hear only the coalition — not each other — and after
/// it everyone again. Each dropped message is counted once, on its link,
/// even when the network had duplicated it.
#[test]
fn n6_eclipse_drop_victims_hear_only_the_coalition_inside_the_window() {
    let mut config = SimConfig::new(3, 6);
    config.link = LinkModel {
        latency: LatencyModel::Constant {
            latency_ns: NS_PER_MS,
        },
        duplicate: Probability::from_f64(0.3).unwrap(),
        ..LinkModel::default()
    };
    let (from_ns, until_ns) = (NS_PER_S, 3 * NS_PER_S);
    config.adversary = NetworkAdversary::new(vec![LinkRule {
        name: "eclipse",
        from: CellSet::all_but([4, 5]),
        to: CellSet::only([0, 1]),
        from_ns,
        until_ns: Some(until_ns),
        action: LinkAction::Drop,
    }]);
    let sim = ticker_run(config, 5 * NS_PER_S);
    let window = from_ns..until_ns;

    for victim in [0, 1] {
        let heard = heard_by(&sim, victim);
        for &(origin, sent_ns) in heard.keys() {
            assert!(
                !window.contains(&sent_ns) || [4, 5].contains(&origin),
                "victim {victim} heard {origin} at {sent_ns} ns"
            );
        }
        for origin in (0..6).filter(|&origin| origin != victim) {
            let from_origin = |range: std::ops::Range<TimeNs>| {
                heard
                    .keys()
                    .filter(|&&(o, sent_ns)| o == origin && range.contains(&sent_ns))
                    .count() as u64
            };
            let inside = from_origin(window.clone());
            let expected_inside = if [4, 5].contains(&origin) {
                ticks_in(from_ns, until_ns)
            } else {
                0
            };
            assert_eq!(inside, expected_inside, "{origin} → {victim} inside");
            // Before and after the window: every tick (the last one, sent at
            // 5 s, is still in flight).
            assert_eq!(from_origin(0..from_ns), ticks_in(0, from_ns));
            assert_eq!(
                from_origin(until_ns..5 * NS_PER_S),
                ticks_in(until_ns, 5 * NS_PER_S)
            );
        }
    }
    // Cells outside the eclipse hear everyone throughout.
    let heard = heard_by(&sim, 2);
    assert_eq!(heard.len() as u64, 5 * ticks_in(0, 5 * NS_PER_S));

    let metrics = sim.metrics();
    let window_ticks = ticks_in(from_ns, until_ns);
    assert_eq!(window_ticks, 20);
    for victim in [0u32, 1] {
        for origin in 0..6u32 {
            if origin == victim {
                continue;
            }
            let link = metrics.link(CellIndex(origin), CellIndex(victim)).unwrap();
            let expected = if origin >= 4 { 0 } else { window_ticks };
            assert_eq!(
                link.dropped(DropReason::Adversary),
                expected,
                "{origin} → {victim}"
            );
        }
        // What the victims send is not judged.
        let out = metrics.link(CellIndex(victim), CellIndex(2)).unwrap();
        assert_eq!(out.dropped_total(), 0);
    }
    let totals = metrics.totals();
    // Two victims, three senders outside the coalition each (the other victim included).
    assert_eq!(totals.adversary_dropped(), 2 * 3 * window_ticks);
    assert_eq!(totals.dropped_total(), totals.adversary_dropped());
    assert_eq!(totals.adversary_delayed, 0);
    assert!(totals.duplicated > 0);
    // Conservation: every message and network copy is delivered, dropped
    // (an adversary drop takes the copy with it), or in flight: the queue
    // holds one timer per cell and the deliveries of the 5 s tick.
    let in_flight = sim.pending_events() as u64 - 6;
    assert!(in_flight >= 30);
    assert_eq!(
        totals.sent + totals.duplicated,
        totals.delivered + totals.dropped_total() + in_flight
    );
}

/// A delay rule on every link into cell 2 from 1 s until 2 s adds exactly
/// its hold to each arrival sent in the window — with jitter, duplicates and
/// a bandwidth — and changes nothing else: the hold is outside the
/// transmitter and the adversary draws no randomness, so every other arrival
/// (at cell 2 and elsewhere) is the same as without it.
#[test]
fn n6_delay_adds_exactly_the_hold_and_nothing_else() {
    let mut config = SimConfig::new(8, 6);
    config.link = LinkModel {
        latency: LatencyModel::Uniform {
            min_ns: NS_PER_MS,
            max_ns: 20 * NS_PER_MS,
        },
        duplicate: Probability::from_f64(0.2).unwrap(),
        // 100 bytes take 1 ms to serialize: a broadcast queues.
        bandwidth_bytes_per_s: Some(100_000),
        ..LinkModel::default()
    };
    let hold_ns = 250 * NS_PER_MS;
    let window = NS_PER_S..2 * NS_PER_S;
    let mut held = config.clone();
    held.adversary.push(LinkRule {
        name: "delay",
        from: CellSet::any(),
        to: CellSet::only([2]),
        from_ns: window.start,
        until_ns: Some(window.end),
        action: LinkAction::Delay { extra_ns: hold_ns },
    });
    let end_ns = 4 * NS_PER_S;
    let plain = ticker_run(config, end_ns);
    let held = ticker_run(held, end_ns);

    let (plain_heard, held_heard) = (heard_by(&plain, 2), heard_by(&held, 2));
    assert_eq!(
        plain_heard.keys().collect::<Vec<_>>(),
        held_heard.keys().collect::<Vec<_>>()
    );
    let mut shifted = 0;
    for (key, plain_arrivals) in &plain_heard {
        let extra_ns = if window.contains(&key.1) { hold_ns } else { 0 };
        let expected: Vec<TimeNs> = plain_arrivals.iter().map(|ns| ns + extra_ns).collect();
        assert_eq!(held_heard[key], expected, "{key:?}");
        shifted += usize::from(extra_ns > 0) * plain_arrivals.len();
    }
    let window_ticks = ticks_in(window.start, window.end);
    assert!(
        shifted as u64 > 5 * window_ticks,
        "some copies were duplicated"
    );
    for cell in [0, 1, 3, 4, 5] {
        assert_eq!(heard_by(&plain, cell), heard_by(&held, cell), "cell {cell}");
    }
    let (plain_totals, held_totals) = (plain.metrics().totals(), held.metrics().totals());
    // Counted once per message, five senders, ten ticks.
    assert_eq!(held_totals.adversary_delayed, 5 * window_ticks);
    assert_eq!(held_totals.dropped_total(), 0);
    let into_2: u64 = (0..6)
        .filter(|&from| from != 2)
        .map(|from| {
            held.metrics()
                .link(CellIndex(from), CellIndex(2))
                .unwrap()
                .adversary_delayed
        })
        .sum();
    assert_eq!(into_2, held_totals.adversary_delayed);
    assert_eq!(
        (plain_totals.sent, plain_totals.duplicated),
        (held_totals.sent, held_totals.duplicated)
    );
    assert_ne!(plain.trace().hash_hex(), held.trace().hash_hex());
}

/// A delay hold keeps the order the network gave a link's messages (constant
/// latency and a bandwidth: the transmitter's FIFO order), and at the
/// window's close a message sent after it overtakes the held ones.
#[test]
fn n2_delay_keeps_link_order_inside_the_window_and_releases_at_its_close() {
    let mut config = SimConfig::new(1, 2);
    config.link = LinkModel {
        latency: LatencyModel::Constant {
            latency_ns: 5 * NS_PER_MS,
        },
        bandwidth_bytes_per_s: Some(100_000),
        ..LinkModel::default()
    };
    config.adversary.push(LinkRule {
        name: "delay",
        from: CellSet::only([0]),
        to: CellSet::only([1]),
        from_ns: 0,
        until_ns: Some(NS_PER_S),
        action: LinkAction::Delay {
            extra_ns: 350 * NS_PER_MS,
        },
    });
    let sim = ticker_run(config, 3 * NS_PER_S);
    let arrivals: Vec<(TimeNs, TimeNs)> = sim
        .observations()
        .iter()
        .filter(|observed| observed.cell == CellIndex(1))
        .map(|observed| {
            (
                observed.observation.stamp.sent_ns,
                observed.observation.arrival_ns,
            )
        })
        .collect();
    // 1 ms serialization + 5 ms latency, + 350 ms while the window is open.
    for &(sent_ns, arrival_ns) in &arrivals {
        let held_ns = if sent_ns < NS_PER_S {
            350 * NS_PER_MS
        } else {
            0
        };
        assert_eq!(
            arrival_ns,
            sent_ns + 6 * NS_PER_MS + held_ns,
            "sent {sent_ns}"
        );
    }
    let sent_order: Vec<TimeNs> = arrivals.iter().map(|&(sent_ns, _)| sent_ns).collect();
    let held: Vec<TimeNs> = sent_order
        .iter()
        .copied()
        .filter(|&ns| ns < NS_PER_S)
        .collect();
    assert!(
        held.windows(2).all(|pair| pair[0] < pair[1]),
        "FIFO while held"
    );
    // The 1 s tick arrives at 1.006 s, before the 0.9 s tick (released at 1.256 s).
    let position = |sent_ns| sent_order.iter().position(|&ns| ns == sent_ns).unwrap();
    assert!(position(NS_PER_S) < position(900 * NS_PER_MS));
}

fn gossip_config(seed: u64) -> SimConfig {
    let mut config = SimConfig::new(seed, 20);
    config.topology = TopologySpec::RandomRegular { degree: 4 };
    config.link = LinkModel {
        latency: LatencyModel::Uniform {
            min_ns: NS_PER_MS,
            max_ns: 20 * NS_PER_MS,
        },
        loss: Probability::from_f64(0.05).unwrap(),
        duplicate: Probability::from_f64(0.02).unwrap(),
        bandwidth_bytes_per_s: Some(100_000),
        queue_limit_bytes: Some(4_096),
    };
    config
}

fn gossip_run(config: SimConfig) -> Simulation<GossipNode> {
    let gossip = GossipConfig {
        seed: config.seed,
        period_ns: 50 * NS_PER_MS,
        fanout: 3,
        hops: 4,
        cpu_per_message_ns: 10_000,
    };
    let mut sim = Simulation::new(config, TraceMode::HashOnly, |cell| {
        GossipNode::new(gossip, cell)
    })
    .unwrap();
    sim.run_until(5 * NS_PER_S);
    sim
}

/// Rules that match nothing: a window after the run, and an empty target set.
fn inert_adversary() -> NetworkAdversary {
    NetworkAdversary::new(vec![
        LinkRule {
            name: "eclipse",
            from: CellSet::all_but([1]),
            to: CellSet::only([0]),
            from_ns: 60 * NS_PER_S,
            until_ns: None,
            action: LinkAction::Drop,
        },
        LinkRule {
            name: "delay",
            from: CellSet::any(),
            to: CellSet::only([]),
            from_ns: 0,
            until_ns: None,
            action: LinkAction::Delay { extra_ns: NS_PER_S },
        },
    ])
}

/// The default (empty) adversary leaves a run bit-identical to the engine
/// before the adversary existed: the hash and counters below were recorded
/// from this run without it. An adversary whose rules match nothing changes
/// nothing either (it draws no randomness).
#[test]
fn n20_gossip_an_empty_or_inert_adversary_leaves_the_run_bit_identical() {
    let config = gossip_config(11);
    assert!(config.adversary.is_empty());
    let plain = gossip_run(config.clone());
    assert_eq!(
        plain.trace().hash_hex(),
        "665321ac62f6b3ba1b676edbb84155f0f380b009cf59111f28234898e61077ff"
    );
    assert_eq!(plain.trace().steps(), 28_936);
    let totals = plain.metrics().totals();
    assert_eq!(
        (
            totals.sent,
            totals.delivered,
            totals.dropped(DropReason::Loss),
            totals.duplicated
        ),
        (27_892, 26_916, 1_393, 479)
    );
    assert_eq!(
        (totals.adversary_dropped(), totals.adversary_delayed),
        (0, 0)
    );

    let inert = gossip_run(SimConfig {
        adversary: inert_adversary(),
        ..config
    });
    assert_eq!(inert.adversary().rules().len(), 2);
    assert_eq!(inert.trace().hash_hex(), plain.trace().hash_hex());
    assert_eq!(inert.metrics().links(), plain.metrics().links());
}

#[test]
fn n4_world_an_inert_adversary_leaves_the_run_bit_identical() {
    let run = |adversary: NetworkAdversary| {
        let mut config = WorldConfig::new(5, 4);
        config.sim.adversary = adversary;
        let mut world = CellWorld::new(config).unwrap();
        world.run_until(3 * NS_PER_S);
        world
    };
    let plain = run(NetworkAdversary::default());
    let inert = run(inert_adversary());
    assert!(plain.simulation().trace().steps() > 100);
    assert_eq!(
        plain.simulation().trace().hash_hex(),
        inert.simulation().trace().hash_hex()
    );
    assert_eq!(
        plain.simulation().metrics().links(),
        inert.simulation().metrics().links()
    );
}

/// A scenario's `eclipse` block, run in a world of cells: inside its window
/// the victim receives nothing from cells outside the coalition, only from
/// the coalition; its own messages still go out; after the window everyone
/// reaches it again.
#[test]
fn n5_scenario_eclipse_block_isolates_its_victim_in_a_world() {
    let scenario = Scenario::parse(
        "eclipse.toml",
        r#"
name = "eclipse"
seed = 4
duration = "4s"
[cells]
count = 5
[[byzantine]]
behavior = "eclipse"
cells = [4]
until = "2s"
params = { victims = [0] }
"#,
    )
    .unwrap();
    let config = scenario.world_config();
    assert_eq!(config.sim.adversary, scenario.network_adversary());
    assert_eq!(
        config.sim.adversary.describe(),
        vec!["eclipse: 1 victim (0) hear only 4, dropping the rest, 0s..2s"]
    );
    let mut world = CellWorld::new(config).unwrap();
    let link = |world: &CellWorld, from: u32, to: u32| {
        world
            .simulation()
            .metrics()
            .link(CellIndex(from), CellIndex(to))
            .unwrap_or_default()
    };
    world.run_until(2 * NS_PER_S);
    for from in 1..4 {
        let into_victim = link(&world, from, 0);
        assert_eq!(into_victim.delivered, 0, "{from} → 0");
        assert!(into_victim.sent > 0);
        assert_eq!(
            into_victim.adversary_dropped(),
            into_victim.sent,
            "{from} → 0"
        );
        assert!(link(&world, 0, from).delivered > 0, "0 → {from}");
    }
    assert!(link(&world, 4, 0).delivered > 0);
    assert_eq!(link(&world, 4, 0).dropped_total(), 0);
    let dropped_in_window = world.simulation().metrics().totals().adversary_dropped();
    assert!(dropped_in_window > 0);

    world.run_until(4 * NS_PER_S);
    for from in 1..4 {
        assert!(link(&world, from, 0).delivered > 0, "{from} → 0 after 2 s");
    }
    // Messages sent after the window are not judged.
    assert_eq!(
        world.simulation().metrics().totals().adversary_dropped(),
        dropped_in_window
    );
}
