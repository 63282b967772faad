//! Replaying a DAG file (`docs/dag-format.md`, format `celluler-dag/1`):
//! hand-drawn or recorded events named by free-form ids, checked, signed with
//! keys derived from the member names when unsigned, and inserted in file
//! order. Every problem is a [`DagFileError`] naming the offending event.

use std::collections::{BTreeMap, HashMap}; // tidy: lookup-only (names to indexes)

use serde::{Deserialize, Serialize};

use super::engine::{Config, EventInfo, Hashgraph, InsertError, Member, PRUNE_LAG_ROUNDS};
use super::event::{Event, EventBody, EventHash, MemberIndex};
use crate::identity::{CellKeys, PUBLIC_KEY_LEN, PublicKey, SIGNATURE_LEN, Signature};

pub const FORMAT: &str = "celluler-dag/1";

/// The file, as parsed (by serde, e.g. `serde_json::from_str`) or written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DagFile {
    pub format: String,
    pub members: Vec<String>,
    /// Each member's ed25519 public key (64 hex digits), for a recorded DAG
    /// whose events carry their real signatures; absent: keys derived from
    /// the member names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_keys: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stake: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coin_round_frequency: Option<u32>,
    pub events: Vec<DagEvent>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DagEvent {
    pub id: String,
    pub creator: String,
    #[serde(default)]
    pub self_parent: Option<String>,
    #[serde(default)]
    pub other_parent: Option<String>,
    pub timestamp: u64,
    /// Transactions as text (their UTF-8 bytes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transactions: Vec<String>,
    /// Transactions as hex bytes (a recorded run's signed messages); an
    /// event has `transactions` or `transactions_hex`, not both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transactions_hex: Vec<String>,
    /// Hex ed25519 signature of a recorded event; absent: signed with the
    /// key derived from the creator's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// What the recording cell decided about this event; the replay checks
    /// its own facts against these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded: Option<RecordedFacts>,
}

/// One event's consensus facts as a recording cell decided them (`null`:
/// not decided by the end of the recording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedFacts {
    pub round: u32,
    pub witness: bool,
    pub famous: Option<bool>,
    pub round_received: Option<u32>,
    pub consensus_timestamp: Option<u64>,
    pub position: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagFileError {
    #[error("format is {found:?}, expected {FORMAT:?}")]
    Format { found: String },
    #[error("members: {0}")]
    Members(String),
    #[error("event {id:?}: {reason}")]
    Event { id: String, reason: String },
}

/// The replay's result, events in file order.
#[derive(Debug, Clone)]
pub struct Replay {
    pub members: Vec<String>,
    /// `(id, creator index, facts)` in file order.
    pub events: Vec<(String, EventInfo)>,
    /// Ids in consensus order.
    pub consensus_order: Vec<String>,
    /// Pairs of ids of forking events.
    pub forks: Vec<(String, String)>,
    /// For each event, in file order: its parents' positions in `events`.
    pub parents: Vec<(Option<usize>, Option<usize>)>,
    /// Events that carry recorded facts.
    pub recorded_events: usize,
    /// Each recorded fact the replay decided otherwise, naming the event.
    pub recorded_disagreements: Vec<String>,
}

fn event_error(id: &str, reason: impl Into<String>) -> DagFileError {
    DagFileError::Event {
        id: id.to_string(),
        reason: reason.into(),
    }
}

