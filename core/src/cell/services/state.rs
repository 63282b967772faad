//! StateService: the ledger in consensus order, the state journal, QUERY and EXEC.

use std::collections::BTreeMap; // tidy: lookup-only (seen transactions, visited events)
use std::sync::Arc;

use crate::bus::{Service, ServiceSpec};
use crate::codec::{Reader, Writer};
use crate::hashgraph::OrderedEvent;
use crate::identity::CellId;
use crate::identity::PublicKey;
use crate::journal::{JournalTag, JournalVerifier, RangeProof};
use crate::ledger::{
    Ledger, LedgerTx, LedgerTxKind, OrderedItem, PostTx, RoundContext, RoundOutcome,
};
use crate::market::{LeaseEventKind, LeaseMarket, storage_block};
use crate::message::{
    Body, Exec, Message, QUERY_DATA_LEN_MAX, QUERY_PROOF_LEN_MAX, Query, QueryTarget, TxKind,
};
use crate::node::CellIndex;

use crate::cell::api::CellObservation;
use crate::cell::env::EnvironmentHandle;
use crate::cell::protocol::{
    CellError, CellEvent, CellProtocol, CellRequest, CellResponse, JournalKind, RoundOrdered, cost,
};
use crate::cell::shared::{Directory, IoHandle, JournalReader};
use std::cell::RefCell;
use std::rc::Rc;

use super::{CallResult, Ctx, NucleusService, append, misrouted};

/// Applies each ordered round to the PRANA ledger and the POST dataset,
/// journals the state history (one block per round, with the round's posts),
/// and answers QUERY (posts with a journal proof) and EXEC requests.
pub struct StateService {
    /// The member directory ([`crate::cell::CellConfig::members`]).
    members: Arc<Directory>,
    /// This cell's index.
    me: CellIndex,
    /// Decodes and verifies each consensus transaction (a host may do it
    /// once for all its cells).
    environment: EnvironmentHandle,
    io: IoHandle,
    journals: JournalReader,
    ledger: Rc<RefCell<Ledger>>,
    /// Transactions ordered so far (positions of `TxOrdered`).
    ordered_transactions: u64,
    /// State journal blocks already written (replayed rounds are checked
    /// against them instead).
    journaled_rounds: u64,
    /// Open EXEC requests by task id: the task and its executor.
    exec_requests: BTreeMap<u64, (crate::message::ExecTask, CellIndex)>,
    /// Open QUERY requests by id: the cell and topic asked.
    queries: BTreeMap<u64, (CellIndex, String)>,
    next_request_id: u64,
}

/// Most posts one QUERY asks for.
pub const QUERY_ANSWER_POSTS_MAX: u32 = 64;

/// What an EXEC costs per work unit, in PRANA.
pub const EXEC_PRICE_PER_WORK_UNIT: u64 = 1;

