//! The task-watcher: every stopped task is explained, alerted with what to do, restarted where
//! that is right, and a crash loop is caught before it floods the channel.
//!
//! Decide, then act: parse, [`classify`] (pure), read only what the decision needs (the
//! service's tags and its recent stops for a failing service task; the task's tags for a
//! standalone one), act unless `DRY_RUN`, notify, return the outcome.

pub mod classify;
pub mod config;
/// The task-watcher's chat notifications (public for the core's benchmarks).
pub mod notices;
pub mod plan;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::aws::{arn, ecs, Arn, Clients};
use crate::capacity;
use crate::error::{Error, Result};
use crate::events::{self, EcsTaskStateChange, Event, StopCode};
use crate::metrics::Metrics;
use crate::notify::Severity;
use crate::ports::TaskPorts;
use crate::tags::{CRASH_LOOP_ALERTED_AT, CRASH_LOOP_STOPPED_AT};
pub use classify::{classify, Cause, Classification};
pub use config::{CrashLoopAction, RestartNetwork, TaskWatcherConfig};
pub use plan::{Action, CrashLoop, Restart};

/// The detail type the task-watcher takes.
pub const ECS_TASK_STATE_CHANGE: &str = "ECS Task State Change";

/// What the invocation returns: the stop, its cause, and what was done about it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StopReport {
    pub task: String,
    pub group: Option<String>,
    pub service: Option<String>,
    pub cause: &'static str,
    pub severity: Severity,
    pub actions: Vec<Action>,
    pub detail: String,
    /// The service tags written (in dry run: the ones that would have been).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "notificationId")]
    pub notification_id: Option<String>,
    /// The service's `autopilot:watch` / `autopilot:severity` values it could not use.
    #[serde(skip_serializing_if = "Vec::is_empty", rename = "tagProblems")]
    pub tag_problems: Vec<crate::fleet::TagProblem>,
}

/// The task-watcher, with its clients and configuration; built once per process.
pub struct TaskWatcher<P = Clients> {
    /// The AWS side: [`Clients`] in Lambda, an in-memory fake in the core's tests.
    pub clients: P,
    pub config: TaskWatcherConfig,
    /// Log configuration and tags per task-definition ARN, read once for the life of the process.
    revisions: Mutex<HashMap<String, ecs::RevisionFacts>>,
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

    /// Handles one `ECS Task State Change` event.
    pub async fn handle(&self, event: Value) -> Result<Value> {
        let (result, calls) = self
            .clients
            .calls()
            .around(async { self.on_event(&parse(event)?).await })
            .await;
        if let Ok(o) = &result {
            Metrics::new("task-watcher")
                .count("StoppedTasks", 1)
                .count(
                    "Alerts",
                    usize::from(
                        o.actions
                            .iter()
                            .any(|a| matches!(a, Action::Alert | Action::CrashLoop)),
                    ),
                )
                .count(
                    "CrashLoops",
                    usize::from(o.actions.contains(&Action::CrashLoop)),
                )
                .count(
                    "Restarts",
                    usize::from(o.actions.contains(&Action::Restart)),
                )
                .count("AwsCalls", calls.len())
                .emit();
        }
        result.map(|o| json!(o))
    }

