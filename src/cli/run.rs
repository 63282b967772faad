//! `celluler run FILE [--seed N] [--out DIR] [--trace FILE] [--replay FILE] [--baseline] [--quiet]`:
//! the main job. Loads and validates a scenario, runs the cell stack over the
//! simulated network, checks invariants while it runs, folds the recorded
//! observations into metrics, and writes `summary.json`, the CSVs, plots and
//! `report.md`. Exit 0 when every check holds, 1 when one fails, 2 on bad
//! input. [`execute`] is the run without the printing, which `celluler
//! attack` calls once per seed and arm.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use celluler_core::cell::{AdversaryAction, CellObservation};
use celluler_core::identity::hex;
use celluler_core::node::CellIndex;
use celluler_core::time::{NS_PER_MS, TimeNs};
use celluler_reports::{
    AdversaryAct, Checks, Counter, DivergenceRecord, FaultWindow, RunRecorder, RunReport,
    SybilStanding, TxOrder, write_run_outputs,
};
use celluler_sim::Observed;
use celluler_sim::adversary::{AdversaryNode, scenario_world, sybil_identities};
use celluler_sim::scenario::overrides::{Setting, parse_set_argument};
use celluler_sim::scenario::{Fault, Scenario};
use celluler_sim::world::CellWorld;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Outcome, process};

/// Virtual time between two progress updates and observation folds.
const STEP_NS: TimeNs = 100 * NS_PER_MS;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file (TOML; see docs/scenarios.md).
    file: PathBuf,
    /// Run under this seed instead of the scenario's.
    #[arg(long)]
    seed: Option<u64>,
    /// Replace one scalar of the scenario by its dotted key, validated as
    /// the file is (`--set network.loss=0.05`; docs/sweeps.md). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    set: Vec<Setting>,
    /// Where the outputs go; default `runs/<name>-<seed>/`.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write the full event trace as JSON lines to FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    trace: Option<PathBuf>,
    /// Replay against a trace written by --trace; fail at the first divergence.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Write cell CELL's view of the hashgraph at the end of the run to PATH
    /// as a `celluler-dag/1` file (docs/dag-format.md), with the facts the
    /// cell decided; `celluler dag PATH` replays it and checks them.
    /// Repeatable.
    #[arg(long, value_name = "CELL:PATH", value_parser = parse_dag_target)]
    dag: Vec<(u32, PathBuf)>,
    /// Test hook, not a protocol option: cell CELL breaks consensus-timestamp
    /// ties by descending event hash, a planted disagreement the safety
    /// checker must report. Repeatable.
    #[arg(long, value_name = "CELL", hide = true)]
    mutate_tie_break: Vec<u32>,
    /// Every cell runs its own consensus engine, sharing nothing with the
    /// others (`[consensus] store = "independent"`): slower, and the same
    /// run, bit for bit, as the default shared store.
    #[arg(long)]
    independent: bool,
    /// Run the scenario's honest baseline instead: the same seed with its
    /// Byzantine cells present but silent (no behaviour, no workload), as
    /// `celluler attack` compares against. Default out:
    /// `runs/<name>-<seed>-baseline/`.
    #[arg(long)]
    baseline: bool,
}

/// One `--set KEY=VALUE` (a single value: a sweep takes lists).
fn parse_setting(text: &str) -> Result<Setting, String> {
    let (key, mut values) = parse_set_argument(text)?;
    if values.len() != 1 {
        return Err(format!(
            "--set {text}: one value per key for a run (`celluler sweep` takes lists)"
        ));
    }
    Ok(Setting {
        key,
        value: values.remove(0),
    })
}

fn parse_dag_target(text: &str) -> Result<(u32, PathBuf), String> {
    let (cell, path) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not CELL:PATH (e.g. 3:view.json)"))?;
    let cell = cell
        .parse::<u32>()
        .map_err(|_| format!("{cell:?} is not a cell index (a non-negative integer)"))?;
    if path.is_empty() {
        return Err("the path after CELL: is empty".into());
    }
    Ok((cell, PathBuf::from(path)))
}

/// How to run a scenario: everything `celluler run` takes besides the
/// scenario itself.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Where the outputs go (`None`: computed, not written).
    pub out_dir: Option<PathBuf>,
    /// Names the scenario in error messages (its file).
    pub label: String,
    /// Record the full trace to this file.
    pub trace: Option<PathBuf>,
    /// Verify against the trace in this file.
    pub replay: Option<PathBuf>,
    /// Cells whose view of the hashgraph is written at the end, and where.
    pub dag: Vec<(u32, PathBuf)>,
    /// Test hook: cells that break consensus-timestamp ties otherwise.
    pub mutate_tie_break: Vec<u32>,
    /// Every cell runs its own consensus engine.
    pub independent: bool,
    /// Show a progress bar over virtual time (on a terminal).
    pub progress: bool,
}

