//! `alarm-notifier`: CloudWatch alarm state changes become clear, routed, threaded chat
//! messages. Everything but the entry point lives in `autopilot-core`.

use autopilot_core::alarms::{AlarmNotifier, AlarmNotifierConfig};
use autopilot_core::aws::Clients;

// One thread: Lambda sends one event at a time, a 128 MB function has a fraction of one vCPU,
// and worker threads would only cost init time (fan-out is concurrent on this one thread).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_core::runtime::start(|sdk| {
        Ok(AlarmNotifier::new(
            Clients::new(sdk),
            AlarmNotifierConfig::from_env()?,
        ))
    })
    .await
}
