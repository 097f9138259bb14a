//! The whole decision about a stop, as a table: which read each step asks for, in order, and
//! what the plan finally does. No AWS, not even a fake: the facts are given.

use serde_json::Value;

use super::*;
use crate::model::revision::{AwsLogs, RevisionFacts};
use crate::tasks::config::CrashLoopAction;

fn config(action: CrashLoopAction, dry_run: bool) -> TaskWatcherConfig {
    TaskWatcherConfig {
        dry_run,
        ..crate::tasks::fake::config(action)
    }
}

const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/autopilot-demo/web";

fn event(json: &str) -> Event<EcsTaskStateChange> {
    let v: Value = serde_json::from_str(json).expect("sample JSON");
    super::super::parse(v).expect("sample parses")
}

fn health_check_stop() -> Event<EcsTaskStateChange> {
    event(include_str!(
        "../../../events/task-watcher/elb-health-check.json"
    ))
}

fn now(ev: &Event<EcsTaskStateChange>) -> DateTime<Utc> {
    ev.time.expect("the sample has a time")
}

fn web(tags: &[(&str, &str)]) -> ServiceSnapshot {
    ServiceSnapshot {
        cluster: "autopilot-demo".into(),
        name: "web".into(),
        arn: SERVICE_ARN.into(),
        status: "ACTIVE".into(),
        desired: 2,
        tags: crate::testing::tags(tags),
        ..ServiceSnapshot::default()
    }
}

/// Two earlier failing stops of the service, inside the window.
fn two_earlier_failures(ev: &Event<EcsTaskStateChange>) -> Vec<EcsTaskStateChange> {
    ["a1", "a2"]
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut t = ev.detail.clone();
            t.task_arn = format!("arn:aws:ecs:us-east-1:123456789012:task/autopilot-demo/{id}");
            t.stopped_at = Some(now(ev) - Duration::minutes(2 + i as i64));
            t
        })
        .collect()
}

fn revision() -> RevisionFacts {
    RevisionFacts {
        logs: vec![AwsLogs {
            container: "app".into(),
            group: "/ecs/web".into(),
            region: "us-east-1".into(),
            prefix: Some("ecs".into()),
        }],
        tags: BTreeMap::new(),
    }
}

/// Plays the decision through, answering each read from `answer`; returns the reads asked
/// for, in order, and the plan.
fn play(
    ev: &Event<EcsTaskStateChange>,
    config: &TaskWatcherConfig,
    answer: impl Fn(&Read, &mut Facts),
) -> (Vec<Read>, Plan) {
    let mut facts = Facts::default();
    let mut reads = vec![];
    for _ in 0..10 {
        match plan(ev, &facts, config, now(ev)) {
            Step::Act(plan) => return (reads, *plan),
            Step::Read(read) => {
                assert!(!reads.contains(&read), "{read:?} asked for twice");
                answer(&read, &mut facts);
                reads.push(read);
            }
        }
    }
    panic!("no plan after 10 reads: {reads:?}");
}

#[test]
fn a_benign_stop_is_decided_without_a_read() {
    let ev = event(include_str!("../../../events/task-watcher/scaling.json"));
    let (reads, plan) = play(&ev, &config(CrashLoopAction::Alert, false), |_, _| {});
    assert_eq!(reads, vec![]);
    assert_eq!(plan.act, Act::Nothing);
    assert_eq!(plan.report.actions, vec![Action::Ignore]);
}

#[test]
fn a_crash_loop_asks_for_the_service_then_its_stops_then_its_capacity() {
    let ev = health_check_stop();
    let earlier = two_earlier_failures(&ev);
    let (reads, plan) = play(
        &ev,
        &config(CrashLoopAction::ScaleToZero, false),
        |r, f| match r {
            Read::Service(_) => f.service = Some(Some(web(&[]))),
            Read::RecentStops(_) => f.recent_stops = Some(earlier.clone()),
            Read::Capacity(_) => {
                f.capacity = Some(Restore {
                    desired: 2,
                    min: Some(2),
                    max: Some(10),
                    suspended: None,
                })
            }
            other => panic!("a crash loop needs no {other:?}"),
        },
    );
    assert_eq!(
        reads,
        vec![
            Read::Service("web".into()),
            Read::RecentStops("web".into()),
            Read::Capacity(Box::new(web(&[]))),
        ]
    );
    let Act::CrashLoop {
        apply, tags, scale, ..
    } = &plan.act
    else {
        panic!("not a crash loop: {:?}", plan.act);
    };
    assert!(apply);
    assert_eq!(
        scale.map(|r| r.to_tag()).as_deref(),
        Some("desired=2 min=2 max=10")
    );
    assert_eq!(
        tags.get(crate::tags::RESTORE).map(String::as_str),
        Some("desired=2 min=2 max=10")
    );
    assert_eq!(
        plan.report.actions,
        vec![Action::CrashLoop, Action::ScaleToZero]
    );
    assert_eq!(plan.report.severity, Severity::Critical);
}

