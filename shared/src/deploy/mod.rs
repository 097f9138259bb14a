//! The deployer: an image pushed to ECR is deployed to the services configured for it, and the
//! deployment's outcome is reported.
//!
//! Two flows, each read, then plan, then apply and notify: an image push (`push`: one
//! DescribeServices per cluster and one DescribeTaskDefinition per pin-digest service, then
//! [`plan::plan_push`]) and a deployment's outcome (`rollout`: [`outcome::plan`]). The
//! invocation returns a [`DeployReport`].

pub mod config;
pub mod copy_tags;
pub mod decision;
pub mod fleet;
/// The deployer's chat notifications (public for the core's benchmarks).
pub mod notices;
pub mod outcome;
pub mod pause;
pub mod plan;
pub mod ports;
mod prune;
mod push;
mod rollout;

use serde::Serialize;
use serde_json::Value;

use crate::aws::{CallLog, Clients};
use crate::error::{Error, Result};
use crate::events::{self, EcrImageAction, EcsDeploymentStateChange, Event, HookStateChange};
use crate::metrics::{catalogue, Metrics};
use crate::runtime::Job;
pub use config::{DeployTarget, DeployerConfig, Strategy};
use outcome::Resolution;
use pause::{PauseReminder, PauseReport, ECS_HOOK_STATE_CHANGE, PAUSE_REMINDER, REMINDER_SOURCE};
use plan::Reason;
pub use ports::DeployPorts;
pub use push::PushReport;
pub use rollout::RolloutReport;

/// The detail types the deployer takes.
pub const ECR_IMAGE_ACTION: &str = "ECR Image Action";
pub const ECS_DEPLOYMENT_STATE_CHANGE: &str = "ECS Deployment State Change";

/// The deployer, with its clients and configuration; built once per process.
pub struct Deployer<P = Clients> {
    /// The AWS side: [`Clients`] in Lambda, an in-memory fake in the core's tests.
    pub clients: P,
    pub config: DeployerConfig,
}

impl<P: DeployPorts> Deployer<P> {
    pub fn new(clients: P, config: DeployerConfig) -> Self {
        Deployer { clients, config }
    }
}

/// What a deployer's invocation returns: a push's decisions, or a deployment event's outcome
/// (`{"deployment": {...}}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum DeployReport {
    Push(PushReport),
    Rollout { deployment: Box<RolloutReport> },
    Pause { pause: PauseReport },
}

impl<P: DeployPorts> Job for Deployer<P> {
    const NAME: &'static str = "deployer";
    type Event = DeployerEvent;
    type Report = DeployReport;

    fn parse(&self, event: Value) -> Result<DeployerEvent> {
        parse(event)
    }

    async fn run(&self, event: DeployerEvent) -> Result<DeployReport> {
        Ok(match event {
            DeployerEvent::Push(push) => DeployReport::Push(self.on_push(push).await?),
            DeployerEvent::Deployment(change) => DeployReport::Rollout {
                deployment: Box::new(rollout::handle(self, change).await?),
            },
            DeployerEvent::Hook(hook) => DeployReport::Pause {
                pause: self.on_hook(hook).await?,
            },
            DeployerEvent::Reminder(reminder) => DeployReport::Pause {
                pause: self.on_reminder(reminder).await?,
            },
        })
    }

    fn metrics(report: &DeployReport, metrics: Metrics) -> Metrics {
        match report {
            DeployReport::Push(push) => {
                let deployed = push
                    .decisions
                    .iter()
                    .filter(|decision| decision.reason == Reason::Deployed)
                    .count();
                metrics
                    .count(&catalogue::DEPLOYS, deployed)
                    .count(&catalogue::SKIPS, push.decisions.len() - deployed)
            }
            DeployReport::Pause { pause } => {
                metrics.count(&catalogue::PAUSE_MESSAGES, usize::from(pause.notified))
            }
            DeployReport::Rollout { deployment } if deployment.replaced.is_some() => {
                metrics.count(&catalogue::RELEASES_REPLACED, 1)
            }
            DeployReport::Rollout { deployment } => match &deployment.resolution {
                Some(resolution) if deployment.notified => metrics.count(
                    match resolution {
                        Resolution::Completed => &catalogue::DEPLOYMENTS_COMPLETED,
                        Resolution::RolledBack(_) => &catalogue::DEPLOYMENTS_ROLLED_BACK,
                        Resolution::Failed { .. } => &catalogue::DEPLOYMENTS_FAILED,
                    },
                    1,
                ),
                _ => metrics,
            },
        }
    }

    fn calls(&self) -> &CallLog {
        self.clients.calls()
    }
}

/// How many times the deployer tries to register a revision (the SDK does not retry it).
pub const REGISTER_ATTEMPTS: u32 = 3;

/// The events the deployer takes.
#[derive(Clone, Debug, PartialEq)]
pub enum DeployerEvent {
    Push(Event<EcrImageAction>),
    Deployment(Event<EcsDeploymentStateChange>),
    /// A pause hook of a gated deployment.
    Hook(Event<HookStateChange>),
    /// The reminder of a pause, scheduled by the deployer itself.
    Reminder(Event<PauseReminder>),
}

