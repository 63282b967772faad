//! Signed messages between cells: CHAT, AUTH, TX, POST, QUERY, EXEC.
//!
//! A [`Message`] carries its sender's [`IdentityProof`] (public key and the
//! signed head of the sender's identity journal) and an ed25519 signature over
//! [`Message::signable_bytes`]. A receiver that knows nothing about the sender
//! checks, with [`Message::verify`]: the key hashes to the sender's `CellId`,
//! the identity head is signed by that key, and the message is signed by it.
//!
//! Encoding (canonical, hand-written with [`crate::codec`]; one value, one
//! encoding; every byte consumed):
//!
//! ```text
//! u8 format version (1) | u64 timestamp_ns | sender (32) | receiver (32)
//! | proof: public key (32) ‖ identity SignedHead (152)
//! | body: u8 message type ‖ type-specific fields (see `body.rs`)
//! | signature (64)
//! ```
//!
//! The signature covers `MESSAGE_SIGNATURE_DOMAIN ‖ everything but the
//! signature`, so a message signature can never be mistaken for a journal head
//! signature or any other signature a cell makes.

mod body;
#[cfg(test)]
mod tests;

pub use body::{
    Attestation, Auth, Body, Chat, Exec, ExecTask, MessageType, Post, Query, QueryTarget, Tx,
    TxKind,
};

use std::sync::LazyLock;

use crate::codec::{DecodeError, Reader, Writer};
use crate::identity::{CellId, CellKeys, PublicKey, SIGNATURE_LEN, Signature};
use crate::journal::head::{JournalTag, SIGNED_HEAD_LEN, SignedHead};
use crate::time::TimeNs;

pub use limits::*;

/// Size limits, enforced when a message is signed and when it is decoded
/// (before anything is allocated). A body at its field limits always fits in
/// [`MESSAGE_LEN_MAX`].
pub mod limits {
    /// Largest encoded message, in bytes (checked first on decode).
    pub const MESSAGE_LEN_MAX: usize = 64 * 1024;
    /// Chat text, bytes of UTF-8.
    pub const CHAT_TEXT_LEN_MAX: usize = 4 * 1024;
    /// Post topic (and query topic), bytes of UTF-8.
    pub const POST_TOPIC_LEN_MAX: usize = 128;
    /// Post content, bytes.
    pub const POST_CONTENT_LEN_MAX: usize = 32 * 1024;
    /// Query answer data, bytes.
    pub const QUERY_DATA_LEN_MAX: usize = 32 * 1024;
    /// Query answer proof (a nested journal-proof encoding), bytes.
    pub const QUERY_PROOF_LEN_MAX: usize = 16 * 1024;
    /// Posts one query may ask for.
    pub const QUERY_COUNT_MAX: usize = 256;
    /// Attestation statement, bytes of UTF-8.
    pub const ATTESTATION_STATEMENT_LEN_MAX: usize = 256;
    /// Largest trust score of an attestation (thousandths: 1000 = full trust).
    pub const TRUST_PERMILLE_MAX: u16 = 1000;
    /// Input of a hash-chain task, bytes.
    pub const EXEC_INPUT_LEN_MAX: usize = 4 * 1024;
    /// Iterations of a hash-chain task.
    pub const EXEC_HASH_CHAIN_ITERATIONS_MAX: u32 = 1_000_000;
    /// Values of a sum task.
    pub const EXEC_SUM_VALUES_MAX: usize = 1024;
    /// Output of an execution result, bytes.
    pub const EXEC_OUTPUT_LEN_MAX: usize = 4 * 1024;
    /// Longest signed EXEC result a fraud proof carries (a whole message).
    pub const FRAUD_RESULT_LEN_MAX: usize = 8 * 1024;
    /// Longest storage proof (a journal range proof of one block).
    pub const STORAGE_PROOF_LEN_MAX: usize = 8 * 1024;
}

/// The first byte of every encoded message. A new layout takes a new version;
/// old decoders reject it rather than misread it.
pub const MESSAGE_FORMAT_VERSION: u8 = 1;

