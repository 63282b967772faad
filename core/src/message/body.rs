//! Typed message bodies, one enum per message type, each with its canonical
//! encoding. Every enum is tagged by a one-byte tag that starts at 1 (0 is
//! never valid, so an all-zero buffer is rejected); a new kind takes the next
//! tag, and an old decoder rejects it with `UnknownTag` instead of misreading.

use crate::book::Side;
use crate::codec::{DecodeError, Reader, Writer};
use crate::identity::{CellId, PublicKey};
use crate::journal::head::{JournalTag, SignedHead};

use super::{MessageError, limits::*};

/// The message type of the architecture document. Derived from the body, and
/// written as the first tag of the body's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageType {
    /// Human-readable communication.
    Chat,
    /// Authentication and identity verification.
    Auth,
    /// PRANA transactions.
    Tx,
    /// Content shared to the global dataset.
    Post,
    /// Requests for data, and their verifiable answers.
    Query,
    /// Execution requests and results.
    Exec,
}

impl MessageType {
    pub const ALL: [MessageType; 6] = [
        MessageType::Chat,
        MessageType::Auth,
        MessageType::Tx,
        MessageType::Post,
        MessageType::Query,
        MessageType::Exec,
    ];

    pub fn tag(self) -> u8 {
        match self {
            MessageType::Chat => 1,
            MessageType::Auth => 2,
            MessageType::Tx => 3,
            MessageType::Post => 4,
            MessageType::Query => 5,
            MessageType::Exec => 6,
        }
    }

    pub fn from_tag(tag: u8) -> Result<MessageType, DecodeError> {
        MessageType::ALL
            .into_iter()
            .find(|kind| kind.tag() == tag)
            .ok_or(DecodeError::UnknownTag {
                field: "message type",
                tag,
            })
    }

    /// The upper-case name of the architecture document (`"CHAT"`...).
    pub fn name(self) -> &'static str {
        match self {
            MessageType::Chat => "CHAT",
            MessageType::Auth => "AUTH",
            MessageType::Tx => "TX",
            MessageType::Post => "POST",
            MessageType::Query => "QUERY",
            MessageType::Exec => "EXEC",
        }
    }
}

impl std::fmt::Display for MessageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The typed body of a message; its variant is the message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Chat(Chat),
    Auth(Auth),
    Tx(Tx),
    Post(Post),
    Query(Query),
    Exec(Exec),
}

/// Human-readable text, at most [`CHAT_TEXT_LEN_MAX`] bytes of UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub text: String,
}

/// Authentication. A challenger sends `Challenge` with a fresh nonce; the
/// other cell answers with `Response`, and the response message's own
/// signature is the proof of key possession. Either side may then record an
/// `Attestation` of the other in its identity journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    Challenge {
        /// Fresh randomness from the challenger's seeded stream; never reused.
        nonce: [u8; 32],
    },
    Response {
        /// The nonce of the challenge being answered.
        challenge_nonce: [u8; 32],
        /// blake3 of the whole encoded challenge message
        /// ([`super::Message::hash`]). Binds the response to that one
        /// challenge (its challenger, receiver, time and nonce); together
        /// with the message's own sender, receiver and signature, a response
        /// cannot be replayed to another challenger or for another challenge.
        challenge_hash: [u8; 32],
    },
    /// A statement, recorded in the attester's identity journal, about a
    /// cell it authenticated. Boxed: it is rare and much larger than the rest.
    Attestation(Box<Attestation>),
}

/// That the attester authenticated `subject_key` at the identity head given:
/// what both sides of an AUTH exchange append to their identity journals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The subject's public key; the subject's CellId is its blake3 hash.
    pub subject_key: PublicKey,
    /// The subject's identity head the attester verified; signed by the
    /// subject, so a third party can check it without asking the subject.
    pub subject_identity_head: SignedHead,
    /// blake3 of the subject's `Response` message that proved possession of
    /// `subject_key`, so the attestation points at its evidence.
    pub evidence_hash: [u8; 32],
    /// Trust in the subject, in thousandths (0..=[`TRUST_PERMILLE_MAX`]).
    pub trust_permille: u16,
    /// Free text, at most [`ATTESTATION_STATEMENT_LEN_MAX`] bytes.
    pub statement: String,
}

