//! off-hours against the local emulator. moto is started with MOTO_ECS_SERVICE_RUNNING=2, so a
//! service of up to 2 tasks has a COMPLETED deployment and one of more is still rolling out.

use autopilot_core::offhours::{OffHours, OffHoursConfig, ServiceRef, TagSelection};
use autopilot_core::runtime::Handler;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use integration_tests::{Emulator, Stack};
use serde_json::{json, Value};

const NIGHT: &str = "2026-11-16T22:00:00Z"; // Monday 22:00 UTC
const MORNING: &str = "2026-11-17T08:00:00Z"; // Tuesday 08:00 UTC
const MUTATING: &[&str] = &[
    "ECS.TagResource",
    "ECS.UntagResource",
    "ECS.UpdateService",
    "Application Auto Scaling.RegisterScalableTarget",
    "CloudWatch.DisableAlarmActions",
    "CloudWatch.EnableAlarmActions",
    "CloudWatch.TagResource",
    "CloudWatch.UntagResource",
    "SNS.Publish",
];

fn tick(time: &str) -> Value {
    json!({"version": "0", "id": "tick", "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": time, "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/off-hours"], "detail": {}})
}

async fn setup(targets: &[&str]) -> (Emulator, Stack, OffHours) {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let stack = Stack::create(&emu, "dev", "web").await;
    let (clients, _) = stack.clients();
    let config = OffHoursConfig {
        targets: targets
            .iter()
            .map(|service| ServiceRef {
                cluster: stack.cluster.clone(),
                service: service.to_string(),
            })
            .collect(),
        ..stack.off_hours_config()
    };
    (emu, stack, OffHours::new(clients, config))
}

async fn alarm_enabled(stack: &Stack, name: &str) -> bool {
    let cw = aws_sdk_cloudwatch::Client::new(&stack.sdk);
    let out = cw
        .describe_alarms()
        .alarm_names(name)
        .send()
        .await
        .expect("DescribeAlarms");
    out.metric_alarms()
        .first()
        .and_then(|a| a.actions_enabled())
        .expect("alarm exists")
}

fn tag<'a>(s: &'a aws_sdk_ecs::types::Service, k: &str) -> Option<&'a str> {
    s.tags()
        .iter()
        .find(|t| t.key() == Some(k))
        .and_then(|t| t.value())
}

/// A service's failure in a tick's result: `{"code", "retryable"}`.
fn error_of<'a>(out: &'a Value, service: &str) -> &'a Value {
    out["services"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["service"] == service))
        .map_or(&Value::Null, |s| &s["error"])
}

fn action_of<'a>(out: &'a Value, service: &str) -> &'a str {
    out["services"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["service"] == service))
        .and_then(|s| s["action"].as_str())
        .unwrap_or("missing")
}

