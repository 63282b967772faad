//! `celluler dag`: the hand-drawn fixtures in tests/dags/ through the binary,
//! and every kind of bad input (exit status 2, one message naming the event).

use std::path::PathBuf;
use std::process::Command;

fn celluler(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_celluler"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output
            .status
            .code()
            .expect("exited normally, not by a signal"),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/dags")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn n4_ring_replays_with_hand_computed_facts() {
    let (status, stdout, stderr) = celluler(&["dag", &fixture("n4_ring.json")]);
    assert_eq!(status, 0, "{stderr}");
    let output: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // Rounds 0 and 1 are decided (by a2 and a3); a0 is received in round 0,
    // b0, c0, d0, a1 in round 1; consensus timestamp = creation time + 2.
    assert_eq!(
        output["consensus_order"],
        serde_json::json!(["a0", "b0", "c0", "d0", "a1"])
    );
    let events = &output["events"];
    for (id, round, round_received, timestamp) in [
        ("a0", 0, Some(0), Some(2)),
        ("b0", 0, Some(1), Some(3)),
        ("c0", 0, Some(1), Some(4)),
        ("d0", 0, Some(1), Some(5)),
        ("a1", 1, Some(1), Some(6)),
        ("b1", 1, None, None),
        ("d3", 3, None, None),
    ] {
        assert_eq!(events[id]["round"], round, "{id}");
        assert_eq!(events[id]["witness"], true, "{id}");
        assert_eq!(
            events[id]["round_received"],
            serde_json::json!(round_received),
            "{id}"
        );
        assert_eq!(
            events[id]["consensus_timestamp"],
            serde_json::json!(timestamp),
            "{id}"
        );
    }
    for id in ["a0", "b0", "c0", "d0", "a1", "b1", "c1", "d1"] {
        assert_eq!(events[id]["famous"], true, "{id}");
    }
    for id in ["a2", "d3"] {
        assert_eq!(events[id]["famous"], serde_json::Value::Null, "{id}");
    }
    assert_eq!(output["forks"], serde_json::json!([]));
}

#[test]
fn n4_fork_is_reported_and_consensus_continues() {
    let (status, stdout, stderr) = celluler(&["dag", &fixture("n4_fork.json")]);
    assert_eq!(status, 0, "{stderr}");
    let output: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(output["forks"], serde_json::json!([["a1", "a1x"]]));
    let order = output["consensus_order"].as_array().unwrap();
    // Both fork branches end up ordered, once each.
    assert!(order.len() >= 12, "{order:?}");
    assert!(order.contains(&serde_json::json!("a1")) && order.contains(&serde_json::json!("a1x")));
    assert_eq!(output["events"]["a1x"]["witness"], false);
}

#[test]
fn dot_output_draws_members_rounds_and_witnesses() {
    let (status, stdout, stderr) = celluler(&["dag", "--dot", &fixture("n4_ring.json")]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.starts_with("digraph hashgraph {"));
    assert!(stdout.contains("subgraph cluster_member_3"));
    assert!(stdout.contains("\"a0\" [fillcolor="));
    assert!(stdout.contains("peripheries=2"));
    assert!(stdout.contains("\"a0\" -> \"a1\""));
    assert!(stdout.contains("style=dashed"));
}