impl Attestation {
    /// The subject's cell id.
    pub fn subject(&self) -> CellId {
        self.subject_key.cell_id()
    }
}

/// A PRANA transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tx {
    /// Per-sender sequence number: the ledger accepts exactly the next one, so
    /// a transaction can be applied once and only once.
    pub nonce: u64,
    /// Fee in PRANA units, paid to the network whatever the kind.
    pub fee: u64,
    pub kind: TxKind,
}

/// What a transaction does: a PRANA transfer, or one market action
/// (`crate::ledger` gives each kind's rules). Tags in declaration order from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxKind {
    /// Move `amount` PRANA units from the sender to `to`.
    Transfer { to: CellId, amount: u64 },
    /// An exchange order for market token `token` against PRANA: a limit
    /// order at `price` PRANA per unit, or (`None`) a market order.
    Order {
        token: u16,
        side: Side,
        price: Option<u64>,
        quantity: u64,
    },
    /// Withdraw the sender's resting order `order` of token `token`.
    Cancel { token: u16, order: u64 },
    /// A compute provider's offer: `units` of EXEC capacity per interval at
    /// `price_per_unit` PRANA per unit and interval, backed by `collateral`.
    ComputeOffer {
        units: u64,
        price_per_unit: u64,
        collateral: u64,
    },
    /// A storage provider's offer: room for `blocks` blocks at
    /// `price_per_block` PRANA per block and interval, backed by `collateral`.
    StorageOffer {
        blocks: u64,
        price_per_block: u64,
        collateral: u64,
    },
    /// Lease `amount` (units or blocks) of offer `offer` for `intervals`
    /// intervals, paying the whole price into escrow; for storage,
    /// `data_seed` names the data the provider keeps.
    Lease {
        offer: u64,
        amount: u64,
        intervals: u32,
        data_seed: [u8; 32],
    },
    /// The consumer ends lease `lease`: unpaid escrow returns to it.
    EndLease { lease: u64 },
    /// The provider withdraws offer `offer` (no live lease left on it) and
    /// gets its collateral back.
    WithdrawOffer { offer: u64 },
    /// Evidence that the provider of compute lease `lease` answered `task`
    /// wrongly: `result` is the provider's signed EXEC result (a whole
    /// encoded message) whose task digest is `task`'s and whose output is not
    /// `task.run()`.
    FraudProof {
        lease: u64,
        task: ExecTask,
        result: Vec<u8>,
    },
    /// The provider's answer to storage challenge `challenge` of lease
    /// `lease`: a journal `RangeProof` (its canonical bytes) of the
    /// challenged block.
    StorageProof {
        lease: u64,
        challenge: u64,
        proof: Vec<u8>,
    },
}

impl TxKind {
    /// A short fixed name per kind, for counters and reports.
    pub fn label(&self) -> &'static str {
        match self {
            TxKind::Transfer { .. } => "transfer",
            TxKind::Order { .. } => "order",
            TxKind::Cancel { .. } => "cancel",
            TxKind::ComputeOffer { .. } => "compute-offer",
            TxKind::StorageOffer { .. } => "storage-offer",
            TxKind::Lease { .. } => "lease",
            TxKind::EndLease { .. } => "end-lease",
            TxKind::WithdrawOffer { .. } => "withdraw-offer",
            TxKind::FraudProof { .. } => "fraud-proof",
            TxKind::StorageProof { .. } => "storage-proof",
        }
    }
}

/// Content shared to the global dataset under a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// At most [`POST_TOPIC_LEN_MAX`] bytes of UTF-8.
    pub topic: String,
    /// At most [`POST_CONTENT_LEN_MAX`] bytes.
    pub content: Vec<u8>,
}

/// A request for data, or its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Request {
        /// Chosen by the requester; the answer echoes it.
        query_id: u64,
        what: QueryTarget,
    },
    Answer {
        query_id: u64,
        /// The data asked for, at most [`QUERY_DATA_LEN_MAX`] bytes.
        data: Vec<u8>,
        /// A journal proof of `data` in its own canonical encoding, at most
        /// [`QUERY_PROOF_LEN_MAX`] bytes; the journal module decodes it.
        proof: Vec<u8>,
    },
}