impl StateService {
    pub const NAME: &'static str = "state";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME)
            .depends_on(NucleusService::NAME)
            .action("state.query")
            .action("state.exec")
            .subscribe("consensus.round")
            .subscribe("message.inbound")
    }

    pub fn new(
        members: Arc<Directory>,
        me: CellIndex,
        environment: EnvironmentHandle,
        io: IoHandle,
        journals: JournalReader,
        ledger: Rc<RefCell<Ledger>>,
    ) -> Self {
        let journaled_rounds = journals.with(JournalKind::State, |journal| journal.length());
        StateService {
            members,
            me,
            environment,
            io,
            journals,
            ledger,
            ordered_transactions: 0,
            journaled_rounds,
            exec_requests: BTreeMap::new(),
            queries: BTreeMap::new(),
            next_request_id: 0,
        }
    }

    /// A new request id (query or exec), unique within this cell's life:
    /// restarts continue from the message journal's length.
    fn next_id(&mut self) -> u64 {
        let base = self
            .journals
            .with(JournalKind::Message, |journal| journal.length());
        self.next_request_id += 1;
        (base << 20) | self.next_request_id
    }

    fn apply_round(&mut self, round: &RoundOrdered, ctx: &mut Ctx<'_>) {
        let mut items = Vec::new();
        let mut tx_slots: Vec<(usize, [u8; 32], &OrderedEvent)> = Vec::new();
        {
            let environment = &self.environment;
            for ordered in &round.events {
                for bytes in ordered.event.transactions() {
                    let Some(message) = environment.transaction(bytes) else {
                        continue;
                    };
                    let item = match &message.body {
                        Body::Tx(tx) => OrderedItem::Tx(LedgerTx {
                            id: message.hash(),
                            sender: message.sender,
                            nonce: tx.nonce,
                            fee: tx.fee,
                            kind: ledger_kind(&tx.kind, &message.proof.public_key),
                        }),
                        Body::Post(post) => OrderedItem::Post(PostTx {
                            author: message.sender,
                            topic: post.topic.clone(),
                            content: post.content.clone(),
                        }),
                        _ => continue,
                    };
                    if matches!(item, OrderedItem::Tx(_)) {
                        tx_slots.push((items.len(), message.hash(), ordered));
                    }
                    items.push(item);
                }
            }
        }
        let context = RoundContext {
            round: u64::from(round.round),
            consensus_time_ns: round
                .events
                .iter()
                .map(|ordered| ordered.consensus_timestamp_ns)
                .max()
                .unwrap_or(0),
            randomness: round.order_digest,
            fee_payees: round
                .unique_famous_creators
                .iter()
                .filter_map(|&creator| self.members.get(creator as usize).map(|m| m.cell_id))
                .collect(),
        };
        ctx.charge_cpu(cost::LEDGER_ITEM_NS * items.len() as u64);
        let outcome = self
            .ledger
            .borrow_mut()
            .apply_round(&context, &items)
            .expect("consensus rounds strictly increase and carry bounded items");

        self.serve_markets(round, &outcome, ctx);
        // Not applied: refused, or still waiting for the sender's earlier
        // nonces (applied in a later round, if at all).
        let rejected: std::collections::BTreeSet<usize> = outcome
            .rejected
            .iter()
            .map(|(index, _)| *index)
            .chain(outcome.held.iter().copied())
            .collect();
        if !round.replayed {
            for (index, tx, ordered) in &tx_slots {
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::TxOrdered {
                        tx: *tx,
                        round_received: ordered.round_received,
                        consensus_timestamp_ns: ordered.consensus_timestamp_ns,
                        position: self.ordered_transactions,
                        applied: !rejected.contains(index),
                    });
                self.ordered_transactions += 1;
            }
        } else {
            self.ordered_transactions += tx_slots.len() as u64;
        }
        // The state history: round, state hash, and the round's posts (what
        // QUERY answers prove).
        let mut writer = Writer::new();
        writer
            .u32(round.round)
            .fixed(&outcome.state_hash)
            .u64(round.ordered_events)
            .u32(outcome.posts.len() as u32);
        let ledger = self.ledger.borrow();
        for id in &outcome.posts {
            let post = ledger.post(id).expect("an applied post is in the dataset");
            writer
                .fixed(post.author.as_bytes())
                .str(&post.topic)
                .bytes(&post.content);
        }
        drop(ledger);
        let block = writer.finish();
        if u64::from(round.round) < self.journaled_rounds {
            let journaled = self
                .journals
                .with(JournalKind::State, |journal| {
                    journal
                        .block(u64::from(round.round))
                        .map(|b| b.into_owned())
                })
                .expect("a journaled round is stored");
            if journaled != block {
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::ReplayDiverged {
                        round: round.round,
                        journal: "state",
                    });
            }
        } else {
            append(ctx, JournalKind::State, block);
        }
        if !round.replayed {
            self.io
                .borrow_mut()
                .observations
                .push(CellObservation::RoundDecided {
                    round: round.round,
                    ordered_events: round.ordered_events,
                    order_digest: round.order_digest,
                    state_hash: outcome.state_hash,
                    events: round.hashes.clone(),
                    election_rounds: round.election_rounds,
                    unique_famous_creators: round.unique_famous_creators.clone(),
                });
        }
    }

    /// Answer a query for `cell`'s posts on `topic`: the matching posts and
    /// a range proof over the state-journal blocks that hold them.
    fn answer_query(&self, target: &QueryTarget) -> Option<(Vec<u8>, Vec<u8>)> {
        let QueryTarget::PostsByTopic {
            cell,
            topic,
            from_sequence,
            count_max,
        } = target
        else {
            return None;
        };
        self.journals.with(JournalKind::State, |journal| {
            let length = journal.length();
            let mut first_block = None;
            let mut last_block = 0;
            let mut found = Vec::new();
            let mut sequence = 0u64;
            for index in 0..length {
                let block = journal.block(index).ok()?;
                for post in decode_state_posts(&block)? {
                    if post.0 != *cell || post.1 != *topic {
                        continue;
                    }
                    if sequence >= *from_sequence && found.len() < *count_max as usize {
                        first_block.get_or_insert(index);
                        last_block = index;
                        found.push(post);
                    }
                    sequence += 1;
                }
            }
            let mut data = Writer::new();
            data.u32(found.len() as u32);
            for (author, topic, content) in &found {
                data.fixed(author.as_bytes()).str(topic).bytes(content);
            }
            let proof = match first_block {
                Some(first) => journal
                    .range_proof(first, last_block + 1, length)
                    .ok()?
                    .to_bytes(),
                None if length > 0 => journal
                    .range_proof(length - 1, length, length)
                    .ok()?
                    .to_bytes(),
                None => return None,
            };
            let data = data.finish();
            (data.len() <= QUERY_DATA_LEN_MAX && proof.len() <= QUERY_PROOF_LEN_MAX)
                .then_some((data, proof))
        })
    }

    fn on_inbound(&mut self, from: CellIndex, message: &Message, ctx: &mut Ctx<'_>) {
        let reply = |ctx: &mut Ctx<'_>, body: Body| {
            ctx.call(CellRequest::MessageSend { to: from, body })
                .expect("queue has room");
        };
        match &message.body {
            Body::Query(Query::Request { query_id, what }) => {
                ctx.charge_cpu(cost::bytes_ns(1024));
                if let Some((data, proof)) = self.answer_query(what) {
                    reply(
                        ctx,
                        Body::Query(Query::Answer {
                            query_id: *query_id,
                            data,
                            proof,
                        }),
                    );
                }
            }
            Body::Query(Query::Answer {
                query_id,
                data,
                proof,
            }) => {
                let Some((asked, topic)) = self.queries.remove(query_id) else {
                    return;
                };
                ctx.charge_cpu(cost::SIGNATURE_VERIFY_NS);
                // The asked cell came from this cell's own command; one
                // outside the directory has no key to verify against.
                let Some(key) = self.members.get(asked.as_usize()).map(|m| m.public_key) else {
                    return;
                };
                let (verified, items) = verify_query_answer(&key, &topic, data, proof);
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::QueryAnswered { verified, items });
            }
            Body::Exec(Exec::Request {
                task_id,
                task,
                max_payment,
            }) => {
                let work = task.work_units();
                ctx.charge_cpu(cost::EXEC_WORK_UNIT_NS.saturating_mul(work));
                let charged = work
                    .saturating_mul(EXEC_PRICE_PER_WORK_UNIT)
                    .min(*max_payment);
                reply(
                    ctx,
                    Body::Exec(Exec::Result {
                        task_id: *task_id,
                        task_digest: task.digest(),
                        output: task.run(),
                        charged,
                    }),
                );
            }
            Body::Exec(Exec::Result {
                task_id,
                task_digest,
                output,
                charged,
            }) => {
                let Some((task, executor)) = self.exec_requests.remove(task_id) else {
                    return;
                };
                ctx.charge_cpu(cost::EXEC_WORK_UNIT_NS.saturating_mul(task.work_units()));
                let verified = *output == task.run() && from == executor;
                if !verified && from == executor && *task_digest == task.digest() {
                    // A wrong answer under the executor's own signature is
                    // a failed interaction whatever the markets make of it.
                    if let Some(peer) = self.members.get(executor.as_usize()).map(|m| m.cell_id) {
                        ctx.broadcast(CellEvent::Interaction {
                            peer,
                            outcome: crate::trust::InteractionOutcome::Failure,
                        })
                        .expect("queue has room");
                    }
                    self.prove_fraud(executor, &task, message, ctx);
                }
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::ExecCompleted {
                        verified,
                        charged: *charged,
                    });
                if verified
                    && *charged > 0
                    && let Some(to) = self.members.get(executor.as_usize()).map(|m| m.cell_id)
                {
                    // Pay the executor through consensus.
                    ctx.call(CellRequest::MessageSubmit {
                        to: executor,
                        body: Body::Tx(crate::message::Tx {
                            nonce: 0,
                            fee: self.ledger.borrow().config().fee_min,
                            kind: TxKind::Transfer {
                                to,
                                amount: *charged,
                            },
                        }),
                    })
                    .expect("queue has room");
                }
            }
            _ => {}
        }
    }
}