/// Parses and validates an event. Pure; a malformed event is a `BadEvent` naming the field.
pub fn parse(event: Value) -> Result<DeployerEvent> {
    let envelope = events::envelope(event)?;
    match envelope.detail_type.as_str() {
        ECR_IMAGE_ACTION => {
            let push: Event<EcrImageAction> = events::typed(envelope)?;
            validate_push(&push)?;
            Ok(DeployerEvent::Push(push))
        }
        ECS_DEPLOYMENT_STATE_CHANGE => Ok(DeployerEvent::Deployment(events::typed(envelope)?)),
        ECS_HOOK_STATE_CHANGE => Ok(DeployerEvent::Hook(events::typed(envelope)?)),
        PAUSE_REMINDER if envelope.source == REMINDER_SOURCE => {
            let reminder: Event<PauseReminder> = events::typed(envelope)?;
            pause::validate_reminder(&reminder)?;
            Ok(DeployerEvent::Reminder(reminder))
        }
        other => Err(Error::bad_event(format!(
            "detail-type: {other:?} is not an event the deployer takes ({ECR_IMAGE_ACTION:?}, {ECS_DEPLOYMENT_STATE_CHANGE:?}, {ECS_HOOK_STATE_CHANGE:?}, or its own {PAUSE_REMINDER:?})"
        ))),
    }
}

/// A successful push must carry its digest: it is what gets deployed.
fn validate_push(push: &Event<EcrImageAction>) -> Result<()> {
    let d = &push.detail;
    if d.repository_name.trim().is_empty() {
        return Err(Error::bad_event(
            "detail.repository-name: must not be empty",
        ));
    }
    if d.is_successful_push() {
        match d.image_digest.as_deref() {
            Some(digest) if digest.contains(':') => {}
            Some(digest) => {
                return Err(Error::bad_event(format!(
                    "detail.image-digest: {digest:?} is not a digest (algorithm:hex)"
                )))
            }
            None => {
                return Err(Error::bad_event(
                    "detail.image-digest: missing from a successful push",
                ))
            }
        }
        if push.account.is_empty() || push.region.is_empty() {
            return Err(Error::bad_event(
                "account and region: needed to name the image's registry",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "adapter_tests.rs"]
mod adapter_tests;

#[cfg(test)]
#[path = "flow_tests.rs"]
mod flow_tests;

#[cfg(test)]
#[path = "pause_tests.rs"]
mod pause_tests;

#[cfg(test)]
mod parse_props {
    use std::collections::BTreeMap;

    use proptest::prelude::{prop_oneof, proptest, Just, ProptestConfig};
    use serde_json::Value;

    use super::*;

    const KEYS: &[&str] = &[
        "detail",
        "detail-type",
        "source",
        "time",
        "resources",
        "repository-name",
        "image-tag",
        "image-digest",
        "action-type",
        "result",
        "eventName",
        "deploymentId",
    ];
    const STRINGS: &[&str] = &[
        "ECR Image Action",
        "ECS Deployment State Change",
        "PUSH",
        "SUCCESS",
        "SERVICE_DEPLOYMENT_FAILED",
        "sha256:",
        "2026-11-16T02:00:00Z",
        "arn:aws:ecs:us-east-1:1:service/c/s",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// No JSON input makes the parser (or the planner after it) panic.
        #[test]
        fn no_json_input_panics(value in crate::testing::any_json(KEYS, STRINGS)) {
            if let Ok(DeployerEvent::Push(push)) = parse(value) {
                let targets = vec![DeployTarget {
                    repository: push.detail.repository_name.clone(), tags: vec!["*".into()],
                    cluster: "c".into(), service: "s".into(), container: None, strategy: Strategy::PinDigest,
                }];
                let _ = plan::plan_push(&push, &targets, &BTreeMap::new(), false, chrono::Utc::now());
            }
        }

        /// A sample event with one field replaced by anything still parses or errors cleanly.
        #[test]
        fn mutated_samples_do_not_panic(field in prop_oneof![
            Just("detail-type"), Just("time"), Just("account"), Just("region"), Just("resources")],
            detail_field in prop_oneof![
            Just("repository-name"), Just("image-digest"), Just("image-tag"), Just("action-type"),
            Just("manifest-media-type"), Just("eventName"), Just("updatedAt"), Just("deploymentId")],
            replacement in crate::testing::any_json(KEYS, STRINGS), which in 0usize..2) {
            let raw = if which == 0 {
                include_str!("../../../events/deployer/ecr-push-latest.json")
            } else {
                include_str!("../../../events/deployer/ecs-deployment-failed.json")
            };
            let mut v: Value = serde_json::from_str(raw).expect("sample is JSON");
            v[field] = replacement.clone();
            let _ = parse(v.clone());
            let mut v: Value = serde_json::from_str(raw).expect("sample is JSON");
            v["detail"][detail_field] = replacement;
            let _ = parse(v);
        }
    }
}

#[cfg(test)]
mod fake;
