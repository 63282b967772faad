//! From TOML text to a validated [`Scenario`].
//!
//! We walk toml's spanned document (`DeTable`) by hand rather than derive
//! `Deserialize`: every value keeps its byte span, so each error points at the
//! exact key or value, and each message can say what is allowed there.
//! Sections are checked in file order for unknown keys first, then field by
//! field; the first problem found is the one reported.

use std::ops::Range;

use crate::arena::StoreMode;
use celluler_core::cell::{GossipPolicy, PeerSelection, SyncMode};
use celluler_core::time::{NS_PER_MS, NS_PER_S, TimeNs};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::error::line_column;
use super::units::{self, Rate};
use super::{
    Access, AgentBlock, AgentKind, AgentParams, Behaviour, BehaviourBlock, Byzantine, CELLS_MAX,
    CLIENTS_MAX, CellIndex, Cells, CensorMode, Checks, ComputeProviderParams, Consensus,
    ConsumerParams, Direction, Distribution, EXEC_WORK_MAX, EclipseMode, Expect, FILE_BYTES_MAX,
    Fault, FrontRunnerParams, GarbageKind, LEASE_INTERVALS_MAX, LOOKBACK_WAKES_MAX, Latency,
    LeaseMarket, MARKET_BLOCKS_MAX, MARKET_TOKENS_MAX, MarketGenesis, MarketMakerParams, Markets,
    MessageMix, MomentumParams, Network, NoiseTraderParams, PRICE_MAX, QUANTITY_MAX, REGIONS_MAX,
    Regions, Scenario, ScenarioError, SpamKind, StakeRule, StorageProviderParams,
    TOKEN_NAME_BYTES_MAX, Topology, ValueParams, WithholdRelease, Workload, format_cells,
    format_duration,
};

type Value<'i> = Spanned<DeValue<'i>>;
type Result<T> = std::result::Result<T, ScenarioError>;

/// Longest scenario name; it becomes part of a directory name.
const NAME_CHARS_MAX: usize = 64;
/// Largest clock offset a clock-skew fault may apply, either way.
const CLOCK_OFFSET_NS_MAX: i64 = 3_600 * NS_PER_S as i64;
/// Largest clock drift, parts per million (10%).
const CLOCK_DRIFT_PPM_MAX: i64 = 100_000;

const DISTRIBUTIONS: &str = "constant, uniform, normal, lognormal, pareto";
const TOPOLOGIES: &str = "full-mesh, random-regular, small-world, scale-free, edges";
const FAULT_KINDS: &str = "partition, crash, link, clock-skew, pause";
const BEHAVIOURS: &str = "equivocate, withhold, eclipse, delay, timestamp-skew, censor, front-run, spam, garbage, sybil, double-spend";
const GARBAGE_KINDS: [(&str, GarbageKind); 4] = [
    ("malformed", GarbageKind::Malformed),
    ("bad-signature", GarbageKind::BadSignature),
    ("replay", GarbageKind::Replay),
    ("mutated", GarbageKind::Mutated),
];
/// Most `[[byzantine]]` blocks in one scenario; each may hold every cell.
const BEHAVIOUR_BLOCKS_MAX: usize = 256;
/// Most twin events an equivocating cell makes on one self-parent.
const BRANCHES_MAX: i64 = 8;
/// Most non-member identities one sybil block runs.
const SYBIL_IDENTITIES_MAX: i64 = 10_000;
/// Most attestations one sybil block makes into the honest trust graph.
const SYBIL_ATTACK_EDGES_MAX: i64 = 1_000;

struct Source<'t> {
    file: &'t str,
    text: &'t str,
}

impl Source<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::at_span(self.file, self.text, span, message)
    }
}

/// A table whose keys have been checked against the allowed ones.
struct Table<'a, 'i> {
    source: &'a Source<'a>,
    /// How messages name it: "[network]", "fault 2 (crash)".
    name: String,
    span: Range<usize>,
    entries: &'a DeTable<'i>,
}

impl<'a, 'i> Table<'a, 'i> {
    fn open(
        source: &'a Source<'a>,
        name: impl Into<String>,
        value: &'a Value<'i>,
        allowed: &[&str],
    ) -> Result<Table<'a, 'i>> {
        let name = name.into();
        let DeValue::Table(entries) = value.get_ref() else {
            return Err(source.error(
                value.span(),
                format!("{name} must be a table, got {}", describe(value)),
            ));
        };
        Table::from_entries(source, name, value.span(), entries, allowed)
    }

    fn from_entries(
        source: &'a Source<'a>,
        name: String,
        span: Range<usize>,
        entries: &'a DeTable<'i>,
        allowed: &[&str],
    ) -> Result<Table<'a, 'i>> {
        let mut keys: Vec<&Spanned<std::borrow::Cow<'i, str>>> = entries.keys().collect();
        keys.sort_by_key(|key| key.span().start);
        if let Some(unknown) = keys
            .iter()
            .find(|key| !allowed.contains(&key.get_ref().as_ref()))
        {
            return Err(source.error(
                unknown.span(),
                format!(
                    "unknown key `{}` in {name}; allowed keys: {}",
                    unknown.get_ref(),
                    allowed.join(", ")
                ),
            ));
        }
        Ok(Table {
            source,
            name,
            span,
            entries,
        })
    }

    fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.entries
            .iter()
            .find(|(name, _)| name.get_ref().as_ref() == key)
            .map(|(_, value)| value)
    }

    fn required(&self, key: &str, example: &str) -> Result<&'a Value<'i>> {
        self.get(key).ok_or_else(|| {
            self.source.error(
                self.span.clone(),
                format!(
                    "missing key `{key}` in {}, for example: {example}",
                    self.name
                ),
            )
        })
    }

    fn integer(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>> {
        self.get(key)
            .map(|value| integer(self.source, key, value, min, max))
            .transpose()
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|value| match value.get_ref() {
                DeValue::Boolean(flag) => Ok(*flag),
                _ => Err(self.source.error(
                    value.span(),
                    format!("{key} must be true or false, got {}", describe(value)),
                )),
            })
            .transpose()
    }

    fn probability(&self, key: &str) -> Result<Option<f64>> {
        self.get(key)
            .map(|value| probability(self.source, key, value))
            .transpose()
    }

    fn string(&self, key: &str) -> Result<Option<&'a str>> {
        self.get(key)
            .map(|value| string(self.source, key, value))
            .transpose()
    }
}

/// What a value is, for "got …" in messages: `integer 100`, `string "x"`.
fn describe(value: &Value<'_>) -> String {
    match value.get_ref() {
        DeValue::String(text) => {
            let shown: String = text.chars().take(40).collect();
            format!("string \"{shown}\"")
        }
        DeValue::Integer(integer) => format!("integer {integer}"),
        DeValue::Float(float) => format!("float {float}"),
        DeValue::Boolean(flag) => format!("boolean {flag}"),
        DeValue::Datetime(datetime) => format!("datetime {datetime}"),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}

/// The string under `tag_key` that says which variant a tagged table is
/// (`distribution = "lognormal"`, `kind = "crash"`), or a located error
/// naming the choices when it is missing.
fn tag<'a, 'i>(
    source: &Source<'_>,
    table: &Value<'_>,
    entries: &'a DeTable<'i>,
    owner: &str,
    tag_key: &str,
    choices: &str,
) -> Result<(&'a str, &'a Value<'i>)> {
    let tag_value = entries
        .iter()
        .find(|(name, _)| name.get_ref().as_ref() == tag_key)
        .map(|(_, value)| value)
        .ok_or_else(|| {
            source.error(
                table.span(),
                format!("{owner} needs `{tag_key}`, one of: {choices}"),
            )
        })?;
    Ok((string(source, tag_key, tag_value)?, tag_value))
}

fn string<'a>(source: &Source<'_>, key: &str, value: &'a Value<'_>) -> Result<&'a str> {
    match value.get_ref() {
        DeValue::String(text) => Ok(text.as_ref()),
        _ => Err(source.error(
            value.span(),
            format!("{key} must be a string, got {}", describe(value)),
        )),
    }
}

fn integer(source: &Source<'_>, key: &str, value: &Value<'_>, min: i64, max: i64) -> Result<i64> {
    let allowed = if max == i64::MAX {
        format!("an integer of at least {min}")
    } else {
        format!("an integer from {min} to {max}")
    };
    let DeValue::Integer(integer) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!("{key} must be {allowed}, got {}", describe(value)),
        ));
    };
    match i64::from_str_radix(integer.as_str(), integer.radix()) {
        Ok(number) if (min..=max).contains(&number) => Ok(number),
        _ => Err(source.error(
            value.span(),
            format!("{key} must be {allowed}, got {integer}"),
        )),
    }
}

/// An integer or a float, finite.
fn number(source: &Source<'_>, key: &str, value: &Value<'_>) -> Result<f64> {
    let parsed = match value.get_ref() {
        DeValue::Float(float) => float.as_str().parse::<f64>().ok(),
        DeValue::Integer(integer) => i64::from_str_radix(integer.as_str(), integer.radix())
            .ok()
            .map(|n| n as f64),
        _ => {
            return Err(source.error(
                value.span(),
                format!("{key} must be a number, got {}", describe(value)),
            ));
        }
    };
    match parsed {
        Some(number) if number.is_finite() => Ok(number),
        _ => Err(source.error(
            value.span(),
            format!("{key} must be a finite number, got {}", describe(value)),
        )),
    }
}

fn number_in(source: &Source<'_>, key: &str, value: &Value<'_>, min: f64, max: f64) -> Result<f64> {
    if !matches!(value.get_ref(), DeValue::Integer(_) | DeValue::Float(_)) {
        return Err(source.error(
            value.span(),
            format!(
                "{key} must be a number between {min} and {max}, got {}",
                describe(value)
            ),
        ));
    }
    let number = number(source, key, value)?;
    if !(min..=max).contains(&number) {
        return Err(source.error(
            value.span(),
            format!("{key} must be between {min} and {max}, got {number}"),
        ));
    }
    Ok(number)
}

fn probability(source: &Source<'_>, key: &str, value: &Value<'_>) -> Result<f64> {
    number_in(source, key, value, 0.0, 1.0)
}

fn duration(source: &Source<'_>, key: &str, value: &Value<'_>) -> Result<TimeNs> {
    let DeValue::String(text) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!(
                "{key} must be a duration string such as \"100ms\" or \"1.5s\" (units ns, us, ms, s, m), got {}",
                describe(value)
            ),
        ));
    };
    units::parse_duration(text)
        .map_err(|message| source.error(value.span(), format!("{key}: {message}")))
}

fn positive_duration(source: &Source<'_>, key: &str, value: &Value<'_>) -> Result<TimeNs> {
    let ns = duration(source, key, value)?;
    if ns == 0 {
        return Err(source.error(value.span(), format!("{key} must be longer than 0")));
    }
    Ok(ns)
}

fn rate(source: &Source<'_>, key: &str, value: &Value<'_>) -> Result<Rate> {
    let DeValue::String(text) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!(
                "{key} must be a rate string such as \"20/s\", got {}",
                describe(value)
            ),
        ));
    };
    units::parse_rate(text)
        .map_err(|message| source.error(value.span(), format!("{key}: {message}")))
}

/// A set of cells: `"0..8"`, `"all"`, `3`, `"3"`, or an array of those.
/// Sorted, without duplicates, every index below `cell_count`, never empty.
fn cell_group(
    source: &Source<'_>,
    key: &str,
    value: &Value<'_>,
    cell_count: u32,
) -> Result<Vec<CellIndex>> {
    index_group(source, key, value, cell_count, "cell")
}

