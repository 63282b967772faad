//! Hashgraph engine tests: hand-drawn DAGs with asserted rounds, witnesses,
//! fame, round received and order (Baird 2016, divideRounds, decideFame,
//! findOrder), and properties over random gossip DAGs.

use celluler_core::hashgraph::gossip::{GossipConfig, random_gossip, shuffle_topologically};
use celluler_core::hashgraph::{Config, Event, EventBody, EventHash, Hashgraph, InsertError};
use celluler_core::identity::CellKeys;
use celluler_core::rng;

struct Outcome {
    order: Vec<EventHash>,
    timestamps: Vec<u64>,
    fame: std::collections::BTreeMap<EventHash, bool>,
    decided_rounds: u32,
}

fn run(
    keys: &[celluler_core::identity::PublicKey],
    events: &[Event],
    config: Config,
) -> (Hashgraph, Outcome) {
    let mut graph = Hashgraph::with_equal_stake(keys.to_vec(), config).unwrap();
    let mut outcome = Outcome {
        order: Vec::new(),
        timestamps: Vec::new(),
        fame: Default::default(),
        decided_rounds: 0,
    };
    for event in events {
        let decisions = graph.insert(event.clone()).unwrap();
        for fame in decisions.fame {
            assert!(
                outcome.fame.insert(fame.witness, fame.famous).is_none(),
                "decided twice"
            );
        }
        for ordered in decisions.ordered {
            assert_eq!(ordered.position, outcome.order.len() as u64);
            outcome.order.push(ordered.event.hash());
            outcome.timestamps.push(ordered.consensus_timestamp_ns);
        }
    }
    outcome.decided_rounds = graph.decided_rounds();
    (graph, outcome)
}

/// Four members passing a token around a ring: event `k` is by member
/// `k % 4`, on its own previous event and on event `k - 1`, at time `k`.
fn ring(count: usize) -> (Vec<celluler_core::identity::PublicKey>, Vec<Event>) {
    let keys: Vec<CellKeys> = ["A", "B", "C", "D"]
        .iter()
        .map(|n| CellKeys::from_name(n))
        .collect();
    let mut events: Vec<Event> = Vec::new();
    for k in 0..count {
        let creator = k % 4;
        let body = EventBody {
            creator: creator as u32,
            self_parent: (k >= 4).then(|| events[k - 4].hash()),
            other_parent: (k >= 1).then(|| events[k - 1].hash()),
            timestamp_ns: k as u64,
            transactions: vec![format!("tx{k}").into_bytes()],
        };
        events.push(Event::sign(body, &keys[creator]));
    }
    (keys.iter().map(|k| *k.public()).collect(), events)
}

#[test]
fn n4_ring_rounds_fame_and_order_by_hand() {
    let (keys, events) = ring(24);
    let (graph, outcome) = run(&keys, &events, Config::default());
    // divideRounds: member A's k-th event starts round k; every event is a
    // witness (each is its creator's first of its round).
    for (k, event) in events.iter().enumerate() {
        let info = graph.event_info(&event.hash()).unwrap();
        assert_eq!(info.round, (k / 4) as u32, "event {k}");
        assert!(info.witness, "event {k}");
    }
    // decideFame: round r is decided by A's round r+2 witness; all famous.
    for (k, event) in events.iter().enumerate().take(16) {
        assert_eq!(outcome.fame.get(&event.hash()), Some(&true), "event {k}");
    }
    // findOrder: A_j is received in round j, B_j, C_j, D_j in round j+1;
    // the consensus timestamp of event k is the upper middle of k..k+3,
    // k + 2; the order is the creation order.
    assert!(outcome.order.len() >= 13, "{}", outcome.order.len());
    for (position, hash) in outcome.order.iter().enumerate() {
        assert_eq!(*hash, events[position].hash());
        assert_eq!(outcome.timestamps[position], position as u64 + 2);
        let info = graph.event_info(hash).unwrap();
        let expected_round = (position / 4 + usize::from(position % 4 != 0)) as u32;
        assert_eq!(
            info.round_received,
            Some(expected_round),
            "event {position}"
        );
        assert_eq!(info.position, Some(position as u64));
    }
    // Exactly the events received by decided rounds are ordered: round r is
    // decided once A's round r+2 witness (event 4(r+2)) is in, so with 24
    // events rounds 0..=3 are decided and events up to A_3 (index 12) ordered.
    assert_eq!(outcome.decided_rounds, 4);
    assert_eq!(outcome.order.len(), 13);
}

