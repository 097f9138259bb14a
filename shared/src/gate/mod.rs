//! The deploy-gate: the Lambda lifecycle hook of a service that deploys blue/green, linear or
//! canary (ECS's own strategies). ECS invokes it at the stages where traffic is about to move;
//! it answers `SUCCEEDED` (go on), `FAILED` (ECS rolls back) or `IN_PROGRESS` (ECS asks again
//! after `callBackDelay` seconds, handing back the `hookDetails` the answer carried). It never
//! waits inside an invocation, and never fails one: ECS rolls back on a function error, so a
//! read that fails is retried at the next callback, and only a gate that stays blind fails the
//! stage, saying why.
//!
//! What it checks, from the service's settings (`config`): its alarms `OK`, the new revision's
//! targets healthy in number, enough requests reached it (a release that gets no traffic is not
//! called healthy), few enough 5XX, over a soak. During a rollback it lets every stage through.

#[cfg(test)]
mod adapter_tests;
pub mod config;
#[cfg(test)]
pub(crate) mod fake;
pub mod notices;
pub mod plan;
pub mod ports;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::aws::{CallLog, Clients};
use crate::error::Result;
use crate::events::HookInvocation;
use crate::metrics::{catalogue, Metrics};
use crate::model::arn::Arn;
use crate::runtime::Job;
pub use config::{GateConfig, GateSettings};
use plan::{Decision, Facts, Memory, Triage, Verdict};
pub use ports::GatePorts;

/// The answer ECS reads: `hookStatus`, and with `IN_PROGRESS` the delay before it asks again
/// and the details it hands back then (the gate's memory of the stage).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookAnswer {
    pub hook_status: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_back_delay: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_details: Option<Value>,
}

/// The deploy-gate; built once per process.
pub struct DeployGate<P = Clients> {
    pub clients: P,
    pub config: GateConfig,
}

impl<P: GatePorts> DeployGate<P> {
    pub fn new(clients: P, config: GateConfig) -> Self {
        DeployGate { clients, config }
    }

    /// Decides: lets through what it does not judge, begins a stage's watch, or judges what it
    /// reads now.
    pub async fn decide(&self, input: &HookInvocation, now: DateTime<Utc>) -> Decision {
        let memory = match plan::triage(input) {
            Triage::Pass(d) => return d,
            Triage::Watch { memory } => memory,
        };
        let memory = match memory {
            Some(m) if m.begun => m,
            unbegun => match self.begin(input, unbegun, now).await {
                Ok(m) => m,
                Err(d) => return *d,
            },
        };
        let facts = self.read(input, &memory, now).await;
        plan::judge(input, memory, &facts, now)
    }

    /// A stage's first invocation (or a first one whose reads failed): the deployment, the
    /// new revision's target group and the service's settings.
    async fn begin(
        &self,
        input: &HookInvocation,
        before: Option<Memory>,
        now: DateTime<Utc>,
    ) -> std::result::Result<Memory, Box<Decision>> {
        let Some((cluster, service)) = Arn::parse(&input.service_arn).and_then(|a| a.ecs_service())
        else {
            return Err(Box::new(plan::blind(
                format!(
                    "executionDetails.serviceArn {:?} is not an ECS service ARN",
                    input.service_arn
                ),
                plan::MAX_READ_FAILURES,
                None,
            )));
        };
        let names = [service.to_string()];
        let (deployment, services) = futures_util::join!(
            self.clients
                .deployment(&input.service_deployment_arn, &input.target_revision_arn),
            self.clients.services(cluster, &names)
        );
        let (deployment, services) = match (deployment, services) {
            (Ok(d), Ok(s)) => (d, s),
            (d, s) => {
                let errors: Vec<String> = [d.err(), s.err()]
                    .into_iter()
                    .flatten()
                    .map(|e| e.to_string())
                    .collect();
                let failures = before.as_ref().map_or(0, |m| m.read_failures) + 1;
                let waiting =
                    before.unwrap_or_else(|| plan::unbegun(input, &self.config.defaults, now));
                return Err(Box::new(plan::blind(
                    errors.join("; "),
                    failures,
                    Some(waiting),
                )));
            }
        };
        let tags = services.first().map(|s| s.tags.clone()).unwrap_or_default();
        let (settings, problems) = config::settings_for(&self.config.defaults, &tags);
        for p in &problems {
            tracing::warn!(problem = %p, "a gate tag is wrong");
        }
        let since = before.map_or(now, |m| m.since);
        plan::begin(input, &deployment, settings, since)
    }

