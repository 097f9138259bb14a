//! The AWS side: one `SdkConfig` per process, the clients built from it, a record of the calls
//! they make, ARNs and console links.
//!
//! Endpoints come from the SDK's own `AWS_ENDPOINT_URL`, so the local emulator needs no special
//! code path here.

#[cfg(feature = "autoscaling")]
pub mod autoscaling;
#[cfg(feature = "cloudwatch")]
pub mod cloudwatch;
pub mod ecs;
#[cfg(feature = "elb")]
pub mod elbv2;
#[cfg(feature = "org")]
pub mod iam;
#[cfg(feature = "pricing")]
pub mod pricing;
#[cfg(feature = "scheduler")]
pub mod scheduler;
pub mod sns;
#[cfg(feature = "org")]
pub mod sts;
#[cfg(feature = "tagging")]
pub mod tagging;
pub mod tls;

use std::sync::{Arc, LazyLock, Mutex};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// How long one attempt of a call may take before the SDK gives up on it and retries: a
/// response that never comes must not eat the function's whole timeout.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How many calls a function makes at once where its work fans out (the deployer's targets and
/// their reads, the task-watcher's batched reads): enough to hide AWS's latency, well under the
/// API rate limits of ECS (tens of requests a second per action, bursts of 50 to 100).
pub const FAN_OUT: usize = 10;
/// How long a call may take with its retries. A whole invocation is bounded by the time Lambda
/// gives it ([`crate::runtime`]), which ends a call still under way when that time is up.
pub const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The SDK's retries: standard, not adaptive. Adaptive's client-side rate, measured on a
/// function's few calls, held a throttled call back past the 20 s operation timeout in the
/// release deployer's fault test (two throttles, then nothing for 20 s).
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
}

/// Attempt and operation timeouts (the SDK sets none by default).
pub fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

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
        .retry_config(retry_config())
        .timeout_config(timeout_config())
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

fn call_name(cfg: &ConfigBag) -> Option<String> {
    cfg.load::<Metadata>()
        .map(|meta| format!("{}.{}", meta.service(), meta.name()))
}

/// What an attempt that failed reports: the HTTP status and the error, or the timeout.
fn attempt_error(context: &FinalizerInterceptorContextRef<'_>) -> Option<String> {
    let error = context.output_or_error()?.err()?;
    Some(if error.is_timeout_error() {
        "the attempt timed out".to_string()
    } else if let Some(op) = error.as_operation_error() {
        match context.response() {
            Some(r) => format!("HTTP {}: {op}", r.status().as_u16()),
            None => op.to_string(),
        }
    } else if let Some(c) = error.as_connector_error() {
        format!("could not be sent or answered: {c}")
    } else {
        error.to_string()
    })
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
        if let Some(call) = call_name(cfg) {
            CallWatch::started(&call);
            self.record(call);
        }
        Ok(())
    }

    // Runs after every attempt, a timed-out one included (the SDK settles an attempt before it
    // decides on a retry).
    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let (Some(call), Some(error)) = (call_name(cfg), attempt_error(context)) {
            CallWatch::failed(&format!("{call}: {error}"));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(call) = call_name(cfg) {
            CallWatch::finished(&call);
        }
        Ok(())
    }
}

tokio::task_local! {
    static WATCH: CallWatch;
}

/// What one invocation's AWS calls are doing: how many started, which are under way, and the
/// last failed attempt. The Lambda entry point runs each invocation inside [`CallWatch::watch`];
/// the [`CallLog`] interceptor of every client reports to the watch of the invocation it runs
/// in, so a deadline can name the call it cut short and the AWS error before it.
#[derive(Clone, Debug, Default)]
pub struct CallWatch(Arc<Mutex<Watched>>);

/// What a [`CallWatch`] has seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watched {
    /// AWS calls started.
    pub calls: usize,
    /// Calls started and not finished, in the order they started (`Service.Operation`).
    pub in_flight: Vec<String>,
    /// The last failed attempt: `Service.Operation: <error>`.
    pub last_error: Option<String>,
}

