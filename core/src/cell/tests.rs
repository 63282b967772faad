//! Unit tests of the cell services, driven through the node contract by a
//! tiny lossless in-test network (the simulator has its own tests).

use std::collections::VecDeque;
use std::sync::Arc;

use super::services::{
    ConsensusService, IdentityService, MessageService, NucleusService, StateService,
    verify_query_answer,
};
use super::*;
use crate::codec::Writer;
use crate::hashgraph::{Event, EventBody, EventHash};
use crate::identity::CellKeys;
use crate::journal::{JournalTag, JournalVerifier};
use crate::ledger::LedgerConfig;
use crate::message::{Auth, Body, Chat, ExecTask, Message, MessageType, Tx, TxKind};
use crate::node::{Context, Input, Node, Output, Peers};
use crate::time::NS_PER_MS;
use crate::trust::{AccessPolicy, TrustConfig};

const SEED: u64 = 11;

struct TestNet {
    cells: Vec<Option<Cell>>,
    durable: Vec<Option<CrashedCell>>,
    queue: VecDeque<(CellIndex, CellIndex, CellWire)>,
    observations: Vec<(CellIndex, CellObservation)>,
    now: TimeNs,
    cpu_ns: TimeNs,
}

/// Cell `index`'s configuration in a world of `keys`.
fn config(keys: &[Arc<CellKeys>], index: u32, record_consensus: bool) -> CellConfig {
    CellConfig {
        seed: SEED,
        index: CellIndex(index),
        members: Arc::new(
            keys.iter()
                .map(|keys| MemberInfo::new(*keys.public(), 1))
                .collect(),
        ),
        gossip_interval_ns: 100 * NS_PER_MS,
        genesis_balance: 1_000,
        ledger: LedgerConfig {
            fee_min: 1,
            ..LedgerConfig::default()
        },
        genesis: Arc::from(Vec::new()),
        accounts: Vec::new().into(),
        trust: TrustConfig::default(),
        access: AccessPolicy::default(),
        record_consensus,
        tie_break: Default::default(),
        consensus: crate::hashgraph::Config::default(),
        gossip: GossipPolicy::DEFAULT,
    }
}

impl TestNet {
    fn new(count: u32) -> TestNet {
        TestNet::with_recording(count, false)
    }

    /// Cells that keep a [`ConsensusRecording`] (what each view learned).
    fn with_recording(count: u32, record_consensus: bool) -> TestNet {
        TestNet::configured(count, |config| config.record_consensus = record_consensus)
    }

    /// `count` cells, each configured by [`config`] and then `adjust`, started.
    fn configured(count: u32, adjust: impl Fn(&mut CellConfig)) -> TestNet {
        let keys: Vec<Arc<CellKeys>> = (0..count)
            .map(|index| Arc::new(CellKeys::for_simulated_cell(SEED, index)))
            .collect();
        // Each cell a host of its own (the simulator's shared arena has its
        // own tests in `celluler-sim`).
        let environment = Standalone::handle();
        let mut net = TestNet {
            cells: (0..count)
                .map(|index| {
                    let mut config = config(&keys, index, false);
                    adjust(&mut config);
                    Some(Cell::new(
                        config,
                        keys[index as usize].clone(),
                        environment.clone(),
                    ))
                })
                .collect(),
            durable: (0..count).map(|_| None).collect(),
            queue: VecDeque::new(),
            observations: Vec::new(),
            now: 0,
            cpu_ns: 0,
        };
        for index in 0..count {
            net.input(CellIndex(index), Input::Start);
        }
        net
    }

    fn cell(&self, index: u32) -> &Cell {
        self.cells[index as usize].as_ref().expect("running")
    }

    /// Cell `index`'s signed identity head (what its messages carry).
    fn identity_head(&self, index: u32) -> crate::journal::SignedHead {
        let set = self.cell(index).journals.borrow();
        set.as_ref()
            .expect("open")
            .journal(JournalKind::Identity)
            .head()
            .expect("stored")
            .expect("genesis head")
    }

    /// Whether cell `index` observed `observation`.
    fn observed(&self, index: u32, observation: &CellObservation) -> bool {
        self.observations
            .iter()
            .any(|(cell, o)| *cell == CellIndex(index) && o == observation)
    }

    fn input(&mut self, me: CellIndex, input: Input<CellWire, CellCommand>) {
        self.input_with_peers(me, input, None);
    }

    fn input_with_peers(
        &mut self,
        me: CellIndex,
        input: Input<CellWire, CellCommand>,
        only_peer: Option<CellIndex>,
    ) {
        self.now += NS_PER_MS;
        let only = only_peer.map(|peer| [peer]);
        let Some(cell) = self.cells[me.as_usize()].as_mut() else {
            return;
        };
        let mut outputs = Vec::new();
        let mut ctx = Context {
            now: self.now,
            me,
            peers: match &only {
                Some(list) => Peers::List(list),
                None => Peers::AllExcept {
                    cells: self.durable.len() as u32,
                    me,
                },
            },
            outputs: &mut outputs,
        };
        cell.handle(input, &mut ctx);
        for output in outputs {
            match output {
                Output::Send { to, message } => self.queue.push_back((me, to, message)),
                Output::Observe(observation) => self.observations.push((me, observation)),
                Output::ChargeCpu { ns } => self.cpu_ns += ns,
                _ => {}
            }
        }
    }

    /// Deliver everything in flight, in order, until quiet.
    fn settle(&mut self) {
        while let Some((from, to, message)) = self.queue.pop_front() {
            self.input(to, Input::Deliver { from, message });
        }
    }

    /// `rounds` gossip rounds: each cell syncs with the next one.
    fn gossip(&mut self, rounds: u32) {
        let count = self.cells.len() as u32;
        for round in 0..rounds {
            for index in 0..count {
                let peer = CellIndex((index + 1 + round % (count - 1)) % count);
                if self.cells[index as usize].is_some() {
                    self.request_sync(CellIndex(index), peer);
                }
            }
            self.settle();
        }
    }

    /// The gossip timer fires at `me` with `peer` as its only neighbour,
    /// so the cell syncs with `peer`.
    fn request_sync(&mut self, me: CellIndex, peer: CellIndex) {
        self.input_with_peers(me, Input::Timer(GOSSIP_TIMER), Some(peer));
    }

    fn count(&self, wanted: impl Fn(&CellObservation) -> bool) -> usize {
        self.observations
            .iter()
            .filter(|(_, observation)| wanted(observation))
            .count()
    }

    fn crash(&mut self, index: u32) {
        let cell = self.cells[index as usize].take().expect("running");
        self.durable[index as usize] = Some(cell.crash());
    }

    fn restart(&mut self, index: u32) {
        let durable = self.durable[index as usize].take().expect("crashed");
        self.cells[index as usize] = Some(Cell::recover(durable));
        self.input(CellIndex(index), Input::Restart);
    }
}

