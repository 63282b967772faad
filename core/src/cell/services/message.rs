//! MessageService: signed direct messages in and out, and TX/POST submission.

use std::sync::Arc;

use crate::bus::{Service, ServiceSpec};
use crate::codec::Reader;
use crate::identity::CellId;
use crate::message::{Body, Message, MessageError, MessageType};
use crate::node::CellIndex;
use crate::trust::{AccessAction, InteractionOutcome};

use crate::cell::api::CellObservation;
use crate::cell::protocol::{
    CellError, CellEvent, CellProtocol, CellRequest, CellResponse, CellWire, JournalKind, cost,
};
use crate::cell::shared::{Directory, IoHandle, JournalReader, Signer};

use super::{
    AccessControl, CallResult, ConsensusService, Ctx, DIRECTION_IN, DIRECTION_OUT, IdentityService,
    NucleusService, STATUS_DELIVERED, STATUS_RELAYED, STATUS_SUBMITTED, append, journal_entry,
    misrouted, record_rejection,
};

/// Builds, timestamps, signs (through the identity [`Signer`]), routes and
/// delivers messages; verifies and access-checks what arrives; journals every
/// message in and out with its delivery status.
pub struct MessageService {
    signer: Signer,
    access: AccessControl,
    journals: JournalReader,
    io: IoHandle,
    /// The member directory ([`crate::cell::CellConfig::members`]).
    members: Arc<Directory>,
    /// Next TX nonce of this cell (recovered from the journal).
    next_nonce: u64,
}

