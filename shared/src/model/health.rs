//! A release's health as the deploy-gate reads it: its alarms' states, its targets' health and
//! its traffic. The adapters fill these in; the gate's plan judges them.

use serde::Serialize;

/// One alarm's state.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmReading {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: Option<String>,
}

/// The new revision's targets, by health state.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetHealth {
    pub healthy: u32,
    pub initial: u32,
    pub unhealthy: u32,
    /// Any other state (draining, unused, unavailable).
    pub other: u32,
    /// Why targets are not healthy (`Target.ResponseCodeMismatch: Health checks failed with
    /// these codes: [502]`), as ELB says it.
    pub reasons: Vec<String>,
}

/// The new revision's traffic since the stage began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Traffic {
    pub requests: f64,
    /// Requests its targets answered with a 5XX.
    pub errors: f64,
}
