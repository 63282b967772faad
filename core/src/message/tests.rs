use proptest::prelude::*;

use super::*;
use crate::identity::hex;

fn identity_head(keys: &CellKeys, length: u64) -> SignedHead {
    let tree_hash = *blake3::hash(&length.to_le_bytes()).as_bytes();
    SignedHead::sign(
        keys,
        JournalTag::named(IDENTITY_JOURNAL),
        tree_hash,
        length,
        0,
    )
}

fn signed(keys: &CellKeys, receiver: CellId, body: Body) -> Message {
    Message::sign(keys, identity_head(keys, 3), 1_000, receiver, body).unwrap()
}

/// The pinned message: alice pays bob 250 PRANA units.
fn vector_message() -> Message {
    let alice = CellKeys::from_name("alice");
    let bob = CellKeys::from_name("bob");
    let head = SignedHead::sign(
        &alice,
        JournalTag::named(IDENTITY_JOURNAL),
        [0x11; 32],
        3,
        0,
    );
    Message::sign(
        &alice,
        head,
        1_700_000_000_123_456_789,
        bob.cell_id(),
        Body::Tx(Tx {
            nonce: 7,
            fee: 2,
            kind: TxKind::Transfer {
                to: bob.cell_id(),
                amount: 250,
            },
        }),
    )
    .unwrap()
}

const VECTOR_HEX: &str = concat!(
    // format version
    "01",
    // timestamp_ns (u64 le)
    "15cd853dfe9c9717",
    // sender
    "fc543c97420938fc964e74c42dd6aef7d549b6b364539fd223c391345ad1b074",
    // receiver
    "321d65cfc1b6fe84c91e8c68e0a008ffec9f708cc610b9a8db590f6b33239fff",
    // proof: public key
    "b9d9e26a6698e1300a5d24543c99129a87a736eb1aa449b06a6331dc28c3d8db",
    // proof: head journal tag
    "6139aae4781c66880d3d59b0e15a59e9de87de05b5789119bae7b41221e69358",
    // proof: head tree hash
    "1111111111111111111111111111111111111111111111111111111111111111",
    // proof: head length
    "0300000000000000",
    // proof: head fork
    "0000000000000000",
    // proof: head signature
    "cb560cfb19abfbd2e8f702d6ef03a2afa38cd37564638553798767c251b562dc",
    "95a778e8c1d3081efc74c9eb0f7710818cdea0b7ac25bb4df408237284f07901",
    // type TX
    "03",
    // tx nonce
    "0700000000000000",
    // tx fee
    "0200000000000000",
    // kind Transfer
    "01",
    // to
    "321d65cfc1b6fe84c91e8c68e0a008ffec9f708cc610b9a8db590f6b33239fff",
    // amount
    "fa00000000000000",
    // signature
    "48b9b1daae9dc21bc0e960e38c6917da5b4bdb87580e998748e55bbd34662ea8",
    "ac048329b2cb580dac3e3b0347d8b2ea7d3f95e52a393ed1bb920770528f1d07",
);
const VECTOR_BLAKE3_HEX: &str = "2abd338232f203d0184cff712a3386424e2b47badeba75137462de3f4b7058db";

#[test]
fn byte_exact_test_vector() {
    let message = vector_message();
    let bytes = message.encode();
    assert_eq!(hex(&bytes), VECTOR_HEX);
    assert_eq!(hex(blake3::hash(&bytes).as_bytes()), VECTOR_BLAKE3_HEX);
    assert_eq!(hex(&message.hash()), VECTOR_BLAKE3_HEX);
    let decoded = Message::decode(&bytes).unwrap();
    assert_eq!(decoded, message);
    decoded.verify().unwrap();
    decoded
        .verify_from(&CellKeys::from_name("alice").cell_id())
        .unwrap();
}

#[test]
fn layout_is_as_documented() {
    let message = vector_message();
    let bytes = message.encode();
    // Header, then type tag TX, nonce, fee, kind tag, recipient, amount, signature.
    assert_eq!(
        bytes.len(),
        MESSAGE_HEADER_LEN + 1 + 8 + 8 + 1 + 32 + 8 + 64
    );
    assert_eq!(bytes[0], MESSAGE_FORMAT_VERSION);
    assert_eq!(bytes[MESSAGE_HEADER_LEN], MessageType::Tx.tag());
    let signable = message.signable_bytes();
    assert_eq!(&signable[32..], &bytes[..bytes.len() - SIGNATURE_LEN]);
    assert_eq!(
        &bytes[bytes.len() - SIGNATURE_LEN..],
        &message.signature.to_bytes()
    );
}

