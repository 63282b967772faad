//! The in-cell service bus: a Moleculer-style broker in plain Rust —
//! single-threaded, no async, no I/O, deterministic.
//!
//! Each cell owns one [`Bus`]. Services register with a [`ServiceSpec`]
//! (name, dependencies, actions, event subscriptions) and are started in
//! dependency order and stopped in reverse. A handler never calls another
//! service directly: it queues calls and events through its [`Context`], and
//! [`Bus::run`] drains the queue first-in first-out by sequence number. Replies
//! to calls a service made come back to it as [`Service::on_reply`]; replies to
//! calls made from outside (by the cell) are collected by [`Bus::take_replies`].
//!
//! # Typing: one protocol enum per cell, not a registry of `Any`
//! The bus is generic over a [`Protocol`]: the cell's request, response,
//! error and event types, typically enums with one variant per service (each
//! wrapping that service's own enum). [`Protocol::action`] names the action a
//! request addresses and [`Protocol::topic`] the topic of an event. Compared
//! with a registry of `Box<dyn Any>` handlers per action, this keeps every
//! parameter and error statically typed and exhaustively matched, needs no
//! downcasts, no allocation per call beyond the queue slot, and lets a reply
//! travel through the same queue as the call. The price is that the set of
//! services is closed at compile time, which fits a cell (five services).
//! Names are `&'static str` so routing never allocates.
//!
//! # Deterministic dispatch (the documented order)
//! - Every queued unit of work (call, event, reply) gets the next value of one
//!   sequence counter; it is also the call's context id. The queue is FIFO.
//! - Services start in topological order of their dependencies, ties broken by
//!   registration order (Kahn's algorithm taking the lowest registration index
//!   first); they stop in exactly the reverse order.
//! - `emit`: each group subscribed to the topic receives the event once; groups
//!   are served in the order their first member registered; within a group the
//!   members take turns (round-robin in registration order, one counter per
//!   topic and group). A service's group defaults to its own name.
//! - `broadcast`: every subscriber, in registration order.
//! - Middleware `before_call` hooks run in registration order, `after_call`
//!   hooks in reverse (an onion, as in Moleculer).
//!
//! # Limits
//! `depth_max` bounds call/event nesting ([`BusError::DepthExceeded`]);
//! `queue_max` bounds queued calls and events ([`BusError::QueueFull`]) —
//! replies are exempt so that no accepted call loses its answer (there is at
//! most one reply per call, so they are bounded too); `steps_per_run_max`
//! bounds one [`Bus::run`] ([`BusError::StepLimit`], leaving the rest queued).
//!
//! # Virtual CPU cost
//! Each dispatch costs the [`CostModel`]'s fixed price for its kind plus what
//! the handler charges with [`Context::charge_cpu`] (per signature checked,
//! say). The bus sums it per service in [`ServiceMetrics::cpu_ns`] and in a
//! pending total that the cell drains with [`Bus::take_cpu_ns`] and reports
//! as `node::Output::ChargeCpu`.

use std::collections::{BTreeMap, VecDeque};

use crate::time::TimeNs;

#[cfg(test)]
mod tests;

/// The cell's message types, as seen by the bus.
pub trait Protocol: 'static {
    /// Parameters of a call; the variant decides the action.
    type Request;
    type Response;
    /// A service's typed failure.
    type Error;
    type Event;

    /// The full action name a request addresses, `"service.action"`.
    fn action(request: &Self::Request) -> &'static str;
    /// The topic an event is published on.
    fn topic(event: &Self::Event) -> &'static str;
}

/// A service on the bus. Handlers report cost through the context and queue
/// follow-up calls and events there; they never reach other services directly.
pub trait Service<P: Protocol> {
    /// Handle one of this service's actions.
    fn on_call(
        &mut self,
        request: P::Request,
        ctx: &mut Context<'_, P>,
    ) -> Result<P::Response, P::Error>;

