//! SNS adapter: chat notifications published with `MessageStructure=json` (`default` carries
//! the Chatbot JSON, `email` the plain-text rendering).

use aws_sdk_sns::Client;

use crate::error::{Error, Result};
use crate::notify::Notification;

/// Publishes a notification; returns the SNS message id.
pub async fn publish(client: &Client, topic_arn: &str, n: &Notification) -> Result<String> {
    let out = client
        .publish()
        .topic_arn(topic_arn)
        .message_structure("json")
        .subject(n.subject())
        .message(n.to_sns_message())
        .send()
        .await
        .map_err(|e| Error::aws("Publish", e))?;
    Ok(out.message_id.unwrap_or_default())
}