/// What a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryTarget {
    /// Posts of `cell` on `topic`, from its `from_sequence`-th post on that
    /// topic, at most `count_max` (≤ [`QUERY_COUNT_MAX`]) of them.
    PostsByTopic {
        cell: CellId,
        topic: String,
        from_sequence: u64,
        count_max: u32,
    },
    /// Block `index` of the journal `journal` of `cell`, with its proof.
    JournalBlock {
        cell: CellId,
        journal: JournalTag,
        index: u64,
    },
}

/// An execution request, or its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exec {
    Request {
        /// Chosen by the requester; the result echoes it.
        task_id: u64,
        task: ExecTask,
        /// The most PRANA the requester pays for the task.
        max_payment: u64,
    },
    Result {
        task_id: u64,
        /// [`ExecTask::digest`] of the task answered: the executor's
        /// signature binds its output to the task, so a wrong output is
        /// evidence against it (a compute market fraud proof).
        task_digest: [u8; 32],
        /// [`ExecTask::run`]'s output, at most [`EXEC_OUTPUT_LEN_MAX`] bytes.
        output: Vec<u8>,
        /// PRANA charged, at most the request's `max_payment`.
        charged: u64,
    },
}

/// A small deterministic task: anyone can re-run it and check a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecTask {
    /// blake3 applied `iterations` times, starting from `input`.
    HashChain { input: Vec<u8>, iterations: u32 },
    /// The sum of `values`, as a 16-byte little-endian u128 (cannot overflow).
    Sum { values: Vec<u64> },
}

/// Domain separation for [`ExecTask::digest`].
const EXEC_TASK_DIGEST_CONTEXT: &str = "celluler 2026-12 exec task digest";

impl ExecTask {
    /// blake3 (derived key) over the task's canonical encoding.
    pub fn digest(&self) -> [u8; 32] {
        let mut writer = Writer::new();
        self.encode(&mut writer);
        *blake3::Hasher::new_derive_key(EXEC_TASK_DIGEST_CONTEXT)
            .update(&writer.finish())
            .finalize()
            .as_bytes()
    }

    /// The task's canonical encoding (inside EXEC requests and fraud proofs).
    pub fn encode(&self, writer: &mut Writer) {
        match self {
            ExecTask::HashChain { input, iterations } => {
                writer.u8(1).bytes(input).u32(*iterations);
            }
            ExecTask::Sum { values } => {
                let count = u32::try_from(values.len()).expect("validated: few values");
                writer.u8(2).u32(count);
                for value in values {
                    writer.u64(*value);
                }
            }
        }
    }

    /// Decode a task, every limit checked before allocating.
    pub fn decode(reader: &mut Reader<'_>) -> Result<ExecTask, DecodeError> {
        Ok(match reader.u8("exec task")? {
            1 => ExecTask::HashChain {
                input: read_vec(reader, "exec input", EXEC_INPUT_LEN_MAX)?,
                iterations: reader
                    .count("exec iterations", EXEC_HASH_CHAIN_ITERATIONS_MAX as usize)?
                    as u32,
            },
            2 => {
                let count = reader.count("exec values", EXEC_SUM_VALUES_MAX)?;
                // Bounded by the limit above, and by the bytes left.
                let mut values = Vec::with_capacity(count.min(reader.remaining() / 8));
                for _ in 0..count {
                    values.push(reader.u64("exec value")?);
                }
                ExecTask::Sum { values }
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    field: "exec task",
                    tag,
                });
            }
        })
    }

    /// The limits [`ExecTask::decode`] enforces.
    pub fn validate(&self) -> Result<(), MessageError> {
        match self {
            ExecTask::HashChain { input, iterations } => {
                check_len("exec input", input.len(), EXEC_INPUT_LEN_MAX)?;
                check_len(
                    "exec iterations",
                    *iterations as usize,
                    EXEC_HASH_CHAIN_ITERATIONS_MAX as usize,
                )
            }
            ExecTask::Sum { values } => check_len("exec values", values.len(), EXEC_SUM_VALUES_MAX),
        }
    }

    /// The task's output. Pure and deterministic.
    pub fn run(&self) -> Vec<u8> {
        match self {
            ExecTask::HashChain { input, iterations } => {
                if *iterations == 0 {
                    return input.clone();
                }
                let mut digest = *blake3::hash(input).as_bytes();
                for _ in 1..*iterations {
                    digest = *blake3::hash(&digest).as_bytes();
                }
                digest.to_vec()
            }
            ExecTask::Sum { values } => values
                .iter()
                .map(|&value| u128::from(value))
                .sum::<u128>()
                .to_le_bytes()
                .to_vec(),
        }
    }

    /// Abstract work units the task costs (hash invocations or additions),
    /// the basis for pricing it.
    pub fn work_units(&self) -> u64 {
        match self {
            ExecTask::HashChain { iterations, .. } => u64::from(*iterations),
            ExecTask::Sum { values } => values.len() as u64,
        }
    }
}

