//! The exchange kinds: noise-trader, market-maker, momentum, value and
//! front-runner (behaviours in the parent module's docs).

use std::collections::VecDeque;

use celluler_core::rng::{self, DetRng};

use super::{AgentAction, MarketView, PPM, REFERENCE_PRICE_DEFAULT, Side, share_of};
use crate::scenario::{
    FrontRunnerParams, MarketMakerParams, MomentumParams, NoiseTraderParams, ValueParams,
};

/// The token's reference price: last trade, else mid, else fundamental,
/// else the one best price there is, else [`REFERENCE_PRICE_DEFAULT`].
pub(super) fn reference_price(view: &dyn MarketView, token: u16) -> u64 {
    if let Some(price) = view.last_trade_price(token) {
        return price;
    }
    match (view.best_bid(token), view.best_ask(token)) {
        // Without overflow: bid + (ask - bid) / 2, for bid <= ask.
        (Some(bid), Some(ask)) => bid.min(ask) + bid.abs_diff(ask) / 2,
        (bid, ask) => view
            .fundamental(token)
            .or(bid)
            .or(ask)
            .unwrap_or(REFERENCE_PRICE_DEFAULT),
    }
}

/// Tokens the home account holds: free, and resting in its asks.
pub(super) fn tokens_held(view: &dyn MarketView, token: u16) -> u64 {
    view.my_orders(token)
        .iter()
        .filter(|order| order.side == Side::Ask)
        .fold(view.token_free(token), |held, order| {
            held.saturating_add(order.quantity)
        })
}

/// An order of at most `quantity` that the view shows the agent can pay
/// for: a bid's PRANA (a market bid estimated at the best ask), an ask's
/// tokens. `None` when nothing fits, or a market order has no other side.
pub(super) fn funded_order(
    view: &dyn MarketView,
    token: u16,
    side: Side,
    price: Option<u64>,
    quantity: u64,
) -> Option<AgentAction> {
    let quantity = match side {
        Side::Bid => {
            let unit_price = price.or(view.best_ask(token))?.max(1);
            quantity.min(view.prana_free() / unit_price)
        }
        Side::Ask => {
            if price.is_none() && view.best_bid(token).is_none() {
                return None;
            }
            quantity.min(view.token_free(token))
        }
    };
    (quantity > 0).then_some(AgentAction::Order {
        token,
        side,
        price,
        quantity,
    })
}

pub(super) fn noise_trader(
    params: &NoiseTraderParams,
    view: &dyn MarketView,
    rng: &mut DetRng,
) -> Vec<AgentAction> {
    let token = params.token;
    let side = if rng::below(rng, 2) == 0 {
        Side::Bid
    } else {
        Side::Ask
    };
    let quantity = 1 + rng::below(rng, params.quantity_max);
    let is_limit = rng::below(rng, PPM) < u64::from(params.limit_share_ppm);
    let price = is_limit.then(|| {
        let reference = reference_price(view, token);
        let width = share_of(reference, u64::from(params.price_range_ppm));
        let low = reference.saturating_sub(width).max(1);
        let high = reference.saturating_add(width).max(low);
        low + rng::below(rng, (high - low).saturating_add(1).max(1))
    });
    funded_order(view, token, side, price, quantity)
        .into_iter()
        .collect()
}

