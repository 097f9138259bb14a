//! `weekly-account`: once a week, one chat message of what the autopilot did, from the
//! functions' own metrics. Everything but the entry point lives in `autopilot-core`.

use autopilot_core::aws::Clients;
use autopilot_core::weekly::{WeeklyAccount, WeeklyConfig};

// One thread: one event a week, a few reads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        Ok(WeeklyAccount::new(
            Clients::new(sdk),
            WeeklyConfig::from_env()?,
        ))
    })
    .await
}
