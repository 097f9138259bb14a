//! The task-watcher's chat notifications. A service's stops share the service's ARN as thread
//! id; a standalone task's share its cluster and group.

use std::collections::BTreeMap;

use super::classify::{Cause, Classification};
use crate::capacity::Restore;
use crate::events::{EcsTaskStateChange, Event};
use crate::model::arn::{ecs_service_arn, ecs_task_url};
use crate::notify::{link, neutralise, Notification, Severity};
use crate::tags;

fn where_(t: &EcsTaskStateChange) -> String {
    match t.service_name() {
        Some(s) => format!("service {}/{}", t.cluster_name(), neutralise(s)),
        None => format!(
            "{} in {}",
            neutralise(t.group.as_deref().unwrap_or("a standalone task")),
            t.cluster_name()
        ),
    }
}

fn thread(ev: &Event<EcsTaskStateChange>, service_arn: Option<&str>) -> String {
    let t = &ev.detail;
    match (service_arn.filter(|a| !a.is_empty()), t.service_name()) {
        (Some(arn), _) => arn.to_string(),
        (None, Some(s)) => ecs_service_arn(&ev.region, &ev.account, t.cluster_name(), s),
        (None, None) => format!(
            "{}/{}",
            t.cluster_arn,
            t.group.as_deref().unwrap_or("standalone")
        ),
    }
}

fn revision(t: &EcsTaskStateChange) -> String {
    t.task_definition_arn
        .as_deref()
        .and_then(|a| a.rsplit('/').next())
        .unwrap_or("unknown")
        .to_string()
}

/// The alert for one stop: what happened, each container's exit, links, what to do.
pub fn alert(
    ev: &Event<EcsTaskStateChange>,
    c: &Classification,
    service_arn: Option<&str>,
    logs: &[(String, String)],
) -> Notification {
    let t = &ev.detail;
    let region = if ev.region.is_empty() {
        "us-east-1"
    } else {
        ev.region.as_str()
    };
    let warning = t.last_status != "STOPPED";
    let mut description = format!("{}\nTask definition `{}`.", c.sentence, revision(t));
    for k in &t.containers {
        let mut line = format!("\n• {}", neutralise(&k.name));
        match k.exit_code {
            Some(code) => line.push_str(&format!(": exit code {code}")),
            None => line.push_str(": no exit code"),
        }
        if let Some(r) = &k.reason {
            line.push_str(&format!(" ({})", neutralise(r)));
        }
        description.push_str(&line);
    }
    if let Some(r) = &t.stopped_reason {
        description.push_str(&format!("\nStopped reason: {}", neutralise(r)));
    }
    let mut links = vec![link(
        &ecs_task_url(region, t.cluster_name(), t.task_id()),
        "the task",
    )];
    links.extend(
        logs.iter()
            .map(|(container, url)| link(url, &format!("{container} logs"))),
    );
    description.push_str(&format!("\nOpen {}.", links.join(", ")));
    let title = format!(
        "{}: task {} {} ({})",
        where_(t),
        short_id(t.task_id()),
        if warning {
            "is about to stop"
        } else {
            "stopped"
        },
        c.cause.code()
    );
    let mut context = BTreeMap::from([
        ("cause".to_string(), c.cause.code().to_string()),
        ("cluster".to_string(), t.cluster_name().to_string()),
        ("taskDefinition".to_string(), revision(t)),
    ]);
    if let Some(g) = &t.group {
        context.insert("group".into(), neutralise(g));
    }
    Notification::new(
        format!(
            "task-stop:{}:{}",
            t.task_arn,
            t.last_status.to_ascii_lowercase()
        ),
        c.severity,
        title,
        thread(ev, service_arn),
    )
    .describe(description)
    .event_type("task-stopped")
    .next_steps(c.next_steps.clone())
    .keywords([
        t.cluster_name().to_string(),
        c.cause.code().to_string(),
        "task-stopped".into(),
    ])
    .resources(
        [Some(t.task_arn.clone()), t.task_definition_arn.clone()]
            .into_iter()
            .flatten(),
    )
    .facts(context)
}