#[test]
fn ring_decisions_arrive_at_the_deciding_event() {
    let (keys, events) = ring(9);
    let mut graph = Hashgraph::with_equal_stake(keys, Config::default()).unwrap();
    for (k, event) in events.iter().enumerate() {
        let decisions = graph.insert(event.clone()).unwrap();
        if k == 8 {
            // A_2 strongly sees A_1, B_1, C_1, which all saw round 0.
            assert_eq!(decisions.fame.len(), 4);
            assert!(decisions.fame.iter().all(|f| f.famous && f.round == 0));
            assert_eq!(decisions.ordered.len(), 1);
            assert_eq!(decisions.ordered[0].event.hash(), events[0].hash());
            assert_eq!(decisions.ordered[0].consensus_timestamp_ns, 2);
        } else {
            assert!(
                decisions.fame.is_empty() && decisions.ordered.is_empty(),
                "event {k}"
            );
        }
    }
}

#[test]
fn insert_errors_are_typed_and_leave_the_graph_unchanged() {
    let (keys, events) = ring(8);
    let mut graph = Hashgraph::with_equal_stake(keys.clone(), Config::default()).unwrap();
    // Unknown parent.
    assert!(matches!(
        graph.insert(events[1].clone()),
        Err(InsertError::UnknownParent { .. })
    ));
    graph.insert(events[0].clone()).unwrap();
    assert!(matches!(
        graph.insert(events[0].clone()),
        Err(InsertError::Duplicate(_))
    ));
    // Bad signature: B's body signed by A.
    let forged = Event::sign(events[1].body().clone(), &CellKeys::from_name("A"));
    assert!(matches!(
        graph.insert(forged),
        Err(InsertError::BadSignature { .. })
    ));
    // Unknown creator.
    let mut body = events[1].body().clone();
    body.creator = 9;
    assert!(matches!(
        graph.insert(Event::sign(body, &CellKeys::from_name("B"))),
        Err(InsertError::UnknownCreator { .. })
    ));
    // A self-parent by another creator.
    let mut body = events[1].body().clone();
    body.self_parent = Some(events[0].hash());
    assert!(matches!(
        graph.insert(Event::sign(body, &CellKeys::from_name("B"))),
        Err(InsertError::SelfParentByOtherCreator { .. })
    ));
    for event in &events[1..] {
        graph.insert(event.clone()).unwrap();
    }
    assert_eq!(graph.event_count(), 8);
    assert!(
        Hashgraph::with_equal_stake(
            keys,
            Config {
                coin_round_frequency: 1
            }
        )
        .is_err()
    );
}

#[test]
fn forks_are_detected_with_a_proof() {
    let (keys, events) = ring(8);
    let mut graph = Hashgraph::with_equal_stake(keys, Config::default()).unwrap();
    for event in &events {
        graph.insert(event.clone()).unwrap();
    }
    // A builds a second event on A_0 (A_1 already exists there).
    let body = EventBody {
        creator: 0,
        self_parent: Some(events[0].hash()),
        other_parent: Some(events[7].hash()),
        timestamp_ns: 100,
        transactions: vec![],
    };
    let fork = Event::sign(body, &CellKeys::from_name("A"));
    let decisions = graph.insert(fork.clone()).unwrap();
    assert_eq!(decisions.forks.len(), 1);
    let proof = &decisions.forks[0];
    assert_eq!(proof.creator, 0);
    assert_eq!(proof.first.hash(), events[4].hash());
    assert_eq!(proof.second.hash(), fork.hash());
    assert_eq!(graph.forks().len(), 1);
}

fn gossip(
    members: u32,
    events: usize,
    seed: u64,
    forkers: Vec<u32>,
) -> (Vec<celluler_core::identity::PublicKey>, Vec<Event>) {
    gossip_forking_in(members, events, seed, forkers, 0..usize::MAX)
}

