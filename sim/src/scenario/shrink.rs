//! Shrinking a failing scenario (`celluler shrink`, docs/shrink.md): every
//! way to make a scenario one step smaller, each an edit of its TOML
//! document, in a fixed order.
//!
//! This module decides nothing about failures; it only proposes. A
//! reduction reads the scenario's validated values (cell groups, times in
//! ns) and writes the document, so what it writes is checked again by the
//! parser: a reduction whose document does not parse is not a
//! [`Candidate`]. The order of [`reductions`], and the document each
//! gives, depend on the document and nothing else.
//!
//! The reductions, in order:
//! 1. remove one `[[faults]]` entry (each, in file order);
//! 2. remove one `[[byzantine]]` block (each), or the `[byzantine]` table;
//! 3. fewer Byzantine cells in a block (or the table): half of them, then
//!    one fewer — the lowest cells stay (`count`: half, then one fewer);
//!    then remove one `[[agents]]` block (each), and fewer agents in a
//!    block, the same way;
//! 4. `cells.count` halved, then one fewer; every group that names a cell
//!    beyond the new count loses it, and an entry left with nothing
//!    (a fault, a Byzantine block or its victims, a region, an agents or
//!    market genesis block; a partition left with one group) is removed
//!    with it; an agents block's `count` keeps the agents left. Explicit
//!    submitters or
//!    entry cells that would be left empty skip the reduction instead, and
//!    a topology's degree is lowered to what the new count allows;
//! 5. `duration` halved, then 10 % shorter, rounded down to a whole
//!    [`TIME_STEP_NS`], at least one step, and after every fault's `at`
//!    and every Byzantine block's `from` (a window ending later closes with
//!    the run instead);
//! 6. a fault's window halved (each fault with an end, or a partition or
//!    link fault without one, which then gets an end);
//! 7. a fault moved earlier: its `at` halved, its end moved with it;
//! 8. lower rates: `workload.tx_rate`, `workload.messages.rate`, each
//!    Byzantine block's `params.rate` and each agents block's `rate`
//!    (default `"1/s"`) halved, rounded down to a whole
//!    number per second, down to `"1/s"` (never to zero);
//! 9. one region fewer: its cells join the region before it (region 0's,
//!    the one after it), its row and column leave `region_latency`; the
//!    last region becomes `network.latency`.
//!
//! Each reduction lowers one of these and raises none: the number of
//! faults, Byzantine blocks, Byzantine cells, agents blocks, agents, cells
//! and regions, the
//! duration, a fault's start or end (no end counting as the latest), a
//! rate. Each is a whole number bounded below, so repeating them ends.

use celluler_core::time::{NS_PER_MS, NS_PER_S, TimeNs};

use super::units::Rate;
use super::{
    Behaviour, CellIndex, Fault, Latency, Scenario, ScenarioError, Topology, format_cells,
    format_duration,
};

/// Times a reduction writes (a shorter duration, a fault's window or start)
/// are whole multiples of this: a shrunk scenario reads as a person would
/// write it, and halving stops at one step instead of going on to 1 ns.
pub const TIME_STEP_NS: TimeNs = 100 * NS_PER_MS;

/// One edit of a scenario document.
#[derive(Debug, Clone, PartialEq)]
pub struct Reduction {
    /// What it changes, as a step line shows it: `cells.count 12 → 6`.
    pub change: String,
    /// The whole document after the change.
    pub document: toml::Table,
}

/// A scenario as shrinking holds it: the TOML document, the document as
/// written, and what that text parses to.
#[derive(Debug, Clone)]
pub struct Document {
    pub table: toml::Table,
    /// What was parsed, and what a shrunk file holds.
    pub text: String,
    pub scenario: Scenario,
}

impl Document {
    /// The scenario file `text` (named `file` in errors), validated as the
    /// file is, with its `seed` set to `seed`, so that the document alone
    /// reproduces a run at that seed.
    pub fn at_seed(file: &str, text: &str, seed: u64) -> Result<Document, ScenarioError> {
        Scenario::parse(file, text)?;
        let mut table: toml::Table = text
            .parse()
            .map_err(|error| ScenarioError::whole_file(file, format!("{error}")))?;
        let seed = i64::try_from(seed).map_err(|_| {
            ScenarioError::whole_file(
                file,
                format!(
                    "seed {seed} is out of range (a scenario seed is at most {})",
                    i64::MAX
                ),
            )
        })?;
        table.insert("seed".to_string(), toml::Value::Integer(seed));
        Document::of(file, table)
            .ok_or_else(|| ScenarioError::whole_file(file, "cannot write the scenario back"))
    }

    /// `table` written and parsed; `None` when it is no valid scenario.
    fn of(file: &str, table: toml::Table) -> Option<Document> {
        let text = toml::to_string(&table).ok()?;
        let scenario = Scenario::parse(file, &text).ok()?;
        Some(Document {
            table,
            text,
            scenario,
        })
    }

    /// The reductions of this document that parse (as `file`), in order.
    pub fn candidates(&self, file: &str) -> Vec<Candidate> {
        candidates(file, &self.table, &self.scenario)
    }
}

/// A reduction whose document is a valid scenario.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// As in [`Reduction::change`].
    pub change: String,
    pub document: Document,
}

/// Every reduction of `document`, whose parse is `scenario`, in the fixed
/// order of the module docs. Some may not parse ([`candidates`] drops them).
pub fn reductions(document: &toml::Table, scenario: &Scenario) -> Vec<Reduction> {
    let mut found = Vec::new();
    remove_faults(document, scenario, &mut found);
    remove_byzantine(document, scenario, &mut found);
    fewer_byzantine_cells(document, scenario, &mut found);
    remove_agents(document, scenario, &mut found);
    fewer_agents(document, scenario, &mut found);
    fewer_cells(document, scenario, &mut found);
    shorter_duration(document, scenario, &mut found);
    shorter_faults(document, scenario, &mut found);
    earlier_faults(document, scenario, &mut found);
    lower_rates(document, scenario, &mut found);
    lower_agent_rates(document, scenario, &mut found);
    fewer_regions(document, scenario, &mut found);
    found
}

/// The reductions of `document` that parse (as `file`), in order.
pub fn candidates(file: &str, document: &toml::Table, scenario: &Scenario) -> Vec<Candidate> {
    reductions(document, scenario)
        .into_iter()
        .filter_map(|reduction| {
            Some(Candidate {
                change: reduction.change,
                document: Document::of(file, reduction.document)?,
            })
        })
        .collect()
}

/// How big a scenario is, in the terms shrinking reduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub cells: u32,
    pub duration_ns: TimeNs,
    pub faults: usize,
    /// `[[byzantine]]` blocks (a `[byzantine]` table has none).
    pub byzantine_blocks: usize,
    pub byzantine_cells: usize,
    /// 0 without regions.
    pub regions: usize,
    /// `[[agents]]` blocks.
    pub agent_blocks: usize,
    /// Agents over all blocks.
    pub agents: usize,
    pub tx_rate: Rate,
    pub message_rate: Rate,
}

