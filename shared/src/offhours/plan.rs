//! What each service needs this tick. Pure: the calendar's mode, the time and the service's
//! state (its tags hold everything off-hours remembers).

use std::collections::BTreeMap;

use super::pricing::Priced;
use crate::model::price::TaskSize;
use crate::model::scaling::{resource_id, ScalableTarget};
use crate::model::service::ServiceSnapshot;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::capacity::Restore;
use crate::error::{Error, Failure};
use crate::tags::{ASLEEP_SINCE, KEEP_AWAKE_UNTIL, RESTORE, SLEEP_STARTED_AT};

/// What the calendar wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Awake,
    Asleep,
}

impl Mode {
    /// What a calendar wants at `now`.
    pub fn of(calendar: &super::calendar::Calendar, now: DateTime<Utc>) -> Mode {
        if calendar.is_awake(now) {
            Mode::Awake
        } else {
            Mode::Asleep
        }
    }
}

/// What happens to one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Sleep,
    Wake,
    None,
    Skip,
    Error,
}

/// The decision for one service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Planned {
    pub cluster: String,
    pub service: String,
    pub action: Action,
    pub reason: String,
    /// The capacity recorded (sleep) or to restore (wake).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore: Option<Restore>,
    /// Sleep only: the restore tag is already written (a tick died half-way); finish from it.
    #[serde(skip)]
    pub resume: bool,
    /// For an `error`: its code and whether the next tick may get past it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
}

/// Fills in the capacity to record of the services about to sleep, from their scalable
/// targets (`targets`, by resource id): desired count, bounds and suspended state. A service
/// resuming a sleep keeps its record. Without the bounds the record would be a guess: when they
/// could not be read, each such service waits for the next tick, as an error.
pub fn with_capacity(
    planned: &mut [(ServiceSnapshot, Planned)],
    targets: std::result::Result<&BTreeMap<String, ScalableTarget>, &Error>,
) {
    for (s, p) in planned.iter_mut() {
        if p.action != Action::Sleep || p.resume {
            continue;
        }
        match targets {
            Err(e) => {
                p.action = Action::Error;
                p.reason = format!("auto scaling bounds unreadable, retried next tick: {e}");
                p.error = Some(Failure::from(e));
            }
            Ok(targets) => {
                let t = targets.get(&resource_id(&s.cluster, &s.name));
                p.restore = Some(Restore {
                    desired: s.desired,
                    min: t.map(|t| t.min),
                    max: t.map(|t| t.max),
                    suspended: t.map(|t| t.suspended),
                });
            }
        }
    }
}

/// A service whose schedule tags cannot be used: nothing changes, awake or asleep, until they
/// are fixed (the tags are reported).
pub fn left_as_it_is(s: &ServiceSnapshot, bad: &[super::calendar::BadScheduleTag]) -> Planned {
    let tags: Vec<&str> = bad.iter().map(|b| b.tag).collect();
    Planned {
        cluster: s.cluster.clone(),
        service: s.name.clone(),
        action: Action::Skip,
        reason: format!(
            "its schedule tag {} cannot be used: left as it is until it is fixed",
            tags.join(", ")
        ),
        restore: None,
        resume: false,
        error: None,
    }
}

/// What the services put to sleep save: for each, the tasks it stopped at what one costs an
/// hour as Fargate bills it ([`super::pricing::hourly`]: `sizes` by revision, `prices` by
/// region, the compiled-in ones for a region missing), times its own `hours` asleep (a
/// fraction: Fargate bills by the second), rounded to the cent.
pub fn savings(
    planned: &[(ServiceSnapshot, Planned)],
    sizes: &BTreeMap<String, TaskSize>,
    hours: impl Fn(&ServiceSnapshot) -> f64,
    prices: &BTreeMap<String, Priced>,
) -> f64 {
    in_cents(&savings_by_service(planned, sizes, hours, prices))
}

/// The total of [`savings_by_service`], rounded to the cent.
pub fn in_cents(by_service: &BTreeMap<String, f64>) -> f64 {
    let total: f64 = by_service.values().sum();
    (total * 100.0).round() / 100.0
}

/// [`savings`] per service (`<cluster>/<service>`), not rounded: what each service put to
/// sleep saves.
pub fn savings_by_service(
    planned: &[(ServiceSnapshot, Planned)],
    sizes: &BTreeMap<String, TaskSize>,
    hours: impl Fn(&ServiceSnapshot) -> f64,
    prices: &BTreeMap<String, Priced>,
) -> BTreeMap<String, f64> {
    planned
        .iter()
        .filter(|(_, p)| p.action == Action::Sleep)
        .filter_map(|(s, p)| {
            let r = p.restore?;
            let size = sizes.get(&s.task_definition).copied().unwrap_or_default();
            let region = super::pricing::region_of(s);
            let priced = prices
                .get(region)
                .cloned()
                .unwrap_or_else(|| Priced::compiled_in(region));
            let saved = hours(s) * super::pricing::hourly(s, r.desired, &size, &priced.prices);
            Some((format!("{}/{}", s.cluster, s.name), saved))
        })
        .collect()
}

