//! SNS adapter: chat notifications published with `MessageStructure=json` (`default` carries
//! the Chatbot JSON, `email` the plain-text rendering).
//!
//! A Publish to a standard topic is not idempotent (SNS deduplicates only on FIFO topics, by
//! `MessageDeduplicationId`), and the SDK's standard retries resend a request whose attempt timed
//! out or whose answer could not be read: SNS most likely accepted the first one, and chat would
//! show the message twice. So those two are not retried, and a Publish attempt gets longer than
//! other calls' attempts. An error answer from SNS (throttling, 5xx: nothing published) and a
//! connection that failed (mostly a pooled connection the server had closed, before the request
//! went out) are still retried. A Publish that fails fails the invocation (Retryable), which the
//! event's own retry covers.

use std::time::Duration;

use aws_sdk_sns::Client;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

use crate::error::{Error, Result};
use crate::notify::Notification;

/// How long one Publish attempt may take: longer than other calls' attempts
/// ([`super::ATTEMPT_TIMEOUT`]), as an attempt that times out is not tried again.
pub const PUBLISH_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes a notification; returns the SNS message id.
pub async fn publish(client: &Client, topic_arn: &str, n: &Notification) -> Result<String> {
    let out = client
        .publish()
        .topic_arn(topic_arn)
        .message_structure("json")
        .subject(n.subject())
        .message(n.to_sns_message())
        .customize()
        .config_override(
            aws_sdk_sns::config::Builder::default()
                .retry_classifier(NoRetryOnceSent)
                .timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout(PUBLISH_ATTEMPT_TIMEOUT)
                        .operation_timeout(super::OPERATION_TIMEOUT)
                        .build(),
                ),
        )
        .send()
        .await
        .map_err(|e| Error::aws("Publish", e))?;
    Ok(out.message_id.unwrap_or_default())
}

/// Forbids a retry when the attempt most likely reached SNS without its answer reaching us: it
/// timed out, or its response could not be read. The SDK's transient-error classifier would
/// retry both.
/// A topic's tags ("ListTagsForResource", SNS API reference: at most 50 a topic, all in one
/// answer).
pub async fn topic_tags(
    client: &Client,
    topic_arn: &str,
) -> Result<std::collections::BTreeMap<String, String>> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(topic_arn)
        .send()
        .await
        .map_err(|e| Error::aws("ListTagsForResource", e))?;
    Ok(out
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect())
}

/// Adds (or overwrites) one tag on a topic.
pub async fn tag_topic(client: &Client, topic_arn: &str, key: &str, value: &str) -> Result<()> {
    let tag = aws_sdk_sns::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| Error::invariant(format!("an SNS tag without its key or value: {e}")))?;
    client
        .tag_resource()
        .resource_arn(topic_arn)
        .tags(tag)
        .send()
        .await
        .map_err(|e| Error::aws("TagResource", e))?;
    Ok(())
}

/// Removes one tag from a topic.
pub async fn untag_topic(client: &Client, topic_arn: &str, key: &str) -> Result<()> {
    client
        .untag_resource()
        .resource_arn(topic_arn)
        .tag_keys(key)
        .send()
        .await
        .map_err(|e| Error::aws("UntagResource", e))?;
    Ok(())
}

#[derive(Debug)]
struct NoRetryOnceSent;

impl ClassifyRetry for NoRetryOnceSent {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.output_or_error() {
            Some(Err(e)) if e.is_timeout_error() || e.is_response_error() => {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "Publish: no retry once SNS most likely has the message"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

#[cfg(test)]
mod tests {
    use tokio::time::Instant;

    use super::*;
    use crate::aws::fake_http::{sns_client, Scripted};
    use crate::notify::Severity;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:chat";

    fn notice() -> Notification {
        Notification::new("id-1", Severity::Info, "Deployed web:v1", "thread-1")
    }

    /// SNS never answers: the attempt times out once and is not sent again, where the standard
    /// retries sent it three times (three possible posts).
    #[tokio::test(start_paused = true)]
    async fn a_publish_whose_attempt_timed_out_is_not_sent_again() {
        let http = Scripted::new(vec![]);
        let begin = Instant::now();
        let e = publish(&sns_client(&http), TOPIC, &notice())
            .await
            .unwrap_err();
        assert_eq!(http.requests(), 1, "sent once");
        assert_eq!(e.code(), "Timeout", "{e:?}");
        assert!(e.is_retryable());
        assert_eq!(begin.elapsed(), PUBLISH_ATTEMPT_TIMEOUT);
    }

    /// SNS answered with an error: nothing was published, so the SDK's retry stays.
    #[tokio::test(start_paused = true)]
    async fn a_publish_that_sns_refused_with_a_5xx_is_retried() {
        let http = Scripted::new(vec![
            (
                500,
                "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error>\
                 <Type>Receiver</Type><Code>InternalError</Code><Message>Internal error</Message>\
                 </Error><RequestId>5c1d3b86-0bd2-5f4a-9c33-4d3e2a1b0c9f</RequestId></ErrorResponse>"
                    .to_string(),
            ),
            (
                200,
                "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult>\
                 <MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult>\
                 <ResponseMetadata><RequestId>d74b8436-ae13-5ab4-a9ff-ce54dfea72a0</RequestId>\
                 </ResponseMetadata></PublishResponse>"
                    .to_string(),
            ),
        ]);
        let id = publish(&sns_client(&http), TOPIC, &notice()).await.unwrap();
        assert_eq!(id, "567910cd-659e-55d4-8ccb-5aaf14679dc0");
        assert_eq!(http.requests(), 2);
    }
}