#[test]
fn services_start_in_dependency_order() {
    let mut bus = crate::bus::Bus::<CellProtocol>::new(crate::bus::BusConfig::default());
    struct Nothing;
    impl crate::bus::Service<CellProtocol> for Nothing {
        fn on_call(
            &mut self,
            request: CellRequest,
            _ctx: &mut crate::bus::Context<'_, CellProtocol>,
        ) -> Result<CellResponse, protocol::CellError> {
            Err(protocol::CellError::Misrouted(
                <CellProtocol as crate::bus::Protocol>::action(&request),
            ))
        }
    }
    // Registered in reverse: dependencies still come first; ties (state
    // and identity both need only the nucleus) go by registration order.
    for spec in [
        MessageService::spec(),
        ConsensusService::spec(),
        StateService::spec(),
        IdentityService::spec(),
        NucleusService::spec(),
    ] {
        bus.register(spec, Box::new(Nothing)).expect("valid spec");
    }
    assert_eq!(
        bus.start_order().expect("a DAG"),
        ["nucleus", "state", "identity", "consensus", "message"]
    );
}

#[test]
fn boot_writes_nucleus_and_identity_genesis_and_first_event() {
    let net = TestNet::new(3);
    for index in 0..3 {
        let lengths = net.cell(index).journal_lengths();
        // nucleus: boot record; identity: genesis key block.
        assert_eq!(lengths[JournalKind::Nucleus as usize], 1);
        assert_eq!(lengths[JournalKind::Identity as usize], 1);
        assert_eq!(lengths[JournalKind::Message as usize], 0);
    }
    assert_eq!(
        net.count(|o| matches!(o, CellObservation::EventCreated { transactions: 0 })),
        3
    );
    assert!(net.cpu_ns > 0, "booting charges CPU (signatures)");
}

#[test]
fn message_rejections_are_typed_counted_and_journaled() {
    let mut net = TestNet::new(3);
    let keys1 = CellKeys::for_simulated_cell(SEED, 1);
    let id0 = net.cell(0).keys().cell_id();
    let id2 = net.cell(2).keys().cell_id();
    let identity_head = net.identity_head(1);
    let sign = |receiver, body| {
        Message::sign(&keys1, identity_head.clone(), 5, receiver, body)
            .expect("valid")
            .encode()
    };
    let chat = sign(id0, Body::Chat(Chat { text: "hi".into() }));
    let mut tampered = chat.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let table: Vec<(CellIndex, Vec<u8>, &str)> = vec![
        (CellIndex(1), vec![0xff, 1, 2], "undecodable message"),
        (CellIndex(1), tampered, "bad signature"),
        (CellIndex(2), chat.clone(), "signer is not the sending cell"),
        (
            CellIndex(1),
            sign(id2, Body::Chat(Chat { text: "hi".into() })),
            "addressed to another cell",
        ),
        (
            CellIndex(1),
            sign(
                id0,
                Body::Tx(Tx {
                    nonce: 0,
                    fee: 1,
                    kind: TxKind::Transfer { to: id2, amount: 1 },
                }),
            ),
            "tx and post travel through consensus",
        ),
    ];
    for (from, encoded, reason) in &table {
        net.input(
            CellIndex(0),
            Input::Deliver {
                from: *from,
                message: CellWire::Direct {
                    encoded: encoded.clone().into(),
                },
            },
        );
        assert_eq!(
            net.observations.last().map(|(_, o)| o.clone()),
            Some(CellObservation::MessageRejected { reason }),
            "{reason}"
        );
    }
    let rejections = net.cell(0).rejections();
    assert_eq!(rejections.values().sum::<u64>(), table.len() as u64);
    assert_eq!(
        net.cell(0).journal_lengths()[JournalKind::Message as usize],
        table.len() as u64,
        "every rejected message is journaled with its status"
    );
    // The valid one is accepted.
    net.input(
        CellIndex(0),
        Input::Deliver {
            from: CellIndex(1),
            message: CellWire::Direct {
                encoded: chat.into(),
            },
        },
    );
    assert_eq!(
        net.observations.last().map(|(_, o)| o.clone()),
        Some(CellObservation::MessageAccepted {
            kind: MessageType::Chat
        })
    );
}

#[test]
fn a_non_member_identity_is_heard_over_any_link_and_a_member_only_over_its_own() {
    let mut net = TestNet::new(3);
    let id0 = net.cell(0).keys().cell_id();
    let outsider = client::Client::new(CellKeys::from_name("outsider"));
    let deliver = |net: &mut TestNet, from: u32, message: &Message| {
        net.input(
            CellIndex(0),
            Input::Deliver {
                from: CellIndex(from),
                message: CellWire::Direct {
                    encoded: message.encode().into(),
                },
            },
        );
        net.observations.last().map(|(_, o)| o.clone())
    };
    // A chat signed by an identity outside the member directory, carried
    // over cell 1's link: its message proves its own key, so it is heard,
    // and the trust network rates the identity, not the link.
    let chat = outsider
        .sign(5, id0, Body::Chat(Chat { text: "hi".into() }))
        .expect("valid");
    deliver(&mut net, 1, &chat);
    assert!(
        net.observed(
            0,
            &CellObservation::MessageAccepted {
                kind: MessageType::Chat
            }
        ),
        "{:?}",
        net.observations
    );
    let rated = net.cell(0).trust_edge(outsider.cell_id()).expect("rated");
    assert_eq!((rated.successes, rated.failures), (1, 0));
    // A member's message over another member's link is still refused.
    let keys2 = CellKeys::for_simulated_cell(SEED, 2);
    let relayed = Message::sign(
        &keys2,
        net.identity_head(2),
        6,
        id0,
        Body::Chat(Chat { text: "hi".into() }),
    )
    .expect("valid");
    assert_eq!(
        deliver(&mut net, 1, &relayed),
        Some(CellObservation::MessageRejected {
            reason: "signer is not the sending cell"
        })
    );
    // The cell's user vouches for the identity: an AUTH challenge goes over
    // the link to it, and the identity's signed answer makes an attestation.
    net.input(
        CellIndex(0),
        Input::Command(CellCommand::Authenticate {
            with: CellIndex(1),
            identity: Some(outsider.cell_id()),
        }),
    );
    let (_, to, challenge) = net.queue.pop_back().expect("a challenge");
    assert_eq!(to, CellIndex(1));
    let CellWire::Direct { encoded } = challenge else {
        panic!("a direct message")
    };
    let challenge = Message::decode(&encoded).expect("decodes");
    assert_eq!(challenge.receiver, outsider.cell_id());
    net.queue.clear();
    let response = outsider
        .sign(
            challenge.timestamp,
            id0,
            Message::auth_response_body(&challenge).expect("a challenge"),
        )
        .expect("valid");
    deliver(&mut net, 1, &response);
    assert!(net.observed(0, &CellObservation::Authenticated { peer: CellIndex(1) }));
    let vouched = net.cell(0).trust_edge(outsider.cell_id()).expect("rated");
    assert_eq!(
        vouched.attestation_weight,
        u64::from(super::services::AUTH_TRUST_PERMILLE)
    );
}