fn check_len(field: &'static str, length: usize, limit: usize) -> Result<(), MessageError> {
    if length > limit {
        return Err(MessageError::TooLong {
            field,
            length,
            limit,
        });
    }
    Ok(())
}

fn read_vec(
    reader: &mut Reader<'_>,
    field: &'static str,
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    Ok(reader.bytes(field, limit)?.to_vec())
}

fn read_string(
    reader: &mut Reader<'_>,
    field: &'static str,
    limit: usize,
) -> Result<String, DecodeError> {
    Ok(reader.str(field, limit)?.to_owned())
}

fn read_cell_id(reader: &mut Reader<'_>, field: &'static str) -> Result<CellId, DecodeError> {
    Ok(CellId(reader.array(field)?))
}

pub(super) fn read_public_key(
    reader: &mut Reader<'_>,
    field: &'static str,
) -> Result<PublicKey, DecodeError> {
    PublicKey::from_bytes(&reader.array(field)?).map_err(|_| DecodeError::Invalid {
        field,
        reason: "not an ed25519 public key",
    })
}

fn read_trust(reader: &mut Reader<'_>) -> Result<u16, DecodeError> {
    let trust = reader.u16("attestation trust")?;
    if trust > TRUST_PERMILLE_MAX {
        return Err(DecodeError::Invalid {
            field: "attestation trust",
            reason: "trust is at most 1000 permille",
        });
    }
    Ok(trust)
}

impl Body {
    pub fn message_type(&self) -> MessageType {
        match self {
            Body::Chat(_) => MessageType::Chat,
            Body::Auth(_) => MessageType::Auth,
            Body::Tx(_) => MessageType::Tx,
            Body::Post(_) => MessageType::Post,
            Body::Query(_) => MessageType::Query,
            Body::Exec(_) => MessageType::Exec,
        }
    }

