//! What is wrong with the `autopilot:` tags a service carries (`autopilot:deploy`,
//! `autopilot:watch`, `autopilot:severity`..., see [`crate::tags`]): found by pure checks, said
//! per service and once ([`announce`]), never fatal for the other services.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::notify::{neutralise, Notification, Severity};
use crate::tags;

/// What is wrong with one of a service's tags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagProblem {
    pub service_arn: String,
    /// The tag whose value is wrong.
    pub tag: String,
    pub value: String,
    pub problem: String,
    /// Whether chat already heard of this mistake (remembered in a tag of the service).
    pub reported: bool,
}

impl TagProblem {
    /// What is remembered on the service once it was said in chat: `<tag>=<value>`, which ECS
    /// accepts as a tag value (the value already was one).
    pub fn fingerprint(&self) -> String {
        let f = format!("{}={}", self.tag, self.value);
        f.chars().take(256).collect()
    }
}

/// Where the task-watcher remembers a problem of `tag` once said: one memory tag per watched
/// tag (`autopilot:watch-tag-problem`, `autopilot:severity-tag-problem`), so that with both
/// wrong neither overwrites the other.
pub fn watcher_memory(p: &TagProblem) -> &'static str {
    if p.tag == tags::SEVERITY {
        tags::SEVERITY_TAG_PROBLEM
    } else {
        tags::WATCH_TAG_PROBLEM
    }
}

/// The task-watcher's tags on a service whose values it cannot use: `autopilot:watch` (only
/// `off`, or `on`) and `autopilot:severity` (`critical`, `warning`, `info`). `reported` is read
/// from each one's own memory ([`watcher_memory`]; a severity problem also from
/// `autopilot:watch-tag-problem`, which once held both).
pub fn watcher_tag_problems(
    service_arn: &str,
    service_tags: &BTreeMap<String, String>,
) -> Vec<TagProblem> {
    let mut problems = vec![];
    let mut bad = |tag: &str, problem: &str| {
        problems.push(TagProblem {
            service_arn: service_arn.to_string(),
            tag: tag.to_string(),
            value: service_tags.get(tag).cloned().unwrap_or_default(),
            problem: problem.to_string(),
            reported: false,
        })
    };
    if let Some(v) = service_tags.get(tags::WATCH) {
        if !["off", "on"].contains(&v.trim().to_ascii_lowercase().as_str()) {
            bad(
                tags::WATCH,
                "must be off (or on): the task-watcher watches the service",
            );
        }
    }
    if let Some(v) = service_tags.get(tags::SEVERITY) {
        if Severity::from_tag(v).is_none() {
            bad(
                tags::SEVERITY,
                "must be critical, warning or info: the stop's own severity is used",
            );
        }
    }
    for p in &mut problems {
        let fingerprint = p.fingerprint();
        p.reported = [watcher_memory(p), tags::WATCH_TAG_PROBLEM]
            .iter()
            .any(|memory| service_tags.get(*memory) == Some(&fingerprint));
    }
    problems
}

/// Says each problem chat has not heard of yet (a notice in the service's thread, `effect`
/// saying what the function does instead), then remembers it on the service in the function's
/// own tag for it, `memory(problem)`, so the next event stays quiet about it. A dry run says it
/// and remembers nothing.
pub async fn say_once<P: crate::ports::Publish + crate::ports::TagService>(
    clients: &P,
    topic_arn: &str,
    function: &str,
    memory: fn(&TagProblem) -> &'static str,
    dry_run: bool,
    problems: &[TagProblem],
    effect: impl Fn(&TagProblem) -> String,
) -> crate::error::Result<()> {
    for p in problems.iter().filter(|p| !p.reported) {
        clients
            .publish(topic_arn, &notice(p, function, &effect(p)))
            .await?;
        if !dry_run && crate::model::arn::is_long_service_arn(&p.service_arn) {
            let tag = BTreeMap::from([(memory(p).to_string(), p.fingerprint())]);
            clients.tag_service(&p.service_arn, &tag).await?;
        }
    }
    Ok(())
}

/// A chat notice of a tag problem, in the service's thread; `effect` says what the function
/// does instead.
pub fn notice(p: &TagProblem, function: &str, effect: &str) -> Notification {
    let (cluster, service) = crate::model::arn::Arn::parse(&p.service_arn)
        .and_then(|a| a.ecs_service())
        .map_or_else(
            || ("?".to_string(), p.service_arn.clone()),
            |(c, s)| (c.to_string(), s.to_string()),
        );
    Notification::new(
        format!("tag-problem:{function}:{}:{}", p.service_arn, p.fingerprint()),
        Severity::Warning,
        format!("{cluster}/{service}: its tag {} is wrong", p.tag),
        p.service_arn.clone(),
    )
    .describe(format!(
        "`{}` = `{}`: {}. {effect}",
        p.tag,
        neutralise(&p.value),
        p.problem
    ))
    .event_type("tag-problem")
    .keywords([cluster.clone(), service.clone(), function.to_string()])
    .resources([p.service_arn.clone()])
    .facts([
        ("cluster".to_string(), cluster),
        ("service".to_string(), service),
        ("tag".to_string(), p.tag.clone()),
    ])
    .next_steps(["Fix the tag on the service (docs/fleet-mode.md, \"The tags\", lists the values). This is said once per mistake.".to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::tags as tags_of;

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/web";

    #[test]
    fn the_watchers_tags_are_checked_and_remembered_problems_are_marked_reported() {
        assert!(watcher_tag_problems(
            ARN,
            &tags_of(&[(tags::WATCH, "OFF"), (tags::SEVERITY, "Critical")])
        )
        .is_empty());
        let p = watcher_tag_problems(
            ARN,
            &tags_of(&[(tags::WATCH, "no"), (tags::SEVERITY, "loud")]),
        );
        let bad: Vec<(&str, &str, bool)> = p
            .iter()
            .map(|p| (p.tag.as_str(), p.value.as_str(), p.reported))
            .collect();
        assert_eq!(
            bad,
            [(tags::WATCH, "no", false), (tags::SEVERITY, "loud", false)]
        );
        let p = watcher_tag_problems(
            ARN,
            &tags_of(&[
                (tags::SEVERITY, "loud"),
                (tags::WATCH_TAG_PROBLEM, "autopilot:severity=loud"),
            ]),
        );
        assert!(p[0].reported, "the memory both once shared still counts");
    }

    #[test]
    fn both_problems_are_remembered_each_in_its_own_tag() {
        let p = watcher_tag_problems(
            ARN,
            &tags_of(&[
                (tags::WATCH, "no"),
                (tags::SEVERITY, "loud"),
                (tags::WATCH_TAG_PROBLEM, "autopilot:watch=no"),
                (tags::SEVERITY_TAG_PROBLEM, "autopilot:severity=loud"),
            ]),
        );
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|p| p.reported), "{p:?}");
        let memories: Vec<&str> = p.iter().map(watcher_memory).collect();
        assert_eq!(
            memories,
            [tags::WATCH_TAG_PROBLEM, tags::SEVERITY_TAG_PROBLEM]
        );
    }
}
