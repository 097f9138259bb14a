//! The task-watcher's whole decision about one stop, pure: no I/O, the clock is an argument.
//!
//! [`plan`] looks at the stop and at the [`Facts`] read so far, and either asks for the one read
//! it still needs ([`Step::Read`]) or returns everything to do ([`Step::Act`]): what to publish,
//! the service tags to write, the capacity change, the restart, and the invocation's report.
//! The handler reads what is asked, calls it again, and applies the plan: it decides nothing.
//! Each read is asked for only when the decision so far needs it (a benign stop costs no call;
//! a loop inside its quiet window never lists the service's stops).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::classify::{classify, Cause, Classification};
use super::config::{RestartNetwork, TaskWatcherConfig};
use super::notices;
use super::rules::{self, Action, CrashLoop, Restart, RestartOptIn};
use crate::capacity::{self, Restore};
use crate::events::{EcsTaskStateChange, Event, StopCode};
use crate::model::arn::{self, Arn};
use crate::model::revision::RevisionFacts;
use crate::model::service::ServiceSnapshot;
use crate::notify::{Notification, Severity};
use crate::tag_problems::{self as tag_problems, TagProblem};
use crate::tags::{self, CRASH_LOOP_ALERTED_AT, CRASH_LOOP_STOPPED_AT};

/// What the invocation returns: the stop, its cause, and what was done about it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StopReport {
    pub task: String,
    pub group: Option<String>,
    pub service: Option<String>,
    pub cause: &'static str,
    pub severity: Severity,
    pub actions: Vec<Action>,
    pub detail: String,
    /// The service tags written (in dry run: the ones that would have been).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "notificationId")]
    pub notification_id: Option<String>,
    /// The service's `autopilot:watch` / `autopilot:severity` values it could not use.
    #[serde(skip_serializing_if = "Vec::is_empty", rename = "tagProblems")]
    pub tag_problems: Vec<TagProblem>,
}

/// What has been read for a stop; `None` is "not read (yet)".
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The stop's service, with its tags (`Some(None)`: read, and it no longer exists).
    pub service: Option<Option<ServiceSnapshot>>,
    /// The service's recently stopped tasks, as ECS lists them.
    pub recent_stops: Option<Vec<EcsTaskStateChange>>,
    /// The service's capacity now (desired count and scalable target bounds).
    pub capacity: Option<Restore>,
    /// A standalone task's own tags.
    pub task_tags: Option<BTreeMap<String, String>>,
    /// The stop's revision (log configuration and tags), or why it could not be read.
    pub revision: Option<std::result::Result<RevisionFacts, String>>,
}

/// The one read a decision still needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Read {
    /// The service the task belongs to (DescribeServices, with tags).
    Service(String),
    /// The service's recently stopped tasks (ListTasks + DescribeTasks).
    RecentStops(String),
    /// The service's capacity now (its scalable target).
    Capacity(Box<ServiceSnapshot>),
    /// A standalone task's tags and its revision's, side by side (the restart opt-in).
    OptIn,
    /// The stop's revision (where its containers log).
    Revision(String),
}

/// A step of the decision: a read still needed, or the plan.
#[derive(Clone, Debug)]
pub enum Step {
    Read(Read),
    Act(Box<Plan>),
}

/// Everything to do about a stop.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// The report when every change applies (the applier amends it when one fails). Its
    /// `tag_problems` that chat has not heard of yet are said before the act.
    pub report: StopReport,
    /// What to change and publish.
    pub act: Act,
}

/// The changes and the notice of a plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Act {
    /// Nothing to say or change.
    Nothing,
    /// Publish this notice.
    Publish { notice: Notification },
    /// A crash loop: remember it (and the capacity to restore) in the service's tags, scale it
    /// to zero when `scale` is given, then publish `notice`; when remembering or scaling fails,
    /// publish `unapplied` instead, with the error, and report it.
    CrashLoop {
        /// The service to tag and scale (not logged: the notice's thread names it).
        #[serde(skip)]
        service: Box<ServiceSnapshot>,
        /// Write `tags` and scale (false in a dry run, or for a service that cannot be tagged).
        apply: bool,
        tags: BTreeMap<String, String>,
        scale: Option<Restore>,
        notice: Box<Notification>,
        unapplied: Box<Notification>,
    },
    /// Run a stopped standalone task again (`run` is `None` in a dry run), then publish the
    /// restart notice; when the run fails, publish `failed` (the stop's alert) with why.
    Restart {
        run: Option<RunSpec>,
        attempt: u32,
        classification: Classification,
        /// The stop's report and alert, without the restart.
        failed: Box<(StopReport, Notification)>,
    },
}

