//! `deployer`: deploys images pushed to ECR and reports the deployments' outcomes.
//! Everything but the entry point lives in `autopilot-core`.

use autopilot_core::deploy::{Deployer, DeployerConfig};

// One thread: Lambda sends one event at a time, a 128 MB function has a fraction of one vCPU,
// and worker threads would only cost init time (fan-out is concurrent on this one thread).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        // One account (its own), or every member account of an organization (a hub:
        // SPOKE_ROLE_ARN set), each event handled in the account it comes from.
        let config = DeployerConfig::from_env()?;
        autopilot_core::org::scoped(sdk, move |clients| Deployer::new(clients, config.clone()))
    })
    .await
}