impl Size {
    pub fn of(scenario: &Scenario) -> Size {
        Size {
            cells: scenario.cells.count,
            duration_ns: scenario.duration_ns,
            faults: scenario.faults.len(),
            byzantine_blocks: scenario.byzantine.behaviours.len(),
            byzantine_cells: scenario.byzantine.cells.len(),
            regions: match &scenario.network.latency {
                Latency::Regions(regions) => regions.names.len(),
                Latency::Uniform(_) => 0,
            },
            agent_blocks: scenario.agents.len(),
            agents: scenario.agents.iter().map(|block| block.cells.len()).sum(),
            tx_rate: scenario.workload.tx_rate,
            message_rate: scenario.workload.message_rate,
        }
    }

    /// `cells 12 → 1, duration 8s → 100ms, ...`: every measure, before and
    /// after, leaving out those that are zero in both.
    pub fn describe_change(before: &Size, after: &Size) -> String {
        let mut parts = vec![
            format!("cells {} → {}", before.cells, after.cells),
            format!(
                "duration {} → {}",
                format_duration(before.duration_ns),
                format_duration(after.duration_ns)
            ),
        ];
        let counts = [
            ("faults", before.faults, after.faults),
            (
                "Byzantine blocks",
                before.byzantine_blocks,
                after.byzantine_blocks,
            ),
            (
                "Byzantine cells",
                before.byzantine_cells,
                after.byzantine_cells,
            ),
            ("regions", before.regions, after.regions),
            ("agents blocks", before.agent_blocks, after.agent_blocks),
            ("agents", before.agents, after.agents),
        ];
        for (name, before, after) in counts {
            if before > 0 || after > 0 {
                parts.push(format!("{name} {before} → {after}"));
            }
        }
        let rates = [
            ("TX rate", before.tx_rate, after.tx_rate),
            ("message rate", before.message_rate, after.message_rate),
        ];
        for (name, before, after) in rates {
            if !(before.is_zero() && after.is_zero()) {
                parts.push(format!(
                    "{name} {} → {}",
                    format_rate(before),
                    format_rate(after)
                ));
            }
        }
        parts.join(", ")
    }
}

/// `20/s`, `0.5/s`: a rate per second, for people (exact to a thousandth).
pub fn format_rate(rate: Rate) -> String {
    let thousandths =
        u128::from(rate.count) * u128::from(NS_PER_S) * 1000 / u128::from(rate.per_ns);
    let (whole, fraction) = (thousandths / 1000, thousandths % 1000);
    if fraction == 0 {
        format!("{whole}/s")
    } else {
        let fraction = format!("{fraction:03}");
        format!("{whole}.{}/s", fraction.trim_end_matches('0'))
    }
}

// ---------------------------------------------------------------------------
// The reductions, in order.

fn remove_faults(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    for (index, fault) in scenario.faults.iter().enumerate() {
        let mut edited = document.clone();
        if remove_array_entry(&mut edited, "faults", index).is_some() {
            found.push(Reduction {
                change: format!("faults.{index} removed ({})", fault.describe()),
                document: edited,
            });
        }
    }
}

fn remove_byzantine(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    match document.get("byzantine") {
        Some(toml::Value::Table(_)) => {
            let mut edited = document.clone();
            edited.remove("byzantine");
            found.push(Reduction {
                change: format!(
                    "[byzantine] removed ({} labelled Byzantine cells: {})",
                    scenario.byzantine.cells.len(),
                    format_cells(&scenario.byzantine.cells)
                ),
                document: edited,
            });
        }
        Some(toml::Value::Array(_)) => {
            for (index, block) in scenario.byzantine.behaviours.iter().enumerate() {
                let mut edited = document.clone();
                if remove_array_entry(&mut edited, "byzantine", index).is_some() {
                    found.push(Reduction {
                        change: format!("byzantine.{index} removed ({})", block.describe()),
                        document: edited,
                    });
                }
            }
        }
        _ => {}
    }
}

fn fewer_byzantine_cells(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    match document.get("byzantine") {
        Some(toml::Value::Table(table)) => {
            for (change, edited_table) in
                fewer_cells_in_block(table, "byzantine", &scenario.byzantine.cells)
            {
                let mut edited = document.clone();
                edited.insert("byzantine".to_string(), toml::Value::Table(edited_table));
                found.push(Reduction {
                    change,
                    document: edited,
                });
            }
        }
        Some(toml::Value::Array(blocks)) => {
            for (index, (item, block)) in blocks
                .iter()
                .zip(&scenario.byzantine.behaviours)
                .enumerate()
            {
                let Some(table) = item.as_table() else {
                    continue;
                };
                let path = format!("byzantine.{index}");
                for (change, edited_table) in fewer_cells_in_block(table, &path, &block.cells) {
                    let mut edited = document.clone();
                    if let Some(slot) = array_entry_mut(&mut edited, "byzantine", index) {
                        *slot = toml::Value::Table(edited_table);
                        found.push(Reduction {
                            change,
                            document: edited,
                        });
                    }
                }
            }
        }
        _ => {}
    }
}

fn remove_agents(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    for (index, block) in scenario.agents.iter().enumerate() {
        let mut edited = document.clone();
        if remove_array_entry(&mut edited, "agents", index).is_some() {
            found.push(Reduction {
                change: format!(
                    "agents.{index} removed ({} {} on {})",
                    block.cells.len(),
                    block.kind.name(),
                    format_cells(&block.cells)
                ),
                document: edited,
            });
        }
    }
}

fn fewer_agents(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    let Some(toml::Value::Array(items)) = document.get("agents") else {
        return;
    };
    for (index, (item, block)) in items.iter().zip(&scenario.agents).enumerate() {
        let Some(table) = item.as_table() else {
            continue;
        };
        let path = format!("agents.{index}");
        for (change, edited_table) in fewer_cells_in_block(table, &path, &block.cells) {
            let mut edited = document.clone();
            if let Some(slot) = array_entry_mut(&mut edited, "agents", index) {
                *slot = toml::Value::Table(edited_table);
                found.push(Reduction {
                    change,
                    document: edited,
                });
            }
        }
    }
}

/// A Byzantine table or block with half its cells, then one fewer: by
/// `count`, or keeping the lowest of its `cells`.
fn fewer_cells_in_block(
    table: &toml::Table,
    path: &str,
    cells: &[CellIndex],
) -> Vec<(String, toml::Table)> {
    let mut edits = Vec::new();
    if let Some(count) = table.get("count").and_then(toml::Value::as_integer) {
        for fewer in halved_then_one_fewer(count) {
            let mut edited = table.clone();
            edited.insert("count".to_string(), toml::Value::Integer(fewer));
            edits.push((format!("{path}.count {count} → {fewer}"), edited));
        }
    } else if table.contains_key("cells") {
        let length = cells.len() as i64;
        for fewer in halved_then_one_fewer(length) {
            let kept = &cells[..fewer as usize];
            let mut edited = table.clone();
            edited.insert("cells".to_string(), group_value(kept));
            edits.push((
                format!(
                    "{path}.cells {} → {}",
                    format_cells(cells),
                    format_cells(kept)
                ),
                edited,
            ));
        }
    }
    edits
}