    async fn on_event(&self, ev: &Event<EcsTaskStateChange>) -> Result<StopReport> {
        let t = &ev.detail;
        let c = classify(t);
        tracing::info!(task = %t.task_arn, cause = c.cause.code(), severity = c.severity.as_str(), "classified");
        let mut outcome = StopReport {
            task: t.task_arn.clone(),
            group: t.group.clone(),
            service: t.service_name().map(str::to_string),
            cause: c.cause.code(),
            severity: c.severity,
            actions: vec![],
            detail: c.sentence.clone(),
            tagged: BTreeMap::new(),
            notification_id: None,
            tag_problems: vec![],
        };
        // Fargate Spot's two-minute warning, sent while the task still runs: under either code.
        let spot_warning = matches!(
            t.stop_code,
            Some(StopCode::TerminationNotice | StopCode::SpotInterruption)
        );
        if t.last_status != "STOPPED" && !spot_warning {
            outcome.actions.push(Action::Ignore);
            outcome.detail = format!(
                "the task is {}, not stopped: nothing to explain",
                t.last_status
            );
            return Ok(outcome);
        }
        if c.cause.is_benign() {
            outcome.actions.push(Action::Ignore);
            return Ok(outcome);
        }
        let Some(service) = t.service_name() else {
            return self.on_standalone_task(ev, &c, outcome).await;
        };
        // The service's tags: its opt-out, its severity, and (for a failure) its crash-loop
        // memory.
        let svc = self
            .clients
            .services(&t.cluster_arn, &[service.to_string()])
            .await?
            .into_iter()
            .next();
        if let Some(s) = &svc {
            outcome.tag_problems = crate::fleet::watcher_tag_problems(&s.arn, &s.tags);
            crate::fleet::report(
                &self.clients,
                &self.config.topic_arn,
                "task-watcher",
                crate::fleet::watcher_memory,
                self.config.dry_run,
                &outcome.tag_problems,
                |p| {
                    if p.tag == crate::tags::WATCH {
                        "The task-watcher keeps watching the service.".into()
                    } else {
                        "Its stops keep their own severity.".into()
                    }
                },
            )
            .await?;
        }
        let tags = svc.as_ref().map(|s| &s.tags);
        if let Some(off) = tags
            .and_then(|t| t.get(crate::tags::WATCH))
            .filter(|v| v.trim().eq_ignore_ascii_case("off"))
        {
            outcome.actions.push(Action::Ignore);
            outcome.detail = format!(
                "{} The service opted out: {}={off}.",
                c.sentence,
                crate::tags::WATCH
            );
            return Ok(outcome);
        }
        let mut c = c;
        if let Some(severity) = tags
            .and_then(|t| t.get(crate::tags::SEVERITY))
            .and_then(|v| Severity::from_tag(v))
        {
            c.severity = severity;
            outcome.severity = severity;
        }
        if c.cause.is_failure() {
            self.on_failing_service_task(ev, &c, svc, outcome).await
        } else {
            self.alert(ev, &c, None, None, outcome).await
        }
    }

