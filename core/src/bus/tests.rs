use std::cell::RefCell;
use std::rc::Rc;

use super::*;

/// A small protocol: an echo service, a relay that calls it, a recursive
/// service, and listeners.
struct Test;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Request {
    Echo(u64),
    Fail(u64),
    Sign { signatures: u64 },
    Relay(u64),
    Recurse(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Response {
    Value(u64),
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    Refused(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Note(u64),
    Loop,
}

impl Protocol for Test {
    type Request = Request;
    type Response = Response;
    type Error = Refusal;
    type Event = Event;

    fn action(request: &Request) -> &'static str {
        match request {
            Request::Echo(_) => "echo.echo",
            Request::Fail(_) => "echo.fail",
            Request::Sign { .. } => "echo.sign",
            Request::Relay(_) => "relay.relay",
            Request::Recurse(_) => "deep.recurse",
        }
    }

    fn topic(event: &Event) -> &'static str {
        match event {
            Event::Note(_) => "note",
            Event::Loop => "loop",
        }
    }
}

type Trace = Rc<RefCell<Vec<String>>>;

const SIGNATURE_NS: TimeNs = 50_000;

fn describe(info: &CallInfo) -> String {
    format!(
        "id={} parent={:?} caller={:?} depth={}",
        info.id.0,
        info.parent.map(|p| p.0),
        info.caller,
        info.depth
    )
}

/// Records lifecycle hooks, calls, events and replies.
struct Recorder {
    name: &'static str,
    trace: Trace,
}

impl Recorder {
    fn boxed(name: &'static str, trace: &Trace) -> Box<Recorder> {
        Box::new(Recorder {
            name,
            trace: trace.clone(),
        })
    }

    fn log(&self, line: String) {
        self.trace
            .borrow_mut()
            .push(format!("{}: {line}", self.name));
    }
}

impl Service<Test> for Recorder {
    fn on_call(
        &mut self,
        request: Request,
        ctx: &mut Context<'_, Test>,
    ) -> Result<Response, Refusal> {
        self.log(format!("call {request:?} {}", describe(ctx.info())));
        match request {
            Request::Echo(x) => Ok(Response::Value(x)),
            Request::Fail(x) => Err(Refusal::Refused(x)),
            Request::Sign { signatures } => {
                ctx.charge_cpu(signatures * SIGNATURE_NS);
                Ok(Response::Done)
            }
            Request::Relay(x) => {
                let id = ctx.call(Request::Echo(x + 1)).expect("echo is registered");
                self.log(format!("queued call {}", id.0));
                Ok(Response::Done)
            }
            Request::Recurse(n) => {
                if n > 0
                    && let Err(error) = ctx.call(Request::Recurse(n - 1))
                {
                    self.log(format!("refused: {error}"));
                }
                Ok(Response::Done)
            }
        }
    }

    fn on_event(&mut self, event: &Event, ctx: &mut Context<'_, Test>) {
        self.log(format!("event {event:?} {}", describe(ctx.info())));
        if *event == Event::Loop {
            ctx.emit(Event::Loop).expect("room in the queue");
        }
    }

    fn on_reply(
        &mut self,
        call: CallId,
        result: Result<Response, CallError<Refusal>>,
        ctx: &mut Context<'_, Test>,
    ) {
        self.log(format!(
            "reply to {} {result:?} {}",
            call.0,
            describe(ctx.info())
        ));
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Test>) {
        self.log(format!("start as {}", ctx.service()));
    }

