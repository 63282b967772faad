//! The "Markets" section of `report.md`: the exchange per token, the lease
//! markets, the agents' PnL by kind and the best and worst agents, slashing
//! events and ledger invariant violations.

use std::fmt::Write;

use crate::checks::format_ms;
use crate::markdown::{LISTED_VIOLATIONS_MAX, cell, or_na};
use crate::market::{AgentMetrics, LEASE_SLASHED, MarketMetrics, MarketRecord};

/// Agents listed at each end of the PnL ranking; with at most twice this
/// many agents, all are listed in one table.
pub const LISTED_AGENTS_MAX: usize = 5;

/// Parts per million as a percentage with two decimals, truncated.
pub fn format_ppm_percent(ppm: u64) -> String {
    format!("{}.{:02} %", ppm / 10_000, (ppm % 10_000) / 100)
}

fn or_none<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| v.to_string())
}

fn agents_table(out: &mut String, agents: &[&AgentMetrics]) {
    let _ = writeln!(
        out,
        "| Cell | Kind | PnL (PRANA) | Final PRANA | Fees paid | TXs submitted | Rejected |\n\
         |---|---|---|---|---|---|---|"
    );
    for agent in agents {
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} | {} | {} | {} |",
            agent.cell,
            if agent.byzantine { " (Byzantine)" } else { "" },
            cell(&agent.kind),
            agent.pnl_prana,
            agent.final_prana,
            agent.fees_paid,
            agent.txs_submitted,
            agent.txs_rejected
        );
    }
    let _ = writeln!(out);
}