fn gossip_forking_in(
    members: u32,
    events: usize,
    seed: u64,
    forkers: Vec<u32>,
    fork_window: std::ops::Range<usize>,
) -> (Vec<celluler_core::identity::PublicKey>, Vec<Event>) {
    let dag = random_gossip(&GossipConfig {
        members,
        events,
        seed,
        forkers,
        fork_window,
        transaction_bytes: 0,
    });
    (dag.public_keys, dag.events)
}

fn assert_prefix(a: &[EventHash], b: &[EventHash]) {
    let shorter = a.len().min(b.len());
    assert_eq!(
        a[..shorter],
        b[..shorter],
        "one order is not a prefix of the other"
    );
}

/// A view reports a fork by what it knows: two events of one creator at one
/// sequence number, whichever it learned first, once per forker — and a
/// view that knows only one branch reports nothing.
#[test]
fn a_view_reports_the_forks_it_sees() {
    use celluler_core::hashgraph::SharedHashgraph;
    let (keys, events) = ring(8);
    let mut store = SharedHashgraph::with_equal_stake(keys, Config::default()).unwrap();
    for event in &events {
        store.insert_verified(event.clone()).unwrap();
    }
    let twin = |time: u64| {
        Event::sign(
            EventBody {
                creator: 0,
                self_parent: Some(events[0].hash()),
                other_parent: Some(events[7].hash()),
                timestamp_ns: time,
                transactions: vec![],
            },
            &CellKeys::from_name("A"),
        )
    };
    let (fork, fork_again) = (twin(100), twin(101));
    store.insert_verified(fork.clone()).unwrap();
    store.insert_verified(fork_again.clone()).unwrap();

    // Learns the main chain first, then the twins.
    let mut view = store.new_view();
    let mut proofs = Vec::new();
    for event in events.iter().chain([&fork, &fork_again]) {
        proofs.extend(view.learn(&store, &event.hash()).unwrap().forks);
    }
    assert_eq!(proofs.len(), 1, "one proof per forker");
    assert_eq!(proofs[0].creator, 0);
    assert_eq!(
        proofs[0].first.hash(),
        events[4].hash(),
        "A_1 was known first"
    );
    assert_eq!(proofs[0].second.hash(), fork.hash());

    // Learns a twin first (one on A_0 and D_0, which does not need A_1):
    // no fork yet; the proof comes with the main-chain event A_1.
    let early_twin = Event::sign(
        EventBody {
            creator: 0,
            self_parent: Some(events[0].hash()),
            other_parent: Some(events[3].hash()),
            timestamp_ns: 102,
            transactions: vec![],
        },
        &CellKeys::from_name("A"),
    );
    store.insert_verified(early_twin.clone()).unwrap();
    let mut view = store.new_view();
    let mut proofs = Vec::new();
    for event in events[..4].iter().chain([&early_twin]) {
        proofs.extend(view.learn(&store, &event.hash()).unwrap().forks);
    }
    assert!(proofs.is_empty(), "one branch only: no fork seen yet");
    proofs.extend(view.learn(&store, &events[4].hash()).unwrap().forks);
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0].first.hash(), early_twin.hash());
    assert_eq!(proofs[0].second.hash(), events[4].hash());
}

fn check_views_agree(members: u32, events: usize, seed: u64, forkers: Vec<u32>) {
    let (keys, dag) = gossip(members, events, seed, forkers);
    let (_, full) = run(&keys, &dag, Config::default());
    assert!(
        full.decided_rounds >= 3,
        "seed {seed}: only {} rounds decided",
        full.decided_rounds
    );
    let mut rng = rng::stream(seed, "test-views", 0);
    for view in 0..4 {
        let shuffled = shuffle_topologically(&dag, &mut rng);
        // Insertion order does not change the result.
        let (_, same) = run(&keys, &shuffled, Config::default());
        assert_eq!(
            same.order, full.order,
            "seed {seed} view {view}: order differs"
        );
        assert_eq!(same.timestamps, full.timestamps);
        assert_eq!(
            same.fame, full.fame,
            "seed {seed} view {view}: fame differs"
        );
        // A down-closed part of the DAG decides a prefix of the order and
        // agrees on every fame it decides.
        let cut = events / 2 + rng::index(&mut rng, events / 2);
        let (_, partial) = run(&keys, &shuffled[..cut], Config::default());
        assert_prefix(&partial.order, &full.order);
        for (witness, famous) in &partial.fame {
            assert_eq!(
                full.fame.get(witness),
                Some(famous),
                "seed {seed}: fame disagrees"
            );
        }
    }
}