#[test]
fn received_messages_record_interactions_in_the_trust_network_through_the_bus() {
    let mut net = TestNet::new(2);
    let id0 = net.cell(0).keys().cell_id();
    let id1 = net.cell(1).keys().cell_id();
    let identity_events = |net: &TestNet| net.cell(0).bus_metrics().services["identity"].events;
    let interactions = |net: &TestNet| {
        net.cell(0)
            .trust_edge(id1)
            .map(|edge| (edge.successes, edge.failures))
    };
    assert_eq!(interactions(&net), None, "no interaction yet");
    // A valid chat from cell 1: a success, which IdentityService hears on
    // the bus (`message.interaction`, besides the chat on `message.inbound`).
    net.input(
        CellIndex(1),
        Input::Command(CellCommand::Chat {
            to: CellIndex(0),
            text: "hi".into(),
        }),
    );
    let before = identity_events(&net);
    net.settle();
    assert_eq!(interactions(&net), Some((1, 0)));
    assert_eq!(identity_events(&net), before + 2);
    // A chat from cell 1 with a bad signature: a failure (and no inbound).
    let tampered = {
        let head = net.identity_head(1);
        let keys1 = CellKeys::for_simulated_cell(SEED, 1);
        let body = Body::Chat(Chat { text: "hi".into() });
        let mut encoded = Message::sign(&keys1, head, 5, id0, body)
            .expect("valid")
            .encode();
        let last = encoded.len() - 1;
        encoded[last] ^= 1;
        encoded
    };
    net.input(
        CellIndex(0),
        Input::Deliver {
            from: CellIndex(1),
            message: CellWire::Direct {
                encoded: tampered.into(),
            },
        },
    );
    assert_eq!(
        net.observations.last().map(|(_, o)| o.clone()),
        Some(CellObservation::MessageRejected {
            reason: "bad signature"
        })
    );
    assert_eq!(interactions(&net), Some((1, 1)));
    assert_eq!(identity_events(&net), before + 3);
    // The sender rated no one: only receiving records an interaction.
    assert_eq!(net.cell(1).trust_edge(id0), None);
}

#[test]
fn chat_is_journaled_on_both_sides() {
    let mut net = TestNet::new(2);
    net.input(
        CellIndex(0),
        Input::Command(CellCommand::Chat {
            to: CellIndex(1),
            text: "hello".into(),
        }),
    );
    net.settle();
    assert_eq!(
        net.cell(0).journal_lengths()[JournalKind::Message as usize],
        1
    );
    assert_eq!(
        net.cell(1).journal_lengths()[JournalKind::Message as usize],
        1
    );
    assert_eq!(
        net.count(|o| matches!(
            o,
            CellObservation::MessageAccepted {
                kind: MessageType::Chat
            }
        )),
        1
    );
}

#[test]
fn auth_exchange_attests_in_both_identity_journals() {
    let mut net = TestNet::new(2);
    net.input(
        CellIndex(0),
        Input::Command(CellCommand::Authenticate {
            with: CellIndex(1),
            identity: None,
        }),
    );
    net.settle();
    let authenticated: Vec<_> = net
        .observations
        .iter()
        .filter(|(_, o)| matches!(o, CellObservation::Authenticated { .. }))
        .cloned()
        .collect();
    assert_eq!(
        authenticated,
        vec![
            (
                CellIndex(0),
                CellObservation::Authenticated { peer: CellIndex(1) }
            ),
            (
                CellIndex(1),
                CellObservation::Authenticated { peer: CellIndex(0) }
            ),
        ]
    );
    for index in 0..2 {
        assert_eq!(
            net.cell(index).journal_lengths()[JournalKind::Identity as usize],
            2,
            "genesis + the attestation"
        );
    }
    // A replayed response (the exchange is closed) is refused.
    let response = {
        let cell = net.cell(0);
        let set = cell.journals.borrow();
        let journal = set.as_ref().expect("open").journal(JournalKind::Message);
        (0..journal.length())
            .filter_map(|index| {
                let block = journal.block(index).expect("stored").into_owned();
                let mut reader = crate::codec::Reader::new(&block);
                reader.u8("d").ok()?;
                reader.u8("s").ok()?;
                reader.u32("p").ok()?;
                reader.str("r", 256).ok()?;
                let bytes = reader.bytes("m", 1 << 16).ok()?;
                let message = Message::decode(bytes).ok()?;
                matches!(message.body, Body::Auth(Auth::Response { .. })).then(|| bytes.to_vec())
            })
            .next()
            .expect("the response was journaled as incoming")
    };
    net.input(
        CellIndex(0),
        Input::Deliver {
            from: CellIndex(1),
            message: CellWire::Direct {
                encoded: response.into(),
            },
        },
    );
    assert_eq!(
        net.observations.last().map(|(_, o)| o.clone()),
        Some(CellObservation::MessageRejected {
            reason: "auth response to no open challenge"
        })
    );
}

#[test]
fn transfers_order_identically_and_state_hashes_agree() {
    let mut net = TestNet::new(4);
    for i in 0..4u32 {
        net.input(
            CellIndex(i),
            Input::Command(CellCommand::Transfer {
                to: CellIndex((i + 1) % 4),
                amount: 7,
                fee: 1,
            }),
        );
    }
    net.gossip(30);
    let mut orders: Vec<Vec<TxId>> = vec![Vec::new(); 4];
    let mut last_state: Vec<Option<(u32, [u8; 32])>> = vec![None; 4];
    for (cell, observation) in &net.observations {
        match observation {
            CellObservation::TxOrdered { tx, applied, .. } => {
                assert!(applied);
                orders[cell.as_usize()].push(*tx);
            }
            CellObservation::RoundDecided {
                round, state_hash, ..
            } => last_state[cell.as_usize()] = Some((*round, *state_hash)),
            _ => {}
        }
    }
    assert_eq!(orders[0].len(), 4, "all four TXs ordered");
    assert!(orders.iter().all(|order| *order == orders[0]));
    let hashes: Vec<[u8; 32]> = (0..4).map(|i| net.cell(i).ledger().state_hash()).collect();
    assert!(hashes.iter().all(|hash| *hash == hashes[0]));
    assert!(last_state.iter().all(Option::is_some));
    // Each journals one consensus block per round and per own event (write
    // ahead), and one state block per round.
    for index in 0..4 {
        let cell = net.cell(index);
        let lengths = cell.journal_lengths();
        let created = net
            .observations
            .iter()
            .filter(|(c, o)| {
                c.as_usize() == index as usize && matches!(o, CellObservation::EventCreated { .. })
            })
            .count() as u64;
        assert_eq!(
            lengths[JournalKind::Consensus as usize],
            lengths[JournalKind::State as usize] + created
        );
        assert!(lengths[JournalKind::State as usize] > 0);
    }
}