pub(super) fn market_maker(
    params: &MarketMakerParams,
    view: &dyn MarketView,
    baseline: u64,
) -> Vec<AgentAction> {
    let token = params.token;
    let reference = reference_price(view, token);
    let bid_price = reference.saturating_sub(params.spread / 2).max(1);
    let ask_price = bid_price.saturating_add(params.spread);
    // Net position since the first wake; a quote that would, once filled,
    // take it past ± inventory_max is not made.
    let net = i128::from(tokens_held(view, token)) - i128::from(baseline);
    let quantity = i128::from(params.quantity);
    let limit = i128::from(params.inventory_max);
    let quote_bid = net + quantity <= limit;
    let quote_ask = net - quantity >= -limit;

    let mut orders = view.my_orders(token);
    orders.sort_by_key(|order| order.id);
    let mut actions = Vec::new();
    let (mut bid_kept, mut ask_kept) = (false, false);
    for order in &orders {
        let (wanted, price, kept) = match order.side {
            Side::Bid => (quote_bid, bid_price, &mut bid_kept),
            Side::Ask => (quote_ask, ask_price, &mut ask_kept),
        };
        if wanted && order.price == price && !*kept {
            *kept = true;
        } else {
            actions.push(AgentAction::Cancel {
                token,
                order: order.id,
            });
        }
    }
    // Funds of the orders cancelled above come back only once the cancels
    // are ordered; the new quotes are paid from what is free now.
    if quote_bid && !bid_kept {
        actions.extend(funded_order(
            view,
            token,
            Side::Bid,
            Some(bid_price),
            params.quantity,
        ));
    }
    if quote_ask && !ask_kept {
        actions.extend(funded_order(
            view,
            token,
            Side::Ask,
            Some(ask_price),
            params.quantity,
        ));
    }
    actions
}

/// Records this wake's last trade price, keeping `lookback + 1` of them.
pub(super) fn remember_price(
    params: &MomentumParams,
    view: &dyn MarketView,
    prices: &mut VecDeque<u64>,
) {
    if let Some(price) = view.last_trade_price(params.token) {
        prices.push_back(price);
        while prices.len() > params.lookback as usize + 1 {
            prices.pop_front();
        }
    }
}

pub(super) fn momentum(
    params: &MomentumParams,
    view: &dyn MarketView,
    prices: &VecDeque<u64>,
) -> Vec<AgentAction> {
    if prices.len() <= params.lookback as usize {
        return Vec::new();
    }
    let (Some(&earlier), Some(&latest)) = (prices.front(), prices.back()) else {
        return Vec::new();
    };
    let threshold = u128::from(params.threshold_ppm);
    let (latest, earlier) = (u128::from(latest), u128::from(earlier));
    let ppm = u128::from(PPM);
    let side = if latest * ppm > earlier * (ppm + threshold) {
        Side::Bid
    } else if latest * ppm < earlier * (ppm.saturating_sub(threshold)) {
        Side::Ask
    } else {
        return Vec::new();
    };
    funded_order(view, params.token, side, None, params.quantity)
        .into_iter()
        .collect()
}

pub(super) fn value(params: &ValueParams, view: &dyn MarketView) -> Vec<AgentAction> {
    let token = params.token;
    let ppm = u128::from(PPM);
    let threshold = u128::from(params.threshold_ppm);
    let fundamental = u128::from(params.fundamental);
    if let Some(ask) = view.best_ask(token)
        && u128::from(ask) * ppm < fundamental * ppm.saturating_sub(threshold)
    {
        return funded_order(view, token, Side::Bid, Some(ask), params.quantity)
            .into_iter()
            .collect();
    }
    if let Some(bid) = view.best_bid(token)
        && u128::from(bid) * ppm > fundamental * (ppm + threshold)
    {
        return funded_order(view, token, Side::Ask, Some(bid), params.quantity)
            .into_iter()
            .collect();
    }
    Vec::new()
}

pub(super) fn front_runner(
    params: &FrontRunnerParams,
    view: &dyn MarketView,
    baseline: u64,
) -> Vec<AgentAction> {
    let token = params.token;
    let excess = tokens_held(view, token).saturating_sub(baseline);
    if excess > 0 {
        // Sell what it bought (if no one bids, it holds on and waits).
        return funded_order(view, token, Side::Ask, None, excess)
            .into_iter()
            .collect();
    }
    let home = view.home();
    let victim = view.pending_orders().into_iter().any(|order| {
        order.sender != home
            && order.token == token
            && order.side == Side::Bid
            && order.quantity >= params.quantity_min
    });
    if !victim {
        return Vec::new();
    }
    funded_order(view, token, Side::Bid, None, params.quantity)
        .into_iter()
        .collect()
}