    fn on_stop(&mut self) {
        self.log("stop".to_string());
    }
}

fn echo_spec() -> ServiceSpec {
    ServiceSpec::new("echo")
        .action("echo.echo")
        .action("echo.fail")
        .action("echo.sign")
}

fn bus_with(specs: Vec<ServiceSpec>, config: BusConfig, trace: &Trace) -> Bus<Test> {
    let mut bus = Bus::new(config);
    for spec in specs {
        let name = spec.name;
        bus.register(spec, Recorder::boxed(name, trace)).unwrap();
    }
    bus
}

fn lines(trace: &Trace) -> Vec<String> {
    std::mem::take(&mut *trace.borrow_mut())
}

#[test]
fn services_start_in_dependency_order_and_stop_in_reverse() {
    let trace = Trace::default();
    let mut bus = bus_with(
        vec![
            ServiceSpec::new("state")
                .depends_on("identity")
                .depends_on("journal"),
            ServiceSpec::new("consensus").depends_on("identity"),
            ServiceSpec::new("message"),
            ServiceSpec::new("identity").depends_on("journal"),
            ServiceSpec::new("journal"),
        ],
        BusConfig::default(),
        &trace,
    );
    assert_eq!(
        bus.start_order().unwrap(),
        vec!["message", "journal", "identity", "state", "consensus"]
    );
    bus.start().unwrap();
    assert_eq!(bus.lifecycle(), Lifecycle::Started);
    assert_eq!(
        bus.stop().unwrap(),
        vec!["consensus", "state", "identity", "journal", "message"]
    );
    assert_eq!(bus.lifecycle(), Lifecycle::Stopped);
    assert_eq!(
        lines(&trace),
        vec![
            "message: start as message",
            "journal: start as journal",
            "identity: start as identity",
            "state: start as state",
            "consensus: start as consensus",
            "consensus: stop",
            "state: stop",
            "identity: stop",
            "journal: stop",
            "message: stop",
        ]
    );
    assert_eq!(
        bus.call(Request::Echo(1)),
        Err(BusError::NotRunning {
            state: Lifecycle::Stopped
        })
    );
}

#[test]
fn missing_and_cyclic_dependencies_are_named() {
    let trace = Trace::default();
    let mut bus = bus_with(
        vec![
            ServiceSpec::new("nucleus"),
            ServiceSpec::new("state").depends_on("ledger"),
        ],
        BusConfig::default(),
        &trace,
    );
    assert_eq!(
        bus.start(),
        Err(BusError::MissingDependency {
            service: "state",
            dependency: "ledger"
        })
    );
    assert_eq!(bus.lifecycle(), Lifecycle::Created);

    let mut cyclic = bus_with(
        vec![
            ServiceSpec::new("root"),
            ServiceSpec::new("d").depends_on("b"),
            ServiceSpec::new("c").depends_on("b"),
            ServiceSpec::new("b").depends_on("a"),
            ServiceSpec::new("a").depends_on("c"),
        ],
        BusConfig::default(),
        &trace,
    );
    let error = cyclic.start().unwrap_err();
    assert_eq!(
        error,
        BusError::DependencyCycle {
            services: vec!["c", "b", "a"]
        }
    );
    assert_eq!(error.to_string(), "dependency cycle: c → b → a → c");

    let mut selfish = bus_with(
        vec![ServiceSpec::new("x").depends_on("x")],
        BusConfig::default(),
        &trace,
    );
    assert_eq!(
        selfish.start(),
        Err(BusError::DependencyCycle {
            services: vec!["x"]
        })
    );
    assert!(lines(&trace).is_empty(), "nothing started");
}

#[test]
fn registry_rejects_bad_specs() {
    let trace = Trace::default();
    let mut bus = bus_with(vec![echo_spec()], BusConfig::default(), &trace);
    assert_eq!(
        bus.register(echo_spec(), Recorder::boxed("echo", &trace)),
        Err(BusError::DuplicateService { service: "echo" })
    );
    assert_eq!(
        bus.register(
            ServiceSpec::new("other").action("echo.echo"),
            Recorder::boxed("other", &trace)
        ),
        Err(BusError::ActionOutsideService {
            action: "echo.echo",
            service: "other"
        })
    );
    assert_eq!(
        bus.register(
            ServiceSpec::new("ech").action("echo.x"),
            Recorder::boxed("ech", &trace)
        ),
        Err(BusError::ActionOutsideService {
            action: "echo.x",
            service: "ech"
        })
    );
    assert_eq!(
        bus.register(
            ServiceSpec::new("twice")
                .action("twice.a")
                .action("twice.a"),
            Recorder::boxed("twice", &trace)
        ),
        Err(BusError::DuplicateAction {
            action: "twice.a",
            service: "twice",
            existing: "twice"
        })
    );
    assert_eq!(
        bus.call(Request::Echo(1)),
        Err(BusError::NotRunning {
            state: Lifecycle::Created
        })
    );
    bus.start().unwrap();
    assert_eq!(
        bus.register(ServiceSpec::new("late"), Recorder::boxed("late", &trace)),
        Err(BusError::AlreadyStarted)
    );
    assert_eq!(
        bus.call(Request::Relay(1)),
        Err(BusError::UnknownAction {
            action: "relay.relay"
        })
    );
}

#[test]
fn calls_reply_through_the_queue_with_context_ids() {
    let trace = Trace::default();
    let mut bus = bus_with(
        vec![
            echo_spec(),
            ServiceSpec::new("relay")
                .depends_on("echo")
                .action("relay.relay"),
        ],
        BusConfig::default(),
        &trace,
    );
    bus.start().unwrap();
    lines(&trace);
    let first = bus.call(Request::Relay(5)).unwrap();
    let second = bus.call(Request::Fail(9)).unwrap();
    let summary = bus.run().unwrap();
    assert_eq!(summary.dispatched, 4);
    assert_eq!(
        lines(&trace),
        vec![
            "relay: call Relay(5) id=2 parent=None caller=External depth=0",
            "relay: queued call 4",
            "echo: call Fail(9) id=3 parent=None caller=External depth=0",
            "echo: call Echo(6) id=4 parent=Some(2) caller=Service(\"relay\") depth=1",
            "relay: reply to 4 Ok(Value(6)) id=5 parent=Some(4) caller=Service(\"echo\") depth=0",
        ]
    );
    assert_eq!(
        bus.take_replies(),
        vec![
            (first, Ok(Response::Done)),
            (second, Err(CallError::Service(Refusal::Refused(9)))),
        ]
    );
    assert!(bus.take_replies().is_empty());
    let cost = CostModel::default();
    assert_eq!(summary.cpu_ns, 3 * cost.call_ns + cost.reply_ns);
}

#[test]
fn depth_limit_stops_runaway_nesting() {
    let trace = Trace::default();
    let config = BusConfig {
        depth_max: 3,
        ..BusConfig::default()
    };
    let mut bus = bus_with(
        vec![ServiceSpec::new("deep").action("deep.recurse")],
        config,
        &trace,
    );
    bus.start().unwrap();
    lines(&trace);
    bus.call(Request::Recurse(10)).unwrap();
    bus.run().unwrap();
    let trace = lines(&trace);
    let depths: Vec<&str> = trace
        .iter()
        .filter(|line| line.contains(": call "))
        .filter_map(|line| line.split("depth=").nth(1))
        .collect();
    // Calls at depths 0..=3 run; the handler at depth 3 is refused the next.
    assert_eq!(depths[..4], ["0", "1", "2", "3"]);
    assert!(
        trace.contains(&"deep: refused: depth 4 exceeds the limit 3".to_string()),
        "{trace:?}"
    );
    assert_eq!(bus.metrics().services["deep"].calls, 4);
    assert_eq!(bus.metrics().services["deep"].replies, 3);
}

#[test]
fn emit_serves_each_group_once_in_turn_and_broadcast_serves_all() {
    let trace = Trace::default();
    let mut bus = bus_with(
        vec![
            ServiceSpec::new("auditor_one").subscribe_in_group("note", "audit"),
            ServiceSpec::new("log").subscribe("note"),
            ServiceSpec::new("auditor_two").subscribe_in_group("note", "audit"),
        ],
        BusConfig::default(),
        &trace,
    );
    bus.start().unwrap();
    lines(&trace);
    for x in 0..3 {
        bus.emit(Event::Note(x)).unwrap();
    }
    bus.broadcast(Event::Note(99)).unwrap();
    bus.run().unwrap();
    let received: Vec<String> = lines(&trace)
        .into_iter()
        .map(|line| line.split(" id=").next().unwrap().to_string())
        .collect();
    assert_eq!(
        received,
        vec![
            "auditor_one: event Note(0)",
            "log: event Note(0)",
            "auditor_two: event Note(1)",
            "log: event Note(1)",
            "auditor_one: event Note(2)",
            "log: event Note(2)",
            "auditor_one: event Note(99)",
            "log: event Note(99)",
            "auditor_two: event Note(99)",
        ]
    );
    let metrics = bus.metrics();
    assert_eq!(metrics.services["auditor_one"].events, 3);
    assert_eq!(metrics.services["auditor_two"].events, 2);
    assert_eq!(metrics.services["log"].events, 4);
    bus.emit(Event::Loop).unwrap();
    bus.run().unwrap();
    assert_eq!(bus.metrics().events_unrouted, 1);
}

#[test]
fn handler_cost_is_accumulated_for_the_cell() {
    let trace = Trace::default();
    let mut bus = bus_with(vec![echo_spec()], BusConfig::default(), &trace);
    bus.start().unwrap();
    bus.call(Request::Sign { signatures: 3 }).unwrap();
    bus.call(Request::Echo(1)).unwrap();
    let summary = bus.run().unwrap();
    let expected = 2 * CostModel::default().call_ns + 3 * SIGNATURE_NS;
    assert_eq!(summary.cpu_ns, expected);
    assert_eq!(bus.take_cpu_ns(), expected);
    assert_eq!(bus.take_cpu_ns(), 0);
    assert_eq!(bus.metrics().services["echo"].cpu_ns, expected);
    assert_eq!(bus.metrics().cpu_ns, expected);
}

/// Rejects `Echo(13)`; counts what it saw after each call.
struct Superstition {
    seen: Rc<RefCell<Vec<(String, TimeNs)>>>,
}

impl Middleware<Test> for Superstition {
    fn name(&self) -> &'static str {
        "superstition"
    }

