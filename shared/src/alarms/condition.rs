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
    let said = read(reason);
    let quoted = |subject: &str| match (subject.is_empty(), reason.is_empty()) {
        (true, true) => "CloudWatch gave no reason.".to_string(),
        (true, false) => neutralise(reason),
        (false, true) => format!("{subject}: CloudWatch gave no reason"),
        (false, false) => format!("{subject}: {}", neutralise(reason)),
    };
    let named = if subject.is_empty() {
        "The metric".to_string()
    } else {
        subject.clone()
    };
    let threshold = data["threshold"].as_f64();
    let against = threshold
        .map(|t| format!(" against the threshold of {}", num(t)))
        .unwrap_or_default();
    match &said {
        Said::Unchecked(what) if what.eq_ignore_ascii_case("Initial alarm creation") => {
            return "The alarm was just created and has not been evaluated yet.".into()
        }
        Said::Unchecked(what) => return format!("Not evaluated yet: {}.", neutralise(what)),
        Said::Unknown(n) => {
            return format!(
                "{named} has no data to evaluate{against}: the last {} missing.",
                datapoint_count(*n, "is", "are")
            )
        }
        Said::Child { name, state, at } => {
            return format!(
                "Child alarm {} went into {} at {}.",
                neutralise(name),
                neutralise(state),
                neutralise(at)
            )
        }
        Said::Created { name, state } => {
            return format!(
                "Composite alarm {} was created; its rule evaluates to {}.",
                neutralise(name),
                neutralise(state)
            )
        }
        Said::Other => {}
        Said::Crossed(_) => {}
    }
    let Said::Crossed(crossed) = said else {
        if state.value == Some(AlarmStateValue::InsufficientData) && !subject.is_empty() {
            return format!(
                "{subject} has too little data to evaluate: {}",
                neutralise(reason)
            );
        }
        return quoted(&subject);
    };
    let unit = metric
        .and_then(|m| m.metric.name.as_deref())
        .filter(|n| n.ends_with("Utilization") && a.expression().is_none())
        .map_or("", |_| " %");
    // `recentDatapoints` is in time order, oldest first: the latest is the last. The reason
    // lists them newest first.
    let value = latest(&data["recentDatapoints"]).or_else(|| crossed.values.first().copied());
    let count = match (crossed.breaching, crossed.out_of) {
        (Some(n), Some(m)) => format!(" for {n} of {m} datapoints"),
        (Some(n), None) => format!(" for {}", datapoint_count(n, "", ""))
            .trim_end()
            .to_string(),
        _ => String::new(),
    };
    let missing = crossed
        .missing
        .as_ref()
        .map(|(k, how)| {
            format!(
                "; {} counted as {}",
                datapoint_count(*k, "", "").trim_end().replacen(
                    "datapoint",
                    "missing datapoint",
                    1
                ),
                treatment(how)
            )
        })
        .unwrap_or_default();
    if let Some((received, periods)) = crossed.received {
        let arrived = match received {
            0 => format!("no data arrived for {}", plural(periods, "period")),
            n => format!(
                "{} arrived in {}",
                datapoint_count(n, "", "").trim_end(),
                plural(periods, "period")
            ),
        };
        let of = threshold
            .or(crossed.threshold)
            .map(|t| format!(" the threshold of {}{unit}", num(t)))
            .unwrap_or_default();
        return format!("{named}: {arrived}{missing}{of}.");
    }
    let ok = state.value == Some(AlarmStateValue::Ok);
    let anomaly = a
        .expression()
        .is_some_and(|e| is_anomaly(e.expression.as_deref()))
        || crossed.band.is_some();
    if anomaly {
        let band = |k: &str| latest(&data[k]);
        let range = band("recentLowerThresholds")
            .zip(band("recentUpperThresholds"))
            .or(crossed.band)
            .map(|(l, u)| format!(" [{} to {}]", num(l), num(u)))
            .unwrap_or_default();
        let inside = ok || crossed.negated;
        return format!(
            "{named} was {}, {} its expected band{range}{count}{missing}.",
            value.map(num).unwrap_or_else(|| "?".into()),
            if inside { "back inside" } else { "outside" }
        );
    }
    match (value, threshold.or(crossed.threshold), &crossed.comparison) {
        (Some(v), Some(t), Some(cmp)) => format!(
            "{named} was {}{unit}, {cmp} the threshold of {}{unit}{count}{missing}.",
            num(v),
            num(t)
        ),
        _ => quoted(&subject),
    }
}