#[test]
fn wrong_sender_identity_and_signature_are_distinct_errors() {
    let alice = CellKeys::from_name("alice");
    let bob = CellKeys::from_name("bob");
    let message = signed(
        &alice,
        bob.cell_id(),
        Body::Chat(Chat {
            text: "hello".into(),
        }),
    );
    message.verify().unwrap();
    assert_eq!(
        message.verify_from(&bob.cell_id()),
        Err(MessageError::WrongSigner {
            expected: bob.cell_id(),
            actual: alice.cell_id()
        })
    );

    // Bob's key with alice's id: the key does not hash to the sender.
    let mut impostor = message.clone();
    impostor.proof = IdentityProof {
        public_key: *bob.public(),
        identity_head: identity_head(&bob, 3),
    };
    assert_eq!(impostor.verify(), Err(MessageError::IdentityMismatch));

    // Bob re-signs alice's message as himself: the sender must change too.
    let mut relabelled = message.clone();
    relabelled.sender = bob.cell_id();
    relabelled.proof = impostor.proof.clone();
    assert_eq!(relabelled.verify(), Err(MessageError::BadSignature));

    // A head of another journal is not an identity proof.
    let mut other_journal = message.clone();
    other_journal.proof.identity_head =
        SignedHead::sign(&alice, JournalTag::named("message"), [0; 32], 3, 0);
    assert!(matches!(
        other_journal.verify(),
        Err(MessageError::BadIdentityHead { .. })
    ));

    // An identity head signed by someone else.
    let mut foreign_head = message.clone();
    foreign_head.proof.identity_head = identity_head(&bob, 3);
    assert!(matches!(
        foreign_head.verify(),
        Err(MessageError::BadIdentityHead { .. })
    ));

    let mut tampered = message.clone();
    tampered.timestamp += 1;
    assert_eq!(tampered.verify(), Err(MessageError::BadSignature));
}

#[test]
fn sign_refuses_a_proof_of_another_journal_and_receivers_reject_a_foreign_head() {
    let alice = CellKeys::from_name("alice");
    let bob = CellKeys::from_name("bob");
    let chat = Body::Chat(Chat { text: "x".into() });
    let message_head = SignedHead::sign(&alice, JournalTag::named("message"), [0; 32], 1, 0);
    assert!(matches!(
        Message::sign(&alice, message_head, 0, bob.cell_id(), chat.clone()),
        Err(MessageError::BadIdentityHead { .. })
    ));
    // Signing does not re-verify the head (that would double its cost), so a
    // head signed by bob is caught by the receiver.
    let foreign = Message::sign(&alice, identity_head(&bob, 1), 0, bob.cell_id(), chat).unwrap();
    assert!(matches!(
        Message::decode_verified(&foreign.encode()),
        Err(MessageError::BadIdentityHead { .. })
    ));
}

#[test]
fn domain_and_identity_tag_are_their_definitions() {
    assert_eq!(
        *MESSAGE_SIGNATURE_DOMAIN,
        blake3::derive_key("celluler 2026-11 message signature", b"")
    );
    assert_eq!(*IDENTITY_JOURNAL_TAG, JournalTag::named("identity"));
}

#[test]
fn a_known_head_skips_only_the_head_check() {
    let alice = CellKeys::from_name("alice");
    let bob = CellKeys::from_name("bob");
    let message = signed(
        &alice,
        bob.cell_id(),
        Body::Chat(Chat { text: "hi".into() }),
    );
    let head = message.proof.identity_head.clone();
    message.verify_with_known_head(Some(&head)).unwrap();
    // A known head does not excuse a bad message signature...
    let mut tampered = message.clone();
    tampered.timestamp += 1;
    assert_eq!(
        tampered.verify_with_known_head(Some(&head)),
        Err(MessageError::BadSignature)
    );
    // ...nor a key that is not the sender's.
    let mut impostor = message.clone();
    impostor.proof.public_key = *bob.public();
    assert_eq!(
        impostor.verify_with_known_head(Some(&head)),
        Err(MessageError::IdentityMismatch)
    );
    // A different head is checked in full.
    let mut forged_head = message.clone();
    forged_head.proof.identity_head.length += 1;
    assert!(matches!(
        forged_head.verify_with_known_head(Some(&head)),
        Err(MessageError::BadIdentityHead { .. })
    ));
}