#[test]
fn query_answer_verifies_and_tampering_is_caught() {
    let mut net = TestNet::new(4);
    net.input(
        CellIndex(0),
        Input::Command(CellCommand::Post {
            topic: "news".into(),
            content: b"first".to_vec(),
        }),
    );
    net.gossip(30);
    net.input(
        CellIndex(2),
        Input::Command(CellCommand::Query {
            to: CellIndex(0),
            topic: "news".into(),
        }),
    );
    net.settle();
    assert_eq!(
        net.count(|o| matches!(
            o,
            CellObservation::QueryAnswered {
                verified: true,
                items: 1
            }
        )),
        1
    );
    // Direct checks of the verifier on a real journal proof.
    let cell = net.cell(0);
    let key = *cell.keys().public();
    let set = cell.journals.borrow();
    let journal = set.as_ref().expect("open").journal(JournalKind::State);
    let length = journal.length();
    let (index, posts) = (0..length)
        .find_map(|index| {
            let block = journal.block(index).expect("stored");
            let posts = services::decode_state_posts(&block).expect("state block");
            (!posts.is_empty()).then_some((index, posts))
        })
        .expect("the post is in a state block");
    let proof = journal
        .range_proof(index, index + 1, length)
        .expect("in range")
        .to_bytes();
    let mut data = Writer::new();
    data.u32(1)
        .fixed(posts[0].0.as_bytes())
        .str(&posts[0].1)
        .bytes(&posts[0].2);
    let data = data.finish();
    assert_eq!(verify_query_answer(&key, "news", &data, &proof), (true, 1));
    let mut forged = data.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(
        !verify_query_answer(&key, "news", &forged, &proof).0,
        "forged content"
    );
    assert!(
        !verify_query_answer(&key, "sports", &data, &proof).0,
        "wrong topic"
    );
    let other = *net.cell(1).keys().public();
    assert!(
        !verify_query_answer(&other, "news", &data, &proof).0,
        "wrong journal key"
    );
    let verifier = JournalVerifier::new(key, JournalTag::named("state"));
    let decoded = crate::journal::RangeProof::from_bytes(&proof).expect("decodes");
    assert!(verifier.verify_range(&decoded).is_ok());
}

#[test]
fn exec_result_is_verified_and_paid_through_consensus() {
    let mut net = TestNet::new(4);
    net.input(
        CellIndex(1),
        Input::Command(CellCommand::Exec {
            to: CellIndex(2),
            task: ExecTask::HashChain {
                input: b"seed".to_vec(),
                iterations: 10,
            },
            max_payment: 5,
        }),
    );
    net.settle();
    let completed: Vec<_> = net
        .observations
        .iter()
        .filter_map(|(_, o)| match o {
            CellObservation::ExecCompleted { verified, charged } => Some((*verified, *charged)),
            _ => None,
        })
        .collect();
    assert_eq!(completed.len(), 1);
    assert!(completed[0].0, "the result equals the local run");
    let charged = completed[0].1;
    assert!(charged > 0 && charged <= 5);
    net.gossip(30);
    let payer = net.cell(1).keys().cell_id();
    let payee = net.cell(2).keys().cell_id();
    let ledger = net.cell(0).ledger();
    assert_eq!(ledger.balance(&payee), Some(1_000 + charged));
    assert_eq!(ledger.balance(&payer), Some(1_000 - charged - 1));
}

#[test]
fn restart_rebuilds_from_journals_and_catches_up() {
    let mut net = TestNet::new(4);
    for i in 0..4u32 {
        net.input(
            CellIndex(i),
            Input::Command(CellCommand::Transfer {
                to: CellIndex((i + 2) % 4),
                amount: 3,
                fee: 1,
            }),
        );
    }
    net.gossip(20);
    let before = net.cell(3).journal_lengths();
    let decided_before = net.cell(3).ledger().last_round().expect("decided");
    net.crash(3);
    net.gossip(10);
    net.restart(3);
    let recovered = net
        .observations
        .iter()
        .rev()
        .find_map(|(cell, o)| match o {
            CellObservation::Recovered {
                decided_rounds,
                journal_blocks,
            } if cell.0 == 3 => Some((*decided_rounds, *journal_blocks)),
            _ => None,
        })
        .expect("recovered");
    assert_eq!(
        u64::from(recovered.0),
        before[JournalKind::State as usize],
        "the rounds its journal holds, to be re-decided"
    );
    assert!(
        recovered.1 >= before.iter().sum::<u64>(),
        "nothing journaled is lost"
    );
    let after = net.cell(3).journal_lengths();
    for kind in JournalKind::ALL {
        assert!(after[kind as usize] >= before[kind as usize], "{kind:?}");
    }
    net.gossip(20);
    let hash = net.cell(0).ledger().state_hash();
    assert_eq!(net.cell(3).ledger().state_hash(), hash);
    assert!(net.cell(3).ledger().last_round().expect("decided") > decided_before);
    // Its next transfer uses the next nonce (recovered from the journal).
    net.input(
        CellIndex(3),
        Input::Command(CellCommand::Transfer {
            to: CellIndex(0),
            amount: 1,
            fee: 1,
        }),
    );
    net.gossip(20);
    let last_ordered = net.observations.iter().rev().find_map(|(cell, o)| match o {
        CellObservation::TxOrdered { applied, .. } if cell.0 == 0 => Some(*applied),
        _ => None,
    });
    assert_eq!(last_ordered, Some(true));
}

#[test]
fn wire_sizes_are_realistic_and_digests_stable() {
    use crate::node::Payload;
    let frontier = Arc::new(crate::hashgraph::Frontier {
        counts: vec![3, 1, 4, 1],
        fingerprints: vec![7, 7, 7, 7],
        branch_tips: vec![EventHash([5; 32])],
    });
    let event = signed_event(&CellKeys::for_simulated_cell(SEED, 0), 0, None, None, 5);
    let shared_bytes = event.encode().len() as u32;
    let events: Arc<[WireEvent]> = vec![
        WireEvent::Raw(vec![1u8; 500].into()),
        WireEvent::Shared(Arc::new(event)),
    ]
    .into();
    let table: Vec<(CellWire, u32)> = vec![
        (
            CellWire::SyncRequest {
                frontier: frontier.clone(),
            },
            16 + 32 + 32 + 8,
        ),
        (
            CellWire::SyncResponse {
                events: events.clone(),
                frontier,
                tip: Some(EventHash([6; 32])),
            },
            500 + shared_bytes + 16 + 32 + 32 + 32 + 8,
        ),
        (CellWire::SyncPush { events }, 500 + shared_bytes + 8),
        (
            CellWire::Direct {
                encoded: vec![7u8; 300].into(),
            },
            300 + 8,
        ),
    ];
    for (wire, bytes) in &table {
        assert_eq!(wire.wire_bytes(), *bytes, "{wire:?}");
        assert_eq!(wire.digest(), wire.clone().digest());
    }
    let digests: std::collections::BTreeSet<u64> =
        table.iter().map(|(wire, _)| wire.digest()).collect();
    assert_eq!(
        digests.len(),
        table.len(),
        "different messages, different digests"
    );
}

/// An event by `creator` signed with `keys` (the creator's, or not).
fn signed_event(
    keys: &CellKeys,
    creator: u32,
    self_parent: Option<EventHash>,
    other_parent: Option<EventHash>,
    timestamp_ns: TimeNs,
) -> Event {
    Event::sign(
        EventBody {
            creator,
            self_parent,
            other_parent,
            timestamp_ns,
            transactions: vec![b"not a message".to_vec()],
        },
        keys,
    )
}

/// Deliver `events` to `to` as a sync push from `from`.
fn push(net: &mut TestNet, from: u32, to: u32, events: Vec<WireEvent>) {
    net.input(
        CellIndex(to),
        Input::Deliver {
            from: CellIndex(from),
            message: CellWire::SyncPush {
                events: events.into(),
            },
        },
    );
}