/// What CloudWatch's reason says, read from its documented forms.
#[derive(Debug, PartialEq)]
enum Said {
    /// `Threshold Crossed: ...` / `Thresholds Crossed: ...` (anomaly detection).
    Crossed(Crossed),
    /// `Insufficient Data: N datapoints were unknown.`
    Unknown(u32),
    /// `Unchecked: Initial alarm creation`.
    Unchecked(String),
    /// A composite alarm's `arn:...:alarm:<child> transitioned to ALARM at <time>`.
    Child {
        name: String,
        state: String,
        at: String,
    },
    /// A composite alarm's `<arn> was created and its alarm rule evaluates to OK`.
    Created { name: String, state: String },
    /// Anything else: a caller's SetAlarmState text, or a form AWS has not documented.
    Other,
}

/// The parts of a threshold reason.
#[derive(Debug, Default, PartialEq)]
struct Crossed {
    /// The datapoints the reason lists, newest first.
    values: Vec<f64>,
    /// N of `N out of the last M datapoints` or of `N datapoints were`.
    breaching: Option<u32>,
    /// M of `N out of the last M datapoints`.
    out_of: Option<u32>,
    /// The comparison in plain words (`above`, `not at or below`).
    comparison: Option<String>,
    /// `was not ...`: the OK side.
    negated: bool,
    threshold: Option<f64>,
    /// An anomaly band's (lower, upper) thresholds.
    band: Option<(f64, f64)>,
    /// `K missing datapoints were treated as [Breaching]`.
    missing: Option<(u32, String)>,
    /// `no datapoints were received for P periods`: (datapoints received, periods).
    received: Option<(u32, u32)>,
}

