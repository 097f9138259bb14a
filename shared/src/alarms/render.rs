//! The alarm message: built from the event alone plus what the handler read (tags, the
//! service). Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

pub use super::condition::condition;
use crate::events::{AlarmStateChange, AlarmStateValue, Event};
use crate::model::arn::{console_host, ecs_service_url};
use crate::model::service::ServiceSnapshot;
use crate::notify::{link, neutralise, Notification, Severity};

/// What the handler learnt beyond the event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Context {
    /// Routing severity (critical, warning, info).
    pub severity: Option<Severity>,
    /// `autopilot:runbook`, when it is a plain https URL.
    pub runbook: Option<String>,
    /// The ECS service the alarm is about, when its dimensions name one and it was read.
    pub service: Option<ServiceSnapshot>,
    /// The number of state changes in the flap window, when this message reports flapping.
    pub flapping: Option<(usize, u32)>,
}

/// The state as a word.
pub fn state_word(v: Option<&AlarmStateValue>) -> &str {
    v.map(AlarmStateValue::as_str).unwrap_or("UNKNOWN")
}

/// The alarm's name: from the detail, else from its ARN, else a placeholder.
pub fn alarm_name(ev: &Event<AlarmStateChange>) -> String {
    ev.detail
        .alarm_name
        .clone()
        .or_else(|| {
            ev.resources
                .first()
                .and_then(|a| a.split_once(":alarm:"))
                .map(|(_, n)| n.to_string())
        })
        .unwrap_or_else(|| "unnamed alarm".into())
}

/// The alarm's ARN: from the event's resources, else built from its name.
pub fn alarm_arn(ev: &Event<AlarmStateChange>) -> String {
    ev.resources.first().cloned().unwrap_or_else(|| {
        format!(
            "arn:{}:cloudwatch:{}:{}:alarm:{}",
            crate::model::arn::partition_of(&ev.region),
            ev.region,
            ev.account,
            alarm_name(ev)
        )
    })
}

/// `(cluster, service)` when the metric's dimensions name an ECS service.
pub fn ecs_service(a: &AlarmStateChange) -> Option<(String, String)> {
    Some((a.dimension("ClusterName")?, a.dimension("ServiceName")?))
}