pub fn replay(file: &DagFile) -> Result<Replay, DagFileError> {
    if file.format != FORMAT {
        return Err(DagFileError::Format {
            found: file.format.clone(),
        });
    }
    if file.members.is_empty() {
        return Err(DagFileError::Members(
            "at least one member is needed".into(),
        ));
    }
    let mut member_index: HashMap<&str, MemberIndex> = HashMap::new(); // tidy: lookup-only
    for (index, name) in file.members.iter().enumerate() {
        if member_index.insert(name, index as MemberIndex).is_some() {
            return Err(DagFileError::Members(format!("{name:?} is listed twice")));
        }
    }
    let stake = match &file.stake {
        None => vec![1; file.members.len()],
        Some(stake) if stake.len() != file.members.len() => {
            return Err(DagFileError::Members(format!(
                "{} stakes for {} members",
                stake.len(),
                file.members.len()
            )));
        }
        Some(stake) => stake.clone(),
    };
    let keys: Vec<CellKeys> = file
        .members
        .iter()
        .map(|n| CellKeys::from_name(n))
        .collect();
    let public_keys: Vec<PublicKey> = match &file.public_keys {
        None => keys.iter().map(|k| *k.public()).collect(),
        Some(list) if list.len() != file.members.len() => {
            return Err(DagFileError::Members(format!(
                "{} public keys for {} members",
                list.len(),
                file.members.len()
            )));
        }
        Some(list) => list
            .iter()
            .zip(&file.members)
            .map(|(text, name)| {
                parse_hex::<PUBLIC_KEY_LEN>(text)
                    .and_then(|bytes| PublicKey::from_bytes(&bytes).ok())
                    .ok_or_else(|| {
                        DagFileError::Members(format!(
                            "public key of {name:?} is not 64 hex digits of a valid ed25519 key"
                        ))
                    })
            })
            .collect::<Result<_, _>>()?,
    };
    let members = public_keys
        .iter()
        .zip(&stake)
        .map(|(&public_key, &stake)| Member { public_key, stake })
        .collect();
    let config = Config {
        coin_round_frequency: file
            .coin_round_frequency
            .unwrap_or(Config::default().coin_round_frequency),
    };
    let mut graph =
        Hashgraph::new(members, config).map_err(|e| DagFileError::Members(e.to_string()))?;

    // Every id first, so a parent listed later is told apart from an unknown one.
    let mut position_of: HashMap<&str, usize> = HashMap::new(); // tidy: lookup-only
    for (position, event) in file.events.iter().enumerate() {
        if position_of.insert(&event.id, position).is_some() {
            return Err(event_error(&event.id, "duplicate id"));
        }
    }
    let mut hashes: Vec<EventHash> = Vec::with_capacity(file.events.len());
    let mut infos: Vec<EventInfo> = Vec::with_capacity(file.events.len());
    let mut id_of: BTreeMap<EventHash, usize> = BTreeMap::new();
    let mut parents = Vec::with_capacity(file.events.len());
    let mut forks = Vec::new();
    let mut ordered = Vec::new();
    for (position, event) in file.events.iter().enumerate() {
        let id = event.id.as_str();
        let creator = *member_index
            .get(event.creator.as_str())
            .ok_or_else(|| event_error(id, format!("unknown creator {:?}", event.creator)))?;
        let mut parent_positions = [None, None];
        for (slot, (kind, parent)) in [
            ("self_parent", &event.self_parent),
            ("other_parent", &event.other_parent),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(parent) = parent else { continue };
            let parent_position = *position_of.get(parent.as_str()).ok_or_else(|| {
                event_error(
                    id,
                    format!("{kind} {parent:?} is not an event of this file"),
                )
            })?;
            if parent_position >= position {
                return Err(event_error(
                    id,
                    format!("{kind} {parent:?} is listed after it (events come parents first)"),
                ));
            }
            parent_positions[slot] = Some(parent_position);
        }
        if let Some(parent) = parent_positions[0] {
            let parent_creator = &file.events[parent].creator;
            if *parent_creator != event.creator {
                return Err(event_error(
                    id,
                    format!(
                        "self_parent {:?} was created by {parent_creator:?}, not by {:?}",
                        file.events[parent].id, event.creator
                    ),
                ));
            }
        }
        if !event.transactions.is_empty() && !event.transactions_hex.is_empty() {
            return Err(event_error(
                id,
                "has both transactions and transactions_hex (one or the other)",
            ));
        }
        let mut transactions: Vec<Vec<u8>> = event
            .transactions
            .iter()
            .map(|t| t.as_bytes().to_vec())
            .collect();
        for (index, text) in event.transactions_hex.iter().enumerate() {
            transactions.push(decode_hex(text).ok_or_else(|| {
                event_error(
                    id,
                    format!("transactions_hex[{index}] is not an even number of hex digits"),
                )
            })?);
        }
        let body = EventBody {
            creator,
            self_parent: parent_positions[0].map(|p| hashes[p]),
            other_parent: parent_positions[1].map(|p| hashes[p]),
            timestamp_ns: event.timestamp,
            transactions,
        };
        if body.transactions.len() > super::event::TRANSACTIONS_MAX
            || body
                .transactions
                .iter()
                .any(|t| t.len() > super::event::TRANSACTION_BYTES_MAX)
        {
            return Err(event_error(id, "too many or too large transactions"));
        }
        let signed = match &event.signature {
            None if file.public_keys.is_some() => {
                return Err(event_error(
                    id,
                    "has no signature, but the file gives public keys (a recorded DAG \
                     carries every event's signature)",
                ));
            }
            None => Event::sign(body, &keys[creator as usize]),
            Some(text) => {
                let bytes = parse_hex::<SIGNATURE_LEN>(text)
                    .ok_or_else(|| event_error(id, "signature is not 128 hex digits"))?;
                Event::from_parts(body, Signature::from_bytes(&bytes))
            }
        };
        let hash = signed.hash();
        let decisions = graph.insert(signed).map_err(|error| match error {
            InsertError::Duplicate(_) => event_error(
                id,
                format!("identical to event {:?}", file.events[id_of[&hash]].id),
            ),
            InsertError::BadSignature { .. } => {
                event_error(id, "signature does not verify with the creator's key")
            }
            InsertError::AncientParent { kind, parent, .. } => event_error(
                id,
                format!(
                    "its {kind} {:?} is of a round decided and pruned long ago (an event \
                     needs a parent at most {PRUNE_LAG_ROUNDS} rounds below the next round \
                     to order)",
                    id_of
                        .get(&parent)
                        .map_or("?", |&position| file.events[position].id.as_str())
                ),
            ),
            InsertError::AncientRound { .. } => event_error(
                id,
                format!(
                    "a first event without parents, but round 0 was decided and pruned \
                     long ago ({PRUNE_LAG_ROUNDS} rounds below the next round to order)"
                ),
            ),
            other => event_error(id, other.to_string()),
        })?;
        hashes.push(hash);
        id_of.insert(hash, position);
        // Read now: a long DAG's old events are forgotten by the engine.
        infos.push(graph.event_info(&hash).expect("just inserted"));
        for fame in &decisions.fame {
            infos[id_of[&fame.witness]].famous = Some(fame.famous);
        }
        parents.push((parent_positions[0], parent_positions[1]));
        for proof in decisions.forks {
            forks.push((
                file.events[id_of[&proof.first.hash()]].id.clone(),
                file.events[id_of[&proof.second.hash()]].id.clone(),
            ));
        }
        for event in decisions.ordered {
            let position = id_of[&event.event.hash()];
            let info = &mut infos[position];
            info.round_received = Some(event.round_received);
            info.consensus_timestamp_ns = Some(event.consensus_timestamp_ns);
            info.position = Some(event.position);
            ordered.push(file.events[position].id.clone());
        }
    }
    let mut recorded_events = 0;
    let mut recorded_disagreements = Vec::new();
    for (event, info) in file.events.iter().zip(&infos) {
        if let Some(recorded) = &event.recorded {
            recorded_events += 1;
            recorded_disagreements.extend(disagreements(&event.id, recorded, info));
        }
    }
    let events = file
        .events
        .iter()
        .zip(infos)
        .map(|(event, info)| (event.id.clone(), info))
        .collect();
    Ok(Replay {
        members: file.members.clone(),
        events,
        consensus_order: ordered,
        forks,
        parents,
        recorded_events,
        recorded_disagreements,
    })
}