/// A set of indices in the cell-group syntax, each below `count`; `noun`
/// names one index in messages ("cell", "client").
fn index_group(
    source: &Source<'_>,
    key: &str,
    value: &Value<'_>,
    cell_count: u32,
    noun: &str,
) -> Result<Vec<CellIndex>> {
    let mut cells = Vec::new();
    match value.get_ref() {
        DeValue::Array(items) => {
            if items.is_empty() {
                return Err(source.error(value.span(), format!("{key} names no {noun}")));
            }
            // (cell, entry it came from), to point at the entry repeating a cell.
            let mut sources: Vec<(CellIndex, usize)> = Vec::new();
            for (item_index, item) in items.iter().enumerate() {
                if matches!(item.get_ref(), DeValue::Array(_) | DeValue::Table(_)) {
                    return Err(source.error(
                        item.span(),
                        format!(
                            "{key}: each entry must be a {noun} index or a range like \"0..8\", got {}",
                            describe(item)
                        ),
                    ));
                }
                let before = cells.len();
                cell_group_item(source, key, item, cell_count, noun, &mut cells)?;
                sources.extend(cells[before..].iter().map(|&cell| (cell, item_index)));
            }
            sources.sort_unstable();
            let repeated = sources
                .windows(2)
                .filter(|pair| pair[0].0 == pair[1].0)
                .map(|pair| pair[1])
                .min_by_key(|&(cell, item_index)| (item_index, cell));
            if let Some((cell, item_index)) = repeated {
                return Err(source.error(
                    items[item_index].span(),
                    format!("{key} lists {noun} {cell} twice"),
                ));
            }
        }
        _ => cell_group_item(source, key, value, cell_count, noun, &mut cells)?,
    }
    cells.sort_unstable();
    Ok(cells)
}

fn cell_group_item(
    source: &Source<'_>,
    key: &str,
    value: &Value<'_>,
    cell_count: u32,
    noun: &str,
    cells: &mut Vec<CellIndex>,
) -> Result<()> {
    let allowed = format!(
        "a {noun} index, a range like \"0..8\" (8 excluded), \"all\", or an array of those"
    );
    let missing = |cell: u64| {
        source.error(
            value.span(),
            format!(
                "{key} names {noun} {cell}, which does not exist; {noun}s are 0..{cell_count} ({cell_count} excluded)"
            ),
        )
    };
    match value.get_ref() {
        DeValue::Integer(_) => {
            let cell = integer(source, key, value, 0, i64::MAX)? as u64;
            if cell >= u64::from(cell_count) {
                return Err(missing(cell));
            }
            cells.push(cell as CellIndex);
        }
        DeValue::String(text) => {
            let text = text.trim();
            if text == "all" {
                cells.extend(0..cell_count);
                return Ok(());
            }
            let bad = || {
                source.error(
                    value.span(),
                    format!("{key} must be {allowed}, got \"{text}\""),
                )
            };
            let parse_index = |part: &str| -> Result<u64> {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()) {
                    return Err(bad());
                }
                part.parse::<u64>().map_err(|_| bad())
            };
            match text.split_once("..") {
                Some((start, end)) => {
                    let (start, end) = (parse_index(start)?, parse_index(end)?);
                    if start >= end {
                        return Err(source.error(
                            value.span(),
                            format!("{key}: range \"{text}\" is empty; write start..end with start < end"),
                        ));
                    }
                    if end > u64::from(cell_count) {
                        return Err(missing(end - 1));
                    }
                    cells.extend(start as CellIndex..end as CellIndex);
                }
                None => {
                    let cell = parse_index(text)?;
                    if cell >= u64::from(cell_count) {
                        return Err(missing(cell));
                    }
                    cells.push(cell as CellIndex);
                }
            }
        }
        _ => {
            return Err(source.error(
                value.span(),
                format!("{key} must be {allowed}, got {}", describe(value)),
            ));
        }
    }
    Ok(())
}

/// Groups that must be disjoint and together hold every cell (partitions,
/// regions). `what` names one group in messages: "group", "region".
fn check_disjoint_cover(
    source: &Source<'_>,
    key: &str,
    what: &str,
    whole: &Value<'_>,
    groups: &[(Vec<CellIndex>, Range<usize>)],
    cell_count: u32,
) -> Result<Vec<u32>> {
    const UNASSIGNED: u32 = u32::MAX;
    let mut group_of_cell = vec![UNASSIGNED; cell_count as usize];
    for (group_index, (cells, span)) in groups.iter().enumerate() {
        for &cell in cells {
            let owner = group_of_cell[cell as usize];
            if owner != UNASSIGNED {
                return Err(source.error(
                    span.clone(),
                    format!(
                        "{key}: cell {cell} is in both {what} {} and {what} {}; {what}s must not overlap",
                        owner + 1,
                        group_index + 1
                    ),
                ));
            }
            group_of_cell[cell as usize] = group_index as u32;
        }
    }
    let unassigned: Vec<CellIndex> = (0..cell_count)
        .filter(|&cell| group_of_cell[cell as usize] == UNASSIGNED)
        .collect();
    if !unassigned.is_empty() {
        return Err(source.error(
            whole.span(),
            format!(
                "{key}: cells {} are in no {what}; the {what}s must together hold all {cell_count} cells (put the rest in a {what} of their own)",
                format_cells(&unassigned)
            ),
        ));
    }
    Ok(group_of_cell)
}

pub(super) fn parse(file: &str, text: &str) -> Result<Scenario> {
    if text.len() > FILE_BYTES_MAX {
        return Err(ScenarioError::whole_file(
            file,
            format!(
                "file is {} bytes; scenario files are at most {FILE_BYTES_MAX}",
                text.len()
            ),
        ));
    }
    let source = Source { file, text };
    let document = DeTable::parse(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        source.error(span, format!("invalid TOML: {}", error.message().trim()))
    })?;
    let root = Table::from_entries(
        &source,
        "the top level".to_string(),
        0..0,
        document.get_ref(),
        &[
            "name",
            "seed",
            "duration",
            "cells",
            "consensus",
            "network",
            "workload",
            "faults",
            "byzantine",
            "checks",
            "expect",
            "access",
            "markets",
            "agents",
        ],
    )?;

    let name_value = root.required("name", "name = \"quickstart\"")?;
    let name = string(&source, "name", name_value)?;
    let name_ok = !name.is_empty()
        && name.chars().count() <= NAME_CHARS_MAX
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !name_ok {
        return Err(source.error(
            name_value.span(),
            format!(
                "name must be 1 to {NAME_CHARS_MAX} letters, digits, '-', '_' or '.' (not starting with '.'), since it names the run's directory; got \"{name}\""
            ),
        ));
    }
    let seed_value = root.required("seed", "seed = 7")?;
    let seed = integer(&source, "seed", seed_value, 0, i64::MAX)? as u64;
    let duration_value = root.required("duration", "duration = \"30s\"")?;
    let duration_ns = positive_duration(&source, "duration", duration_value)?;

    let cells_value = root.required("cells", "[cells] count = 16")?;
    let cells = parse_cells(&source, cells_value)?;
    let consensus = match root.get("consensus") {
        Some(value) => parse_consensus(&source, value)?,
        None => default_consensus(),
    };
    let network = match root.get("network") {
        Some(value) => parse_network(&source, value, cells.count)?,
        None => default_network(),
    };
    // The workload first: a censor block is checked against its clients.
    let workload = match root.get("workload") {
        Some(value) => parse_workload(&source, value, cells.count)?,
        None => default_workload(),
    };
    let byzantine = match root.get("byzantine") {
        Some(value) => parse_byzantine(&source, value, cells.count, duration_ns, &workload)?,
        None => Byzantine::default(),
    };
    let faults = match root.get("faults") {
        Some(value) => parse_faults(&source, value, cells.count, duration_ns)?,
        None => Vec::new(),
    };
    let checks = match root.get("checks") {
        Some(value) => parse_checks(&source, value)?,
        None => default_checks(),
    };
    let expect = match root.get("expect") {
        Some(value) => parse_expect(&source, value)?,
        None => Expect::default(),
    };
    let access = match root.get("access") {
        Some(value) => parse_access(&source, value)?,
        None => Access::default(),
    };
    let markets = match root.get("markets") {
        Some(value) => Some(parse_markets(&source, value, &cells)?),
        None => None,
    };
    let agents = match root.get("agents") {
        Some(value) => parse_agents(&source, value, cells.count, markets.as_ref())?,
        None => Vec::new(),
    };
    check_stake(&source, &root, &cells, &consensus, markets.as_ref())?;
    Ok(Scenario {
        name: name.to_string(),
        seed,
        duration_ns,
        cells,
        consensus,
        network,
        workload,
        faults,
        byzantine,
        checks,
        expect,
        access,
        markets,
        agents,
    })
}

fn parse_cells(source: &Source<'_>, value: &Value<'_>) -> Result<Cells> {
    let table = Table::open(
        source,
        "[cells]",
        value,
        &["count", "stake", "genesis_balance"],
    )?;
    let count_value = table.required("count", "count = 16")?;
    let count = integer(source, "count", count_value, 1, i64::from(CELLS_MAX)).map_err(|error| {
        if matches!(count_value.get_ref(), DeValue::Integer(i) if i.as_str() == "0") {
            source.error(
                count_value.span(),
                format!(
                    "count must be at least 1 (a scenario needs cells), got 0; at most {CELLS_MAX}"
                ),
            )
        } else {
            error
        }
    })? as u32;
    let stake = table.integer("stake", 1, i64::MAX)?.unwrap_or(1) as u64;
    let genesis_balance = table
        .integer("genesis_balance", 0, i64::MAX)?
        .unwrap_or(1_000_000) as u64;
    Ok(Cells {
        count,
        stake,
        genesis_balance,
    })
}

/// Defaults of `[consensus]`: the protocol as it ran before its knobs
/// (`GossipPolicy::DEFAULT`, the workload's fee as the least fee).
fn default_consensus() -> Consensus {
    let gossip = GossipPolicy::DEFAULT;
    Consensus {
        gossip_interval_ns: 100 * NS_PER_MS,
        coin_round_frequency: 10,
        sync: gossip.sync,
        peer_selection: gossip.peer_selection,
        max_events_per_sync: gossip.events_per_sync_max,
        max_transactions_per_event: gossip.transactions_per_event_max,
        max_event_bytes: gossip.transaction_bytes_per_event_max,
        min_fee: crate::workload::TRANSFER_FEE,
        store: StoreMode::Shared,
        stake: StakeRule::Equal,
    }
}

fn parse_consensus(source: &Source<'_>, value: &Value<'_>) -> Result<Consensus> {
    let table = Table::open(
        source,
        "[consensus]",
        value,
        &[
            "gossip_interval",
            "coin_round_frequency",
            "sync",
            "peer_selection",
            "max_events_per_sync",
            "max_transactions_per_event",
            "max_event_bytes",
            "min_fee",
            "store",
            "stake",
        ],
    )?;
    let defaults = default_consensus();
    // One of `choices` by the name a file spells it, or an error naming them.
    fn named<T: Copy>(
        source: &Source<'_>,
        table: &Table<'_, '_>,
        key: &str,
        choices: &[T],
        name: fn(T) -> &'static str,
    ) -> Result<Option<T>> {
        let Some(value) = table.get(key) else {
            return Ok(None);
        };
        let text = string(source, key, value)?;
        if let Some(&choice) = choices.iter().find(|&&choice| name(choice) == text) {
            return Ok(Some(choice));
        }
        let quoted: Vec<String> = choices
            .iter()
            .map(|&choice| format!("\"{}\"", name(choice)))
            .collect();
        let (last, rest) = quoted.split_last().expect("at least one choice");
        Err(source.error(
            value.span(),
            format!(
                "{key} must be {} or {last}, got \"{text}\"",
                rest.join(", ")
            ),
        ))
    }
    let sync =
        named(source, &table, "sync", &SyncMode::ALL, SyncMode::name)?.unwrap_or(defaults.sync);
    let peer_selection = named(
        source,
        &table,
        "peer_selection",
        &PeerSelection::ALL,
        PeerSelection::name,
    )?
    .unwrap_or(defaults.peer_selection);
    let stake =
        named(source, &table, "stake", &StakeRule::ALL, StakeRule::name)?.unwrap_or(defaults.stake);
    let store = match table.get("store") {
        None => defaults.store,
        Some(value) => match string(source, "store", value)? {
            "shared" => StoreMode::Shared,
            "independent" => StoreMode::Independent,
            other => {
                return Err(source.error(
                    value.span(),
                    format!("store must be \"shared\" or \"independent\", got \"{other}\""),
                ));
            }
        },
    };
    let gossip_interval_ns = match table.get("gossip_interval") {
        Some(value) => positive_duration(source, "gossip_interval", value)?,
        None => defaults.gossip_interval_ns,
    };
    // Baird 2016, "c is a constant greater than 2": rounds where r - r_w is a
    // multiple of c are coin rounds.
    Ok(Consensus {
        gossip_interval_ns,
        coin_round_frequency: table
            .integer("coin_round_frequency", 3, 1_000_000)?
            .map_or(defaults.coin_round_frequency, |c| c as u32),
        sync,
        peer_selection,
        max_events_per_sync: table
            .integer("max_events_per_sync", 1, i64::from(u32::MAX))?
            .map(|n| n as u32)
            .or(defaults.max_events_per_sync),
        // Capped where an event would no longer decode at its receivers.
        max_transactions_per_event: table
            .integer(
                "max_transactions_per_event",
                1,
                i64::from(GossipPolicy::TRANSACTIONS_PER_EVENT_CEILING),
            )?
            .map_or(defaults.max_transactions_per_event, |n| n as u32),
        max_event_bytes: table
            .integer(
                "max_event_bytes",
                256,
                i64::from(GossipPolicy::TRANSACTION_BYTES_PER_EVENT_CEILING),
            )?
            .map_or(defaults.max_event_bytes, |n| n as u32),
        min_fee: table
            .integer("min_fee", 0, i64::MAX)?
            .map_or(defaults.min_fee, |n| n as u64),
        store,
        stake,
    })
}