#[test]
fn n5_random_gossip_views_agree() {
    for seed in 0..6 {
        check_views_agree(5, 400, seed, vec![]);
    }
}

#[test]
fn n7_f1_forker_views_agree_and_consensus_continues() {
    for seed in 0..6 {
        check_views_agree(7, 600, seed, vec![3]);
    }
}

#[test]
fn n10_f3_forkers_under_a_third() {
    for seed in 0..3 {
        check_views_agree(10, 900, seed, vec![1, 5, 8]);
    }
}

#[test]
#[ignore = "large"]
fn n32_large_gossip_views_agree() {
    for seed in 0..2 {
        check_views_agree(32, 3_000, seed, vec![4, 9]);
    }
}

fn load_fixture(name: &str) -> celluler_core::hashgraph::replay::DagFile {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/dags")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn fixtures_replay_through_the_library() {
    use celluler_core::hashgraph::replay::replay;
    let ring = replay(&load_fixture("n4_ring.json")).unwrap();
    assert_eq!(ring.consensus_order, ["a0", "b0", "c0", "d0", "a1"]);
    let (_, a1) = ring.events.iter().find(|(id, _)| id == "a1").unwrap();
    assert_eq!(
        (a1.round, a1.witness, a1.famous, a1.round_received),
        (1, true, Some(true), Some(1))
    );
    assert_eq!(a1.consensus_timestamp_ns, Some(6));
    let fork = replay(&load_fixture("n4_fork.json")).unwrap();
    assert_eq!(fork.forks, [("a1".to_string(), "a1x".to_string())]);
    // The same DAG replayed in another topological order decides the same.
    let mut file = load_fixture("n4_fork.json");
    let moved = file.events.remove(5); // a1x, after c0 and before c1
    assert_eq!(moved.id, "a1x");
    let c1 = file.events.iter().position(|e| e.id == "c1").unwrap();
    file.events.insert(c1, moved);
    let reordered = replay(&file).unwrap();
    assert_eq!(reordered.consensus_order, fork.consensus_order);
}