/// The last block of `cell`'s message journal: (direction, status, peer,
/// reason, bytes).
fn last_message_entry(net: &TestNet, cell: u32) -> (u8, u8, u32, String, Vec<u8>) {
    let cell = net.cell(cell);
    let set = cell.journals.borrow();
    let journal = set.as_ref().expect("open").journal(JournalKind::Message);
    let block = journal
        .block(journal.length() - 1)
        .expect("a journaled block")
        .into_owned();
    let mut reader = crate::codec::Reader::new(&block);
    (
        reader.u8("direction").expect("entry"),
        reader.u8("status").expect("entry"),
        reader.u32("peer").expect("entry"),
        reader.str("reason", 256).expect("entry").to_owned(),
        reader
            .bytes("bytes", crate::hashgraph::event::EVENT_BYTES_MAX)
            .expect("entry")
            .to_vec(),
    )
}

/// Whether `cell` has learned `hash` (its recording holds what it learned).
fn learned(net: &TestNet, cell: u32, hash: &EventHash) -> bool {
    net.cell(cell)
        .consensus_recording()
        .expect("recording")
        .events
        .iter()
        .any(|recorded| recorded.hash == *hash)
}

/// Three cells that have gossiped a little; then cell 0 syncs with cell 1,
/// so that cell 0 knows cell 1's latest event.
fn n3_after_gossip() -> TestNet {
    let mut net = TestNet::with_recording(3, true);
    net.gossip(3);
    net.request_sync(CellIndex(0), CellIndex(1));
    net.settle();
    net
}

/// The latest event `creator` made (the last of its own its recording
/// learned).
fn latest_of(net: &TestNet, creator: u32) -> (EventHash, TimeNs) {
    let recording = net.cell(creator).consensus_recording().expect("recording");
    let event = recording
        .events
        .iter()
        .rev()
        .find(|recorded| recorded.event.creator() == creator)
        .expect("a created event");
    (event.hash, event.event.timestamp_ns())
}

#[test]
fn bad_events_are_rejected_typed_counted_journaled_and_never_learned() {
    let mut net = n3_after_gossip();
    let keys1 = CellKeys::for_simulated_cell(SEED, 1);
    let keys2 = CellKeys::for_simulated_cell(SEED, 2);
    let (latest1, time1) = latest_of(&net, 1);
    let (latest0, time0) = latest_of(&net, 0);
    let next_time = time0.max(time1) + 1;
    // Cell 2 makes an event that cell 0 has not heard of.
    net.request_sync(CellIndex(2), CellIndex(1));
    net.settle();
    let (unheard, _) = latest_of(&net, 2);
    assert!(!learned(&net, 0, &unheard));
    // (a) Valid structure, known parents, signed by the wrong key.
    let forged = signed_event(&keys2, 1, Some(latest1), Some(latest0), next_time);
    // A mutated honest event: the original signature over a changed body.
    let mutated = {
        let honest = signed_event(&keys1, 1, Some(latest1), Some(latest0), next_time);
        let mut body = honest.body().clone();
        body.timestamp_ns += 1;
        Event::from_parts(body, *honest.signature())
    };
    let over_limits = {
        let mut body = forged.body().clone();
        body.transactions = vec![vec![0; crate::hashgraph::event::TRANSACTION_BYTES_MAX + 1]];
        Event::from_parts(body, *forged.signature())
    };
    let table: Vec<(&str, WireEvent, &str)> = vec![
        (
            "forged, raw",
            WireEvent::Raw(forged.encode().into()),
            "event: bad signature",
        ),
        (
            "forged, shared",
            WireEvent::Shared(Arc::new(forged.clone())),
            "event: bad signature",
        ),
        (
            "mutated, raw",
            WireEvent::Raw(mutated.encode().into()),
            "event: bad signature",
        ),
        // (b) Bytes that are no event.
        (
            "garbage",
            WireEvent::Raw(vec![0xff, 1, 2, 3, 4, 5].into()),
            "event: undecodable",
        ),
        (
            "truncated",
            WireEvent::Raw(forged.encode()[..40].to_vec().into()),
            "event: undecodable",
        ),
        (
            "too large, raw",
            WireEvent::Raw(vec![0; crate::hashgraph::event::EVENT_BYTES_MAX + 1].into()),
            "event: too large",
        ),
        (
            "over the transaction limit, shared",
            WireEvent::Shared(Arc::new(over_limits)),
            "event: too large",
        ),
        // (c) A parent cell 0 does not know: one in the store, one nowhere.
        (
            "unheard parent",
            WireEvent::Raw(
                signed_event(&keys1, 1, Some(latest1), Some(unheard), next_time)
                    .encode()
                    .into(),
            ),
            "event: unknown parent",
        ),
        (
            "parent nowhere",
            WireEvent::Shared(Arc::new(signed_event(
                &keys1,
                1,
                Some(latest1),
                Some(EventHash([9; 32])),
                next_time,
            ))),
            "event: unknown parent",
        ),
        // (d) A creator index at the member count.
        (
            "creator 3 of 3",
            WireEvent::Raw(
                signed_event(&keys1, 3, None, Some(latest0), next_time)
                    .encode()
                    .into(),
            ),
            "event: unknown creator",
        ),
    ];
    let journaled_before = net.cell(0).journal_lengths()[JournalKind::Message as usize];
    let learned_before = net.cell(0).consensus_recording().unwrap().events.len();
    for (count, (name, wire, reason)) in table.iter().enumerate() {
        push(&mut net, 1, 0, vec![wire.clone()]);
        assert_eq!(
            net.observations.last().map(|(cell, o)| (cell.0, o.clone())),
            Some((0, CellObservation::MessageRejected { reason })),
            "{name}"
        );
        let journaled = net.cell(0).journal_lengths()[JournalKind::Message as usize];
        assert_eq!(journaled, journaled_before + count as u64 + 1, "{name}");
        let (direction, status, peer, journaled_reason, bytes) = last_message_entry(&net, 0);
        let sent = match wire {
            WireEvent::Raw(bytes) => bytes.to_vec(),
            WireEvent::Shared(event) => event.encode(),
        };
        assert_eq!(
            (direction, status, peer),
            (0, 1, 1),
            "{name}: in, rejected, from 1"
        );
        assert_eq!(journaled_reason, *reason, "{name}");
        assert!(sent.starts_with(&bytes), "{name}: the event's bytes");
        if sent.len() + 14 + reason.len() <= crate::journal::MAX_BLOCK_LEN {
            assert_eq!(bytes.len(), sent.len(), "{name}: all of them");
        } else {
            // Cut to what fits one journal block with the entry's header.
            assert_eq!(
                bytes.len(),
                crate::journal::MAX_BLOCK_LEN - (14 + reason.len()),
                "{name}"
            );
        }
        if let Ok(event) = Event::decode(&sent) {
            assert!(!learned(&net, 0, &event.hash()), "{name}: not in the view");
        }
    }
    assert_eq!(
        net.cell(0).consensus_recording().unwrap().events.len(),
        learned_before,
        "nothing rejected entered the store"
    );
    let rejections = net.cell(0).rejections();
    for reason in [
        "event: bad signature",
        "event: undecodable",
        "event: too large",
        "event: unknown parent",
        "event: unknown creator",
    ] {
        let expected = table.iter().filter(|(_, _, r)| *r == reason).count() as u64;
        assert_eq!(rejections.get(reason), Some(&expected), "{reason}");
    }
    assert_eq!(rejections.values().sum::<u64>(), table.len() as u64);
    push(&mut net, 1, 2, vec![WireEvent::Raw(forged.encode().into())]);
    assert_eq!(
        net.cell(2).rejections().get("event: bad signature"),
        Some(&1)
    );
}