    /// A failing stop of a service task: alert, unless it makes (or is part of) a crash loop.
    async fn on_failing_service_task(
        &self,
        ev: &Event<EcsTaskStateChange>,
        c: &Classification,
        svc: Option<crate::service::ServiceSnapshot>,
        mut outcome: StopReport,
    ) -> Result<StopReport> {
        let t = &ev.detail;
        let now = ev.time.unwrap_or_else(Utc::now);
        let window = Duration::minutes(i64::from(self.config.crash_loop_window_minutes));
        let Some(svc) = svc else {
            return self.alert(ev, c, None, None, outcome).await;
        };
        let tags = &svc.tags;
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let alerted = tags.get(CRASH_LOOP_ALERTED_AT).map(String::as_str);
        // The stop whose alert is remembered, delivered again (its invocation failed after
        // tagging): finish what it started instead of staying quiet about it.
        let redelivered = alerted == Some(stamp.as_str())
            && tags.get(crate::tags::CRASH_LOOP_TASK).map(String::as_str) == Some(t.task_id());
        if let Some((at, until)) = plan::quiet_until(alerted, window, now).filter(|_| !redelivered)
        {
            outcome.actions.push(Action::Ignore);
            outcome.detail = format!(
                "{} Part of the crash loop alerted at {}: quiet until {}.",
                c.sentence,
                at.to_rfc3339(),
                until.to_rfc3339()
            );
            return Ok(outcome);
        }
        let stopped = self
            .clients
            .recent_stops(&t.cluster_arn, &svc.name, 100)
            .await?;
        let plan = plan::crash_loop(t, c.cause, &stopped, svc.desired, &self.config, now);
        tracing::info!(plan = ?plan, "crash-loop plan");
        let CrashLoop::Loop {
            counts,
            scale_to_zero,
        } = plan
        else {
            return self.alert(ev, c, Some(&svc.arn), None, outcome).await;
        };
        // A service with an old short ARN cannot be tagged: nothing can remember its alert nor
        // record its capacity, so it is decided as a dry run is, and never scaled.
        let taggable = crate::aws::arn::is_long_service_arn(&svc.arn);
        let scale_to_zero = scale_to_zero && taggable;
        if self.config.dry_run || !taggable {
            // Nothing remembers the alert: replay the real decision over the stops, so the
            // loop is said once per window, as it would be.
            let replayed = plan::replayed_alert(t, c.cause, &stopped, &self.config, now);
            if let Some(at) = replayed.filter(|r| !r.by_this_stop).map(|r| r.at) {
                outcome.actions.push(Action::Ignore);
                outcome.detail = format!(
                    "{} Part of the crash loop alerted at {} (replayed from the listed stops: nothing was tagged): quiet until {}.",
                    c.sentence,
                    at.to_rfc3339(),
                    (at + window).to_rfc3339()
                );
                return Ok(outcome);
            }
        }

        let service_arn = svc.arn.clone();
        // The alert is remembered before it is sent: a retry must not send a second one.
        let mut tagged = BTreeMap::from([
            (CRASH_LOOP_ALERTED_AT.to_string(), stamp.clone()),
            (
                crate::tags::CRASH_LOOP_TASK.to_string(),
                t.task_id().to_string(),
            ),
        ]);
        let mut scaled = None;
        // Recorded by this stop's earlier delivery: the record is the truth (the service may be
        // half scaled down already), and the scale-down is finished from it.
        let recorded_before = (redelivered && tags.get(CRASH_LOOP_STOPPED_AT) == Some(&stamp))
            .then(|| {
                tags.get(crate::tags::RESTORE)
                    .and_then(|r| capacity::Restore::parse(r))
            })
            .flatten();
        if let Some(recorded) = recorded_before {
            tagged.extend([
                (crate::tags::RESTORE.to_string(), recorded.to_tag()),
                (CRASH_LOOP_STOPPED_AT.to_string(), stamp.clone()),
            ]);
            scaled = Some(recorded);
        } else if scale_to_zero {
            let current = capacity::current(&self.clients, &svc).await?;
            let extra = [(CRASH_LOOP_STOPPED_AT, stamp.clone())];
            let (recorded, restore_tags) = capacity::record_plan(&svc, current, &extra);
            tagged.extend(restore_tags);
            scaled = Some(recorded);
        }
        let mut failed = None;
        if !taggable {
            tagged.clear();
        } else if !self.config.dry_run {
            let applied = async {
                self.clients.tag_service(&service_arn, &tagged).await?;
                if let Some(recorded) = scaled {
                    capacity::to_zero(&self.clients, &svc, recorded).await?;
                }
                Ok::<(), Error>(())
            }
            .await;
            // The loop is alerted whatever happened to remembering or scaling it, with why it
            // failed; a retryable failure then fails the invocation, so the event comes again
            // (the alert's id is the same: Chatbot shows it once).
            if let Err(e) = applied {
                failed = Some(e);
            }
        }
        outcome.actions.push(Action::CrashLoop);
        if scaled.is_some() && failed.is_none() {
            outcome.actions.push(Action::ScaleToZero);
        }
        outcome.severity = Severity::Critical;
        let mut n = notices::crash_loop(
            ev,
            &service_arn,
            &counts,
            self.config.crash_loop_window_minutes,
            scaled.filter(|_| failed.is_none()),
            &stamp,
            self.config.dry_run,
        );
        if let Some(e) = &failed {
            n.description.push_str(&format!(
                "\nThe watcher could not remember or scale this loop: {e}"
            ));
            n.next_steps.insert(
                0,
                "Give the task-watcher's role the permission the error names (ecs:TagResource and ecs:UpdateService on the service, application-autoscaling:RegisterScalableTarget), or scale the service down by hand.".into(),
            );
            tagged.clear();
        }
        outcome.detail = n.summary.clone();
        outcome.tagged = tagged;
        self.clients.publish(&self.config.topic_arn, &n).await?;
        outcome.notification_id = Some(n.id);
        match failed {
            Some(e) if e.is_retryable() => Err(e),
            Some(e) => {
                outcome.detail = format!("{} Not remembered or scaled: {e}", outcome.detail);
                Ok(outcome)
            }
            None => Ok(outcome),
        }
    }

