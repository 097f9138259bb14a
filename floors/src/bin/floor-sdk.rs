//! The stock SDK's floor: the echo (current-thread runtime, like the functions), plus
//! `aws_config::load_defaults` and one SNS client built at init, the way the SDK's examples set
//! a function up (its default HTTPS client, which trusts the system's certificate store), and
//! one cheap call (ListTopics) per event, so that its first invocation pays for the first
//! connection as a function's does. Above the echo, it is what the stock SDK set-up costs.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sns = &sns;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let topics = sns.list_topics().send().await?;
        Ok::<Value, Error>(json!({"event": event.payload, "topics": topics.topics().len()}))
    }))
    .await
}