/// Bytes of a message before its body: version, timestamp, sender, receiver,
/// identity proof.
pub const MESSAGE_HEADER_LEN: usize = 1 + 8 + 32 + 32 + 32 + SIGNED_HEAD_LEN;

const MESSAGE_SIGNATURE_CONTEXT: &str = "celluler 2026-11 message signature";

/// The 32-byte domain separator in front of every message's signable bytes
/// (derived once; a test pins it to its definition).
static MESSAGE_SIGNATURE_DOMAIN: LazyLock<[u8; 32]> =
    LazyLock::new(|| blake3::derive_key(MESSAGE_SIGNATURE_CONTEXT, b""));

/// The tag of the identity journal (derived once).
static IDENTITY_JOURNAL_TAG: LazyLock<JournalTag> =
    LazyLock::new(|| JournalTag::named(IDENTITY_JOURNAL));

/// The name of the identity journal, whose head every message carries.
pub const IDENTITY_JOURNAL: &str = "identity";

/// The sender's proof of identity: its public key (which must hash to the
/// sender's `CellId`) and the signed head of its identity journal, so a
/// receiver can ask for that journal and verify it up to this length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProof {
    pub public_key: PublicKey,
    pub identity_head: SignedHead,
}

impl IdentityProof {
    /// Checks that the key is `sender`'s and that it signed an identity head.
    pub fn verify(&self, sender: &CellId) -> Result<(), MessageError> {
        self.verify_with_known_head(sender, None)
    }

    /// [`IdentityProof::verify`], skipping the head's signature check when the
    /// head is `known_head`: one the caller already verified for `sender`.
    /// (The key is checked against `sender` first, and one `CellId` has one
    /// key, so an equal head verified earlier verifies now.)
    pub fn verify_with_known_head(
        &self,
        sender: &CellId,
        known_head: Option<&SignedHead>,
    ) -> Result<(), MessageError> {
        self.check_key_and_tag(sender)?;
        if known_head == Some(&self.identity_head) {
            return Ok(());
        }
        self.identity_head
            .verify(&self.public_key)
            .map_err(|_| MessageError::BadIdentityHead {
                reason: "head signature does not verify under the sender's key",
            })
    }

    fn check_key_and_tag(&self, sender: &CellId) -> Result<(), MessageError> {
        if self.public_key.cell_id() != *sender {
            return Err(MessageError::IdentityMismatch);
        }
        if self.identity_head.tag != *IDENTITY_JOURNAL_TAG {
            return Err(MessageError::BadIdentityHead {
                reason: "not the head of an identity journal",
            });
        }
        Ok(())
    }

    fn encode(&self, writer: &mut Writer) {
        writer.fixed(self.public_key.as_bytes());
        self.identity_head.encode(writer);
    }

    fn decode(reader: &mut Reader<'_>) -> Result<IdentityProof, DecodeError> {
        Ok(IdentityProof {
            public_key: body::read_public_key(reader, "proof public key")?,
            identity_head: SignedHead::decode(reader)?,
        })
    }
}

/// A signed message. Built by [`Message::sign`] or [`Message::decode`], both
/// of which enforce the size limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Sender's virtual time at creation, in nanoseconds.
    pub timestamp: TimeNs,
    pub sender: CellId,
    pub receiver: CellId,
    pub body: Body,
    pub signature: Signature,
    pub proof: IdentityProof,
}

