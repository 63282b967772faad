//! The physical floor of the cell stack: ed25519 and blake3, and what a
//! signed message costs on top of them (encode, decode, sign, verify).
//!
//! `cargo bench -p celluler-core --bench foundation`

use std::hint::black_box;

use celluler_core::identity::{CellKeys, PublicKey, Signature, verify_batch};
use celluler_core::journal::head::{JournalTag, SignedHead};
use celluler_core::message::{Body, Chat, IDENTITY_JOURNAL, Message, Tx, TxKind};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BATCH_LEN: usize = 64;

fn sample_message(keys: &CellKeys, body: Body) -> Message {
    let head = SignedHead::sign(keys, JournalTag::named(IDENTITY_JOURNAL), [3; 32], 12, 0);
    Message::sign(
        keys,
        head,
        1_000_000,
        CellKeys::from_name("bench receiver").cell_id(),
        body,
    )
    .expect("within limits")
}

/// A transfer: the common case of a small message.
fn sample_body() -> Body {
    Body::Tx(Tx {
        nonce: 42,
        fee: 1,
        kind: TxKind::Transfer {
            to: CellKeys::from_name("bench receiver").cell_id(),
            amount: 1_000,
        },
    })
}

fn signatures(c: &mut Criterion) {
    let keys = CellKeys::from_name("bench signer");
    let payload = [7u8; 200];
    let signature = keys.sign(&payload);

    let mut group = c.benchmark_group("ed25519");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign_200B", |b| b.iter(|| keys.sign(black_box(&payload))));
    group.bench_function("verify_strict_200B", |b| {
        b.iter(|| {
            keys.public()
                .verify(black_box(&payload), black_box(&signature))
        })
    });

    let signers: Vec<CellKeys> = (0..BATCH_LEN as u32)
        .map(|index| CellKeys::for_simulated_cell(1, index))
        .collect();
    let messages: Vec<[u8; 200]> = (0..BATCH_LEN).map(|index| [index as u8; 200]).collect();
    let batch_signatures: Vec<Signature> = signers
        .iter()
        .zip(&messages)
        .map(|(signer, message)| signer.sign(message))
        .collect();
    let batch_keys: Vec<PublicKey> = signers.iter().map(|signer| *signer.public()).collect();
    let message_refs: Vec<&[u8]> = messages.iter().map(|message| &message[..]).collect();
    group.throughput(Throughput::Elements(BATCH_LEN as u64));
    group.bench_function("verify_batch_64x200B", |b| {
        b.iter(|| {
            verify_batch(
                black_box(&message_refs),
                black_box(&batch_signatures),
                black_box(&batch_keys),
            )
            .expect("valid batch")
        })
    });
    group.finish();

    let mut group = c.benchmark_group("blake3");
    group.throughput(Throughput::Bytes(200));
    group.bench_function("hash_200B", |b| {
        b.iter(|| blake3::hash(black_box(&payload)))
    });
    group.finish();
}

fn messages(c: &mut Criterion) {
    let keys = CellKeys::from_name("bench signer");
    let body = sample_body();
    let message = sample_message(&keys, body.clone());
    let bytes = message.encode();
    let head = message.proof.identity_head.clone();
    let receiver = message.receiver;

    let mut group = c.benchmark_group("message_tx");
    group.throughput(Throughput::Elements(1));
    group.bench_function("encode", |b| b.iter(|| black_box(&message).encode()));
    group.bench_function("decode", |b| {
        b.iter(|| Message::decode(black_box(&bytes)).expect("valid"))
    });
    group.bench_function("sign_and_encode", |b| {
        b.iter(|| {
            Message::sign(&keys, head.clone(), 1_000_000, receiver, body.clone())
                .expect("within limits")
                .encode()
        })
    });
    group.bench_function("decode_and_verify", |b| {
        b.iter(|| Message::decode_verified(black_box(&bytes)).expect("valid"))
    });
    group.bench_function("decode_and_verify_known_head", |b| {
        b.iter(|| {
            Message::decode(black_box(&bytes))
                .expect("valid")
                .verify_with_known_head(Some(&head))
                .expect("valid")
        })
    });
    group.finish();

    let chat = Message::sign(
        &keys,
        head,
        1_000_000,
        receiver,
        Body::Chat(Chat {
            text: "x".repeat(1024),
        }),
    )
    .expect("within limits");
    let chat_bytes = chat.encode();
    let mut group = c.benchmark_group("message_chat_1KiB");
    group.throughput(Throughput::Bytes(chat_bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&chat).encode()));
    group.bench_function("decode", |b| {
        b.iter(|| Message::decode(black_box(&chat_bytes)).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, signatures, messages);
criterion_main!(benches);