/// `value / 2`, then `value - 1` when that differs, both at least 1.
fn halved_then_one_fewer(value: i64) -> Vec<i64> {
    let mut values = Vec::new();
    if value >= 2 {
        values.push(value / 2);
        if value - 1 != value / 2 {
            values.push(value - 1);
        }
    }
    values
}

fn fewer_cells(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    let count = scenario.cells.count;
    for fewer in halved_then_one_fewer(i64::from(count)) {
        let fewer = fewer as u32;
        if let Some((edited, notes)) = with_cell_count(document, scenario, fewer) {
            let mut change = format!("cells.count {count} → {fewer}");
            if !notes.is_empty() {
                change.push_str(&format!(" ({})", notes.join("; ")));
            }
            found.push(Reduction {
                change,
                document: edited,
            });
        }
    }
}

/// `document` with `count` cells, every reference to a cell at or beyond
/// `count` taken out, and notes on what else that changed. `None`: an
/// explicit workload group would be left empty.
fn with_cell_count(
    document: &toml::Table,
    scenario: &Scenario,
    count: u32,
) -> Option<(toml::Table, Vec<String>)> {
    let mut edited = document.clone();
    let mut notes = Vec::new();
    table_at(&mut edited, &["cells"])?
        .insert("count".to_string(), toml::Value::Integer(i64::from(count)));
    let keep = |cells: &[CellIndex]| -> Vec<CellIndex> {
        cells.iter().copied().filter(|&cell| cell < count).collect()
    };

    // Faults.
    if !scenario.faults.is_empty() {
        let items = array_at(&mut edited, "faults")?;
        let mut kept_items = Vec::new();
        for (index, (fault, item)) in scenario.faults.iter().zip(items.iter()).enumerate() {
            let mut item = item.clone();
            let table = item.as_table_mut()?;
            let survives = match fault {
                Fault::Partition { groups, .. } => {
                    let kept: Vec<Vec<CellIndex>> = groups
                        .iter()
                        .map(|group| keep(group))
                        .filter(|group| !group.is_empty())
                        .collect();
                    let changed = kept.iter().map(Vec::len).sum::<usize>()
                        != groups.iter().map(Vec::len).sum::<usize>();
                    if changed && kept.len() >= 2 {
                        let values = kept.iter().map(|group| group_value(group)).collect();
                        table.insert("groups".to_string(), toml::Value::Array(values));
                    }
                    kept.len() >= 2
                }
                Fault::Crash { cells, .. }
                | Fault::ClockSkew { cells, .. }
                | Fault::Pause { cells, .. } => keep_group(table, "cells", cells, &keep),
                Fault::Link { from, to, .. } => {
                    keep_group(table, "from", from, &keep) && keep_group(table, "to", to, &keep)
                }
            };
            if survives {
                kept_items.push(item);
            } else {
                notes.push(format!("faults.{index} removed"));
            }
        }
        set_array(&mut edited, "faults", kept_items);
    }

    // Byzantine cells.
    match edited.get("byzantine").cloned() {
        Some(toml::Value::Table(mut table)) => {
            if clamp_byzantine(&mut table, &scenario.byzantine.cells, count, &keep) {
                edited.insert("byzantine".to_string(), toml::Value::Table(table));
            } else {
                edited.remove("byzantine");
                notes.push("[byzantine] removed".to_string());
            }
        }
        Some(toml::Value::Array(items)) => {
            let mut kept_items = Vec::new();
            for (index, (block, item)) in
                scenario.byzantine.behaviours.iter().zip(items).enumerate()
            {
                let mut item = item;
                let table = item.as_table_mut()?;
                let victims = match &block.behaviour {
                    Behaviour::Eclipse { victims, .. } => Some(victims),
                    Behaviour::Delay { victims, .. } | Behaviour::FrontRun { victims, .. } => {
                        victims.as_ref()
                    }
                    _ => None,
                };
                let mut survives = clamp_byzantine(table, &block.cells, count, &keep);
                if let (true, Some(victims)) = (survives, victims) {
                    let params = table.get_mut("params")?.as_table_mut()?;
                    survives = keep_group(params, "victims", victims, &keep);
                }
                if survives {
                    kept_items.push(item);
                } else {
                    notes.push(format!("byzantine.{index} removed"));
                }
            }
            set_array(&mut edited, "byzantine", kept_items);
        }
        _ => {}
    }

    // Agents: a block keeps the agents on cells that remain (by `count`:
    // as many as remain), or leaves.
    if !scenario.agents.is_empty() {
        let items = array_at(&mut edited, "agents")?;
        let mut kept_items = Vec::new();
        for (index, (block, item)) in scenario.agents.iter().zip(items.iter()).enumerate() {
            let mut item = item.clone();
            let table = item.as_table_mut()?;
            let survives = if table.contains_key("count") {
                let kept = keep(&block.cells).len();
                table.insert("count".to_string(), toml::Value::Integer(kept as i64));
                kept > 0
            } else {
                keep_group(table, "cells", &block.cells, &keep)
            };
            if survives {
                kept_items.push(item);
            } else {
                notes.push(format!("agents.{index} removed"));
            }
        }
        set_array(&mut edited, "agents", kept_items);
    }
    // Market genesis blocks: one left with no cell leaves.
    if let Some(markets) = &scenario.markets
        && !markets.genesis.is_empty()
    {
        let markets_table = table_at(&mut edited, &["markets"])?;
        let items = array_at(markets_table, "genesis")?;
        let mut kept_items = Vec::new();
        for (index, (block, item)) in markets.genesis.iter().zip(items.iter()).enumerate() {
            let mut item = item.clone();
            if keep_group(item.as_table_mut()?, "cells", &block.cells, &keep) {
                kept_items.push(item);
            } else {
                notes.push(format!("markets.genesis.{index} removed"));
            }
        }
        set_array(markets_table, "genesis", kept_items);
    }

    // Workload groups: emptying one would change whom the workload comes
    // from altogether, so that is no reduction.
    let workload = &scenario.workload;
    for (key, group) in [
        ("submitters", &workload.submitters),
        ("entry", &workload.entry),
    ] {
        if let Some(group) = group {
            let table = table_at(&mut edited, &["workload"])?;
            if !keep_group(table, key, group, &keep) {
                return None;
            }
        }
    }

    // Regions: an emptied region leaves, with its row and column.
    if let Latency::Regions(regions) = &scenario.network.latency {
        let network = table_at(&mut edited, &["network"])?;
        let mut region_items = match network.get("regions") {
            Some(toml::Value::Array(items)) => items.clone(),
            _ => return None,
        };
        let mut matrix = match network.get("region_latency") {
            Some(toml::Value::Array(rows)) => rows.clone(),
            _ => return None,
        };
        for region in (0..regions.names.len()).rev() {
            let cells: Vec<CellIndex> = (0..regions.region_of_cell.len() as CellIndex)
                .filter(|&cell| regions.region_of_cell[cell as usize] as usize == region)
                .collect();
            let table = region_items.get_mut(region)?.as_table_mut()?;
            if !keep_group(table, "cells", &cells, &keep) {
                region_items.remove(region);
                remove_row_and_column(&mut matrix, region)?;
                notes.push(format!(
                    "network.regions.{region} ({}) removed",
                    regions.names[region]
                ));
            }
        }
        network.insert("regions".to_string(), toml::Value::Array(region_items));
        network.insert("region_latency".to_string(), toml::Value::Array(matrix));
    }

    // Topology: what the new count allows.
    let topology_change = match &scenario.network.topology {
        Topology::FullMesh => None,
        Topology::RandomRegular { degree } => {
            let mut lowered = (*degree).min(count.saturating_sub(1));
            if lowered % 2 == 1 && count % 2 == 1 {
                lowered -= 1;
            }
            (lowered != *degree).then_some(("degree", *degree, lowered))
        }
        Topology::SmallWorld { neighbors, .. } => {
            let lowered = if *neighbors >= count {
                count.saturating_sub(1) & !1
            } else {
                *neighbors
            };
            (lowered != *neighbors).then_some(("neighbors", *neighbors, lowered))
        }
        Topology::ScaleFree { edges } => {
            let lowered = (*edges).min(count.saturating_sub(1));
            (lowered != *edges).then_some(("edges", *edges, lowered))
        }
        Topology::Edges(edges) => {
            let kept: Vec<toml::Value> = edges
                .iter()
                .filter(|(from, to)| *from < count && *to < count)
                .map(|(from, to)| {
                    toml::Value::Array(vec![
                        toml::Value::Integer(i64::from(*from)),
                        toml::Value::Integer(i64::from(*to)),
                    ])
                })
                .collect();
            if kept.len() != edges.len() {
                notes.push(format!(
                    "{} topology edges removed",
                    edges.len() - kept.len()
                ));
                table_at(&mut edited, &["network", "topology"])?
                    .insert("edges".to_string(), toml::Value::Array(kept));
            }
            None
        }
    };
    if let Some((key, before, after)) = topology_change {
        table_at(&mut edited, &["network", "topology"])?
            .insert(key.to_string(), toml::Value::Integer(i64::from(after)));
        notes.push(format!("network.topology.{key} {before} → {after}"));
    }
    Some((edited, notes))
}