    /// Handle an event on a subscribed topic.
    fn on_event(&mut self, _event: &P::Event, _ctx: &mut Context<'_, P>) {}

    /// The answer to a call this service made (`call` is the id `ctx.call`
    /// returned).
    fn on_reply(
        &mut self,
        _call: CallId,
        _result: Result<P::Response, CallError<P::Error>>,
        _ctx: &mut Context<'_, P>,
    ) {
    }

    /// Called once, after every dependency has started.
    fn on_start(&mut self, _ctx: &mut Context<'_, P>) {}

    /// Called once, before any of its dependencies stops.
    fn on_stop(&mut self) {}
}

/// Hooks around every call.
pub trait Middleware<P: Protocol> {
    fn name(&self) -> &'static str;

    /// Runs before the handler; an `Err(reason)` rejects the call with
    /// [`CallError::Rejected`] (validation, access control, circuit breaking).
    fn before_call(
        &mut self,
        _service: &'static str,
        _info: &CallInfo,
        _request: &P::Request,
    ) -> Result<(), &'static str> {
        Ok(())
    }

    /// Runs after the handler (or the rejection) with the outcome and cost.
    fn after_call(
        &mut self,
        _service: &'static str,
        _info: &CallInfo,
        _outcome: &Result<P::Response, CallError<P::Error>>,
        _cost_ns: TimeNs,
    ) {
    }
}

/// What a call returns to its caller.
pub type CallResult<P> = Result<<P as Protocol>::Response, CallError<<P as Protocol>::Error>>;

/// A context id: the sequence number of the queued work that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct CallId(pub u64);

/// Who made a call or emitted an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Caller {
    /// The cell itself, through [`Bus::call`] / [`Bus::emit`].
    External,
    Service(&'static str),
}

/// The call context (Moleculer's `ctx`): id, parent, caller, depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallInfo {
    pub id: CallId,
    /// The context whose handler queued this work; `None` from outside.
    pub parent: Option<CallId>,
    pub caller: Caller,
    /// 0 for work queued from outside; +1 per nested call or event.
    pub depth: u32,
}

/// How a call failed, as its caller sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError<E> {
    #[error("service error: {0:?}")]
    Service(E),
    #[error("rejected by middleware {middleware}: {reason}")]
    Rejected {
        middleware: &'static str,
        reason: &'static str,
    },
}

/// Errors of the bus itself: registry, lifecycle and limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    #[error("service {service} is registered twice")]
    DuplicateService { service: &'static str },
    #[error("action {action} of service {service} is already registered by {existing}")]
    DuplicateAction {
        action: &'static str,
        service: &'static str,
        existing: &'static str,
    },
    #[error("action {action} must be named \"{service}.<action>\"")]
    ActionOutsideService {
        action: &'static str,
        service: &'static str,
    },
    #[error("service {service} depends on {dependency}, which is not registered")]
    MissingDependency {
        service: &'static str,
        dependency: &'static str,
    },
    #[error("dependency cycle: {}", cycle_text(.services))]
    DependencyCycle { services: Vec<&'static str> },
    #[error("services can only be registered before the bus starts")]
    AlreadyStarted,
    #[error("the bus is not running (state: {state:?})")]
    NotRunning { state: Lifecycle },
    #[error("no service offers action {action}")]
    UnknownAction { action: &'static str },
    #[error("depth {depth} exceeds the limit {limit}")]
    DepthExceeded { depth: u32, limit: u32 },
    #[error("the queue holds {limit} calls and events, its limit")]
    QueueFull { limit: usize },
    #[error("one run dispatched {limit} units of work, its limit; the rest stays queued")]
    StepLimit { limit: u64 },
}

fn cycle_text(services: &[&'static str]) -> String {
    let mut text = services.join(" → ");
    if let Some(first) = services.first() {
        text.push_str(" → ");
        text.push_str(first);
    }
    text
}

/// Where the bus is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Lifecycle {
    Created,
    Started,
    Stopped,
}

/// Fixed virtual CPU prices of dispatch, on top of what handlers charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostModel {
    pub call_ns: TimeNs,
    pub event_ns: TimeNs,
    pub reply_ns: TimeNs,
}

impl Default for CostModel {
    /// An in-process broker call (context object, routing, middleware chain)
    /// costs a few microseconds in Moleculer on Node.js; these are of that
    /// order, and a scenario may override them.
    fn default() -> Self {
        CostModel {
            call_ns: 5_000,
            event_ns: 3_000,
            reply_ns: 1_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusConfig {
    pub cost: CostModel,
    pub depth_max: u32,
    pub queue_max: usize,
    pub steps_per_run_max: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            cost: CostModel::default(),
            depth_max: 16,
            queue_max: 65_536,
            steps_per_run_max: 1_000_000,
        }
    }
}

/// One event subscription. The group defaults to the service's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub topic: &'static str,
    pub group: Option<&'static str>,
}

/// What a service declares when it registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub name: &'static str,
    pub dependencies: Vec<&'static str>,
    /// Full action names, each `"<name>.<action>"`.
    pub actions: Vec<&'static str>,
    pub subscriptions: Vec<Subscription>,
}

