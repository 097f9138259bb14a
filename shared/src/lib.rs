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
#[cfg(feature = "gate")]
pub mod gate;
pub mod metrics;
pub mod model;
pub mod notify;
#[cfg(feature = "offhours")]
pub mod offhours;
#[cfg(feature = "org")]
pub mod org;
pub mod ports;
pub mod runtime;
pub mod tag_problems;
pub mod tags;
#[cfg(feature = "tasks")]
pub mod tasks;
pub mod telemetry;
#[cfg(feature = "weekly")]
pub mod weekly;
// The in-memory fake; each job implements its own ports for it, beside them (a build of one
// job's tests uses part of it).
#[cfg(test)]
#[allow(dead_code)]
pub(crate) mod testing;

pub use error::{Error, Result};