impl StateService {
    /// What a decided round asks of this cell as a market participant:
    /// record what the markets did and any broken invariant, withdraw trust
    /// from slashed providers, keep the data of storage leases it provides
    /// and answer their challenges.
    fn serve_markets(&mut self, round: &RoundOrdered, outcome: &RoundOutcome, ctx: &mut Ctx<'_>) {
        let report = &outcome.market;
        let me = self.members.get(self.me.as_usize()).map(|m| m.cell_id);
        for event in &report.leases {
            match event.kind {
                LeaseEventKind::Slashed { .. } => {
                    ctx.broadcast(CellEvent::Slashed {
                        provider: event.provider,
                    })
                    .expect("queue has room");
                }
                LeaseEventKind::Opened
                    if event.market == LeaseMarket::Storage && Some(event.provider) == me =>
                {
                    let ledger = self.ledger.borrow();
                    let Some(lease) = ledger.lease(event.lease) else {
                        continue;
                    };
                    let block_bytes = ledger.config().market.storage_block_bytes;
                    let blocks = (0..lease.amount)
                        .map(|index| storage_block(&lease.data_seed, index, block_bytes))
                        .collect();
                    drop(ledger);
                    ctx.call(CellRequest::NucleusStorageOpen {
                        lease: event.lease,
                        blocks,
                    })
                    .expect("queue has room");
                }
                _ => {}
            }
        }
        if round.replayed {
            return;
        }
        for challenge in &report.challenges {
            if Some(challenge.provider) == me {
                ctx.call(CellRequest::NucleusStorageAnswer {
                    lease: challenge.lease,
                    challenge: challenge.seq,
                    index: challenge.index,
                })
                .expect("queue has room");
            }
        }
        let mut io = self.io.borrow_mut();
        for violation in &outcome.violations {
            io.observations.push(CellObservation::LedgerViolation {
                round: round.round,
                invariant: violation.invariant,
                detail: violation.detail.clone(),
            });
        }
        let ledger = self.ledger.borrow();
        let active = ledger.token_count() > 0
            || ledger.offers().next().is_some()
            || !report.refused.is_empty()
            || report.fee_payout > 0;
        if active {
            io.observations.push(CellObservation::MarketRound {
                round: round.round,
                report: Arc::new(report.clone()),
            });
        }
    }

