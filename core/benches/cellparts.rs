//! Cell stack parts: the service bus's dispatch cost per call, event and
//! reply; a ledger round of transfers; one trust-network reputation
//! computation.
//!
//! `cargo bench -p celluler-core --bench cellparts`

use std::hint::black_box;
use std::time::Duration;

use celluler_core::bus::{
    Bus, BusConfig, CallError, CallId, Context, Protocol, Service, ServiceSpec,
};
use celluler_core::identity::{CellId, CellKeys};
use celluler_core::ledger::{Ledger, LedgerConfig, LedgerTx, LedgerTxKind, OrderedItem};
use celluler_core::trust::{AccessPolicy, TrustConfig, TrustNetwork};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// Calls and events per bus run in the bus benchmarks.
const BATCH_LEN: u64 = 1_000;

struct Bench;

enum Request {
    Add(u64),
    Forward(u64),
}

enum Event {
    Tick(u64),
}

impl Protocol for Bench {
    type Request = Request;
    type Response = u64;
    type Error = ();
    type Event = Event;

    fn action(request: &Request) -> &'static str {
        match request {
            Request::Add(_) => "counter.add",
            Request::Forward(_) => "front.forward",
        }
    }

    fn topic(_: &Event) -> &'static str {
        "tick"
    }
}

#[derive(Default)]
struct Counter {
    total: u64,
}

impl Service<Bench> for Counter {
    fn on_call(&mut self, request: Request, ctx: &mut Context<'_, Bench>) -> Result<u64, ()> {
        match request {
            Request::Add(x) => {
                self.total = self.total.wrapping_add(x);
                ctx.charge_cpu(100);
                Ok(self.total)
            }
            Request::Forward(x) => {
                ctx.call(Request::Add(x)).map_err(|_| ())?;
                Ok(x)
            }
        }
    }

    fn on_event(&mut self, event: &Event, _ctx: &mut Context<'_, Bench>) {
        let Event::Tick(x) = event;
        self.total = self.total.wrapping_add(*x);
    }

    fn on_reply(
        &mut self,
        _call: CallId,
        result: Result<u64, CallError<()>>,
        _: &mut Context<'_, Bench>,
    ) {
        if let Ok(x) = result {
            self.total = self.total.wrapping_add(x);
        }
    }
}

/// Five services like a cell's: a counter, a forwarder, three listeners.
fn cell_bus() -> Bus<Bench> {
    let mut bus = Bus::new(BusConfig::default());
    bus.register(
        ServiceSpec::new("counter")
            .action("counter.add")
            .subscribe("tick"),
        Box::<Counter>::default(),
    )
    .unwrap();
    bus.register(
        ServiceSpec::new("front")
            .depends_on("counter")
            .action("front.forward"),
        Box::<Counter>::default(),
    )
    .unwrap();
    for name in ["listener_a", "listener_b", "listener_c"] {
        bus.register(
            ServiceSpec::new(name).subscribe("tick"),
            Box::<Counter>::default(),
        )
        .unwrap();
    }
    bus.start().unwrap();
    bus
}

fn bus(c: &mut Criterion) {
    let mut group = c.benchmark_group("bus");
    group.throughput(Throughput::Elements(BATCH_LEN));
    group.bench_function("external_call", |b| {
        let mut bus = cell_bus();
        b.iter(|| {
            for x in 0..BATCH_LEN {
                bus.call(Request::Add(x)).unwrap();
            }
            bus.run().unwrap();
            black_box(bus.take_replies());
        })
    });
    group.bench_function("nested_call_and_reply", |b| {
        let mut bus = cell_bus();
        b.iter(|| {
            for x in 0..BATCH_LEN {
                bus.call(Request::Forward(x)).unwrap();
            }
            bus.run().unwrap();
            black_box(bus.take_replies());
        })
    });
    group.bench_function("broadcast_to_4", |b| {
        let mut bus = cell_bus();
        b.iter(|| {
            for x in 0..BATCH_LEN {
                bus.broadcast(Event::Tick(x)).unwrap();
            }
            black_box(bus.run().unwrap());
        })
    });
    group.finish();
    c.bench_function("bus/create_and_start_5_services", |b| {
        b.iter(|| black_box(cell_bus()))
    });
}

fn cells(count: u32) -> Vec<CellId> {
    (0..count)
        .map(|i| CellKeys::for_simulated_cell(1, i).cell_id())
        .collect()
}

fn ledger(c: &mut Criterion) {
    const ACCOUNTS: u32 = 1_000;
    let accounts = cells(ACCOUNTS);
    let genesis = Ledger::genesis(
        LedgerConfig::default(),
        accounts.iter().map(|&cell| (cell, 1_000_000)),
    )
    .unwrap();
    // One transfer per account, each to the next account.
    let round: Vec<OrderedItem> = accounts
        .iter()
        .enumerate()
        .map(|(i, &sender)| {
            OrderedItem::Tx(LedgerTx {
                id: [0; 32],
                sender,
                nonce: 0,
                fee: 1,
                kind: LedgerTxKind::Transfer {
                    to: accounts[(i + 1) % accounts.len()],
                    amount: 10,
                },
            })
        })
        .collect();
    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(round.len() as u64));
    group.bench_function("round_1000_transfers_1000_accounts", |b| {
        b.iter_batched(
            || genesis.clone(),
            |mut ledger| {
                black_box(
                    ledger
                        .apply_round(&celluler_core::ledger::RoundContext::bare(1), &round)
                        .unwrap(),
                )
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn trust(c: &mut Criterion) {
    const CELLS: u32 = 1_000;
    const EDGES_PER_CELL: u32 = 8;
    let ids = cells(CELLS);
    let mut network = TrustNetwork::new(TrustConfig::default(), AccessPolicy::default());
    for &pre in &ids[..16] {
        network.add_pre_trusted(pre);
    }
    let mut rng = celluler_core::rng::stream(1, "bench-trust", 0);
    for &from in &ids {
        for _ in 0..EDGES_PER_CELL {
            let to = ids[celluler_core::rng::index(&mut rng, ids.len())];
            if to != from {
                let weight = 1 + celluler_core::rng::below(&mut rng, 1_000);
                network.attest(from, to, weight).unwrap();
            }
        }
    }
    let mut group = c.benchmark_group("trust");
    group.bench_function("eigentrust_1000_cells_8000_edges", |b| {
        b.iter(|| black_box(network.compute()))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = bus, ledger, trust
}
criterion_main!(benches);
