//! Test support for Fargate Autopilot: the local AWS emulator (moto's server), a stack of ECS,
//! SNS and SQS resources in it, and a local Lambda Runtime API that runs the release binaries as
//! Lambda would. Used by the tests in `tests/` and by the `demo` binary.

pub mod configs;
pub mod day;
pub mod emulator;
pub mod faults;
pub mod iam;
pub mod runtime_api;
pub mod stack;
pub mod template;

use std::path::PathBuf;

pub use emulator::Emulator;
pub use faults::{Fault, FaultProxy, Rule};
pub use runtime_api::{run_function, FunctionRun, Invocation, Profile};
pub use stack::{Capture, Stack};

/// The workspace root (the folder holding `Cargo.toml`, `events/`, `.venv/`).
pub fn workspace_root() -> PathBuf {
    // Cargo sets the variable when it runs a test or a binary; the compile-time value is the
    // fallback for a binary started by hand.
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A sample event from `events/`, parsed.
pub fn sample_event(relative: &str) -> serde_json::Value {
    let path = workspace_root().join("events").join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The release binary of a function: `$AUTOPILOT_BIN_DIR/<name>`, else
/// `<target dir>/release/<name>`. Panics with the command that builds it when it is missing.
pub fn release_binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("AUTOPILOT_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join("target"))
                .join("release")
        });
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "the release binary {} is missing: build it with `cargo build --release --bins` (make test does)",
        path.display()
    );
    path
}