/// One alert for a crash loop, with the causes counted.
pub(super) fn crash_loop(
    ev: &Event<EcsTaskStateChange>,
    service_arn: &str,
    counts: &BTreeMap<Cause, usize>,
    window_minutes: u32,
    scaled: Option<Restore>,
    stamp: &str,
    dry_run: bool,
) -> Notification {
    let t = &ev.detail;
    let total: usize = counts.values().sum();
    let causes: Vec<String> = counts
        .iter()
        .map(|(c, n)| format!("{n}× {}", c.code()))
        .collect();
    let summary = format!(
        "{}: crash loop, {total} failing stops in {window_minutes} min ({})",
        where_(t),
        causes.join(", ")
    );
    let mut description = format!(
        "{summary}.\nThe latest: {}\nFurther stops stay quiet for {window_minutes} minutes.",
        super::classify::classify(t).sentence
    );
    let mut next_steps = vec![
        "Read the latest stopped task's logs; the per-stop alerts in this thread say what each cause needs.".to_string(),
        "If the last deploy started this, push the previous tag to roll back.".to_string(),
    ];
    match scaled {
        Some(r) if dry_run => description.push_str(&format!(
            "\nDry run: the service would be scaled to zero to stop the loop, its capacity recorded in the tag {} ({}).",
            tags::RESTORE,
            r.to_tag()
        )),
        Some(r) => {
            description.push_str(&format!(
                "\nThe service was scaled to zero to stop the loop; its capacity is recorded in the tag {} ({}).",
                tags::RESTORE,
                r.to_tag()
            ));
            next_steps.push(format!(
                "Once fixed, set desired count {}{} by hand and remove the tags {} and {} (off-hours only wakes what it put to sleep).",
                r.desired,
                r.min.zip(r.max).map(|(a, b)| format!(" and auto scaling {a}..{b}")).unwrap_or_default(),
                tags::RESTORE,
                tags::CRASH_LOOP_STOPPED_AT
            ));
        }
        None => next_steps.push("The service keeps retrying; set CRASH_LOOP_ACTION=scale-to-zero to stop such loops automatically.".into()),
    }
    if !crate::model::arn::is_long_service_arn(service_arn) {
        description.push_str(
            "\nThe service has an old short ARN, which ECS cannot tag: the watcher can neither remember this alert nor record the capacity to restore, so it did not scale the service (it works out from the listed stops when to speak again).",
        );
        next_steps.push("Migrate the service to the long ARN format (ECS guide: \"Migrate an Amazon ECS short service ARN to a long ARN\"); it cannot be undone.".into());
    }
    Notification::new(
        format!("crash-loop:{service_arn}:{stamp}"),
        Severity::Critical,
        format!("Crash loop in {}", where_(t)),
        service_arn,
    )
    .summary(summary)
    .describe(description)
    .event_type("crash-loop")
    .next_steps(next_steps)
    .keywords([t.cluster_name().to_string(), "crash-loop".into()])
    .resources([service_arn.to_string(), t.task_arn.clone()])
    .facts(
        counts
            .iter()
            .map(|(c, n)| (c.code().to_string(), n.to_string())),
    )
    .dry_run(dry_run)
}

/// A standalone task that was run again.
pub(super) fn restarted(
    ev: &Event<EcsTaskStateChange>,
    c: &Classification,
    new_task: Option<&str>,
    attempt: u32,
    max: u32,
    dry_run: bool,
) -> Notification {
    let t = &ev.detail;
    let mut n = alert(ev, c, None, &[])
        .retitle(format!(
            "{}: task {} restarted after {}",
            where_(t),
            short_id(t.task_id()),
            c.cause.code()
        ))
        .event_type("task-restarted")
        .dry_run(dry_run);
    n.severity = Severity::Warning;
    n.description.push_str(&format!(
        "\nRun again (attempt {attempt} of {max}){}.",
        new_task
            .map(|a| format!(" as {}", a.rsplit('/').next().unwrap_or(a)))
            .unwrap_or_default()
    ));
    if let Some(a) = new_task {
        n.related_resources.push(a.to_string());
    }
    n.additional_context
        .insert("attempt".into(), attempt.to_string());
    n
}

fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
