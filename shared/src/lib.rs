//! `autopilot-core`: everything the Fargate Autopilot functions share that is not a Lambda entry
//! point. Each job is a module that plans (pure, no I/O) and then applies the plan.

pub mod alarms;
pub mod aws;
pub mod capacity;
pub mod config;
pub mod deploy;
pub mod error;
pub mod events;
pub mod metrics;
pub mod notify;
pub mod offhours;
pub mod ports;
pub mod runtime;
pub mod service;
pub mod tags;
pub mod tasks;
pub mod telemetry;
#[cfg(test)]
pub(crate) mod testing;

pub use error::{Error, Result};