/// Reads CloudWatch's reason text. Pure; never fails (an unknown form is [`Said::Other`]).
fn read(reason: &str) -> Said {
    let reason = reason.trim();
    if let Some(rest) = reason.strip_prefix("Unchecked: ") {
        return Said::Unchecked(rest.trim_end_matches('.').to_string());
    }
    if let Some(rest) = reason.strip_prefix("Insufficient Data: ") {
        return leading_number(rest).map_or(Said::Other, |(n, _)| Said::Unknown(n));
    }
    if reason.starts_with("arn:") {
        let name = |s: &str| {
            s.split_once(":alarm:")
                .map_or(s, |(_, n)| n)
                .trim()
                .to_string()
        };
        if let Some((arn, rest)) = reason.split_once(" transitioned to ") {
            let (state, at) = rest.split_once(" at ").unwrap_or((rest, ""));
            return Said::Child {
                name: name(arn),
                state: state.trim().to_string(),
                at: at.trim().trim_end_matches('.').to_string(),
            };
        }
        if let Some((arn, state)) =
            reason.split_once(" was created and its alarm rule evaluates to ")
        {
            return Said::Created {
                name: name(arn),
                state: state.trim().trim_end_matches('.').to_string(),
            };
        }
        return Said::Other;
    }
    let body = reason
        .strip_prefix("Threshold Crossed: ")
        .or_else(|| reason.strip_prefix("Thresholds Crossed: "))
        .unwrap_or(reason);
    let mut c = Crossed::default();
    // How many: `no datapoints were received for P periods`, `N datapoint(s) was/were received
    // for P periods`, `N out of the last M datapoints`, `N datapoint(s)`.
    let rest = if let Some(rest) = body.strip_prefix("no datapoints were received for ") {
        let (p, rest) = leading_number(rest).unwrap_or((0, rest));
        c.received = Some((0, p));
        rest
    } else {
        let Some((n, rest)) = leading_number(body) else {
            return Said::Other;
        };
        if let Some(after) = rest.strip_prefix("out of the last ") {
            let Some((m, after)) = leading_number(after) else {
                return Said::Other;
            };
            c.out_of = Some(m);
            c.breaching = Some(n);
            after
        } else if let Some(i) = rest.find(" received for ").filter(|i| *i < 20) {
            let (p, after) = leading_number(&rest[i + " received for ".len()..]).unwrap_or((0, ""));
            c.received = Some((n, p));
            after
        } else {
            c.breaching = Some(n);
            rest
        }
    };
    // The datapoints: `[v (time), ...]` after the count, or the 2012 form `(v)`; or the
    // list after `The most recent datapoints which crossed the threshold: `.
    let rest = rest
        .trim_start_matches("datapoints")
        .trim_start_matches("datapoint")
        .trim_start();
    if let Some(list) = rest.strip_prefix('[').and_then(|r| r.split_once(']')) {
        c.values = values(list.0);
    } else if let Some((v, _)) = rest.strip_prefix('(').and_then(|r| r.split_once(')')) {
        c.values = v.trim().parse().ok().into_iter().collect();
    }
    if let Some((_, list)) = body.split_once("which crossed the threshold: [") {
        if let Some((list, _)) = list.split_once(']') {
            c.values = values(list);
        }
    } else if let Some((_, list)) = body.split_once("The most recent datapoints: [") {
        // The older form (AWS CLI reference, 2014): bare values, no timestamps, in the order of
        // `recentDatapoints` (oldest first), so reversed to keep the newest first.
        if let Some((list, _)) = list.split_once(']') {
            c.values = list
                .split(',')
                .filter_map(|v| v.trim().parse().ok())
                .rev()
                .collect();
        }
    }
    // The comparison: `was [not] greater than the threshold (T)`, or the band's `was less than
    // the lower thresholds [L] or greater than the upper thresholds [U]`.
    let spaced = format!(" {rest}");
    if let Some(phrase) = [" was ", " were "].iter().find_map(|verb| {
        let i = spaced.find(verb)?;
        Some(&spaced[i + verb.len()..])
    }) {
        let (not, phrase) = match phrase.strip_prefix("not ") {
            Some(p) => (true, p),
            None => (false, phrase),
        };
        c.negated = not;
        if let Some(end) = phrase.find(" the threshold") {
            c.comparison =
                plain(&phrase[..end]).map(|p| format!("{}{p}", if not { "not " } else { "" }));
        }
        let bracketed = |key: &str| {
            let (_, after) = phrase.split_once(key)?;
            after.split_once(']')?.0.trim().parse::<f64>().ok()
        };
        if let (Some(l), Some(u)) = (
            bracketed("lower thresholds ["),
            bracketed("upper thresholds ["),
        ) {
            c.band = Some((l, u));
        }
        c.threshold = phrase
            .split_once("the threshold (")
            .and_then(|(_, t)| t.split_once(')'))
            .and_then(|(t, _)| t.trim().parse().ok());
    }
    // Missing data: `and K missing datapoint(s) was/were treated as [Breaching]`.
    if let Some((_, after)) = body.split_once(" and ") {
        if let Some((k, after)) = leading_number(after) {
            if let Some((_, how)) = after.split_once("treated as [") {
                if let Some((how, _)) = how.split_once(']') {
                    c.missing = Some((k, how.to_string()));
                }
            }
        }
    }
    if c.comparison.is_none() && c.band.is_none() && c.received.is_none() {
        return Said::Other;
    }
    Said::Crossed(c)
}

/// A number at the start of `s` and what follows it (`5 datapoints` gives 5 and `datapoints`).
fn leading_number(s: &str) -> Option<(u32, &str)> {
    let s = s.trim_start();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = s[..end].parse().ok()?;
    Some((n, s[end..].trim_start()))
}

