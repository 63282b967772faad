//! The scenario's workload as a schedule of operator commands: TX transfers
//! and other signed traffic (CHAT, AUTH, POST, QUERY, EXEC) at Poisson
//! arrival times, each at a cell and towards a peer chosen by the workload's
//! own seeded stream. Cells receive them through `Input::Command`, as a real
//! cell receives its user's requests; later market agents do the same.

use celluler_core::cell::CellCommand;
use celluler_core::message::ExecTask;
use celluler_core::node::CellIndex;
use celluler_core::rng::{self, DetRng};
use celluler_core::time::TimeNs;
use rand_core::RngCore;

use crate::scenario::{MessageMix, Rate, Scenario};

/// Topics the generated POSTs and QUERYs use, so queries find posts.
pub const TOPICS: [&str; 3] = ["news", "compute", "storage"];
/// PRANA moved by one generated transfer, at most.
pub const TRANSFER_AMOUNT_MAX: u64 = 100;
/// Fee offered by every generated transfer.
pub const TRANSFER_FEE: u64 = 1;
/// Hash-chain length of a generated EXEC task.
pub const EXEC_ITERATIONS: u32 = 1_000;
/// PRANA a generated EXEC request offers at most.
pub const EXEC_PAYMENT_MAX: u64 = 10;

/// One command for one cell at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledCommand {
    pub at_ns: TimeNs,
    pub cell: CellIndex,
    pub command: CellCommand,
}

/// Exponential inter-arrival time for `rate`, at least 1 ns. Reproducible: a
/// 53-bit uniform and `libm::log`, rounded to integer ns before it decides.
fn next_gap_ns(rng: &mut DetRng, rate: Rate) -> TimeNs {
    let mean_ns = rate.per_ns as f64 / rate.count as f64;
    let uniform = 1.0 - rng::unit_f64(rng); // (0, 1]: the log is finite
    let gap = -libm::log(uniform) * mean_ns;
    if gap < 1.0 {
        1
    } else {
        libm::round(gap.min(1e18)) as TimeNs
    }
}

fn pick(rng: &mut DetRng, cells: &[CellIndex]) -> CellIndex {
    cells[rng::index(rng, cells.len())]
}

/// A cell other than `not`, uniformly (the cell itself if it is alone).
fn peer_of(rng: &mut DetRng, cells: u32, not: CellIndex) -> CellIndex {
    if cells < 2 {
        return not;
    }
    let drawn = rng::below(rng, u64::from(cells - 1)) as u32;
    CellIndex(if drawn >= not.0 { drawn + 1 } else { drawn })
}

/// Poisson arrivals of `rate` in `[0, end_ns)`.
fn arrivals(rng: &mut DetRng, rate: Rate, end_ns: TimeNs) -> Vec<TimeNs> {
    let mut times = Vec::new();
    if rate.is_zero() {
        return times;
    }
    let mut at_ns = next_gap_ns(rng, rate);
    while at_ns < end_ns {
        times.push(at_ns);
        at_ns = at_ns.saturating_add(next_gap_ns(rng, rate));
    }
    times
}

fn message(rng: &mut DetRng, mix: MessageMix, from: CellIndex, to: CellIndex) -> CellCommand {
    let weights = [mix.chat, mix.auth, mix.post, mix.query, mix.exec];
    let mut draw = rng::below(rng, mix.total().max(1));
    let mut kind = 0;
    for (index, &weight) in weights.iter().enumerate() {
        if draw < u64::from(weight) {
            kind = index;
            break;
        }
        draw -= u64::from(weight);
    }
    let topic = TOPICS[rng::index(rng, TOPICS.len())].to_string();
    match kind {
        0 => CellCommand::Chat {
            to,
            text: format!("hello from {} to {}", from.0, to.0),
        },
        1 => CellCommand::Authenticate {
            with: to,
            identity: None,
        },
        2 => {
            let mut content = vec![0u8; 32 + rng::index(rng, 224)];
            rng.fill_bytes(&mut content);
            CellCommand::Post { topic, content }
        }
        3 => CellCommand::Query { to, topic },
        _ => {
            let mut input = vec![0u8; 8];
            rng.fill_bytes(&mut input);
            CellCommand::Exec {
                to,
                task: ExecTask::HashChain {
                    input,
                    iterations: EXEC_ITERATIONS,
                },
                max_payment: 1 + rng::below(rng, EXEC_PAYMENT_MAX),
            }
        }
    }
}

