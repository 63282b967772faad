//! The network adversary: scripted control of named links (issue #9).
//!
//! Some Byzantine behaviours act on the traffic *between other cells* rather
//! than on a cell's own inputs and outputs: an `eclipse` coalition that
//! surrounds its victims, an adversarial scheduler (`delay`) that holds what
//! crosses the links it controls. Those cannot be node wrappers — the
//! messages never reach a Byzantine node — so they live here, in the
//! environment, as a [`NetworkAdversary`]: an ordered list of [`LinkRule`]s,
//! each naming the directed links it controls (`from` and `to` [`CellSet`]s),
//! a window of true virtual time and a [`LinkAction`] (drop, or delay by a
//! fixed amount).
//!
//! # Judging a message
//! [`NetworkAdversary::judge`] looks at one message `from → to` sent at
//! `send_ns` and returns the first rule, in list order, whose window holds
//! `send_ns` (`from_ns ≤ send_ns < until_ns`, no `until_ns` = to the end of
//! the run) and whose sets hold both ends. Later rules never see a message an
//! earlier one matched. A message a cell sends itself crosses no link and is
//! never judged. The adversary is a pure function of the rule list: it draws
//! no randomness and keeps no state, so it cannot shift any other
//! component's random stream.
//!
//! # Where it sits on a link
//! The engine (`Simulation::send`) judges a message after the network has
//! routed it, i.e. between the sender's transmitter and the receiver:
//! - a message the network already dropped (partition, cut, loss, queue
//!   overflow) is counted under that reason and never judged;
//! - [`LinkAction::Drop`]: the message (and a network duplicate of it, if
//!   any) never arrives; it is counted once as
//!   [`DropReason::Adversary`](crate::metrics::DropReason::Adversary) on its
//!   link, so `sent + duplicated = delivered + dropped + in flight` still
//!   holds. It did leave the sender: it used the link's bandwidth and queue.
//! - [`LinkAction::Delay`]: the adversary holds the message `extra_ns` past
//!   the time the network would have delivered it (a duplicate copy too) and
//!   counts it once in `MessageCounters::adversary_delayed`. The hold is
//!   outside the link's transmitter: it takes no bandwidth and no room under
//!   the queue limit, and serialization is unchanged. Messages held by one
//!   rule keep the order the network gave them (the same constant is added
//!   to every arrival: with a bandwidth and a constant latency that is the
//!   link's FIFO order; with jitter, the network's own reordering, shifted).
//!   Where the held traffic meets unheld traffic on one link — at the
//!   window's edges, when a message sent just after `until_ns` overtakes one
//!   held just before it — messages may be reordered, as a scheduler that
//!   releases held messages would reorder them.
//! - A held message still meets the engine's arrival-time checks: a
//!   partition or cut that begins during the hold drops it (counted under
//!   that reason), and a receiver crashed at its arrival loses it.
//!
//! Because routing draws from the sender's network stream exactly as it would
//! without an adversary, an adversary whose rules match nothing leaves a run
//! bit-identical to one without it, and an empty adversary costs one branch
//! per routed message.
//!
//! # Rules from a scenario
//! `Scenario::network_adversary` (in `scenario/convert.rs`) turns each
//! `eclipse` and `delay` behaviour block, in file order, into rules; see
//! there for the exact expansion. [`NetworkAdversary::describe`] gives one
//! line per rule for reports.

use celluler_core::node::CellIndex;
use celluler_core::time::TimeNs;

use crate::scenario::{format_cells, format_duration};

/// A set of cells: the listed ones, or every cell but the listed ones.
/// Membership is a binary search in one sorted, duplicate-free list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CellSet {
    /// Sorted, without duplicates.
    cells: Vec<u32>,
    /// `true`: the set is every cell *not* in `cells`.
    complement: bool,
}

impl CellSet {
    /// Every cell.
    pub fn any() -> CellSet {
        CellSet {
            cells: Vec::new(),
            complement: true,
        }
    }