    /// `executor` answered `task` wrongly under its own signature: if this
    /// cell leases compute from it, submit the signed result as a fraud
    /// proof (the ledger re-runs the task and slashes the provider).
    fn prove_fraud(
        &mut self,
        executor: CellIndex,
        task: &crate::message::ExecTask,
        result: &Message,
        ctx: &mut Ctx<'_>,
    ) {
        let (Some(me), Some(provider)) = (
            self.members.get(self.me.as_usize()).map(|m| m.cell_id),
            self.members.get(executor.as_usize()).map(|m| m.cell_id),
        ) else {
            return;
        };
        let lease = self
            .ledger
            .borrow()
            .leases()
            .find(|lease| {
                lease.live
                    && lease.market == LeaseMarket::Compute
                    && lease.consumer == me
                    && lease.provider == provider
            })
            .map(|lease| lease.id);
        let Some(lease) = lease else {
            return;
        };
        ctx.call(CellRequest::MessageSubmit {
            to: self.me,
            body: Body::Tx(crate::message::Tx {
                nonce: 0,
                fee: self.ledger.borrow().config().fee_min,
                kind: TxKind::FraudProof {
                    lease,
                    task: task.clone(),
                    result: result.encode(),
                },
            }),
        })
        .expect("queue has room");
        self.io
            .borrow_mut()
            .observations
            .push(CellObservation::FraudProofSubmitted {
                lease,
                provider: executor,
            });
    }
}