fn default_latency() -> Distribution {
    Distribution::Constant {
        value_ns: 50 * NS_PER_MS,
    }
}

fn default_network() -> Network {
    Network {
        latency: Latency::Uniform(default_latency()),
        loss: 0.0,
        duplicate: 0.0,
        bandwidth_bits_per_second: None,
        queue_limit_bytes: None,
        topology: Topology::FullMesh,
    }
}

/// A latency: a duration string (constant) or a distribution table.
fn parse_distribution(source: &Source<'_>, key: &str, value: &Value<'_>) -> Result<Distribution> {
    if let DeValue::String(_) = value.get_ref() {
        return Ok(Distribution::Constant {
            value_ns: duration(source, key, value)?,
        });
    }
    let DeValue::Table(entries) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!(
                "{key} must be a duration like \"50ms\" or a table like {{ distribution = \"lognormal\", median = \"50ms\", sigma = 0.4 }}, got {}",
                describe(value)
            ),
        ));
    };
    let (kind, kind_value) = tag(source, value, entries, key, "distribution", DISTRIBUTIONS)?;
    let allowed: &[&str] = match kind {
        "constant" => &["distribution", "value"],
        "uniform" => &["distribution", "min", "max"],
        "normal" => &["distribution", "mean", "stddev"],
        "lognormal" => &["distribution", "median", "sigma"],
        "pareto" => &["distribution", "scale", "shape"],
        _ => {
            return Err(source.error(
                kind_value.span(),
                format!("unknown distribution \"{kind}\"; allowed: {DISTRIBUTIONS}"),
            ));
        }
    };
    let table = Table::from_entries(
        source,
        format!("the {kind} distribution of {key}"),
        value.span(),
        entries,
        allowed,
    )?;
    let required_duration = |field: &str, example: &str| -> Result<TimeNs> {
        duration(source, field, table.required(field, example)?)
    };
    Ok(match kind {
        "constant" => Distribution::Constant {
            value_ns: required_duration("value", "value = \"50ms\"")?,
        },
        "uniform" => {
            let min_ns = required_duration("min", "min = \"20ms\"")?;
            let max_value = table.required("max", "max = \"80ms\"")?;
            let max_ns = duration(source, "max", max_value)?;
            if max_ns < min_ns {
                return Err(source.error(
                    max_value.span(),
                    format!(
                        "max ({}) must not be less than min ({})",
                        format_duration(max_ns),
                        format_duration(min_ns)
                    ),
                ));
            }
            Distribution::Uniform { min_ns, max_ns }
        }
        "normal" => Distribution::Normal {
            mean_ns: required_duration("mean", "mean = \"50ms\"")?,
            stddev_ns: required_duration("stddev", "stddev = \"10ms\"")?,
        },
        "lognormal" => Distribution::LogNormal {
            median_ns: required_duration("median", "median = \"50ms\"")?,
            sigma: number_in(
                source,
                "sigma",
                table.required("sigma", "sigma = 0.4")?,
                0.0,
                10.0,
            )?,
        },
        _ => {
            let scale_value = table.required("scale", "scale = \"20ms\"")?;
            let scale_ns = positive_duration(source, "scale", scale_value)?;
            let shape_value = table.required("shape", "shape = 2.5")?;
            let shape = number_in(source, "shape", shape_value, 0.0, 1_000.0)?;
            if shape <= 0.0 {
                return Err(source.error(
                    shape_value.span(),
                    format!("shape must be more than 0, got {shape}"),
                ));
            }
            Distribution::Pareto { scale_ns, shape }
        }
    })
}

fn parse_network(source: &Source<'_>, value: &Value<'_>, cell_count: u32) -> Result<Network> {
    let table = Table::open(
        source,
        "[network]",
        value,
        &[
            "latency",
            "loss",
            "duplicate",
            "bandwidth",
            "queue_limit",
            "topology",
            "regions",
            "region_latency",
        ],
    )?;
    let latency = match (table.get("regions"), table.get("region_latency")) {
        (None, None) => Latency::Uniform(match table.get("latency") {
            Some(value) => parse_distribution(source, "latency", value)?,
            None => default_latency(),
        }),
        (Some(regions), Some(matrix)) => {
            if let Some(latency) = table.get("latency") {
                return Err(source.error(
                    latency.span(),
                    "latency cannot be combined with regions: with regions, each pair of cells draws its latency from region_latency",
                ));
            }
            Latency::Regions(parse_regions(source, regions, matrix, cell_count)?)
        }
        (Some(regions), None) => {
            return Err(source.error(
                regions.span(),
                "regions need a region_latency matrix: one row per region, one latency per column",
            ));
        }
        (None, Some(matrix)) => {
            return Err(source.error(
                matrix.span(),
                "region_latency needs regions: [[network.regions]] entries with name and cells",
            ));
        }
    };
    let bandwidth_bits_per_second = match table.get("bandwidth") {
        Some(value) => {
            let text = string(source, "bandwidth", value)?;
            Some(
                units::parse_bandwidth(text)
                    .map_err(|message| source.error(value.span(), message))?,
            )
        }
        None => None,
    };
    Ok(Network {
        latency,
        loss: table.probability("loss")?.unwrap_or(0.0),
        duplicate: table.probability("duplicate")?.unwrap_or(0.0),
        bandwidth_bits_per_second,
        queue_limit_bytes: match table.get("queue_limit") {
            None => None,
            Some(value) if bandwidth_bits_per_second.is_none() => {
                return Err(source.error(
                    value.span(),
                    "queue_limit needs a bandwidth: without one nothing waits on a link"
                        .to_string(),
                ));
            }
            Some(value) => Some(match value.get_ref() {
                DeValue::Integer(_) => integer(source, "queue_limit", value, 1, i64::MAX)? as u64,
                _ => {
                    units::parse_size(string(source, "queue_limit", value)?).map_err(|message| {
                        source.error(value.span(), format!("queue_limit: {message}"))
                    })?
                }
            }),
        },
        topology: match table.get("topology") {
            Some(value) => parse_topology(source, value, cell_count)?,
            None => Topology::FullMesh,
        },
    })
}

fn parse_regions(
    source: &Source<'_>,
    regions_value: &Value<'_>,
    matrix_value: &Value<'_>,
    cell_count: u32,
) -> Result<Regions> {
    let DeValue::Array(entries) = regions_value.get_ref() else {
        return Err(source.error(
            regions_value.span(),
            format!(
                "regions must be an array of tables ([[network.regions]] with name and cells), got {}",
                describe(regions_value)
            ),
        ));
    };
    if entries.is_empty() || entries.len() > REGIONS_MAX {
        return Err(source.error(
            regions_value.span(),
            format!(
                "regions must hold 1 to {REGIONS_MAX} regions, got {}",
                entries.len()
            ),
        ));
    }
    let mut names: Vec<String> = Vec::new();
    let mut groups = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let region = Table::open(
            source,
            format!("region {}", index + 1),
            entry,
            &["name", "cells"],
        )?;
        let name_value = region.required("name", "name = \"eu\"")?;
        let name = string(source, "name", name_value)?;
        if name.is_empty() || names.iter().any(|known| known == name) {
            return Err(source.error(
                name_value.span(),
                format!("region name \"{name}\" must be non-empty and unique"),
            ));
        }
        names.push(name.to_string());
        let cells_value = region.required("cells", "cells = \"0..30\"")?;
        groups.push((
            cell_group(source, "cells", cells_value, cell_count)?,
            cells_value.span(),
        ));
    }
    let region_of_cell = check_disjoint_cover(
        source,
        "regions",
        "region",
        regions_value,
        &groups,
        cell_count,
    )?;

    let region_count = names.len();
    let shape_error = || {
        source.error(
            matrix_value.span(),
            format!(
                "region_latency must be a {region_count}×{region_count} array of arrays (one row per region, in the order of [[network.regions]]), each entry a duration or a distribution table"
            ),
        )
    };
    let DeValue::Array(rows) = matrix_value.get_ref() else {
        return Err(shape_error());
    };
    if rows.len() != region_count {
        return Err(shape_error());
    }
    let mut matrix = Vec::with_capacity(region_count);
    for row_value in rows.iter() {
        let DeValue::Array(row) = row_value.get_ref() else {
            return Err(shape_error());
        };
        if row.len() != region_count {
            return Err(source.error(
                row_value.span(),
                format!(
                    "each region_latency row must have {region_count} entries (one per region), got {}",
                    row.len()
                ),
            ));
        }
        let distributions = row
            .iter()
            .map(|entry| parse_distribution(source, "region_latency", entry))
            .collect::<Result<Vec<_>>>()?;
        matrix.push(distributions);
    }
    Ok(Regions {
        names,
        region_of_cell,
        matrix,
    })
}

fn parse_topology(source: &Source<'_>, value: &Value<'_>, cell_count: u32) -> Result<Topology> {
    if let DeValue::String(kind) = value.get_ref() {
        return match kind.as_ref() {
            "full-mesh" => Ok(Topology::FullMesh),
            "random-regular" | "small-world" | "scale-free" | "edges" => Err(source.error(
                value.span(),
                format!(
                    "topology \"{kind}\" needs parameters, e.g. topology = {}",
                    topology_example(kind)
                ),
            )),
            _ => Err(source.error(
                value.span(),
                format!("unknown topology \"{kind}\"; allowed: {TOPOLOGIES}"),
            )),
        };
    }
    let DeValue::Table(entries) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!(
                "topology must be \"full-mesh\" or a table like {{ kind = \"random-regular\", degree = 8 }}, got {}",
                describe(value)
            ),
        ));
    };
    let (kind, kind_value) = tag(source, value, entries, "topology", "kind", TOPOLOGIES)?;
    let allowed: &[&str] = match kind {
        "full-mesh" => &["kind"],
        "random-regular" => &["kind", "degree"],
        "small-world" => &["kind", "neighbors", "rewire"],
        "scale-free" => &["kind", "edges"],
        "edges" => &["kind", "edges"],
        _ => {
            return Err(source.error(
                kind_value.span(),
                format!("unknown topology \"{kind}\"; allowed: {TOPOLOGIES}"),
            ));
        }
    };
    let table = Table::from_entries(
        source,
        format!("the {kind} topology"),
        value.span(),
        entries,
        allowed,
    )?;
    let below_cells = i64::from(cell_count) - 1;
    let too_few_cells = || {
        source.error(
            value.span(),
            format!("a {kind} topology needs at least 3 cells, and there are {cell_count}"),
        )
    };
    Ok(match kind {
        "full-mesh" => Topology::FullMesh,
        "random-regular" => {
            if cell_count < 3 {
                return Err(too_few_cells());
            }
            let degree_value = table.required("degree", "degree = 8")?;
            let degree = integer(source, "degree", degree_value, 1, below_cells)?;
            if (degree * i64::from(cell_count)) % 2 != 0 {
                return Err(source.error(
                    degree_value.span(),
                    format!(
                        "degree × cells must be even for a regular graph, got {degree} × {cell_count}"
                    ),
                ));
            }
            Topology::RandomRegular {
                degree: degree as u32,
            }
        }
        "small-world" => {
            if cell_count < 3 {
                return Err(too_few_cells());
            }
            let neighbors_value = table.required("neighbors", "neighbors = 4")?;
            let neighbors = integer(source, "neighbors", neighbors_value, 2, below_cells)?;
            if neighbors % 2 != 0 {
                return Err(source.error(
                    neighbors_value.span(),
                    format!(
                        "neighbors must be even (half on each side of the ring), got {neighbors}"
                    ),
                ));
            }
            Topology::SmallWorld {
                neighbors: neighbors as u32,
                rewire: table.probability("rewire")?.unwrap_or(0.1),
            }
        }
        "scale-free" => {
            if cell_count < 3 {
                return Err(too_few_cells());
            }
            let edges_value = table.required("edges", "edges = 3")?;
            Topology::ScaleFree {
                edges: integer(source, "edges", edges_value, 1, below_cells)? as u32,
            }
        }
        _ => Topology::Edges(parse_edge_list(
            source,
            table.required("edges", "edges = [[0, 1], [1, 2]]")?,
            cell_count,
        )?),
    })
}