impl CallWatch {
    /// Runs `work` with this watch as the invocation's.
    pub async fn watch<F: std::future::Future>(&self, work: F) -> F::Output {
        WATCH.scope(self.clone(), work).await
    }

    /// What was seen so far.
    pub fn seen(&self) -> Watched {
        match self.0.lock() {
            Ok(w) => w.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Applies `f` to the current invocation's watch; outside one (tests, init), does nothing.
    fn update(f: impl FnOnce(&mut Watched)) {
        let _ = WATCH.try_with(|w| match w.0.lock() {
            Ok(mut seen) => f(&mut seen),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        });
    }

    /// A call started.
    pub fn started(call: &str) {
        Self::update(|w| {
            w.calls += 1;
            w.in_flight.push(call.to_string());
        });
    }

    /// A call ended (with or without success).
    pub fn finished(call: &str) {
        Self::update(|w| {
            if let Some(i) = w.in_flight.iter().position(|c| c == call) {
                w.in_flight.remove(i);
            }
        });
    }

    /// An attempt failed: `what` names the call and the error.
    pub fn failed(what: &str) {
        Self::update(|w| w.last_error = Some(what.to_string()));
    }
}

/// The clients a function uses, all recording into one [`CallLog`]: ECS and SNS always,
/// Application Auto Scaling and CloudWatch only in builds whose jobs call them (features
/// `autoscaling` and `cloudwatch`, which the `tasks`, `alarms` and `offhours` features turn on).
///
/// ECS and SNS are built at init; the others on their first call ([`LazyClient`]).
#[derive(Clone, Debug)]
pub struct Clients {
    pub ecs: aws_sdk_ecs::Client,
    #[cfg(feature = "autoscaling")]
    pub autoscaling: LazyClient<aws_sdk_applicationautoscaling::Client>,
    #[cfg(feature = "cloudwatch")]
    pub cloudwatch: LazyClient<aws_sdk_cloudwatch::Client>,
    #[cfg(feature = "tagging")]
    pub tagging: LazyClient<aws_sdk_resourcegroupstagging::Client>,
    #[cfg(feature = "elb")]
    pub elb: LazyClient<aws_sdk_elasticloadbalancingv2::Client>,
    #[cfg(feature = "scheduler")]
    pub scheduler: LazyClient<aws_sdk_scheduler::Client>,
    /// The Price List Query API, at the endpoint region nearest the function's
    /// ([`pricing::endpoint_region`]): it is served from a few regions only.
    #[cfg(feature = "pricing")]
    pub pricing: LazyClient<aws_sdk_pricing::Client>,
    pub sns: aws_sdk_sns::Client,
    /// STS, to assume a member account's role (organization mode).
    #[cfg(feature = "org")]
    pub sts: LazyClient<aws_sdk_sts::Client>,
    /// IAM, to read a member account's alias (organization mode).
    #[cfg(feature = "org")]
    pub iam: LazyClient<aws_sdk_iam::Client>,
    pub calls: CallLog,
    /// The member account these clients act in (organization mode), named in every
    /// notification they publish; `None` in the function's own account.
    pub account: Option<crate::model::account::Account>,
}

impl Clients {
    /// Builds the clients from one `SdkConfig`.
    pub fn new(config: &SdkConfig) -> Self {
        Self::recording(config, CallLog::default())
    }

    /// The clients of a member account (organization mode): those that read and change the
    /// account's resources are built on `spoke` (the credentials of the role assumed there);
    /// those of the hub's own resources (the chat topic, the reminders' schedules, STS, the
    /// Price List) stay these. All record into this call log.
    pub fn in_account(&self, spoke: &SdkConfig, account: crate::model::account::Account) -> Self {
        let there = Self::recording(spoke, self.calls.clone());
        Clients {
            sns: self.sns.clone(),
            #[cfg(feature = "scheduler")]
            scheduler: self.scheduler.clone(),
            #[cfg(feature = "pricing")]
            pricing: self.pricing.clone(),
            #[cfg(feature = "org")]
            sts: self.sts.clone(),
            account: Some(account),
            ..there
        }
    }

    fn recording(config: &SdkConfig, calls: CallLog) -> Self {
        let ecs = aws_sdk_ecs::config::Builder::from(config)
            .interceptor(calls.clone())
            .build();
        let sns = aws_sdk_sns::config::Builder::from(config)
            .interceptor(calls.clone())
            .build();
        Clients {
            ecs: aws_sdk_ecs::Client::from_conf(ecs),
            #[cfg(feature = "autoscaling")]
            autoscaling: LazyClient::new(config, &calls, |config, calls| {
                aws_sdk_applicationautoscaling::Client::from_conf(
                    aws_sdk_applicationautoscaling::config::Builder::from(config)
                        .interceptor(calls)
                        .build(),
                )
            }),
            #[cfg(feature = "cloudwatch")]
            cloudwatch: LazyClient::new(config, &calls, |config, calls| {
                aws_sdk_cloudwatch::Client::from_conf(
                    aws_sdk_cloudwatch::config::Builder::from(config)
                        .interceptor(calls)
                        .build(),
                )
            }),
            #[cfg(feature = "tagging")]
            tagging: LazyClient::new(config, &calls, |config, calls| {
                aws_sdk_resourcegroupstagging::Client::from_conf(
                    aws_sdk_resourcegroupstagging::config::Builder::from(config)
                        .interceptor(calls)
                        .build(),
                )
            }),
            #[cfg(feature = "elb")]
            elb: LazyClient::new(config, &calls, |config, calls| {
                aws_sdk_elasticloadbalancingv2::Client::from_conf(
                    aws_sdk_elasticloadbalancingv2::config::Builder::from(config)
                        .interceptor(calls)
                        .build(),
                )
            }),
            #[cfg(feature = "scheduler")]
            scheduler: LazyClient::new(config, &calls, |config, calls| {
                aws_sdk_scheduler::Client::from_conf(
                    aws_sdk_scheduler::config::Builder::from(config)
                        .interceptor(calls)
                        .build(),
                )
            }),
            #[cfg(feature = "pricing")]
            pricing: LazyClient::new(config, &calls, |config, calls| {
                let near = pricing::endpoint_region(
                    config.region().map(|r| r.as_ref()).unwrap_or_default(),
                );
                aws_sdk_pricing::Client::from_conf(
                    aws_sdk_pricing::config::Builder::from(config)
                        .region(aws_sdk_pricing::config::Region::from_static(near))
                        .interceptor(calls)
                        .build(),
                )
            }),
            sns: aws_sdk_sns::Client::from_conf(sns),
            #[cfg(feature = "org")]
            sts: LazyClient::new(config, &calls, |config, calls| {
                aws_sdk_sts::Client::from_conf(
                    aws_sdk_sts::config::Builder::from(config)
                        .interceptor(calls)
                        .build(),
                )
            }),
            #[cfg(feature = "org")]
            iam: LazyClient::new(config, &calls, |config, calls| {
                aws_sdk_iam::Client::from_conf(
                    aws_sdk_iam::config::Builder::from(config)
                        .interceptor(calls)
                        .build(),
                )
            }),
            calls,
            account: None,
        }
    }
}

/// A client built on its first use, then shared by every clone; it derefs to the client.
///
/// Each SDK crate parses its own copy of the endpoint partitions and compiles their region
/// patterns when its first client is made (0.1 to 0.2 ms of CPU a client, measured on x86_64).
/// ECS and SNS serve nearly every event; the other clients serve only some events of the jobs
/// that link them (Application Auto Scaling and CloudWatch when off-hours moves a service, the
/// tagging API in fleet mode), so they wait for their first call instead of each adding to
/// every cold start. Built from the same `SdkConfig` and interceptor as the eager clients, they
/// behave the same.
#[derive(Clone)]
pub struct LazyClient<C>(Arc<LazyLock<C, Box<dyn FnOnce() -> C + Send>>>);

impl<C> LazyClient<C> {
    /// A client that `build` makes from `config` and `calls` when it is first used.
    fn new(config: &SdkConfig, calls: &CallLog, build: fn(&SdkConfig, CallLog) -> C) -> Self
    where
        C: 'static,
    {
        let (config, calls) = (config.clone(), calls.clone());
        LazyClient(Arc::new(LazyLock::new(Box::new(move || {
            build(&config, calls)
        }))))
    }
}

/// A client built already (the tests' scripted clients).
impl<C: Send + 'static> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        LazyClient(Arc::new(LazyLock::new(Box::new(move || client))))
    }
}

