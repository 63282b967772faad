//! Metrics over a large synthetic run: 50,000 transactions, 16 honest cells,
//! 1,000 transactions per virtual second, 20–100 ms receive delays.

use criterion::{Criterion, criterion_group, criterion_main};

use celluler_reports::record::{NS_PER_MS, NS_PER_S};
use celluler_reports::{Checks, Metrics, RunRecord, RunRecorder, TxOrder};

/// xorshift64*: a fixed sequence, so the bench needs no RNG crate.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % below
    }
}

fn large_record(transactions: u64, cells: u32) -> RunRecord {
    let mut recorder = RunRecorder::new(
        "bench",
        1,
        cells,
        0..cells,
        50 * NS_PER_MS,
        Checks::default(),
    );
    let mut sequence = Sequence(0x9E37_79B9_7F4A_7C15);
    let mut planned = Vec::with_capacity(transactions as usize);
    for index in 0..transactions {
        let submit_ns = index * NS_PER_MS;
        let id = format!("tx-{index}");
        let submitter = (index % u64::from(cells)) as u32;
        recorder.tx_submitted(submit_ns, submitter, &id);
        let mut receipts = Vec::with_capacity(cells as usize);
        for cell in 0..cells {
            let received_ns = submit_ns + 20 * NS_PER_MS + sequence.next(80 * NS_PER_MS);
            recorder.tx_received(received_ns, cell, &id);
            receipts.push(received_ns);
        }
        receipts.sort_unstable();
        planned.push((receipts[receipts.len() / 2], id));
    }
    planned.sort();
    for (position, (timestamp_ns, id)) in planned.iter().enumerate() {
        let order = TxOrder {
            round_received: timestamp_ns / (100 * NS_PER_MS),
            consensus_timestamp_ns: *timestamp_ns,
            position: position as u64,
        };
        for cell in 0..cells {
            let final_ns = timestamp_ns + 300 * NS_PER_MS + sequence.next(200 * NS_PER_MS);
            recorder.tx_ordered(final_ns, cell, id, order);
        }
    }
    recorder.finish(
        transactions * NS_PER_MS + NS_PER_S,
        0,
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
    )
}

fn metrics_50k(c: &mut Criterion) {
    let record = large_record(50_000, 16);
    let mut group = c.benchmark_group("reports");
    group.sample_size(10);
    group.bench_function("metrics_50k_txs_16_cells", |b| {
        b.iter(|| Metrics::compute(std::hint::black_box(&record)))
    });
    group.finish();
}

criterion_group!(benches, metrics_50k);
criterion_main!(benches);