    /// A standalone task: restart it when it opted in and the cause allows, else alert.
    async fn on_standalone_task(
        &self,
        ev: &Event<EcsTaskStateChange>,
        c: &Classification,
        mut outcome: StopReport,
    ) -> Result<StopReport> {
        let t = &ev.detail;
        let interrupted = matches!(c.cause, Cause::SpotInterruption | Cause::Infrastructure);
        if t.last_status != "STOPPED" || !(interrupted || c.cause.is_failure()) {
            return self.alert(ev, c, None, None, outcome).await;
        }
        // The task's tags and its revision's are read side by side.
        let (tags, revision) = futures_util::future::join(
            self.clients.task_tags(&t.cluster_arn, &t.task_arn),
            async {
                match t.task_definition_arn.as_deref() {
                    Some(td) => Some((td, self.revision(td).await)),
                    None => None,
                }
            },
        )
        .await;
        let tags = tags?;
        // The revision's tags are the opt-in of every task it runs; unreadable, the task's own
        // tags decide alone, and the alert says what was not checked.
        let (definition_tags, unread) = match revision {
            Some((td, read)) => match read {
                Ok(facts) => (facts.tags, None),
                Err(e) => {
                    tracing::warn!(error = ?e, task_definition = td, "the task definition's tags could not be read");
                    (
                        BTreeMap::new(),
                        Some(format!(
                            "Its task definition could not be read ({e}), so its {} tag was not checked.",
                            crate::tags::RESTART
                        )),
                    )
                }
            },
            None => (BTreeMap::new(), None),
        };
        let opt_in = plan::RestartOptIn {
            task_tags: &tags,
            definition_tags: &definition_tags,
            started_by: t.started_by.as_deref(),
        };
        match plan::restart(c.cause, opt_in, &self.config) {
            Restart::NotOptedIn => self.alert(ev, c, None, unread, outcome).await,
            Restart::Refused(why) => self.alert(ev, c, None, Some(why), outcome).await,
            Restart::Run { attempt, network } => {
                let new_tags = plan::restart_tags(&tags, attempt);
                let new_task = if self.config.dry_run {
                    None
                } else {
                    match self.run_again(t, attempt, network, &new_tags).await {
                        Ok(arn) => Some(arn),
                        // The stop is alerted whatever happened to the restart, with why it
                        // failed; a retryable failure still fails the invocation afterwards, so
                        // Lambda tries again (the client token keeps it to one task).
                        Err(e) => {
                            let why = format!(
                                "The restart failed: {e}. Check the task-watcher's RESTART_NETWORK, the task definition and the watcher's ecs:RunTask and iam:PassRole permissions."
                            );
                            let report = self.alert(ev, c, None, Some(why), outcome).await?;
                            return if e.is_retryable() { Err(e) } else { Ok(report) };
                        }
                    }
                };
                outcome.actions.push(Action::Restart);
                outcome.detail = format!(
                    "{} Restarted (attempt {} of {}).",
                    c.sentence, attempt, self.config.max_restarts
                );
                let n = notices::restarted(
                    ev,
                    c,
                    new_task.as_deref(),
                    attempt,
                    self.config.max_restarts,
                    self.config.dry_run,
                );
                self.clients.publish(&self.config.topic_arn, &n).await?;
                outcome.actions.push(Action::Alert);
                outcome.notification_id = Some(n.id);
                Ok(outcome)
            }
        }
    }

