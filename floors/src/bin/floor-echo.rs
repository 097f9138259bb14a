//! The floor: a bare `lambda_runtime` function that returns its event, on the runtime the
//! functions use (tokio's current-thread runtime: no worker threads started at init), built
//! with the same `lambda` profile. Whatever a function's init costs above this is its own.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(event.payload)
    }))
    .await
}