/// What a restart runs with, beyond what the stop reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSpec {
    pub attempt: u32,
    pub network: RestartNetwork,
    pub tags: BTreeMap<String, String>,
}

/// Decides what to do about a stop, from the event, what has been read, the configuration and
/// `now`; asks for a read when the decision needs one.
pub fn plan(
    ev: &Event<EcsTaskStateChange>,
    facts: &Facts,
    config: &TaskWatcherConfig,
    now: DateTime<Utc>,
) -> Step {
    let t = &ev.detail;
    let mut c = classify(t);
    let mut report = StopReport {
        task: t.task_arn.clone(),
        group: t.group.clone(),
        service: t.service_name().map(str::to_string),
        cause: c.cause.code(),
        severity: c.severity,
        actions: vec![],
        detail: c.sentence.clone(),
        tagged: BTreeMap::new(),
        notification_id: None,
        tag_problems: vec![],
    };
    // Fargate Spot's two-minute warning, sent while the task still runs: under either code.
    let spot_warning = matches!(
        t.stop_code,
        Some(StopCode::TerminationNotice | StopCode::SpotInterruption)
    );
    if t.last_status != "STOPPED" && !spot_warning {
        let detail = format!(
            "the task is {}, not stopped: nothing to explain",
            t.last_status
        );
        return ignore(report, Some(detail));
    }
    if c.cause.is_benign() {
        return ignore(report, None);
    }
    let Some(service) = t.service_name() else {
        return standalone(ev, c, facts, config, report);
    };
    // The service's tags: its opt-out, its severity, and (for a failure) its crash-loop memory.
    let Some(svc) = &facts.service else {
        return Step::Read(Read::Service(service.to_string()));
    };
    let tags = svc.as_ref().map(|s| &s.tags);
    if let Some(s) = svc {
        report.tag_problems = tag_problems::watcher_tag_problems(&s.arn, &s.tags);
    }
    if let Some(off) = tags
        .and_then(|t| t.get(tags::WATCH))
        .filter(|v| v.trim().eq_ignore_ascii_case("off"))
    {
        let detail = format!(
            "{} The service opted out: {}={off}.",
            c.sentence,
            tags::WATCH
        );
        return ignore(report, Some(detail));
    }
    if let Some(severity) = tags
        .and_then(|t| t.get(tags::SEVERITY))
        .and_then(|v| Severity::from_tag(v))
    {
        c.severity = severity;
        report.severity = severity;
    }
    match svc {
        Some(svc) if c.cause.is_failure() => failing(ev, &c, svc, facts, config, now, report),
        _ => alert(ev, &c, None, None, facts, report),
    }
}

fn ignore(mut report: StopReport, detail: Option<String>) -> Step {
    report.actions.push(Action::Ignore);
    if let Some(detail) = detail {
        report.detail = detail;
    }
    Step::Act(Box::new(Plan {
        report,
        act: Act::Nothing,
    }))
}

/// The stop's alert; a `note` (why nothing more was done) is added to it and makes it critical.
fn alert(
    ev: &Event<EcsTaskStateChange>,
    c: &Classification,
    service_arn: Option<&str>,
    note: Option<String>,
    facts: &Facts,
    report: StopReport,
) -> Step {
    match alert_notice(ev, c, service_arn, facts) {
        Err(read) => Step::Read(read),
        Ok(notice) => {
            let (report, notice) = with_note(report, notice, c, note);
            Step::Act(Box::new(Plan {
                report,
                act: Act::Publish { notice },
            }))
        }
    }
}

/// The stop's alert, with links to each container's logs: asks for the revision first.
fn alert_notice(
    ev: &Event<EcsTaskStateChange>,
    c: &Classification,
    service_arn: Option<&str>,
    facts: &Facts,
) -> Result<Notification, Read> {
    let t = &ev.detail;
    let logs = match (&t.task_definition_arn, &facts.revision) {
        (Some(td), None) => return Err(Read::Revision(td.clone())),
        (Some(_), Some(Ok(revision))) => log_links(t, revision),
        _ => vec![],
    };
    Ok(notices::alert(ev, c, service_arn, &logs))
}

