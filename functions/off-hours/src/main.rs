//! `off-hours`: scales the selected services to zero outside working hours and brings them back
//! exactly as they were. Everything but the entry point lives in `autopilot-core`.

use autopilot_core::aws::Clients;
use autopilot_core::offhours::{OffHours, OffHoursConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        Ok(OffHours::new(
            Clients::new(sdk),
            OffHoursConfig::from_env()?,
        ))
    })
    .await
}
