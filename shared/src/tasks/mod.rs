//! The task-watcher: every stopped task is explained, alerted with what to do, restarted where
//! that is right, and a crash loop is caught before it floods the channel.
//!
//! Read, then one plan, then apply: parse; [`plan::plan`] (pure) asks for each read its decision
//! needs (the service with its tags, its recent stops, its capacity; a standalone task's tags
//! and its revision's) and returns everything to do; the plan is applied unless `DRY_RUN` (the
//! notices are published either way), and its report is the invocation's result.

mod apply;
pub mod classify;
pub mod config;
/// The task-watcher's chat notifications (public for the core's benchmarks).
pub mod notices;
pub mod plan;
pub mod ports;
pub mod rules;

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::Utc;
use serde_json::{json, Value};

use crate::aws::{CallLog, Clients};
use crate::capacity;
use crate::error::{Error, Result};
use crate::events::{self, EcsTaskStateChange, Event};
use crate::metrics::{catalogue, Metrics};
use crate::model::arn::Arn;
use crate::model::revision::RevisionFacts;
use crate::runtime::Job;
pub use classify::{classify, Cause, Classification};
pub use config::{CrashLoopAction, RestartNetwork, TaskWatcherConfig};
use plan::{Facts, Read, Step};
pub use plan::{RunSpec, StopReport};
pub use ports::TaskPorts;
pub use rules::{Action, CrashLoop, Restart};

/// The detail type the task-watcher takes.
pub const ECS_TASK_STATE_CHANGE: &str = "ECS Task State Change";

/// How many reads a stop's plan may ask for (it needs at most three).
const MAX_READS: usize = 5;

/// The task-watcher, with its clients and configuration; built once per process.
pub struct TaskWatcher<P = Clients> {
    /// The AWS side: [`Clients`] in Lambda, an in-memory fake in the core's tests.
    pub clients: P,
    pub config: TaskWatcherConfig,
    /// Log configuration and tags per task-definition ARN, read once for the life of the process.
    revisions: Mutex<HashMap<String, RevisionFacts>>,
}

/// Parses and validates an event. Pure; a malformed event is a `BadEvent` naming the field.
pub fn parse(event: Value) -> Result<Event<EcsTaskStateChange>> {
    let envelope = events::envelope(event)?;
    if envelope.detail_type != ECS_TASK_STATE_CHANGE {
        return Err(Error::bad_event(format!(
            "detail-type: {:?} is not an event the task-watcher takes ({ECS_TASK_STATE_CHANGE:?})",
            envelope.detail_type
        )));
    }
    let ev: Event<EcsTaskStateChange> = events::typed(envelope)?;
    if !Arn::parse(&ev.detail.task_arn)
        .is_some_and(|a| a.service == "ecs" && a.resource.starts_with("task/"))
    {
        return Err(Error::bad_event(format!(
            "detail.taskArn: {:?} is not an ECS task ARN",
            ev.detail.task_arn
        )));
    }
    if !Arn::parse(&ev.detail.cluster_arn)
        .is_some_and(|a| a.service == "ecs" && a.resource.starts_with("cluster/"))
    {
        return Err(Error::bad_event(format!(
            "detail.clusterArn: {:?} is not an ECS cluster ARN",
            ev.detail.cluster_arn
        )));
    }
    Ok(ev)
}

impl<P: TaskPorts> TaskWatcher<P> {
    pub fn new(clients: P, config: TaskWatcherConfig) -> Self {
        TaskWatcher {
            clients,
            config,
            revisions: Mutex::new(HashMap::new()),
        }
    }

    /// Reads what the plan asks for until it is decided, then applies it.
    async fn on_event(&self, ev: &Event<EcsTaskStateChange>) -> Result<StopReport> {
        let now = ev.time.unwrap_or_else(Utc::now);
        let mut facts = Facts::default();
        for _ in 0..MAX_READS {
            match plan::plan(ev, &facts, &self.config, now) {
                Step::Read(need) => self.read(ev, need, &mut facts).await?,
                Step::Act(plan) => {
                    tracing::info!(plan = %json!(plan), "stop plan");
                    return self.apply(ev, *plan).await;
                }
            }
        }
        Err(Error::invariant(format!(
            "the plan for {} asked for more than {MAX_READS} reads",
            ev.detail.task_arn
        )))
    }

    /// Makes one read the plan asked for.
    async fn read(
        &self,
        ev: &Event<EcsTaskStateChange>,
        need: Read,
        facts: &mut Facts,
    ) -> Result<()> {
        let (aws, t) = (&self.clients, &ev.detail);
        match need {
            Read::Service(name) => {
                let found = aws.services(&t.cluster_arn, &[name]).await?;
                facts.service = Some(found.into_iter().next());
            }
            Read::RecentStops(name) => {
                facts.recent_stops = Some(aws.recent_stops(&t.cluster_arn, &name, 100).await?);
            }
            Read::Capacity(service) => {
                facts.capacity = Some(capacity::current(aws, &service).await?);
            }
            Read::OptIn => {
                // The task's tags and its revision's, side by side.
                let revision = async {
                    match t.task_definition_arn.as_deref() {
                        Some(td) => Some(self.revision(td).await),
                        None => None,
                    }
                };
                let (tags, revision) = futures_util::future::join(
                    aws.task_tags(&t.cluster_arn, &t.task_arn),
                    revision,
                )
                .await;
                facts.task_tags = Some(tags?);
                facts.revision = revision;
            }
            Read::Revision(td) => facts.revision = Some(self.revision(&td).await),
        }
        Ok(())
    }

    /// A revision's log configuration and tags, read once per revision for the life of the
    /// process (a revision never changes); a failed read is not remembered, and is said as why.
    async fn revision(&self, td: &str) -> std::result::Result<RevisionFacts, String> {
        let cached = self.revisions.lock().ok().and_then(|m| m.get(td).cloned());
        if let Some(facts) = cached {
            return Ok(facts);
        }
        match self.clients.revision_facts(td).await {
            Ok(facts) => {
                if let Ok(mut m) = self.revisions.lock() {
                    m.insert(td.to_string(), facts.clone());
                }
                Ok(facts)
            }
            Err(e) => {
                tracing::warn!(error = ?e, task_definition = td, "the task definition could not be read");
                Err(e.to_string())
            }
        }
    }
}

impl<P: TaskPorts> Job for TaskWatcher<P> {
    const NAME: &'static str = "task-watcher";
    type Event = Event<EcsTaskStateChange>;
    type Report = StopReport;

    fn parse(&self, event: Value) -> Result<Self::Event> {
        parse(event)
    }

    async fn run(&self, event: Self::Event) -> Result<StopReport> {
        self.on_event(&event).await
    }

    fn metrics(report: &StopReport, metrics: Metrics) -> Metrics {
        let did = |action: Action| usize::from(report.actions.contains(&action));
        metrics
            .count_by(&catalogue::STOPPED_TASKS, report.cause, 1)
            .count(
                &catalogue::ALERTS,
                did(Action::Alert).max(did(Action::CrashLoop)),
            )
            .count(&catalogue::CRASH_LOOPS, did(Action::CrashLoop))
            .count(&catalogue::RESTARTS, did(Action::Restart))
    }

    fn calls(&self) -> &CallLog {
        self.clients.calls()
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "flow_tests.rs"]
mod flow_tests;

#[cfg(test)]
mod fake;

#[cfg(test)]
mod corpus_tests;