fn topology_example(kind: &str) -> &'static str {
    match kind {
        "random-regular" => "{ kind = \"random-regular\", degree = 8 }",
        "small-world" => "{ kind = \"small-world\", neighbors = 4, rewire = 0.1 }",
        "scale-free" => "{ kind = \"scale-free\", edges = 3 }",
        _ => "{ kind = \"edges\", edges = [[0, 1], [1, 2]] }",
    }
}

fn parse_edge_list(
    source: &Source<'_>,
    value: &Value<'_>,
    cell_count: u32,
) -> Result<Vec<(CellIndex, CellIndex)>> {
    let shape = "edges must be an array of [from, to] cell pairs, like [[0, 1], [1, 2]]";
    let DeValue::Array(pairs) = value.get_ref() else {
        return Err(source.error(value.span(), shape));
    };
    let mut edges = std::collections::BTreeSet::new();
    for pair_value in pairs.iter() {
        let DeValue::Array(pair) = pair_value.get_ref() else {
            return Err(source.error(pair_value.span(), shape));
        };
        if pair.len() != 2 {
            return Err(source.error(pair_value.span(), shape));
        }
        let mut ends = [0 as CellIndex; 2];
        for (end, end_value) in ends.iter_mut().zip(pair.iter()) {
            let cell = integer(source, "edge end", end_value, 0, i64::MAX)?;
            if cell >= i64::from(cell_count) {
                return Err(source.error(
                    end_value.span(),
                    format!(
                        "edge names cell {cell}, which does not exist; cells are 0..{cell_count} ({cell_count} excluded)"
                    ),
                ));
            }
            *end = cell as CellIndex;
        }
        if ends[0] == ends[1] {
            return Err(source.error(
                pair_value.span(),
                format!("edge links cell {} to itself", ends[0]),
            ));
        }
        let edge = (ends[0].min(ends[1]), ends[0].max(ends[1]));
        if !edges.insert(edge) {
            return Err(source.error(
                pair_value.span(),
                format!("edge {}–{} is listed twice", edge.0, edge.1),
            ));
        }
    }
    if edges.is_empty() {
        return Err(source.error(value.span(), "edges lists no edge"));
    }
    Ok(edges.into_iter().collect())
}

/// The table form `[byzantine]`: labelled cells running honest code.
fn parse_byzantine_set(
    source: &Source<'_>,
    value: &Value<'_>,
    cell_count: u32,
) -> Result<Byzantine> {
    let table = Table::open(source, "[byzantine]", value, &["count", "cells"])?;
    let cells = match (table.get("count"), table.get("cells")) {
        (Some(_), Some(cells_value)) => {
            return Err(source.error(
                cells_value.span(),
                "[byzantine] takes count or cells, not both",
            ));
        }
        (None, None) => {
            return Err(source.error(
                value.span(),
                "[byzantine] needs count = N (the last N cells) or cells = \"0..3\"",
            ));
        }
        (Some(count_value), None) => {
            let count = integer(source, "count", count_value, 0, i64::MAX)?;
            if count > i64::from(cell_count) {
                return Err(source.error(
                    count_value.span(),
                    format!(
                        "more Byzantine cells ({count}) than cells ({cell_count}); count must be at most {}",
                        cell_count - 1
                    ),
                ));
            }
            let count = count as u32;
            (cell_count - count..cell_count).collect()
        }
        (None, Some(cells_value)) => cell_group(source, "cells", cells_value, cell_count)?,
    };
    if cells.len() == cell_count as usize {
        let span = table
            .get("count")
            .or(table.get("cells"))
            .map_or(value.span(), |v| v.span());
        return Err(source.error(
            span,
            format!(
                "all {cell_count} cells would be Byzantine; at least one cell must be honest (at most {})",
                cell_count - 1
            ),
        ));
    }
    Ok(Byzantine {
        cells,
        behaviours: Vec::new(),
    })
}

/// `[byzantine]` (a table: labelled cells) or `[[byzantine]]` (an array of
/// behaviour blocks). TOML itself rejects a file that writes both.
fn parse_byzantine(
    source: &Source<'_>,
    value: &Value<'_>,
    cell_count: u32,
    duration_ns: TimeNs,
    workload: &Workload,
) -> Result<Byzantine> {
    match value.get_ref() {
        DeValue::Table(_) => parse_byzantine_set(source, value, cell_count),
        DeValue::Array(entries) => {
            if entries.len() > BEHAVIOUR_BLOCKS_MAX {
                return Err(source.error(
                    value.span(),
                    format!(
                        "{} [[byzantine]] blocks; a scenario has at most {BEHAVIOUR_BLOCKS_MAX}",
                        entries.len()
                    ),
                ));
            }
            let context = BlockContext {
                source,
                cell_count,
                duration_ns,
                workload,
            };
            let mut is_byzantine = vec![false; cell_count as usize];
            let mut byzantine_count: u32 = 0;
            let mut behaviours = Vec::with_capacity(entries.len());
            // (block number, span) of the first double-spend, which needs two honest cells.
            let mut double_spend: Option<(usize, Range<usize>)> = None;
            for (index, entry) in entries.iter().enumerate() {
                let number = index + 1;
                let (block, cells_span) = parse_behaviour_block(&context, number, entry)?;
                for &cell in &block.cells {
                    let marked = &mut is_byzantine[cell as usize];
                    if !*marked {
                        *marked = true;
                        byzantine_count += 1;
                    }
                }
                if byzantine_count == cell_count {
                    return Err(source.error(
                        cells_span,
                        format!(
                            "all {cell_count} cells would be Byzantine (counting every [[byzantine]] block up to block {number}); at least one cell must be honest (at most {} Byzantine)",
                            cell_count - 1
                        ),
                    ));
                }
                if matches!(block.behaviour, Behaviour::DoubleSpend { .. }) && double_spend.is_none()
                {
                    double_spend = Some((number, entry.span()));
                }
                behaviours.push(block);
            }
            let honest_count = cell_count - byzantine_count;
            if let Some((number, span)) = double_spend
                && honest_count < 2
            {
                return Err(source.error(
                    span,
                    format!(
                        "byzantine block {number} (double-spend) pays two different honest cells, but only {honest_count} cell is honest"
                    ),
                ));
            }
            let cells = (0..cell_count)
                .filter(|&cell| is_byzantine[cell as usize])
                .collect();
            Ok(Byzantine { cells, behaviours })
        }
        _ => Err(source.error(
            value.span(),
            format!(
                "byzantine must be a table ([byzantine] with count or cells) or an array of tables ([[byzantine]] with behavior = one of {BEHAVIOURS}), got {}",
                describe(value)
            ),
        )),
    }
}

/// What every behaviour block is checked against.
struct BlockContext<'a> {
    source: &'a Source<'a>,
    cell_count: u32,
    duration_ns: TimeNs,
    workload: &'a Workload,
}

/// Keys of a `[[byzantine]]` block itself; a behaviour's own keys go in `params`.
const BLOCK_KEYS: &[&str] = &["behavior", "cells", "count", "from", "until", "params"];

/// The `params` keys each behaviour accepts.
fn behaviour_params(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "equivocate" => &["branches"],
        "withhold" => &["hold", "release"],
        "eclipse" => &["victims", "mode", "delay"],
        "delay" => &["hold", "victims", "share"],
        "timestamp-skew" => &["offset"],
        "censor" => &["clients", "mode", "hold"],
        "front-run" => &["victims", "fee_bump"],
        "spam" => &["rate", "kind"],
        "garbage" => &["rate", "kinds"],
        "sybil" => &["identities", "attack_edges", "rate"],
        "double-spend" => &["at", "amount"],
        "wrong-exec" => &["share"],
        _ => return None,
    })
}

/// One `[[byzantine]]` block, and the span of its `cells` or `count` (where
/// a message about its cells points).
fn parse_behaviour_block(
    context: &BlockContext<'_>,
    number: usize,
    value: &Value<'_>,
) -> Result<(BehaviourBlock, Range<usize>)> {
    let source = context.source;
    let cell_count = context.cell_count;
    let duration_ns = context.duration_ns;
    let DeValue::Table(entries) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!(
                "byzantine block {number} must be a table, got {}",
                describe(value)
            ),
        ));
    };
    let (name, name_value) = tag(
        source,
        value,
        entries,
        &format!("byzantine block {number}"),
        "behavior",
        BEHAVIOURS,
    )?;
    let Some(params_allowed) = behaviour_params(name) else {
        return Err(source.error(
            name_value.span(),
            format!("unknown behavior \"{name}\"; allowed: {BEHAVIOURS}"),
        ));
    };
    // A behaviour's setting written beside `behavior` rather than in `params`.
    let misplaced = entries
        .keys()
        .filter(|key| params_allowed.contains(&key.get_ref().as_ref()))
        .min_by_key(|key| key.span().start);
    if let Some(key) = misplaced {
        return Err(source.error(
            key.span(),
            format!(
                "`{}` is a parameter of {name}; write it inside params, like params = {{ {} = ... }}",
                key.get_ref(),
                key.get_ref()
            ),
        ));
    }
    let block_name = format!("byzantine block {number} ({name})");
    let table = Table::from_entries(
        source,
        block_name.clone(),
        value.span(),
        entries,
        BLOCK_KEYS,
    )?;

    let (cells, cells_span) = match (table.get("count"), table.get("cells")) {
        (Some(_), Some(cells_value)) => {
            return Err(source.error(
                cells_value.span(),
                format!("{block_name} takes count or cells, not both"),
            ));
        }
        (None, None) => {
            return Err(source.error(
                value.span(),
                format!(
                    "{block_name} needs cells = \"12..16\" (a cell group) or count = N (the last N cells)"
                ),
            ));
        }
        (Some(count_value), None) => {
            let count = integer(source, "count", count_value, 1, i64::from(cell_count))? as u32;
            (
                (cell_count - count..cell_count).collect(),
                count_value.span(),
            )
        }
        (None, Some(cells_value)) => (
            cell_group(source, "cells", cells_value, cell_count)?,
            cells_value.span(),
        ),
    };

    let from_ns = match table.get("from") {
        None => 0,
        Some(from_value) => {
            let from_ns = duration(source, "from", from_value)?;
            if from_ns >= duration_ns {
                return Err(source.error(
                    from_value.span(),
                    format!(
                        "{block_name} starts at {}, at or after the end of the run ({}); it would never happen",
                        format_duration(from_ns),
                        format_duration(duration_ns)
                    ),
                ));
            }
            from_ns
        }
    };
    let until_ns = match table.get("until") {
        None => None,
        Some(until_value) => {
            let until_ns = duration(source, "until", until_value)?;
            if until_ns <= from_ns {
                return Err(source.error(
                    until_value.span(),
                    format!(
                        "until ({}) must be after from ({})",
                        format_duration(until_ns),
                        format_duration(from_ns)
                    ),
                ));
            }
            if until_ns > duration_ns {
                return Err(source.error(
                    until_value.span(),
                    format!(
                        "until ({}) is after the end of the run ({}); leave until out for a window lasting to the end",
                        format_duration(until_ns),
                        format_duration(duration_ns)
                    ),
                ));
            }
            Some(until_ns)
        }
    };

    let params = Params {
        source,
        name,
        name_span: name_value.span(),
        table: match table.get("params") {
            None => None,
            Some(params_value) => Some(Table::open(
                source,
                format!("the params of {block_name}"),
                params_value,
                params_allowed,
            )?),
        },
        span: table
            .get("params")
            .map_or(value.span(), |params| params.span()),
    };
    let window = Window {
        from_ns,
        until_ns,
        block_span: value.span(),
    };
    let behaviour = parse_behaviour(context, &params, &cells, &cells_span, &window)?;
    let (line, _) = line_column(source.text, value.span().start);
    Ok((
        BehaviourBlock {
            cells,
            from_ns,
            until_ns,
            behaviour,
            line,
        },
        cells_span,
    ))
}