/// The differential test of the shared store: N cells, each learning the
/// global DAG in its own random (topological) order and stopping at its own
/// point, decide through a full engine of their own exactly what their view
/// of the shared store decides, step by step.
fn check_shared_store_matches_full_engines(
    members: u32,
    events: usize,
    seed: u64,
    forkers: Vec<u32>,
) {
    use celluler_core::hashgraph::SharedHashgraph;
    let (keys, dag) = gossip(members, events, seed, forkers.clone());
    let mut store = SharedHashgraph::with_equal_stake(keys.clone(), Config::default()).unwrap();
    for event in &dag {
        store.insert_verified(event.clone()).unwrap();
    }
    let mut rng = rng::stream(seed, "test-shared", 0);
    for cell in 0..4 {
        let order = shuffle_topologically(&dag, &mut rng);
        let cut = events * 3 / 4 + rng::index(&mut rng, events / 4 + 1);
        let mut engine = Hashgraph::with_equal_stake(keys.clone(), Config::default()).unwrap();
        let keeping = || {
            Hashgraph::keeping_every_event(
                celluler_core::hashgraph::Member::equal_stake(keys.clone()),
                Config::default(),
            )
            .unwrap()
        };
        // A cell's own engine that forgets nothing: what `LocalStore` runs.
        let mut local = keeping();
        let mut view = store.new_view();
        let mut ordered_total = 0;
        for (step, event) in order[..cut].iter().enumerate() {
            local.insert(event.clone()).unwrap();
            let from_engine = engine.insert(event.clone()).unwrap();
            let from_view = view.learn(&store, &event.hash()).unwrap();
            let mut fame_engine = from_engine.fame.clone();
            let mut fame_view = from_view.fame.clone();
            fame_engine.sort_by_key(|f| f.witness);
            fame_view.sort_by_key(|f| f.witness);
            assert_eq!(
                fame_engine, fame_view,
                "seed {seed} cell {cell} step {step}: fame"
            );
            assert_eq!(
                from_engine.ordered, from_view.ordered,
                "seed {seed} cell {cell} step {step}: order"
            );
            ordered_total += from_view.ordered.len();
        }
        assert_eq!(view.decided_rounds(), engine.decided_rounds());
        assert!(
            ordered_total > 0,
            "seed {seed} cell {cell}: nothing ordered"
        );
        // Fork-aware sync is a function of what a holder knows, not of the
        // order anything arrived in: the view (over a store that got the
        // events in the global order) and the cell's own engine (in the
        // cell's order) tell and serve alike.
        assert_eq!(
            view.frontier(&store),
            local.frontier(),
            "seed {seed} cell {cell}"
        );
        for member in 0..members {
            assert_eq!(
                view.latest_of(&store, member),
                local.latest_of(member),
                "seed {seed} cell {cell}: latest of {member}"
            );
        }
        // Gossip sync: what this view has that an empty peer lacks is all of it.
        let missing = view.missing_for(&store, &Default::default());
        assert_eq!(missing.len(), cut);
        // A peer that knows a down-closed part of it, in yet another order.
        let mut peer = store.new_view();
        let mut peer_local = keeping();
        for event in &order[..cut / 2] {
            peer.learn(&store, &event.hash()).unwrap();
            peer_local.insert(event.clone()).unwrap();
        }
        let peer_frontier = peer.frontier(&store);
        assert_eq!(peer_frontier, peer_local.frontier());
        let sent = view.missing_for(&store, &peer_frontier);
        let sent_by_local: Vec<EventHash> = local
            .missing_for(&peer_frontier)
            .iter()
            .map(|event| event.hash())
            .collect();
        assert_eq!(sent, sent_by_local, "seed {seed} cell {cell}: what is sent");
        for event in &order[..cut] {
            let hash = event.hash();
            assert!(
                peer.knows(&store, &hash) || sent.contains(&hash),
                "seed {seed} cell {cell}: a lacked event is sent"
            );
        }
        for hash in &sent {
            let creator = store.graph().event_info(hash).unwrap().creator;
            assert!(
                !peer.knows(&store, hash) || forkers.contains(&creator),
                "seed {seed} cell {cell}: only a forker's events may be sent again"
            );
        }
        for hash in &sent {
            if !peer.knows(&store, hash) {
                peer.learn(&store, hash).unwrap();
            }
        }
        // Knowing the same, neither lacks anything: forks are not resent.
        assert_eq!(peer.frontier(&store), view.frontier(&store));
        assert!(view.missing_for(&store, &peer.frontier(&store)).is_empty());
        assert_eq!(peer.decided_rounds(), view.decided_rounds());
    }
}

#[test]
fn n5_shared_store_matches_full_engines() {
    for seed in 0..4 {
        check_shared_store_matches_full_engines(5, 400, seed, vec![]);
    }
}

#[test]
fn n7_f2_shared_store_matches_full_engines_with_forkers() {
    for seed in 0..4 {
        check_shared_store_matches_full_engines(7, 500, seed, vec![2, 6]);
    }
}

#[test]
fn view_refuses_events_out_of_order() {
    use celluler_core::hashgraph::{SharedHashgraph, ViewError};
    let (keys, events) = ring(6);
    let mut store = SharedHashgraph::with_equal_stake(keys, Config::default()).unwrap();
    for event in &events {
        store.insert_verified(event.clone()).unwrap();
    }
    let mut view = store.new_view();
    assert!(matches!(
        view.learn(&store, &events[1].hash()),
        Err(ViewError::ParentNotKnown { .. })
    ));
    view.learn(&store, &events[0].hash()).unwrap();
    assert!(matches!(
        view.learn(&store, &events[0].hash()),
        Err(ViewError::AlreadyKnown(_))
    ));
    assert!(matches!(
        view.learn(&store, &EventHash([9; 32])),
        Err(ViewError::UnknownEvent(_))
    ));
}

