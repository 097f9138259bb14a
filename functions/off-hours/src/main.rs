//! `off-hours`: scales the selected services to zero outside working hours and brings them back
//! exactly as they were. Everything but the entry point lives in `autopilot-core`.

use autopilot_core::aws::Clients;
use autopilot_core::offhours::{OffHours, OffHoursConfig};

// One thread: Lambda sends one event at a time, a 128 MB function has a fraction of one vCPU,
// and worker threads would only cost init time (fan-out is concurrent on this one thread).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        Ok(OffHours::new(
            Clients::new(sdk),
            OffHoursConfig::from_env()?,
        ))
    })
    .await
}