/// A Byzantine table or block on `count` cells: `count` lowered to leave
/// an honest cell, or its `cells` without those beyond. `false`: nothing left.
fn clamp_byzantine(
    table: &mut toml::Table,
    cells: &[CellIndex],
    count: u32,
    keep: &impl Fn(&[CellIndex]) -> Vec<CellIndex>,
) -> bool {
    match table.get("count").and_then(toml::Value::as_integer) {
        Some(byzantine_count) => {
            let lowered = byzantine_count.min(i64::from(count) - 1);
            table.insert("count".to_string(), toml::Value::Integer(lowered));
            lowered >= 1
        }
        None => keep_group(table, "cells", cells, keep),
    }
}

/// Rewrites the cell group `table[key]` (whose cells are `cells`) without
/// the cells `keep` drops; `"all"` stays `"all"`. `false`: none is left.
fn keep_group(
    table: &mut toml::Table,
    key: &str,
    cells: &[CellIndex],
    keep: &impl Fn(&[CellIndex]) -> Vec<CellIndex>,
) -> bool {
    let kept = keep(cells);
    if kept.is_empty() {
        return false;
    }
    let written_all = table
        .get(key)
        .and_then(toml::Value::as_str)
        .is_some_and(|text| text.trim() == "all");
    if kept.len() != cells.len() && !written_all {
        table.insert(key.to_string(), group_value(&kept));
    }
    true
}

fn shorter_duration(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    let duration_ns = scenario.duration_ns;
    // Nothing may start at or after the end of the run.
    let latest_start_ns = scenario
        .faults
        .iter()
        .map(Fault::at_ns)
        .chain(
            scenario
                .byzantine
                .behaviours
                .iter()
                .map(|block| block.from_ns),
        )
        .max();
    let mut tried = Vec::new();
    for shorter_ns in [duration_ns / 2, duration_ns - duration_ns / 10] {
        let shorter_ns = round_down_to_step(shorter_ns);
        if shorter_ns < TIME_STEP_NS
            || shorter_ns >= duration_ns
            || tried.contains(&shorter_ns)
            || latest_start_ns.is_some_and(|start_ns| start_ns >= shorter_ns)
        {
            continue;
        }
        tried.push(shorter_ns);
        let mut edited = document.clone();
        edited.insert(
            "duration".to_string(),
            toml::Value::String(format_duration(shorter_ns)),
        );
        let mut notes = Vec::new();
        let mut well_formed = true;
        for (index, block) in scenario.byzantine.behaviours.iter().enumerate() {
            if block.until_ns.is_some_and(|until_ns| until_ns > shorter_ns) {
                match array_entry_mut(&mut edited, "byzantine", index)
                    .and_then(toml::Value::as_table_mut)
                {
                    Some(table) => {
                        table.remove("until");
                        notes.push(format!("byzantine.{index} until the end"));
                    }
                    None => well_formed = false,
                }
            }
        }
        if !well_formed {
            continue;
        }
        let mut change = format!(
            "duration {} → {}",
            format_duration(duration_ns),
            format_duration(shorter_ns)
        );
        if !notes.is_empty() {
            change.push_str(&format!(" ({})", notes.join("; ")));
        }
        found.push(Reduction {
            change,
            document: edited,
        });
    }
}

/// The key that ends a fault of this kind, if it can have one.
fn end_key(fault: &Fault) -> Option<&'static str> {
    match fault {
        Fault::Partition { .. } => Some("heal"),
        Fault::Crash { .. } => Some("restart"),
        Fault::Link { .. } | Fault::Pause { .. } => Some("until"),
        Fault::ClockSkew { .. } => None,
    }
}

