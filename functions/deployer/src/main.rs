//! `deployer`: deploys images pushed to ECR and reports the deployments' outcomes.
//! Everything but the entry point lives in `autopilot-core`.

use autopilot_core::aws::Clients;
use autopilot_core::deploy::{Deployer, DeployerConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        Ok(Deployer::new(
            Clients::new(sdk),
            DeployerConfig::from_env()?,
        ))
    })
    .await
}
