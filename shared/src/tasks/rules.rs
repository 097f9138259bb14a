//! The task-watcher's decisions that depend on state: is this stop part of a crash loop, and may
//! a stopped standalone task run again. Pure: no I/O, the clock is an argument.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::classify::{classify, Cause};
use super::config::{CrashLoopAction, RestartNetwork, TaskWatcherConfig};
use crate::events::EcsTaskStateChange;
use crate::tags;

/// What the task-watcher did about a stop, as the invocation's result lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Alert,
    CrashLoop,
    ScaleToZero,
    Restart,
    Ignore,
}

/// The crash-loop alert of a service that is still inside its quiet window: `(alerted at,
/// quiet until)`. A damaged or future stamp is no reason to stay quiet.
pub fn quiet_until(
    alerted_at: Option<&str>,
    window: Duration,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let at = DateTime::parse_from_rfc3339(alerted_at?)
        .ok()?
        .with_timezone(&Utc);
    (now >= at && now - at < window).then_some((at, at + window))
}

/// What a failing stop of a service task makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrashLoop {
    /// Fewer failing stops than the threshold in the window: alert this stop alone.
    Alert,
    /// A crash loop: the failing stops counted by cause; remember it, alert once, and scale
    /// the service to zero when that is the configured action and it runs tasks.
    Loop {
        counts: BTreeMap<Cause, usize>,
        scale_to_zero: bool,
    },
}

/// Counts the service's failing stops inside the window, this one included with its own
/// (richer) classification; `stopped` are the service's recently stopped tasks as ECS lists them.
pub fn crash_loop(
    this: &EcsTaskStateChange,
    this_cause: Cause,
    stopped: &[EcsTaskStateChange],
    desired: i32,
    config: &TaskWatcherConfig,
    now: DateTime<Utc>,
) -> CrashLoop {
    let window = Duration::minutes(i64::from(config.crash_loop_window_minutes));
    let mut counts: BTreeMap<Cause, usize> = BTreeMap::from([(this_cause, 1)]);
    for task in stopped {
        if task.task_arn == this.task_arn || task.stopped_at.is_some_and(|at| now - at > window) {
            continue;
        }
        let cause = classify(task).cause;
        if cause.is_failure() {
            *counts.entry(cause).or_default() += 1;
        }
    }
    if counts.values().sum::<usize>() < config.crash_loop_threshold as usize {
        return CrashLoop::Alert;
    }
    let scale = config.crash_loop_action == CrashLoopAction::ScaleToZero;
    CrashLoop::Loop {
        counts,
        scale_to_zero: scale && desired > 0,
    }
}

/// When the crash-loop alert would have gone out, had this not been a dry run: a dry run writes
/// no `autopilot:crash-loop-alerted-at`, so it replays the real decision over the service's
/// failing stops that ECS still lists, in time order (this one, at `now`, last): a stop that
/// brings the count in the window to the threshold alerts, and the stops inside the following
/// window stay quiet. Deterministic over the same list, so concurrent invocations agree on which
/// stop speaks, and a dry run says a loop once per window as the real run would.
pub fn replayed_alert(
    this: &EcsTaskStateChange,
    this_cause: Cause,
    stopped: &[EcsTaskStateChange],
    config: &TaskWatcherConfig,
    now: DateTime<Utc>,
) -> Option<ReplayedAlert> {
    let window = Duration::minutes(i64::from(config.crash_loop_window_minutes));
    let mut times: Vec<DateTime<Utc>> = stopped
        .iter()
        .filter(|t| t.task_arn != this.task_arn && classify(t).cause.is_failure())
        .map(|t| t.stopped_at.unwrap_or(now).min(now))
        .collect();
    times.sort();
    if this_cause.is_failure() {
        times.push(now);
    }
    let mut alerted: Option<ReplayedAlert> = None;
    for (i, &t) in times.iter().enumerate() {
        if alerted.is_some_and(|a| t - a.at < window) {
            continue;
        }
        let in_window = times[..=i].iter().filter(|&&s| t - s <= window).count();
        if in_window >= config.crash_loop_threshold as usize {
            alerted = Some(ReplayedAlert {
                at: t,
                by_this_stop: this_cause.is_failure() && i + 1 == times.len(),
            });
        }
    }
    alerted
}