/// One finished run: the report written from its record (the trace hash
/// is `report.summary.trace_hash`) and the world checker's verdicts.
pub struct Executed {
    /// What `write_run_outputs` computed and wrote; `report.summary.passed`
    /// is the verdict of the scenario's `[checks]`.
    pub report: RunReport,
    /// Wall-clock time of the simulation and its folding (not of writing).
    pub wall_ms: u64,
    /// Some honest cells ordered differently.
    pub agreement_violated: bool,
    /// Honest cells reached different states, or one finalized a double spend.
    pub state_violated: bool,
}

/// Runs `scenario` (its seed as given) and writes its outputs into
/// `options.out_dir`, printing nothing. Deterministic and single-threaded:
/// the same scenario gives the same outputs (but wall time) on any thread.
/// Errors are bad input (exit 2), or a replay that diverged from its
/// recording (exit 1: then no output is written).
pub fn execute(scenario: &Scenario, options: &RunOptions) -> Result<Executed, Outcome> {
    let mode = process::trace_mode(options.trace.as_deref(), options.replay.as_deref())?;
    for (cell, _) in &options.dag {
        if *cell >= scenario.cells.count {
            return Err(Outcome::BadInput(format!(
                "--dag {cell}: the scenario has cells 0..{}",
                scenario.cells.count
            )));
        }
    }
    let mut world_config = scenario.world_config();
    world_config.record_consensus = options.dag.iter().map(|(cell, _)| *cell).collect();
    world_config.mutated_tie_break = options.mutate_tie_break.clone();
    if options.independent {
        world_config.store = celluler_sim::arena::StoreMode::Independent;
    }
    let started = Instant::now();
    let mut world = scenario_world(scenario, world_config, mode)
        .map_err(|error| Outcome::BadInput(format!("{}: {error}", options.label)))?;
    let mut recorder = recorder_for(scenario);
    let members: Vec<celluler_core::identity::CellId> = (0..scenario.cells.count)
        .map(|cell| {
            celluler_core::identity::CellKeys::for_simulated_cell(scenario.seed, cell).cell_id()
        })
        .collect();
    let mut market_fold = super::markets::MarketFold::new(scenario, &members);
    // Each honest cell's decided rounds, for the `--trace` file only.
    let mut decided_rounds = options
        .trace
        .as_ref()
        .map(|_| process::DecidedRounds::new(scenario.honest_cells()));
    let mut progress_counts = ProgressCounts::default();
    let progress = progress_bar(scenario, !options.progress);
    let mut totals_before = world.simulation().metrics().totals();
    let mut now_ns = 0;
    while now_ns < scenario.duration_ns {
        let step_end_ns = (now_ns + STEP_NS).min(scenario.duration_ns);
        world.run_until(step_end_ns);
        for observed in world.take_observations() {
            progress_counts.observe(&observed.observation);
            record(&mut recorder, &observed);
            if let Some((id, market)) = market_fold.observe(&observed) {
                recorder.tx_market(&id, market);
            }
            if let Some(decided_rounds) = &mut decided_rounds {
                decided_rounds.observe(&observed);
            }
        }
        // Network counters for the step, stamped at its last instant.
        let totals = world.simulation().metrics().totals();
        let stamp_ns = step_end_ns - 1;
        recorder.count(
            stamp_ns,
            Counter::MessagesSent,
            totals.sent - totals_before.sent,
        );
        recorder.count(
            stamp_ns,
            Counter::MessagesDropped,
            totals.dropped_total() - totals_before.dropped_total(),
        );
        totals_before = totals;
        now_ns = step_end_ns;
        progress.set_position(now_ns / NS_PER_MS);
        progress.set_message(progress_counts.line(scenario.cells.count));
    }
    progress.finish_and_clear();
    recorder.network_adversary(
        totals_before.adversary_dropped(),
        totals_before.adversary_delayed,
    );
    // What the honest cells live at the end think of each forker they caught.
    let honest_live: Vec<&celluler_core::cell::Cell> = scenario
        .honest_cells()
        .into_iter()
        .filter_map(|cell| world.cell(CellIndex(cell)))
        .collect();
    for forker in recorder.forkers_detected() {
        let Some(forker_id) = honest_live
            .first()
            .and_then(|cell| cell.config().members.get(forker as usize))
            .map(|member| member.cell_id)
        else {
            continue;
        };
        let trust = honest_live
            .iter()
            .map(|cell| cell.trust_score_ppm(forker_id))
            .max();
        if let Some(trust) = trust {
            recorder.forker_trust(forker, trust);
        }
    }
    let sybils = sybil_identities(scenario);
    if !sybils.is_empty() {
        let standings = honest_live
            .iter()
            .map(|cell| sybil_standing(cell, &sybils))
            .collect();
        recorder.sybil_standings(sybils.len() as u64, standings);
    }
    if let Some(markets) =
        market_fold.finish(scenario, world.agents(), honest_live.first().copied())
    {
        recorder.set_markets(markets);
    }
    // The checker's violations, each at the time it was observed, the
    // first divergence first (`CellWorld::verdict` has them as text).
    let checker = world.checker();
    for (time_ns, violation) in checker.timed_violations() {
        recorder.safety_violation(time_ns, &violation);
    }
    if let Some(divergence) = checker.first_divergence() {
        recorder.first_divergence(DivergenceRecord {
            kind: divergence.kind.label().to_string(),
            round: u64::from(divergence.round),
            position: divergence.position,
            cells: [divergence.cells.0.0, divergence.cells.1.0],
            events: [divergence.events.0, divergence.events.1]
                .map(|event| event.map(|hash| hex(&hash.0))),
            time_ns: divergence.time_ns,
        });
    }
    let (agreement_violated, state_violated) =
        (checker.agreement_violated(), checker.state_violated());
    let wall_ms = started.elapsed().as_millis() as u64;
    let trace_hash = world.simulation().trace().hash_hex();
    let record = recorder.finish(scenario.duration_ns, wall_ms, &trace_hash);

    if let (Some(path), Some(decided_rounds)) = (&options.trace, &decided_rounds) {
        process::write_run_trace(world.simulation().trace(), decided_rounds, path)?;
    }
    if let Some(divergence) = world.simulation().trace().divergence() {
        return Err(Outcome::CheckFailed(format!(
            "replay diverged from the recording: {divergence}"
        )));
    }
    for (cell, path) in &options.dag {
        write_dag(&world, *cell, path)?;
    }
    // The world is not needed to write the outputs: free it first.
    drop(world);
    let report = match &options.out_dir {
        Some(out_dir) => write_run_outputs(&record, out_dir).map_err(|error| {
            Outcome::BadInput(format!("writing {}: {error}", out_dir.display()))
        })?,
        None => RunReport::new(&record)
            .map_err(|error| Outcome::BadInput(format!("{}: {error}", options.label)))?,
    };
    Ok(Executed {
        report,
        wall_ms,
        agreement_violated,
        state_violated,
    })
}