#[test]
fn limits_are_enforced_at_the_edge_on_sign_and_decode() {
    let alice = CellKeys::from_name("alice");
    let bob = CellKeys::from_name("bob").cell_id();
    let sign = |body| Message::sign(&alice, identity_head(&alice, 1), 0, bob, body);

    let at_limit = sign(Body::Chat(Chat {
        text: "a".repeat(CHAT_TEXT_LEN_MAX),
    }))
    .unwrap();
    assert_eq!(Message::decode(&at_limit.encode()).unwrap(), at_limit);
    assert_eq!(
        sign(Body::Chat(Chat {
            text: "a".repeat(CHAT_TEXT_LEN_MAX + 1),
        })),
        Err(MessageError::TooLong {
            field: "chat text",
            length: CHAT_TEXT_LEN_MAX + 1,
            limit: CHAT_TEXT_LEN_MAX
        })
    );
    // A hand-made encoding one byte over the limit is rejected on decode,
    // from its length field, before the text is read.
    let mut bytes = at_limit.encode();
    let length_at = MESSAGE_HEADER_LEN + 1;
    bytes[length_at..length_at + 4].copy_from_slice(&(CHAT_TEXT_LEN_MAX as u32 + 1).to_le_bytes());
    assert!(matches!(
        Message::decode(&bytes),
        Err(MessageError::Decode(DecodeError::TooLong {
            field: "chat text",
            ..
        }))
    ));

    let biggest_answer = sign(Body::Query(Query::Answer {
        query_id: 1,
        data: vec![7; QUERY_DATA_LEN_MAX],
        proof: vec![8; QUERY_PROOF_LEN_MAX],
    }))
    .unwrap();
    let encoded = biggest_answer.encode();
    assert!(encoded.len() <= MESSAGE_LEN_MAX);
    assert_eq!(Message::decode(&encoded).unwrap(), biggest_answer);

    for body in [
        Body::Post(Post {
            topic: "t".repeat(POST_TOPIC_LEN_MAX + 1),
            content: vec![],
        }),
        Body::Post(Post {
            topic: String::new(),
            content: vec![0; POST_CONTENT_LEN_MAX + 1],
        }),
        Body::Query(Query::Answer {
            query_id: 0,
            data: vec![],
            proof: vec![0; QUERY_PROOF_LEN_MAX + 1],
        }),
        Body::Query(Query::Request {
            query_id: 0,
            what: QueryTarget::PostsByTopic {
                cell: bob,
                topic: String::new(),
                from_sequence: 0,
                count_max: QUERY_COUNT_MAX as u32 + 1,
            },
        }),
        Body::Exec(Exec::Request {
            task_id: 0,
            task: ExecTask::Sum {
                values: vec![1; EXEC_SUM_VALUES_MAX + 1],
            },
            max_payment: 0,
        }),
        Body::Exec(Exec::Request {
            task_id: 0,
            task: ExecTask::HashChain {
                input: vec![],
                iterations: EXEC_HASH_CHAIN_ITERATIONS_MAX + 1,
            },
            max_payment: 0,
        }),
        Body::Exec(Exec::Result {
            task_id: 0,
            task_digest: [0; 32],
            output: vec![0; EXEC_OUTPUT_LEN_MAX + 1],
            charged: 0,
        }),
    ] {
        assert!(
            matches!(sign(body.clone()), Err(MessageError::TooLong { .. })),
            "{body:?}"
        );
    }

    let oversized = vec![0u8; MESSAGE_LEN_MAX + 1];
    assert!(matches!(
        Message::decode(&oversized),
        Err(MessageError::Decode(DecodeError::TooLong {
            field: "message",
            ..
        }))
    ));
}