#[test]
fn a_rejected_event_drops_the_rest_of_its_batch_as_one_rejection() {
    let mut net = n3_after_gossip();
    let keys1 = CellKeys::for_simulated_cell(SEED, 1);
    let keys2 = CellKeys::for_simulated_cell(SEED, 2);
    let (latest1, time1) = latest_of(&net, 1);
    let (latest0, time0) = latest_of(&net, 0);
    let forged = signed_event(
        &keys2,
        1,
        Some(latest1),
        Some(latest0),
        time0.max(time1) + 1,
    );
    // A validly signed child of the forged event, and garbage.
    let child = signed_event(
        &keys1,
        1,
        Some(forged.hash()),
        Some(latest0),
        time0.max(time1) + 2,
    );
    push(
        &mut net,
        1,
        0,
        vec![
            WireEvent::Shared(Arc::new(forged)),
            WireEvent::Shared(Arc::new(child.clone())),
            WireEvent::Raw(vec![0xff].into()),
        ],
    );
    let rejections = net.cell(0).rejections();
    assert_eq!(rejections.get("event: bad signature"), Some(&1));
    assert_eq!(
        rejections.values().sum::<u64>(),
        1,
        "one rejection per batch"
    );
    assert!(!learned(&net, 0, &child.hash()));
}

#[test]
fn a_validly_signed_event_its_creator_never_made_is_accepted_and_served() {
    let mut net = n3_after_gossip();
    let keys1 = CellKeys::for_simulated_cell(SEED, 1);
    let (latest1, time1) = latest_of(&net, 1);
    let (latest0, time0) = latest_of(&net, 0);
    // Cell 1's key signs an event that cell 1's own code never made.
    let foreign = signed_event(
        &keys1,
        1,
        Some(latest1),
        Some(latest0),
        time0.max(time1) + 1,
    );
    let hash = foreign.hash();
    push(
        &mut net,
        1,
        0,
        vec![WireEvent::Raw(foreign.encode().into())],
    );
    assert!(net.cell(0).rejections().is_empty());
    assert!(learned(&net, 0, &hash));
    assert_eq!(
        latest_of(&net, 1).0,
        latest1,
        "cell 1's own chain is its own: the event is not on it"
    );
    // Others now learn it from cell 0 like any other event.
    net.request_sync(CellIndex(2), CellIndex(0));
    net.settle();
    assert!(learned(&net, 2, &hash));
    assert!(net.cell(2).rejections().is_empty());
}

#[test]
fn honest_events_sent_raw_are_learned_exactly_as_shared_ones() {
    // Two identical worlds; in the second, cell 1's sync response to cell 0
    // travels as bytes.
    let run = |raw: bool| {
        let mut net = TestNet::with_recording(4, true);
        for i in 1..4u32 {
            net.input(
                CellIndex(i),
                Input::Command(CellCommand::Transfer {
                    to: CellIndex(0),
                    amount: 5,
                    fee: 1,
                }),
            );
        }
        // Cells 1-3 gossip among themselves; cell 0 hears none of it.
        for _ in 0..3 {
            for i in 1..4u32 {
                net.request_sync(CellIndex(i), CellIndex(1 + i % 3));
                net.settle();
            }
        }
        net.request_sync(CellIndex(0), CellIndex(1));
        let (from, to, request) = net.queue.pop_front().expect("the sync request");
        net.input(
            to,
            Input::Deliver {
                from,
                message: request,
            },
        );
        let (from, to, response) = net.queue.pop_front().expect("the sync response");
        let CellWire::SyncResponse {
            events,
            frontier,
            tip,
        } = response
        else {
            panic!("a sync response");
        };
        assert!(events.len() > 3, "a sync of several events");
        let events: Arc<[WireEvent]> = events
            .iter()
            .map(|wire| match wire {
                WireEvent::Shared(event) if raw => WireEvent::Raw(event.encode().into()),
                other => other.clone(),
            })
            .collect();
        net.input(
            to,
            Input::Deliver {
                from,
                message: CellWire::SyncResponse {
                    events,
                    frontier,
                    tip,
                },
            },
        );
        net.gossip(4);
        let recording = net
            .cell(0)
            .consensus_recording()
            .expect("recording")
            .clone();
        let learned: Vec<EventHash> = recording.events.iter().map(|e| e.hash).collect();
        let rejections = net.cell(0).rejections();
        (
            net.observations,
            learned,
            recording.ordered,
            net.cpu_ns,
            rejections,
        )
    };
    let shared = run(false);
    let raw = run(true);
    assert!(shared.4.is_empty() && raw.4.is_empty(), "nothing rejected");
    assert_eq!(shared.1, raw.1, "the same events learned in the same order");
    assert_eq!(shared.2, raw.2, "the same order decided");
    assert_eq!(shared.0, raw.0, "the same observations");
    assert_eq!(shared.3, raw.3, "the same CPU charged");
}

#[test]
fn sync_digest_covers_every_event() {
    use crate::node::Payload;
    let keys = CellKeys::for_simulated_cell(SEED, 0);
    let events: Vec<Arc<Event>> = (0..4)
        .map(|time| Arc::new(signed_event(&keys, 0, None, None, time)))
        .collect();
    let sync = |middle: usize, raw: bool| -> Vec<CellWire> {
        let wire: Arc<[WireEvent]> = [0, middle, 3]
            .iter()
            .map(|&index| {
                if raw {
                    WireEvent::Raw(events[index].encode().into())
                } else {
                    WireEvent::Shared(events[index].clone())
                }
            })
            .collect();
        vec![
            CellWire::SyncPush {
                events: wire.clone(),
            },
            CellWire::SyncResponse {
                events: wire,
                frontier: Arc::new(crate::hashgraph::Frontier {
                    counts: vec![1, 2],
                    fingerprints: vec![3, 4],
                    branch_tips: Vec::new(),
                }),
                tip: None,
            },
        ]
    };
    for raw in [false, true] {
        for (one, other) in sync(1, raw).iter().zip(sync(2, raw)) {
            assert_ne!(one.digest(), other.digest(), "raw {raw}: {one:?}");
            assert_eq!(one.wire_bytes(), other.wire_bytes());
        }
    }
    // Order matters too.
    let forward: Arc<[WireEvent]> = events.iter().cloned().map(WireEvent::Shared).collect();
    let backward: Arc<[WireEvent]> = events
        .iter()
        .rev()
        .cloned()
        .map(WireEvent::Shared)
        .collect();
    assert_ne!(
        CellWire::SyncPush { events: forward }.digest(),
        CellWire::SyncPush { events: backward }.digest()
    );
}

