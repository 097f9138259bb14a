//! The integration tests, as one test binary: each module was a binary of its own, and each of
//! those linked the whole AWS SDK (the links were a good part of `make test`'s time). Run one
//! module with `cargo test -p integration-tests --test integration <module>::`.

mod alarm_notifier;
mod bursts;
mod demo;
mod deployer;
mod faults;
mod fleet;
mod fleet_mode;
mod gate;
mod iam;
mod lambda_runtime;
mod off_hours;
mod organization;
mod task_watcher;
mod template;
mod weekly;
