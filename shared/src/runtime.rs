//! The Lambda entry point every function shares: telemetry, configuration and clients once at
//! init, then the event loop. The only module that touches the Lambda runtime besides the
//! `Diagnostic` mapping of errors.

use std::future::Future;

use aws_config::SdkConfig;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::error::Result;

/// A function's handler: one event in, the JSON result out.
pub trait Handler: Send + Sync {
    fn handle(&self, event: Value) -> impl Future<Output = Result<Value>> + Send;
}

/// Builds the handler once (a configuration error stops the function at init, naming the
/// variable), then serves invocations until the runtime stops.
pub async fn start<H, B>(build: B) -> std::result::Result<(), lambda_runtime::Error>
where
    H: Handler,
    B: FnOnce(&SdkConfig) -> Result<H>,
{
    crate::telemetry::init();
    let handler = async { build(&crate::aws::load_sdk_config().await?) }
        .await
        .inspect_err(|e| tracing::error!(error = %e, "initialisation failed"))?;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Boxed: the handlers' futures nest the SDK's deeply, and erasing the type here keeps
        // the binary's future within the compiler's layout depth limit.
        let work: std::pin::Pin<Box<dyn Future<Output = Result<Value>> + Send + '_>> =
            Box::pin(handler.handle(event.payload));
        work.await.map_err(|e| {
            tracing::error!(error = ?e, error_type = e.error_type(), "invocation failed");
            Diagnostic::from(e)
        })
    }))
    .await
}