impl MessageService {
    pub const NAME: &'static str = "message";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME)
            .depends_on(NucleusService::NAME)
            .depends_on(IdentityService::NAME)
            .depends_on(ConsensusService::NAME)
            .action("message.send")
            .action("message.route")
            .action("message.receive")
            .action("message.submit")
            .action("message.relay")
            .subscribe("message.inbound")
    }

    pub fn new(
        signer: Signer,
        access: AccessControl,
        journals: JournalReader,
        io: IoHandle,
        members: Arc<Directory>,
    ) -> Self {
        MessageService {
            signer,
            access,
            journals,
            io,
            members,
            next_nonce: 0,
        }
    }

    fn cell_id_of(&self, index: CellIndex) -> Result<CellId, CellError> {
        self.members
            .get(index.as_usize())
            .map(|member| member.cell_id)
            .ok_or(CellError::UnknownCell(index))
    }

    fn reject(&mut self, ctx: &mut Ctx<'_>, from: CellIndex, reason: &'static str, encoded: &[u8]) {
        let bounded = &encoded[..encoded.len().min(crate::message::MESSAGE_LEN_MAX)];
        record_rejection(ctx, &self.io, from, reason, bounded);
    }

    fn deliver(&mut self, ctx: &mut Ctx<'_>, to: CellIndex, message: &Message) -> [u8; 32] {
        let encoded = message.encode();
        let hash = *blake3::hash(&encoded).as_bytes();
        ctx.charge_cpu(cost::bytes_ns(encoded.len()));
        append(
            ctx,
            JournalKind::Message,
            journal_entry(DIRECTION_OUT, STATUS_DELIVERED, to, "", &encoded),
        );
        self.io.borrow_mut().sends.push((
            to,
            CellWire::Direct {
                encoded: encoded.into(),
            },
        ));
        hash
    }

    fn receive(&mut self, ctx: &mut Ctx<'_>, from: CellIndex, encoded: &[u8]) {
        ctx.charge_cpu(cost::bytes_ns(encoded.len()));
        let message = match Message::decode(encoded) {
            Ok(message) => message,
            Err(_) => return self.reject(ctx, from, "undecodable message", encoded),
        };
        // Identity head and message signature: two checks.
        ctx.charge_cpu(2 * cost::SIGNATURE_VERIFY_NS);
        // The link's owner answers for what crosses it.
        let link_owner = self.cell_id_of(from).ok();
        let verified = match (self.members.index_of(&message.sender), link_owner) {
            // A member speaks only over its own link (anything else is a
            // replay or a relay this protocol does not have).
            (Some(member), Some(owner)) if member != from => Err(MessageError::WrongSigner {
                expected: owner,
                actual: message.sender,
            }),
            (Some(_), None) => Err(MessageError::IdentityMismatch),
            // A member over its own link, or a non-member identity (a client,
            // a cell outside consensus) reached over this link: its message
            // proves its own key.
            _ => message.verify(),
        };
        if let Err(error) = verified {
            let reason = match error {
                MessageError::BadSignature => "bad signature",
                MessageError::WrongSigner { .. } => "signer is not the sending cell",
                MessageError::IdentityMismatch => "key does not match the sender",
                MessageError::BadIdentityHead { .. } => "bad identity proof",
                MessageError::BadAttestation { .. } => "bad attestation",
                _ => "invalid message",
            };
            if let Some(owner) = link_owner {
                interaction(ctx, owner, InteractionOutcome::Failure);
            }
            return self.reject(ctx, from, reason, encoded);
        }
        if message.receiver != self.signer.cell_id() {
            return self.reject(ctx, from, "addressed to another cell", encoded);
        }
        let kind = message.message_type();
        let action = match kind {
            MessageType::Chat => AccessAction::Chat,
            MessageType::Auth => AccessAction::Auth,
            MessageType::Query => AccessAction::Query,
            MessageType::Exec => AccessAction::Exec,
            MessageType::Tx | MessageType::Post => {
                return self.reject(ctx, from, "tx and post travel through consensus", encoded);
            }
        };
        if !self.access.allows(&message.sender, action) {
            return self.reject(ctx, from, "access denied by reputation", encoded);
        }
        interaction(ctx, message.sender, InteractionOutcome::Success);
        append(
            ctx,
            JournalKind::Message,
            journal_entry(DIRECTION_IN, STATUS_DELIVERED, from, "", encoded),
        );
        self.io
            .borrow_mut()
            .observations
            .push(CellObservation::MessageAccepted { kind });
        ctx.emit(CellEvent::Inbound {
            from,
            message: Arc::new(message),
        })
        .expect("queue has room");
    }

    /// Scan the journal on restart: the next nonce, and the TX/POSTs
    /// submitted to consensus (resubmitted: consensus drops those it has seen).
    /// Count, observe and journal a client TX this entry cell refused (the
    /// entry's peer field holds the client's index).
    fn reject_relay(&self, ctx: &mut Ctx<'_>, client: u32, reason: &'static str, encoded: &[u8]) {
        let bounded = &encoded[..encoded.len().min(crate::message::MESSAGE_LEN_MAX)];
        record_rejection(ctx, &self.io, CellIndex(client), reason, bounded);
    }

    fn replay_journal(&mut self, ctx: &mut Ctx<'_>) {
        for block in self.journals.blocks(JournalKind::Message) {
            let mut reader = Reader::new(&block);
            let (Ok(direction), Ok(status)) = (reader.u8("direction"), reader.u8("status")) else {
                continue;
            };
            if direction != DIRECTION_OUT
                || (status != STATUS_SUBMITTED && status != STATUS_RELAYED)
            {
                continue;
            }
            let _ = reader.u32("peer");
            let _ = reader.str("reason", 256);
            let Ok(encoded) = reader.bytes("message", crate::message::MESSAGE_LEN_MAX) else {
                continue;
            };
            let Ok(message) = Message::decode(encoded) else {
                continue;
            };
            // A relayed client TX carries the client's nonce, not this
            // cell's.
            if let Body::Tx(tx) = &message.body
                && status == STATUS_SUBMITTED
            {
                self.next_nonce = self.next_nonce.max(tx.nonce + 1);
            }
            ctx.call(CellRequest::ConsensusSubmit {
                encoded: encoded.into(),
                hash: message.hash(),
            })
            .expect("queue has room");
        }
    }
}

/// Tell IdentityService (topic `message.interaction`) how a message from
/// `peer` went, for its trust network.
fn interaction(ctx: &mut Ctx<'_>, peer: CellId, outcome: InteractionOutcome) {
    ctx.emit(CellEvent::Interaction { peer, outcome })
        .expect("queue has room");
}