impl ServiceSpec {
    pub fn new(name: &'static str) -> Self {
        ServiceSpec {
            name,
            dependencies: Vec::new(),
            actions: Vec::new(),
            subscriptions: Vec::new(),
        }
    }

    pub fn depends_on(mut self, service: &'static str) -> Self {
        self.dependencies.push(service);
        self
    }

    pub fn action(mut self, action: &'static str) -> Self {
        self.actions.push(action);
        self
    }

    pub fn subscribe(mut self, topic: &'static str) -> Self {
        self.subscriptions.push(Subscription { topic, group: None });
        self
    }

    pub fn subscribe_in_group(mut self, topic: &'static str, group: &'static str) -> Self {
        self.subscriptions.push(Subscription {
            topic,
            group: Some(group),
        });
        self
    }
}

/// Per-service counters, ordered by service name in [`BusMetrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ServiceMetrics {
    /// Calls this service handled (including rejected ones).
    pub calls: u64,
    /// Of those, how many failed (service error or middleware rejection).
    pub errors: u64,
    pub events: u64,
    pub replies: u64,
    /// Virtual CPU time of everything this service handled.
    pub cpu_ns: TimeNs,
}

/// The bus's metrics, serializable for snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct BusMetrics {
    pub services: BTreeMap<&'static str, ServiceMetrics>,
    /// Handler invocations (calls, event deliveries, replies; not starts).
    pub dispatched: u64,
    /// Events that found no subscriber.
    pub events_unrouted: u64,
    /// Work discarded by [`Bus::stop`].
    pub dropped_on_stop: u64,
    pub cpu_ns: TimeNs,
}

enum Work<P: Protocol> {
    Call {
        target: usize,
        request: P::Request,
    },
    Event {
        event: P::Event,
        broadcast: bool,
    },
    Reply {
        to: usize,
        call: CallId,
        result: Result<P::Response, CallError<P::Error>>,
    },
}

struct Queued<P: Protocol> {
    info: CallInfo,
    /// The caller's registration index (`None` for external work).
    caller_index: Option<usize>,
    work: Work<P>,
}

/// Members of one group on one topic, and whose turn it is.
struct GroupRoute {
    members: Vec<usize>,
    next: usize,
}

/// The subscribers of one topic: every subscriber (for broadcast) and the
/// groups (for emit), both in registration order.
#[derive(Default)]
struct TopicRoute {
    subscribers: Vec<usize>,
    groups: Vec<(&'static str, GroupRoute)>,
}

/// The part of the bus a handler's context may touch; split from the
/// services so a handler can run while its context queues work.
struct Core<P: Protocol> {
    config: BusConfig,
    names: Vec<&'static str>,
    actions: BTreeMap<&'static str, usize>,
    queue: VecDeque<(u64, Queued<P>)>,
    /// Calls and events in the queue (replies are exempt from `queue_max`).
    queued_requests: usize,
    next_seq: u64,
}

impl<P: Protocol> Core<P> {
    fn push(&mut self, queued: Queued<P>) -> CallId {
        let seq = self.next_seq;
        self.next_seq += 1;
        if !matches!(queued.work, Work::Reply { .. }) {
            self.queued_requests += 1;
        }
        self.queue.push_back((seq, queued));
        CallId(seq)
    }

    fn admit(&self, depth: u32) -> Result<(), BusError> {
        if depth > self.config.depth_max {
            return Err(BusError::DepthExceeded {
                depth,
                limit: self.config.depth_max,
            });
        }
        if self.queued_requests >= self.config.queue_max {
            return Err(BusError::QueueFull {
                limit: self.config.queue_max,
            });
        }
        Ok(())
    }