#[test]
fn inside_the_quiet_window_the_stops_are_never_asked_for() {
    let ev = health_check_stop();
    let alerted = (now(&ev) - Duration::minutes(3)).to_rfc3339();
    let service = web(&[(crate::tags::CRASH_LOOP_ALERTED_AT, alerted.as_str())]);
    let (reads, plan) = play(&ev, &config(CrashLoopAction::ScaleToZero, false), |r, f| {
        if let Read::Service(_) = r {
            f.service = Some(Some(service.clone()));
        }
    });
    assert_eq!(reads, vec![Read::Service("web".into())]);
    assert_eq!(plan.act, Act::Nothing);
    assert!(
        plan.report.detail.contains("quiet until"),
        "{}",
        plan.report.detail
    );
}

#[test]
fn below_the_threshold_the_alert_asks_for_the_revision_and_links_the_logs() {
    let ev = health_check_stop();
    let td = ev
        .detail
        .task_definition_arn
        .clone()
        .expect("sample has one");
    let (reads, plan) = play(
        &ev,
        &config(CrashLoopAction::ScaleToZero, false),
        |r, f| match r {
            Read::Service(_) => f.service = Some(Some(web(&[]))),
            Read::RecentStops(_) => f.recent_stops = Some(vec![]),
            Read::Revision(_) => f.revision = Some(Ok(revision())),
            other => panic!("an alert needs no {other:?}"),
        },
    );
    assert_eq!(
        reads,
        vec![
            Read::Service("web".into()),
            Read::RecentStops("web".into()),
            Read::Revision(td),
        ]
    );
    let Act::Publish { notice } = &plan.act else {
        panic!("not an alert: {:?}", plan.act);
    };
    assert!(
        notice.description.contains("app logs"),
        "{}",
        notice.description
    );
    assert_eq!(notice.thread_id, SERVICE_ARN);
    assert_eq!(plan.report.notification_id.as_ref(), Some(&notice.id));
}

#[test]
fn a_standalone_task_whose_revision_cannot_be_read_is_alerted_with_what_was_not_checked() {
    let ev = event(include_str!(
        "../../../events/task-watcher/spot-interruption.json"
    ));
    let (reads, plan) = play(
        &ev,
        &config(CrashLoopAction::Alert, false),
        |r, f| match r {
            Read::OptIn => {
                f.task_tags = Some(BTreeMap::new());
                f.revision = Some(Err("AccessDenied".into()));
            }
            other => panic!("a standalone stop needs no {other:?}"),
        },
    );
    // The opt-in read brought the revision's answer: the alert does not ask for it again.
    assert_eq!(reads, vec![Read::OptIn]);
    let Act::Publish { notice } = &plan.act else {
        panic!("not an alert: {:?}", plan.act);
    };
    assert_eq!(notice.severity, Severity::Critical);
    assert!(
        notice
            .description
            .contains("Its task definition could not be read (AccessDenied)"),
        "{}",
        notice.description
    );
}

#[test]
fn an_opted_in_task_is_run_again_except_in_a_dry_run() {
    let ev = event(include_str!(
        "../../../events/task-watcher/spot-interruption.json"
    ));
    let opted_in = |_: &Read, f: &mut Facts| {
        f.task_tags = Some(crate::testing::tags(&[(
            crate::tags::RESTART,
            "on-interruption",
        )]));
        f.revision = Some(Ok(revision()));
    };
    for dry_run in [false, true] {
        let (_, plan) = play(&ev, &config(CrashLoopAction::Alert, dry_run), opted_in);
        let Act::Restart { run, attempt, .. } = &plan.act else {
            panic!("not a restart: {:?}", plan.act);
        };
        assert_eq!(*attempt, 1);
        assert_eq!(run.is_none(), dry_run, "dry run {dry_run}");
        assert_eq!(plan.report.actions, vec![Action::Restart, Action::Alert]);
    }
}