/// A member that lags: three of four members (enough for a supermajority)
/// pass a token among themselves while D is silent; D then comes back with
/// an event on an early one of theirs — a witness of a round the store has
/// long ordered ("late"), decided not famous without a vote. A view that
/// learned that late witness before catching up must not wait for a vote that
/// never comes: it decides what a full engine over the same events decides,
/// and orders exactly the same events.
#[test]
fn n4_lagging_view_with_a_late_witness_keeps_deciding() {
    use celluler_core::hashgraph::SharedHashgraph;
    let keys: Vec<CellKeys> = ["A", "B", "C", "D"]
        .iter()
        .map(|n| CellKeys::from_name(n))
        .collect();
    let public: Vec<_> = keys.iter().map(|k| *k.public()).collect();
    let mut events: Vec<Event> = Vec::new();
    let mut latest: Vec<Option<EventHash>> = vec![None; 4];
    let mut make =
        |creator: usize, other: Option<EventHash>, time: u64, events: &mut Vec<Event>| {
            let event = Event::sign(
                EventBody {
                    creator: creator as u32,
                    self_parent: latest[creator],
                    other_parent: other,
                    timestamp_ns: time,
                    transactions: vec![format!("tx{time}").into_bytes()],
                },
                &keys[creator],
            );
            latest[creator] = Some(event.hash());
            events.push(event);
        };
    for creator in 0..4 {
        make(creator, None, creator as u64, &mut events);
    }
    // A → B → C → A ...: each event on the previous one.
    for k in 0..120u64 {
        let other = events.last().map(|e| e.hash());
        make((k % 3) as usize, other, 10 + k, &mut events);
    }
    // D returns on the 12th token event: an early round, long ordered.
    let early = events[4 + 12].hash();
    make(3, Some(early), 1_000, &mut events);
    let late = events.last().unwrap().clone();

    let mut store = SharedHashgraph::with_equal_stake(public.clone(), Config::default()).unwrap();
    for event in &events {
        store.insert_verified(event.clone()).unwrap();
    }
    let info = store.graph().event_info(&late.hash()).unwrap();
    assert!(info.witness, "D's return is a witness");
    assert_eq!(
        info.famous,
        Some(false),
        "and a late one, decided not famous"
    );
    assert!(
        info.round + 2 < store.graph().decided_rounds(),
        "its round was ordered long ago"
    );

    // The lagging view: the events up to D's anchor, D's late witness, then the rest.
    let anchor = 4 + 12 + 1;
    let mut order: Vec<&Event> = events[..anchor].iter().collect();
    order.push(&late);
    order.extend(&events[anchor..events.len() - 1]);
    let mut view = store.new_view();
    let mut engine = Hashgraph::with_equal_stake(public.clone(), Config::default()).unwrap();
    let (mut from_view, mut from_engine) = (Vec::new(), Vec::new());
    for event in order {
        from_view.extend(
            view.learn(&store, &event.hash())
                .unwrap()
                .ordered
                .iter()
                .map(|o| o.event.hash()),
        );
        from_engine.extend(
            engine
                .insert(event.clone())
                .unwrap()
                .ordered
                .iter()
                .map(|o| o.event.hash()),
        );
    }
    assert_eq!(
        view.decided_rounds(),
        engine.decided_rounds(),
        "no stall at the late witness's round"
    );
    assert!(view.decided_rounds() > info.round + 2);
    assert_eq!(from_view, from_engine, "the same events in the same order");
}

