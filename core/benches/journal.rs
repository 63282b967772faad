//! Journal speed against the ed25519 floor: a bare signature (baseline),
//! append+sign of a 200-byte block, proof build, proof verify, range-64 verify.
//! Run: `cargo bench -p celluler-core --bench journal`.

use std::hint::black_box;
use std::time::Duration;

use celluler_core::identity::CellKeys;
use celluler_core::journal::head::signable;
use celluler_core::journal::{JournalTag, JournalWriter, RangeProof};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BLOCK_LEN: usize = 200;
const JOURNAL_BLOCKS: u64 = 10_000;

fn filled_journal() -> JournalWriter {
    let mut journal = JournalWriter::new(CellKeys::from_name("bench"), JournalTag::named("state"));
    let blocks: Vec<Vec<u8>> = (0..JOURNAL_BLOCKS)
        .map(|index| {
            let mut block = index.to_le_bytes().to_vec();
            block.resize(BLOCK_LEN, 7);
            block
        })
        .collect();
    for chunk in blocks.chunks(100) {
        journal.append_batch(chunk).unwrap();
    }
    journal
}

fn signatures(c: &mut Criterion) {
    let keys = CellKeys::from_name("bench");
    let message = signable(&JournalTag::named("state"), &[3; 32], 12, 0);
    c.bench_function("ed25519_sign_baseline", |b| {
        b.iter(|| keys.sign(black_box(&message)))
    });
    let signature = keys.sign(&message);
    c.bench_function("ed25519_verify_baseline", |b| {
        b.iter(|| {
            keys.public()
                .verify(black_box(&message), &signature)
                .unwrap()
        })
    });
}

fn appends(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_append");
    group.throughput(Throughput::Elements(1));
    let mut journal = JournalWriter::new(CellKeys::from_name("bench"), JournalTag::named("state"));
    let block = vec![5u8; BLOCK_LEN];
    group.bench_function("append_sign_200B", |b| {
        b.iter(|| journal.append(black_box(&block)).unwrap())
    });
    let mut journal = JournalWriter::new(CellKeys::from_name("bench"), JournalTag::named("state"));
    let batch = vec![vec![5u8; BLOCK_LEN]; 64];
    group.throughput(Throughput::Elements(64));
    group.bench_function("append_batch64_sign_200B", |b| {
        b.iter(|| journal.append_batch(black_box(&batch)).unwrap())
    });
    group.finish();
}

fn proofs(c: &mut Criterion) {
    let journal = filled_journal();
    let verifier = journal.verifier();
    let length = journal.length();
    c.bench_function("journal_block_proof_build_10k", |b| {
        b.iter(|| journal.block_proof(black_box(4_321), length).unwrap())
    });
    let proof = journal.block_proof(4_321, length).unwrap();
    c.bench_function("journal_block_proof_verify_10k", |b| {
        b.iter(|| verifier.verify_range(black_box(&proof)).unwrap())
    });
    let bytes = proof.to_bytes();
    c.bench_function("journal_block_proof_decode_10k", |b| {
        b.iter(|| RangeProof::from_bytes(black_box(&bytes)).unwrap())
    });
    let range = journal.range_proof(4_000, 4_064, length).unwrap();
    let mut group = c.benchmark_group("journal_range64");
    group.throughput(Throughput::Elements(64));
    group.bench_function("verify_10k", |b| {
        b.iter(|| verifier.verify_range(black_box(&range)).unwrap())
    });
    group.finish();
    let trusted = journal.head_at(5_000).unwrap().unwrap();
    let upgrade = journal.upgrade_proof(5_000, length).unwrap();
    c.bench_function("journal_upgrade_verify_5k_to_10k", |b| {
        b.iter(|| {
            verifier
                .verify_upgrade(&trusted, black_box(&upgrade))
                .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = signatures, appends, proofs
}
criterion_main!(benches);