#[test]
fn malformed_encodings_are_typed_errors() {
    let bytes = vector_message().encode();
    let decode_error = |bytes: &[u8]| match Message::decode(bytes) {
        Err(MessageError::Decode(error)) => error,
        other => panic!("expected a decode error, got {other:?}"),
    };
    assert!(matches!(
        decode_error(&bytes[..bytes.len() - 1]),
        DecodeError::Truncated { .. }
    ));
    assert!(matches!(decode_error(&[]), DecodeError::Truncated { .. }));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        decode_error(&trailing),
        DecodeError::TrailingBytes { count: 1 }
    );
    let mut unknown_type = bytes.clone();
    unknown_type[MESSAGE_HEADER_LEN] = 0;
    assert_eq!(
        decode_error(&unknown_type),
        DecodeError::UnknownTag {
            field: "message type",
            tag: 0
        }
    );
    unknown_type[MESSAGE_HEADER_LEN] = 7;
    assert!(matches!(
        decode_error(&unknown_type),
        DecodeError::UnknownTag { tag: 7, .. }
    ));
    let mut unknown_kind = bytes.clone();
    unknown_kind[MESSAGE_HEADER_LEN + 17] = 11;
    assert_eq!(
        decode_error(&unknown_kind),
        DecodeError::UnknownTag {
            field: "tx kind",
            tag: 11
        }
    );
    let mut version = bytes.clone();
    version[0] = 2;
    assert!(matches!(
        decode_error(&version),
        DecodeError::UnknownTag {
            field: "message format version",
            ..
        }
    ));

    let alice = CellKeys::from_name("alice");
    let chat = signed(
        &alice,
        alice.cell_id(),
        Body::Chat(Chat { text: "ab".into() }),
    );
    let mut bad_utf8 = chat.encode();
    bad_utf8[MESSAGE_HEADER_LEN + 5] = 0xff;
    assert!(matches!(
        decode_error(&bad_utf8),
        DecodeError::Invalid {
            field: "chat text",
            reason: "not UTF-8"
        }
    ));
}

#[test]
fn auth_exchange_binds_response_to_its_challenge() {
    let alice = CellKeys::from_name("alice");
    let bob = CellKeys::from_name("bob");
    let carol = CellKeys::from_name("carol");
    let challenge = signed(
        &alice,
        bob.cell_id(),
        Body::Auth(Auth::Challenge { nonce: [5; 32] }),
    );
    let response_body = Message::auth_response_body(&challenge).unwrap();
    let response = Message::sign(
        &bob,
        identity_head(&bob, 2),
        2_000,
        alice.cell_id(),
        response_body.clone(),
    )
    .unwrap();
    Message::check_auth_response(&challenge, &response).unwrap();

    // Carol cannot answer a challenge sent to bob.
    let carol_response = Message::sign(
        &carol,
        identity_head(&carol, 1),
        2_000,
        alice.cell_id(),
        response_body.clone(),
    )
    .unwrap();
    assert!(matches!(
        Message::check_auth_response(&challenge, &carol_response),
        Err(MessageError::WrongSigner { .. })
    ));

    // Bob's response does not answer another challenge with the same nonce.
    let later_challenge = Message::sign(
        &alice,
        identity_head(&alice, 3),
        1_500,
        bob.cell_id(),
        Body::Auth(Auth::Challenge { nonce: [5; 32] }),
    )
    .unwrap();
    assert_eq!(
        Message::check_auth_response(&later_challenge, &response),
        Err(MessageError::AuthMismatch {
            reason: "challenge hash differs"
        })
    );

    // A response sent to someone else, or dated before the challenge.
    let misaddressed = Message::sign(
        &bob,
        identity_head(&bob, 2),
        2_000,
        carol.cell_id(),
        response_body.clone(),
    )
    .unwrap();
    assert!(matches!(
        Message::check_auth_response(&challenge, &misaddressed),
        Err(MessageError::AuthMismatch { .. })
    ));
    let backdated = Message::sign(
        &bob,
        identity_head(&bob, 2),
        999,
        alice.cell_id(),
        response_body,
    )
    .unwrap();
    assert!(matches!(
        Message::check_auth_response(&challenge, &backdated),
        Err(MessageError::AuthMismatch { .. })
    ));

    // Alice records the result: an attestation carrying bob's signed head.
    let attestation = signed(
        &alice,
        bob.cell_id(),
        Body::Auth(Auth::Attestation(Box::new(Attestation {
            subject_key: *bob.public(),
            subject_identity_head: response.proof.identity_head.clone(),
            evidence_hash: response.hash(),
            trust_permille: 800,
            statement: "authenticated".into(),
        }))),
    );
    let decoded = Message::decode_verified(&attestation.encode()).unwrap();
    assert_eq!(decoded, attestation);

    let forged = signed(
        &alice,
        bob.cell_id(),
        Body::Auth(Auth::Attestation(Box::new(Attestation {
            subject_key: *bob.public(),
            subject_identity_head: identity_head(&carol, 2),
            evidence_hash: response.hash(),
            trust_permille: 800,
            statement: String::new(),
        }))),
    );
    assert!(matches!(
        forged.verify(),
        Err(MessageError::BadAttestation { .. })
    ));
    assert!(matches!(
        Message::sign(
            &alice,
            identity_head(&alice, 1),
            0,
            bob.cell_id(),
            Body::Auth(Auth::Attestation(Box::new(Attestation {
                subject_key: *bob.public(),
                subject_identity_head: identity_head(&bob, 1),
                evidence_hash: [0; 32],
                trust_permille: TRUST_PERMILLE_MAX + 1,
                statement: String::new(),
            }))),
        ),
        Err(MessageError::Invalid { .. })
    ));
}