mod byzantine_bytes {
    //! Byzantine bytes never panic an honest cell: mutated events (raw and
    //! as pointers), mutated direct messages and forged frontiers, fed
    //! through the wire, are rejected or ignored, and the cell goes on.
    use super::*;
    use proptest::prelude::*;

    /// A network whose cell 1 has a real event and cell 0 a real message
    /// to mutate.
    fn material() -> (TestNet, Vec<u8>, Vec<u8>) {
        let mut net = n3_after_gossip();
        let (latest, _) = latest_of(&net, 1);
        let event = net
            .cell(1)
            .consensus_recording()
            .unwrap()
            .events
            .iter()
            .find(|recorded| recorded.hash == latest)
            .unwrap()
            .event
            .encode();
        net.input(
            CellIndex(0),
            Input::Command(CellCommand::Chat {
                to: CellIndex(2),
                text: "hello".into(),
            }),
        );
        let message = net
            .queue
            .iter()
            .find_map(|(_, _, wire)| match wire {
                CellWire::Direct { encoded } => Some(encoded.to_vec()),
                _ => None,
            })
            .expect("the chat is in flight");
        net.settle();
        (net, event, message)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn mutated_bytes_never_panic_a_cell(
            flips in proptest::collection::vec((any::<u16>(), 1u8..=255), 1..4),
            cut in any::<u16>(),
            counts in proptest::collection::vec(any::<u32>(), 0..6),
            tips in proptest::collection::vec(any::<[u8; 32]>(), 0..3),
        ) {
            let (mut net, event, message) = material();
            let mutate = |bytes: &[u8]| {
                let mut bytes = bytes.to_vec();
                for &(at, mask) in &flips {
                    let at = at as usize % bytes.len();
                    bytes[at] ^= mask;
                }
                bytes.truncate(bytes.len() - (cut as usize % 3).min(bytes.len()));
                bytes
            };
            let rejected_before = net.cell(2).rejections().values().sum::<u64>();
            let mutated_event = mutate(&event);
            push(&mut net, 1, 2, vec![WireEvent::Raw(mutated_event.clone().into())]);
            if let Ok(decoded) = Event::decode(&mutated_event) {
                push(&mut net, 1, 2, vec![WireEvent::Shared(Arc::new(decoded))]);
            }
            net.input(CellIndex(2), Input::Deliver {
                from: CellIndex(0),
                message: CellWire::Direct { encoded: mutate(&message).into() },
            });
            let frontier = Arc::new(crate::hashgraph::Frontier {
                fingerprints: counts.iter().map(|&c| u64::from(c)).collect(),
                counts,
                branch_tips: tips.into_iter().map(EventHash).collect(),
            });
            net.input(CellIndex(2), Input::Deliver {
                from: CellIndex(1),
                message: CellWire::SyncRequest { frontier: frontier.clone() },
            });
            net.input(CellIndex(2), Input::Deliver {
                from: CellIndex(1),
                message: CellWire::SyncResponse { events: Vec::new().into(), frontier, tip: Some(EventHash([1; 32])) },
            });
            net.settle();
            // The cell still works: it gossips and decides on.
            let decided = |net: &TestNet| {
                net.count(|o| matches!(o, CellObservation::RoundDecided { .. }))
            };
            let rounds_before = decided(&net);
            net.gossip(6);
            prop_assert!(decided(&net) > rounds_before);
            // Bytes that differ from the signed event cannot pass as it:
            // the cell rejected something, with a typed reason.
            if mutated_event != event {
                prop_assert!(net.cell(2).rejections().values().sum::<u64>() > rejected_before);
            }
        }
    }
}

mod gossip_policy {
    //! The scenario's `[consensus]` knobs ([`GossipPolicy`]), each shown to
    //! change what it names and nothing it does not.
    use super::*;

    /// A network of `count` recording cells, each adjusted by `adjust`.
    fn net_with(count: u32, adjust: impl Fn(&mut CellConfig)) -> TestNet {
        TestNet::configured(count, |config| {
            config.record_consensus = true;
            adjust(config);
        })
    }

    fn with_policy(count: u32, policy: GossipPolicy) -> TestNet {
        net_with(count, |config| config.gossip = policy)
    }

    /// What crossed the wire while settling: sync responses and pushes,
    /// with the events each carried.
    #[derive(Default)]
    struct Wire {
        responses: Vec<usize>,
        pushes: Vec<usize>,
    }

    /// [`TestNet::gossip`], counting what crosses the wire.
    fn gossip_counting(net: &mut TestNet, rounds: u32, wire: &mut Wire) {
        let count = net.cells.len() as u32;
        for round in 0..rounds {
            for index in 0..count {
                let peer = CellIndex((index + 1 + round % (count - 1)) % count);
                net.request_sync(CellIndex(index), peer);
            }
            while let Some((from, to, message)) = net.queue.pop_front() {
                match &message {
                    CellWire::SyncResponse { events, .. } => wire.responses.push(events.len()),
                    CellWire::SyncPush { events } => wire.pushes.push(events.len()),
                    _ => {}
                }
                net.input(to, Input::Deliver { from, message });
            }
        }
    }

    fn decided_rounds(net: &TestNet) -> usize {
        net.count(|o| matches!(o, CellObservation::RoundDecided { .. }))
    }

    /// The peers cell 0 starts syncs with over `timers` gossip timers, with
    /// every other cell as a peer (the syncs are not answered).
    fn sync_targets(net: &mut TestNet, timers: usize) -> Vec<u32> {
        let mut targets = Vec::new();
        for _ in 0..timers {
            net.input(CellIndex(0), Input::Timer(GOSSIP_TIMER));
            for (_, to, message) in net.queue.drain(..) {
                if matches!(message, CellWire::SyncRequest { .. }) {
                    targets.push(to.0);
                }
            }
        }
        targets
    }

    #[test]
    fn the_default_policy_is_the_protocol_as_it_ran() {
        let policy = GossipPolicy::default();
        assert_eq!(policy.sync, SyncMode::PushPull);
        assert_eq!(policy.peer_selection, PeerSelection::Random);
        assert_eq!(policy.events_per_sync_max, None);
        // The constant events were filled by before the knob.
        assert_eq!(policy.transactions_per_event_max, 256);
        assert_eq!(policy.transaction_bytes_per_event_max, 1_000_000);
    }

    #[test]
    fn pull_sends_no_sync_push_and_still_decides() {
        let mut pushed = Wire::default();
        let mut net = with_policy(4, GossipPolicy::DEFAULT);
        gossip_counting(&mut net, 12, &mut pushed);
        assert!(
            pushed.pushes.iter().any(|&events| events > 0),
            "push-pull pushes back"
        );
        let mut pulled = Wire::default();
        let policy = GossipPolicy {
            sync: SyncMode::Pull,
            ..GossipPolicy::DEFAULT
        };
        let mut net = with_policy(4, policy);
        gossip_counting(&mut net, 12, &mut pulled);
        assert!(pulled.pushes.is_empty(), "{} pushes", pulled.pushes.len());
        assert_eq!(pulled.responses.len(), 48, "every sync is answered");
        assert!(decided_rounds(&net) > 0, "pull alone decides rounds");
    }