/// The ledger's view of a wire TX kind; offers carry the key that signed
/// them.
fn ledger_kind(kind: &TxKind, signer: &PublicKey) -> LedgerTxKind {
    match kind {
        TxKind::Transfer { to, amount } => LedgerTxKind::Transfer {
            to: *to,
            amount: *amount,
        },
        TxKind::Order {
            token,
            side,
            price,
            quantity,
        } => LedgerTxKind::Order {
            token: *token,
            side: *side,
            price: *price,
            quantity: *quantity,
        },
        TxKind::Cancel { token, order } => LedgerTxKind::Cancel {
            token: *token,
            order: *order,
        },
        TxKind::ComputeOffer {
            units,
            price_per_unit,
            collateral,
        } => LedgerTxKind::Offer {
            market: LeaseMarket::Compute,
            capacity: *units,
            price: *price_per_unit,
            collateral: *collateral,
            provider_key: *signer,
        },
        TxKind::StorageOffer {
            blocks,
            price_per_block,
            collateral,
        } => LedgerTxKind::Offer {
            market: LeaseMarket::Storage,
            capacity: *blocks,
            price: *price_per_block,
            collateral: *collateral,
            provider_key: *signer,
        },
        TxKind::Lease {
            offer,
            amount,
            intervals,
            data_seed,
        } => LedgerTxKind::Lease {
            offer: *offer,
            amount: *amount,
            intervals: *intervals,
            data_seed: *data_seed,
        },
        TxKind::EndLease { lease } => LedgerTxKind::EndLease { lease: *lease },
        TxKind::WithdrawOffer { offer } => LedgerTxKind::WithdrawOffer { offer: *offer },
        TxKind::FraudProof {
            lease,
            task,
            result,
        } => LedgerTxKind::FraudProof {
            lease: *lease,
            task: task.clone(),
            result: result.clone(),
        },
        TxKind::StorageProof {
            lease,
            challenge,
            proof,
        } => LedgerTxKind::StorageProof {
            lease: *lease,
            challenge: *challenge,
            proof: proof.clone(),
        },
    }
}