/// A block's `params` (absent: every default), read key by key.
struct Params<'a, 'i> {
    source: &'a Source<'a>,
    /// The behaviour's name, for messages, and where the file gives it.
    name: &'a str,
    name_span: Range<usize>,
    table: Option<Table<'a, 'i>>,
    /// The params table, or the whole block when it has none.
    span: Range<usize>,
}

impl<'a, 'i> Params<'a, 'i> {
    fn get(&self, key: &str) -> Option<&'a Value<'i>> {
        self.table.as_ref().and_then(|table| table.get(key))
    }

    fn integer(&self, key: &str, min: i64, max: i64, default: i64) -> Result<i64> {
        self.get(key).map_or(Ok(default), |value| {
            integer(self.source, key, value, min, max)
        })
    }

    fn duration(&self, key: &str, default_ns: TimeNs) -> Result<TimeNs> {
        self.get(key).map_or(Ok(default_ns), |value| {
            positive_duration(self.source, key, value)
        })
    }

    /// One of `choices`; the first is the default.
    fn choice(&self, key: &str, choices: &[&'static str]) -> Result<&'static str> {
        let Some(value) = self.get(key) else {
            return Ok(choices[0]);
        };
        let text = string(self.source, key, value)?;
        choices
            .iter()
            .find(|choice| **choice == text)
            .copied()
            .ok_or_else(|| {
                self.source.error(
                    value.span(),
                    format!("unknown {key} \"{text}\"; allowed: {}", choices.join(", ")),
                )
            })
    }

    /// A key that only applies in another mode is an error, not silently unused.
    fn reject_outside_mode(&self, key: &str, mode_key: &str, mode: &str) -> Result<()> {
        match self.get(key) {
            Some(value) => Err(self.source.error(
                value.span(),
                format!("{key} applies only with {mode_key} = \"{mode}\""),
            )),
            None => Ok(()),
        }
    }

    /// `victims`: cells other than the block's own.
    fn victims(
        &self,
        required: bool,
        own_cells: &[CellIndex],
        cell_count: u32,
    ) -> Result<Option<Vec<CellIndex>>> {
        let victims_value = match self.get("victims") {
            Some(victims_value) => victims_value,
            None if required => {
                return Err(self.source.error(
                    self.span.clone(),
                    format!(
                        "{} needs victims, for example: params = {{ victims = \"0..4\" }}",
                        self.name
                    ),
                ));
            }
            None => return Ok(None),
        };
        let victims = cell_group(self.source, "victims", victims_value, cell_count)?;
        if let Some(&cell) = victims
            .iter()
            .find(|cell| own_cells.binary_search(cell).is_ok())
        {
            return Err(self.source.error(
                victims_value.span(),
                format!(
                    "victims: cell {cell} is one of the block's own cells ({}); the victims must be other cells",
                    format_cells(own_cells)
                ),
            ));
        }
        Ok(Some(victims))
    }

    /// A rate, 0 allowed.
    fn rate(&self, key: &str, default: Rate) -> Result<Rate> {
        self.get(key)
            .map_or(Ok(default), |value| rate(self.source, key, value))
    }

    /// A rate above zero: a block that sends nothing does nothing.
    fn positive_rate(&self, key: &str, default: Rate) -> Result<Rate> {
        let Some(rate_value) = self.get(key) else {
            return Ok(default);
        };
        let parsed = rate(self.source, key, rate_value)?;
        if parsed.is_zero() {
            return Err(self.source.error(
                rate_value.span(),
                format!(
                    "{key} must be more than 0 (a {} block that sends nothing does nothing)",
                    self.name
                ),
            ));
        }
        Ok(parsed)
    }
}

/// A block's window, already checked against the run.
struct Window {
    from_ns: TimeNs,
    until_ns: Option<TimeNs>,
    block_span: Range<usize>,
}

/// The behaviour a block names, with its params checked and defaulted.
fn parse_behaviour(
    context: &BlockContext<'_>,
    params: &Params<'_, '_>,
    cells: &[CellIndex],
    cells_span: &Range<usize>,
    window: &Window,
) -> Result<Behaviour> {
    let source = context.source;
    let cell_count = context.cell_count;
    Ok(match params.name {
        "equivocate" => Behaviour::Equivocate {
            branches: params.integer("branches", 2, BRANCHES_MAX, 2)? as u32,
        },
        "withhold" => {
            let release = match params.choice("release", &["burst", "never"])? {
                "burst" => WithholdRelease::Burst,
                _ => {
                    params.reject_outside_mode("hold", "release", "burst")?;
                    WithholdRelease::Never
                }
            };
            Behaviour::Withhold {
                hold_ns: params.duration("hold", 2 * NS_PER_S)?,
                release,
            }
        }
        "eclipse" => {
            let victims = params.victims(true, cells, cell_count)?.unwrap_or_default();
            let mode = match params.choice("mode", &["drop", "delay"])? {
                "drop" => {
                    params.reject_outside_mode("delay", "mode", "delay")?;
                    EclipseMode::Drop
                }
                _ => EclipseMode::Delay,
            };
            Behaviour::Eclipse {
                victims,
                mode,
                delay_ns: params.duration("delay", 2 * NS_PER_S)?,
            }
        }
        "delay" => Behaviour::Delay {
            hold_ns: params.duration("hold", 300 * NS_PER_MS)?,
            victims: params.victims(false, cells, cell_count)?,
            share_ppm: match params.get("share") {
                Some(share_value) => fraction_ppm(source, "share", share_value)?,
                None => 340_000,
            },
        },
        "timestamp-skew" => {
            let offset_ns = match params.get("offset") {
                None => 60 * NS_PER_S as i64,
                Some(offset_value) => {
                    let text = string(source, "offset", offset_value)?;
                    let offset_ns = units::parse_signed_duration(text).map_err(|message| {
                        source.error(offset_value.span(), format!("offset: {message}"))
                    })?;
                    if offset_ns == 0 || offset_ns.unsigned_abs() > CLOCK_OFFSET_NS_MAX as u64 {
                        return Err(source.error(
                            offset_value.span(),
                            format!("offset must be non-zero and within ±60m, got {text}"),
                        ));
                    }
                    offset_ns
                }
            };
            Behaviour::TimestampSkew { offset_ns }
        }
        "censor" => parse_censor(context, params, cells, cells_span)?,
        "front-run" => Behaviour::FrontRun {
            victims: params.victims(false, cells, cell_count)?,
            fee_bump: params.integer("fee_bump", 0, i64::MAX, 1)? as u64,
        },
        "spam" => Behaviour::Spam {
            // 200/s, reduced: one every 5 ms.
            rate: params.positive_rate(
                "rate",
                Rate {
                    count: 1,
                    per_ns: 5 * NS_PER_MS,
                },
            )?,
            kind: match params.choice("kind", &["tx", "events"])? {
                "tx" => SpamKind::Transactions,
                _ => SpamKind::Events,
            },
        },
        "garbage" => Behaviour::Garbage {
            // 20/s, reduced: one every 50 ms.
            rate: params.positive_rate(
                "rate",
                Rate {
                    count: 1,
                    per_ns: 50 * NS_PER_MS,
                },
            )?,
            kinds: match params.get("kinds") {
                None => GARBAGE_KINDS.iter().map(|&(_, kind)| kind).collect(),
                Some(kinds_value) => garbage_kinds(source, kinds_value)?,
            },
        },
        "sybil" => Behaviour::Sybil {
            identities: params.integer("identities", 1, SYBIL_IDENTITIES_MAX, 20)? as u32,
            attack_edges: params.integer("attack_edges", 0, SYBIL_ATTACK_EDGES_MAX, 2)? as u32,
            // 20/s, reduced: one every 50 ms.
            rate: params.rate(
                "rate",
                Rate {
                    count: 1,
                    per_ns: 50 * NS_PER_MS,
                },
            )?,
        },
        "wrong-exec" => Behaviour::WrongExec {
            share_ppm: match params.get("share") {
                Some(share_value) => fraction_ppm(source, "share", share_value)?,
                None => 1_000_000,
            },
        },
        _ => {
            let window_end_ns = window.until_ns.unwrap_or(context.duration_ns);
            let (at_ns, at_span, given) = match params.get("at") {
                Some(at_value) => (duration(source, "at", at_value)?, at_value.span(), true),
                None => (5 * NS_PER_S, window.block_span.clone(), false),
            };
            if at_ns < window.from_ns || at_ns >= window_end_ns {
                return Err(source.error(
                    at_span,
                    format!(
                        "double-spend at {}{} is outside the block's window ({} until {}); set params = {{ at = ... }} inside it",
                        format_duration(at_ns),
                        if given { "" } else { " (the default)" },
                        format_duration(window.from_ns),
                        format_duration(window_end_ns)
                    ),
                ));
            }
            Behaviour::DoubleSpend {
                at_ns,
                amount: match params.get("amount") {
                    Some(amount_value) => {
                        Some(integer(source, "amount", amount_value, 1, i64::MAX)? as u64)
                    }
                    None => None,
                },
            }
        }
    })
}

/// A censor acts on client TXs that enter through its cells: it needs
/// clients, and each of its cells must be an entry cell.
fn parse_censor(
    context: &BlockContext<'_>,
    params: &Params<'_, '_>,
    cells: &[CellIndex],
    cells_span: &Range<usize>,
) -> Result<Behaviour> {
    let source = context.source;
    let workload = context.workload;
    if workload.clients == 0 {
        return Err(source.error(
            params.name_span.clone(),
            "censor acts on client TXs, and there are none; set clients = N (more than 0) in [workload]",
        ));
    }
    let not_entry: Vec<CellIndex> = match &workload.entry {
        // By default only honest cells are entry cells.
        None => cells.to_vec(),
        Some(entry) => cells
            .iter()
            .copied()
            .filter(|cell| entry.binary_search(cell).is_err())
            .collect(),
    };
    if !not_entry.is_empty() {
        return Err(source.error(
            cells_span.clone(),
            format!(
                "censor cells {} are not entry cells, so no client submits through them; list them in [workload] entry (by default only honest cells are entry cells)",
                format_cells(&not_entry)
            ),
        ));
    }
    let clients = match params.get("clients") {
        None => None,
        Some(clients_value) => Some(index_group(
            source,
            "clients",
            clients_value,
            workload.clients,
            "client",
        )?),
    };
    let mode = match params.choice("mode", &["drop", "hold"])? {
        "drop" => {
            params.reject_outside_mode("hold", "mode", "hold")?;
            CensorMode::Drop
        }
        _ => CensorMode::Hold,
    };
    Ok(Behaviour::Censor {
        clients,
        mode,
        hold_ns: params.duration("hold", 5 * NS_PER_S)?,
    })
}

/// `kinds = ["replay", "mutated"]`: distinct, known, at least one; sorted.
fn garbage_kinds(source: &Source<'_>, value: &Value<'_>) -> Result<Vec<GarbageKind>> {
    let allowed = GARBAGE_KINDS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ");
    let DeValue::Array(items) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!(
                "kinds must be an array of strings, some of: {allowed}; got {}",
                describe(value)
            ),
        ));
    };
    if items.is_empty() {
        return Err(source.error(
            value.span(),
            format!("kinds names no kind; give at least one of: {allowed}"),
        ));
    }
    let mut kinds = Vec::with_capacity(items.len().min(GARBAGE_KINDS.len()));
    for item in items.iter() {
        let text = string(source, "kinds", item)?;
        let Some(&(_, kind)) = GARBAGE_KINDS.iter().find(|(name, _)| *name == text) else {
            return Err(source.error(
                item.span(),
                format!("unknown garbage kind \"{text}\"; allowed: {allowed}"),
            ));
        };
        if kinds.contains(&kind) {
            return Err(source.error(item.span(), format!("kinds lists \"{text}\" twice")));
        }
        kinds.push(kind);
    }
    kinds.sort_unstable();
    Ok(kinds)
}