#[test]
fn exec_tasks_are_deterministic() {
    let sum = ExecTask::Sum {
        values: vec![u64::MAX, u64::MAX, 2],
    };
    assert_eq!(
        sum.run(),
        (2 * u128::from(u64::MAX) + 2).to_le_bytes().to_vec()
    );
    assert_eq!(sum.work_units(), 3);
    let chain = ExecTask::HashChain {
        input: b"seed".to_vec(),
        iterations: 2,
    };
    let once = blake3::hash(b"seed");
    assert_eq!(
        chain.run(),
        blake3::hash(once.as_bytes()).as_bytes().to_vec()
    );
    let none = ExecTask::HashChain {
        input: b"seed".to_vec(),
        iterations: 0,
    };
    assert_eq!(none.run(), b"seed".to_vec());
}

#[test]
fn message_types_have_distinct_tags_and_names() {
    for (index, kind) in MessageType::ALL.into_iter().enumerate() {
        assert_eq!(MessageType::from_tag(kind.tag()), Ok(kind));
        assert_eq!(kind.tag() as usize, index + 1);
    }
    assert_eq!(MessageType::Query.to_string(), "QUERY");
    assert!(MessageType::from_tag(0).is_err());
}

// ---- property tests ----

const NAMES: [&str; 4] = ["alice", "bob", "carol", "dave"];

fn arbitrary_bytes(limit: usize) -> impl Strategy<Value = Vec<u8>> {
    // Mostly short, sometimes at the limit.
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..=64.min(limit)),
        1 => Just(vec![0xab; limit]),
    ]
}

fn arbitrary_text(limit: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "\\PC{0,24}".prop_filter("within limit", move |text: &String| text.len() <= limit),
        1 => Just("é".repeat(limit / 2)),
    ]
}

fn arbitrary_cell_id() -> impl Strategy<Value = CellId> {
    any::<[u8; 32]>().prop_map(CellId)
}

fn arbitrary_query_target() -> impl Strategy<Value = QueryTarget> {
    prop_oneof![
        (
            arbitrary_cell_id(),
            arbitrary_text(POST_TOPIC_LEN_MAX),
            any::<u64>(),
            0..=QUERY_COUNT_MAX as u32
        )
            .prop_map(|(cell, topic, from_sequence, count_max)| {
                QueryTarget::PostsByTopic {
                    cell,
                    topic,
                    from_sequence,
                    count_max,
                }
            }),
        (arbitrary_cell_id(), any::<[u8; 32]>(), any::<u64>()).prop_map(
            |(cell, journal, index)| QueryTarget::JournalBlock {
                cell,
                journal: JournalTag(journal),
                index,
            }
        ),
    ]
}

fn arbitrary_exec_task() -> impl Strategy<Value = ExecTask> {
    prop_oneof![
        (
            arbitrary_bytes(EXEC_INPUT_LEN_MAX),
            0..=EXEC_HASH_CHAIN_ITERATIONS_MAX
        )
            .prop_map(|(input, iterations)| ExecTask::HashChain { input, iterations }),
        proptest::collection::vec(any::<u64>(), 0..=EXEC_SUM_VALUES_MAX)
            .prop_map(|values| ExecTask::Sum { values }),
    ]
}

