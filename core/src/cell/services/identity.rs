//! IdentityService: signing, the AUTH exchange, the trust network and access control.

use std::collections::BTreeMap; // tidy: lookup-only (seen transactions, visited events)
use std::sync::Arc;

use rand_core::RngCore;

use crate::bus::{Service, ServiceSpec};
use crate::identity::{CellId, CellKeys};
use crate::message::{Attestation, Auth, Body, Message, MessageType};
use crate::node::CellIndex;
use crate::rng::DetRng;
use crate::trust::{AccessAction, ForkProof as TrustForkProof, TrustEdge, TrustNetwork};

use crate::cell::api::CellObservation;
use crate::cell::protocol::{
    CellError, CellEvent, CellProtocol, CellRequest, CellResponse, JournalKind, cost,
};
use crate::cell::shared::{Directory, IoHandle, JournalReader, Signer};
use std::cell::RefCell;
use std::rc::Rc;

use super::{CallResult, Ctx, NucleusService, append, misrouted};

/// Identity journal block kinds.
pub(crate) const IDENTITY_GENESIS: u8 = 0;
const IDENTITY_ATTESTED: u8 = 1;
const IDENTITY_ATTESTED_BY: u8 = 2;

/// Trust a completed AUTH exchange gives the subject, in thousandths.
pub const AUTH_TRUST_PERMILLE: u16 = 800;

/// Signs for the cell, runs the AUTH exchange, keeps the trust network
/// (attestations, the interactions MessageService reports on
/// `message.interaction`, fork proofs) and answers access-control questions
/// (through [`AccessControl`]).
pub struct IdentityService {
    keys: Arc<CellKeys>,
    signer: Signer,
    journals: JournalReader,
    io: IoHandle,
    /// The member directory ([`crate::cell::CellConfig::members`]).
    members: Arc<Directory>,
    trust: Rc<RefCell<TrustNetwork>>,
    rng: DetRng,
    /// Open challenges by nonce.
    challenges: BTreeMap<[u8; 32], Arc<Message>>,
}

/// The read side of the trust network other services consult.
#[derive(Clone)]
pub struct AccessControl {
    trust: Rc<RefCell<TrustNetwork>>,
}

impl AccessControl {
    pub fn allows(&self, cell: &CellId, action: AccessAction) -> bool {
        self.trust.borrow_mut().allows(cell, action)
    }

    /// `cell`'s reputation in this network (parts per million).
    pub fn score_ppm(&self, cell: &CellId) -> u64 {
        self.trust.borrow_mut().score_ppm(cell)
    }

    /// What the trust network holds about `from`'s view of `to`
    /// (attestation weight, interactions), if anything.
    pub fn edge(&self, from: CellId, to: CellId) -> Option<TrustEdge> {
        self.trust.borrow().edge(from, to).copied()
    }
}

impl IdentityService {
    pub const NAME: &'static str = "identity";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME)
            .depends_on(NucleusService::NAME)
            .action("identity.authenticate")
            .subscribe("message.inbound")
            .subscribe("message.interaction")
            .subscribe("consensus.fork")
            .subscribe("state.slashed")
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        keys: Arc<CellKeys>,
        journals: JournalReader,
        io: IoHandle,
        members: Arc<Directory>,
        trust: TrustNetwork,
        rng: DetRng,
    ) -> Self {
        let signer = Signer::new(keys.clone(), journals.clone());
        IdentityService {
            keys,
            signer,
            journals,
            io,
            members,
            trust: Rc::new(RefCell::new(trust)),
            rng,
            challenges: BTreeMap::new(),
        }
    }

    pub fn signer(&self) -> Signer {
        self.signer.clone()
    }

    pub fn access(&self) -> AccessControl {
        AccessControl {
            trust: self.trust.clone(),
        }
    }

    fn cell_id_of(&self, index: CellIndex) -> Option<CellId> {
        self.members
            .get(index.as_usize())
            .map(|member| member.cell_id)
    }

    /// Rebuild the trust edges from the identity journal.
    fn replay_journal(&mut self) {
        let me = self.keys.cell_id();
        for block in self.journals.blocks(JournalKind::Identity) {
            let Some((&kind, rest)) = block.split_first() else {
                continue;
            };
            let Ok(message) = Message::decode(rest) else {
                continue;
            };
            let Body::Auth(Auth::Attestation(attestation)) = &message.body else {
                continue;
            };
            let weight = u64::from(attestation.trust_permille);
            let mut trust = self.trust.borrow_mut();
            match kind {
                IDENTITY_ATTESTED => {
                    let _ = trust.attest(me, attestation.subject(), weight);
                }
                IDENTITY_ATTESTED_BY => {
                    let _ = trust.attest(message.sender, me, weight);
                }
                _ => {}
            }
        }
    }

    fn route(&self, ctx: &mut Ctx<'_>, to: CellIndex, message: Message) {
        ctx.call(CellRequest::MessageRoute {
            to,
            message: Arc::new(message),
        })
        .expect("queue has room");
    }

    fn on_auth(&mut self, from: CellIndex, message: &Arc<Message>, ctx: &mut Ctx<'_>) {
        let Body::Auth(auth) = &message.body else {
            return;
        };
        let now = self.io.borrow().now;
        match auth {
            Auth::Challenge { .. } => {
                // Prove possession of our key: sign a response bound to it.
                let Ok(body) = Message::auth_response_body(message) else {
                    return;
                };
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                if let Ok(response) = self.signer.sign(now, message.sender, body) {
                    self.route(ctx, from, response);
                }
            }
            Auth::Response {
                challenge_nonce, ..
            } => {
                let Some(challenge) = self.challenges.remove(challenge_nonce) else {
                    self.io
                        .borrow_mut()
                        .observations
                        .push(CellObservation::MessageRejected {
                            reason: "auth response to no open challenge",
                        });
                    return;
                };
                if Message::check_auth_response(&challenge, message).is_err() {
                    self.io
                        .borrow_mut()
                        .observations
                        .push(CellObservation::MessageRejected {
                            reason: "auth response does not match its challenge",
                        });
                    return;
                }
                let attestation = Attestation {
                    subject_key: message.proof.public_key,
                    subject_identity_head: message.proof.identity_head.clone(),
                    evidence_hash: message.hash(),
                    trust_permille: AUTH_TRUST_PERMILLE,
                    statement: "authenticated by challenge and response".into(),
                };
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                let Ok(signed) = self.signer.sign(
                    now,
                    message.sender,
                    Body::Auth(Auth::Attestation(Box::new(attestation))),
                ) else {
                    return;
                };
                let me = self.keys.cell_id();
                let _ = self.trust.borrow_mut().attest(
                    me,
                    message.sender,
                    u64::from(AUTH_TRUST_PERMILLE),
                );
                let mut block = vec![IDENTITY_ATTESTED];
                block.extend(signed.encode());
                append(ctx, JournalKind::Identity, block);
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::Authenticated { peer: from });
                self.route(ctx, from, signed);
            }
            Auth::Attestation(attestation) => {
                let me = self.keys.cell_id();
                if attestation.subject() != me {
                    self.io
                        .borrow_mut()
                        .observations
                        .push(CellObservation::MessageRejected {
                            reason: "attestation about another cell",
                        });
                    return;
                }
                let _ = self.trust.borrow_mut().attest(
                    message.sender,
                    me,
                    u64::from(attestation.trust_permille),
                );
                let mut block = vec![IDENTITY_ATTESTED_BY];
                block.extend(message.encode());
                append(ctx, JournalKind::Identity, block);
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::Authenticated { peer: from });
            }
        }
    }
}