pub fn run(args: Args) -> Outcome {
    let mut scenario = match Scenario::load_with_settings(&args.file, &args.set) {
        Ok(scenario) => scenario,
        Err(error) => return Outcome::BadInput(error.to_string()),
    };
    if let Some(seed) = args.seed {
        scenario = scenario.with_seed(seed);
    }
    if args.baseline {
        scenario = scenario.baseline();
    }
    let out_dir = args.out.clone().unwrap_or_else(|| {
        Path::new("runs").join(format!(
            "{}-{}{}",
            scenario.name,
            scenario.seed,
            if args.baseline { "-baseline" } else { "" }
        ))
    });
    let options = RunOptions {
        out_dir: Some(out_dir.clone()),
        label: args.file.display().to_string(),
        trace: args.trace.clone(),
        replay: args.replay.clone(),
        dag: args.dag.clone(),
        mutate_tie_break: args.mutate_tie_break.clone(),
        independent: args.independent,
        progress: !args.quiet,
    };
    let executed = match execute(&scenario, &options) {
        Ok(executed) => executed,
        Err(outcome) => return outcome,
    };
    let report = &executed.report;
    let summary = &report.summary;
    let ms = |value: Option<f64>| value.map_or("n/a".to_string(), |ms| format!("{ms:.0} ms"));
    println!(
        "{}: {} cells, seed {}, {} virtual in {:.2} s wall",
        summary.scenario,
        summary.cells,
        summary.seed,
        celluler_sim::scenario::format_duration(scenario.duration_ns),
        executed.wall_ms as f64 / 1000.0
    );
    println!(
        "  TXs: {} submitted, {} finalized; finality p50 {} p99 {} (first cell p50 {}); throughput {}",
        summary.txs_submitted,
        summary.txs_finalized,
        ms(summary.finality_ms.p50),
        ms(summary.finality_ms.p99),
        ms(summary.first_finality_ms.p50),
        summary
            .throughput_tps
            .map_or("n/a".to_string(), |tps| format!("{tps:.1} TX/s"))
    );
    println!(
        "  safety {}; last decided round {}",
        if summary.safety.ok { "ok" } else { "VIOLATED" },
        summary
            .liveness
            .last_decided_round
            .map_or("none".to_string(), |round| round.to_string())
    );
    println!("  trace hash {}", summary.trace_hash);
    for check in &report.checks {
        println!(
            "  check {}: {} ({})",
            check.name,
            if check.passed { "pass" } else { "FAIL" },
            check.reason
        );
    }
    println!("  report: {}", out_dir.join("report.md").display());
    if summary.passed {
        Outcome::Success
    } else {
        let failed: Vec<String> = report
            .checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| format!("{}: {}", check.name, check.reason))
            .collect();
        Outcome::CheckFailed(failed.join("; "))
    }
}

