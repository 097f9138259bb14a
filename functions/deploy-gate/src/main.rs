//! `deploy-gate`: the lifecycle hook of a blue/green, linear or canary deployment; it lets a
//! release through a stage only when it is healthy. Everything but the entry point lives in
//! `autopilot-core`.

use autopilot_core::aws::Clients;
use autopilot_core::gate::{DeployGate, GateConfig};

// One thread: Lambda sends one event at a time, and the gate's few reads fan out on this one.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        Ok(DeployGate::new(Clients::new(sdk), GateConfig::from_env()?))
    })
    .await
}