impl Service<CellProtocol> for IdentityService {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let empty = self
            .journals
            .with(JournalKind::Identity, |journal| journal.is_empty());
        if empty {
            // The genesis block: the key this identity is. Every message
            // carries the identity head, so it must exist before any signing;
            // it is appended here directly through the bus so that the head
            // exists once the bus has run.
            let mut block = vec![IDENTITY_GENESIS];
            block.extend(self.keys.public().as_bytes());
            append(ctx, JournalKind::Identity, block);
        } else {
            self.replay_journal();
        }
        let mut trust = self.trust.borrow_mut();
        for member in self.members.iter() {
            trust.add_cell(member.cell_id);
            trust.add_pre_trusted(member.cell_id);
        }
    }

    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        match request {
            CellRequest::IdentityAuthenticate { with, identity } => {
                let peer = match identity {
                    Some(identity) => identity,
                    None => self.cell_id_of(with).ok_or(CellError::UnknownCell(with))?,
                };
                let mut nonce = [0u8; 32];
                self.rng.fill_bytes(&mut nonce);
                let now = self.io.borrow().now;
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                let challenge = self
                    .signer
                    .sign(now, peer, Body::Auth(Auth::Challenge { nonce }))
                    .map_err(|error| CellError::Sign(error.to_string()))?;
                let challenge = Arc::new(challenge);
                self.challenges.insert(nonce, challenge.clone());
                ctx.call(CellRequest::MessageRoute {
                    to: with,
                    message: challenge,
                })
                .expect("queue has room");
                Ok(CellResponse::Done)
            }
            other => Err(misrouted(&other)),
        }
    }

    fn on_event(&mut self, event: &CellEvent, ctx: &mut Ctx<'_>) {
        match event {
            CellEvent::Inbound { from, message } if message.message_type() == MessageType::Auth => {
                self.on_auth(*from, message, ctx);
            }
            CellEvent::Interaction { peer, outcome } => {
                // A self-edge is the only error, and a cell never rates itself.
                let _ = self.trust.borrow_mut().record_interaction(
                    self.keys.cell_id(),
                    *peer,
                    *outcome,
                );
            }
            CellEvent::Slashed { provider } => {
                self.trust.borrow_mut().record_slash(*provider);
            }
            CellEvent::Fork {
                creator,
                evidence_hash,
            } => {
                let forker = self.cell_id_of(CellIndex(*creator));
                if let Some(forker) = forker {
                    let is_new = self.trust.borrow_mut().record_fork_proof(TrustForkProof {
                        forker,
                        reporter: self.keys.cell_id(),
                        evidence_hash: *evidence_hash,
                    });
                    if is_new {
                        self.io
                            .borrow_mut()
                            .observations
                            .push(CellObservation::ForkDetected {
                                creator: CellIndex(*creator),
                            });
                    }
                }
            }
            _ => {}
        }
    }
}