/// Decides one service.
pub fn plan(mode: Mode, now: DateTime<Utc>, s: &ServiceSnapshot) -> Planned {
    let mut p = Planned {
        cluster: s.cluster.clone(),
        service: s.name.clone(),
        action: Action::None,
        reason: String::new(),
        restore: None,
        resume: false,
        error: None,
    };
    let asleep = s.tags.contains_key(ASLEEP_SINCE);
    // off-hours' own record: a sleep begun (the capacity recorded, maybe not yet at zero), done
    // (asleep), or a wake not finished. `autopilot:asleep-since` alone is a record written
    // before `autopilot:sleep-started-at` existed.
    let ours = asleep || s.tags.contains_key(SLEEP_STARTED_AT);
    let recorded = s.tags.get(RESTORE).and_then(|t| Restore::parse(t));
    if s.status != "ACTIVE" {
        p.action = Action::Skip;
        p.reason = format!("the service is {}, not ACTIVE", s.status);
        return p;
    }
    match mode {
        Mode::Asleep if asleep && s.desired == 0 => {
            p.reason = "asleep already".into();
            p.restore = recorded;
        }
        Mode::Asleep if ours && recorded.is_some() => {
            p.action = Action::Sleep;
            p.resume = true;
            p.restore = recorded;
            p.reason = "finishing a sleep the last tick recorded but did not complete".into();
        }
        Mode::Asleep => {
            if let Some(until) = s.tags.get(KEEP_AWAKE_UNTIL) {
                match DateTime::parse_from_rfc3339(until) {
                    Ok(t) if t.with_timezone(&Utc) > now => {
                        p.action = Action::Skip;
                        p.reason = format!("kept awake until {until} ({KEEP_AWAKE_UNTIL})");
                        return p;
                    }
                    Ok(_) => {}
                    Err(_) => {
                        p.action = Action::Skip;
                        p.reason = format!("{KEEP_AWAKE_UNTIL}={until:?} is not an RFC 3339 time: kept awake to be safe");
                        return p;
                    }
                }
            }
            if !s.steady() {
                p.action = Action::Skip;
                p.reason = "a deployment is in progress: it sleeps on a later tick".into();
            } else if s.desired == 0 {
                p.reason = "already at zero, not put to sleep by off-hours: left alone".into();
            } else {
                p.action = Action::Sleep;
                p.reason = format!("outside on-hours: {} to 0", tasks(s.desired));
            }
        }
        Mode::Awake if ours => match recorded {
            Some(r) => {
                p.action = Action::Wake;
                p.restore = Some(r);
                p.reason = format!("on-hours: back to {}", tasks(r.desired));
            }
            None => {
                p.action = Action::Error;
                p.reason = format!(
                    "asleep, but the tag {RESTORE} is {}: not guessed at; set the desired count (and auto scaling bounds) by hand, then remove {ASLEEP_SINCE} and {SLEEP_STARTED_AT}",
                    match s.tags.get(RESTORE) {
                        Some(v) => format!("damaged ({v:?})"),
                        None => "missing".into(),
                    }
                );
                p.error = Some(Failure {
                    code: "RestoreTagUnreadable".into(),
                    retryable: false,
                });
            }
        },
        Mode::Awake => p.reason = "awake".into(),
    }
    // Sleeping records the capacity to restore in the service's tags, which a service with an
    // old short ARN cannot carry: say so rather than fail on TagResource.
    if p.action == Action::Sleep && !crate::model::arn::is_long_service_arn(&s.arn) {
        p.action = Action::Error;
        p.reason = format!(
            "the service has an old short ARN ({}), which cannot be tagged, and off-hours records the capacity to restore in its tags: migrate the service to the long ARN format",
            s.arn
        );
        p.error = Some(Failure {
            code: "ShortServiceArn".into(),
            retryable: false,
        });
    }
    p
}