/// A stop's alert and report, with `note` (why nothing more was done) added: the alert
/// becomes critical. The report lists the alert.
pub fn with_note(
    mut report: StopReport,
    mut notice: Notification,
    c: &Classification,
    note: Option<String>,
) -> (StopReport, Notification) {
    if let Some(note) = note {
        report.detail = format!("{} {note}", c.sentence);
        notice.description.push_str(&format!("\n{note}"));
        notice.severity = Severity::Critical;
    }
    report.actions.push(Action::Alert);
    report.notification_id = Some(notice.id.clone());
    (report, notice)
}

/// Console links to each container's log stream.
fn log_links(t: &EcsTaskStateChange, revision: &RevisionFacts) -> Vec<(String, String)> {
    revision
        .logs
        .iter()
        .filter_map(|l| {
            let prefix = l.prefix.as_deref()?;
            let region = if l.region.is_empty() {
                Arn::parse(&t.task_arn)?.region.to_string()
            } else {
                l.region.clone()
            };
            let stream = format!("{prefix}/{}/{}", l.container, t.task_id());
            Some((
                l.container.clone(),
                arn::log_stream_url(&region, &l.group, &stream),
            ))
        })
        .collect()
}

/// A failing stop of a service task: alerted, unless it makes (or is part of) a crash loop.
fn failing(
    ev: &Event<EcsTaskStateChange>,
    c: &Classification,
    svc: &ServiceSnapshot,
    facts: &Facts,
    config: &TaskWatcherConfig,
    now: DateTime<Utc>,
    mut report: StopReport,
) -> Step {
    let t = &ev.detail;
    let window = Duration::minutes(i64::from(config.crash_loop_window_minutes));
    let tags = &svc.tags;
    let stamp = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    let alerted = tags.get(CRASH_LOOP_ALERTED_AT).map(String::as_str);
    // The stop whose alert is remembered, delivered again (its invocation failed after
    // tagging): finish what it started instead of staying quiet about it.
    let redelivered = alerted == Some(stamp.as_str())
        && tags.get(tags::CRASH_LOOP_TASK).map(String::as_str) == Some(t.task_id());
    if let Some((at, until)) = rules::quiet_until(alerted, window, now).filter(|_| !redelivered) {
        let detail = format!(
            "{} Part of the crash loop alerted at {}: quiet until {}.",
            c.sentence,
            at.to_rfc3339(),
            until.to_rfc3339()
        );
        return ignore(report, Some(detail));
    }
    let Some(stopped) = &facts.recent_stops else {
        return Step::Read(Read::RecentStops(svc.name.clone()));
    };
    let CrashLoop::Loop {
        counts,
        scale_to_zero,
    } = rules::crash_loop(t, c.cause, stopped, svc.desired, config, now)
    else {
        return alert(ev, c, Some(&svc.arn), None, facts, report);
    };
    // A service with an old short ARN cannot be tagged: nothing can remember its alert nor
    // record its capacity, so it is decided as a dry run is, and never scaled.
    let taggable = arn::is_long_service_arn(&svc.arn);
    if config.dry_run || !taggable {
        // Nothing remembers the alert: replay the real decision over the stops, so the loop is
        // said once per window, as it would be.
        let replayed = rules::replayed_alert(t, c.cause, stopped, config, now);
        if let Some(at) = replayed.filter(|r| !r.by_this_stop).map(|r| r.at) {
            let detail = format!(
                "{} Part of the crash loop alerted at {} (replayed from the listed stops: nothing was tagged): quiet until {}.",
                c.sentence,
                at.to_rfc3339(),
                (at + window).to_rfc3339()
            );
            return ignore(report, Some(detail));
        }
    }
    // The alert is remembered before it is sent: a retry must not send a second one.
    let mut tagged = BTreeMap::from([
        (CRASH_LOOP_ALERTED_AT.to_string(), stamp.clone()),
        (tags::CRASH_LOOP_TASK.to_string(), t.task_id().to_string()),
    ]);
    // Recorded by this stop's earlier delivery: the record is the truth (the service may be
    // half scaled down already), and the scale-down is finished from it.
    let recorded_before = (redelivered && tags.get(CRASH_LOOP_STOPPED_AT) == Some(&stamp))
        .then(|| tags.get(tags::RESTORE).and_then(|r| Restore::parse(r)))
        .flatten();
    let scale = if let Some(recorded) = recorded_before {
        tagged.extend([
            (tags::RESTORE.to_string(), recorded.to_tag()),
            (CRASH_LOOP_STOPPED_AT.to_string(), stamp.clone()),
        ]);
        Some(recorded)
    } else if scale_to_zero && taggable {
        let Some(current) = facts.capacity else {
            return Step::Read(Read::Capacity(Box::new(svc.clone())));
        };
        let extra = [(CRASH_LOOP_STOPPED_AT, stamp.clone())];
        let (recorded, restore_tags) = capacity::record_plan(svc, current, &extra);
        tagged.extend(restore_tags);
        Some(recorded)
    } else {
        None
    };
    if !taggable {
        tagged.clear();
    }
    let minutes = config.crash_loop_window_minutes;
    let notice = notices::crash_loop(
        ev,
        &svc.arn,
        &counts,
        minutes,
        scale,
        &stamp,
        config.dry_run,
    );
    let mut unapplied =
        notices::crash_loop(ev, &svc.arn, &counts, minutes, None, &stamp, config.dry_run);
    unapplied.next_steps.insert(
        0,
        "Give the task-watcher's role the permission the error names (ecs:TagResource and ecs:UpdateService on the service, application-autoscaling:RegisterScalableTarget), or scale the service down by hand.".into(),
    );
    report.actions.push(Action::CrashLoop);
    if scale.is_some() {
        report.actions.push(Action::ScaleToZero);
    }
    report.severity = Severity::Critical;
    report.detail = notice.summary.clone();
    report.tagged = tagged.clone();
    report.notification_id = Some(notice.id.clone());
    Step::Act(Box::new(Plan {
        report,
        act: Act::CrashLoop {
            service: Box::new(svc.clone()),
            apply: taggable && !config.dry_run,
            tags: tagged,
            scale,
            notice: Box::new(notice),
            unapplied: Box::new(unapplied),
        },
    }))
}

