//! The alarm-notifier: every CloudWatch alarm state change becomes a chat message a person on
//! call understands at a glance, routed by severity, threaded per alarm, quiet for flapping
//! alarms and for services that off-hours has put to sleep.
//!
//! Each extra read costs one call and only when the alarm needs it: the alarm's tags (severity,
//! runbook), the service (when the dimensions name one), the alarm's history (only when the
//! previous state began inside the flap window). A failed read degrades the message; it never
//! loses it.

pub mod condition;
pub mod config;
pub mod plan;
pub mod ports;
pub mod render;

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::aws::{CallLog, Clients};
use crate::error::{Error, Result};
use crate::events::{self, AlarmStateChange, AlarmStateValue, Event};
use crate::metrics::{catalogue, Metrics};
use crate::model::service::ServiceSnapshot;
use crate::notify::Severity;
use crate::runtime::Job;
use crate::tags::{RUNBOOK, SEVERITY};
pub use config::AlarmNotifierConfig;
pub use plan::{AlarmPlan, AlarmState};
pub use ports::AlarmPorts;
pub use render::{render, Context};

/// The detail type the alarm-notifier takes.
pub const CLOUDWATCH_ALARM_STATE_CHANGE: &str = "CloudWatch Alarm State Change";

/// What the invocation returns: the alarm, where its message went, or why it stayed quiet.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmReport {
    pub alarm: String,
    pub state: String,
    pub previous_state: Option<String>,
    pub severity: Severity,
    pub topic: Option<String>,
    pub published: bool,
    pub reason: Option<String>,
}

/// Parses an invocation's payload: an EventBridge alarm state change, or an SNS event whose
/// records carry CloudWatch alarm notifications (see `events::sns_alarm`). Either way each alarm
/// becomes the same [`AlarmStateChange`]. Nothing is published for a payload that is not an
/// alarm: the error names the field.
pub fn parse_all(event: Value) -> Result<Vec<Event<AlarmStateChange>>> {
    if events::is_sns_event(&event) {
        return events::sns_alarm_events(&event);
    }
    parse(event).map(|e| vec![e])
}

/// Parses an EventBridge event. The envelope must be right, the detail must be an alarm (an
/// `alarmName` string and a `state` object); the rest of the detail is read leniently, unknown
/// values (a new state, a new alarm type) tolerated.
pub fn parse(event: Value) -> Result<Event<AlarmStateChange>> {
    let envelope = events::envelope(event)?;
    if envelope.detail_type != CLOUDWATCH_ALARM_STATE_CHANGE {
        return Err(Error::bad_event(format!(
            "detail-type: {:?} is not an event the alarm-notifier takes ({CLOUDWATCH_ALARM_STATE_CHANGE:?})",
            envelope.detail_type
        )));
    }
    if !envelope.detail["alarmName"].is_string() {
        return Err(Error::bad_event(
            "detail.alarmName: missing or not a string: not a CloudWatch alarm state change",
        ));
    }
    if !envelope.detail["state"].is_object() {
        return Err(Error::bad_event(
            "detail.state: missing or not an object: not a CloudWatch alarm state change",
        ));
    }
    let detail = AlarmStateChange::lenient(&envelope.detail);
    Ok(Event {
        id: envelope.id.unwrap_or_default(),
        detail_type: envelope.detail_type,
        source: envelope.source,
        account: envelope.account.unwrap_or_default(),
        region: envelope.region.unwrap_or_default(),
        time: envelope.time,
        resources: envelope.resources.unwrap_or_default(),
        detail,
    })
}

/// The routing severity: the alarm's tag, else warning for ALARM and info for the rest.
pub fn severity(state: Option<&AlarmStateValue>, tags: &BTreeMap<String, String>) -> Severity {
    match tags
        .get(SEVERITY)
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("critical") => Severity::Critical,
        Some("warning") => Severity::Warning,
        Some("info") => Severity::Info,
        _ if state == Some(&AlarmStateValue::Alarm) => Severity::Warning,
        _ => Severity::Info,
    }
}

/// A runbook tag that is a plain https URL (anything else is not linked).
pub fn runbook(tags: &BTreeMap<String, String>) -> Option<String> {
    let url = tags.get(RUNBOOK)?.trim();
    let ok = url.starts_with("https://")
        && url.len() <= 2048
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>|\"`".contains(c));
    ok.then(|| url.to_string())
}

/// What to do about flapping, given the state changes counted in the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flap {
    /// Not flapping: publish as usual.
    No,
    /// Just crossed the threshold: publish once, as flapping.
    Report(usize),
    /// Flapping and already reported: stay quiet.
    Quiet(usize),
}

/// More than `threshold` changes is flapping; it is reported on the change that crosses.
pub fn flap(changes: usize, threshold: u32) -> Flap {
    let t = threshold as usize;
    match changes {
        n if n <= t => Flap::No,
        n if n == t + 1 => Flap::Report(n),
        n => Flap::Quiet(n),
    }
}

/// The alarm-notifier; built once per process.
pub struct AlarmNotifier<P = Clients> {
    /// The AWS side: [`Clients`] in Lambda, an in-memory fake in the core's tests.
    pub clients: P,
    pub config: AlarmNotifierConfig,
}

impl<P: AlarmPorts> AlarmNotifier<P> {
    pub fn new(clients: P, config: AlarmNotifierConfig) -> Self {
        AlarmNotifier { clients, config }
    }