impl Service<CellProtocol> for MessageService {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.replay_journal(ctx);
    }

    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        let now = self.io.borrow().now;
        match request {
            CellRequest::MessageSend { to, body } => {
                let receiver = self.cell_id_of(to)?;
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                let message = self
                    .signer
                    .sign(now, receiver, body)
                    .map_err(|error| CellError::Sign(error.to_string()))?;
                let hash = self.deliver(ctx, to, &message);
                Ok(CellResponse::Sent { hash })
            }
            CellRequest::MessageRoute { to, message } => {
                let hash = self.deliver(ctx, to, &message);
                Ok(CellResponse::Sent { hash })
            }
            CellRequest::MessageReceive { from, encoded } => {
                self.receive(ctx, from, &encoded);
                Ok(CellResponse::Done)
            }
            CellRequest::MessageSubmit { to, body } => {
                let receiver = self.cell_id_of(to)?;
                let body = match body {
                    Body::Tx(mut tx) => {
                        tx.nonce = self.next_nonce;
                        Body::Tx(tx)
                    }
                    other => other,
                };
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                let message = self
                    .signer
                    .sign(now, receiver, body)
                    .map_err(|error| CellError::Sign(error.to_string()))?;
                if matches!(message.body, Body::Tx(_)) {
                    self.next_nonce += 1;
                }
                let encoded = message.encode();
                let hash = *blake3::hash(&encoded).as_bytes();
                append(
                    ctx,
                    JournalKind::Message,
                    journal_entry(DIRECTION_OUT, STATUS_SUBMITTED, to, "", &encoded),
                );
                if matches!(message.body, Body::Tx(_)) {
                    self.io
                        .borrow_mut()
                        .observations
                        .push(CellObservation::TxSubmitted { tx: hash });
                    if let Body::Tx(tx) = &message.body
                        && !matches!(tx.kind, crate::message::TxKind::Transfer { .. })
                    {
                        self.io
                            .borrow_mut()
                            .observations
                            .push(CellObservation::MarketSubmitted {
                                tx: hash,
                                kind: Arc::new(tx.kind.clone()),
                            });
                    }
                }
                ctx.call(CellRequest::ConsensusSubmit {
                    encoded: encoded.into(),
                    hash,
                })
                .expect("queue has room");
                Ok(CellResponse::Sent { hash })
            }
            CellRequest::MessageRelay {
                client,
                encoded,
                first_submitted_ns,
            } => {
                // An entry cell checks a client's TX as any receiver would
                // before it spends an event on it.
                ctx.charge_cpu(cost::SIGNATURE_VERIFY_NS + cost::bytes_ns(encoded.len()));
                let message = match Message::decode_verified(&encoded) {
                    Ok(message) if matches!(message.body, Body::Tx(_)) => message,
                    Ok(_) => {
                        self.reject_relay(ctx, client, "relay: not a transaction", &encoded);
                        return Ok(CellResponse::Done);
                    }
                    Err(_) => {
                        self.reject_relay(ctx, client, "relay: bad transaction", &encoded);
                        return Ok(CellResponse::Done);
                    }
                };
                let hash = message.hash();
                append(
                    ctx,
                    JournalKind::Message,
                    // The peer field holds the client's index.
                    journal_entry(
                        DIRECTION_OUT,
                        STATUS_RELAYED,
                        CellIndex(client),
                        "",
                        &encoded,
                    ),
                );
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::TxRelayed {
                        tx: hash,
                        client,
                        first_submitted_ns,
                    });
                ctx.call(CellRequest::ConsensusSubmit { encoded, hash })
                    .expect("queue has room");
                Ok(CellResponse::Sent { hash })
            }
            other => Err(misrouted(&other)),
        }
    }

    fn on_event(&mut self, event: &CellEvent, _ctx: &mut Ctx<'_>) {
        // CHAT ends here: it was verified and journaled on receipt (and on
        // the sender's side when sent).
        if let CellEvent::Inbound { message, .. } = event {
            debug_assert!(message.receiver == self.signer.cell_id());
        }
    }
}
