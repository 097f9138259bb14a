//! The day's small helpers: times, cron, queues, summaries, chat lines.

use super::*;

pub(super) fn set_step(title: &str) {
    CURRENT_STEP.with(|s| *s.borrow_mut() = title.to_string());
}

/// An OCI image manifest (the same bytes each time: the same digest).
pub(super) fn image_manifest() -> String {
    json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 1469,
                      "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 3623807,
                       "digest": "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}]})
    .to_string()
}

/// The evening, the end of the worker's keep-awake and the next working morning: 19:00 and
/// 21:00 of today (the next weekday when today is a weekend) and 07:00 of the next weekday, UTC
/// (samconfig's dev time zone).
pub(super) fn the_night(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let weekday = |d: chrono::NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
    let mut day = now.date_naive();
    while !weekday(day) {
        day = day.succ_opt().unwrap_or(day);
    }
    let mut next = day.succ_opt().unwrap_or(day);
    while !weekday(next) {
        next = next.succ_opt().unwrap_or(next);
    }
    let at = |d: chrono::NaiveDate, h: u32| {
        Utc.from_utc_datetime(&d.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default()))
    };
    (at(day, 19), at(day, 21), at(next, 7))
}

/// Whether an EventBridge cron expression (`cron(minutes hours day month weekday year)`)
/// fires at `at`, for the forms a schedule of quarter hours uses: `*`, `?`, a number, `a/b`,
/// and lists of them.
pub(super) fn cron_fires(expression: &str, at: DateTime<Utc>) -> bool {
    let Some(body) = expression
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
    else {
        return false;
    };
    let fields: Vec<&str> = body.split_whitespace().collect();
    let [minutes, hours, dom, month, _dow, _year] = fields.as_slice() else {
        return false;
    };
    let matches = |field: &str, value: u32| {
        field.split(',').any(|part| match part {
            "*" | "?" => true,
            p => match p.split_once('/') {
                Some((start, step)) => {
                    let start = if start == "*" {
                        0
                    } else {
                        start.parse().unwrap_or(u32::MAX)
                    };
                    let step: u32 = step.parse().unwrap_or(0);
                    step > 0 && value >= start && (value - start).is_multiple_of(step)
                }
                None => p.parse::<u32>() == Ok(value),
            },
        })
    };
    matches(minutes, at.minute())
        && matches(hours, at.hour())
        && matches(dom, at.day())
        && matches(month, at.month())
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Every event waiting in a route's queue, in order (deleted as read).
pub(super) async fn drain(stack: &Stack, url: &str) -> Vec<Value> {
    stack
        .drain(url)
        .await
        .iter()
        .filter_map(|body| serde_json::from_str::<Value>(body).ok())
        .map(|mut v| {
            // moto's EventBridge leaves `account` out of what it sends a target (its default
            // input template lacks it); EventBridge sends the whole event.
            if let Some(o) = v.as_object_mut() {
                o.entry("account").or_insert_with(|| json!(ACCOUNT));
            }
            v
        })
        .collect()
}

/// The deployer's decisions in its results.
pub(super) fn decisions(results: &[Value]) -> Vec<Value> {
    results
        .iter()
        .flat_map(|r| r["decisions"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// One line on what a function decided.
pub(super) fn summary(binary: &str, v: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
    match binary {
        "deployer" if v.get("decisions").is_some() => decisions(std::slice::from_ref(v))
            .iter()
            .map(|d| {
                let mut line = format!(
                    "{} ({}): {}",
                    s(&d["action"]),
                    s(&d["reason"]),
                    s(&d["detail"])
                );
                if let Some(arn) = d["taskDefinitionArn"].as_str() {
                    line.push_str(&format!(" -> {}", short(arn)));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("; "),
        "deployer" => {
            let d = &v["deployment"];
            format!("deployment {} {}", s(&d["deploymentId"]), s(&d["outcome"]))
        }
        "task-watcher" => format!(
            "{} [{}]: {}",
            s(&v["cause"]),
            v["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            s(&v["detail"])
        ),
        "alarm-notifier" => format!(
            "{} {} (severity {}), published {}",
            s(&v["alarm"]),
            s(&v["state"]),
            s(&v["severity"]),
            v["published"]
        ),
        "weekly-account" => format!(
            "the week ending {}: {} deploys completed, {} stops, {} service-hours asleep",
            s(&v["weekEnding"]),
            v["thisWeek"]["completed"],
            v["thisWeek"]["stops"],
            v["thisWeek"]["serviceHoursAsleep"]
        ),
        _ => v["services"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                format!(
                    "{} {} ({})",
                    s(&x["service"]),
                    s(&x["action"]),
                    s(&x["reason"])
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// A chat message as a person reads it in the channel.
pub(super) fn chat_lines(n: &Value) -> Vec<String> {
    let mut lines = vec![format!(
        "chat | {}",
        n["content"]["title"].as_str().unwrap_or("?")
    )];
    for line in n["content"]["description"].as_str().unwrap_or("").lines() {
        lines.push(format!("     | {line}"));
    }
    for step in n["content"]["nextSteps"].as_array().into_iter().flatten() {
        lines.push(format!("     | - {}", step.as_str().unwrap_or("")));
    }
    lines.push(format!(
        "     | (thread {})",
        n["metadata"]["threadId"].as_str().unwrap_or("?")
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn the_schedule_fires_on_quarter_hours_only() {
        let e = "cron(0/15 * * * ? *)";
        assert!(cron_fires(e, at("2026-11-27T19:00:00Z")));
        assert!(cron_fires(e, at("2026-11-27T21:45:00Z")));
        assert!(!cron_fires(e, at("2026-11-27T19:05:00Z")));
        assert!(!cron_fires("cron(0 8 * * ? *)", at("2026-11-27T19:00:00Z")));
        assert!(!cron_fires("rate(15 minutes)", at("2026-11-27T19:00:00Z")));
    }

    #[test]
    fn the_night_skips_weekends() {
        // Friday: tonight, then Monday morning.
        let (evening, late, morning) = the_night(at("2026-11-27T10:00:00Z"));
        assert_eq!(rfc3339(evening), "2026-11-27T19:00:00Z");
        assert_eq!(rfc3339(late), "2026-11-27T21:00:00Z");
        assert_eq!(rfc3339(morning), "2026-11-30T07:00:00Z");
        // Saturday: Monday evening, Tuesday morning.
        let (evening, _, morning) = the_night(at("2026-11-28T10:00:00Z"));
        assert_eq!(rfc3339(evening), "2026-11-30T19:00:00Z");
        assert_eq!(rfc3339(morning), "2026-12-01T07:00:00Z");
    }
}