/// `1.0 (22/09/18 11:43:00), 0.5 (...)`: the values, in the reason's order.
fn values(list: &str) -> Vec<f64> {
    list.split("), ")
        .filter_map(|p| {
            p.split_whitespace()
                .next()?
                .trim_end_matches(',')
                .parse()
                .ok()
        })
        .collect()
}

/// CloudWatch's comparison in plain words.
fn plain(phrase: &str) -> Option<&'static str> {
    Some(match phrase {
        "greater than or equal to" => "at or above",
        "greater than" => "above",
        "less than or equal to" => "at or below",
        "less than" => "below",
        _ => return None,
    })
}

/// How the alarm treated missing data, in words.
fn treatment(how: &str) -> String {
    match how {
        "Breaching" => "breaching".into(),
        "NonBreaching" => "not breaching".into(),
        other => neutralise(&other.to_ascii_lowercase()),
    }
}

fn plural(n: u32, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `1 datapoint is` / `5 datapoints are` (the verb given for one and for several).
fn datapoint_count(n: u32, one: &str, several: &str) -> String {
    format!(
        "{} {}",
        plural(n, "datapoint"),
        if n == 1 { one } else { several }
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The parts read from each form, as a decision table: (reason, values newest first,
    /// N, M, comparison, threshold, missing, received).
    #[test]
    fn each_documented_form_reads_into_its_parts() {
        type Row = (
            &'static str,
            &'static [f64],
            Option<u32>,
            Option<u32>,
            Option<&'static str>,
            Option<f64>,
            Option<(u32, &'static str)>,
            Option<(u32, u32)>,
        );
        let table: &[Row] = &[
            (
                "Threshold Crossed: 1 datapoint [1.0 (22/09/18 11:43:00)] was greater than the threshold (0.0).",
                &[1.0], Some(1), None, Some("above"), Some(0.0), None, None,
            ),
            (
                "Threshold Crossed: 2 out of the last 2 datapoints [63.0 (11/12/24 06:04:00), 66.0 (11/12/24 05:59:00)] were greater than the threshold (50.0) (minimum 2 datapoints for OK -> ALARM transition).",
                &[63.0, 66.0], Some(2), Some(2), Some("above"), Some(50.0), None, None,
            ),
            (
                "Threshold Crossed: 5 datapoints were greater than the threshold (10.0). The most recent datapoints which crossed the threshold: [27.5 (08/08/17 20:09:00), 27.4 (08/08/17 20:08:00)].",
                &[27.5, 27.4], Some(5), None, Some("above"), Some(10.0), None, None,
            ),
            (
                "Threshold Crossed: 2 datapoints were not greater than the threshold (70.0). The most recent datapoints: [38.958, 40.292].",
                &[40.292, 38.958], Some(2), None, Some("not above"), Some(70.0), None, None,
            ),
            (
                "Threshold Crossed: 1 datapoint (5.199) was greater than or equal to the threshold (5.0).",
                &[5.199], Some(1), None, Some("at or above"), Some(5.0), None, None,
            ),
            (
                "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint was treated as [NonBreaching].",
                &[], None, None, None, None, Some((1, "NonBreaching")), Some((0, 1)),
            ),
        ];
        for (reason, values, n, m, cmp, t, missing, received) in table {
            let Said::Crossed(c) = read(reason) else {
                panic!("not read as crossed: {reason}");
            };
            assert_eq!(c.values, values.to_vec(), "{reason}");
            assert_eq!((c.breaching, c.out_of), (*n, *m), "{reason}");
            assert_eq!(c.comparison.as_deref(), *cmp, "{reason}");
            assert_eq!(c.threshold, *t, "{reason}");
            assert_eq!(
                c.missing.as_ref().map(|(k, how)| (*k, how.as_str())),
                *missing,
                "{reason}"
            );
            assert_eq!(c.received, *received, "{reason}");
        }
    }
}
