//! The task-watcher's crash-loop and restart decision tables.

use super::*;
use crate::events::{StopCode, TaskContainer};

const NOW: &str = "2026-11-16T10:00:00Z";

fn config(threshold: u32, action: CrashLoopAction, dry_run: bool) -> TaskWatcherConfig {
    TaskWatcherConfig {
        crash_loop_threshold: threshold,
        dry_run,
        ..crate::tasks::fake::config(action)
    }
}

fn now() -> DateTime<Utc> {
    NOW.parse().expect("time")
}

/// A stopped task of service `web`, `minutes_ago` before NOW, with a stop reason.
fn stop(id: &str, minutes_ago: i64, code: StopCode, reason: &str, exit: i64) -> EcsTaskStateChange {
    EcsTaskStateChange {
        task_arn: format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{id}"),
        cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/prod".into(),
        task_definition_arn: None,
        group: Some("service:web".into()),
        started_by: None,
        last_status: "STOPPED".into(),
        desired_status: Some("STOPPED".into()),
        stop_code: Some(code),
        stopped_reason: Some(reason.into()),
        launch_type: Some("FARGATE".into()),
        capacity_provider_name: None,
        cpu: None,
        memory: None,
        containers: vec![TaskContainer {
            name: "app".into(),
            image: None,
            image_digest: None,
            last_status: Some("STOPPED".into()),
            exit_code: Some(exit),
            reason: None,
        }],
        overrides: None,
        stopped_at: Some(now() - Duration::minutes(minutes_ago)),
        version: None,
    }
}

fn failed(id: &str, minutes_ago: i64) -> EcsTaskStateChange {
    stop(
        id,
        minutes_ago,
        StopCode::EssentialContainerExited,
        "Essential container in task exited",
        1,
    )
}

fn scaled_in(id: &str, minutes_ago: i64) -> EcsTaskStateChange {
    stop(
        id,
        minutes_ago,
        StopCode::ServiceSchedulerInitiated,
        "Scaling activity initiated by (deployment ecs-svc/1)",
        0,
    )
}

#[test]
fn the_quiet_window_runs_from_the_last_alert() {
    let window = Duration::minutes(15);
    for (alerted, quiet) in [
        (None, false),
        (Some("2026-11-16T09:50:00Z"), true),
        (Some("2026-11-16T09:45:00Z"), false), // exactly one window ago: speaks again
        (Some("2026-11-16T09:30:00Z"), false),
        (Some("2026-11-16T10:05:00Z"), false), // a stamp in the future is not trusted
        (Some("yesterday"), false),
    ] {
        let got = quiet_until(alerted, window, now());
        assert_eq!(got.is_some(), quiet, "{alerted:?}");
        if let Some((at, until)) = got {
            assert_eq!(until - at, window);
        }
    }
}

/// (recent stops, threshold, action, dry run, desired count) -> a loop, and whether it scales.
type Row = (
    Vec<EcsTaskStateChange>,
    u32,
    CrashLoopAction,
    bool,
    i32,
    Option<bool>,
);

#[test]
fn crash_loop_decision_table() {
    let this = failed("this", 0);
    let c = |t, a, d| config(t, a, d);
    use CrashLoopAction::{Alert as A, ScaleToZero as Z};
    let table: Vec<Row> = vec![
        (vec![], 3, A, false, 2, None),
        (vec![failed("a", 2)], 3, A, false, 2, None),
        (
            vec![failed("a", 2), failed("b", 5)],
            3,
            A,
            false,
            2,
            Some(false),
        ),
        (
            vec![failed("a", 2), failed("b", 5)],
            3,
            Z,
            false,
            2,
            Some(true),
        ),
        // Already at zero: nothing to scale.
        (
            vec![failed("a", 2), failed("b", 5)],
            3,
            Z,
            false,
            0,
            Some(false),
        ),
        // A dry run decides on the same capacity: at zero, it would not scale either.
        (
            vec![failed("a", 2), failed("b", 5)],
            3,
            Z,
            true,
            0,
            Some(false),
        ),
        (
            vec![failed("a", 2), failed("b", 5)],
            3,
            Z,
            true,
            2,
            Some(true),
        ),
        // Outside the window, benign stops, and this stop listed again do not count.
        (
            vec![failed("a", 2), failed("old", 16)],
            3,
            Z,
            false,
            2,
            None,
        ),
        (
            vec![failed("a", 2), scaled_in("b", 1)],
            3,
            Z,
            false,
            2,
            None,
        ),
        (
            vec![failed("a", 2), failed("this", 0)],
            3,
            Z,
            false,
            2,
            None,
        ),
        (vec![failed("a", 2)], 2, A, false, 2, Some(false)),
    ];
    for (i, (stopped, threshold, action, dry, desired, expected)) in table.into_iter().enumerate() {
        let got = crash_loop(
            &this,
            Cause::EssentialContainerExited,
            &stopped,
            desired,
            &c(threshold, action, dry),
            now(),
        );
        match (got, expected) {
            (CrashLoop::Alert, None) => {}
            (
                CrashLoop::Loop {
                    scale_to_zero,
                    counts,
                },
                Some(scale),
            ) => {
                assert_eq!(scale_to_zero, scale, "row {i}");
                assert!(
                    counts.values().sum::<usize>() >= threshold as usize,
                    "row {i}"
                );
            }
            (got, want) => panic!("row {i}: got {got:?}, expected loop {want:?}"),
        }
    }
}