fn shorter_faults(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    for (index, fault) in scenario.faults.iter().enumerate() {
        let Some(key) = end_key(fault) else { continue };
        let at_ns = fault.at_ns();
        let end_ns = match (fault.end_ns(), fault) {
            (Some(end_ns), _) => end_ns,
            // A crash without a restart is a loss, not a long outage: giving
            // it a restart would be another fault, not a shorter one.
            (None, Fault::Crash { .. }) => continue,
            (None, _) => scenario.duration_ns,
        };
        let window_end_ns = end_ns.min(scenario.duration_ns);
        let window_ns = window_end_ns.saturating_sub(at_ns);
        let shorter_ns = round_down_to_step(window_ns / 2);
        if shorter_ns < TIME_STEP_NS || at_ns + shorter_ns >= window_end_ns {
            continue;
        }
        let new_end_ns = at_ns + shorter_ns;
        let mut edited = document.clone();
        let Some(table) =
            array_entry_mut(&mut edited, "faults", index).and_then(toml::Value::as_table_mut)
        else {
            continue;
        };
        table.insert(
            key.to_string(),
            toml::Value::String(format_duration(new_end_ns)),
        );
        let before = fault.end_ns().map_or("none".to_string(), format_duration);
        found.push(Reduction {
            change: format!(
                "faults.{index}.{key} {before} → {} (a {} fault {} long)",
                format_duration(new_end_ns),
                fault.kind(),
                format_duration(shorter_ns)
            ),
            document: edited,
        });
    }
}

fn earlier_faults(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    for (index, fault) in scenario.faults.iter().enumerate() {
        let at_ns = fault.at_ns();
        let earlier_ns = round_down_to_step(at_ns / 2);
        if earlier_ns >= at_ns {
            continue;
        }
        let shift_ns = at_ns - earlier_ns;
        let mut edited = document.clone();
        let Some(table) =
            array_entry_mut(&mut edited, "faults", index).and_then(toml::Value::as_table_mut)
        else {
            continue;
        };
        table.insert(
            "at".to_string(),
            toml::Value::String(format_duration(earlier_ns)),
        );
        let mut change = format!(
            "faults.{index}.at {} → {}",
            format_duration(at_ns),
            format_duration(earlier_ns)
        );
        if let (Some(key), Some(end_ns)) = (end_key(fault), fault.end_ns()) {
            let moved_ns = end_ns - shift_ns;
            table.insert(
                key.to_string(),
                toml::Value::String(format_duration(moved_ns)),
            );
            change.push_str(&format!(
                ", {key} {} → {}",
                format_duration(end_ns),
                format_duration(moved_ns)
            ));
        }
        found.push(Reduction {
            change,
            document: edited,
        });
    }
}

/// Half of `rate`, rounded down to a whole number per second; `None` below
/// 2/s. A rate never halves to zero: a workload turned off is not a
/// smaller version of the same test (a finality check with no transaction
/// fails for want of one, not for what it measured).
fn halved_rate(rate: Rate) -> Option<u64> {
    let half = u128::from(rate.count) * u128::from(NS_PER_S) / (2 * u128::from(rate.per_ns));
    u64::try_from(half).ok().filter(|&half| half >= 1)
}

fn lower_rates(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    let mut lower = |path: &[&str], key: &str, rate: Rate, change_path: String| {
        let Some(halved) = halved_rate(rate) else {
            return;
        };
        let mut edited = document.clone();
        let Some(table) = table_at(&mut edited, path) else {
            return;
        };
        table.insert(key.to_string(), toml::Value::String(format!("{halved}/s")));
        found.push(Reduction {
            change: format!("{change_path} {} → {halved}/s", format_rate(rate)),
            document: edited,
        });
    };
    lower(
        &["workload"],
        "tx_rate",
        scenario.workload.tx_rate,
        "workload.tx_rate".to_string(),
    );
    lower(
        &["workload", "messages"],
        "rate",
        scenario.workload.message_rate,
        "workload.messages.rate".to_string(),
    );
    for (index, block) in scenario.byzantine.behaviours.iter().enumerate() {
        let rate = match &block.behaviour {
            Behaviour::Spam { rate, .. }
            | Behaviour::Garbage { rate, .. }
            | Behaviour::Sybil { rate, .. } => *rate,
            _ => continue,
        };
        let Some(halved) = halved_rate(rate) else {
            continue;
        };
        let mut edited = document.clone();
        let Some(block_table) =
            array_entry_mut(&mut edited, "byzantine", index).and_then(toml::Value::as_table_mut)
        else {
            continue;
        };
        let params = block_table
            .entry("params")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(params) = params.as_table_mut() else {
            continue;
        };
        params.insert(
            "rate".to_string(),
            toml::Value::String(format!("{halved}/s")),
        );
        found.push(Reduction {
            change: format!(
                "byzantine.{index}.params.rate {} → {halved}/s",
                format_rate(rate)
            ),
            document: edited,
        });
    }
}

fn lower_agent_rates(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    for (index, block) in scenario.agents.iter().enumerate() {
        let Some(halved) = halved_rate(block.rate) else {
            continue;
        };
        let mut edited = document.clone();
        let Some(table) =
            array_entry_mut(&mut edited, "agents", index).and_then(toml::Value::as_table_mut)
        else {
            continue;
        };
        table.insert(
            "rate".to_string(),
            toml::Value::String(format!("{halved}/s")),
        );
        found.push(Reduction {
            change: format!(
                "agents.{index}.rate {} → {halved}/s",
                format_rate(block.rate)
            ),
            document: edited,
        });
    }
}

fn fewer_regions(document: &toml::Table, scenario: &Scenario, found: &mut Vec<Reduction>) {
    let Latency::Regions(regions) = &scenario.network.latency else {
        return;
    };
    let region_count = regions.names.len();
    if region_count == 1 {
        // The one region's latency becomes the whole network's.
        let mut edited = document.clone();
        let Some(network) = table_at(&mut edited, &["network"]) else {
            return;
        };
        let latency = network
            .get("region_latency")
            .and_then(toml::Value::as_array)
            .and_then(|rows| rows.first())
            .and_then(toml::Value::as_array)
            .and_then(|row| row.first())
            .cloned();
        let Some(latency) = latency else { return };
        network.remove("regions");
        network.remove("region_latency");
        network.insert("latency".to_string(), latency);
        found.push(Reduction {
            change: format!(
                "network.regions.0 ({}) removed: its latency is the network's",
                regions.names[0]
            ),
            document: edited,
        });
        return;
    }
    for region in 0..region_count {
        let into = if region == 0 { 1 } else { region - 1 };
        let cells_of = |region: usize| -> Vec<CellIndex> {
            (0..regions.region_of_cell.len() as CellIndex)
                .filter(|&cell| regions.region_of_cell[cell as usize] as usize == region)
                .collect()
        };
        let mut joined = cells_of(into);
        joined.extend(cells_of(region));
        joined.sort_unstable();
        let mut edited = document.clone();
        let merged = (|| {
            let network = table_at(&mut edited, &["network"])?;
            let items = network.get_mut("regions")?.as_array_mut()?;
            items
                .get_mut(into)?
                .as_table_mut()?
                .insert("cells".to_string(), group_value(&joined));
            items.remove(region);
            let matrix = network.get_mut("region_latency")?.as_array_mut()?;
            remove_row_and_column(matrix, region)
        })();
        if merged.is_some() {
            found.push(Reduction {
                change: format!(
                    "network.regions.{region} ({}) removed: its cells join {}",
                    regions.names[region], regions.names[into]
                ),
                document: edited,
            });
        }
    }
}

