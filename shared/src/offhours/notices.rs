//! off-hours' chat notification: one per transition (not per tick), saying which services went
//! to sleep or woke, which were skipped and why, which failed, and what the night saves. Pure.

use chrono::{DateTime, Utc};

use super::calendar::Calendar;
use super::{Action, Planned, TickReport};
use crate::capacity::Restore;
use crate::notify::{self, Notification, Severity};
use crate::tags::{KEEP_AWAKE_UNTIL, RESTORE};

/// The notification of a tick that put services to sleep, woke them, or failed on some.
pub fn transition(
    o: &TickReport,
    calendar: &Calendar,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Notification {
    let list =
        |a: Action| -> Vec<&Planned> { o.services.iter().filter(|p| p.action == a).collect() };
    let name = |p: &Planned| {
        format!(
            "{}/{}",
            crate::model::arn::cluster_name(&p.cluster),
            p.service
        )
    };
    let (slept, woke, skipped, errors) = (
        list(Action::Sleep),
        list(Action::Wake),
        list(Action::Skip),
        list(Action::Error),
    );
    let mut description = String::new();
    if !slept.is_empty() {
        description.push_str(&format!(
            "Asleep now: {}.",
            slept
                .iter()
                .map(|p| format!(
                    "{} ({})",
                    name(p),
                    super::plan::tasks(p.restore.map_or(0, |r| r.desired))
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Some(s) = o.estimated_savings {
            let next = calendar
                .next_start(now)
                .map(|t| format!(" until {}", t.format("%a %Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            description.push_str(&format!(
                "\nEstimated saving{next}: about ${s:.2} of Fargate compute."
            ));
            for line in &o.price_basis {
                description.push_str(&format!(" {line}"));
            }
        }
    }
    if !woke.is_empty() {
        description.push_str(&format!(
            "\nAwake again: {}.",
            woke.iter()
                .map(|p| format!(
                    "{} ({})",
                    name(p),
                    // The count and bounds; the suspended state comes back too, unsaid.
                    p.restore
                        .map(|r| Restore {
                            suspended: None,
                            ..r
                        }
                        .to_tag())
                        .unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for p in &skipped {
        description.push_str(&format!(
            "\nSkipped {}: {}.",
            name(p),
            notify::neutralise(&p.reason)
        ));
    }
    for p in &errors {
        description.push_str(&format!(
            "\nNeeds a look, {}: {}.",
            name(p),
            notify::neutralise(&p.reason)
        ));
    }
    let mut next_steps = vec![format!(
        "To keep a service awake tonight, tag it {KEEP_AWAKE_UNTIL}=<RFC 3339 time>, e.g. {}.",
        (now + chrono::Duration::hours(4)).format("%Y-%m-%dT%H:%M:00Z")
    )];
    if !errors.is_empty() {
        next_steps.push(format!("Failed services are retried on the next tick; a missing or damaged {RESTORE} is never guessed at."));
    }
    let severity = if errors.is_empty() {
        Severity::Info
    } else {
        Severity::Warning
    };
    let services = |n: usize| {
        if n == 1 {
            "1 service".to_string()
        } else {
            format!("{n} services")
        }
    };
    let title = match (slept.len(), woke.len(), errors.len()) {
        (s, 0, 0) => format!("Off-hours: {} asleep", services(s)),
        (0, w, 0) => format!("Off-hours: {} awake", services(w)),
        (s, w, e) => format!(
            "Off-hours: {s} asleep, {w} awake, {} to look at",
            services(e)
        ),
    };
    let description = if dry_run {
        format!(
            "Dry run (DRY_RUN=true): nothing was changed; this is what a tick would do.\n{}",
            description.trim_start()
        )
    } else {
        description.trim_start().to_string()
    };
    let mode = serde_json::to_value(o.mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Notification::new(
        format!("off-hours:{mode}:{}", o.now),
        severity,
        title,
        format!("off-hours:{}", calendar.tz.local(now).format("%Y-%m-%d")),
    )
    .describe(description)
    .event_type("off-hours")
    .next_steps(next_steps)
    .keywords(["off-hours".to_string()])
    .facts([
        ("asleep".to_string(), slept.len().to_string()),
        ("awake".to_string(), woke.len().to_string()),
        ("skipped".to_string(), skipped.len().to_string()),
        ("errors".to_string(), errors.len().to_string()),
    ])
    .dry_run(dry_run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Restore;
    use crate::offhours::calendar::parse_windows;
    use crate::offhours::Mode;

    fn report(action: Action) -> TickReport {
        TickReport {
            mode: Mode::Asleep,
            now: "2026-11-16T22:00:00Z".into(),
            services: vec![Planned {
                cluster: "dev".into(),
                service: "web".into(),
                action,
                reason: "outside on-hours: 2 tasks to 0".into(),
                restore: Some(Restore {
                    desired: 2,
                    min: Some(2),
                    max: Some(10),
                    suspended: None,
                }),
                resume: false,
                error: None,
            }],
            estimated_savings: Some(0.23),
            price_basis: vec![],
            savings_by_service: Default::default(),
            notification_id: None,
            notification_error: None,
            tag_problems: vec![],
        }
    }

    fn calendar() -> Calendar {
        Calendar {
            windows: parse_windows("Mon-Fri 07:00-19:00").expect("windows"),
            tz: crate::offhours::calendar::Zone::utc(),
            holidays: vec![],
        }
    }

    #[test]
    fn a_dry_run_says_so_and_that_nothing_changed() {
        let now = "2026-11-16T22:00:00Z".parse().expect("time");
        let real = transition(&report(Action::Sleep), &calendar(), now, false);
        assert_eq!(real.title, "Off-hours: 1 service asleep");
        assert!(
            real.description
                .starts_with("Asleep now: dev/web (2 tasks)."),
            "{}",
            real.description
        );
        let dry = transition(&report(Action::Sleep), &calendar(), now, true);
        assert_eq!(dry.title, "Off-hours: 1 service asleep [dry run]");
        assert!(
            dry.description
                .starts_with("Dry run (DRY_RUN=true): nothing was changed"),
            "{}",
            dry.description
        );
        assert_eq!(dry.id, real.id, "the same tick is the same notification");
    }

    #[test]
    fn failures_make_it_a_warning_with_what_to_do() {
        let now = "2026-11-16T22:00:00Z".parse().expect("time");
        let n = transition(&report(Action::Error), &calendar(), now, false);
        assert_eq!(n.severity, Severity::Warning);
        assert!(n.title.contains("1 service to look at"), "{}", n.title);
        assert!(
            n.next_steps.iter().any(|s| s.contains(RESTORE)),
            "{:?}",
            n.next_steps
        );
    }
}