#[test]
fn the_crash_loop_counts_each_cause_this_stop_with_its_own() {
    let this = failed("this", 0);
    let mut oom = failed("oom", 3);
    oom.containers[0].exit_code = Some(137);
    oom.containers[0].reason =
        Some("OutOfMemoryError: Container killed due to memory usage".into());
    let got = crash_loop(
        &this,
        Cause::OutOfMemory,
        &[failed("a", 1), oom],
        2,
        &config(3, CrashLoopAction::Alert, false),
        now(),
    );
    let CrashLoop::Loop { counts, .. } = got else {
        panic!("a crash loop: {got:?}")
    };
    assert_eq!(counts.get(&Cause::OutOfMemory), Some(&2), "{counts:?}");
    assert_eq!(
        counts.get(&Cause::EssentialContainerExited),
        Some(&1),
        "{counts:?}"
    );
}

const NONE: &BTreeMap<String, String> = &BTreeMap::new();

/// The opt-in of a task whose task definition has no tags and that nobody restarted yet.
fn only_task(task_tags: &BTreeMap<String, String>) -> RestartOptIn<'_> {
    RestartOptIn {
        task_tags,
        definition_tags: NONE,
        started_by: None,
    }
}

#[test]
fn the_task_definitions_opt_in_counts_and_the_tasks_own_wins() {
    let cfg = config(3, CrashLoopAction::Alert, false);
    let restart_tag = |v: &str| BTreeMap::from([(tags::RESTART.to_string(), v.to_string())]);
    let run = |attempt| Restart::Run {
        attempt,
        network: cfg.restart_network.as_ref().expect("network"),
    };
    let on_failure = restart_tag("on-failure");
    let on_interruption = restart_tag("on-interruption");
    let off = restart_tag("off");
    for (task_tags, definition_tags, started_by, cause, expected) in [
        // The stopped task reports no tags: the revision's opt-in holds.
        (NONE, &on_failure, None, Cause::OutOfMemory, run(1)),
        // The task's own tag wins, both ways.
        (
            &on_interruption,
            &on_failure,
            None,
            Cause::OutOfMemory,
            Restart::NotOptedIn,
        ),
        (
            &off,
            &on_failure,
            None,
            Cause::SpotInterruption,
            Restart::NotOptedIn,
        ),
        (&on_failure, &off, None, Cause::OutOfMemory, run(1)),
        // The attempt survives in startedBy when the tags do not.
        (
            NONE,
            &on_failure,
            Some("autopilot-task-watcher/2"),
            Cause::OutOfMemory,
            run(3),
        ),
        // A service's deployment id or a person's value is no attempt count.
        (
            NONE,
            &on_failure,
            Some("ecs-svc/1234567890"),
            Cause::OutOfMemory,
            run(1),
        ),
        (
            NONE,
            &on_failure,
            Some("autopilot-task-watcher/x"),
            Cause::OutOfMemory,
            run(1),
        ),
    ] {
        let opt_in = RestartOptIn {
            task_tags,
            definition_tags,
            started_by,
        };
        assert_eq!(
            restart(cause, opt_in, &cfg),
            expected,
            "{opt_in:?} {cause:?}"
        );
    }
    let at_limit = RestartOptIn {
        task_tags: NONE,
        definition_tags: &on_failure,
        started_by: Some("autopilot-task-watcher/3"),
    };
    assert!(
        matches!(restart(Cause::OutOfMemory, at_limit, &cfg), Restart::Refused(ref why) if why.contains("3 times")),
        "the startedBy attempt counts toward MAX_RESTARTS"
    );
    assert_eq!(started_by(3), "autopilot-task-watcher/3");
    assert!(
        started_by(100).len() <= 36,
        "RunTask takes 36 characters of startedBy"
    );
}