/// `1 task`, `2 tasks`.
pub fn tasks(n: i32) -> String {
    if n == 1 {
        "1 task".into()
    } else {
        format!("{n} tasks")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags;

    fn state(desired: i32, tags: &[(&str, &str)]) -> ServiceSnapshot {
        ServiceSnapshot {
            cluster: "dev".into(),
            name: "web".into(),
            arn: "arn:aws:ecs:us-east-1:1:service/dev/web".into(),
            status: "ACTIVE".into(),
            desired,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            task_definition: "td".into(),
            ..ServiceSnapshot::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-16T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_decision_table() {
        let restore = ("autopilot:restore", "desired=2 min=2 max=10");
        let asleep = (ASLEEP_SINCE, "2026-11-16T19:00:00Z");
        let started = (SLEEP_STARTED_AT, "2026-11-16T19:00:00Z");
        let cases: Vec<(Mode, ServiceSnapshot, Action, bool)> = vec![
            (Mode::Asleep, state(2, &[]), Action::Sleep, false),
            (
                Mode::Asleep,
                state(0, &[restore, asleep]),
                Action::None,
                false,
            ),
            (
                Mode::Asleep,
                state(2, &[restore, asleep]),
                Action::Sleep,
                true,
            ),
            (Mode::Asleep, state(0, &[]), Action::None, false),
            (
                Mode::Asleep,
                state(2, &[(KEEP_AWAKE_UNTIL, "2026-11-16T23:00:00Z")]),
                Action::Skip,
                false,
            ),
            (
                Mode::Asleep,
                state(2, &[(KEEP_AWAKE_UNTIL, "2026-11-16T19:00:00Z")]),
                Action::Sleep,
                false,
            ),
            (
                Mode::Asleep,
                state(2, &[(KEEP_AWAKE_UNTIL, "tonight")]),
                Action::Skip,
                false,
            ),
            (
                Mode::Awake,
                state(0, &[restore, asleep]),
                Action::Wake,
                false,
            ),
            (Mode::Awake, state(0, &[asleep]), Action::Error, false),
            (
                Mode::Awake,
                state(0, &[("autopilot:restore", "two"), asleep]),
                Action::Error,
                false,
            ),
            (Mode::Awake, state(2, &[]), Action::None, false),
            (Mode::Awake, state(0, &[restore]), Action::None, false),
            // A sleep begun (recorded, not yet asleep), at any count: finished at night...
            (
                Mode::Asleep,
                state(2, &[restore, started]),
                Action::Sleep,
                true,
            ),
            (
                Mode::Asleep,
                state(0, &[restore, started]),
                Action::Sleep,
                true,
            ),
            // ...and undone in the morning, from the record.
            (
                Mode::Awake,
                state(2, &[restore, started]),
                Action::Wake,
                false,
            ),
            // A wake begun (asleep-since removed first): finished.
            (
                Mode::Awake,
                state(0, &[restore, started]),
                Action::Wake,
                false,
            ),
            (Mode::Awake, state(0, &[started]), Action::Error, false),
            // Asleep by the new order: the mark comes with zero tasks.
            (
                Mode::Asleep,
                state(0, &[restore, started, asleep]),
                Action::None,
                false,
            ),
            // A crash loop's record (no off-hours mark) is not off-hours' to finish or undo.
            (
                Mode::Awake,
                state(
                    0,
                    &[
                        restore,
                        (tags::CRASH_LOOP_STOPPED_AT, "2026-11-16T10:00:00Z"),
                    ],
                ),
                Action::None,
                false,
            ),
        ];
        for (mode, s, action, resume) in cases {
            let p = plan(mode, now(), &s);
            assert_eq!(
                (p.action, p.resume),
                (action, resume),
                "{mode:?} {:?}: {}",
                s.tags,
                p.reason
            );
        }
        let mut busy = state(2, &[]);
        busy.deployments = vec![crate::model::service::DeploymentSnapshot {
            status: "PRIMARY".into(),
            rollout_state: Some("IN_PROGRESS".into()),
            ..Default::default()
        }];
        assert_eq!(plan(Mode::Asleep, now(), &busy).action, Action::Skip);
        let p = plan(Mode::Awake, now(), &state(0, &[restore, asleep]));
        assert_eq!(
            p.restore,
            Some(Restore {
                desired: 2,
                min: Some(2),
                max: Some(10),
                suspended: None,
            })
        );
    }

    #[test]
    fn a_short_arn_service_is_not_put_to_sleep_and_says_why() {
        let mut s = state(2, &[]);
        s.arn = "arn:aws:ecs:us-east-1:1:service/web".into();
        let p = plan(Mode::Asleep, now(), &s);
        assert_eq!(p.action, Action::Error);
        assert!(
            p.reason
                .contains("migrate the service to the long ARN format"),
            "{}",
            p.reason
        );
        assert_eq!(p.error.map(|e| e.code), Some("ShortServiceArn".to_string()));
        // Awake, nothing is written: nothing to say.
        assert_eq!(plan(Mode::Awake, now(), &s).action, Action::None);
    }
}
