//! An alarm's condition as one plain sentence: the metric, its statistic and period, the value
//! against the threshold, the datapoints; the expression of metric math, the band of anomaly
//! detection, the rule and children of a composite alarm. Pure.

use serde_json::Value;

use super::render::ecs_service;
use crate::events::{AlarmStateChange, AlarmStateValue, MetricStat};
use crate::notify::neutralise;

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
    // `recentDatapoints` is in time order, oldest first: the latest is the last.
    let value = latest(&data["recentDatapoints"]);
    let count = datapoints(reason)
        .map(|(n, m)| format!(" for {n} of {m} datapoints"))
        .unwrap_or_default();
    if a.expression()
        .is_some_and(|e| is_anomaly(e.expression.as_deref()))
    {
        let band = |k: &str| latest(&data[k]);
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

/// The latest of a `reasonData` series (CloudWatch lists them oldest first).
fn latest(series: &Value) -> Option<f64> {
    series.as_array()?.last()?.as_f64()
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

/// The comparison CloudWatch's reason states, in plain words: `[...] was greater than the
/// threshold` for one datapoint, `[...] were greater than the threshold` for several.
fn comparison(reason: &str) -> Option<String> {
    let rest = ["] was ", "] were "]
        .iter()
        .find_map(|verb| reason.find(verb).map(|i| &reason[i + verb.len()..]))?;
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