/// Appends the section to `out`.
pub fn render_market_section(out: &mut String, markets: &MarketRecord, metrics: &MarketMetrics) {
    let _ = writeln!(out, "## Markets\n");
    let _ = writeln!(
        out,
        "{} agent(s), {} exchange token(s), {} market round(s). Prices are PRANA per unit; \
         definitions: docs/metrics.md \"Markets\".\n",
        metrics.agents.len(),
        metrics.tokens.len(),
        markets.rounds.len()
    );

    let _ = writeln!(out, "### Exchange\n");
    if metrics.tokens.is_empty() {
        let _ = writeln!(out, "The exchange lists no token.\n");
    } else {
        let _ = writeln!(
            out,
            "| Token | Trades | Volume (units) | Volume (PRANA) | VWAP | Last mid | \
             Spread p50 / p90 | Fill rate | Time to fill p50 / p99 | Distance to fundamental p50 |\n\
             |---|---|---|---|---|---|---|---|---|---|"
        );
        for token in &metrics.tokens {
            let fundamental = match (token.fundamental, token.fundamental_distance_ppm_p50) {
                (Some(value), Some(ppm)) => format!("{ppm} ppm (of {value})"),
                (Some(value), None) => format!("n/a (of {value})"),
                (None, _) => "no fundamental".to_string(),
            };
            let time_to_fill = [token.time_to_fill_ns_p50, token.time_to_fill_ns_p99]
                .map(|value| value.map_or_else(|| "n/a".to_string(), format_ms))
                .join(" / ");
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} |",
                cell(&token.name),
                token.trades,
                token.volume_units,
                token.volume_prana,
                or_na(token.vwap, 3),
                or_na(token.last_mid, 1),
                or_none(token.spread_p50),
                or_none(token.spread_p90),
                or_na(token.fill_rate, 4),
                time_to_fill,
                fundamental
            );
        }
        let _ = writeln!(out);
        let without_tx: u64 = metrics
            .tokens
            .iter()
            .map(|token| token.orders_without_tx)
            .sum();
        if without_tx > 0 {
            let _ = writeln!(
                out,
                "{without_tx} filled order(s) name a TX the record does not know: left out of \
                 time to fill.\n"
            );
        }
    }

    let _ = writeln!(out, "### Lease markets\n");
    if metrics.lease_markets.is_empty() {
        let _ = writeln!(out, "No lease market reported activity.\n");
    } else {
        let _ = writeln!(
            out,
            "| Market | Opened | Payments | Settled | Slashed | Ended | Escrowed (PRANA) | \
             Paid (PRANA) | Slashed (PRANA) | Mean utilisation |\n\
             |---|---|---|---|---|---|---|---|---|---|"
        );
        for market in &metrics.lease_markets {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&market.market),
                market.leases_opened,
                market.payments,
                market.leases_settled,
                market.leases_slashed,
                market.leases_ended,
                market.prana_escrowed,
                market.prana_paid,
                market.prana_slashed,
                market
                    .utilisation_ppm_mean
                    .map_or_else(|| "n/a".to_string(), format_ppm_percent)
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "### Agents\n");
    if metrics.agents.is_empty() {
        let _ = writeln!(out, "No market agent.\n");
    } else {
        let _ = writeln!(
            out,
            "PnL = value at the end − value at the start, each PRANA plus token holdings at \
             the run's mark prices.\n"
        );
        let _ = writeln!(
            out,
            "| Kind | Agents | Byzantine | PnL sum | PnL median | PnL min | PnL max | Fees paid | \
             Rejected |\n|---|---|---|---|---|---|---|---|---|"
        );
        for kind in &metrics.agent_kinds {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&kind.kind),
                kind.agents,
                kind.byzantine_agents,
                kind.pnl_prana_sum,
                kind.pnl_prana_p50,
                kind.pnl_prana_min,
                kind.pnl_prana_max,
                kind.fees_paid,
                kind.txs_rejected
            );
        }
        let _ = writeln!(out);
        // Highest PnL first; ties by cell.
        let mut ranked: Vec<&AgentMetrics> = metrics.agents.iter().collect();
        ranked.sort_by(|a, b| b.pnl_prana.cmp(&a.pnl_prana).then(a.cell.cmp(&b.cell)));
        if ranked.len() <= 2 * LISTED_AGENTS_MAX {
            let _ = writeln!(out, "All agents, highest PnL first:\n");
            agents_table(out, &ranked);
        } else {
            let _ = writeln!(out, "Highest PnL:\n");
            agents_table(out, &ranked[..LISTED_AGENTS_MAX]);
            let _ = writeln!(out, "Lowest PnL:\n");
            let mut lowest: Vec<&AgentMetrics> =
                ranked[ranked.len() - LISTED_AGENTS_MAX..].to_vec();
            lowest.reverse();
            agents_table(out, &lowest);
        }
        if let Some(front) = &metrics.front_running {
            let _ = writeln!(
                out,
                "Front-running: {} front-runner(s) made a mean PnL of {} PRANA; the other {} \
                 agent(s), {} (advantage {}).\n",
                front.front_runners,
                or_na(Some(front.front_runner_pnl_prana_mean), 3),
                front.other_agents,
                or_na(front.other_pnl_prana_mean, 3),
                or_na(front.advantage_pnl_prana, 3)
            );
        }
    }
    let _ = writeln!(
        out,
        "Fees: agents paid {} PRANA; the fee pool paid out {} and held {} at the end; {} PRANA \
         burned.\n",
        metrics.fees_paid, metrics.fee_payouts, metrics.fee_pool_final, metrics.burned_final
    );
    if !metrics.rejections.is_empty() {
        let _ = writeln!(
            out,
            "The ledger refused these ordered items:\n\n| Reason | Count |\n|---|---|"
        );
        for (reason, count) in &metrics.rejections {
            let _ = writeln!(out, "| {} | {count} |", cell(reason));
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "### Slashing\n");
    let slashings: Vec<_> = markets
        .rounds
        .iter()
        .flat_map(|round| {
            round
                .leases
                .iter()
                .filter(|lease| lease.event == LEASE_SLASHED)
                .map(move |lease| (round.round, lease))
        })
        .collect();
    if slashings.is_empty() {
        let _ = writeln!(out, "No provider was slashed.\n");
    } else {
        for (round, lease) in slashings.iter().take(LISTED_VIOLATIONS_MAX) {
            let provider = lease
                .provider
                .map_or_else(|| "a non-cell account".to_string(), |p| format!("cell {p}"));
            let _ = writeln!(
                out,
                "- round {round}: {} lease {}, provider {provider}, {} PRANA slashed: {}",
                cell(&lease.market),
                lease.lease,
                lease.amount,
                cell(lease.reason.as_deref().unwrap_or("no reason given"))
            );
        }
        if slashings.len() > LISTED_VIOLATIONS_MAX {
            let _ = writeln!(
                out,
                "- … and {} more",
                slashings.len() - LISTED_VIOLATIONS_MAX
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "### Ledger invariants\n");
    if markets.violations.is_empty() {
        let _ = writeln!(out, "None reported broken.\n");
    } else {
        let _ = writeln!(
            out,
            "**{} report(s) of a broken ledger or market invariant.**\n\n\
             | Invariant | Reports |\n|---|---|",
            metrics.violations_total
        );
        for (invariant, count) in &metrics.violations {
            let _ = writeln!(out, "| {} | {count} |", cell(invariant));
        }
        let _ = writeln!(out);
        for violation in markets.violations.iter().take(LISTED_VIOLATIONS_MAX) {
            let _ = writeln!(
                out,
                "- cell {}, round {} ({}): {}: {}",
                violation.cell,
                violation.round,
                format_ms(violation.time_ns),
                cell(&violation.invariant),
                cell(&violation.detail)
            );
        }
        if markets.violations.len() > LISTED_VIOLATIONS_MAX {
            let _ = writeln!(
                out,
                "- … and {} more",
                markets.violations.len() - LISTED_VIOLATIONS_MAX
            );
        }
        let _ = writeln!(out);
    }
}
