//! What the binary's integration tests share (each test binary uses a part).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built `celluler` binary from the workspace root.
pub fn celluler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_celluler"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the celluler binary runs")
}

/// A fresh, empty directory `group/name` under the test target directory.
pub fn fresh_dir(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a test directory");
    dir
}