#[tokio::test]
async fn a_service_sleeps_to_zero_and_wakes_exactly_as_it_was() {
    let (_emu, stack, off) = setup(&["web"]).await;
    stack.scalable(Some((2, 10))).await;
    stack.put_cpu_alarm("web-cpu", "web", &[]).await;
    stack.put_cpu_alarm("other-cpu", "other", &[]).await;

    let night = off.handle(tick(NIGHT)).await.expect("night tick");
    assert_eq!(night["mode"], "asleep");
    assert_eq!(action_of(&night, "web"), "sleep", "{night}");
    assert_eq!(
        night["services"][0]["restore"],
        json!({"desired": 2, "min": 2, "max": 10,
               "suspended": {"dynamicIn": false, "dynamicOut": false, "scheduled": false}})
    );
    let web = stack.service_named("web").await;
    assert_eq!(web.desired_count(), 0);
    assert_eq!(stack.scalable(None).await, Some((0, 0)));
    assert_eq!(
        tag(&web, "autopilot:restore"),
        Some("desired=2 min=2 max=10 suspended=none")
    );
    assert_eq!(tag(&web, "autopilot:asleep-since"), Some(NIGHT));
    assert!(
        !alarm_enabled(&stack, "web-cpu").await,
        "the service's alarm is silenced"
    );
    assert!(
        alarm_enabled(&stack, "other-cpu").await,
        "another service's alarm is not"
    );
    // Tags first, then the scale-down.
    let calls = off.clients.calls.snapshot();
    let at = |c: &str| {
        calls
            .iter()
            .position(|x| x == c)
            .unwrap_or_else(|| panic!("{c} was not called: {calls:?}"))
    };
    assert!(
        at("ECS.TagResource") < at("Application Auto Scaling.RegisterScalableTarget"),
        "{calls:?}"
    );
    assert!(at("ECS.TagResource") < at("ECS.UpdateService"), "{calls:?}");
    assert!(
        at("CloudWatch.DisableAlarmActions") < at("ECS.UpdateService"),
        "{calls:?}"
    );
    let chat = stack.notifications().await;
    assert_eq!(chat.len(), 1);
    let text = chat[0]["content"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("dev/web (2 tasks)") && text.contains("Estimated saving"),
        "{text}"
    );
    // 2 tasks x 9 h until Tuesday 07:00 of the test's revision (ARM64, 0.25 vCPU / 1 GB, 30 GiB
    // of ephemeral storage: 10 above the free 20), at the compiled-in us-east-1 prices: the
    // emulator has no Price List, and the tick says so.
    let expected = (2.0 * 9.0 * (0.25 * 0.03238 + 1.0 * 0.00356 + 10.0 * 0.000111) * 100.0_f64)
        .round()
        / 100.0;
    assert_eq!(night["estimatedSavings"], json!(expected));
    assert!(
        text.contains("Priced from compiled-in prices of")
            && text.contains("the AWS Price List API could not be read"),
        "{text}"
    );

    let morning = off.handle(tick(MORNING)).await.expect("morning tick");
    assert_eq!(action_of(&morning, "web"), "wake", "{morning}");
    let web = stack.service_named("web").await;
    assert_eq!(web.desired_count(), 2);
    assert_eq!(stack.scalable(None).await, Some((2, 10)));
    assert_eq!(tag(&web, "autopilot:restore"), None);
    assert_eq!(tag(&web, "autopilot:asleep-since"), None);
    assert!(alarm_enabled(&stack, "web-cpu").await);
    assert_eq!(
        stack.notifications().await.len(),
        1,
        "one message per transition"
    );
}

#[tokio::test]
async fn a_second_tick_in_the_same_mode_makes_no_mutating_call() {
    let (_emu, stack, off) = setup(&["web"]).await;
    stack.scalable(Some((2, 10))).await;
    off.handle(tick(NIGHT)).await.expect("first night tick");
    for time in ["2026-11-16T22:15:00Z", "2026-11-16T22:30:00Z"] {
        let out = off.handle(tick(time)).await.expect("tick");
        assert_eq!(action_of(&out, "web"), "none", "{out}");
        let calls = off.clients.calls.snapshot();
        assert!(
            calls.iter().all(|c| !MUTATING.contains(&c.as_str())),
            "{calls:?}"
        );
        assert_eq!(
            calls,
            ["ECS.DescribeServices"],
            "one read for up to 10 services"
        );
    }
    off.handle(tick(MORNING)).await.expect("morning");
    let again = off
        .handle(tick("2026-11-17T08:15:00Z"))
        .await
        .expect("tick");
    assert_eq!(action_of(&again, "web"), "none");
    assert!(off
        .clients
        .calls
        .snapshot()
        .iter()
        .all(|c| !MUTATING.contains(&c.as_str())));
    assert_eq!(
        stack.notifications().await.len(),
        2,
        "sleep and wake, nothing for the idle ticks"
    );
}