    /// Checks every limit the decoder enforces, so that whatever is encoded
    /// decodes.
    pub fn validate(&self) -> Result<(), MessageError> {
        match self {
            Body::Chat(chat) => check_len("chat text", chat.text.len(), CHAT_TEXT_LEN_MAX),
            Body::Auth(Auth::Challenge { .. } | Auth::Response { .. }) => Ok(()),
            Body::Auth(Auth::Attestation(attestation)) => {
                let Attestation {
                    trust_permille,
                    statement,
                    ..
                } = attestation.as_ref();
                if *trust_permille > TRUST_PERMILLE_MAX {
                    return Err(MessageError::Invalid {
                        field: "attestation trust",
                        reason: "trust is at most 1000 permille",
                    });
                }
                check_len(
                    "attestation statement",
                    statement.len(),
                    ATTESTATION_STATEMENT_LEN_MAX,
                )
            }
            Body::Tx(tx) => match &tx.kind {
                TxKind::FraudProof { task, result, .. } => {
                    task.validate()?;
                    check_len("fraud proof result", result.len(), FRAUD_RESULT_LEN_MAX)
                }
                TxKind::StorageProof { proof, .. } => {
                    check_len("storage proof", proof.len(), STORAGE_PROOF_LEN_MAX)
                }
                TxKind::Transfer { .. }
                | TxKind::Order { .. }
                | TxKind::Cancel { .. }
                | TxKind::ComputeOffer { .. }
                | TxKind::StorageOffer { .. }
                | TxKind::Lease { .. }
                | TxKind::EndLease { .. }
                | TxKind::WithdrawOffer { .. } => Ok(()),
            },
            Body::Post(post) => {
                check_len("post topic", post.topic.len(), POST_TOPIC_LEN_MAX)?;
                check_len("post content", post.content.len(), POST_CONTENT_LEN_MAX)
            }
            Body::Query(Query::Request { what, .. }) => match what {
                QueryTarget::PostsByTopic {
                    topic, count_max, ..
                } => {
                    check_len("query topic", topic.len(), POST_TOPIC_LEN_MAX)?;
                    check_len("query count", *count_max as usize, QUERY_COUNT_MAX)
                }
                QueryTarget::JournalBlock { .. } => Ok(()),
            },
            Body::Query(Query::Answer { data, proof, .. }) => {
                check_len("query data", data.len(), QUERY_DATA_LEN_MAX)?;
                check_len("query proof", proof.len(), QUERY_PROOF_LEN_MAX)
            }
            Body::Exec(Exec::Request { task, .. }) => task.validate(),
            Body::Exec(Exec::Result { output, .. }) => {
                check_len("exec output", output.len(), EXEC_OUTPUT_LEN_MAX)
            }
        }
    }

    /// The type tag, then the kind tag within the type, then the fields.
    pub fn encode(&self, writer: &mut Writer) {
        writer.u8(self.message_type().tag());
        match self {
            Body::Chat(chat) => {
                writer.str(&chat.text);
            }
            Body::Auth(Auth::Challenge { nonce }) => {
                writer.u8(1).fixed(nonce);
            }
            Body::Auth(Auth::Response {
                challenge_nonce,
                challenge_hash,
            }) => {
                writer.u8(2).fixed(challenge_nonce).fixed(challenge_hash);
            }
            Body::Auth(Auth::Attestation(attestation)) => {
                let Attestation {
                    subject_key,
                    subject_identity_head,
                    evidence_hash,
                    trust_permille,
                    statement,
                } = attestation.as_ref();
                writer.u8(3).fixed(subject_key.as_bytes());
                subject_identity_head.encode(writer);
                writer
                    .fixed(evidence_hash)
                    .u16(*trust_permille)
                    .str(statement);
            }
            Body::Tx(tx) => {
                writer.u64(tx.nonce).u64(tx.fee);
                encode_tx_kind(&tx.kind, writer);
            }
            Body::Post(post) => {
                writer.str(&post.topic).bytes(&post.content);
            }
            Body::Query(Query::Request { query_id, what }) => {
                writer.u8(1).u64(*query_id);
                match what {
                    QueryTarget::PostsByTopic {
                        cell,
                        topic,
                        from_sequence,
                        count_max,
                    } => {
                        writer
                            .u8(1)
                            .fixed(cell.as_bytes())
                            .str(topic)
                            .u64(*from_sequence)
                            .u32(*count_max);
                    }
                    QueryTarget::JournalBlock {
                        cell,
                        journal,
                        index,
                    } => {
                        writer
                            .u8(2)
                            .fixed(cell.as_bytes())
                            .fixed(&journal.0)
                            .u64(*index);
                    }
                }
            }
            Body::Query(Query::Answer {
                query_id,
                data,
                proof,
            }) => {
                writer.u8(2).u64(*query_id).bytes(data).bytes(proof);
            }
            Body::Exec(Exec::Request {
                task_id,
                task,
                max_payment,
            }) => {
                writer.u8(1).u64(*task_id);
                task.encode(writer);
                writer.u64(*max_payment);
            }
            Body::Exec(Exec::Result {
                task_id,
                task_digest,
                output,
                charged,
            }) => {
                writer
                    .u8(2)
                    .u64(*task_id)
                    .fixed(task_digest)
                    .bytes(output)
                    .u64(*charged);
            }
        }
    }

