//! `alarm-notifier`: CloudWatch alarm state changes become clear, routed, threaded chat
//! messages. Everything but the entry point lives in `autopilot-core`.

use autopilot_core::alarms::{AlarmNotifier, AlarmNotifierConfig};
use autopilot_core::aws::Clients;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        Ok(AlarmNotifier::new(
            Clients::new(sdk),
            AlarmNotifierConfig::from_env()?,
        ))
    })
    .await
}