fn arbitrary_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        arbitrary_text(CHAT_TEXT_LEN_MAX).prop_map(|text| Body::Chat(Chat { text })),
        any::<[u8; 32]>().prop_map(|nonce| Body::Auth(Auth::Challenge { nonce })),
        (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(challenge_nonce, challenge_hash)| {
            Body::Auth(Auth::Response {
                challenge_nonce,
                challenge_hash,
            })
        }),
        (
            0..NAMES.len(),
            any::<u64>(),
            any::<[u8; 32]>(),
            0..=TRUST_PERMILLE_MAX,
            arbitrary_text(ATTESTATION_STATEMENT_LEN_MAX)
        )
            .prop_map(
                |(subject, length, evidence_hash, trust_permille, statement)| {
                    let subject = CellKeys::from_name(NAMES[subject]);
                    Body::Auth(Auth::Attestation(Box::new(Attestation {
                        subject_key: *subject.public(),
                        subject_identity_head: identity_head(&subject, length),
                        evidence_hash,
                        trust_permille,
                        statement,
                    })))
                }
            ),
        (
            any::<u64>(),
            any::<u64>(),
            arbitrary_cell_id(),
            any::<u64>()
        )
            .prop_map(|(nonce, fee, to, amount)| Body::Tx(Tx {
                nonce,
                fee,
                kind: TxKind::Transfer { to, amount },
            })),
        (
            arbitrary_text(POST_TOPIC_LEN_MAX),
            arbitrary_bytes(POST_CONTENT_LEN_MAX)
        )
            .prop_map(|(topic, content)| Body::Post(Post { topic, content })),
        (any::<u64>(), arbitrary_query_target())
            .prop_map(|(query_id, what)| Body::Query(Query::Request { query_id, what })),
        (
            any::<u64>(),
            arbitrary_bytes(QUERY_DATA_LEN_MAX),
            arbitrary_bytes(QUERY_PROOF_LEN_MAX)
        )
            .prop_map(|(query_id, data, proof)| Body::Query(Query::Answer {
                query_id,
                data,
                proof,
            })),
        (any::<u64>(), arbitrary_exec_task(), any::<u64>()).prop_map(
            |(task_id, task, max_payment)| Body::Exec(Exec::Request {
                task_id,
                task,
                max_payment,
            })
        ),
        (
            any::<u64>(),
            arbitrary_bytes(EXEC_OUTPUT_LEN_MAX),
            any::<u64>()
        )
            .prop_map(|(task_id, output, charged)| Body::Exec(Exec::Result {
                task_id,
                task_digest: [7; 32],
                output,
                charged,
            })),
        (any::<u64>(), any::<u64>(), arbitrary_market_kind())
            .prop_map(|(nonce, fee, kind)| Body::Tx(Tx { nonce, fee, kind })),
    ]
}

/// Every market TX kind, with arbitrary fields within the limits.
fn arbitrary_market_kind() -> impl Strategy<Value = TxKind> {
    let side = prop_oneof![Just(crate::book::Side::Bid), Just(crate::book::Side::Ask)];
    prop_oneof![
        (
            any::<u16>(),
            side,
            proptest::option::of(any::<u64>()),
            any::<u64>()
        )
            .prop_map(|(token, side, price, quantity)| TxKind::Order {
                token,
                side,
                price,
                quantity
            }),
        (any::<u16>(), any::<u64>()).prop_map(|(token, order)| TxKind::Cancel { token, order }),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(units, price_per_unit, collateral)| {
                TxKind::ComputeOffer {
                    units,
                    price_per_unit,
                    collateral,
                }
            }
        ),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(blocks, price_per_block, collateral)| TxKind::StorageOffer {
                blocks,
                price_per_block,
                collateral,
            }
        ),
        (any::<u64>(), any::<u64>(), any::<u32>(), any::<[u8; 32]>()).prop_map(
            |(offer, amount, intervals, data_seed)| TxKind::Lease {
                offer,
                amount,
                intervals,
                data_seed,
            }
        ),
        any::<u64>().prop_map(|lease| TxKind::EndLease { lease }),
        any::<u64>().prop_map(|offer| TxKind::WithdrawOffer { offer }),
        (any::<u64>(), arbitrary_bytes(FRAUD_RESULT_LEN_MAX)).prop_map(|(lease, result)| {
            TxKind::FraudProof {
                lease,
                task: ExecTask::Sum { values: vec![1, 2] },
                result,
            }
        }),
        (
            any::<u64>(),
            any::<u64>(),
            arbitrary_bytes(STORAGE_PROOF_LEN_MAX)
        )
            .prop_map(|(lease, challenge, proof)| TxKind::StorageProof {
                lease,
                challenge,
                proof,
            }),
    ]
}

