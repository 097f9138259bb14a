//! EventBridge Scheduler adapter: a one-time schedule that queues a message for a function
//! (the deployer's pause reminder).

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, SqsParameters, Target,
};
use aws_sdk_scheduler::Client;
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};

/// A message to queue once, at a time.
#[derive(Clone, Debug, PartialEq)]
pub struct OneShot {
    /// The schedule's name: 1 to 64 of `[0-9a-zA-Z-_.]`, unique in the default group.
    pub name: String,
    pub at: DateTime<Utc>,
    /// The SQS FIFO queue it sends to, the message group, and the role it sends with.
    pub queue_arn: String,
    pub message_group: String,
    pub role_arn: String,
    /// The message body (at most 8,192 characters, Scheduler's `Target.Input`).
    pub input: String,
    pub description: String,
}

/// Creates the schedule, deleted by Scheduler once it has run. Returns `false` when a schedule
/// of that name exists already (a redelivered event created it): nothing changes.
pub async fn create_one_shot(client: &Client, s: &OneShot) -> Result<bool> {
    let target = Target::builder()
        .arn(&s.queue_arn)
        .role_arn(&s.role_arn)
        .input(&s.input)
        .sqs_parameters(
            SqsParameters::builder()
                .message_group_id(&s.message_group)
                .build(),
        )
        .build()
        .map_err(|e| Error::invariant(format!("a schedule target is incomplete: {e}")))?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| Error::invariant(format!("a flexible time window is incomplete: {e}")))?;
    let result = client
        .create_schedule()
        .name(&s.name)
        .description(&s.description)
        // `at(yyyy-mm-ddThh:mm:ss)`, in the time zone below.
        .schedule_expression(format!("at({})", s.at.format("%Y-%m-%dT%H:%M:%S")))
        .schedule_expression_timezone("UTC")
        .flexible_time_window(window)
        .action_after_completion(ActionAfterCompletion::Delete)
        .target(target)
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = Error::aws("CreateSchedule", e);
            if e.aws_code() == Some("ConflictException") {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}