/// A long run: the engine forgets what it pruned (its records stay bounded)
/// and still decides exactly what a store that forgets nothing decides.
fn check_forgetting_changes_nothing(
    members: u32,
    events: usize,
    seed: u64,
    forkers: Vec<u32>,
    fork_window: std::ops::Range<usize>,
) {
    use celluler_core::hashgraph::SharedHashgraph;
    let (keys, dag) = gossip_forking_in(members, events, seed, forkers, fork_window);
    let mut keeping = SharedHashgraph::with_equal_stake(keys.clone(), Config::default()).unwrap();
    let mut forgetting = Hashgraph::with_equal_stake(keys.clone(), Config::default()).unwrap();
    let (mut kept_order, mut forgot_order) = (Vec::new(), Vec::new());
    let (mut kept_fame, mut forgot_fame) = (Vec::new(), Vec::new());
    let mut most_retained_late = 0;
    for (step, event) in dag.iter().enumerate() {
        let kept = keeping.insert_verified(event.clone()).unwrap();
        let forgot = forgetting.insert_verified(event.clone()).unwrap();
        for (decisions, order, fame) in [
            (kept, &mut kept_order, &mut kept_fame),
            (forgot, &mut forgot_order, &mut forgot_fame),
        ] {
            order.extend(order_keys(&decisions));
            fame.extend(decisions.fame.into_iter().map(|f| (f.witness, f.famous)));
        }
        if step >= events / 2 {
            most_retained_late = most_retained_late.max(forgetting.retained_events());
        }
    }
    if let Some(at) = (0..forgot_order.len().max(kept_order.len()))
        .find(|&i| forgot_order.get(i) != kept_order.get(i))
    {
        panic!(
            "seed {seed}: orders differ at position {at}: {:?} forgetting, {:?} keeping",
            forgot_order.get(at),
            kept_order.get(at)
        );
    }
    kept_fame.sort();
    forgot_fame.sort();
    assert_eq!(forgot_fame, kept_fame, "seed {seed}: fame");
    assert!(
        kept_order.len() > events * 9 / 10,
        "seed {seed}: too little ordered"
    );
    assert_eq!(forgetting.event_count(), events);
    assert_eq!(keeping.graph().retained_events(), events);
    // Compaction runs once 4,096 pruned records are at least half of all.
    assert!(
        most_retained_late < 9_000,
        "seed {seed}: {most_retained_late} records retained of {events}"
    );
    // Forgotten events are unknown; recent ones are still known.
    assert!(forgetting.event_info(&dag[0].hash()).is_none());
    assert!(forgetting.event_info(&dag[events - 1].hash()).is_some());
    // Re-inserting a forgotten event is refused: its parents are gone, or
    // (a first event) its round was pruned.
    let again = forgetting.insert_verified(dag[members as usize + 5].clone());
    assert!(
        matches!(again, Err(InsertError::UnknownParent { .. })),
        "{again:?}"
    );
    let first = forgetting.insert_verified(dag[0].clone());
    assert!(
        matches!(first, Err(InsertError::AncientRound { round: 0, .. })),
        "{first:?}"
    );
}

#[test]
fn n4_long_run_forgets_pruned_events_and_orders_the_same() {
    check_forgetting_changes_nothing(4, 24_000, 7, vec![], 0..0);
}

#[test]
fn n7_f2_long_run_with_forkers_forgets_and_orders_the_same() {
    // Forks from event 14,000 on: compactions happen before and after the
    // fork-aware path takes over. (The store that forgets nothing keeps
    // every abandoned fork branch as a tip; fork tips cost grows with them.)
    check_forgetting_changes_nothing(7, 24_000, 8, vec![1, 4], 14_000..usize::MAX);
}

/// Forks in a short early window only: the abandoned branches end long
/// before the run does, and every later event must still see those members
/// forking (the engine may forget their events' vectors, not the forks).
#[test]
fn n7_f2_early_forks_are_still_seen_after_forgetting() {
    check_forgetting_changes_nothing(7, 24_000, 9, vec![1, 4], 3_000..3_400);
}