    fn queue_call(
        &mut self,
        request: P::Request,
        parent: Option<CallId>,
        caller_index: Option<usize>,
        depth: u32,
    ) -> Result<CallId, BusError> {
        let action = P::action(&request);
        let target = *self
            .actions
            .get(action)
            .ok_or(BusError::UnknownAction { action })?;
        self.admit(depth)?;
        let caller = caller_index.map_or(Caller::External, |i| Caller::Service(self.names[i]));
        let id = CallId(self.next_seq);
        Ok(self.push(Queued {
            info: CallInfo {
                id,
                parent,
                caller,
                depth,
            },
            caller_index,
            work: Work::Call { target, request },
        }))
    }

    fn queue_event(
        &mut self,
        event: P::Event,
        broadcast: bool,
        parent: Option<CallId>,
        caller_index: Option<usize>,
        depth: u32,
    ) -> Result<CallId, BusError> {
        self.admit(depth)?;
        let caller = caller_index.map_or(Caller::External, |i| Caller::Service(self.names[i]));
        let id = CallId(self.next_seq);
        Ok(self.push(Queued {
            info: CallInfo {
                id,
                parent,
                caller,
                depth,
            },
            caller_index,
            work: Work::Event { event, broadcast },
        }))
    }
}

/// What a handler sees: its call context, and the way to queue work and
/// report cost.
pub struct Context<'a, P: Protocol> {
    core: &'a mut Core<P>,
    info: CallInfo,
    me: usize,
    charged_ns: TimeNs,
}

impl<P: Protocol> Context<'_, P> {
    /// This handler's context id, parent, caller and depth.
    pub fn info(&self) -> &CallInfo {
        &self.info
    }

    /// The name of the service whose handler is running.
    pub fn service(&self) -> &'static str {
        self.core.names[self.me]
    }

    /// Queue a call; its result arrives later through [`Service::on_reply`]
    /// with the returned id. Unknown actions and exceeded limits fail now.
    pub fn call(&mut self, request: P::Request) -> Result<CallId, BusError> {
        self.core.queue_call(
            request,
            Some(self.info.id),
            Some(self.me),
            self.info.depth.saturating_add(1),
        )
    }

    /// Publish an event to one member of each subscribed group.
    pub fn emit(&mut self, event: P::Event) -> Result<CallId, BusError> {
        self.core.queue_event(
            event,
            false,
            Some(self.info.id),
            Some(self.me),
            self.info.depth.saturating_add(1),
        )
    }

    /// Publish an event to every subscriber.
    pub fn broadcast(&mut self, event: P::Event) -> Result<CallId, BusError> {
        self.core.queue_event(
            event,
            true,
            Some(self.info.id),
            Some(self.me),
            self.info.depth.saturating_add(1),
        )
    }

    /// Add virtual CPU time this handler spent (signatures checked, bytes
    /// hashed…), on top of the fixed dispatch price.
    pub fn charge_cpu(&mut self, ns: TimeNs) {
        self.charged_ns = self.charged_ns.saturating_add(ns);
    }
}

struct Slot<P: Protocol> {
    spec: ServiceSpec,
    service: Box<dyn Service<P>>,
}

/// What one [`Bus::run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunSummary {
    /// Queue entries taken (an event to three subscribers is one).
    pub dispatched: u64,
    pub cpu_ns: TimeNs,
}

/// The broker. See the module docs for the dispatch order and limits.
pub struct Bus<P: Protocol> {
    lifecycle: Lifecycle,
    slots: Vec<Slot<P>>,
    core: Core<P>,
    topics: BTreeMap<&'static str, TopicRoute>,
    middleware: Vec<Box<dyn Middleware<P>>>,
    start_order: Vec<usize>,
    replies: Vec<(CallId, CallResult<P>)>,
    metrics: BusMetrics,
    cpu_pending_ns: TimeNs,
}