fn arbitrary_message() -> impl Strategy<Value = Message> {
    (
        0..NAMES.len(),
        arbitrary_cell_id(),
        any::<u64>(),
        0..1_000u64,
        arbitrary_body(),
    )
        .prop_map(|(sender, receiver, timestamp, head_length, body)| {
            let keys = CellKeys::from_name(NAMES[sender]);
            Message::sign(
                &keys,
                identity_head(&keys, head_length),
                timestamp,
                receiver,
                body,
            )
            .expect("the strategies stay within the limits")
        })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
    Truncate { at: usize },
}

fn arbitrary_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0..8u8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(mutation: &Mutation, bytes: &mut Vec<u8>) {
    let length = bytes.len();
    match *mutation {
        Mutation::Flip { at, bit } => bytes[at % length] ^= 1 << bit,
        Mutation::Insert { at, byte } => bytes.insert(at % (length + 1), byte),
        Mutation::Delete { at } => {
            bytes.remove(at % length);
        }
        Mutation::Truncate { at } => bytes.truncate(at % length),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_valid_message_round_trips_and_verifies(message in arbitrary_message()) {
        let bytes = message.encode();
        prop_assert!(bytes.len() <= MESSAGE_LEN_MAX);
        let decoded = Message::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &message);
        prop_assert_eq!(decoded.encode(), bytes);
        decoded.verify().unwrap();
        decoded.verify_from(&message.sender).unwrap();
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(message) = Message::decode(&bytes) {
            // Whatever decodes re-encodes to the same bytes: one encoding.
            prop_assert_eq!(message.encode(), bytes);
            let _ = message.verify();
        }
    }

    #[test]
    fn mutated_encodings_never_panic(
        message in arbitrary_message(),
        mutations in proptest::collection::vec(arbitrary_mutation(), 1..4),
    ) {
        let mut bytes = message.encode();
        for mutation in &mutations {
            if bytes.is_empty() {
                break;
            }
            apply(mutation, &mut bytes);
        }
        if let Ok(decoded) = Message::decode(&bytes) {
            prop_assert_eq!(decoded.encode(), bytes);
            let _ = decoded.verify();
        }
    }

    #[test]
    fn any_single_byte_change_fails_decode_or_verify(
        message in arbitrary_message(),
        at in any::<usize>(),
        delta in 1..=255u8,
    ) {
        let mut bytes = message.encode();
        let at = at % bytes.len();
        bytes[at] = bytes[at].wrapping_add(delta);
        let outcome = Message::decode(&bytes).and_then(|decoded| decoded.verify());
        prop_assert!(outcome.is_err(), "byte {} changed and still verified", at);
    }

    #[test]
    fn a_message_checked_against_another_identity_fails(
        message in arbitrary_message(),
        other in 0..NAMES.len(),
    ) {
        let other = CellKeys::from_name(NAMES[other]).cell_id();
        let outcome = message.verify_from(&other);
        if other == message.sender {
            prop_assert!(outcome.is_ok());
        } else {
            prop_assert_eq!(
                outcome,
                Err(MessageError::WrongSigner { expected: other, actual: message.sender })
            );
        }
        // Passing another cell's key off as the sender's fails too.
        let other_keys = CellKeys::from_name(NAMES[(NAMES.iter().position(|name| CellKeys::from_name(name).cell_id() == message.sender).unwrap() + 1) % NAMES.len()]);
        let mut impostor = message.clone();
        impostor.proof = IdentityProof {
            public_key: *other_keys.public(),
            identity_head: identity_head(&other_keys, 1),
        };
        prop_assert_eq!(impostor.verify(), Err(MessageError::IdentityMismatch));
        impostor.sender = other_keys.cell_id();
        prop_assert_eq!(impostor.verify(), Err(MessageError::BadSignature));
    }
}
