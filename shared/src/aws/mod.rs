//! The AWS side: one `SdkConfig` per process, the clients built from it, a record of the calls
//! they make, ARNs and console links.
//!
//! Endpoints come from the SDK's own `AWS_ENDPOINT_URL`, so the local emulator needs no special
//! code path here.

pub mod arn;
#[cfg(feature = "autoscaling")]
pub mod autoscaling;
#[cfg(feature = "cloudwatch")]
pub mod cloudwatch;
pub mod ecs;
mod ports;
pub mod sns;
#[cfg(feature = "fleet")]
pub mod tagging;
pub mod tls;

use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

pub use arn::{console_host, Arn};

/// How long one attempt of a call may take before the SDK gives up on it and retries: a
/// response that never comes must not eat the function's whole timeout.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How many calls a function makes at once where its work fans out (the deployer's targets and
/// their reads, the task-watcher's batched reads): enough to hide AWS's latency, well under the
/// API rate limits of ECS (tens of requests a second per action, bursts of 50 to 100).
pub const FAN_OUT: usize = 10;
/// How long a call may take with its retries (the functions' timeout is 30 s).
pub const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Loads the shared SDK configuration from the environment, with attempt and operation
/// timeouts (the SDK sets none by default), its standard retries (3 attempts, exponential
/// backoff with jitter), and the HTTPS client of [`tls`] (compiled-in Amazon roots, plus
/// `AWS_CA_BUNDLE`). Makes no network call: credentials are resolved lazily on the first
/// request. Fails only on an unreadable or invalid `AWS_CA_BUNDLE`.
pub async fn load_sdk_config() -> crate::error::Result<SdkConfig> {
    let bundle = std::env::var(tls::CA_BUNDLE_VAR).ok();
    let http = tls::https_client(tls::extra_bundle(bundle.as_deref())?)?;
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        // Standard, not adaptive: adaptive's client-side rate, measured on a function's few
        // calls, held a throttled call back past the 20 s operation timeout in the release
        // deployer's fault test (two throttles, then nothing for 20 s).
        .retry_config(aws_config::retry::RetryConfig::standard())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .load()
        .await)
}

/// The names (`Service.Operation`) of the AWS calls made, in order. Shared by every client of a
/// process; the handler takes them per invocation for its log line and metrics.
#[derive(Clone, Debug, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    /// Returns the calls recorded so far and starts a new record.
    pub fn take(&self) -> Vec<String> {
        match self.0.lock() {
            Ok(mut calls) => std::mem::take(&mut *calls),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        }
    }

    /// The calls recorded so far.
    pub fn snapshot(&self) -> Vec<String> {
        match self.0.lock() {
            Ok(calls) => calls.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Runs one invocation's work on a fresh record; returns its result and the calls it made,
    /// and logs them.
    pub async fn around<T>(
        &self,
        work: impl std::future::Future<Output = crate::error::Result<T>>,
    ) -> (crate::error::Result<T>, Vec<String>) {
        self.take();
        let result = work.await;
        let calls = self.snapshot();
        tracing::info!(aws_calls = calls.len(), calls = ?calls, ok = result.is_ok(), "invocation done");
        (result, calls)
    }

    /// Adds a call to the record (the SDK interceptor does; so do in-memory ports in tests).
    pub fn record(&self, call: String) {
        match self.0.lock() {
            Ok(mut calls) => calls.push(call),
            Err(poisoned) => poisoned.into_inner().push(call),
        }
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    // Not read_before_execution: for client-level interceptors that runs before the operation's
    // metadata is in the config bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            self.record(format!("{}.{}", meta.service(), meta.name()));
        }
        Ok(())
    }
}

/// The clients a function uses, all recording into one [`CallLog`]: ECS and SNS always,
/// Application Auto Scaling and CloudWatch only in builds whose jobs call them (features
/// `autoscaling` and `cloudwatch`, which the `tasks`, `alarms` and `offhours` features turn on).
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    #[cfg(feature = "autoscaling")]
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    #[cfg(feature = "cloudwatch")]
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    #[cfg(feature = "fleet")]
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub sns: aws_sdk_sns::Client,
    pub calls: CallLog,
}

impl Clients {
    /// Builds the clients from one `SdkConfig`.
    pub fn new(config: &SdkConfig) -> Self {
        let calls = CallLog::default();
        let ecs = aws_sdk_ecs::config::Builder::from(config)
            .interceptor(calls.clone())
            .build();
        let sns = aws_sdk_sns::config::Builder::from(config)
            .interceptor(calls.clone())
            .build();
        Clients {
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            #[cfg(feature = "autoscaling")]
            autoscaling: aws_sdk_applicationautoscaling::Client::from_conf(
                aws_sdk_applicationautoscaling::config::Builder::from(config)
                    .interceptor(calls.clone())
                    .build(),
            ),
            #[cfg(feature = "cloudwatch")]
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(config)
                    .interceptor(calls.clone())
                    .build(),
            ),
            #[cfg(feature = "fleet")]
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(
                aws_sdk_resourcegroupstagging::config::Builder::from(config)
                    .interceptor(calls.clone())
                    .build(),
            ),
            sns: aws_sdk_sns::Client::from_conf(sns),
            calls,
        }
    }
}