// ---------------------------------------------------------------------------
// Document helpers. A document that parsed as a scenario has the shapes
// these expect; where one does not, the reduction is simply not made.

fn round_down_to_step(ns: TimeNs) -> TimeNs {
    ns / TIME_STEP_NS * TIME_STEP_NS
}

/// A cell group in the file's syntax: `3`, `"0..8"`, or `[0, "2..5", 9]`.
fn group_value(cells: &[CellIndex]) -> toml::Value {
    let mut parts: Vec<toml::Value> = super::cell_runs(cells)
        .into_iter()
        .map(|(start, end)| {
            if end == start {
                toml::Value::Integer(i64::from(start))
            } else {
                toml::Value::String(format!("{start}..{}", u64::from(end) + 1))
            }
        })
        .collect();
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        toml::Value::Array(parts)
    }
}

/// The table at `path`, created (empty) where missing; `None` when a part
/// is something else than a table.
fn table_at<'a>(document: &'a mut toml::Table, path: &[&str]) -> Option<&'a mut toml::Table> {
    let mut table = document;
    for part in path {
        table = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()?;
    }
    Some(table)
}

fn array_at<'a>(document: &'a mut toml::Table, key: &str) -> Option<&'a mut Vec<toml::Value>> {
    document.get_mut(key)?.as_array_mut()
}

fn array_entry_mut<'a>(
    document: &'a mut toml::Table,
    key: &str,
    index: usize,
) -> Option<&'a mut toml::Value> {
    array_at(document, key)?.get_mut(index)
}

/// Removes entry `index` of the array `key`; the key goes with its last entry.
fn remove_array_entry(document: &mut toml::Table, key: &str, index: usize) -> Option<()> {
    let items = array_at(document, key)?;
    if index >= items.len() {
        return None;
    }
    items.remove(index);
    if items.is_empty() {
        document.remove(key);
    }
    Some(())
}

/// Sets the array `key` to `items`, or removes the key when there are none.
fn set_array(document: &mut toml::Table, key: &str, items: Vec<toml::Value>) {
    if items.is_empty() {
        document.remove(key);
    } else {
        document.insert(key.to_string(), toml::Value::Array(items));
    }
}

/// Removes row `index`, and entry `index` of every other row, of a square matrix.
fn remove_row_and_column(matrix: &mut Vec<toml::Value>, index: usize) -> Option<()> {
    if index >= matrix.len() {
        return None;
    }
    matrix.remove(index);
    for row in matrix.iter_mut() {
        let row = row.as_array_mut()?;
        if index >= row.len() {
            return None;
        }
        row.remove(index);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document_of(text: &str) -> (toml::Table, Scenario) {
        let scenario = Scenario::parse("t.toml", text).unwrap();
        (text.parse().unwrap(), scenario)
    }

    fn changes(text: &str) -> Vec<String> {
        let (document, scenario) = document_of(text);
        reductions(&document, &scenario)
            .into_iter()
            .map(|reduction| reduction.change)
            .collect()
    }

    fn candidate<'a>(candidates: &'a [Candidate], change: &str) -> &'a Candidate {
        candidates
            .iter()
            .find(|candidate| candidate.change.starts_with(change))
            .unwrap_or_else(|| {
                let changes: Vec<&str> = candidates.iter().map(|c| c.change.as_str()).collect();
                panic!("no candidate {change}; candidates: {changes:#?}")
            })
    }

    /// Every kind of reference to a cell, and something for every reduction.
    const RICH: &str = r#"
name = "rich"
seed = 3
duration = "10s"

[cells]
count = 12

[network]
region_latency = [["10ms", "40ms", "90ms"], ["40ms", "10ms", "60ms"], ["90ms", "60ms", "10ms"]]

[[network.regions]]
name = "eu"
cells = "0..4"

[[network.regions]]
name = "us"
cells = "4..8"

[[network.regions]]
name = "asia"
cells = "8..12"

[workload]
tx_rate = "20/s"
submitters = "0..6"

[workload.messages]
rate = "5/s"

[[faults]]
kind = "partition"
at = "2s"
heal = "6s"
groups = ["0..6", "6..12"]

[[faults]]
kind = "crash"
cells = [1, 9]
at = "3s"
restart = "5s"

[[faults]]
kind = "link"
from = "8..10"
to = [10, 11]
at = "1s"
loss = 0.5

[[faults]]
kind = "clock-skew"
cells = "all"
offset = "200ms"

[[byzantine]]
behavior = "eclipse"
cells = [4, 5]
params = { victims = [0, 7] }

[[byzantine]]
behavior = "spam"
count = 2
from = "1s"
until = "8s"
params = { rate = "40/s" }

