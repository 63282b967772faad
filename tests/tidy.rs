//! Mechanical rules, checked on every test run (TigerBeetle's `tidy`): no wall
//! clock, OS randomness, unpinned RNG or hash-ordered collections in the
//! protocol (`core/`) and simulation (`sim/`) code. A `HashMap`/`HashSet` used
//! only for lookups that never reach an output is allowed when its line (or
//! the line above) says `tidy: lookup-only`.

use std::fs;
use std::path::{Path, PathBuf};

const BANNED: &[(&str, &str)] = &[
    ("thread_rng", "OS-seeded randomness"),
    ("rand::random", "OS-seeded randomness"),
    ("OsRng", "OS randomness"),
    ("from_entropy", "OS-seeded randomness"),
    ("SystemTime::now", "the wall clock"),
    ("Instant::now", "the wall clock"),
    ("StdRng", "an RNG whose algorithm is not pinned"),
    ("SmallRng", "an RNG whose algorithm is not pinned"),
    ("std::thread::spawn", "thread-dependent order"),
    (
        "println!",
        "printing from protocol code (record an observation instead)",
    ),
    (
        "eprintln!",
        "printing from protocol code (record an observation instead)",
    ),
];

const HASHED: &[&str] = &["HashMap", "HashSet"];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn protocol_and_simulation_code_is_deterministic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["core/src", "sim/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(!files.is_empty(), "tidy found no sources to check");
    let mut problems = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("source files are UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        let mut in_tests = false;
        for (number, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            // Unit tests may print and use what they like; they decide no run.
            if line.trim_start().starts_with("#[cfg(test)]") {
                in_tests = true;
            }
            if in_tests {
                continue;
            }
            for (needle, why) in BANNED {
                if code.contains(needle) {
                    problems.push(format!(
                        "{}:{}: `{needle}` is {why}",
                        file.display(),
                        number + 1
                    ));
                }
            }
            let allowed = line.contains("tidy: lookup-only")
                || number > 0 && lines[number - 1].contains("tidy: lookup-only");
            for needle in HASHED {
                if code.contains(needle) && !allowed {
                    problems.push(format!(
                        "{}:{}: `{needle}` iterates in hash order; use BTreeMap/BTreeSet or an indexed Vec, \
                         or mark a lookup-only use with `tidy: lookup-only`",
                        file.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "tidy:\n{}", problems.join("\n"));
}