    /// Exactly these cells (in any order, duplicates ignored).
    pub fn only(cells: impl IntoIterator<Item = u32>) -> CellSet {
        CellSet {
            cells: sorted(cells),
            complement: false,
        }
    }

    /// Every cell except these.
    pub fn all_but(cells: impl IntoIterator<Item = u32>) -> CellSet {
        CellSet {
            cells: sorted(cells),
            complement: true,
        }
    }

    #[inline]
    pub fn contains(&self, cell: CellIndex) -> bool {
        self.cells.binary_search(&cell.0).is_ok() != self.complement
    }

    /// The listed cells, ascending: the members, or with
    /// [`CellSet::is_complement`] the cells left out.
    pub fn listed(&self) -> &[u32] {
        &self.cells
    }

    /// Whether the set is every cell but [`CellSet::listed`].
    pub fn is_complement(&self) -> bool {
        self.complement
    }

    /// `any cell`, `no cell`, `0, 3..5`, `any cell but 12..16`.
    pub fn describe(&self) -> String {
        match (self.complement, self.cells.is_empty()) {
            (true, true) => "any cell".to_string(),
            (true, false) => format!("any cell but {}", format_cells(&self.cells)),
            (false, true) => "no cell".to_string(),
            (false, false) => format_cells(&self.cells),
        }
    }
}

fn sorted(cells: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let mut cells: Vec<u32> = cells.into_iter().collect();
    cells.sort_unstable();
    cells.dedup();
    cells
}

/// What a rule does to a message it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    /// The message never arrives.
    Drop,
    /// The message arrives `extra_ns` later than the network would deliver it.
    Delay { extra_ns: TimeNs },
}

/// The adversary's control of the directed links `from → to` (every `from`
/// in one set to every `to` in the other) during `from_ns .. until_ns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRule {
    /// The behaviour it comes from: `"eclipse"` or `"delay"`.
    pub name: &'static str,
    pub from: CellSet,
    pub to: CellSet,
    /// The window opens here (a message sent at `from_ns` is judged).
    pub from_ns: TimeNs,
    /// The window closes here (excluded); `None` = the end of the run.
    pub until_ns: Option<TimeNs>,
    pub action: LinkAction,
}

impl LinkRule {
    /// Whether the window holds `send_ns`.
    #[inline]
    pub fn is_active_at(&self, send_ns: TimeNs) -> bool {
        send_ns >= self.from_ns && self.until_ns.is_none_or(|until_ns| send_ns < until_ns)
    }

    /// Whether the rule controls `from → to` at `send_ns`.
    #[inline]
    pub fn matches(&self, from: CellIndex, to: CellIndex, send_ns: TimeNs) -> bool {
        self.is_active_at(send_ns) && self.to.contains(to) && self.from.contains(from)
    }

    /// One line for a report:
    /// `eclipse: 3 victims (0..3) hear only 12..16, dropping the rest, 5s..40s`,
    /// `delay: messages from 12..16 to 2 cells (1, 4) held 300ms, 0s..end`.
    pub fn describe(&self) -> String {
        let window = format!(
            "{}..{}",
            format_duration(self.from_ns),
            self.until_ns
                .map_or_else(|| "end".to_string(), format_duration)
        );
        // The eclipse shape: the victims hear only the cells left out of `from`.
        if self.from.is_complement() && !self.from.listed().is_empty() && !self.to.is_complement() {
            let count = self.to.listed().len();
            let victims = format!(
                "{count} {} ({})",
                if count == 1 { "victim" } else { "victims" },
                self.to.describe()
            );
            let heard = format_cells(self.from.listed());
            let action = match self.action {
                LinkAction::Drop => "dropping the rest".to_string(),
                LinkAction::Delay { extra_ns } => {
                    format!("delaying the rest {}", format_duration(extra_ns))
                }
            };
            return format!(
                "{}: {victims} hear only {heard}, {action}, {window}",
                self.name
            );
        }
        let to = if self.to.is_complement() {
            self.to.describe()
        } else {
            let count = self.to.listed().len();
            format!(
                "{count} {} ({})",
                if count == 1 { "cell" } else { "cells" },
                self.to.describe()
            )
        };
        let action = match self.action {
            LinkAction::Drop => "dropped".to_string(),
            LinkAction::Delay { extra_ns } => format!("held {}", format_duration(extra_ns)),
        };
        format!(
            "{}: messages from {} to {to} {action}, {window}",
            self.name,
            self.from.describe()
        )
    }
}