impl<C> std::ops::Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        LazyLock::force(&self.0)
    }
}

impl<C: std::fmt::Debug> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Says `<uninit>` until the first call.
        self.0.fmt(f)
    }
}

/// An HTTP client for the adapters' tests: answers the first requests with scripted responses,
/// then never answers (a hung connection), counting every request the SDK sends. Clients built
/// on it use the production retry and timeout settings, so tests see what Lambda would.
/// Clients answered by `aws-smithy-mocks` rules (ECS, SNS and, in builds that have it,
/// CloudWatch; the others answer no call), for the adapters' tests of any one job.
#[cfg(test)]
#[allow(dead_code)] // by the deployer's and the alarm-notifier's tests
pub(crate) fn mocked_clients(
    ecs: &[&aws_smithy_mocks::Rule],
    sns: &[&aws_smithy_mocks::Rule],
    cw_rules: &[&aws_smithy_mocks::Rule],
) -> Clients {
    use aws_smithy_mocks::{mock_client, RuleMode};
    #[cfg(not(feature = "cloudwatch"))]
    let _ = cw_rules;
    Clients {
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs),
        sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns),
        #[cfg(feature = "autoscaling")]
        autoscaling: mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[]).into(),
        #[cfg(feature = "cloudwatch")]
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, cw_rules).into(),
        #[cfg(feature = "tagging")]
        tagging: mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, &[]).into(),
        #[cfg(feature = "elb")]
        elb: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, &[]).into(),
        #[cfg(feature = "scheduler")]
        scheduler: mock_client!(aws_sdk_scheduler, RuleMode::MatchAny, &[]).into(),
        #[cfg(feature = "pricing")]
        pricing: mock_client!(aws_sdk_pricing, RuleMode::MatchAny, &[]).into(),
        #[cfg(feature = "org")]
        sts: mock_client!(aws_sdk_sts, RuleMode::MatchAny, &[]).into(),
        #[cfg(feature = "org")]
        iam: mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[]).into(),
        calls: CallLog::default(),
        account: None,
    }
}