[checks]
max_finality_p99 = "1ms"
"#;

    #[test]
    fn the_reductions_come_in_the_documented_order() {
        let expected = [
            "faults.0 removed (partition into 2 groups at 2s, healed at 6s)",
            "faults.1 removed (crash of 2 cells at 3s, restarted at 5s)",
            "faults.2 removed (link fault 2 cells <-> 2 cells (50% loss) at 1s)",
            "faults.3 removed (clock skew of 12 cells (+200ms, 0 ppm) from 0s)",
            "byzantine.0 removed (eclipse on 4..6 around 0, 7)",
            "byzantine.1 removed (spam on 10..12 from 1s until 8s)",
            "byzantine.0.cells 4..6 → 4",
            "byzantine.1.count 2 → 1",
            "cells.count 12 → 6 (faults.0 removed; faults.2 removed; network.regions.2 (asia) removed)",
            "cells.count 12 → 11",
            "duration 10s → 5s (byzantine.1 until the end)",
            "duration 10s → 9s",
            "faults.0.heal 6s → 4s (a partition fault 2s long)",
            "faults.1.restart 5s → 4s (a crash fault 1s long)",
            "faults.2.until none → 5.5s (a link fault 4.5s long)",
            "faults.0.at 2s → 1s, heal 6s → 5s",
            "faults.1.at 3s → 1.5s, restart 5s → 3.5s",
            "faults.2.at 1s → 500ms",
            "workload.tx_rate 20/s → 10/s",
            "workload.messages.rate 5/s → 2/s",
            "byzantine.1.params.rate 40/s → 20/s",
            "network.regions.0 (eu) removed: its cells join us",
            "network.regions.1 (us) removed: its cells join eu",
            "network.regions.2 (asia) removed: its cells join us",
        ];
        assert_eq!(changes(RICH), expected);
    }

    /// A measure every reduction lowers: no part larger, and the whole different.
    fn not_larger(before: &Scenario, after: &Scenario) -> bool {
        let (b, a) = (Size::of(before), Size::of(after));
        let fault_start_ns =
            |scenario: &Scenario| -> TimeNs { scenario.faults.iter().map(Fault::at_ns).sum() };
        let fault_end_ns = |scenario: &Scenario| -> TimeNs {
            scenario
                .faults
                .iter()
                .map(|fault| fault.end_ns().unwrap_or(scenario.duration_ns))
                .sum()
        };
        let rate = |rate: Rate| u128::from(rate.count) * 1_000_000_000 / u128::from(rate.per_ns);
        a.cells <= b.cells
            && a.duration_ns <= b.duration_ns
            && a.faults <= b.faults
            && a.byzantine_blocks <= b.byzantine_blocks
            && a.byzantine_cells <= b.byzantine_cells
            && a.regions <= b.regions
            && rate(a.tx_rate) <= rate(b.tx_rate)
            && rate(a.message_rate) <= rate(b.message_rate)
            && (a.faults < b.faults
                || fault_start_ns(after) <= fault_start_ns(before)
                    && fault_end_ns(after) <= fault_end_ns(before))
    }

    #[test]
    fn every_reduction_of_a_rich_scenario_parses_and_is_smaller() {
        let (document, scenario) = document_of(RICH);
        let all = reductions(&document, &scenario);
        let valid = candidates("t.toml", &document, &scenario);
        let invalid: Vec<&str> = all
            .iter()
            .filter(|reduction| !valid.iter().any(|c| c.change == reduction.change))
            .map(|reduction| reduction.change.as_str())
            .collect();
        assert!(invalid.is_empty(), "did not parse: {invalid:#?}");
        for candidate in &valid {
            assert_ne!(
                candidate.document.scenario, scenario,
                "{}",
                candidate.change
            );
            assert!(
                not_larger(&scenario, &candidate.document.scenario),
                "{} is not smaller",
                candidate.change
            );
            // The text is the document, and parses to the scenario.
            let document = &candidate.document;
            assert_eq!(
                document.text.parse::<toml::Table>().unwrap(),
                document.table
            );
            assert_eq!(
                Scenario::parse("t.toml", &document.text).unwrap(),
                document.scenario
            );
        }
    }

    #[test]
    fn fewer_cells_take_out_every_reference_to_the_cells_removed() {
        let (document, scenario) = document_of(RICH);
        let valid = candidates("t.toml", &document, &scenario);
        let halved = &candidate(&valid, "cells.count 12 → 6").document.scenario;
        assert_eq!(halved.cells.count, 6);
        // The partition 0..6 | 6..12 has one group left: gone. The crash of
        // 1 and 9 keeps cell 1; the link 8..10 -> 10, 11 is gone; "all"
        // stays all.
        assert_eq!(halved.faults.len(), 2);
        assert!(matches!(&halved.faults[0], Fault::Crash { cells, .. } if cells == &[1]));
        assert!(matches!(&halved.faults[1], Fault::ClockSkew { cells, .. } if cells.len() == 6));
        // The eclipse's victims 0, 7 lose 7; the spam's `count = 2` is now
        // the last two cells, 4 and 5 (the eclipse's own: blocks may share).
        assert_eq!(halved.byzantine.behaviours.len(), 2);
        assert!(matches!(
            &halved.byzantine.behaviours[0].behaviour,
            Behaviour::Eclipse { victims, .. } if victims == &[0]
        ));
        assert_eq!(halved.byzantine.behaviours[1].cells, [4, 5]);
        assert_eq!(halved.byzantine.cells, [4, 5]);
        // Region asia emptied: it leaves with its row and column.
        let Latency::Regions(regions) = &halved.network.latency else {
            panic!("regions expected");
        };
        assert_eq!(regions.names, ["eu".to_string(), "us".to_string()]);
        assert_eq!(regions.matrix.len(), 2);
        assert_eq!(regions.matrix[0].len(), 2);
        assert_eq!(regions.region_of_cell, [0, 0, 0, 0, 1, 1]);
        assert_eq!(
            halved.workload.submitters.as_deref(),
            Some(&[0, 1, 2, 3, 4, 5][..])
        );

        // One fewer: the link fault's `to` loses 11 only.
        let fewer = &candidate(&valid, "cells.count 12 → 11").document.scenario;
        assert!(matches!(&fewer.faults[2], Fault::Link { to, .. } if to == &[10]));
        assert_eq!(fewer.faults.len(), 4);
    }

    #[test]
    fn a_reduction_that_would_empty_the_submitters_or_break_the_file_is_no_candidate() {
        let text = r#"
name = "t"
seed = 1
duration = "8s"
[cells]
count = 8
[workload]
submitters = [6, 7]
[[byzantine]]
behavior = "double-spend"
cells = 0
params = { at = "5s" }
"#;
        let (document, scenario) = document_of(text);
        let all: Vec<String> = reductions(&document, &scenario)
            .into_iter()
            .map(|reduction| reduction.change)
            .collect();
        // Halving would leave no submitter: not even proposed. 7 is kept.
        assert!(
            !all.iter()
                .any(|change| change.starts_with("cells.count 8 → 4"))
        );
        assert!(all.contains(&"cells.count 8 → 7".to_string()), "{all:?}");
        // 4s would end the run before the double spend at 5s: proposed,
        // but it does not parse.
        assert!(all.contains(&"duration 8s → 4s".to_string()), "{all:?}");
        let valid = candidates("t.toml", &document, &scenario);
        let valid_changes: Vec<&str> = valid.iter().map(|c| c.change.as_str()).collect();
        assert!(
            !valid_changes.contains(&"duration 8s → 4s"),
            "{valid_changes:?}"
        );
        assert!(
            valid_changes.contains(&"duration 8s → 7.2s"),
            "{valid_changes:?}"
        );
        let fewer = &candidate(&valid, "cells.count 8 → 7").document.scenario;
        assert_eq!(fewer.workload.submitters.as_deref(), Some(&[6][..]));
    }

    #[test]
    fn duration_stops_at_one_step_and_never_passes_a_fault() {
        let text = |duration: &str, at: &str| {
            format!(
                "name = \"t\"\nseed = 1\nduration = \"{duration}\"\n[cells]\ncount = 4\n\
                 [[faults]]\nkind = \"crash\"\ncells = 0\nat = \"{at}\"\n"
            )
        };
        let durations = |duration: &str, at: &str| -> Vec<String> {
            changes(&text(duration, at))
                .into_iter()
                .filter(|change| change.starts_with("duration"))
                .collect()
        };
        assert_eq!(
            durations("8s", "1s"),
            ["duration 8s → 4s", "duration 8s → 7.2s"]
        );
        // 4s would end the run before the crash at 5s.
        assert_eq!(durations("8s", "5s"), ["duration 8s → 7.2s"]);
        assert_eq!(
            durations("250ms", "0s"),
            ["duration 250ms → 100ms", "duration 250ms → 200ms"]
        );
        assert_eq!(durations("150ms", "0s"), ["duration 150ms → 100ms"]);
        assert!(durations("100ms", "0s").is_empty());
    }

    #[test]
    fn fewer_cells_lower_a_topology_degree_and_a_byzantine_count() {
        let text = r#"
name = "t"
seed = 1
duration = "4s"
[cells]
count = 8
[network]
topology = { kind = "random-regular", degree = 6 }
[byzantine]
count = 5
"#;
        let (document, scenario) = document_of(text);
        let valid = candidates("t.toml", &document, &scenario);
        let halved = &candidate(&valid, "cells.count 8 → 4").document.scenario;
        // Degree 3 on 4 cells; 3 of 4 cells Byzantine, one honest.
        assert_eq!(
            halved.network.topology,
            Topology::RandomRegular { degree: 3 }
        );
        assert_eq!(halved.byzantine.cells, [1, 2, 3]);
        let fewer = &candidate(&valid, "cells.count 8 → 7").document.scenario;
        // 6 × 7 is even: the degree stays.
        assert_eq!(
            fewer.network.topology,
            Topology::RandomRegular { degree: 6 }
        );
        let changes: Vec<&str> = valid.iter().map(|c| c.change.as_str()).collect();
        assert_eq!(
            changes[..3],
            [
                "[byzantine] removed (5 labelled Byzantine cells: 3..8)",
                "byzantine.count 5 → 2",
                "byzantine.count 5 → 4",
            ]
        );
    }

    #[test]
    fn the_last_region_becomes_the_network_latency() {
        let text = r#"
name = "t"
seed = 1
duration = "4s"
[cells]
count = 4
[network]
region_latency = [[{ distribution = "uniform", min = "5ms", max = "9ms" }]]
[[network.regions]]
name = "eu"
cells = "all"
"#;
        let (document, scenario) = document_of(text);
        let valid = candidates("t.toml", &document, &scenario);
        let one = &candidate(&valid, "network.regions.0 (eu) removed")
            .document
            .scenario;
        assert_eq!(
            one.network.latency,
            Latency::Uniform(super::super::Distribution::Uniform {
                min_ns: 5 * NS_PER_MS,
                max_ns: 9 * NS_PER_MS
            })
        );
    }

    #[test]
    fn rates_halve_to_whole_numbers_per_second_down_to_one() {
        let rate = |text: &str| super::super::units::parse_rate(text).unwrap();
        assert_eq!(halved_rate(rate("20/s")), Some(10));
        assert_eq!(halved_rate(rate("5/s")), Some(2));
        assert_eq!(halved_rate(rate("3/s")), Some(1));
        assert_eq!(halved_rate(rate("1.5/s")), None);
        assert_eq!(halved_rate(rate("1/s")), None);
        assert_eq!(halved_rate(rate("600/m")), Some(5));
        assert_eq!(halved_rate(rate("0/s")), None);
        assert_eq!(format_rate(rate("1200/m")), "20/s");
        assert_eq!(format_rate(rate("0.25/s")), "0.25/s");
    }

    #[test]
    fn a_document_carries_the_seed_it_is_shrunk_at() {
        let document = Document::at_seed("t.toml", RICH, 99).unwrap();
        assert_eq!(document.scenario.seed, 99);
        // The same scenario but for the lines its blocks are on (for messages).
        let without_lines = |mut scenario: Scenario| {
            for block in &mut scenario.byzantine.behaviours {
                block.line = 0;
            }
            scenario
        };
        assert_eq!(
            without_lines(document.scenario),
            without_lines(Scenario::parse("t.toml", RICH).unwrap().with_seed(99))
        );
        let error = Document::at_seed("t.toml", RICH, u64::MAX).unwrap_err();
        assert!(error.message.contains("out of range"), "{error}");
        // The file's own errors come first, where they are.
        let error = Document::at_seed("t.toml", "name = 3", 1).unwrap_err();
        assert_eq!(error.line, 1, "{error}");
    }

    #[test]
    fn groups_are_written_in_the_files_syntax() {
        assert_eq!(group_value(&[3]), toml::Value::Integer(3));
        assert_eq!(group_value(&[0, 1, 2]), toml::Value::String("0..3".into()));
        assert_eq!(
            group_value(&[0, 2, 3, 4, 9]),
            toml::Value::Array(vec![
                toml::Value::Integer(0),
                toml::Value::String("2..5".into()),
                toml::Value::Integer(9),
            ])
        );
    }

    const MARKET: &str = r#"