/// The chat notification for one state change.
pub fn render(ev: &Event<AlarmStateChange>, ctx: &Context) -> Notification {
    let a = &ev.detail;
    let name = alarm_name(ev);
    let arn = alarm_arn(ev);
    let state = a.state.value.as_ref();
    let word = state_word(state);
    let region = if ev.region.is_empty() {
        arn.split(':').nth(3).unwrap_or("us-east-1")
    } else {
        &ev.region
    };
    let service = ecs_service(a);
    let on = service
        .as_ref()
        .map(|(c, s)| format!(" (service {} in cluster {})", neutralise(s), neutralise(c)))
        .unwrap_or_default();
    let display = match state {
        Some(AlarmStateValue::Ok) => Severity::Success,
        Some(AlarmStateValue::Alarm) => ctx.severity.unwrap_or(Severity::Warning),
        _ => Severity::Info,
    };
    let title = match ctx.flapping {
        Some(_) => format!("{word} (flapping): {}{on}", neutralise(&name)),
        None => format!("{word}: {}{on}", neutralise(&name)),
    };

    let mut description = condition(a);
    if let Some(prev) = &a.previous_state {
        let lasted = prev
            .time()
            .zip(a.state.time())
            .map(|(p, s)| human_duration(s - p));
        description.push_str(&format!(
            "\nWas {}{}; changed {}.",
            state_word(prev.value.as_ref()),
            lasted.map(|d| format!(" for {d}")).unwrap_or_default(),
            a.state
                .time()
                .map(|t| format!("at {}", t.format("%Y-%m-%d %H:%M:%S UTC")))
                .unwrap_or_else(|| "just now".into())
        ));
    }
    if let (Some((_, s)), Some(f)) = (&service, &ctx.service) {
        description.push_str(&format!(
            "\nService {}: {} of {} tasks running{}{}.",
            neutralise(s),
            f.running,
            f.desired,
            if f.pending > 0 {
                format!(", {} pending", f.pending)
            } else {
                String::new()
            },
            f.primary()
                .and_then(|d| d.rollout_state.as_deref())
                .map(|r| format!("; current deployment {}", neutralise(r)))
                .unwrap_or_default()
        ));
    }
    if let Some((n, minutes)) = ctx.flapping {
        description.push_str(&format!(
            "\nThis alarm changed state {n} times in {minutes} minutes: it is flapping. Further changes stay quiet until it settles."
        ));
    }
    let mut links = vec![link(&alarm_url(region, &name), "the alarm")];
    if let Some((c, s)) = &service {
        links.push(link(&ecs_service_url(region, c, s), "the service"));
    }
    if let Some(r) = &ctx.runbook {
        links.push(link(r, "the runbook"));
    }
    description.push_str(&format!("\nOpen {}.", links.join(", ")));

    let mut next_steps = vec![];
    if let Some(d) = a
        .configuration
        .description
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    {
        next_steps.push(neutralise(d));
    }
    if state == Some(&AlarmStateValue::Alarm) || state == Some(&AlarmStateValue::InsufficientData) {
        next_steps.extend(advice(a));
    }
    if let Some(r) = &ctx.runbook {
        next_steps.push(format!("Follow {}.", link(r, "the runbook")));
    }

    let mut context = BTreeMap::from([
        ("alarm".to_string(), neutralise(&name)),
        ("state".to_string(), word.to_string()),
        (
            "severity".to_string(),
            ctx.severity
                .map(Severity::as_str)
                .unwrap_or("info")
                .to_string(),
        ),
    ]);
    if let Some(prev) = &a.previous_state {
        context.insert(
            "previousState".into(),
            state_word(prev.value.as_ref()).to_string(),
        );
    }
    if let Some((c, s)) = &service {
        context.insert("cluster".into(), neutralise(c));
        context.insert("service".into(), neutralise(s));
    }
    let mut keywords = vec![word.to_string(), "alarm".into()];
    if let Some((c, _)) = &service {
        keywords.insert(0, neutralise(c));
    }
    let id = format!(
        "alarm:{arn}:{word}:{}{}",
        a.state.timestamp.as_deref().unwrap_or_default(),
        if ctx.flapping.is_some() {
            ":flapping"
        } else {
            ""
        }
    );
    Notification::new(id, display, title, arn.clone())
        .describe(description)
        .event_type(if ctx.flapping.is_some() {
            "alarm-flapping".into()
        } else {
            format!("alarm-{}", word.to_ascii_lowercase())
        })
        .next_steps(next_steps)
        .keywords(keywords)
        .resources([arn])
        .facts(context)
}

/// The console page of an alarm.
pub fn alarm_url(region: &str, name: &str) -> String {
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!(
        "https://{}/cloudwatch/home?region={region}#alarmsV2:alarm/{encoded}",
        console_host(region)
    )
}

fn human_duration(d: chrono::Duration) -> String {
    let minutes = d.num_minutes();
    match minutes {
        m if m < 1 => format!("{} s", d.num_seconds().max(0)),
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{} h {} min", m / 60, m % 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

/// What a team would want to hear for the stack's own alarms.
fn advice(a: &AlarmStateChange) -> Vec<String> {
    let names: Vec<&str> = a
        .configuration
        .metrics
        .iter()
        .filter_map(|m| m.metric_stat.as_ref()?.metric.name.as_deref())
        .collect();
    let has = |n: &str| names.iter().any(|m| m.eq_ignore_ascii_case(n));
    let mut out = vec![];
    if has("CPUUtilization") {
        out.push("Right-size the task: raise its CPU (a valid Fargate CPU/memory pair) or the auto scaling maximum.".into());
        out.push("If it started with the latest deploy, compare with the previous revision: a hot loop or a heavier code path.".into());
    }
    if has("MemoryUtilization") {
        out.push("Raise the task's memory or find the leak; an out-of-memory kill is reported by the task-watcher in the service's thread.".into());
    }
    if has("RunningTaskCount") || has("HealthyHostCount") || has("UnHealthyHostCount") {
        out.push("Look at the stopped tasks: the task-watcher's alerts in the service's thread say why they stopped.".into());
        out.push("Check the latest deploy: a failed or rolled-back deployment is reported by the deployer.".into());
    }
    if has("HTTPCode_Target_5XX_Count") || has("TargetResponseTime") {
        out.push("Check the latest deploy and the application logs for errors; roll back by pushing the previous tag.".into());
    }
    out
}

/// The alarm's state-change time, for the flap window: the state's timestamp, else the event's
/// time, else `now`.
pub fn changed_at(ev: &Event<AlarmStateChange>, now: DateTime<Utc>) -> DateTime<Utc> {
    ev.detail.state.time().or(ev.time).unwrap_or(now)
}