    /// What the stage's checks need now, read at once; a read that fails is named in
    /// `read_errors`.
    async fn read(&self, input: &HookInvocation, memory: &Memory, now: DateTime<Utc>) -> Facts {
        let s = &memory.settings;
        let alarms = async {
            if s.alarms.is_empty() {
                return None;
            }
            Some(self.clients.alarms(&s.alarms).await)
        };
        let targets = async {
            Some(
                self.clients
                    .target_health(memory.target_group.as_deref()?)
                    .await,
            )
        };
        let traffic = async {
            if !plan::reads_traffic(input, memory, now) {
                return None;
            }
            let (tg, lb) = (
                memory.target_group.as_deref()?,
                memory.load_balancer.as_deref()?,
            );
            Some(self.clients.traffic(tg, lb, memory.since, now).await)
        };
        let (alarms, targets, traffic) = futures_util::join!(alarms, targets, traffic);
        let mut facts = Facts::default();
        let mut failed = |e: crate::error::Error| facts.read_errors.push(e.to_string());
        facts.alarms = alarms.and_then(|r| r.map_err(&mut failed).ok());
        facts.targets = targets.and_then(|r| r.map_err(&mut failed).ok());
        facts.traffic = traffic.and_then(|r| r.map_err(&mut failed).ok());
        facts
    }

    /// The answer ECS reads for a decision (in a dry run a failure lets the release through).
    pub fn answer(&self, d: &Decision) -> HookAnswer {
        match d.verdict {
            Verdict::InProgress => HookAnswer {
                hook_status: Verdict::InProgress,
                call_back_delay: Some(self.config.check_seconds),
                hook_details: d.memory.as_ref().map(|m| json!({ plan::MEMORY_KEY: m })),
            },
            Verdict::Failed if self.config.dry_run => HookAnswer {
                hook_status: Verdict::Succeeded,
                call_back_delay: None,
                hook_details: None,
            },
            v => HookAnswer {
                hook_status: v,
                call_back_delay: None,
                hook_details: None,
            },
        }
    }
}

impl<P: GatePorts> Job for DeployGate<P> {
    const NAME: &'static str = "deploy-gate";
    type Event = HookInvocation;
    type Report = HookAnswer;

    fn parse(&self, event: Value) -> Result<HookInvocation> {
        HookInvocation::parse(&event)
    }

    async fn run(&self, input: HookInvocation) -> Result<HookAnswer> {
        let decision = self.decide(&input, Utc::now()).await;
        tracing::info!(
            stage = input.stage.as_str(),
            service_deployment = %input.service_deployment_arn,
            verdict = ?decision.verdict,
            reason = %decision.reason,
            checks = ?decision.checks,
            "gate decision"
        );
        if decision.tell {
            let n = notices::decision(&input, &decision, self.config.dry_run);
            // The answer matters more than the message: a failed publish is logged, not raised.
            if let Err(e) = self.clients.publish(&self.config.topic_arn, &n).await {
                tracing::error!(error = ?e, "the gate's message could not be published");
            }
        }
        Ok(self.answer(&decision))
    }

    fn metrics(report: &HookAnswer, metrics: Metrics) -> Metrics {
        let metric = match report.hook_status {
            Verdict::Succeeded => &catalogue::PASSED,
            Verdict::Failed => &catalogue::FAILED,
            Verdict::InProgress => &catalogue::WAITING,
        };
        metrics.count(metric, 1)
    }

    fn calls(&self) -> &CallLog {
        self.clients.calls()
    }
}