/// The last crash-loop alert a replay finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayedAlert {
    pub at: DateTime<Utc>,
    /// This stop is the one that alerts.
    pub by_this_stop: bool,
}

/// Whether a stopped standalone task runs again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Restart<'a> {
    /// It did not opt in (tag `autopilot:restart`), or its cause is not one it opted in for.
    NotOptedIn,
    /// It opted in, but is not run again: why, for the alert.
    Refused(String),
    /// Run it again: this is attempt `attempt`, in `network`.
    Run {
        attempt: u32,
        network: &'a RestartNetwork,
    },
}

/// Who started a task the task-watcher restarted: `autopilot-task-watcher/<attempt>`. ECS keeps
/// `startedBy` in the task's own record and in its state-change events, so the attempt count
/// survives even when the stopped task no longer reports its tags. (ListTasks filters `startedBy`
/// by exact value: each attempt is one value.)
pub const STARTED_BY: &str = "autopilot-task-watcher";

/// The `startedBy` of a restart's `attempt` (at most 36 characters, as RunTask allows).
pub fn started_by(attempt: u32) -> String {
    format!("{STARTED_BY}/{attempt}")
}

/// The attempt a task's `startedBy` records, when the task-watcher started it.
fn started_by_attempt(started_by: Option<&str>) -> Option<u32> {
    started_by?
        .strip_prefix(STARTED_BY)?
        .strip_prefix('/')?
        .parse()
        .ok()
}

/// What a stopped standalone task says about restarting it.
#[derive(Clone, Copy, Debug)]
pub struct RestartOptIn<'a> {
    /// The task's own tags (empty when DescribeTasks no longer reports them).
    pub task_tags: &'a BTreeMap<String, String>,
    /// Its task definition's tags: the opt-in for every task of the revision.
    pub definition_tags: &'a BTreeMap<String, String>,
    /// Its `startedBy`, as the event reports it.
    pub started_by: Option<&'a str>,
}

/// Decides a restart from the stop's cause and the opt-in: `on-interruption` restarts after
/// a Spot interruption or an infrastructure stop, `on-failure` also after a failure; never past
/// `MAX_RESTARTS`, never without `RESTART_NETWORK`. The task's own `autopilot:restart` wins over
/// its task definition's (a run can opt out of its revision's default with `off`); the attempt
/// count is the larger of the task's `autopilot:attempt` and the one its `startedBy` records.
pub fn restart<'a>(
    cause: Cause,
    opt_in: RestartOptIn<'_>,
    config: &'a TaskWatcherConfig,
) -> Restart<'a> {
    let interrupted = matches!(cause, Cause::SpotInterruption | Cause::Infrastructure);
    let asked = opt_in
        .task_tags
        .get(tags::RESTART)
        .or_else(|| opt_in.definition_tags.get(tags::RESTART));
    let wants = match asked.map(String::as_str) {
        Some("on-interruption") => interrupted,
        Some("on-failure") => interrupted || cause.is_failure(),
        _ => false,
    };
    if !wants {
        return Restart::NotOptedIn;
    }
    let attempt: u32 = opt_in
        .task_tags
        .get(tags::ATTEMPT)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0)
        .max(started_by_attempt(opt_in.started_by).unwrap_or(0));
    if attempt >= config.max_restarts {
        return Restart::Refused(format!(
            "Not restarted: it was restarted {attempt} times already (MAX_RESTARTS = {}).",
            config.max_restarts
        ));
    }
    match &config.restart_network {
        Some(network) => Restart::Run {
            attempt: attempt + 1,
            network,
        },
        None => Restart::Refused(
            "Not restarted: RESTART_NETWORK is not set, so the watcher does not know where to run it."
                .into(),
        ),
    }
}

/// The tags a restarted task runs with: the stopped task's, with the attempt counted, without
/// the ones AWS reserves (a key or a value starting with `aws:` in any case, such as ECS's
/// managed `aws:ecs:clusterName`), which RunTask refuses.
pub fn restart_tags(
    task_tags: &BTreeMap<String, String>,
    attempt: u32,
) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = task_tags
        .iter()
        .filter(|(k, v)| !reserved(k) && !reserved(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.insert(tags::ATTEMPT.into(), attempt.to_string());
    tags
}

/// Whether AWS reserves a tag key or value: it starts with `aws:` in any case.
fn reserved(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