/// A number in `0..=1` as exact parts per million, read from the number's
/// text so no float decides it: `0.34` is 340 000. Integers 0 and 1 are
/// accepted; a value finer than a millionth is an error.
fn fraction_ppm(source: &Source<'_>, key: &str, value: &Value<'_>) -> Result<u32> {
    let text = match value.get_ref() {
        DeValue::Integer(integer) if integer.radix() == 10 => integer.as_str(),
        DeValue::Float(float) => float.as_str(),
        _ => {
            return Err(source.error(
                value.span(),
                format!(
                    "{key} must be a number between 0 and 1 (a decimal such as 0.34), got {}",
                    describe(value)
                ),
            ));
        }
    };
    decimal_ppm(text).map_err(|problem| {
        source.error(
            value.span(),
            match problem {
                PpmProblem::OutOfRange => format!("{key} must be between 0 and 1, got {text}"),
                PpmProblem::TooFine => format!(
                    "{key} must be a whole number of millionths (at most 6 decimals), got {text}"
                ),
            },
        )
    })
}

#[derive(Debug, PartialEq, Eq)]
enum PpmProblem {
    OutOfRange,
    TooFine,
}

/// `[+-]digits[.digits][e[+-]digits]` in `0..=1` as millionths, exactly.
fn decimal_ppm(text: &str) -> std::result::Result<u32, PpmProblem> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (significand, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((significand, exponent)) => (significand, Some(exponent)),
        None => (unsigned, None),
    };
    let (whole, fraction) = significand.split_once('.').unwrap_or((significand, ""));
    let is_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !is_digits(whole) || !is_digits(fraction) {
        // nan, inf, or anything else that is not a plain decimal.
        return Err(PpmProblem::OutOfRange);
    }
    // Far beyond any exponent that could still give a value in 0..=1 with
    // this many digits; saturating keeps the arithmetic in range.
    const EXPONENT_LIMIT: i64 = 100_000_000;
    let exponent: i64 = match exponent {
        None => 0,
        Some(exponent) => {
            let (sign, digits) = match exponent.as_bytes().first() {
                Some(b'-') => (-1, &exponent[1..]),
                Some(b'+') => (1, &exponent[1..]),
                _ => (1, exponent),
            };
            if digits.is_empty() || !is_digits(digits) {
                return Err(PpmProblem::OutOfRange);
            }
            let significant = digits.trim_start_matches('0');
            let magnitude = match significant.len() {
                0 => 0,
                1..=9 => significant
                    .parse::<i64>()
                    .map_or(EXPONENT_LIMIT, |magnitude| magnitude.min(EXPONENT_LIMIT)),
                _ => EXPONENT_LIMIT,
            };
            sign * magnitude
        }
    };
    // value = digits · 10^(exponent - fraction length); in millionths, 6 more.
    let digits = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let significant = digits.trim_end_matches('0');
    if significant.is_empty() {
        return Ok(0);
    }
    if negative {
        return Err(PpmProblem::OutOfRange);
    }
    let trailing_zeros = (digits.len() - significant.len()) as i64;
    let shift = exponent - fraction.len() as i64 + 6 + trailing_zeros;
    if shift < 0 {
        return Err(PpmProblem::TooFine);
    }
    // 1 000 000 has 7 digits; anything longer is more than 1.
    if significant.len() as i64 + shift > 7 {
        return Err(PpmProblem::OutOfRange);
    }
    let ppm = significant
        .parse::<u64>()
        .map_err(|_| PpmProblem::OutOfRange)?
        * 10u64.pow(shift as u32);
    if ppm > 1_000_000 {
        return Err(PpmProblem::OutOfRange);
    }
    Ok(ppm as u32)
}

fn parse_access(source: &Source<'_>, value: &Value<'_>) -> Result<Access> {
    let table = Table::open(
        source,
        "[access]",
        value,
        &["chat", "auth", "query", "exec"],
    )?;
    let least = |key: &str| -> Result<u32> {
        table
            .get(key)
            .map_or(Ok(0), |value| fraction_ppm(source, key, value))
    };
    Ok(Access {
        chat_min_ppm: least("chat")?,
        auth_min_ppm: least("auth")?,
        query_min_ppm: least("query")?,
        exec_min_ppm: least("exec")?,
    })
}

fn parse_expect(source: &Source<'_>, value: &Value<'_>) -> Result<Expect> {
    let table = Table::open(
        source,
        "[expect]",
        value,
        &["agreement", "state", "liveness"],
    )?;
    Ok(Expect {
        agreement: table.boolean("agreement")?,
        state: table.boolean("state")?,
        liveness: table.boolean("liveness")?,
    })
}

fn default_workload() -> Workload {
    Workload {
        tx_rate: Rate {
            count: 10,
            per_ns: NS_PER_S,
        },
        submitters: None,
        message_rate: Rate::ZERO,
        message_mix: MessageMix::default(),
        clients: 0,
        entry: None,
        retry_after_ns: 2 * NS_PER_S,
    }
}

fn parse_workload(source: &Source<'_>, value: &Value<'_>, cell_count: u32) -> Result<Workload> {
    let table = Table::open(
        source,
        "[workload]",
        value,
        &[
            "tx_rate",
            "submitters",
            "messages",
            "clients",
            "entry",
            "retry_after",
        ],
    )?;
    let mut workload = default_workload();
    if let Some(value) = table.get("tx_rate") {
        workload.tx_rate = rate(source, "tx_rate", value)?;
    }
    if let Some(value) = table.get("submitters") {
        workload.submitters = Some(cell_group(source, "submitters", value, cell_count)?);
    }
    workload.clients = table
        .integer("clients", 0, i64::from(CLIENTS_MAX))?
        .unwrap_or(0) as u32;
    // Entry cells and retries only concern clients; without clients they
    // would be silently unused.
    for key in ["entry", "retry_after"] {
        if let Some(value) = table.get(key)
            && workload.clients == 0
        {
            return Err(source.error(
                value.span(),
                format!(
                    "{key} only applies to clients; set clients = N (more than 0) in [workload]"
                ),
            ));
        }
    }
    if let Some(value) = table.get("entry") {
        workload.entry = Some(cell_group(source, "entry", value, cell_count)?);
    }
    if let Some(value) = table.get("retry_after") {
        workload.retry_after_ns = positive_duration(source, "retry_after", value)?;
    }
    if let Some(messages_value) = table.get("messages") {
        let messages = Table::open(
            source,
            "[workload.messages]",
            messages_value,
            &["rate", "chat", "auth", "post", "query", "exec"],
        )?;
        if let Some(value) = messages.get("rate") {
            workload.message_rate = rate(source, "rate", value)?;
        }
        let weight = |key: &str| -> Result<Option<u32>> {
            Ok(messages
                .integer(key, 0, i64::from(u32::MAX))?
                .map(|weight| weight as u32))
        };
        let weights = [
            weight("chat")?,
            weight("auth")?,
            weight("post")?,
            weight("query")?,
            weight("exec")?,
        ];
        // No weights given: an even mix.
        let given = weights.iter().any(Option::is_some);
        let [chat, auth, post, query, exec] = weights.map(|w| w.unwrap_or(u32::from(!given)));
        workload.message_mix = MessageMix {
            chat,
            auth,
            post,
            query,
            exec,
        };
        if !workload.message_rate.is_zero() && workload.message_mix.total() == 0 {
            return Err(source.error(
                messages_value.span(),
                "[workload.messages] has a rate but every weight is 0; give chat, auth, post, query or exec a weight",
            ));
        }
    }
    Ok(workload)
}

fn default_checks() -> Checks {
    Checks {
        safety: true,
        liveness: false,
        max_finality_p99_ns: None,
        min_throughput_tps: None,
        max_stall_ns: None,
        max_inversion_rate: None,
        max_timestamp_band_violations: None,
    }
}

fn parse_checks(source: &Source<'_>, value: &Value<'_>) -> Result<Checks> {
    let table = Table::open(source, "[checks]", value, &super::CHECK_KEYS)?;
    let defaults = default_checks();
    Ok(Checks {
        safety: table.boolean("safety")?.unwrap_or(defaults.safety),
        liveness: table.boolean("liveness")?.unwrap_or(defaults.liveness),
        max_finality_p99_ns: match table.get("max_finality_p99") {
            Some(value) => Some(positive_duration(source, "max_finality_p99", value)?),
            None => None,
        },
        min_throughput_tps: match table.get("min_throughput_tps") {
            Some(value) => Some(number_in(source, "min_throughput_tps", value, 0.0, 1e12)?),
            None => None,
        },
        max_stall_ns: match table.get("max_stall") {
            Some(value) => Some(positive_duration(source, "max_stall", value)?),
            None => None,
        },
        max_inversion_rate: table.probability("max_inversion_rate")?,
        max_timestamp_band_violations: table
            .integer("max_timestamp_band_violations", 0, i64::MAX)?
            .map(|violations| violations as u64),
    })
}

fn parse_faults(
    source: &Source<'_>,
    value: &Value<'_>,
    cell_count: u32,
    duration_ns: TimeNs,
) -> Result<Vec<Fault>> {
    let DeValue::Array(entries) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!(
                "faults must be an array of tables ([[faults]] with kind = one of {FAULT_KINDS}), got {}",
                describe(value)
            ),
        ));
    };
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| parse_fault(source, index + 1, entry, cell_count, duration_ns))
        .collect()
}