/// Writes cell `cell`'s view of the hashgraph to `path`.
fn write_dag(world: &CellWorld<AdversaryNode>, cell: u32, path: &Path) -> Result<(), Outcome> {
    let Some(file) = world.export_dag(CellIndex(cell)) else {
        return Err(Outcome::BadInput(format!(
            "--dag {cell}: cell {cell} is down when the run ends, so it has no view to export"
        )));
    };
    let text = serde_json::to_string(&file)
        .map_err(|error| Outcome::BadInput(format!("cannot encode the DAG: {error}")))?;
    std::fs::write(path, text + "\n")
        .map_err(|error| Outcome::BadInput(format!("writing {}: {error}", path.display())))
}

fn recorder_for(scenario: &Scenario) -> RunRecorder {
    let checks = Checks {
        safety: scenario.checks.safety,
        liveness: scenario.checks.liveness,
        max_finality_p99_ns: scenario.checks.max_finality_p99_ns,
        min_throughput_tps: scenario.checks.min_throughput_tps,
        max_stall_ns: scenario.checks.max_stall_ns,
        max_inversion_rate: scenario.checks.max_inversion_rate,
        max_timestamp_band_violations: scenario.checks.max_timestamp_band_violations,
    };
    let mut recorder = RunRecorder::new(
        &scenario.name,
        scenario.seed,
        scenario.cells.count,
        scenario.honest_cells(),
        scenario.network_median_latency_ns(),
        checks,
    );
    recorder.coin_round_frequency(scenario.consensus.coin_round_frequency);
    for fault in &scenario.faults {
        let end_ns = fault
            .end_ns()
            .unwrap_or(scenario.duration_ns)
            .min(scenario.duration_ns);
        recorder.fault(FaultWindow {
            kind: fault.kind().to_string(),
            label: fault.describe(),
            start_ns: fault.at_ns(),
            end_ns,
        });
        if let Fault::Crash {
            cells,
            at_ns,
            restart_ns,
        } = fault
        {
            for &cell in cells {
                recorder.cell_crashed(*at_ns, cell);
                if let Some(restart_ns) = restart_ns.filter(|&t| t < scenario.duration_ns) {
                    recorder.cell_restarted(restart_ns, cell);
                }
            }
        }
    }
    recorder
}

/// Folds one cell observation into the record.
fn record(recorder: &mut RunRecorder, observed: &Observed<CellObservation>) {
    let (time_ns, cell) = (observed.time_ns, observed.cell.0);
    match &observed.observation {
        CellObservation::TxSubmitted { tx } => recorder.tx_submitted(time_ns, cell, &hex(tx)),
        CellObservation::TxRelayed {
            tx,
            client,
            first_submitted_ns,
        } => recorder.tx_relayed(time_ns, cell, &hex(tx), *client, *first_submitted_ns),
        CellObservation::TxReceived { tx } => recorder.tx_received(time_ns, cell, &hex(tx)),
        CellObservation::TxOrdered {
            tx,
            round_received,
            consensus_timestamp_ns,
            position,
            applied,
        } => {
            let id = hex(tx);
            recorder.tx_ordered(
                time_ns,
                cell,
                &id,
                TxOrder {
                    round_received: u64::from(*round_received),
                    consensus_timestamp_ns: *consensus_timestamp_ns,
                    position: *position,
                },
            );
            recorder.tx_applied(cell, &id, *applied);
        }
        CellObservation::RoundDecided {
            round,
            election_rounds,
            unique_famous_creators,
            ..
        } => {
            recorder.round_decided(time_ns, cell, u64::from(*round));
            recorder.round_elections(cell, u64::from(*round), *election_rounds);
            recorder.round_famous(cell, u64::from(*round), unique_famous_creators);
        }
        CellObservation::EventCreated { .. } => recorder.count(time_ns, Counter::EventsCreated, 1),
        CellObservation::ForkDetected { creator } => {
            recorder.fork_detected(time_ns, cell, creator.0)
        }
        CellObservation::TxReached {
            tx,
            event_timestamp_ns,
        } => recorder.tx_reached(cell, &hex(tx), *event_timestamp_ns),
        CellObservation::MessageRejected { reason } => recorder.message_rejected(cell, reason),
        CellObservation::Adversary { behaviour, action } => {
            recorder.adversary(time_ns, cell, behaviour, adversary_act(action))
        }
        _ => {}
    }
}