impl<P: Protocol> Bus<P> {
    pub fn new(config: BusConfig) -> Self {
        Bus {
            lifecycle: Lifecycle::Created,
            slots: Vec::new(),
            core: Core {
                config,
                names: Vec::new(),
                actions: BTreeMap::new(),
                queue: VecDeque::new(),
                queued_requests: 0,
                next_seq: 0,
            },
            topics: BTreeMap::new(),
            middleware: Vec::new(),
            start_order: Vec::new(),
            replies: Vec::new(),
            metrics: BusMetrics::default(),
            cpu_pending_ns: 0,
        }
    }

    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// Register a service (only before [`Bus::start`]).
    pub fn register(
        &mut self,
        spec: ServiceSpec,
        service: Box<dyn Service<P>>,
    ) -> Result<(), BusError> {
        if self.lifecycle != Lifecycle::Created {
            return Err(BusError::AlreadyStarted);
        }
        if self.core.names.contains(&spec.name) {
            return Err(BusError::DuplicateService { service: spec.name });
        }
        for &action in &spec.actions {
            let prefixed = action
                .strip_prefix(spec.name)
                .is_some_and(|rest| rest.len() > 1 && rest.starts_with('.'));
            if !prefixed {
                return Err(BusError::ActionOutsideService {
                    action,
                    service: spec.name,
                });
            }
            if let Some(&existing) = self.core.actions.get(action) {
                return Err(BusError::DuplicateAction {
                    action,
                    service: spec.name,
                    existing: self.core.names[existing],
                });
            }
            if spec.actions.iter().filter(|&&a| a == action).count() > 1 {
                return Err(BusError::DuplicateAction {
                    action,
                    service: spec.name,
                    existing: spec.name,
                });
            }
        }
        let index = self.slots.len();
        for &action in &spec.actions {
            self.core.actions.insert(action, index);
        }
        for subscription in &spec.subscriptions {
            let group = subscription.group.unwrap_or(spec.name);
            let route = self.topics.entry(subscription.topic).or_default();
            if route.subscribers.last() != Some(&index) {
                route.subscribers.push(index);
            }
            match route.groups.iter_mut().find(|(name, _)| *name == group) {
                Some((_, members)) => {
                    if !members.members.contains(&index) {
                        members.members.push(index);
                    }
                }
                None => route.groups.push((
                    group,
                    GroupRoute {
                        members: vec![index],
                        next: 0,
                    },
                )),
            }
        }
        self.core.names.push(spec.name);
        self.metrics
            .services
            .insert(spec.name, ServiceMetrics::default());
        self.slots.push(Slot { spec, service });
        Ok(())
    }

    /// Add a middleware; it wraps every later call.
    pub fn add_middleware(&mut self, middleware: Box<dyn Middleware<P>>) {
        self.middleware.push(middleware);
    }