    pub fn decode(reader: &mut Reader<'_>) -> Result<Body, DecodeError> {
        let message_type = MessageType::from_tag(reader.u8("message type")?)?;
        Ok(match message_type {
            MessageType::Chat => Body::Chat(Chat {
                text: read_string(reader, "chat text", CHAT_TEXT_LEN_MAX)?,
            }),
            MessageType::Auth => Body::Auth(match reader.u8("auth kind")? {
                1 => Auth::Challenge {
                    nonce: reader.array("auth challenge nonce")?,
                },
                2 => Auth::Response {
                    challenge_nonce: reader.array("auth challenge nonce")?,
                    challenge_hash: reader.array("auth challenge hash")?,
                },
                3 => Auth::Attestation(Box::new(Attestation {
                    subject_key: read_public_key(reader, "attestation subject key")?,
                    subject_identity_head: SignedHead::decode(reader)?,
                    evidence_hash: reader.array("attestation evidence hash")?,
                    trust_permille: read_trust(reader)?,
                    statement: read_string(
                        reader,
                        "attestation statement",
                        ATTESTATION_STATEMENT_LEN_MAX,
                    )?,
                })),
                tag => {
                    return Err(DecodeError::UnknownTag {
                        field: "auth kind",
                        tag,
                    });
                }
            }),
            MessageType::Tx => {
                let nonce = reader.u64("tx nonce")?;
                let fee = reader.u64("tx fee")?;
                let kind = decode_tx_kind(reader)?;
                Body::Tx(Tx { nonce, fee, kind })
            }
            MessageType::Post => Body::Post(Post {
                topic: read_string(reader, "post topic", POST_TOPIC_LEN_MAX)?,
                content: read_vec(reader, "post content", POST_CONTENT_LEN_MAX)?,
            }),
            MessageType::Query => Body::Query(match reader.u8("query kind")? {
                1 => {
                    let query_id = reader.u64("query id")?;
                    let what = match reader.u8("query target")? {
                        1 => QueryTarget::PostsByTopic {
                            cell: read_cell_id(reader, "query cell")?,
                            topic: read_string(reader, "query topic", POST_TOPIC_LEN_MAX)?,
                            from_sequence: reader.u64("query from sequence")?,
                            count_max: reader.count("query count", QUERY_COUNT_MAX)? as u32,
                        },
                        2 => QueryTarget::JournalBlock {
                            cell: read_cell_id(reader, "query cell")?,
                            journal: JournalTag(reader.array("query journal")?),
                            index: reader.u64("query block index")?,
                        },
                        tag => {
                            return Err(DecodeError::UnknownTag {
                                field: "query target",
                                tag,
                            });
                        }
                    };
                    Query::Request { query_id, what }
                }
                2 => Query::Answer {
                    query_id: reader.u64("query id")?,
                    data: read_vec(reader, "query data", QUERY_DATA_LEN_MAX)?,
                    proof: read_vec(reader, "query proof", QUERY_PROOF_LEN_MAX)?,
                },
                tag => {
                    return Err(DecodeError::UnknownTag {
                        field: "query kind",
                        tag,
                    });
                }
            }),
            MessageType::Exec => Body::Exec(match reader.u8("exec kind")? {
                1 => {
                    let task_id = reader.u64("exec task id")?;
                    let task = ExecTask::decode(reader)?;
                    Exec::Request {
                        task_id,
                        task,
                        max_payment: reader.u64("exec max payment")?,
                    }
                }
                2 => Exec::Result {
                    task_id: reader.u64("exec task id")?,
                    task_digest: reader.array::<32>("exec task digest")?,
                    output: read_vec(reader, "exec output", EXEC_OUTPUT_LEN_MAX)?,
                    charged: reader.u64("exec charged")?,
                },
                tag => {
                    return Err(DecodeError::UnknownTag {
                        field: "exec kind",
                        tag,
                    });
                }
            }),
        })
    }
}

