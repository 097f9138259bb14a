//! The alarm-notifier's decision: where an alarm's state change goes, or why it stays quiet.
//! Pure: what was read about the alarm and the clock are arguments.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::config::AlarmNotifierConfig;
use super::render::{changed_at, Context};
use super::{flap, runbook, severity, Flap};
use crate::events::{AlarmStateChange, Event};
use crate::model::service::ServiceSnapshot;
use crate::notify::Severity;
use crate::tags::ASLEEP_SINCE;

/// What was read about an alarm beyond its event. Each read is optional: a failed read
/// degrades the message, it never loses it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlarmState {
    /// The alarm's tags (`autopilot:severity`, `autopilot:runbook`).
    pub tags: BTreeMap<String, String>,
    /// The service the dimensions name, when there is one and it could be read.
    pub service: Option<ServiceSnapshot>,
    /// The state changes inside the flap window, this one included, when they were read.
    pub changes_in_window: Option<usize>,
}

/// The decision about one state change.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmPlan {
    pub severity: Severity,
    /// The topic to publish to; `None` keeps it quiet, for `reason`.
    pub topic: Option<String>,
    pub reason: Option<String>,
    /// What the message says beyond the event.
    pub context: Context,
}

/// Whether the alarm's history is worth a call: only when the previous state began inside the
/// flap window (else it cannot be flapping), and not for a sleeping service (it stays quiet).
pub fn needs_history(
    ev: &Event<AlarmStateChange>,
    service: Option<&ServiceSnapshot>,
    config: &AlarmNotifierConfig,
    now: DateTime<Utc>,
) -> bool {
    if service.is_some_and(|s| s.has_tag(ASLEEP_SINCE)) {
        return false;
    }
    let window = Duration::minutes(i64::from(config.flap_window_minutes));
    let changed = changed_at(ev, now);
    ev.detail
        .previous_state
        .as_ref()
        .and_then(|p| p.time())
        .is_some_and(|p| changed - p < window)
}