    #[test]
    fn least_recent_visits_every_peer_before_repeating_and_forgets_on_restart() {
        let policy = GossipPolicy {
            peer_selection: PeerSelection::LeastRecent,
            ..GossipPolicy::DEFAULT
        };
        let mut net = with_policy(5, policy);
        let cycle = [1, 2, 3, 4];
        assert_eq!(sync_targets(&mut net, 12), cycle.repeat(3));
        // A peer synced with otherwise (a narrower neighbourhood) counts:
        // cell 2 is now the most recent, so 1, 3, 4 come first.
        net.request_sync(CellIndex(0), CellIndex(2));
        net.queue.clear();
        assert_eq!(sync_targets(&mut net, 4), [1, 3, 4, 2]);
        // The memory is volatile: a restarted cell starts from the lowest.
        net.crash(0);
        net.restart(0);
        net.queue.clear();
        assert_eq!(sync_targets(&mut net, 4), cycle);
        // The random pick does not cycle.
        let mut random = with_policy(5, GossipPolicy::DEFAULT);
        assert_ne!(sync_targets(&mut random, 12), cycle.repeat(3));
    }

    #[test]
    fn stake_weighted_picks_a_heavy_member_in_proportion_to_its_stake() {
        // Cell 4 holds 12 of the 15 units of stake among cell 0's peers:
        // picked 80 % of the time, where a uniform pick gives 25 %.
        let stakes = [1, 1, 1, 1, 12];
        let stake_net = |selection: PeerSelection| {
            net_with(5, |config| {
                config.members = Arc::new(
                    config
                        .members
                        .iter()
                        .zip(stakes)
                        .map(|(member, stake)| MemberInfo::new(member.public_key, stake))
                        .collect(),
                );
                config.gossip.peer_selection = selection;
            })
        };
        let heavy = |targets: &[u32]| targets.iter().filter(|&&cell| cell == 4).count();
        let timers = 400;
        let mut net = stake_net(PeerSelection::StakeWeighted);
        let targets = sync_targets(&mut net, timers);
        assert_eq!(targets.len(), timers);
        // Expected 320 (sd 8); uniform: 100 (sd 8.7).
        assert!(
            heavy(&targets) > 280,
            "heavy member {} of {timers}",
            heavy(&targets)
        );
        assert!(
            heavy(&targets) < 360,
            "heavy member {} of {timers}",
            heavy(&targets)
        );
        for light in 1..4 {
            assert!(targets.contains(&light), "cell {light} is still picked");
        }
        let mut net = stake_net(PeerSelection::Random);
        let uniform = sync_targets(&mut net, timers);
        assert!(heavy(&uniform) < 150, "uniform: {}", heavy(&uniform));
    }

    #[test]
    fn draws_below_a_bound_past_64_bits_stay_in_range() {
        let mut rng = rng::stream(SEED, "test", 0);
        let bound = (1u128 << 80) + 3;
        for _ in 0..100 {
            assert!(below_u128(&mut rng, bound) < bound);
        }
        assert!(below_u128(&mut rng, 7) < 7);
    }

    #[test]
    fn max_events_per_sync_caps_responses_and_pushes() {
        let policy = GossipPolicy {
            events_per_sync_max: Some(1),
            ..GossipPolicy::DEFAULT
        };
        let mut capped = Wire::default();
        let mut net = with_policy(4, policy);
        gossip_counting(&mut net, 30, &mut capped);
        let all = capped.responses.iter().chain(&capped.pushes);
        assert!(all.clone().all(|&events| events <= 1));
        assert!(all.clone().any(|&events| events == 1));
        let capped_rounds = decided_rounds(&net);
        let mut whole = Wire::default();
        let mut net = with_policy(4, GossipPolicy::DEFAULT);
        gossip_counting(&mut net, 30, &mut whole);
        assert!(whole.responses.iter().any(|&events| events > 1));
        assert!(
            capped_rounds < decided_rounds(&net),
            "capped {capped_rounds} vs {}",
            decided_rounds(&net)
        );
    }

    /// Transactions per event of every event the cells created.
    fn transactions_per_event(net: &TestNet) -> Vec<u32> {
        net.observations
            .iter()
            .filter_map(|(_, observation)| match observation {
                CellObservation::EventCreated { transactions } => Some(*transactions),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn max_transactions_per_event_1_puts_one_tx_in_each_event() {
        let submit = |net: &mut TestNet| {
            for _ in 0..5 {
                net.input(
                    CellIndex(0),
                    Input::Command(CellCommand::Transfer {
                        to: CellIndex(1),
                        amount: 7,
                        fee: 1,
                    }),
                );
            }
            net.gossip(30);
        };
        let policy = GossipPolicy {
            transactions_per_event_max: 1,
            ..GossipPolicy::DEFAULT
        };
        let mut net = with_policy(4, policy);
        submit(&mut net);
        let per_event = transactions_per_event(&net);
        assert!(per_event.iter().all(|&count| count <= 1), "{per_event:?}");
        assert_eq!(per_event.iter().sum::<u32>(), 5);
        let ordered = net.count(|o| matches!(o, CellObservation::TxOrdered { applied: true, .. }));
        assert_eq!(ordered, 5 * 4, "every cell orders all five");
        let mut net = with_policy(4, GossipPolicy::DEFAULT);
        submit(&mut net);
        assert!(transactions_per_event(&net).contains(&5));
    }

    #[test]
    fn max_event_bytes_bounds_each_event_and_refuses_a_longer_transaction() {
        let post = |net: &mut TestNet, content_bytes: usize| {
            net.input(
                CellIndex(0),
                Input::Command(CellCommand::Post {
                    topic: "bytes".into(),
                    content: vec![7; content_bytes],
                }),
            );
        };
        // One post's encoded length.
        let mut probe = with_policy(2, GossipPolicy::DEFAULT);
        post(&mut probe, 100);
        probe.gossip(1);
        let recording = probe.cell(0).consensus_recording().unwrap();
        let length = recording
            .events
            .iter()
            .find_map(|recorded| recorded.event.transactions().first().map(Vec::len))
            .expect("the post is in an event");
        drop(recording);
        // Room for two posts, not three.
        let policy = GossipPolicy {
            transaction_bytes_per_event_max: (2 * length + length / 2) as u32,
            ..GossipPolicy::DEFAULT
        };
        let mut net = with_policy(4, policy);
        for at in 0..6 {
            if at == 2 {
                // Longer than any event may carry: refused, counted, and
                // the queue behind it goes on.
                post(&mut net, 3 * length);
            }
            post(&mut net, 100);
        }
        net.gossip(30);
        let per_event = transactions_per_event(&net);
        assert!(per_event.iter().all(|&count| count <= 2), "{per_event:?}");
        assert_eq!(per_event.iter().filter(|&&count| count == 2).count(), 3);
        let rejections = net.cell(0).rejections();
        assert_eq!(
            rejections.get(GossipPolicy::OVERSIZED_TRANSACTION),
            Some(&1)
        );
        assert!(net.observed(
            0,
            &CellObservation::MessageRejected {
                reason: GossipPolicy::OVERSIZED_TRANSACTION
            }
        ));
        for index in 0..4 {
            let posts = net.cell(index).ledger().posts_by_topic("bytes").count();
            assert_eq!(posts, 6, "cell {index}");
        }
    }
}
