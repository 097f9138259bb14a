//! `autopilot-core`: everything the Fargate Autopilot functions share that is not a Lambda entry
//! point. Each job is a module that plans (pure, no I/O) and then applies the plan.

#[cfg(feature = "alarms")]
pub mod alarms;
pub mod aws;
#[cfg(feature = "autoscaling")]
pub mod capacity;
pub mod config;
#[cfg(feature = "deploy")]
pub mod deploy;
pub mod error;
pub mod events;
pub mod fleet;
pub mod metrics;
pub mod notify;
#[cfg(feature = "offhours")]
pub mod offhours;
pub mod ports;
pub mod runtime;
pub mod service;
pub mod tags;
#[cfg(feature = "tasks")]
pub mod tasks;
pub mod telemetry;
// The in-memory fakes implement every job's ports: the core's own tests build every job.
#[cfg(all(
    test,
    feature = "deploy",
    feature = "tasks",
    feature = "alarms",
    feature = "offhours"
))]
pub(crate) mod testing;

pub use error::{Error, Result};