    /// The start order: dependencies first, ties by registration order.
    pub fn start_order(&self) -> Result<Vec<&'static str>, BusError> {
        Ok(self
            .resolve_start_order()?
            .into_iter()
            .map(|i| self.core.names[i])
            .collect())
    }

    fn resolve_start_order(&self) -> Result<Vec<usize>, BusError> {
        let count = self.slots.len();
        let mut dependencies: Vec<Vec<usize>> = Vec::with_capacity(count);
        for slot in &self.slots {
            let mut resolved = Vec::new();
            for &dependency in &slot.spec.dependencies {
                let index = self
                    .core
                    .names
                    .iter()
                    .position(|&n| n == dependency)
                    .ok_or(BusError::MissingDependency {
                        service: slot.spec.name,
                        dependency,
                    })?;
                resolved.push(index);
            }
            dependencies.push(resolved);
        }
        // Kahn's algorithm, always taking the lowest ready registration index.
        let mut started = vec![false; count];
        let mut order = Vec::with_capacity(count);
        while order.len() < count {
            let ready =
                (0..count).find(|&i| !started[i] && dependencies[i].iter().all(|&d| started[d]));
            match ready {
                Some(i) => {
                    started[i] = true;
                    order.push(i);
                }
                None => {
                    return Err(BusError::DependencyCycle {
                        services: self.find_cycle(&dependencies, &started),
                    });
                }
            }
        }
        Ok(order)
    }

    /// A dependency cycle among the services not yet started, beginning at
    /// its lowest-registered member.
    fn find_cycle(&self, dependencies: &[Vec<usize>], started: &[bool]) -> Vec<&'static str> {
        // Every unstarted service has an unstarted dependency, so walking
        // them from any unstarted service must revisit one: that is a cycle.
        let first = started
            .iter()
            .position(|&s| !s)
            .expect("an unstarted service");
        let mut path = vec![first];
        loop {
            let current = *path.last().expect("non-empty");
            let next = *dependencies[current]
                .iter()
                .find(|&&d| !started[d])
                .expect("an unstarted service waits on an unstarted dependency");
            if let Some(at) = path.iter().position(|&p| p == next) {
                let mut cycle = path.split_off(at);
                let lowest = (0..cycle.len())
                    .min_by_key(|&k| cycle[k])
                    .expect("non-empty");
                cycle.rotate_left(lowest);
                return cycle.into_iter().map(|i| self.core.names[i]).collect();
            }
            path.push(next);
        }
    }

    /// Start every service in dependency order; their `on_start` may queue
    /// work, which the next [`Bus::run`] dispatches.
    pub fn start(&mut self) -> Result<(), BusError> {
        if self.lifecycle != Lifecycle::Created {
            return Err(BusError::AlreadyStarted);
        }
        let order = self.resolve_start_order()?;
        self.lifecycle = Lifecycle::Started;
        for &index in &order {
            let info = CallInfo {
                id: CallId(self.core.next_seq),
                parent: None,
                caller: Caller::External,
                depth: 0,
            };
            self.core.next_seq += 1;
            let mut ctx = Context {
                core: &mut self.core,
                info,
                me: index,
                charged_ns: 0,
            };
            self.slots[index].service.on_start(&mut ctx);
            let cost = ctx.charged_ns;
            self.charge(index, cost);
        }
        self.start_order = order;
        Ok(())
    }

    /// Stop every service in reverse start order. Work still queued is
    /// discarded (counted in `dropped_on_stop`); drain with `run` first to
    /// keep it. Returns the order services stopped in.
    pub fn stop(&mut self) -> Result<Vec<&'static str>, BusError> {
        self.require_started()?;
        self.lifecycle = Lifecycle::Stopped;
        self.metrics.dropped_on_stop += self.core.queue.len() as u64;
        self.core.queue.clear();
        self.core.queued_requests = 0;
        let mut stopped = Vec::with_capacity(self.start_order.len());
        for &index in self.start_order.iter().rev() {
            self.slots[index].service.on_stop();
            stopped.push(self.core.names[index]);
        }
        Ok(stopped)
    }

    fn require_started(&self) -> Result<(), BusError> {
        match self.lifecycle {
            Lifecycle::Started => Ok(()),
            state => Err(BusError::NotRunning { state }),
        }
    }

    /// Queue a call from the cell; its result appears in
    /// [`Bus::take_replies`] after a [`Bus::run`].
    pub fn call(&mut self, request: P::Request) -> Result<CallId, BusError> {
        self.require_started()?;
        self.core.queue_call(request, None, None, 0)
    }

    /// Queue an event from the cell for one member of each group.
    pub fn emit(&mut self, event: P::Event) -> Result<CallId, BusError> {
        self.require_started()?;
        self.core.queue_event(event, false, None, None, 0)
    }

    /// Queue an event from the cell for every subscriber.
    pub fn broadcast(&mut self, event: P::Event) -> Result<CallId, BusError> {
        self.require_started()?;
        self.core.queue_event(event, true, None, None, 0)
    }

    /// Units of work waiting (calls, events, replies).
    pub fn queued(&self) -> usize {
        self.core.queue.len()
    }

    /// Dispatch queued work in sequence order until the queue is empty (or
    /// `steps_per_run_max` is reached, leaving the rest queued).
    pub fn run(&mut self) -> Result<RunSummary, BusError> {
        self.require_started()?;
        let mut summary = RunSummary::default();
        let mut last_seq = None;
        while let Some((seq, queued)) = self.core.queue.pop_front() {
            assert!(
                last_seq.is_none_or(|last| seq > last),
                "the bus queue is FIFO by sequence number"
            );
            last_seq = Some(seq);
            if !matches!(queued.work, Work::Reply { .. }) {
                self.core.queued_requests -= 1;
            }
            let cost = self.dispatch(queued);
            summary.dispatched += 1;
            summary.cpu_ns += cost;
            if summary.dispatched >= self.core.config.steps_per_run_max
                && !self.core.queue.is_empty()
            {
                return Err(BusError::StepLimit {
                    limit: self.core.config.steps_per_run_max,
                });
            }
        }
        Ok(summary)
    }

    /// Dispatch one unit of work; returns its virtual CPU cost.
    fn dispatch(&mut self, queued: Queued<P>) -> TimeNs {
        let Queued {
            info,
            caller_index,
            work,
        } = queued;
        let cost_model = self.core.config.cost;
        match work {
            Work::Call { target, request } => {
                let service = self.core.names[target];
                let mut rejection = None;
                for middleware in &mut self.middleware {
                    if let Err(reason) = middleware.before_call(service, &info, &request) {
                        rejection = Some(CallError::Rejected {
                            middleware: middleware.name(),
                            reason,
                        });
                        break;
                    }
                }
                let (result, charged) = match rejection {
                    Some(rejected) => (Err(rejected), 0),
                    None => {
                        let mut ctx = Context {
                            core: &mut self.core,
                            info,
                            me: target,
                            charged_ns: 0,
                        };
                        let result = self.slots[target]
                            .service
                            .on_call(request, &mut ctx)
                            .map_err(CallError::Service);
                        (result, ctx.charged_ns)
                    }
                };
                let cost = cost_model.call_ns.saturating_add(charged);
                for middleware in self.middleware.iter_mut().rev() {
                    middleware.after_call(service, &info, &result, cost);
                }
                let metrics = self.metrics.services.get_mut(service).expect("registered");
                metrics.calls += 1;
                metrics.errors += u64::from(result.is_err());
                self.metrics.dispatched += 1;
                self.charge(target, cost);
                match caller_index {
                    None => self.replies.push((info.id, result)),
                    Some(to) => {
                        self.core.push(Queued {
                            info: CallInfo {
                                id: CallId(self.core.next_seq),
                                parent: Some(info.id),
                                caller: Caller::Service(service),
                                // The caller resumes at its own depth.
                                depth: info.depth.saturating_sub(1),
                            },
                            caller_index: Some(target),
                            work: Work::Reply {
                                to,
                                call: info.id,
                                result,
                            },
                        });
                    }
                }
                cost
            }
            Work::Event { event, broadcast } => {
                let targets = self.event_targets(P::topic(&event), broadcast);
                if targets.is_empty() {
                    self.metrics.events_unrouted += 1;
                }
                let mut total: TimeNs = 0;
                for target in targets {
                    let mut ctx = Context {
                        core: &mut self.core,
                        info,
                        me: target,
                        charged_ns: 0,
                    };
                    self.slots[target].service.on_event(&event, &mut ctx);
                    let cost = cost_model.event_ns.saturating_add(ctx.charged_ns);
                    let service = self.core.names[target];
                    self.metrics
                        .services
                        .get_mut(service)
                        .expect("registered")
                        .events += 1;
                    self.metrics.dispatched += 1;
                    self.charge(target, cost);
                    total = total.saturating_add(cost);
                }
                total
            }
            Work::Reply { to, call, result } => {
                let mut ctx = Context {
                    core: &mut self.core,
                    info,
                    me: to,
                    charged_ns: 0,
                };
                self.slots[to].service.on_reply(call, result, &mut ctx);
                let cost = cost_model.reply_ns.saturating_add(ctx.charged_ns);
                let service = self.core.names[to];
                self.metrics
                    .services
                    .get_mut(service)
                    .expect("registered")
                    .replies += 1;
                self.metrics.dispatched += 1;
                self.charge(to, cost);
                cost
            }
        }
    }

    /// Who receives an event now: every subscriber, or one member per group
    /// (advancing that group's turn).
    fn event_targets(&mut self, topic: &'static str, broadcast: bool) -> Vec<usize> {
        let Some(route) = self.topics.get_mut(topic) else {
            return Vec::new();
        };
        if broadcast {
            return route.subscribers.clone();
        }
        route
            .groups
            .iter_mut()
            .map(|(_, group)| {
                let member = group.members[group.next];
                group.next = (group.next + 1) % group.members.len();
                member
            })
            .collect()
    }

    fn charge(&mut self, index: usize, cost: TimeNs) {
        let service = self.core.names[index];
        let metrics = self.metrics.services.get_mut(service).expect("registered");
        metrics.cpu_ns = metrics.cpu_ns.saturating_add(cost);
        self.metrics.cpu_ns = self.metrics.cpu_ns.saturating_add(cost);
        self.cpu_pending_ns = self.cpu_pending_ns.saturating_add(cost);
    }

    /// Virtual CPU time spent since the last take; the cell reports it as
    /// `Output::ChargeCpu`.
    pub fn take_cpu_ns(&mut self) -> TimeNs {
        std::mem::take(&mut self.cpu_pending_ns)
    }

    /// Results of calls made through [`Bus::call`], in completion order.
    pub fn take_replies(&mut self) -> Vec<(CallId, CallResult<P>)> {
        std::mem::take(&mut self.replies)
    }

    pub fn metrics(&self) -> &BusMetrics {
        &self.metrics
    }
}
