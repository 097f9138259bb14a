//! `deployer`: deploys images pushed to ECR and reports the deployments' outcomes.
//! Everything but the entry point lives in `autopilot-core`.

use autopilot_core::aws::Clients;
use autopilot_core::deploy::{Deployer, DeployerConfig};

// One thread: Lambda sends one event at a time, a 128 MB function has a fraction of one vCPU,
// and worker threads would only cost init time (fan-out is concurrent on this one thread).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        Ok(Deployer::new(
            Clients::new(sdk),
            DeployerConfig::from_env()?,
        ))
    })
    .await
}
