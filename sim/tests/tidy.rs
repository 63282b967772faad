//! Mechanical determinism rules for the simulator's source: no hash-ordered
//! collections, no wall clock, no OS randomness.

#[test]
fn simulator_source_has_no_nondeterminism() {
    let forbidden = [
        "HashMap",
        "HashSet",
        "thread_rng",
        "SystemTime",
        "Instant::now",
        "OsRng",
        "from_entropy",
    ];
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![source];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                files.push(entry.unwrap().path());
            }
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for word in forbidden {
            assert!(!text.contains(word), "{} uses {word}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 9, "found the sources");
}