/// The scripted network adversary: rules judged in list order, the first
/// match wins. The default has no rules and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkAdversary {
    rules: Vec<LinkRule>,
}

impl NetworkAdversary {
    pub fn new(rules: Vec<LinkRule>) -> NetworkAdversary {
        NetworkAdversary { rules }
    }

    /// Adds a rule after every existing one (it sees only what they pass).
    pub fn push(&mut self, rule: LinkRule) {
        self.rules.push(rule);
    }

    pub fn rules(&self) -> &[LinkRule] {
        &self.rules
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first rule, in list order, that controls `from → to` at `send_ns`:
    /// its index and action. `None` for a message a cell sends itself.
    #[inline]
    pub fn judge(
        &self,
        from: CellIndex,
        to: CellIndex,
        send_ns: TimeNs,
    ) -> Option<(usize, LinkAction)> {
        if from == to {
            return None;
        }
        self.rules
            .iter()
            .position(|rule| rule.matches(from, to, send_ns))
            .map(|index| (index, self.rules[index].action))
    }

    /// One line per rule, in judging order (see [`LinkRule::describe`]).
    pub fn describe(&self) -> Vec<String> {
        self.rules.iter().map(LinkRule::describe).collect()
    }

    /// Checks every rule against a world of `cells` cells: listed cells
    /// exist, windows are non-empty, delays positive. The error names the
    /// rule by its index.
    pub fn validate(&self, cells: u32) -> Result<(), String> {
        for (index, rule) in self.rules.iter().enumerate() {
            let error = |reason: String| Err(format!("rule {index} ({}): {reason}", rule.name));
            for set in [&rule.from, &rule.to] {
                if let Some(&cell) = set.listed().iter().find(|&&cell| cell >= cells) {
                    return error(format!("cell {cell} does not exist ({cells} cells)"));
                }
                if !set.listed().windows(2).all(|pair| pair[0] < pair[1]) {
                    return error("cell list not sorted and distinct".to_string());
                }
            }
            if let Some(until_ns) = rule.until_ns.filter(|&until_ns| until_ns <= rule.from_ns) {
                return error(format!(
                    "window closes at {until_ns} ns, not after it opens at {} ns",
                    rule.from_ns
                ));
            }
            if rule.action == (LinkAction::Delay { extra_ns: 0 }) {
                return error("a delay must be > 0 ns".to_string());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use celluler_core::time::NS_PER_S;

    fn cell(index: u32) -> CellIndex {
        CellIndex(index)
    }

    fn eclipse(coalition: &[u32], victims: &[u32], action: LinkAction) -> LinkRule {
        LinkRule {
            name: "eclipse",
            from: CellSet::all_but(coalition.iter().copied()),
            to: CellSet::only(victims.iter().copied()),
            from_ns: 5 * NS_PER_S,
            until_ns: Some(40 * NS_PER_S),
            action,
        }
    }

    #[test]
    fn sets_are_sorted_lists_or_their_complements() {
        let set = CellSet::only([7, 3, 3, 5]);
        assert_eq!(set.listed(), &[3, 5, 7]);
        assert!(set.contains(cell(5)) && !set.contains(cell(4)));
        let set = CellSet::all_but([9, 1]);
        assert!(!set.contains(cell(1)) && set.contains(cell(2)) && !set.contains(cell(9)));
        assert!(CellSet::any().contains(cell(u32::MAX)));
        assert!(!CellSet::only([]).contains(cell(0)));
        assert!(!CellSet::default().contains(cell(0)), "default is empty");
    }

    /// Table: (from, to, send time in s) → the judgement.
    #[test]
    fn the_first_matching_rule_in_list_order_wins() {
        let hold = LinkAction::Delay {
            extra_ns: NS_PER_S / 2,
        };
        let adversary = NetworkAdversary::new(vec![
            eclipse(&[12, 13], &[0, 1], LinkAction::Drop),
            LinkRule {
                name: "delay",
                from: CellSet::any(),
                to: CellSet::only([1, 2]),
                from_ns: 0,
                until_ns: None,
                action: hold,
            },
        ]);
        let table = [
            // Before the eclipse window: only the delay rule, for 1 and 2.
            ((3, 1, 4), Some((1, hold))),
            ((3, 0, 4), None),
            // Inside it: victims hear the coalition only...
            ((3, 0, 5), Some((0, LinkAction::Drop))),
            ((1, 0, 5), Some((0, LinkAction::Drop))),
            ((12, 0, 5), None),
            // ...the coalition's messages to 1 pass the eclipse, then meet
            // the delay rule, which sees only what the eclipse passed.
            ((13, 1, 39), Some((1, hold))),
            ((3, 1, 39), Some((0, LinkAction::Drop))),
            // The victims' own messages out are not judged by the eclipse.
            ((0, 3, 10), None),
            // A cell's message to itself crosses no link.
            ((1, 1, 10), None),
            // The window closes at 40 s (excluded).
            ((3, 0, 40), None),
            ((3, 1, 40), Some((1, hold))),
        ];
        for ((from, to, send_s), expected) in table {
            assert_eq!(
                adversary.judge(cell(from), cell(to), send_s * NS_PER_S),
                expected,
                "{from} → {to} at {send_s}s"
            );
        }
        assert_eq!(NetworkAdversary::default().judge(cell(3), cell(0), 0), None);
    }

    #[test]
    fn rules_describe_themselves_one_line_each() {
        let mut adversary = NetworkAdversary::default();
        adversary.push(eclipse(&[12, 13, 14, 15], &[0, 1, 2], LinkAction::Drop));
        adversary.push(eclipse(
            &[9],
            &[4],
            LinkAction::Delay {
                extra_ns: 2 * NS_PER_S,
            },
        ));
        adversary.push(LinkRule {
            name: "delay",
            from: CellSet::only([12, 13]),
            to: CellSet::only([1, 4]),
            from_ns: 0,
            until_ns: None,
            action: LinkAction::Delay {
                extra_ns: 300_000_000,
            },
        });
        adversary.push(LinkRule {
            name: "delay",
            from: CellSet::any(),
            to: CellSet::only([]),
            from_ns: 0,
            until_ns: None,
            action: LinkAction::Drop,
        });
        assert_eq!(
            adversary.describe(),
            vec![
                "eclipse: 3 victims (0..3) hear only 12..16, dropping the rest, 5s..40s",
                "eclipse: 1 victim (4) hear only 9, delaying the rest 2s, 5s..40s",
                "delay: messages from 12..14 to 2 cells (1, 4) held 300ms, 0s..end",
                "delay: messages from any cell to 0 cells (no cell) dropped, 0s..end",
            ]
        );
    }

    #[test]
    fn validation_names_the_bad_rule() {
        let good = eclipse(&[3], &[0], LinkAction::Drop);
        assert_eq!(
            NetworkAdversary::new(vec![good.clone()]).validate(4),
            Ok(())
        );
        let check = |rule: LinkRule| {
            NetworkAdversary::new(vec![good.clone(), rule])
                .validate(4)
                .unwrap_err()
        };
        let missing = check(eclipse(&[3], &[4], LinkAction::Drop));
        assert!(missing.starts_with("rule 1 (eclipse): cell 4"), "{missing}");
        let empty_window = check(LinkRule {
            until_ns: Some(5 * NS_PER_S),
            ..good.clone()
        });
        assert!(empty_window.contains("window"), "{empty_window}");
        let no_delay = check(LinkRule {
            action: LinkAction::Delay { extra_ns: 0 },
            ..good.clone()
        });
        assert!(no_delay.contains("> 0 ns"), "{no_delay}");
    }
}