    /// RunTask with what the stopped task ran with. The client token makes a duplicate event
    /// start no second task.
    async fn run_again(
        &self,
        t: &EcsTaskStateChange,
        attempt: u32,
        network: &RestartNetwork,
        tags: &BTreeMap<String, String>,
    ) -> Result<String> {
        self.clients
            .run_again(&ecs::RunAgain {
                cluster: &t.cluster_arn,
                task_definition: t.task_definition_arn.as_deref(),
                group: t.group.as_deref(),
                started_by: &plan::started_by(attempt),
                client_token: format!("restart-{}", t.task_id()),
                subnets: &network.subnets,
                security_groups: &network.security_groups,
                assign_public_ip: network.assign_public_ip,
                tags,
                capacity_provider: t.capacity_provider_name.as_deref(),
                launch_type: t.launch_type.as_deref(),
                overrides: t.overrides.as_ref(),
            })
            .await
    }

    /// Publishes the stop's alert; a `note` (why nothing more was done) is added to it and
    /// makes it critical.
    async fn alert(
        &self,
        ev: &Event<EcsTaskStateChange>,
        c: &Classification,
        service_arn: Option<&str>,
        note: Option<String>,
        mut outcome: StopReport,
    ) -> Result<StopReport> {
        let mut n = notices::alert(ev, c, service_arn, &self.log_links(&ev.detail).await);
        if let Some(note) = note {
            outcome.detail = format!("{} {note}", c.sentence);
            n.description.push_str(&format!("\n{note}"));
            n.severity = Severity::Critical;
        }
        self.clients.publish(&self.config.topic_arn, &n).await?;
        outcome.actions.push(Action::Alert);
        outcome.notification_id = Some(n.id);
        Ok(outcome)
    }

    /// A revision's log configuration and tags, read once per revision for the life of the
    /// process (a revision never changes); a failed read is not remembered.
    async fn revision(&self, td: &str) -> Result<ecs::RevisionFacts> {
        let cached = self.revisions.lock().ok().and_then(|m| m.get(td).cloned());
        if let Some(facts) = cached {
            return Ok(facts);
        }
        let facts = self.clients.revision_facts(td).await?;
        if let Ok(mut m) = self.revisions.lock() {
            m.insert(td.to_string(), facts.clone());
        }
        Ok(facts)
    }

    /// Console links to each container's log stream; a failure to read the task definition
    /// costs the links, not the alert.
    async fn log_links(&self, t: &EcsTaskStateChange) -> Vec<(String, String)> {
        let Some(td) = t.task_definition_arn.as_deref() else {
            return vec![];
        };
        let targets = match self.revision(td).await {
            Ok(facts) => facts.logs,
            Err(e) => {
                tracing::warn!(error = ?e, task_definition = td, "no log links: the task definition could not be read");
                vec![]
            }
        };
        targets
            .iter()
            .filter_map(|l| {
                let prefix = l.prefix.as_deref()?;
                let region = if l.region.is_empty() {
                    Arn::parse(&t.task_arn)?.region.to_string()
                } else {
                    l.region.clone()
                };
                let stream = format!("{prefix}/{}/{}", l.container, t.task_id());
                Some((
                    l.container.clone(),
                    arn::log_stream_url(&region, &l.group, &stream),
                ))
            })
            .collect()
    }
}

impl<P: TaskPorts> crate::runtime::Handler for TaskWatcher<P> {
    fn handle(&self, event: Value) -> impl std::future::Future<Output = Result<Value>> + Send {
        Self::handle(self, event)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "flow_tests.rs"]
mod flow_tests;