fn parse_fault(
    source: &Source<'_>,
    number: usize,
    value: &Value<'_>,
    cell_count: u32,
    duration_ns: TimeNs,
) -> Result<Fault> {
    let DeValue::Table(entries) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!("fault {number} must be a table, got {}", describe(value)),
        ));
    };
    let (kind, kind_value) = tag(
        source,
        value,
        entries,
        &format!("fault {number}"),
        "kind",
        FAULT_KINDS,
    )?;
    let allowed: &[&str] = match kind {
        "partition" => &["kind", "at", "heal", "groups"],
        "crash" => &["kind", "cells", "at", "restart"],
        "link" => &[
            "kind",
            "from",
            "to",
            "at",
            "until",
            "loss",
            "latency",
            "direction",
        ],
        "clock-skew" => &["kind", "cells", "at", "offset", "drift"],
        "pause" => &["kind", "cells", "at", "until"],
        _ => {
            return Err(source.error(
                kind_value.span(),
                format!("unknown fault kind \"{kind}\"; allowed: {FAULT_KINDS}"),
            ));
        }
    };
    let table = Table::from_entries(
        source,
        format!("fault {number} ({kind})"),
        value.span(),
        entries,
        allowed,
    )?;

    // The start: before the end of the run, or the fault would never happen.
    let start = |required: bool| -> Result<TimeNs> {
        let at_value = match table.get("at") {
            Some(at_value) => at_value,
            None if required => table.required("at", "at = \"10s\"")?,
            None => return Ok(0),
        };
        let at_ns = duration(source, "at", at_value)?;
        if at_ns >= duration_ns {
            return Err(source.error(
                at_value.span(),
                format!(
                    "fault {number} ({kind}) starts at {}, at or after the end of the run ({}); it would never happen",
                    format_duration(at_ns),
                    format_duration(duration_ns)
                ),
            ));
        }
        Ok(at_ns)
    };
    // An end: strictly after the start (it may lie past the end of the run).
    let end = |key: &str, at_ns: TimeNs| -> Result<Option<TimeNs>> {
        let Some(end_value) = table.get(key) else {
            return Ok(None);
        };
        let end_ns = duration(source, key, end_value)?;
        if end_ns <= at_ns {
            return Err(source.error(
                end_value.span(),
                format!(
                    "{key} ({}) must be after at ({})",
                    format_duration(end_ns),
                    format_duration(at_ns)
                ),
            ));
        }
        Ok(Some(end_ns))
    };
    let group = |key: &str, example: &str| -> Result<Vec<CellIndex>> {
        cell_group(source, key, table.required(key, example)?, cell_count)
    };

    Ok(match kind {
        "partition" => {
            let at_ns = start(true)?;
            let heal_ns = end("heal", at_ns)?;
            let groups_value = table.required("groups", "groups = [\"0..8\", \"8..16\"]")?;
            let DeValue::Array(group_values) = groups_value.get_ref() else {
                return Err(source.error(
                    groups_value.span(),
                    format!(
                        "groups must be an array of cell groups, like [\"0..8\", \"8..16\"], got {}",
                        describe(groups_value)
                    ),
                ));
            };
            if group_values.len() < 2 {
                return Err(source.error(
                    groups_value.span(),
                    format!(
                        "a partition needs at least 2 groups, got {}",
                        group_values.len()
                    ),
                ));
            }
            let groups = group_values
                .iter()
                .map(|group_value| {
                    Ok((
                        cell_group(source, "groups", group_value, cell_count)?,
                        group_value.span(),
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            check_disjoint_cover(source, "groups", "group", groups_value, &groups, cell_count)?;
            Fault::Partition {
                at_ns,
                heal_ns,
                groups: groups.into_iter().map(|(cells, _)| cells).collect(),
            }
        }
        "crash" => {
            let cells = group("cells", "cells = [3, 4]")?;
            let at_ns = start(true)?;
            Fault::Crash {
                cells,
                at_ns,
                restart_ns: end("restart", at_ns)?,
            }
        }
        "link" => {
            let from = group("from", "from = \"0..4\"")?;
            let to = group("to", "to = \"4..8\"")?;
            let at_ns = start(false)?;
            let until_ns = end("until", at_ns)?;
            let loss = table.probability("loss")?;
            let extra_latency = match table.get("latency") {
                Some(latency) => Some(parse_distribution(source, "latency", latency)?),
                None => None,
            };
            if loss.is_none() && extra_latency.is_none() {
                return Err(source.error(
                    value.span(),
                    format!("fault {number} (link) needs loss, latency or both"),
                ));
            }
            let direction = match table.string("direction")? {
                None | Some("both") => Direction::Both,
                Some("one-way") => Direction::OneWay,
                Some(other) => {
                    return Err(source.error(
                        table.get("direction").map_or(value.span(), |v| v.span()),
                        format!("unknown direction \"{other}\"; allowed: both, one-way"),
                    ));
                }
            };
            Fault::Link {
                from,
                to,
                at_ns,
                until_ns,
                loss,
                extra_latency,
                direction,
            }
        }
        "clock-skew" => {
            let cells = group("cells", "cells = \"0..4\"")?;
            let at_ns = start(false)?;
            let offset_ns = match table.get("offset") {
                Some(offset_value) => {
                    let text = string(source, "offset", offset_value)?;
                    let offset_ns = units::parse_signed_duration(text).map_err(|message| {
                        source.error(offset_value.span(), format!("offset: {message}"))
                    })?;
                    if offset_ns.unsigned_abs() > CLOCK_OFFSET_NS_MAX as u64 {
                        return Err(source.error(
                            offset_value.span(),
                            format!("offset must be within ±60m, got {text}"),
                        ));
                    }
                    offset_ns
                }
                None => 0,
            };
            let drift_ppm = table
                .integer("drift", -CLOCK_DRIFT_PPM_MAX, CLOCK_DRIFT_PPM_MAX)?
                .unwrap_or(0) as i32;
            if offset_ns == 0 && drift_ppm == 0 {
                return Err(source.error(
                    value.span(),
                    format!("fault {number} (clock-skew) needs a non-zero offset or drift"),
                ));
            }
            Fault::ClockSkew {
                cells,
                at_ns,
                offset_ns,
                drift_ppm,
            }
        }
        _ => {
            let cells = group("cells", "cells = [3, 4]")?;
            let at_ns = start(true)?;
            table.required("until", "until = \"20s\"")?;
            let until_ns = end("until", at_ns)?.unwrap_or(at_ns);
            Fault::Pause {
                cells,
                at_ns,
                until_ns,
            }
        }
    })
}

// ---------------------------------------------------------------------------
// Markets and agents.

const AGENT_KINDS: &str = "noise-trader, market-maker, momentum, value, compute-provider, storage-provider, consumer, front-runner";

/// Keys of an `[[agents]]` block itself; a kind's own keys go in `params`.
const AGENT_BLOCK_KEYS: &[&str] = &["kind", "count", "cells", "rate", "params"];

/// The `params` keys each agent kind accepts.
fn agent_params_keys(kind: AgentKind) -> &'static [&'static str] {
    match kind {
        AgentKind::NoiseTrader => &["token", "quantity_max", "limit_share", "price_range"],
        AgentKind::MarketMaker => &["token", "spread", "quantity", "inventory_max"],
        AgentKind::Momentum => &["token", "lookback", "quantity", "threshold"],
        AgentKind::Value => &["token", "fundamental", "threshold", "quantity"],
        AgentKind::ComputeProvider => &["units", "price", "collateral"],
        AgentKind::StorageProvider => &["blocks", "price", "collateral"],
        AgentKind::Consumer => &[
            "market",
            "amount",
            "intervals",
            "price_max",
            "trust_min",
            "work",
            "exec_timeout",
        ],
        AgentKind::FrontRunner => &["token", "quantity_min", "quantity"],
    }
}

/// The span of `key` in the table `value`, if it is a table holding it.
fn key_span(value: &Value<'_>, key: &str) -> Option<Range<usize>> {
    let DeValue::Table(entries) = value.get_ref() else {
        return None;
    };
    entries
        .iter()
        .find(|(name, _)| name.get_ref().as_ref() == key)
        .map(|(_, value)| value.span())
}

fn parse_markets(source: &Source<'_>, value: &Value<'_>, cells: &Cells) -> Result<Markets> {
    let table = Table::open(
        source,
        "[markets]",
        value,
        &[
            "tokens",
            "fundamental",
            "interval",
            "challenge_window",
            "genesis",
        ],
    )?;
    let defaults = Markets::default();
    let tokens = match table.get("tokens") {
        None => Vec::new(),
        Some(tokens_value) => token_names(source, tokens_value)?,
    };
    let fundamental = match table.get("fundamental") {
        None => vec![None; tokens.len()],
        Some(fundamental_value) => {
            if tokens.is_empty() {
                return Err(source.error(
                    fundamental_value.span(),
                    "fundamental gives one price per exchange token, and [markets] lists no tokens; add tokens = [\"data-credit\"]",
                ));
            }
            let DeValue::Array(items) = fundamental_value.get_ref() else {
                return Err(source.error(
                    fundamental_value.span(),
                    format!(
                        "fundamental must be an array of prices (PRANA per unit, one per token), like [100], got {}",
                        describe(fundamental_value)
                    ),
                ));
            };
            if items.len() != tokens.len() {
                return Err(source.error(
                    fundamental_value.span(),
                    format!(
                        "fundamental must give one price per token ({}: {}), got {}",
                        tokens.len(),
                        tokens.join(", "),
                        items.len()
                    ),
                ));
            }
            items
                .iter()
                .map(|item| {
                    Ok(Some(
                        integer(source, "fundamental", item, 1, PRICE_MAX as i64)? as u64,
                    ))
                })
                .collect::<Result<Vec<_>>>()?
        }
    };
    let interval_ns = match table.get("interval") {
        Some(interval_value) => positive_duration(source, "interval", interval_value)?,
        None => defaults.interval_ns,
    };
    let challenge_window_ns = match table.get("challenge_window") {
        Some(window_value) => positive_duration(source, "challenge_window", window_value)?,
        None => defaults.challenge_window_ns,
    };
    let genesis = match table.get("genesis") {
        None => Vec::new(),
        Some(genesis_value) => parse_market_genesis(source, genesis_value, cells, &tokens)?,
    };
    Ok(Markets {
        tokens,
        fundamental,
        interval_ns,
        challenge_window_ns,
        genesis,
    })
}

/// `tokens = ["data-credit", ...]`: 1 to 16 distinct names of `a-z`,
/// `0-9` and `-`, each at most 32 bytes.
fn token_names(source: &Source<'_>, value: &Value<'_>) -> Result<Vec<String>> {
    let DeValue::Array(items) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!(
                "tokens must be an array of token names, like [\"data-credit\"], got {}",
                describe(value)
            ),
        ));
    };
    if items.is_empty() || items.len() > MARKET_TOKENS_MAX {
        return Err(source.error(
            value.span(),
            format!(
                "tokens must name 1 to {MARKET_TOKENS_MAX} tokens, got {} (leave tokens out for no exchange)",
                items.len()
            ),
        ));
    }
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for item in items.iter() {
        let name = string(source, "tokens", item)?;
        let name_ok = !name.is_empty()
            && name.len() <= TOKEN_NAME_BYTES_MAX
            && name
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if !name_ok {
            let shown: String = name.chars().take(40).collect();
            return Err(source.error(
                item.span(),
                format!(
                    "a token name is 1 to {TOKEN_NAME_BYTES_MAX} of a-z, 0-9 and '-', got \"{shown}\""
                ),
            ));
        }
        if names.iter().any(|known| known == name) {
            return Err(source.error(item.span(), format!("tokens lists \"{name}\" twice")));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// `[[markets.genesis]]` blocks: no cell in two of them.
/// The blocks of a `[[markets.genesis]]` or `[[agents]]` array: an array
/// of tables (`shape` says what each holds), at most [`MARKET_BLOCKS_MAX`].
fn market_blocks<'a, 'v>(
    source: &Source<'_>,
    value: &'a Value<'v>,
    key: &str,
    header: &str,
    shape: &str,
) -> Result<&'a [Value<'v>]> {
    let DeValue::Array(entries) = value.get_ref() else {
        return Err(source.error(
            value.span(),
            format!(
                "{key} must be an array of tables ([[{header}]] {shape}), got {}",
                describe(value)
            ),
        ));
    };
    if entries.len() > MARKET_BLOCKS_MAX {
        return Err(source.error(
            value.span(),
            format!(
                "{} [[{header}]] blocks; a scenario has at most {MARKET_BLOCKS_MAX}",
                entries.len()
            ),
        ));
    }
    Ok(entries)
}

fn parse_market_genesis(
    source: &Source<'_>,
    value: &Value<'_>,
    cells: &Cells,
    tokens: &[String],
) -> Result<Vec<MarketGenesis>> {
    let entries = market_blocks(
        source,
        value,
        "genesis",
        "markets.genesis",
        "with cells, prana and tokens",
    )?;
    const NO_BLOCK: u32 = u32::MAX;
    let mut block_of_cell = vec![NO_BLOCK; cells.count as usize];
    let mut blocks = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let number = index + 1;
        let block_name = format!("[[markets.genesis]] block {number}");
        let table = Table::open(
            source,
            block_name.clone(),
            entry,
            &["cells", "prana", "tokens"],
        )?;
        let cells_value = table.required("cells", "cells = \"0..10\"")?;
        let block_cells = cell_group(source, "cells", cells_value, cells.count)?;
        for &cell in &block_cells {
            let owner = block_of_cell[cell as usize];
            if owner != NO_BLOCK {
                return Err(source.error(
                    cells_value.span(),
                    format!(
                        "cell {cell} is in both [[markets.genesis]] block {} and block {number}; a cell takes its genesis from one block",
                        owner + 1
                    ),
                ));
            }
            block_of_cell[cell as usize] = index as u32;
        }
        if table.get("prana").is_none() && table.get("tokens").is_none() {
            return Err(source.error(
                entry.span(),
                format!(
                    "{block_name} needs prana = N, tokens = [...] or both (without them it changes nothing)"
                ),
            ));
        }
        let prana = table
            .integer("prana", 0, i64::MAX)?
            .map_or(cells.genesis_balance, |prana| prana as u64);
        let token_balances = match table.get("tokens") {
            None => vec![0; tokens.len()],
            Some(tokens_value) => {
                if tokens.is_empty() {
                    return Err(source.error(
                        tokens_value.span(),
                        "tokens gives balances of exchange tokens, and [markets] lists none; add tokens = [\"data-credit\"] to [markets]",
                    ));
                }
                let shape = format!(
                    "tokens must list one balance per exchange token ({}: {})",
                    tokens.len(),
                    tokens.join(", ")
                );
                let DeValue::Array(items) = tokens_value.get_ref() else {
                    return Err(source.error(
                        tokens_value.span(),
                        format!("{shape}, got {}", describe(tokens_value)),
                    ));
                };
                if items.len() != tokens.len() {
                    return Err(
                        source.error(tokens_value.span(), format!("{shape}, got {}", items.len()))
                    );
                }
                items
                    .iter()
                    .map(|item| Ok(integer(source, "tokens", item, 0, i64::MAX)? as u64))
                    .collect::<Result<Vec<_>>>()?
            }
        };
        blocks.push(MarketGenesis {
            cells: block_cells,
            prana,
            tokens: token_balances,
        });
    }
    Ok(blocks)
}

