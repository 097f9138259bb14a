//! The project's own vocabulary: services, revisions, tasks, alarms, scalable targets and ARNs,
//! as every job and adapter speaks of them. Below both the ports (the jobs' needs) and the
//! adapters (`aws/`): it imports neither, and no AWS SDK crate.

pub mod account;
pub mod alarm;
pub mod arn;
pub mod deployment;
pub mod health;
pub mod price;
pub mod revision;
pub mod scaling;
pub mod service;
pub mod task;