    /// Reads what the alarm needs (tags; its service; its history only when it may be
    /// flapping), plans, and publishes the message the plan routes.
    async fn on_event(&self, ev: &Event<AlarmStateChange>) -> Result<AlarmReport> {
        let alarm = &ev.detail;
        let name = render::alarm_name(ev);
        let now = Utc::now();
        let mut state = AlarmState {
            tags: self.alarm_tags(&render::alarm_arn(ev)).await,
            ..AlarmState::default()
        };
        if let Some((cluster, service)) = render::ecs_service(alarm) {
            state.service = self.read_service(&cluster, &service).await;
        }
        // An alarm without its own severity or runbook takes its service's (fleet mode: a
        // service owner tags the service once, not each alarm).
        if let Some(service) = &state.service {
            for key in [SEVERITY, RUNBOOK] {
                if let (false, Some(v)) = (state.tags.contains_key(key), service.tags.get(key)) {
                    state.tags.insert(key.to_string(), v.clone());
                }
            }
        }
        let service = state.service.as_ref();
        if plan::needs_history(ev, service, &self.config, now) {
            let window = Duration::minutes(i64::from(self.config.flap_window_minutes));
            match self
                .changes_in_window(&name, render::changed_at(ev, now), window)
                .await
            {
                Ok(n) => state.changes_in_window = Some(n),
                Err(e) => {
                    tracing::warn!(error = ?e, "the alarm history could not be read; flapping is not checked")
                }
            }
        }
        let plan = plan::plan(ev, &state, &self.config);
        tracing::info!(alarm = %name, topic = ?plan.topic, reason = ?plan.reason, "alarm plan");
        let mut report = AlarmReport {
            alarm: name,
            state: render::state_word(alarm.state.value.as_ref()).to_string(),
            previous_state: alarm
                .previous_state
                .as_ref()
                .map(|p| render::state_word(p.value.as_ref()).to_string()),
            severity: plan.severity,
            topic: None,
            published: false,
            reason: plan.reason.clone(),
        };
        if let Some(topic) = plan.topic {
            let notice = render(ev, &plan.context);
            self.clients.publish(&topic, &notice).await?;
            report.topic = Some(topic);
            report.published = true;
        }
        Ok(report)
    }

    /// The service an alarm's dimensions name; `None` when it does not exist or cannot be read
    /// (logged: the message says less).
    async fn read_service(&self, cluster: &str, service: &str) -> Option<ServiceSnapshot> {
        match self.clients.services(cluster, &[service.to_string()]).await {
            Ok(found) => found.into_iter().next(),
            Err(e) => {
                tracing::warn!(error = ?e, "the service could not be read; the message says less");
                None
            }
        }
    }

    /// The alarm's tags; empty (and logged) when they cannot be read.
    async fn alarm_tags(&self, arn: &str) -> BTreeMap<String, String> {
        self.clients.alarm_tags(arn).await.unwrap_or_else(|e| {
            tracing::warn!(error = ?e, "alarm tags unreadable: default severity, no runbook");
            BTreeMap::new()
        })
    }

    /// State changes of the alarm inside the window ending at `changed`, this one included.
    async fn changes_in_window(
        &self,
        name: &str,
        changed: chrono::DateTime<chrono::Utc>,
        window: Duration,
    ) -> Result<usize> {
        let items = self
            .clients
            .state_changes(name, changed - window, changed + Duration::seconds(5))
            .await?;
        let includes_this = items
            .iter()
            .any(|t| (t.timestamp_millis() - changed.timestamp_millis()).abs() <= 2_000);
        Ok(items.len() + usize::from(!includes_this))
    }
}

/// What an invocation returns: the alarm's report, or, for an SNS event of several alarm
/// notifications, one per record (`{"records": [...]}`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AlarmReports {
    One(AlarmReport),
    Records { records: Vec<AlarmReport> },
}

impl AlarmReports {
    /// Every record's report.
    pub fn all(&self) -> &[AlarmReport] {
        match self {
            AlarmReports::One(report) => std::slice::from_ref(report),
            AlarmReports::Records { records } => records,
        }
    }
}

impl<P: AlarmPorts> Job for AlarmNotifier<P> {
    const NAME: &'static str = "alarm-notifier";
    type Event = Vec<Event<AlarmStateChange>>;
    type Report = AlarmReports;

    /// One `CloudWatch Alarm State Change` event, or an SNS event of alarm notifications.
    fn parse(&self, event: Value) -> Result<Self::Event> {
        parse_all(event)
    }

    async fn run(&self, events: Self::Event) -> Result<AlarmReports> {
        let mut reports = vec![];
        for event in &events {
            let report = self.on_event(event).await?;
            tracing::info!(alarm = %report.alarm, state = %report.state, published = report.published, reason = ?report.reason, "alarm handled");
            reports.push(report);
        }
        Ok(match reports.len() {
            1 => AlarmReports::One(reports.remove(0)),
            _ => AlarmReports::Records { records: reports },
        })
    }

    fn metrics(reports: &AlarmReports, metrics: Metrics) -> Metrics {
        // Both totals always, so a quiet invocation reads as zero; then one of them per alarm
        // under its severity.
        let metrics = metrics
            .count(&catalogue::ALARMS_PUBLISHED, 0)
            .count(&catalogue::ALARMS_SUPPRESSED, 0);
        reports.all().iter().fold(metrics, |metrics, report| {
            let metric = if report.published {
                &catalogue::ALARMS_PUBLISHED
            } else {
                &catalogue::ALARMS_SUPPRESSED
            };
            metrics.count_by(metric, report.severity.as_str(), 1)
        })
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