#[test]
fn restart_decision_table() {
    let cfg = config(3, CrashLoopAction::Alert, false);
    let no_network = TaskWatcherConfig {
        restart_network: None,
        ..cfg.clone()
    };
    let tagged = |restart: &str, attempt: Option<&str>| {
        let mut t = BTreeMap::from([(tags::RESTART.to_string(), restart.to_string())]);
        if let Some(a) = attempt {
            t.insert(tags::ATTEMPT.into(), a.into());
        }
        t
    };
    let run = |attempt| Restart::Run {
        attempt,
        network: cfg.restart_network.as_ref().expect("network"),
    };
    for (cause, task_tags, config, expected) in [
        (
            Cause::SpotInterruption,
            BTreeMap::new(),
            &cfg,
            Restart::NotOptedIn,
        ),
        (
            Cause::SpotInterruption,
            tagged("on-interruption", None),
            &cfg,
            run(1),
        ),
        (
            Cause::Infrastructure,
            tagged("on-interruption", Some("1")),
            &cfg,
            run(2),
        ),
        (
            Cause::OutOfMemory,
            tagged("on-interruption", None),
            &cfg,
            Restart::NotOptedIn,
        ),
        (Cause::OutOfMemory, tagged("on-failure", None), &cfg, run(1)),
        (
            Cause::SpotInterruption,
            tagged("on-failure", None),
            &cfg,
            run(1),
        ),
        (
            Cause::Completed,
            tagged("on-failure", None),
            &cfg,
            Restart::NotOptedIn,
        ),
        (
            Cause::SpotInterruption,
            tagged("always", None),
            &cfg,
            Restart::NotOptedIn,
        ),
        (
            Cause::SpotInterruption,
            tagged("on-interruption", Some("garbage")),
            &cfg,
            run(1),
        ),
    ] {
        assert_eq!(
            restart(cause, only_task(&task_tags), config),
            expected,
            "{cause:?} {task_tags:?}"
        );
    }
    let Restart::Refused(why) = restart(
        Cause::SpotInterruption,
        only_task(&tagged("on-interruption", Some("3"))),
        &cfg,
    ) else {
        panic!("refused at the limit")
    };
    assert!(why.contains("MAX_RESTARTS = 3"), "{why}");
    let Restart::Refused(why) = restart(
        Cause::SpotInterruption,
        only_task(&tagged("on-interruption", None)),
        &no_network,
    ) else {
        panic!("refused without a network")
    };
    assert!(why.contains("RESTART_NETWORK"), "{why}");
}

#[test]
fn a_restart_drops_the_keys_aws_reserves_and_counts_the_attempt() {
    let stopped = BTreeMap::from([
        ("aws:ecs:clusterName".to_string(), "prod".to_string()),
        ("AWS:ecs:serviceName".to_string(), "web".to_string()),
        ("team".to_string(), "payments".to_string()),
        ("origin".to_string(), "Aws:cloudformation".to_string()),
        (tags::RESTART.to_string(), "on-failure".to_string()),
        (tags::ATTEMPT.to_string(), "1".to_string()),
    ]);
    let tags = restart_tags(&stopped, 2);
    assert_eq!(
        tags.keys().map(String::as_str).collect::<Vec<_>>(),
        ["autopilot:attempt", "autopilot:restart", "team"]
    );
    assert_eq!(tags[tags::ATTEMPT], "2");
}

#[test]
fn a_dry_run_replays_the_alert_once_per_window() {
    let cfg = config(3, CrashLoopAction::Alert, true);
    let replay = |this: &EcsTaskStateChange, stopped: &[EcsTaskStateChange], minutes_ago: i64| {
        let at = now() - Duration::minutes(minutes_ago);
        replayed_alert(this, Cause::EssentialContainerExited, stopped, &cfg, at)
    };
    let at = |minutes_ago: i64| now() - Duration::minutes(minutes_ago);
    // Stops every 2 minutes, window 15, threshold 3: the third stop (at -10) alerts.
    let history: Vec<EcsTaskStateChange> = [14, 12, 10, 8, 6, 4, 2]
        .iter()
        .map(|m| failed(&format!("t{m}"), *m))
        .collect();
    // The stop that brings the count to the threshold speaks...
    let third = replay(&failed("t10", 10), &history[..2], 10).expect("a loop");
    assert_eq!((third.at, third.by_this_stop), (at(10), true));
    // ...and the ones after it, inside its window, stay quiet, whatever order they are read in.
    let mut later = history[..6].to_vec();
    later.reverse();
    let quiet = replay(&failed("t2", 2), &later, 2).expect("a loop");
    assert_eq!((quiet.at, quiet.by_this_stop), (at(10), false));
    // Below the threshold nothing was alerted.
    assert_eq!(replay(&failed("t12", 12), &history[..1], 12), None);
    // A window after the alert, a stop that still makes a loop alerts again.
    let cfg5 = TaskWatcherConfig {
        crash_loop_window_minutes: 5,
        ..cfg.clone()
    };
    let again = replayed_alert(
        &failed("t2", 2),
        Cause::EssentialContainerExited,
        &history[..6],
        &cfg5,
        at(2),
    )
    .expect("a loop");
    // t10 alerts (t14, t12, t10 are within 5 minutes), t8..t6 are quiet, t4 is 6 minutes on
    // and alerts again (t8, t6, t4), and t2 is inside that window.
    assert_eq!((again.at, again.by_this_stop), (at(4), false));
    // A benign stop never speaks for the loop.
    let benign = replayed_alert(&scaled_in("s", 0), Cause::Scaling, &history, &cfg, now())
        .expect("the history was a loop");
    assert!(!benign.by_this_stop);
}