    fn before_call(
        &mut self,
        _service: &'static str,
        _info: &CallInfo,
        request: &Request,
    ) -> Result<(), &'static str> {
        match request {
            Request::Echo(13) => Err("unlucky number"),
            _ => Ok(()),
        }
    }

    fn after_call(
        &mut self,
        service: &'static str,
        info: &CallInfo,
        outcome: &Result<Response, CallError<Refusal>>,
        cost_ns: TimeNs,
    ) {
        self.seen.borrow_mut().push((
            format!("{service} {} ok={}", info.id.0, outcome.is_ok()),
            cost_ns,
        ));
    }
}

#[test]
fn middleware_wraps_calls_and_can_reject() {
    let trace = Trace::default();
    let seen = Rc::default();
    let mut bus = bus_with(vec![echo_spec()], BusConfig::default(), &trace);
    bus.add_middleware(Box::new(Superstition {
        seen: Rc::clone(&seen),
    }));
    bus.start().unwrap();
    lines(&trace);
    let lucky = bus.call(Request::Echo(12)).unwrap();
    let unlucky = bus.call(Request::Echo(13)).unwrap();
    bus.run().unwrap();
    assert_eq!(
        bus.take_replies(),
        vec![
            (lucky, Ok(Response::Value(12))),
            (
                unlucky,
                Err(CallError::Rejected {
                    middleware: "superstition",
                    reason: "unlucky number"
                })
            ),
        ]
    );
    // The handler never saw the rejected call.
    assert_eq!(lines(&trace).len(), 1);
    let call_ns = CostModel::default().call_ns;
    assert_eq!(
        *seen.borrow(),
        vec![
            ("echo 1 ok=true".to_string(), call_ns),
            ("echo 2 ok=false".to_string(), call_ns)
        ]
    );
    assert_eq!(bus.metrics().services["echo"].errors, 1);
}