/// The posts (author, topic, content) of one state-journal block; `None`
/// if the block does not decode.
pub fn decode_state_posts(block: &[u8]) -> Option<Vec<(CellId, String, Vec<u8>)>> {
    let mut reader = Reader::new(block);
    reader.u32("round").ok()?;
    reader.array::<32>("state hash").ok()?;
    reader.u64("ordered events").ok()?;
    let count = reader.count("posts", crate::ledger::ROUND_ITEMS_MAX).ok()?;
    let mut posts = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let author = CellId(reader.array::<32>("author").ok()?);
        let topic = reader
            .str("topic", crate::ledger::POST_TOPIC_BYTES_MAX)
            .ok()?
            .to_string();
        let content = reader
            .bytes("content", crate::ledger::POST_CONTENT_BYTES_MAX)
            .ok()?
            .to_vec();
        posts.push((author, topic, content));
    }
    reader.finish().ok()?;
    Some(posts)
}

/// The asker's check of a QUERY answer: the proof is a valid range of the
/// answerer's state journal (signed by `key`), and every post in `data` is
/// in a proven block, by the answerer, on `topic`. Returns (verified, items).
pub fn verify_query_answer(
    key: &crate::identity::PublicKey,
    topic: &str,
    data: &[u8],
    proof: &[u8],
) -> (bool, u32) {
    let Ok(proof) = RangeProof::from_bytes(proof) else {
        return (false, 0);
    };
    let verifier = JournalVerifier::new(*key, JournalTag::named(JournalKind::State.name()));
    if verifier.verify_range(&proof).is_err() {
        return (false, 0);
    }
    let mut proven = Vec::new();
    for block in &proof.blocks {
        match decode_state_posts(block) {
            Some(posts) => proven.extend(posts),
            None => return (false, 0),
        }
    }
    let mut reader = Reader::new(data);
    let Ok(count) = reader.count("posts", crate::message::QUERY_COUNT_MAX) else {
        return (false, 0);
    };
    let author = key.cell_id();
    let mut items = 0;
    for _ in 0..count {
        let (Ok(post_author), Ok(post_topic), Ok(content)) = (
            reader.array::<32>("author"),
            reader.str("topic", crate::ledger::POST_TOPIC_BYTES_MAX),
            reader.bytes("content", crate::ledger::POST_CONTENT_BYTES_MAX),
        ) else {
            return (false, items);
        };
        let post = (
            CellId(post_author),
            post_topic.to_string(),
            content.to_vec(),
        );
        if post.0 != author || post.1 != topic || !proven.contains(&post) {
            return (false, items);
        }
        items += 1;
    }
    (reader.finish().is_ok(), items)
}

impl Service<CellProtocol> for StateService {
    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        let (to, body) = match request {
            CellRequest::StateQuery { to, topic } => {
                let query_id = self.next_id();
                let cell = self
                    .members
                    .get(to.as_usize())
                    .map(|member| member.cell_id)
                    .ok_or(CellError::UnknownCell(to))?;
                self.queries.insert(query_id, (to, topic.clone()));
                let what = QueryTarget::PostsByTopic {
                    cell,
                    topic,
                    from_sequence: 0,
                    count_max: QUERY_ANSWER_POSTS_MAX,
                };
                (to, Body::Query(Query::Request { query_id, what }))
            }
            CellRequest::StateExec {
                to,
                task,
                max_payment,
            } => {
                let task_id = self.next_id();
                self.exec_requests.insert(task_id, (task.clone(), to));
                (
                    to,
                    Body::Exec(Exec::Request {
                        task_id,
                        task,
                        max_payment,
                    }),
                )
            }
            other => return Err(misrouted(&other)),
        };
        ctx.call(CellRequest::MessageSend { to, body })
            .expect("queue has room");
        Ok(CellResponse::Done)
    }

    fn on_event(&mut self, event: &CellEvent, ctx: &mut Ctx<'_>) {
        match event {
            CellEvent::RoundOrdered(round) => self.apply_round(round, ctx),
            CellEvent::Inbound { from, message } => self.on_inbound(*from, message, ctx),
            CellEvent::Fork { .. } | CellEvent::Interaction { .. } | CellEvent::Slashed { .. } => {}
        }
    }
}