/// Why a message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("cannot decode message: {0}")]
    Decode(#[from] DecodeError),
    #[error("{field} is {length} bytes, the limit is {limit}")]
    TooLong {
        field: &'static str,
        length: usize,
        limit: usize,
    },
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("message signature does not verify under the sender's key")]
    BadSignature,
    #[error("message is from {actual:?}, expected {expected:?}")]
    WrongSigner { expected: CellId, actual: CellId },
    #[error("the proof's public key does not hash to the sender's cell id")]
    IdentityMismatch,
    #[error("bad identity head: {reason}")]
    BadIdentityHead { reason: &'static str },
    #[error("bad attestation: {reason}")]
    BadAttestation { reason: &'static str },
    #[error("auth response does not answer the challenge: {reason}")]
    AuthMismatch { reason: &'static str },
}

impl Message {
    /// Signs a message from the owner of `keys`. Fails if the body breaks a
    /// size limit or `identity_head` is not an identity-journal head. The
    /// head's signature is not re-checked here (that would double the cost of
    /// signing): the caller passes the head its own journal signed, and a head
    /// signed by another key fails at every receiver.
    pub fn sign(
        keys: &CellKeys,
        identity_head: SignedHead,
        timestamp: TimeNs,
        receiver: CellId,
        body: Body,
    ) -> Result<Message, MessageError> {
        body.validate()?;
        let proof = IdentityProof {
            public_key: *keys.public(),
            identity_head,
        };
        let sender = keys.cell_id();
        proof.check_key_and_tag(&sender)?;
        let mut message = Message {
            timestamp,
            sender,
            receiver,
            body,
            // Replaced below; an all-zero signature never verifies.
            signature: Signature::from_bytes(&[0; SIGNATURE_LEN]),
            proof,
        };
        let signable = message.signable_bytes();
        let encoded_len = signable.len() - 32 + SIGNATURE_LEN;
        if encoded_len > MESSAGE_LEN_MAX {
            return Err(MessageError::TooLong {
                field: "message",
                length: encoded_len,
                limit: MESSAGE_LEN_MAX,
            });
        }
        message.signature = keys.sign(&signable);
        Ok(message)
    }

    pub fn message_type(&self) -> MessageType {
        self.body.message_type()
    }

    /// The bytes the signature covers: a 32-byte domain separator, then the
    /// canonical encoding of every field except the signature.
    pub fn signable_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::with_capacity(32 + MESSAGE_HEADER_LEN + 64);
        writer.fixed(&*MESSAGE_SIGNATURE_DOMAIN);
        self.encode_unsigned(&mut writer);
        writer.finish()
    }

    fn encode_unsigned(&self, writer: &mut Writer) {
        writer
            .u8(MESSAGE_FORMAT_VERSION)
            .u64(self.timestamp)
            .fixed(self.sender.as_bytes())
            .fixed(self.receiver.as_bytes());
        self.proof.encode(writer);
        self.body.encode(writer);
    }

    /// The canonical encoding. A message from [`Message::sign`] or
    /// [`Message::decode`] is within the limits; one whose public fields were
    /// later pushed past them is a programming error, and panics here.
    pub fn encode(&self) -> Vec<u8> {
        if let Err(error) = self.body.validate() {
            panic!("encoding a message that breaks its limits: {error}");
        }
        let mut writer = Writer::with_capacity(MESSAGE_HEADER_LEN + 64 + SIGNATURE_LEN);
        self.encode_unsigned(&mut writer);
        writer.fixed(&self.signature.to_bytes());
        assert!(
            writer.len() <= MESSAGE_LEN_MAX,
            "encoded message is {} bytes, over MESSAGE_LEN_MAX",
            writer.len()
        );
        writer.finish()
    }

    /// blake3 of the canonical encoding: the message's identity (what an
    /// auth response or a journal entry refers to).
    pub fn hash(&self) -> [u8; 32] {
        *blake3::hash(&self.encode()).as_bytes()
    }

    /// Decodes exactly one message from `bytes`; never panics, never
    /// allocates more than the limits allow. Does not verify signatures.
    pub fn decode(bytes: &[u8]) -> Result<Message, MessageError> {
        if bytes.len() > MESSAGE_LEN_MAX {
            return Err(DecodeError::TooLong {
                field: "message",
                length: bytes.len() as u64,
                limit: MESSAGE_LEN_MAX as u64,
            }
            .into());
        }
        let mut reader = Reader::new(bytes);
        let version = reader.u8("message format version")?;
        if version != MESSAGE_FORMAT_VERSION {
            return Err(DecodeError::UnknownTag {
                field: "message format version",
                tag: version,
            }
            .into());
        }
        let timestamp = reader.u64("message timestamp")?;
        let sender = CellId(reader.array("message sender")?);
        let receiver = CellId(reader.array("message receiver")?);
        let proof = IdentityProof::decode(&mut reader)?;
        let body = Body::decode(&mut reader)?;
        let signature = Signature::from_bytes(&reader.array("message signature")?);
        reader.finish()?;
        Ok(Message {
            timestamp,
            sender,
            receiver,
            body,
            signature,
            proof,
        })
    }

    /// Checks the identity proof, the signature (strict ed25519, so a
    /// signature has one valid encoding), and the evidence an attestation
    /// carries. Says nothing about whether the sender is who you expected:
    /// see [`Message::verify_from`].
    pub fn verify(&self) -> Result<(), MessageError> {
        self.verify_with_known_head(None)
    }

    /// [`Message::verify`] for a receiver that remembers the last identity
    /// head it verified for this sender: when the message carries that same
    /// head, its signature is not checked again, so a message costs one
    /// signature verification instead of two.
    pub fn verify_with_known_head(
        &self,
        known_head: Option<&SignedHead>,
    ) -> Result<(), MessageError> {
        self.proof
            .verify_with_known_head(&self.sender, known_head)?;
        self.proof
            .public_key
            .verify(&self.signable_bytes(), &self.signature)
            .map_err(|_| MessageError::BadSignature)?;
        if let Body::Auth(Auth::Attestation(attestation)) = &self.body {
            let subject_proof = IdentityProof {
                public_key: attestation.subject_key,
                identity_head: attestation.subject_identity_head.clone(),
            };
            subject_proof.verify(&attestation.subject()).map_err(|_| {
                MessageError::BadAttestation {
                    reason: "the subject's identity head is not signed by the subject key",
                }
            })?;
        }
        Ok(())
    }

    /// [`Message::verify`], and the sender must be `expected_sender`.
    pub fn verify_from(&self, expected_sender: &CellId) -> Result<(), MessageError> {
        if self.sender != *expected_sender {
            return Err(MessageError::WrongSigner {
                expected: *expected_sender,
                actual: self.sender,
            });
        }
        self.verify()
    }

    /// Decode then verify, the receiver's one call for network bytes.
    pub fn decode_verified(bytes: &[u8]) -> Result<Message, MessageError> {
        let message = Message::decode(bytes)?;
        message.verify()?;
        Ok(message)
    }

    /// The body of a response to `challenge` (an AUTH Challenge message).
    pub fn auth_response_body(challenge: &Message) -> Result<Body, MessageError> {
        match &challenge.body {
            Body::Auth(Auth::Challenge { nonce }) => Ok(Body::Auth(Auth::Response {
                challenge_nonce: *nonce,
                challenge_hash: challenge.hash(),
            })),
            _ => Err(MessageError::AuthMismatch {
                reason: "not an auth challenge",
            }),
        }
    }

    /// The challenger's check of `response` to its own `challenge`: the
    /// response verifies, comes from the challenged cell, is addressed to the
    /// challenger, is not older than the challenge, and names this challenge
    /// by nonce and hash. The challenger must still accept one response per
    /// nonce (its nonces are fresh, so a replayed response names a closed one).
    pub fn check_auth_response(
        challenge: &Message,
        response: &Message,
    ) -> Result<(), MessageError> {
        let Body::Auth(Auth::Challenge { nonce }) = &challenge.body else {
            return Err(MessageError::AuthMismatch {
                reason: "not an auth challenge",
            });
        };
        let Body::Auth(Auth::Response {
            challenge_nonce,
            challenge_hash,
        }) = &response.body
        else {
            return Err(MessageError::AuthMismatch {
                reason: "not an auth response",
            });
        };
        response.verify_from(&challenge.receiver)?;
        if response.receiver != challenge.sender {
            return Err(MessageError::AuthMismatch {
                reason: "response is addressed to another cell",
            });
        }
        if response.timestamp < challenge.timestamp {
            return Err(MessageError::AuthMismatch {
                reason: "response is older than the challenge",
            });
        }
        if challenge_nonce != nonce {
            return Err(MessageError::AuthMismatch {
                reason: "nonce differs",
            });
        }
        if *challenge_hash != challenge.hash() {
            return Err(MessageError::AuthMismatch {
                reason: "challenge hash differs",
            });
        }
        Ok(())
    }
}