#[tokio::test]
async fn keep_awake_and_a_deployment_in_progress_are_skipped_and_one_failure_leaves_the_others_done(
) {
    let (_emu, stack, mut off) = setup(&["web", "api", "worker", "ghost"]).await;
    stack
        .create_service(
            "api",
            1,
            &[("autopilot:keep-awake-until", "2026-11-17T02:00:00Z")],
        )
        .await;
    stack.create_service("worker", 3, &[]).await; // 3 > 2 running: still rolling out
    off.config.selection = Some(TagSelection {
        key: "autopilot:off-hours".into(),
        value: "enabled".into(),
        clusters: vec!["dev".into()],
    });
    stack
        .create_service("batch", 1, &[("autopilot:off-hours", "enabled")])
        .await;
    stack.create_service("untagged", 1, &[]).await;

    let out = off.handle(tick(NIGHT)).await.expect("tick");
    assert_eq!(action_of(&out, "web"), "sleep", "{out}");
    assert_eq!(action_of(&out, "batch"), "sleep", "selected by tag");
    assert_eq!(action_of(&out, "api"), "skip");
    assert_eq!(action_of(&out, "worker"), "skip");
    assert_eq!(action_of(&out, "ghost"), "error");
    assert_eq!(
        error_of(&out, "ghost"),
        &json!({"code": "ServiceNotFoundException", "retryable": false})
    );
    assert_eq!(
        error_of(&out, "web"),
        &Value::Null,
        "no error where none happened"
    );
    assert_eq!(action_of(&out, "untagged"), "missing", "not selected");
    assert_eq!(stack.service_named("web").await.desired_count(), 0);
    assert_eq!(stack.service_named("batch").await.desired_count(), 0);
    assert_eq!(stack.service_named("api").await.desired_count(), 1);
    assert_eq!(stack.service_named("worker").await.desired_count(), 3);
    let text = stack.notifications().await[0]["content"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        text.contains("Skipped dev/api: kept awake until")
            && text.contains("Skipped dev/worker: a deployment"),
        "{text}"
    );
    assert!(text.contains("Needs a look, dev/ghost"), "{text}");
}

#[tokio::test]
async fn a_sleep_that_died_half_way_is_finished_from_the_tags() {
    let (_emu, stack, off) = setup(&["web"]).await;
    stack.scalable(Some((2, 10))).await;
    // The last tick recorded the capacity and died before scaling.
    stack
        .tag_service(&[
            ("autopilot:restore", "desired=2 min=2 max=10"),
            ("autopilot:asleep-since", "2026-11-16T21:45:00Z"),
        ])
        .await;
    let out = off.handle(tick(NIGHT)).await.expect("tick");
    assert_eq!(action_of(&out, "web"), "sleep", "{out}");
    let web = stack.service_named("web").await;
    assert_eq!(web.desired_count(), 0);
    assert_eq!(
        tag(&web, "autopilot:asleep-since"),
        Some("2026-11-16T21:45:00Z"),
        "the first record stands"
    );
    assert_eq!(stack.scalable(None).await, Some((0, 0)));
}

#[tokio::test]
async fn a_damaged_restore_tag_is_reported_not_guessed() {
    let (_emu, stack, off) = setup(&["web"]).await;
    stack
        .ecs
        .update_service()
        .cluster(&stack.cluster)
        .service("web")
        .desired_count(0)
        .send()
        .await
        .expect("UpdateService");
    stack
        .tag_service(&[
            ("autopilot:restore", "desired=lots"),
            ("autopilot:asleep-since", "2026-11-16T19:00:00Z"),
        ])
        .await;
    // The first tick of the morning: a failure that needs a person is said once per boundary.
    let out = off
        .handle(tick("2026-11-17T07:00:00Z"))
        .await
        .expect("tick");
    assert_eq!(action_of(&out, "web"), "error", "{out}");
    assert_eq!(
        error_of(&out, "web"),
        &json!({"code": "RestoreTagUnreadable", "retryable": false})
    );
    assert_eq!(
        stack.service_named("web").await.desired_count(),
        0,
        "nothing guessed"
    );
    let chat = stack.notifications().await;
    assert!(
        chat[0]["content"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("by hand")),
        "{}",
        chat[0]
    );
}

#[tokio::test]
async fn a_bad_event_changes_nothing() {
    let (_emu, _stack, off) = setup(&["web"]).await;
    for e in [
        json!("now"),
        json!({"time": "yesterday"}),
        json!({"time": 5}),
    ] {
        let err = off.handle(e.clone()).await.expect_err("bad");
        assert_eq!(err.error_type(), "NonRetryable", "{e}");
        assert!(
            err.to_string().contains("time") || err.to_string().contains("JSON object"),
            "{e}: {err}"
        );
        assert!(off.clients.calls.snapshot().is_empty());
    }
}