name = "market"
seed = 3
duration = "10s"

[cells]
count = 8
genesis_balance = 100

[consensus]
stake = "prana"

[markets]
tokens = ["data-credit"]
fundamental = [100]

[[markets.genesis]]
cells = "0..2"
prana = 5000
tokens = [50]

[[markets.genesis]]
cells = [6, 7]
tokens = [9]

[[agents]]
kind = "noise-trader"
count = 4
rate = "4/s"

[[agents]]
kind = "consumer"
cells = [5, 7]
"#;

    #[test]
    fn agents_shrink_by_block_by_agent_and_with_the_cells() {
        let found = changes(MARKET);
        let expected = [
            "agents.0 removed (4 noise-trader on 0..4)",
            "agents.1 removed (2 consumer on 5, 7)",
            "agents.0.count 4 → 2",
            "agents.0.count 4 → 3",
            "agents.1.cells 5, 7 → 5",
            "cells.count 8 → 4 (agents.1 removed; markets.genesis.1 removed)",
            "cells.count 8 → 7",
            "duration 10s → 5s",
            "duration 10s → 9s",
            "workload.tx_rate 10/s → 5/s",
            "agents.0.rate 4/s → 2/s",
        ];
        assert_eq!(found, expected);
        let (document, scenario) = document_of(MARKET);
        let valid = candidates("t.toml", &document, &scenario);
        let valid_changes: Vec<&str> = valid.iter().map(|c| c.change.as_str()).collect();
        assert_eq!(valid_changes, expected, "every reduction parses");
        let fewer = candidate(&valid, "cells.count 8 → 7")
            .document
            .scenario
            .clone();
        // The consumer keeps the cell that remains; the genesis block too.
        assert_eq!(fewer.agents[1].cells, [5]);
        assert_eq!(fewer.markets.as_ref().unwrap().genesis[1].cells, [6]);
        let before = Size::of(&scenario);
        let after = Size::of(&candidate(&valid, "agents.0.count 4 → 2").document.scenario);
        assert_eq!((before.agents, after.agents), (6, 4));
        assert_eq!(
            Size::describe_change(&before, &after),
            "cells 8 → 8, duration 10s → 10s, agents blocks 2 → 2, agents 6 → 4, TX rate 10/s → 10/s"
        );
    }
}