fn bad_input(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("celluler-dag-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let (status, stdout, stderr) = celluler(&["dag", path.to_str().unwrap()]);
    assert_eq!(status, 2, "{name}: {stderr}");
    assert!(stdout.is_empty(), "{name}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{name}: one message: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{name}");
    stderr
}

const HEADER: &str = r#"{"format":"celluler-dag/1","members":["A","B"],"events":["#;

fn dag(events: &str) -> String {
    format!("{HEADER}{events}]}}")
}

const A0: &str = r#"{"id":"a0","creator":"A","self_parent":null,"other_parent":null,"timestamp":0,"transactions":[]}"#;

#[test]
fn unknown_parent_is_bad_input() {
    let message = bad_input(
        "unknown_parent.json",
        &dag(&format!(
            r#"{A0},{{"id":"b0","creator":"B","self_parent":null,"other_parent":"zz","timestamp":1}}"#
        )),
    );
    assert!(
        message.contains("\"b0\"") && message.contains("\"zz\""),
        "{message}"
    );
}

#[test]
fn parent_listed_after_child_is_bad_input() {
    let message = bad_input(
        "parent_after_child.json",
        &dag(&format!(
            r#"{{"id":"b0","creator":"B","other_parent":"a0","timestamp":1}},{A0}"#
        )),
    );
    assert!(
        message.contains("\"b0\"") && message.contains("listed after"),
        "{message}"
    );
}

#[test]
fn duplicate_id_is_bad_input() {
    let message = bad_input("duplicate.json", &dag(&format!("{A0},{A0}")));
    assert!(
        message.contains("\"a0\"") && message.contains("duplicate id"),
        "{message}"
    );
}

#[test]
fn unknown_creator_is_bad_input() {
    let message = bad_input(
        "unknown_creator.json",
        &dag(r#"{"id":"z0","creator":"Zed","timestamp":0}"#),
    );
    assert!(
        message.contains("\"z0\"") && message.contains("\"Zed\""),
        "{message}"
    );
}

#[test]
fn self_parent_by_another_creator_is_bad_input() {
    let message = bad_input(
        "foreign_self_parent.json",
        &dag(&format!(
            r#"{A0},{{"id":"b1","creator":"B","self_parent":"a0","timestamp":1}}"#
        )),
    );
    assert!(
        message.contains("\"b1\"") && message.contains("self_parent"),
        "{message}"
    );
}

#[test]
fn malformed_json_is_bad_input() {
    let message = bad_input(
        "malformed.json",
        r#"{"format":"celluler-dag/1","members":["A"],"events":[{"id":"a0""#,
    );
    assert!(message.contains("not a valid DAG file"), "{message}");
    let message = bad_input(
        "wrong_type.json",
        &dag(r#"{"id":"a0","creator":"A","timestamp":-5}"#),
    );
    assert!(message.contains("not a valid DAG file"), "{message}");
    let message = bad_input(
        "wrong_format.json",
        r#"{"format":"other/9","members":["A"],"events":[]}"#,
    );
    assert!(message.contains("other/9"), "{message}");
}

#[test]
fn identical_events_and_bad_signatures_are_bad_input() {
    let twin = A0.replace("\"a0\"", "\"a0bis\"");
    let message = bad_input("identical.json", &dag(&format!("{A0},{twin}")));
    assert!(
        message.contains("\"a0bis\"") && message.contains("identical"),
        "{message}"
    );
    let signed = A0.replace(
        "\"transactions\":[]",
        &format!("\"transactions\":[],\"signature\":\"{}\"", "ab".repeat(64)),
    );
    let message = bad_input("bad_signature.json", &dag(&signed));
    assert!(
        message.contains("\"a0\"") && message.contains("signature"),
        "{message}"
    );
}

#[test]
fn missing_file_is_bad_input() {
    let (status, _, stderr) = celluler(&["dag", "/nonexistent/dag.json"]);
    assert_eq!(status, 2);
    assert!(stderr.contains("cannot read"));
}

/// A long ring of two members, then an event on a self-parent from the
/// start: refused as ancient, naming both events; every earlier event
/// replays.
#[test]
fn an_event_on_a_long_pruned_parent_is_bad_input() {
    let mut events = vec![A0.to_string()];
    let mut latest = ["a0".to_string(), String::new()];
    for k in 1..400 {
        let (creator, me, other) = if k % 2 == 1 { ("B", 1, 0) } else { ("A", 0, 1) };
        let id = format!("e{k}");
        let self_parent = if latest[me].is_empty() {
            "null".to_string()
        } else {
            format!("{:?}", latest[me])
        };
        events.push(format!(
            r#"{{"id":"{id}","creator":"{creator}","self_parent":{self_parent},"other_parent":{:?},"timestamp":{k}}}"#,
            latest[other]
        ));
        latest[me] = id;
    }
    let (status, _, stderr) = {
        let dir = std::env::temp_dir().join(format!("celluler-dag-long-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("long.json");
        std::fs::write(&path, dag(&events.join(","))).unwrap();
        celluler(&["dag", path.to_str().unwrap()])
    };
    assert_eq!(status, 0, "{stderr}");
    events.push(
        r#"{"id":"stale","creator":"A","self_parent":"a0","other_parent":null,"timestamp":9999}"#
            .to_string(),
    );
    let message = bad_input("ancient.json", &dag(&events.join(",")));
    assert!(
        message.contains("\"stale\"") && message.contains("\"a0\"") && message.contains("long ago"),
        "{message}"
    );
}

#[test]
fn bad_recorded_dag_fields_are_bad_input() {
    let both = A0.replace(
        "\"transactions\":[]",
        "\"transactions\":[\"x\"],\"transactions_hex\":[\"00\"]",
    );
    let message = bad_input("both_transactions.json", &dag(&both));
    assert!(
        message.contains("\"a0\"") && message.contains("transactions_hex"),
        "{message}"
    );
    let odd = A0.replace("\"transactions\":[]", "\"transactions_hex\":[\"abc\"]");
    let message = bad_input("odd_hex.json", &dag(&odd));
    assert!(
        message.contains("\"a0\"") && message.contains("hex digits"),
        "{message}"
    );
    let keyed = |keys: &str, events: &str| {
        format!(
            r#"{{"format":"celluler-dag/1","members":["A","B"],"public_keys":{keys},"events":[{events}]}}"#
        )
    };
    let message = bad_input(
        "one_key.json",
        &keyed(&format!("[\"{}\"]", "11".repeat(32)), A0),
    );
    assert!(message.contains("1 public keys for 2 members"), "{message}");
    let message = bad_input(
        "short_key.json",
        &keyed(&format!("[\"{0}\",\"{0}\"]", "11".repeat(31)), A0),
    );
    assert!(message.contains("public key of \"A\""), "{message}");
    // With real keys every event must carry its signature.
    let keys = format!(
        "[\"{}\",\"{}\"]",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
    let message = bad_input("unsigned.json", &keyed(&keys, A0));
    assert!(
        message.contains("\"a0\"") && message.contains("no signature"),
        "{message}"
    );
}