/// Each fact of `recorded` that the replay (`info`) decided otherwise.
fn disagreements(id: &str, recorded: &RecordedFacts, info: &EventInfo) -> Vec<String> {
    fn text<T: std::fmt::Debug>(value: Option<T>) -> String {
        value.map_or("undecided".to_string(), |value| format!("{value:?}"))
    }
    let pairs = [
        ("round", text(Some(recorded.round)), text(Some(info.round))),
        (
            "witness",
            text(Some(recorded.witness)),
            text(Some(info.witness)),
        ),
        ("famous", text(recorded.famous), text(info.famous)),
        (
            "round_received",
            text(recorded.round_received),
            text(info.round_received),
        ),
        (
            "consensus_timestamp",
            text(recorded.consensus_timestamp),
            text(info.consensus_timestamp_ns),
        ),
        ("position", text(recorded.position), text(info.position)),
    ];
    pairs
        .into_iter()
        .filter(|(_, recorded, replayed)| recorded != replayed)
        .map(|(fact, recorded, replayed)| {
            format!("event {id:?}: {fact} recorded {recorded}, replayed {replayed}")
        })
        .collect()
}

/// Exactly `2 * N` hex digits.
fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    decode_hex(text)?.try_into().ok()
}

/// An even number of hex digits, as bytes.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// Graphviz DOT of a replay: one column per member, events coloured by
/// round, witnesses drawn with a double border, famous witnesses filled
/// darker and bold; self-parent edges solid, other-parent edges dashed.
pub fn to_dot(replay: &Replay) -> String {
    const PALETTE: [&str; 8] = [
        "#cfe2f3", "#d9ead3", "#fff2cc", "#f4cccc", "#d9d2e9", "#fce5cd", "#d0e0e3", "#ead1dc",
    ];
    let mut out = String::from(
        "digraph hashgraph {\n  rankdir=BT;\n  node [shape=circle, style=filled, fontsize=10];\n",
    );
    for (index, name) in replay.members.iter().enumerate() {
        out.push_str(&format!(
            "  subgraph cluster_member_{index} {{\n    label={};\n    style=invis;\n",
            quote(name)
        ));
        for (id, info) in &replay.events {
            if info.creator as usize != index {
                continue;
            }
            let mut attributes = vec![
                format!(
                    "fillcolor=\"{}\"",
                    PALETTE[info.round as usize % PALETTE.len()]
                ),
                format!("xlabel=\"r{}\"", info.round),
            ];
            if info.witness {
                attributes.push("peripheries=2".to_string());
            }
            if info.famous == Some(true) {
                attributes.push("penwidth=3".to_string());
                attributes.push("style=\"filled,bold\"".to_string());
            }
            out.push_str(&format!("    {} [{}];\n", quote(id), attributes.join(", ")));
        }
        out.push_str("  }\n");
    }
    for ((id, _), (self_parent, other_parent)) in replay.events.iter().zip(&replay.parents) {
        if let Some(parent) = self_parent {
            out.push_str(&format!(
                "  {} -> {} [weight=10];\n",
                quote(&replay.events[*parent].0),
                quote(id)
            ));
        }
        if let Some(parent) = other_parent {
            out.push_str(&format!(
                "  {} -> {} [style=dashed, constraint=false];\n",
                quote(&replay.events[*parent].0),
                quote(id)
            ));
        }
    }
    out.push_str("}\n");
    out
}

fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}