/// What the sybil identities obtained in `cell`'s own trust network.
fn sybil_standing(
    cell: &celluler_core::cell::Cell,
    sybils: &[celluler_sim::adversary::SybilIdentity],
) -> SybilStanding {
    let me = cell.keys().cell_id();
    let (mut share_ppm, mut best_ppm, mut vouched, mut accepted) = (0, 0, 0, 0);
    for sybil in sybils {
        let score = cell.trust_score_ppm(sybil.cell_id);
        share_ppm += score;
        best_ppm = best_ppm.max(score);
        if let Some(edge) = cell.trust_edge(sybil.cell_id) {
            vouched += u64::from(edge.attestation_weight > 0);
            accepted += edge.successes;
        }
    }
    let mut member_scores: Vec<u64> = cell
        .config()
        .members
        .iter()
        .filter(|member| member.cell_id != me)
        .map(|member| cell.trust_score_ppm(member.cell_id))
        .collect();
    member_scores.sort_unstable();
    SybilStanding {
        cell: cell.config().index.0,
        sybil_share_ppm: share_ppm,
        best_sybil_ppm: best_ppm,
        member_median_ppm: member_scores
            .get(member_scores.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(0),
        vouched,
        messages_accepted: accepted,
    }
}

/// A cell's account of an adversary action as the reports' plain data.
fn adversary_act(action: &AdversaryAction) -> AdversaryAct {
    match action {
        AdversaryAction::Equivocating { branches } => AdversaryAct::Equivocating {
            branches: *branches,
        },
        AdversaryAction::Held { messages } => AdversaryAct::Held {
            messages: *messages,
        },
        AdversaryAction::Released { messages } => AdversaryAct::Released {
            messages: *messages,
        },
        AdversaryAction::FrontRun { victim, own } => AdversaryAct::FrontRun {
            victim: hex(victim),
            own: hex(own),
        },
        AdversaryAction::DoubleSpend { txs } => AdversaryAct::DoubleSpend {
            txs: txs.iter().map(|tx| hex(tx)).collect(),
        },
        AdversaryAction::Garbage { kind } => AdversaryAct::Garbage {
            kind: kind.to_string(),
        },
        AdversaryAction::Censored {
            client,
            tx,
            held_ns,
        } => AdversaryAct::Censored {
            client: *client,
            tx: hex(tx),
            held_ns: *held_ns,
        },
        AdversaryAction::Spam { kind } => AdversaryAct::Spam {
            kind: kind.to_string(),
        },
        AdversaryAction::Skewing { offset_ns } => AdversaryAct::Skewing {
            offset_ns: *offset_ns,
        },
        AdversaryAction::SybilMessage { kind } => AdversaryAct::SybilMessage {
            kind: kind.to_string(),
        },
        AdversaryAction::SybilVouched { by } => AdversaryAct::SybilVouched { by: by.0 },
    }
}

/// What the progress bar shows besides virtual time.
#[derive(Default)]
struct ProgressCounts {
    events_created: u64,
    last_decided_round: Option<u32>,
}

impl ProgressCounts {
    fn observe(&mut self, observation: &CellObservation) {
        match observation {
            CellObservation::EventCreated { .. } => self.events_created += 1,
            CellObservation::RoundDecided { round, .. } => {
                self.last_decided_round = self.last_decided_round.max(Some(*round));
            }
            _ => {}
        }
    }

    fn line(&self, cells: u32) -> String {
        format!(
            "{cells} cells, {} events, round {} decided",
            self.events_created,
            self.last_decided_round
                .map_or("-".to_string(), |round| round.to_string())
        )
    }
}

fn progress_bar(scenario: &Scenario, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(
        Some(scenario.duration_ns / NS_PER_MS),
        ProgressDrawTarget::stderr_with_hz(10),
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} virtual ms  {msg}",
        )
        .expect("a valid template"),
    );
    bar.set_message(format!("{} cells", scenario.cells.count));
    bar
}