/// `[[agents]]` blocks: one agent per cell over all blocks.
fn parse_agents(
    source: &Source<'_>,
    value: &Value<'_>,
    cell_count: u32,
    markets: Option<&Markets>,
) -> Result<Vec<AgentBlock>> {
    let entries = market_blocks(
        source,
        value,
        "agents",
        "agents",
        &format!("with kind = one of {AGENT_KINDS}"),
    )?;
    const NO_BLOCK: u32 = u32::MAX;
    let mut block_of_cell = vec![NO_BLOCK; cell_count as usize];
    let mut free_count = cell_count;
    let mut blocks: Vec<AgentBlock> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let number = index + 1;
        let DeValue::Table(entry_entries) = entry.get_ref() else {
            return Err(source.error(
                entry.span(),
                format!(
                    "agents block {number} must be a table, got {}",
                    describe(entry)
                ),
            ));
        };
        let (name, name_value) = tag(
            source,
            entry,
            entry_entries,
            &format!("agents block {number}"),
            "kind",
            AGENT_KINDS,
        )?;
        let Some(kind) = AgentKind::ALL.into_iter().find(|kind| kind.name() == name) else {
            return Err(source.error(
                name_value.span(),
                format!("unknown agent kind \"{name}\"; allowed: {AGENT_KINDS}"),
            ));
        };
        let params_allowed = agent_params_keys(kind);
        // A kind's setting written beside `kind` rather than in `params`.
        let misplaced = entry_entries
            .keys()
            .filter(|key| params_allowed.contains(&key.get_ref().as_ref()))
            .min_by_key(|key| key.span().start);
        if let Some(key) = misplaced {
            return Err(source.error(
                key.span(),
                format!(
                    "`{}` is a parameter of {name}; write it inside params, like params = {{ {} = ... }}",
                    key.get_ref(),
                    key.get_ref()
                ),
            ));
        }
        let block_name = format!("agents block {number} ({name})");
        let table = Table::from_entries(
            source,
            block_name.clone(),
            entry.span(),
            entry_entries,
            AGENT_BLOCK_KEYS,
        )?;
        let cells: Vec<CellIndex> = match (table.get("count"), table.get("cells")) {
            (Some(_), Some(cells_value)) => {
                return Err(source.error(
                    cells_value.span(),
                    format!("{block_name} takes count or cells, not both"),
                ));
            }
            (None, None) => {
                return Err(source.error(
                    entry.span(),
                    format!(
                        "{block_name} needs count = N (the first N cells without an agent) or cells = \"0..10\" (a cell group)"
                    ),
                ));
            }
            (Some(count_value), None) => {
                let count = integer(source, "count", count_value, 1, i64::from(cell_count))? as u32;
                if count > free_count {
                    return Err(source.error(
                        count_value.span(),
                        format!(
                            "{block_name} asks for {count} agents, but only {free_count} of the {cell_count} cells are without one (earlier [[agents]] blocks hold the rest); a cell hosts at most one agent"
                        ),
                    ));
                }
                (0..cell_count)
                    .filter(|&cell| block_of_cell[cell as usize] == NO_BLOCK)
                    .take(count as usize)
                    .collect()
            }
            (None, Some(cells_value)) => {
                let cells = cell_group(source, "cells", cells_value, cell_count)?;
                if let Some(&cell) = cells
                    .iter()
                    .find(|&&cell| block_of_cell[cell as usize] != NO_BLOCK)
                {
                    let owner = block_of_cell[cell as usize] as usize;
                    return Err(source.error(
                        cells_value.span(),
                        format!(
                            "{block_name}: cell {cell} already hosts the agent of agents block {} ({}); a cell hosts at most one agent",
                            owner + 1,
                            blocks[owner].kind.name()
                        ),
                    ));
                }
                cells
            }
        };
        for &cell in &cells {
            block_of_cell[cell as usize] = index as u32;
        }
        free_count -= cells.len() as u32;
        let rate = match table.get("rate") {
            // One wake a second.
            None => Rate {
                count: 1,
                per_ns: NS_PER_S,
            },
            Some(rate_value) => {
                let parsed = rate(source, "rate", rate_value)?;
                if parsed.is_zero() {
                    return Err(source.error(
                        rate_value.span(),
                        "rate must be more than 0 (an agent that never wakes does nothing)",
                    ));
                }
                parsed
            }
        };
        let params = Params {
            source,
            name,
            name_span: name_value.span(),
            table: match table.get("params") {
                None => None,
                Some(params_value) => Some(Table::open(
                    source,
                    format!("the params of {block_name}"),
                    params_value,
                    params_allowed,
                )?),
            },
            span: table
                .get("params")
                .map_or(entry.span(), |params| params.span()),
        };
        let params = parse_agent_params(&params, kind, markets)?;
        blocks.push(AgentBlock {
            kind,
            cells,
            rate,
            params,
        });
    }
    Ok(blocks)
}

/// A kind's `params`, checked and with every default filled in.
fn parse_agent_params(
    params: &Params<'_, '_>,
    kind: AgentKind,
    markets: Option<&Markets>,
) -> Result<AgentParams> {
    let source = params.source;
    let tokens: &[String] = markets.map_or(&[], |markets| &markets.tokens);
    let quantity = |key: &str, default: u64| -> Result<u64> {
        Ok(params.integer(key, 1, QUANTITY_MAX as i64, default as i64)? as u64)
    };
    let price = |key: &str, default: u64| -> Result<u64> {
        Ok(params.integer(key, 1, PRICE_MAX as i64, default as i64)? as u64)
    };
    let fraction = |key: &str, default_ppm: u32| -> Result<u32> {
        params
            .get(key)
            .map_or(Ok(default_ppm), |value| fraction_ppm(source, key, value))
    };
    // The exchange token an exchange kind trades: an index into `tokens`.
    let token = || -> Result<u16> {
        if tokens.is_empty() {
            return Err(source.error(
                params.name_span.clone(),
                format!(
                    "{} agents trade on the exchange, and there is none; list its tokens in [markets] tokens = [\"data-credit\"]",
                    params.name
                ),
            ));
        }
        let Some(token_value) = params.get("token") else {
            return Ok(0);
        };
        let allowed = format!(
            "token must be the index of one of [markets] tokens, 0 to {} ({})",
            tokens.len() - 1,
            tokens.join(", ")
        );
        let out_of_range =
            |got: String| source.error(token_value.span(), format!("{allowed}, got {got}"));
        match token_value.get_ref() {
            DeValue::Integer(integer) => {
                match i64::from_str_radix(integer.as_str(), integer.radix()) {
                    Ok(index) if (0..tokens.len() as i64).contains(&index) => Ok(index as u16),
                    _ => Err(out_of_range(integer.to_string())),
                }
            }
            _ => Err(out_of_range(describe(token_value))),
        }
    };
    Ok(match kind {
        AgentKind::NoiseTrader => AgentParams::NoiseTrader(NoiseTraderParams {
            token: token()?,
            quantity_max: quantity("quantity_max", 10)?,
            limit_share_ppm: fraction("limit_share", 700_000)?,
            price_range_ppm: fraction("price_range", 50_000)?,
        }),
        AgentKind::MarketMaker => AgentParams::MarketMaker(MarketMakerParams {
            token: token()?,
            spread: price("spread", 4)?,
            quantity: quantity("quantity", 10)?,
            inventory_max: params.integer("inventory_max", 0, QUANTITY_MAX as i64, 200)? as u64,
        }),
        AgentKind::Momentum => AgentParams::Momentum(MomentumParams {
            token: token()?,
            lookback: params.integer("lookback", 1, i64::from(LOOKBACK_WAKES_MAX), 5)? as u32,
            quantity: quantity("quantity", 5)?,
            threshold_ppm: fraction("threshold", 10_000)?,
        }),
        AgentKind::Value => {
            let token = token()?;
            let fundamental = match params.get("fundamental") {
                Some(value) => integer(source, "fundamental", value, 1, PRICE_MAX as i64)? as u64,
                None => markets
                    .and_then(|markets| markets.fundamental[usize::from(token)])
                    .ok_or_else(|| {
                        source.error(
                            params.span.clone(),
                            format!(
                                "value agents need a fundamental price for token {token} ({}): set params = {{ fundamental = 100 }} or [markets] fundamental",
                                tokens[usize::from(token)]
                            ),
                        )
                    })?,
            };
            AgentParams::Value(ValueParams {
                token,
                fundamental,
                threshold_ppm: fraction("threshold", 20_000)?,
                quantity: quantity("quantity", 5)?,
            })
        }
        AgentKind::ComputeProvider => AgentParams::ComputeProvider(ComputeProviderParams {
            units: quantity("units", 100)?,
            price: price("price", 2)?,
            collateral: params.integer("collateral", 0, PRICE_MAX as i64, 10_000)? as u64,
        }),
        AgentKind::StorageProvider => AgentParams::StorageProvider(StorageProviderParams {
            blocks: quantity("blocks", 64)?,
            price: price("price", 1)?,
            collateral: params.integer("collateral", 0, PRICE_MAX as i64, 10_000)? as u64,
        }),
        AgentKind::Consumer => AgentParams::Consumer(ConsumerParams {
            market: match params.choice("market", &["compute", "storage"])? {
                "compute" => LeaseMarket::Compute,
                _ => LeaseMarket::Storage,
            },
            amount: quantity("amount", 10)?,
            intervals: params.integer("intervals", 1, i64::from(LEASE_INTERVALS_MAX), 10)? as u32,
            price_max: price("price_max", 5)?,
            trust_min_ppm: fraction("trust_min", 0)?,
            work: params.integer("work", 1, i64::from(EXEC_WORK_MAX), 1_000)? as u32,
            exec_timeout_ns: params.duration("exec_timeout", 3 * NS_PER_S)?,
        }),
        AgentKind::FrontRunner => AgentParams::FrontRunner(FrontRunnerParams {
            token: token()?,
            quantity_min: quantity("quantity_min", 10)?,
            quantity: quantity("quantity", 10)?,
        }),
    })
}

/// `[consensus] stake = "prana"`: every cell's stake is its genesis PRANA,
/// which must be more than 0 for each, and fit in `u64` all together.
/// `[cells] stake` then has no meaning and is an error.
fn check_stake(
    source: &Source<'_>,
    root: &Table<'_, '_>,
    cells: &Cells,
    consensus: &Consensus,
    markets: Option<&Markets>,
) -> Result<()> {
    if consensus.stake != StakeRule::Prana {
        return Ok(());
    }
    if let Some(span) = root
        .get("cells")
        .and_then(|cells_value| key_span(cells_value, "stake"))
    {
        return Err(source.error(
            span,
            "[cells] stake applies only with [consensus] stake = \"equal\"; with \"prana\" each cell's stake is its genesis PRANA",
        ));
    }
    let stake_span = root
        .get("consensus")
        .and_then(|consensus_value| key_span(consensus_value, "stake"))
        .unwrap_or(0..0);
    let mut prana = vec![cells.genesis_balance; cells.count as usize];
    for block in markets.map_or(&[][..], |markets| &markets.genesis[..]) {
        for &cell in &block.cells {
            prana[cell as usize] = block.prana;
        }
    }
    if let Some(cell) = prana.iter().position(|&balance| balance == 0) {
        return Err(source.error(
            stake_span,
            format!(
                "stake = \"prana\" gives cell {cell} stake 0 (it holds no PRANA at genesis); every member needs stake above 0: give it PRANA in [cells] genesis_balance or a [[markets.genesis]] block"
            ),
        ));
    }
    if prana
        .iter()
        .try_fold(0u64, |total, &balance| total.checked_add(balance))
        .is_none()
    {
        return Err(source.error(
            stake_span,
            format!(
                "stake = \"prana\": the cells' genesis PRANA adds up to more than {}, the most total stake can be",
                u64::MAX
            ),
        ));
    }
    Ok(())
}