#[test]
fn queue_and_step_limits_are_typed_errors() {
    let trace = Trace::default();
    let config = BusConfig {
        queue_max: 2,
        steps_per_run_max: 10,
        ..BusConfig::default()
    };
    let mut bus = bus_with(
        vec![echo_spec(), ServiceSpec::new("looper").subscribe("loop")],
        config,
        &trace,
    );
    bus.start().unwrap();
    bus.call(Request::Echo(1)).unwrap();
    bus.call(Request::Echo(2)).unwrap();
    assert_eq!(
        bus.call(Request::Echo(3)),
        Err(BusError::QueueFull { limit: 2 })
    );
    bus.run().unwrap();
    // An event handler that re-emits forever is cut off by the step limit.
    bus.emit(Event::Loop).unwrap();
    assert_eq!(bus.run(), Err(BusError::StepLimit { limit: 10 }));
    assert_eq!(bus.queued(), 1);
    assert_eq!(bus.metrics().services["looper"].events, 10);
    assert_eq!(bus.stop().unwrap(), vec!["looper", "echo"]);
    assert_eq!(bus.metrics().dropped_on_stop, 1);
}

/// A fixed script over every kind of work, for determinism and snapshots.
fn scripted_run() -> (Vec<String>, BusMetrics) {
    let trace = Trace::default();
    let mut bus = bus_with(
        vec![
            ServiceSpec::new("relay")
                .depends_on("echo")
                .action("relay.relay")
                .subscribe("note"),
            echo_spec().subscribe_in_group("note", "audit"),
            ServiceSpec::new("log").subscribe_in_group("note", "audit"),
        ],
        BusConfig::default(),
        &trace,
    );
    bus.add_middleware(Box::new(Superstition {
        seen: Rc::default(),
    }));
    bus.start().unwrap();
    for x in 0..4 {
        bus.call(Request::Relay(x * 6)).unwrap();
        bus.call(Request::Sign { signatures: x }).unwrap();
        bus.call(Request::Fail(x)).unwrap();
        bus.emit(Event::Note(x)).unwrap();
        bus.broadcast(Event::Note(x + 100)).unwrap();
        bus.call(Request::Echo(13)).unwrap();
    }
    bus.run().unwrap();
    (lines(&trace), bus.metrics().clone())
}