#[cfg(test)]
pub(crate) mod fake_http {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
    use aws_smithy_types::body::SdkBody;

    #[derive(Clone, Debug, Default)]
    pub struct Scripted {
        answers: Arc<Mutex<VecDeque<(u16, String)>>>,
        requests: Arc<AtomicUsize>,
        bodies: Arc<Mutex<Vec<String>>>,
    }

    impl Scripted {
        /// Answers with `(status, body)` in order, then hangs.
        pub fn new(answers: Vec<(u16, String)>) -> Self {
            Scripted {
                answers: Arc::new(Mutex::new(answers.into())),
                requests: Arc::default(),
                bodies: Arc::default(),
            }
        }

        /// The bodies of the requests sent, in order.
        pub fn bodies(&self) -> Vec<String> {
            self.bodies.lock().unwrap().clone()
        }

        /// How many requests were sent (attempts, retries included).
        pub fn requests(&self) -> usize {
            self.requests.load(Ordering::SeqCst)
        }
    }

    impl HttpConnector for Scripted {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            self.requests.fetch_add(1, Ordering::SeqCst);
            let body = request.body().bytes().unwrap_or_default();
            self.bodies
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(body).into_owned());
            let next = self.answers.lock().unwrap().pop_front();
            HttpConnectorFuture::new(async move {
                match next {
                    Some((status, body)) => {
                        let status = status
                            .try_into()
                            .map_err(|e| ConnectorError::other(Box::new(e), None))?;
                        Ok(HttpResponse::new(status, SdkBody::from(body)))
                    }
                    None => {
                        tokio::time::sleep(std::time::Duration::from_secs(24 * 3600)).await;
                        Err(ConnectorError::timeout("never answered".into()))
                    }
                }
            })
        }
    }

    impl HttpClient for Scripted {
        fn http_connector(
            &self,
            _settings: &HttpConnectorSettings,
            _components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    fn credentials() -> aws_sdk_ecs::config::Credentials {
        aws_sdk_ecs::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test")
    }

    /// A client of the SDK crate `$sdk` on `$http`, set up as the functions' clients are (retry
    /// and timeout configuration), recording into a fresh [`super::CallLog`].
    macro_rules! scripted_client {
        ($sdk:ident, $http:expr) => {
            $sdk::Client::from_conf(
                $sdk::Config::builder()
                    .behavior_version(aws_config::BehaviorVersion::latest())
                    .region($sdk::config::Region::new("us-east-1"))
                    .credentials_provider(credentials())
                    .http_client($http.clone())
                    .retry_config(super::retry_config())
                    .timeout_config(super::timeout_config())
                    .interceptor(super::CallLog::default())
                    .build(),
            )
        };
    }

    /// An ECS client on `http`, recording into a fresh [`super::CallLog`].
    pub fn ecs_client(http: &Scripted) -> aws_sdk_ecs::Client {
        scripted_client!(aws_sdk_ecs, http)
    }

    /// An SNS client on `http`, recording into a fresh [`super::CallLog`].
    pub fn sns_client(http: &Scripted) -> aws_sdk_sns::Client {
        scripted_client!(aws_sdk_sns, http)
    }

    #[cfg(feature = "cloudwatch")]
    pub fn cloudwatch_client(http: &Scripted) -> aws_sdk_cloudwatch::Client {
        scripted_client!(aws_sdk_cloudwatch, http)
    }

    #[cfg(feature = "pricing")]
    pub fn pricing_client(http: &Scripted) -> aws_sdk_pricing::Client {
        scripted_client!(aws_sdk_pricing, http)
    }

    #[cfg(feature = "elb")]
    pub fn elb_client(http: &Scripted) -> aws_sdk_elasticloadbalancingv2::Client {
        scripted_client!(aws_sdk_elasticloadbalancingv2, http)
    }

    #[cfg(feature = "org")]
    pub fn sts_client(http: &Scripted) -> aws_sdk_sts::Client {
        scripted_client!(aws_sdk_sts, http)
    }
}

#[cfg(all(test, feature = "autoscaling", feature = "tagging"))]
mod tests {
    use aws_sdk_ecs::config::{Credentials, Region, SharedCredentialsProvider};

    use super::fake_http::Scripted;
    use super::*;

    /// The clients built on their first call are the process's clients all the same: they send
    /// through its HTTP client, with its settings, and record into its call log.
    #[tokio::test]
    async fn clients_built_on_first_use_send_through_the_config_and_record_their_calls() {
        let http = Scripted::new(vec![(200, "{}".into()), (200, "{}".into())]);
        let sdk = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )))
            .http_client(http.clone())
            .retry_config(retry_config())
            .timeout_config(timeout_config())
            .build();
        let clients = Clients::new(&sdk);
        clients
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
            .send()
            .await
            .expect("answered");
        clients
            .tagging
            .get_resources()
            .send()
            .await
            .expect("answered");
        assert_eq!(
            clients.calls.snapshot(),
            [
                "Application Auto Scaling.DescribeScalableTargets",
                "Resource Groups Tagging API.GetResources"
            ]
        );
        assert_eq!(http.requests(), 2);
    }

    /// The Price List is served from a few regions only: its client goes to the nearest,
    /// whatever the function's region.
    #[cfg(feature = "pricing")]
    #[test]
    fn the_price_list_client_is_built_for_its_endpoint_region() {
        for (region, endpoint) in [("eu-west-1", "eu-central-1"), ("us-west-2", "us-east-1")] {
            let sdk = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(region))
                .build();
            let clients = Clients::new(&sdk);
            assert_eq!(
                clients.pricing.config().region().map(|r| r.as_ref()),
                Some(endpoint),
                "{region}"
            );
        }
    }
}