/// Every command the scenario's workload issues during the run, in time order
/// (ties: TXs first, then messages, each in draw order). Byzantine cells
/// submit nothing here; their behaviour is their own.
pub fn schedule(scenario: &Scenario) -> Vec<ScheduledCommand> {
    let workload = &scenario.workload;
    let cells = scenario.cells.count;
    let honest: Vec<CellIndex> = scenario.honest_cells().into_iter().map(CellIndex).collect();
    let submitters: Vec<CellIndex> = match &workload.submitters {
        Some(chosen) => chosen.iter().map(|&cell| CellIndex(cell)).collect(),
        None => honest.clone(),
    };
    let mut commands = Vec::new();
    // With clients, TXs come from them (`client_arrivals`).
    if !submitters.is_empty() && workload.clients == 0 {
        let mut rng = rng::stream(scenario.seed, "workload-tx", 0);
        for at_ns in arrivals(&mut rng, workload.tx_rate, scenario.duration_ns) {
            let cell = pick(&mut rng, &submitters);
            let to = peer_of(&mut rng, cells, cell);
            let amount = 1 + rng::below(&mut rng, TRANSFER_AMOUNT_MAX);
            commands.push(ScheduledCommand {
                at_ns,
                cell,
                command: CellCommand::Transfer {
                    to,
                    amount,
                    fee: TRANSFER_FEE,
                },
            });
        }
    }
    if !honest.is_empty() && workload.message_mix.total() > 0 {
        let mut rng = rng::stream(scenario.seed, "workload-messages", 0);
        for at_ns in arrivals(&mut rng, workload.message_rate, scenario.duration_ns) {
            let cell = pick(&mut rng, &honest);
            let to = peer_of(&mut rng, cells, cell);
            let command = message(&mut rng, workload.message_mix, cell, to);
            commands.push(ScheduledCommand {
                at_ns,
                cell,
                command,
            });
        }
    }
    commands.sort_by_key(|scheduled| scheduled.at_ns); // stable: ties keep draw order
    commands
}

/// With `[workload] clients`, the TX arrivals of the run: each from a
/// client drawn at random, to a random honest cell, in time order (the
/// same rate as cells' TXs without clients).
pub fn client_arrivals(scenario: &Scenario) -> Vec<crate::clients::ClientArrival> {
    let workload = &scenario.workload;
    let honest: Vec<CellIndex> = scenario.honest_cells().into_iter().map(CellIndex).collect();
    if workload.clients == 0 || honest.is_empty() {
        return Vec::new();
    }
    let mut rng = rng::stream(scenario.seed, "workload-client-tx", 0);
    arrivals(&mut rng, workload.tx_rate, scenario.duration_ns)
        .into_iter()
        .map(|at_ns| crate::clients::ClientArrival {
            at_ns,
            client: rng::below(&mut rng, u64::from(workload.clients)) as u32,
            to: pick(&mut rng, &honest),
            amount: 1 + rng::below(&mut rng, TRANSFER_AMOUNT_MAX),
            fee: TRANSFER_FEE,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use celluler_core::time::NS_PER_S;

    fn scenario(extra: &str) -> Scenario {
        let text =
            format!("name = \"w\"\nseed = 9\nduration = \"100s\"\n[cells]\ncount = 10\n{extra}");
        Scenario::parse("w.toml", &text).unwrap()
    }

    #[test]
    fn tx_arrivals_follow_the_rate_and_stay_in_the_run() {
        let scenario = scenario("[workload]\ntx_rate = \"20/s\"\n");
        let commands = schedule(&scenario);
        // 2000 expected; a Poisson count's stddev is ~45.
        assert!(
            (1_850..2_150).contains(&commands.len()),
            "{}",
            commands.len()
        );
        assert!(commands.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
        assert!(commands.iter().all(|c| c.at_ns < 100 * NS_PER_S));
        for scheduled in &commands {
            let CellCommand::Transfer { to, amount, fee } = &scheduled.command else {
                panic!("only transfers without a message rate");
            };
            assert_ne!(*to, scheduled.cell, "never to itself");
            assert!(to.0 < 10 && (1..=TRANSFER_AMOUNT_MAX).contains(amount));
            assert_eq!(*fee, TRANSFER_FEE);
        }
        // Spread over every cell.
        let mut per_cell = [0u32; 10];
        for scheduled in &commands {
            per_cell[scheduled.cell.as_usize()] += 1;
        }
        assert!(per_cell.iter().all(|&count| count > 120), "{per_cell:?}");
    }

    #[test]
    fn schedules_are_reproducible_and_seed_dependent() {
        let base = scenario("[workload]\ntx_rate = \"5/s\"\n[workload.messages]\nrate = \"5/s\"\n");
        assert_eq!(schedule(&base), schedule(&base));
        assert_ne!(schedule(&base), schedule(&base.clone().with_seed(10)));
    }

    #[test]
    fn message_mix_weights_choose_kinds_and_byzantine_cells_submit_nothing() {
        let scenario = scenario(
            "[workload]\ntx_rate = \"0/s\"\n[workload.messages]\nrate = \"50/s\"\nchat = 1\nquery = 1\n[byzantine]\ncount = 3\n",
        );
        let commands = schedule(&scenario);
        assert!(commands.len() > 4_000);
        let chats = commands
            .iter()
            .filter(|c| matches!(c.command, CellCommand::Chat { .. }))
            .count();
        let queries = commands
            .iter()
            .filter(|c| matches!(c.command, CellCommand::Query { .. }))
            .count();
        assert_eq!(chats + queries, commands.len(), "only the weighted kinds");
        assert!(
            chats.abs_diff(queries) < commands.len() / 10,
            "{chats} vs {queries}"
        );
        assert!(
            commands.iter().all(|c| c.cell.0 < 7),
            "cells 7..10 are Byzantine"
        );
    }
}