#[test]
fn same_script_same_dispatch_and_metrics() {
    assert_eq!(scripted_run(), scripted_run());
}

#[test]
fn metrics_snapshot() {
    let (_, metrics) = scripted_run();
    insta::assert_json_snapshot!(metrics);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// One external operation of a random script.
    #[derive(Debug, Clone)]
    enum Operation {
        Call(Request),
        Emit(u64),
        Broadcast(u64),
    }

    fn operation() -> impl Strategy<Value = Operation> {
        prop_oneof![
            (0u64..20).prop_map(|x| Operation::Call(Request::Echo(x))),
            (0u64..20).prop_map(|x| Operation::Call(Request::Fail(x))),
            (0u64..20).prop_map(|x| Operation::Call(Request::Relay(x))),
            (0u32..6).prop_map(|n| Operation::Call(Request::Recurse(n))),
            (0u64..4).prop_map(|s| Operation::Call(Request::Sign { signatures: s })),
            (0u64..20).prop_map(Operation::Emit),
            (0u64..20).prop_map(Operation::Broadcast),
        ]
    }

    fn context_ids(trace: &[String]) -> Vec<u64> {
        trace
            .iter()
            .filter_map(|line| line.split(" id=").nth(1))
            .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
            .collect()
    }

    proptest! {
        /// Whatever the script: handlers run in strictly increasing context
        /// id (FIFO by sequence number), every external call gets exactly
        /// one reply, and the cost the cell is charged equals the per-service
        /// sum.
        #[test]
        fn dispatch_is_fifo_and_accounted(script in proptest::collection::vec(operation(), 0..40)) {
            let trace = Trace::default();
            let mut bus = bus_with(
                vec![
                    echo_spec().subscribe_in_group("note", "audit"),
                    ServiceSpec::new("relay").depends_on("echo").action("relay.relay").subscribe("note"),
                    ServiceSpec::new("deep").action("deep.recurse").subscribe_in_group("note", "audit"),
                ],
                BusConfig::default(),
                &trace,
            );
            bus.start().unwrap();
            lines(&trace);
            let mut calls = Vec::new();
            for operation in script {
                match operation {
                    Operation::Call(request) => calls.push(bus.call(request).unwrap()),
                    Operation::Emit(x) => { bus.emit(Event::Note(x)).unwrap(); }
                    Operation::Broadcast(x) => { bus.broadcast(Event::Note(x)).unwrap(); }
                }
            }
            let summary = bus.run().unwrap();
            let ids = context_ids(&lines(&trace));
            // Broadcast deliveries share their event's id; otherwise strictly increasing.
            prop_assert!(ids.windows(2).all(|w| w[0] <= w[1]), "{:?}", ids);
            let replied: Vec<CallId> = bus.take_replies().into_iter().map(|(id, _)| id).collect();
            prop_assert_eq!(replied, calls);
            let per_service: TimeNs = bus.metrics().services.values().map(|m| m.cpu_ns).sum();
            prop_assert_eq!(per_service, summary.cpu_ns);
            prop_assert_eq!(bus.take_cpu_ns(), summary.cpu_ns);
            prop_assert_eq!(bus.queued(), 0);
        }
    }
}
