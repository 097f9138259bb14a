//! The alarm message: built from the event alone plus what the handler read (tags, the
//! service). Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::aws::arn::{console_host, ecs_service_url};
use crate::events::{AlarmStateChange, AlarmStateValue, Event, MetricStat};
use crate::notify::{link, neutralise, Notification, Severity};
use crate::service::ServiceSnapshot;

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
            crate::aws::arn::partition_of(&ev.region),
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
    Notification {
        id: format!(
            "alarm:{arn}:{word}:{}{}",
            a.state.timestamp.as_deref().unwrap_or_default(),
            if ctx.flapping.is_some() {
                ":flapping"
            } else {
                ""
            }
        ),
        severity: display,
        summary: title.clone(),
        title,
        description,
        next_steps,
        keywords,
        thread_id: arn.clone(),
        event_type: if ctx.flapping.is_some() {
            "alarm-flapping".into()
        } else {
            format!("alarm-{}", word.to_ascii_lowercase())
        },
        related_resources: vec![arn],
        additional_context: context,
    }
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

/// One plain sentence of the condition.
pub fn condition(a: &AlarmStateChange) -> String {
    let state = &a.state;
    let reason = state.reason.as_deref().unwrap_or("");
    let data = state.reason_data();
    let ok = state.value == Some(AlarmStateValue::Ok);

    if let Some(rule) = &a.configuration.alarm_rule {
        let children: Vec<String> = data["triggeringAlarms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["state"]["value"] == "ALARM")
            .filter_map(|t| t["arn"].as_str())
            .map(|arn| neutralise(arn.split_once(":alarm:").map_or(arn, |(_, n)| n)))
            .collect();
        return if children.is_empty() {
            format!(
                "Composite rule {}: no child alarm is in ALARM.",
                neutralise(rule)
            )
        } else {
            format!(
                "Composite rule {}: in ALARM now: {}.",
                neutralise(rule),
                children.join(", ")
            )
        };
    }

    let metric = a.primary_metric();
    let subject = match (a.expression(), metric) {
        (Some(e), Some(m)) if is_anomaly(e.expression.as_deref()) => describe_metric(a, m),
        (Some(e), _) => format!(
            "{} ({})",
            neutralise(e.label.as_deref().unwrap_or("the expression")),
            neutralise(e.expression.as_deref().unwrap_or_default())
        ),
        (None, Some(m)) => describe_metric(a, m),
        (None, None) => String::new(),
    };
    if subject.is_empty() {
        return if reason.is_empty() {
            "CloudWatch gave no reason.".into()
        } else {
            neutralise(reason)
        };
    }
    if state.value == Some(AlarmStateValue::InsufficientData) {
        return format!(
            "{subject} has too little data to evaluate: {}",
            neutralise(reason)
        );
    }
    let unit = metric
        .and_then(|m| m.metric.name.as_deref())
        .filter(|n| n.ends_with("Utilization") && a.expression().is_none())
        .map_or("", |_| " %");
    let value = data["recentDatapoints"]
        .as_array()
        .and_then(|d| d.first())
        .and_then(Value::as_f64);
    let count = datapoints(reason)
        .map(|(n, m)| format!(" for {n} of {m} datapoints"))
        .unwrap_or_default();
    if a.expression()
        .is_some_and(|e| is_anomaly(e.expression.as_deref()))
    {
        let band = |k: &str| {
            data[k]
                .as_array()
                .and_then(|d| d.first())
                .and_then(Value::as_f64)
        };
        let range = band("recentLowerThresholds")
            .zip(band("recentUpperThresholds"))
            .map(|(l, u)| format!(" [{} to {}]", num(l), num(u)))
            .unwrap_or_default();
        return format!(
            "{subject} was {}, {} its expected band{range}{count}.",
            value.map(num).unwrap_or_else(|| "?".into()),
            if ok { "back inside" } else { "outside" }
        );
    }
    let threshold = data["threshold"].as_f64();
    match (value, threshold, comparison(reason)) {
        (Some(v), Some(t), Some(cmp)) => format!(
            "{subject} was {}{unit}, {cmp} the threshold of {}{unit}{count}.",
            num(v),
            num(t)
        ),
        _ => format!(
            "{subject}: {}",
            if reason.is_empty() {
                "CloudWatch gave no reason".into()
            } else {
                neutralise(reason)
            }
        ),
    }
}

fn is_anomaly(expression: Option<&str>) -> bool {
    expression.is_some_and(|e| e.to_ascii_uppercase().contains("ANOMALY_DETECTION_BAND"))
}

fn describe_metric(a: &AlarmStateChange, m: &MetricStat) -> String {
    let name = neutralise(m.metric.name.as_deref().unwrap_or("the metric"));
    let mut how = vec![];
    if let Some(stat) = &m.stat {
        how.push(neutralise(stat));
    }
    if let Some(p) = m.period {
        how.push(period(p));
    }
    let how = if how.is_empty() {
        String::new()
    } else {
        format!(" ({})", how.join(", "))
    };
    let of = match ecs_service(a) {
        Some((c, s)) => format!(
            " of service {} in cluster {}",
            neutralise(&s),
            neutralise(&c)
        ),
        None => String::new(),
    };
    format!("{name}{how}{of}")
}

/// `3 out of the last 3 datapoints` in CloudWatch's reason.
fn datapoints(reason: &str) -> Option<(u32, u32)> {
    let (before, after) = reason.split_once(" out of the last ")?;
    let n = before.rsplit(' ').next()?.parse().ok()?;
    let m = after.split(' ').next()?.parse().ok()?;
    Some((n, m))
}

/// The comparison CloudWatch's reason states, in plain words.
fn comparison(reason: &str) -> Option<String> {
    let start = reason.find("] was ")? + "] was ".len();
    let rest = &reason[start..];
    let end = rest.find(" the threshold")?;
    let phrase = &rest[..end];
    let (not, phrase) = match phrase.strip_prefix("not ") {
        Some(p) => ("not ", p),
        None => ("", phrase),
    };
    let plain = match phrase {
        "greater than or equal to" => "at or above",
        "greater than" => "above",
        "less than or equal to" => "at or below",
        "less than" => "below",
        _ => return None,
    };
    Some(format!("{not}{plain}"))
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn period(seconds: i64) -> String {
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
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