/// A DAG file long enough that the engine forgets its first events while
/// replaying: every event still gets its facts, read as they are decided.
#[test]
fn a_long_dag_file_reports_every_event() {
    use celluler_core::hashgraph::replay::{DagEvent, DagFile, FORMAT, replay};
    let members = ["A", "B", "C", "D"];
    let mut rng = rng::stream(11, "test-long-dag", 0);
    let mut latest: Vec<Option<String>> = vec![None; members.len()];
    let mut events = Vec::new();
    for step in 0..12_000usize {
        let creator = if step < members.len() {
            step
        } else {
            rng::index(&mut rng, members.len())
        };
        let other = (creator + 1 + rng::index(&mut rng, members.len() - 1)) % members.len();
        let id = format!("e{step}");
        events.push(DagEvent {
            id: id.clone(),
            creator: members[creator].to_string(),
            self_parent: latest[creator].clone(),
            other_parent: latest[other].clone(),
            timestamp: step as u64 * 10,
            transactions: Vec::new(),
            transactions_hex: Vec::new(),
            signature: None,
            recorded: None,
        });
        latest[creator] = Some(id);
    }
    let file = DagFile {
        format: FORMAT.to_string(),
        members: members.iter().map(|m| m.to_string()).collect(),
        public_keys: None,
        stake: None,
        coin_round_frequency: None,
        events,
    };
    let result = replay(&file).unwrap();
    assert_eq!(result.events.len(), 12_000);
    assert!(result.consensus_order.len() > 11_000);
    let position_of: std::collections::BTreeMap<&str, usize> = result
        .consensus_order
        .iter()
        .enumerate()
        .map(|(position, id)| (id.as_str(), position))
        .collect();
    let mut witnesses = 0;
    for (id, info) in &result.events {
        assert_eq!(
            info.position.map(|p| p as usize),
            position_of.get(id.as_str()).copied(),
            "{id}"
        );
        assert_eq!(info.round_received.is_some(), info.position.is_some());
        if info.witness && info.round_received.is_some() {
            assert!(info.famous.is_some(), "{id}: an ordered witness is decided");
            witnesses += 1;
        }
    }
    assert!(witnesses > 4 * 100, "{witnesses}");
    let (first_id, first) = &result.events[0];
    assert_eq!(first_id, "e0");
    assert_eq!((first.round, first.witness), (0, true));
    assert!(first.position.is_some_and(|p| p < 100));
}

/// The shared store prunes behind its views (once it and a view have
/// ordered a round), yet a view made late — a restarted cell — still learns
/// every event and orders exactly what an early view ordered.
#[test]
fn shared_store_prunes_behind_its_views_and_a_late_view_still_orders_all() {
    use celluler_core::hashgraph::SharedHashgraph;
    let (keys, dag) = gossip(4, 6_000, 21, vec![]);
    let mut store = SharedHashgraph::with_equal_stake(keys.clone(), Config::default()).unwrap();
    let mut early = store.new_view();
    let mut early_order = Vec::new();
    for event in &dag {
        store.insert_verified(event.clone()).unwrap();
        let learned = early.learn(&store, &event.hash()).unwrap();
        early_order.extend(order_keys(&learned));
    }
    assert!(early_order.len() > 5_500, "{}", early_order.len());
    assert!(
        store.unpruned_events() < 1_000,
        "{} of 6,000 events keep their vectors",
        store.unpruned_events()
    );
    let mut late = store.new_view();
    let mut late_order = Vec::new();
    for event in &dag {
        let learned = late.learn(&store, &event.hash()).unwrap();
        late_order.extend(order_keys(&learned));
    }
    assert_eq!(late_order, early_order);
    // A new event on an old, pruned self-parent is refused, not mis-placed.
    let old = &dag[40];
    let creator = old.creator();
    let signer = CellKeys::for_simulated_cell(21, creator);
    let stale = Event::sign(
        EventBody {
            creator,
            self_parent: Some(old.hash()),
            other_parent: None,
            timestamp_ns: 1,
            transactions: Vec::new(),
        },
        &signer,
    );
    let refused = store.insert_verified(stale);
    assert!(
        matches!(refused, Err(InsertError::AncientParent { .. })),
        "{refused:?}"
    );
}

/// What an order is compared by: each event with its round received,
/// consensus timestamp and position.
fn order_keys(
    decisions: &celluler_core::hashgraph::Decisions,
) -> impl Iterator<Item = (EventHash, u32, u64, u64)> + '_ {
    decisions.ordered.iter().map(|o| {
        (
            o.event.hash(),
            o.round_received,
            o.consensus_timestamp_ns,
            o.position,
        )
    })
}
