//! A trivial gossip protocol for benchmarks and determinism tests: every cell
//! originates a rumour on a periodic timer and sends it to `fanout` random
//! neighbours; a cell receiving a rumour with hops left forwards it to one
//! random neighbour. It holds no per-rumour state, so its memory is constant.

use celluler_core::node::{CellIndex, Context, Input, Node, Payload, TimerId};
use celluler_core::rng::{self, DetRng};
use celluler_core::time::TimeNs;

/// The originating timer.
const ORIGINATE: TimerId = TimerId(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rumour {
    pub origin: u32,
    pub serial: u32,
    pub hops_left: u8,
}

impl Payload for Rumour {
    fn wire_bytes(&self) -> u32 {
        64
    }

    /// splitmix64 of the fields: cheap, and equal rumours give equal digests.
    fn digest(&self) -> u64 {
        let mut z = (u64::from(self.origin) << 32 | u64::from(self.serial))
            ^ (u64::from(self.hops_left) << 56)
            ^ 0x9E37_79B9_7F4A_7C15;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipConfig {
    pub seed: u64,
    /// Origination period; 0 = never originate (an idle cell).
    pub period_ns: TimeNs,
    pub fanout: u32,
    pub hops: u8,
    /// Virtual CPU charged per handled rumour.
    pub cpu_per_message_ns: TimeNs,
}

pub struct GossipNode {
    config: GossipConfig,
    me: CellIndex,
    rng: DetRng,
    serial: u32,
    pub received: u64,
}

/// What a gossip cell persists: its identity and how many rumours it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipDurable {
    config: GossipConfig,
    me: CellIndex,
    serial: u32,
}

impl GossipNode {
    pub fn new(config: GossipConfig, me: CellIndex) -> GossipNode {
        GossipNode {
            config,
            me,
            rng: rng::stream(config.seed, "gossip", u64::from(me.0)),
            serial: 0,
            received: 0,
        }
    }

    fn send_to_random_peers(
        &mut self,
        count: u32,
        rumour: Rumour,
        ctx: &mut Context<'_, Rumour, ()>,
    ) {
        if ctx.peers.is_empty() {
            return;
        }
        for _ in 0..count {
            let peer = ctx
                .peers
                .get(rng::index(&mut self.rng, ctx.peers.len()))
                .expect("in range");
            ctx.send(peer, rumour);
        }
    }
}

impl Node for GossipNode {
    type Message = Rumour;
    type Observation = ();
    type Command = ();
    type Durable = GossipDurable;

    fn handle(&mut self, input: Input<Rumour, ()>, ctx: &mut Context<'_, Rumour, ()>) {
        match input {
            Input::Start | Input::Restart => {
                if self.config.period_ns > 0 {
                    // A random phase spreads originations over the period.
                    let phase = rng::below(&mut self.rng, self.config.period_ns);
                    ctx.set_timer(ORIGINATE, phase);
                }
            }
            Input::Timer(_) => {
                self.serial += 1;
                let rumour = Rumour {
                    origin: self.me.0,
                    serial: self.serial,
                    hops_left: self.config.hops,
                };
                self.send_to_random_peers(self.config.fanout, rumour, ctx);
                ctx.set_timer(ORIGINATE, self.config.period_ns);
            }
            // The benchmark protocol takes no operator commands.
            Input::Command(()) => {}
            Input::Deliver { message, .. } => {
                self.received += 1;
                ctx.charge_cpu(self.config.cpu_per_message_ns);
                if message.hops_left > 0 {
                    let forwarded = Rumour {
                        hops_left: message.hops_left - 1,
                        ..message
                    };
                    self.send_to_random_peers(1, forwarded, ctx);
                }
            }
        }
    }

    fn crash(self) -> GossipDurable {
        GossipDurable {
            config: self.config,
            me: self.me,
            serial: self.serial,
        }
    }

    fn recover(durable: GossipDurable) -> GossipNode {
        GossipNode {
            serial: durable.serial,
            // A fresh stream per incarnation: the old one's position was volatile.
            rng: rng::stream(
                durable.config.seed,
                "gossip-recovered",
                u64::from(durable.me.0) << 32 | u64::from(durable.serial),
            ),
            config: durable.config,
            me: durable.me,
            received: 0,
        }
    }
}