async fn alarm_tag_keys(stack: &Stack, name: &str) -> Vec<String> {
    let cw = aws_sdk_cloudwatch::Client::new(&stack.sdk);
    let arn = format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}");
    cw.list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .expect("ListTagsForResource")
        .tags()
        .iter()
        .filter_map(|t| t.key().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_alarms_target_tracking_creates_are_left_to_auto_scaling_through_a_night() {
    let (_emu, stack, mut off) = setup(&["web"]).await;
    stack.scalable(Some((2, 10))).await;
    let tracking = stack
        .put_target_tracking_alarms("web", "cpu-target-tracking", "CPUUtilization")
        .await;
    // The stack scope: the role may touch only the stack's own alarms.
    let own = "web-cpu";
    stack.put_cpu_alarm(own, "web", &[]).await;
    off.config.alarm_prefix = Some("web-".into());

    let night = off.handle(tick(NIGHT)).await.expect("night tick");
    assert_eq!(action_of(&night, "web"), "sleep", "{night}");
    assert_eq!(stack.service_named("web").await.desired_count(), 0);
    assert!(
        !alarm_enabled(&stack, own).await,
        "the stack's alarm is muted"
    );
    for name in &tracking {
        assert!(alarm_enabled(&stack, name).await, "{name} stays on");
        assert!(
            alarm_tag_keys(&stack, name).await.is_empty(),
            "{name} is not tagged"
        );
    }

    let morning = off.handle(tick(MORNING)).await.expect("morning tick");
    assert_eq!(action_of(&morning, "web"), "wake", "{morning}");
    let web = stack.service_named("web").await;
    assert_eq!(web.desired_count(), 2);
    assert_eq!(tag(&web, "autopilot:asleep-since"), None);
    assert_eq!(tag(&web, "autopilot:sleep-started-at"), None);
    assert!(alarm_enabled(&stack, own).await);
    for name in &tracking {
        assert!(alarm_enabled(&stack, name).await, "{name} stays on");
        assert!(
            alarm_tag_keys(&stack, name).await.is_empty(),
            "{name} is not tagged"
        );
    }
}

async fn suspended_state(stack: &Stack, service: &str) -> (bool, bool, bool) {
    let aas = aws_sdk_applicationautoscaling::Client::new(&stack.sdk);
    let out = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(format!("service/{}/{service}", stack.cluster))
        .send()
        .await
        .expect("DescribeScalableTargets");
    let s = out
        .scalable_targets()
        .first()
        .and_then(|t| t.suspended_state());
    (
        s.and_then(|s| s.dynamic_scaling_in_suspended()) == Some(true),
        s.and_then(|s| s.dynamic_scaling_out_suspended()) == Some(true),
        s.and_then(|s| s.scheduled_scaling_suspended()) == Some(true),
    )
}

#[tokio::test]
async fn scaling_is_suspended_through_the_night_and_its_own_state_comes_back() {
    use aws_sdk_applicationautoscaling::types::SuspendedState;
    let (_emu, stack, off) = setup(&["web"]).await;
    // The team suspended scheduled scaling themselves.
    aws_sdk_applicationautoscaling::Client::new(&stack.sdk)
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(format!("service/{}/web", stack.cluster))
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(2)
        .max_capacity(10)
        .suspended_state(
            SuspendedState::builder()
                .scheduled_scaling_suspended(true)
                .build(),
        )
        .send()
        .await
        .expect("RegisterScalableTarget");

    off.handle(tick(NIGHT)).await.expect("night tick");
    assert_eq!(suspended_state(&stack, "web").await, (true, true, true));
    assert_eq!(stack.scalable(None).await, Some((0, 0)));
    assert_eq!(
        tag(&stack.service_named("web").await, "autopilot:restore"),
        Some("desired=2 min=2 max=10 suspended=scheduled")
    );

    off.handle(tick(MORNING)).await.expect("morning tick");
    assert_eq!(suspended_state(&stack, "web").await, (false, false, true));
    assert_eq!(stack.scalable(None).await, Some((2, 10)));
}

#[tokio::test]
async fn a_selection_tag_in_another_case_selects_and_a_bad_value_is_reported_once() {
    // Selection in every cluster of the account, through GetResources.
    let (_emu, stack, mut off) = setup(&[]).await;
    off.config.targets = vec![];
    off.config.selection = Some(TagSelection {
        key: "autopilot:off-hours".into(),
        value: "enabled".into(),
        clusters: vec![],
    });
    stack
        .create_service("batch", 1, &[("autopilot:off-hours", "Enabled")])
        .await;
    stack
        .create_service("api", 1, &[("autopilot:off-hours", "yes")])
        .await;

    let night = off.handle(tick(NIGHT)).await.expect("night tick");
    assert_eq!(action_of(&night, "batch"), "sleep", "{night}");
    assert_eq!(action_of(&night, "api"), "missing", "{night}");
    assert_eq!(stack.service_named("batch").await.desired_count(), 0);
    assert_eq!(stack.service_named("api").await.desired_count(), 1);
    assert_eq!(night["tagProblems"][0]["value"], "yes", "{night}");
    assert_eq!(
        tag(
            &stack.service_named("api").await,
            "autopilot:off-hours-tag-problem"
        ),
        Some("autopilot:off-hours=yes")
    );
    let said = |chat: &[Value]| {
        chat.iter()
            .filter(|n| {
                n["id"]
                    .as_str()
                    .is_some_and(|i| i.starts_with("tag-problem:off-hours:"))
            })
            .count()
    };
    assert_eq!(said(&stack.notifications().await), 1);
    let again = off
        .handle(tick("2026-11-16T22:15:00Z"))
        .await
        .expect("next tick");
    assert_eq!(again["tagProblems"][0]["reported"], true, "{again}");
    assert_eq!(said(&stack.notifications().await), 0, "said once");
}

/// Two teams on one install, each service on its own hours by tag: Berlin and San Francisco,
/// both Mon-Fri 08:00-18:00 local, over the week Europe has left summer time and the United
/// States leave it (Sunday 1 November 2026). Each tick reads both services once and changes only
/// the one whose own calendar turned; the Monday after, San Francisco wakes an hour later in UTC.
#[tokio::test]
async fn two_services_in_two_time_zones_sleep_and_wake_on_their_own_hours_across_a_dst_change() {
    let (_emu, stack, mut off) = setup(&[]).await;
    for (name, zone) in [("berlin", "Europe/Berlin"), ("sf", "America/Los_Angeles")] {
        stack
            .create_service(
                name,
                1,
                &[
                    ("autopilot:off-hours-on", "Mon-Fri 08:00-18:00"),
                    ("autopilot:off-hours-timezone", zone),
                ],
            )
            .await;
        off.config.targets.push(ServiceRef {
            cluster: stack.cluster.clone(),
            service: name.into(),
        });
    }
    // (UTC time, Berlin's desired count after the tick, San Francisco's, what happened)
    let week = [
        ("2026-10-26T07:00:00Z", 1, 0, "Mon: 08:00 CET, midnight PDT"),
        (
            "2026-10-26T15:00:00Z",
            1,
            1,
            "Mon: 16:00 in Berlin, 08:00 PDT",
        ),
        ("2026-10-26T17:00:00Z", 0, 1, "Mon: 18:00 in Berlin"),
        ("2026-10-27T01:00:00Z", 0, 0, "Mon 18:00 PDT"),
        ("2026-10-31T12:00:00Z", 0, 0, "Saturday"),
        (
            "2026-11-02T07:00:00Z",
            1,
            0,
            "Mon: 08:00 CET, Sunday 23:00 PST",
        ),
        (
            "2026-11-02T15:00:00Z",
            1,
            0,
            "Mon: 07:00 PST, no longer 08:00 PDT",
        ),
        ("2026-11-02T16:00:00Z", 1, 1, "Mon: 08:00 PST"),
    ];
    let mut before = (1, 1);
    for (at, berlin, sf, what) in week {
        let out = off.handle(tick(at)).await.expect("tick");
        let calls = off.clients.calls.snapshot();
        let count = |name: &str| calls.iter().filter(|c| c.as_str() == name).count();
        assert_eq!(
            count("ECS.DescribeServices"),
            1,
            "{at}: one read of both: {calls:?}"
        );
        let changed = usize::from(before.0 != berlin) + usize::from(before.1 != sf);
        assert_eq!(
            count("ECS.UpdateService"),
            changed,
            "{at}: only what turned: {calls:?}"
        );
        before = (berlin, sf);
        let desired = |name: &'static str| {
            let stack = &stack;
            async move { stack.service_named(name).await.desired_count() }
        };
        assert_eq!(
            (desired("berlin").await, desired("sf").await),
            (berlin, sf),
            "{at} ({what}): {out}"
        );
    }
}