/// Routes the state change by severity, or keeps it quiet: a sleeping service, or an alarm
/// still flapping after its flapping was reported.
pub fn plan(
    ev: &Event<AlarmStateChange>,
    state: &AlarmState,
    config: &AlarmNotifierConfig,
) -> AlarmPlan {
    let sev = severity(ev.detail.state.value.as_ref(), &state.tags);
    let mut p = AlarmPlan {
        severity: sev,
        topic: None,
        reason: None,
        context: Context {
            severity: Some(sev),
            runbook: runbook(&state.tags),
            ..Context::default()
        },
    };
    if let Some(s) = &state.service {
        if let Some(since) = s.tags.get(ASLEEP_SINCE) {
            p.reason = Some(format!(
                "service {}/{} is asleep since {since} (off-hours): not paged",
                s.cluster, s.name
            ));
            return p;
        }
        p.context.service = Some(s.clone());
    }
    match state
        .changes_in_window
        .map(|n| flap(n, config.flap_threshold))
    {
        Some(Flap::Quiet(n)) => {
            p.reason = Some(format!(
                "flapping: {n} changes in {} min, already reported",
                config.flap_window_minutes
            ));
            return p;
        }
        Some(Flap::Report(n)) => p.context.flapping = Some((n, config.flap_window_minutes)),
        Some(Flap::No) | None => {}
    }
    p.topic = Some(config.topic_for(sev).to_string());
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarms::parse;
    use crate::tags;

    const CHAT: &str = "arn:aws:sns:us-east-1:123456789012:chat";
    const PAGER: &str = "arn:aws:sns:us-east-1:123456789012:pager";

    fn config() -> AlarmNotifierConfig {
        AlarmNotifierConfig {
            topic_arn: CHAT.into(),
            severity_topics: BTreeMap::from([("critical".to_string(), PAGER.to_string())]),
            flap_threshold: 4,
            flap_window_minutes: 30,
        }
    }

    fn event(state: &str, changed: &str, previous: &str) -> Event<AlarmStateChange> {
        let mut e: serde_json::Value = serde_json::from_str(include_str!(
            "../../../events/alarm-notifier/cpu-alarm.json"
        ))
        .expect("sample");
        e["detail"]["state"]["value"] = state.into();
        e["detail"]["state"]["timestamp"] = changed.into();
        e["detail"]["previousState"]["timestamp"] = previous.into();
        parse(e).expect("parsed")
    }

    fn service(tags: &[(&str, &str)]) -> ServiceSnapshot {
        ServiceSnapshot {
            cluster: "prod".into(),
            name: "web".into(),
            running: 1,
            desired: 2,
            pending: 1,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ServiceSnapshot::default()
        }
    }

    /// (event, tags, service, changes in the window) -> (severity, topic, what the reason says).
    type Row<'a> = (
        &'a Event<AlarmStateChange>,
        BTreeMap<String, String>,
        Option<ServiceSnapshot>,
        Option<usize>,
        Severity,
        Option<&'a str>,
        &'a str,
    );

    #[test]
    fn routing_decision_table() {
        let ev = event(
            "ALARM",
            "2026-11-16T10:00:00.000+0000",
            "2026-11-15T10:00:00.000+0000",
        );
        let ok = event(
            "OK",
            "2026-11-16T10:00:00.000+0000",
            "2026-11-15T10:00:00.000+0000",
        );
        let tagged = |sev: &str| BTreeMap::from([(tags::SEVERITY.to_string(), sev.to_string())]);
        let awake = Some(service(&[]));
        let asleep = Some(service(&[(tags::ASLEEP_SINCE, "2026-11-15T19:00:00Z")]));
        let cases: Vec<Row> = vec![
            (
                &ev,
                BTreeMap::new(),
                None,
                None,
                Severity::Warning,
                Some(CHAT),
                "",
            ),
            (
                &ok,
                BTreeMap::new(),
                None,
                None,
                Severity::Info,
                Some(CHAT),
                "",
            ),
            (
                &ev,
                tagged("critical"),
                None,
                None,
                Severity::Critical,
                Some(PAGER),
                "",
            ),
            (
                &ok,
                tagged("CRITICAL "),
                None,
                None,
                Severity::Critical,
                Some(PAGER),
                "",
            ),
            (
                &ev,
                tagged("loud"),
                None,
                None,
                Severity::Warning,
                Some(CHAT),
                "",
            ),
            (
                &ev,
                tagged("critical"),
                asleep.clone(),
                None,
                Severity::Critical,
                None,
                "asleep since 2026-11-15T19:00:00Z",
            ),
            (
                &ev,
                BTreeMap::new(),
                awake.clone(),
                None,
                Severity::Warning,
                Some(CHAT),
                "",
            ),
            (
                &ev,
                BTreeMap::new(),
                awake.clone(),
                Some(4),
                Severity::Warning,
                Some(CHAT),
                "",
            ),
            (
                &ev,
                BTreeMap::new(),
                awake.clone(),
                Some(5),
                Severity::Warning,
                Some(CHAT),
                "",
            ),
            (
                &ev,
                tagged("critical"),
                awake,
                Some(6),
                Severity::Critical,
                None,
                "flapping: 6 changes in 30 min",
            ),
        ];
        for (i, (e, tags, service, changes, sev, topic, reason)) in cases.into_iter().enumerate() {
            let state = AlarmState {
                tags,
                service,
                changes_in_window: changes,
            };
            let p = plan(e, &state, &config());
            assert_eq!(p.severity, sev, "row {i}");
            assert_eq!(p.topic.as_deref(), topic, "row {i}");
            assert!(
                p.reason.as_deref().unwrap_or("").contains(reason),
                "row {i}: {:?}",
                p.reason
            );
            assert_eq!(
                p.topic.is_none(),
                p.reason.is_some(),
                "row {i}: quiet exactly when there is a reason"
            );
        }
    }

    #[test]
    fn the_message_carries_the_runbook_the_service_and_a_first_flap() {
        let ev = event(
            "ALARM",
            "2026-11-16T10:00:00.000+0000",
            "2026-11-16T09:55:00.000+0000",
        );
        let state = AlarmState {
            tags: BTreeMap::from([(
                tags::RUNBOOK.to_string(),
                "https://wiki.example/cpu".to_string(),
            )]),
            service: Some(service(&[])),
            changes_in_window: Some(5),
        };
        let p = plan(&ev, &state, &config());
        assert_eq!(
            p.context.runbook.as_deref(),
            Some("https://wiki.example/cpu")
        );
        assert_eq!(p.context.service, Some(service(&[])));
        assert_eq!(
            p.context.flapping,
            Some((5, 30)),
            "reported once, on the crossing change"
        );
    }

    #[test]
    fn the_history_is_read_only_when_the_previous_state_is_recent_and_the_service_awake() {
        let now: DateTime<Utc> = "2026-11-16T10:00:05Z".parse().expect("time");
        let recent = event(
            "ALARM",
            "2026-11-16T10:00:00.000+0000",
            "2026-11-16T09:45:00.000+0000",
        );
        let old = event(
            "ALARM",
            "2026-11-16T10:00:00.000+0000",
            "2026-11-16T09:15:00.000+0000",
        );
        let asleep = service(&[(tags::ASLEEP_SINCE, "2026-11-15T19:00:00Z")]);
        assert!(needs_history(&recent, None, &config(), now));
        assert!(needs_history(&recent, Some(&service(&[])), &config(), now));
        assert!(!needs_history(&old, None, &config(), now));
        assert!(!needs_history(&recent, Some(&asleep), &config(), now));
    }
}