fn encode_tx_kind(kind: &TxKind, writer: &mut Writer) {
    let side_tag = |side: &Side| match side {
        Side::Bid => 1u8,
        Side::Ask => 2u8,
    };
    match kind {
        TxKind::Transfer { to, amount } => {
            writer.u8(1).fixed(to.as_bytes()).u64(*amount);
        }
        TxKind::Order {
            token,
            side,
            price,
            quantity,
        } => {
            writer.u8(2).u16(*token).u8(side_tag(side));
            match price {
                Some(price) => writer.u8(1).u64(*price),
                None => writer.u8(0),
            };
            writer.u64(*quantity);
        }
        TxKind::Cancel { token, order } => {
            writer.u8(3).u16(*token).u64(*order);
        }
        TxKind::ComputeOffer {
            units,
            price_per_unit,
            collateral,
        } => {
            writer
                .u8(4)
                .u64(*units)
                .u64(*price_per_unit)
                .u64(*collateral);
        }
        TxKind::StorageOffer {
            blocks,
            price_per_block,
            collateral,
        } => {
            writer
                .u8(5)
                .u64(*blocks)
                .u64(*price_per_block)
                .u64(*collateral);
        }
        TxKind::Lease {
            offer,
            amount,
            intervals,
            data_seed,
        } => {
            writer
                .u8(6)
                .u64(*offer)
                .u64(*amount)
                .u32(*intervals)
                .fixed(data_seed);
        }
        TxKind::EndLease { lease } => {
            writer.u8(7).u64(*lease);
        }
        TxKind::WithdrawOffer { offer } => {
            writer.u8(8).u64(*offer);
        }
        TxKind::FraudProof {
            lease,
            task,
            result,
        } => {
            writer.u8(9).u64(*lease);
            task.encode(writer);
            writer.bytes(result);
        }
        TxKind::StorageProof {
            lease,
            challenge,
            proof,
        } => {
            writer.u8(10).u64(*lease).u64(*challenge).bytes(proof);
        }
    }
}

fn decode_tx_kind(reader: &mut Reader<'_>) -> Result<TxKind, DecodeError> {
    Ok(match reader.u8("tx kind")? {
        1 => TxKind::Transfer {
            to: read_cell_id(reader, "transfer recipient")?,
            amount: reader.u64("transfer amount")?,
        },
        2 => {
            let token = reader.u16("order token")?;
            let side = match reader.u8("order side")? {
                1 => Side::Bid,
                2 => Side::Ask,
                tag => {
                    return Err(DecodeError::UnknownTag {
                        field: "order side",
                        tag,
                    });
                }
            };
            let price = match reader.u8("order price flag")? {
                0 => None,
                1 => Some(reader.u64("order price")?),
                tag => {
                    return Err(DecodeError::UnknownTag {
                        field: "order price flag",
                        tag,
                    });
                }
            };
            TxKind::Order {
                token,
                side,
                price,
                quantity: reader.u64("order quantity")?,
            }
        }
        3 => TxKind::Cancel {
            token: reader.u16("cancel token")?,
            order: reader.u64("cancel order")?,
        },
        4 => TxKind::ComputeOffer {
            units: reader.u64("offer units")?,
            price_per_unit: reader.u64("offer price")?,
            collateral: reader.u64("offer collateral")?,
        },
        5 => TxKind::StorageOffer {
            blocks: reader.u64("offer blocks")?,
            price_per_block: reader.u64("offer price")?,
            collateral: reader.u64("offer collateral")?,
        },
        6 => TxKind::Lease {
            offer: reader.u64("lease offer")?,
            amount: reader.u64("lease amount")?,
            intervals: reader.u32("lease intervals")?,
            data_seed: reader.array::<32>("lease data seed")?,
        },
        7 => TxKind::EndLease {
            lease: reader.u64("end lease")?,
        },
        8 => TxKind::WithdrawOffer {
            offer: reader.u64("withdraw offer")?,
        },
        9 => TxKind::FraudProof {
            lease: reader.u64("fraud proof lease")?,
            task: ExecTask::decode(reader)?,
            result: read_vec(reader, "fraud proof result", FRAUD_RESULT_LEN_MAX)?,
        },
        10 => TxKind::StorageProof {
            lease: reader.u64("storage proof lease")?,
            challenge: reader.u64("storage proof challenge")?,
            proof: read_vec(reader, "storage proof", STORAGE_PROOF_LEN_MAX)?,
        },
        tag => {
            return Err(DecodeError::UnknownTag {
                field: "tx kind",
                tag,
            });
        }
    })
}