/// A standalone task: run again when it opted in and the cause allows, else alerted.
fn standalone(
    ev: &Event<EcsTaskStateChange>,
    c: Classification,
    facts: &Facts,
    config: &TaskWatcherConfig,
    mut report: StopReport,
) -> Step {
    let t = &ev.detail;
    let interrupted = matches!(c.cause, Cause::SpotInterruption | Cause::Infrastructure);
    if t.last_status != "STOPPED" || !(interrupted || c.cause.is_failure()) {
        return alert(ev, &c, None, None, facts, report);
    }
    let Some(task_tags) = &facts.task_tags else {
        return Step::Read(Read::OptIn);
    };
    // The revision's tags are the opt-in of every task it runs; unreadable, the task's own tags
    // decide alone, and the alert says what was not checked.
    let no_tags = BTreeMap::new();
    let (definition_tags, unread) = match &facts.revision {
        Some(Ok(revision)) => (&revision.tags, None),
        Some(Err(e)) => (
            &no_tags,
            Some(format!(
                "Its task definition could not be read ({e}), so its {} tag was not checked.",
                tags::RESTART
            )),
        ),
        None => (&no_tags, None),
    };
    let opt_in = RestartOptIn {
        task_tags,
        definition_tags,
        started_by: t.started_by.as_deref(),
    };
    match rules::restart(c.cause, opt_in, config) {
        Restart::NotOptedIn => alert(ev, &c, None, unread, facts, report),
        Restart::Refused(why) => alert(ev, &c, None, Some(why), facts, report),
        Restart::Run { attempt, network } => {
            // Should the run fail, the stop is alerted as if it had not been restarted.
            let failed = match alert_notice(ev, &c, None, facts) {
                Ok(notice) => (report.clone(), notice),
                Err(read) => return Step::Read(read),
            };
            let run = RunSpec {
                attempt,
                network: network.clone(),
                tags: rules::restart_tags(task_tags, attempt),
            };
            report.actions.push(Action::Restart);
            report.detail = format!(
                "{} Restarted (attempt {} of {}).",
                c.sentence, attempt, config.max_restarts
            );
            report.actions.push(Action::Alert);
            Step::Act(Box::new(Plan {
                report,
                act: Act::Restart {
                    run: (!config.dry_run).then_some(run),
                    attempt,
                    classification: c,
                    failed: Box::new(failed),
                },
            }))
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
