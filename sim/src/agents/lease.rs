//! The lease kinds: compute-provider, storage-provider and consumer
//! (behaviours in the parent module's docs).

use std::collections::BTreeSet;

use super::{AgentAction, EXEC_FAILURES_MAX, LeaseMarket, MarketView};
use crate::scenario::{ComputeProviderParams, ConsumerParams, StorageProviderParams};

pub(super) fn compute_provider(
    params: &ComputeProviderParams,
    view: &dyn MarketView,
) -> Vec<AgentAction> {
    if view.my_offers(LeaseMarket::Compute).is_empty() && view.prana_free() >= params.collateral {
        vec![AgentAction::ComputeOffer {
            units: params.units,
            price_per_unit: params.price,
            collateral: params.collateral,
        }]
    } else {
        Vec::new()
    }
}

pub(super) fn storage_provider(
    params: &StorageProviderParams,
    view: &dyn MarketView,
) -> Vec<AgentAction> {
    if view.my_offers(LeaseMarket::Storage).is_empty() && view.prana_free() >= params.collateral {
        vec![AgentAction::StorageOffer {
            blocks: params.blocks,
            price_per_block: params.price,
            collateral: params.collateral,
        }]
    } else {
        Vec::new()
    }
}

pub(super) fn consumer(
    params: &ConsumerParams,
    view: &dyn MarketView,
    timeouts_in_a_row: &mut u32,
    given_up: &mut BTreeSet<u32>,
) -> Vec<AgentAction> {
    let home = view.home();
    let lease = view
        .my_leases()
        .into_iter()
        .filter(|lease| lease.consumer == home && lease.market == params.market)
        .min_by_key(|lease| lease.id);
    let Some(lease) = lease else {
        *timeouts_in_a_row = 0;
        return cheapest_offer(params, view, given_up)
            .map(|offer| AgentAction::Lease {
                market: params.market,
                offer,
                amount: params.amount,
                intervals: params.intervals,
            })
            .into_iter()
            .collect();
    };
    if params.market == LeaseMarket::Storage {
        return Vec::new();
    }
    let timed_out = view
        .exec_unanswered_ns(lease.provider)
        .is_some_and(|age_ns| age_ns >= params.exec_timeout_ns);
    if !timed_out {
        *timeouts_in_a_row = 0;
        return vec![AgentAction::Exec {
            provider: lease.provider,
            lease: lease.id,
            work: params.work,
        }];
    }
    *timeouts_in_a_row += 1;
    if *timeouts_in_a_row < EXEC_FAILURES_MAX {
        return Vec::new();
    }
    *timeouts_in_a_row = 0;
    given_up.insert(lease.provider);
    vec![AgentAction::EndLease { lease: lease.id }]
}

/// The id of the cheapest acceptable offer, ties to the lowest id.
fn cheapest_offer(
    params: &ConsumerParams,
    view: &dyn MarketView,
    given_up: &BTreeSet<u32>,
) -> Option<u64> {
    let home = view.home();
    let budget = u128::from(view.prana_free());
    view.offers(params.market)
        .into_iter()
        .filter(|offer| {
            let cost =
                u128::from(offer.price) * u128::from(params.amount) * u128::from(params.intervals);
            offer.provider != home
                && !given_up.contains(&offer.provider)
                && offer.free >= params.amount
                && offer.price <= params.price_max
                && cost <= budget
                && view.trust_ppm(offer.provider) >= params.trust_min_ppm
        })
        .min_by_key(|offer| (offer.price, offer.id))
        .map(|offer| offer.id)
}
