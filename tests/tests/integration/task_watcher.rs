//! The task-watcher against the local emulator.

use autopilot_core::runtime::Handler;
use autopilot_core::tasks::{CrashLoopAction, RestartNetwork, TaskWatcher, TaskWatcherConfig};
use autopilot_core::Error;
use aws_sdk_applicationautoscaling::types::ServiceNamespace;
use integration_tests::configs::ELB;
use integration_tests::{Capture, Emulator, Stack};
use serde_json::{json, Value};

async fn setup(
    configure: impl FnOnce(&mut TaskWatcherConfig, &Stack),
) -> (Emulator, Stack, TaskWatcher, Capture) {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    let (clients, capture) = stack.clients();
    // Restarts are turned on by the tests that need them.
    let mut config = TaskWatcherConfig {
        restart_network: None,
        ..stack.task_watcher_config(CrashLoopAction::Alert)
    };
    configure(&mut config, &stack);
    (emu, stack, TaskWatcher::new(clients, config), capture)
}

/// A sample event pointed at a task of the stack, stamped now.
fn event_for(stack: &Stack, sample: &str, task_arn: &str) -> Value {
    stack.stop_event(sample, task_arn)
}

#[tokio::test]
async fn an_out_of_memory_stop_is_explained_with_what_to_do() {
    let (_emu, stack, watcher, _) = setup(|_, _| {}).await;
    let task = stack
        .stopped_service_task("Essential container in task exited")
        .await;
    let result = watcher
        .handle(event_for(&stack, "out-of-memory.json", &task))
        .await
        .expect("handled");
    assert_eq!(result["cause"], "out-of-memory", "{result}");
    assert_eq!(result["actions"], json!(["alert"]));
    assert_eq!(result["service"], "web");
    let chat = stack.notifications().await;
    assert_eq!(chat.len(), 1);
    let text = format!(
        "{} {} {}",
        chat[0]["content"]["title"],
        chat[0]["content"]["description"],
        chat[0]["content"]["nextSteps"]
    );
    assert!(
        text.contains("app") && text.contains("exit code 137"),
        "{text}"
    );
    assert!(text.contains("memory"), "{text}");
    assert!(
        text.contains("cloudwatch/home") && text.contains("$252Fecs$252Fweb"),
        "a link to the log stream: {text}"
    );
    assert!(
        text.contains("web:1"),
        "the task definition revision: {text}"
    );
    assert_eq!(chat[0]["metadata"]["threadId"], stack.service_arn.as_str());
}

#[tokio::test]
async fn benign_stops_publish_nothing_and_call_nothing() {
    let (_emu, stack, watcher, _) = setup(|_, _| {}).await;
    for sample in ["scaling.json", "user-initiated.json", "completed.json"] {
        let e = event_for(&stack, sample, "arn:aws:ecs:us-east-1:123456789012:task/autopilot-demo/0123456789abcdef0123456789abcdef");
        let result = watcher.handle(e).await.expect("handled");
        assert_eq!(result["actions"], json!(["ignore"]), "{sample}: {result}");
        assert!(watcher.clients.calls.snapshot().is_empty(), "{sample}");
    }
    assert!(stack.notifications().await.is_empty());
}

#[tokio::test]
async fn three_failing_stops_give_one_crash_loop_alert_and_a_fourth_none() {
    let (_emu, stack, watcher, _) = setup(|_, _| {}).await;
    let mut actions = vec![];
    for _ in 0..4 {
        let task = stack.stopped_service_task(ELB).await;
        let result = watcher
            .handle(event_for(&stack, "elb-health-check.json", &task))
            .await
            .expect("handled");
        actions.push(result["actions"].clone());
    }
    assert_eq!(
        actions,
        [
            json!(["alert"]),
            json!(["alert"]),
            json!(["crash-loop"]),
            json!(["ignore"])
        ]
    );
    let chat = stack.notifications().await;
    let crash_loops: Vec<&Value> = chat
        .iter()
        .filter(|n| n["metadata"]["eventType"] == "crash-loop")
        .collect();
    assert_eq!(crash_loops.len(), 1, "{chat:?}");
    assert_eq!(chat.len(), 3);
    assert!(crash_loops[0]["content"]["description"]
        .as_str()
        .is_some_and(|d| d.contains("3× elb-health-check")));
    let service = stack.describe_service().await;
    assert!(service
        .tags()
        .iter()
        .any(|t| t.key() == Some("autopilot:crash-loop-alerted-at")));
    assert_eq!(
        service.desired_count(),
        2,
        "alert only: the service keeps its tasks"
    );
}

#[tokio::test]
async fn scale_to_zero_records_the_capacity_then_stops_the_service() {
    let (_emu, stack, watcher, _) =
        setup(|c, _| c.crash_loop_action = CrashLoopAction::ScaleToZero).await;
    let aas = aws_sdk_applicationautoscaling::Client::new(&stack.sdk);
    let resource = format!("service/{}/{}", stack.cluster, stack.service);
    stack.register_scalable_target(2, 10).await;
    let mut last = Value::Null;
    for _ in 0..3 {
        let task = stack.stopped_service_task(ELB).await;
        last = watcher
            .handle(event_for(&stack, "elb-health-check.json", &task))
            .await
            .expect("handled");
    }
    assert_eq!(
        last["actions"],
        json!(["crash-loop", "scale-to-zero"]),
        "{last}"
    );
    let service = stack.describe_service().await;
    let restore = service
        .tags()
        .iter()
        .find(|t| t.key() == Some("autopilot:restore"))
        .and_then(|t| t.value());
    assert_eq!(restore, Some("desired=2 min=2 max=10"));
    assert_eq!(service.desired_count(), 0);
    let target = aas
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_ids(&resource)
        .send()
        .await
        .expect("DescribeScalableTargets");
    let t = &target.scalable_targets()[0];
    assert_eq!(
        (t.min_capacity(), t.max_capacity()),
        (0, 0),
        "target tracking cannot bring it back"
    );
    // The capacity tag was written before the scale-down.
    let calls = watcher.clients.calls.snapshot();
    let tag_at = calls
        .iter()
        .rposition(|c| c == "ECS.TagResource")
        .expect("tagged");
    let scale_at = calls
        .iter()
        .position(|c| c == "ECS.UpdateService")
        .expect("scaled");
    assert!(tag_at < scale_at, "{calls:?}");
}

#[tokio::test]
async fn an_interrupted_opted_in_task_runs_again_and_one_at_the_limit_does_not() {
    let (_emu, stack, watcher, _) = setup(|c, s| {
        c.restart_network = Some(RestartNetwork {
            subnets: vec![s.subnet.clone()],
            security_groups: vec![s.security_group.clone()],
            assign_public_ip: false,
        })
    })
    .await;
    let task = stack
        .run_and_stop(
            None,
            Some("family:batch-import"),
            &[("autopilot:restart", "on-interruption"), ("team", "data")],
            1,
            "Your Spot Task was interrupted.",
        )
        .await
        .remove(0);
    let mut e = event_for(&stack, "spot-interruption.json", &task);
    e["detail"]["overrides"] = json!({"containerOverrides": [{"name": "app", "command": ["import", "--date", "2026-11-16"]}]});
    e["detail"]
        .as_object_mut()
        .map(|d| d.remove("capacityProviderName"));
    e["detail"]["launchType"] = json!("FARGATE");
    let result = watcher.handle(e).await.expect("handled");
    assert_eq!(result["actions"], json!(["restart", "alert"]), "{result}");
    let running = stack
        .ecs
        .list_tasks()
        .cluster(&stack.cluster)
        .started_by("autopilot-task-watcher/1")
        .send()
        .await
        .expect("ListTasks")
        .task_arns
        .unwrap_or_default();
    assert_eq!(running.len(), 1);
    let described = stack
        .ecs
        .describe_tasks()
        .cluster(&stack.cluster)
        .tasks(&running[0])
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .expect("DescribeTasks");
    let new_task = &described.tasks()[0];
    let tag = |k: &str| {
        new_task
            .tags()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    assert_eq!(tag("autopilot:attempt").as_deref(), Some("1"));
    assert_eq!(
        tag("team").as_deref(),
        Some("data"),
        "the task's tags are carried"
    );
    assert_eq!(new_task.group(), Some("family:batch-import"));
    let overrides = new_task
        .overrides()
        .map(|o| o.container_overrides().to_vec())
        .unwrap_or_default();
    assert_eq!(
        overrides.first().map(|o| o.command().to_vec()),
        Some(vec![
            "import".to_string(),
            "--date".into(),
            "2026-11-16".into()
        ])
    );

    // At the limit: alerted, not run again.
    let spent = stack
        .run_and_stop(
            None,
            Some("family:batch-import"),
            &[
                ("autopilot:restart", "on-interruption"),
                ("autopilot:attempt", "3"),
            ],
            1,
            "Your Spot Task was interrupted.",
        )
        .await
        .remove(0);
    let mut e = event_for(&stack, "spot-interruption.json", &spent);
    e["detail"]
        .as_object_mut()
        .map(|d| d.remove("capacityProviderName"));
    e["detail"]["launchType"] = json!("FARGATE");
    let result = watcher.handle(e).await.expect("handled");
    assert_eq!(result["actions"], json!(["alert"]), "{result}");
    assert!(
        result["detail"]
            .as_str()
            .is_some_and(|d| d.contains("MAX_RESTARTS")),
        "{result}"
    );
    let calls = watcher.clients.calls.snapshot();
    assert!(!calls.iter().any(|c| c == "ECS.RunTask"), "{calls:?}");
}

#[tokio::test]
async fn a_duplicate_event_gives_the_same_notification_id() {
    let (_emu, stack, watcher, capture) = setup(|_, _| {}).await;
    let task = stack
        .stopped_service_task("Essential container in task exited")
        .await;
    let e = event_for(&stack, "essential-container-exited.json", &task);
    let first = watcher.handle(e.clone()).await.expect("first");
    let second = watcher.handle(e).await.expect("second");
    assert_eq!(first["notificationId"], second["notificationId"]);
    let ids: Vec<Value> = capture
        .published()
        .iter()
        .map(|m| {
            serde_json::from_str::<Value>(m["default"].as_str().unwrap_or("{}")).unwrap_or_default()
                ["id"]
                .clone()
        })
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1]);
    // The task definition's log configuration was read once for both.
    let describes = watcher
        .clients
        .calls
        .snapshot()
        .iter()
        .filter(|c| *c == "ECS.DescribeTaskDefinition")
        .count();
    assert_eq!(
        describes, 0,
        "the second run used the cached log configuration"
    );
}

#[tokio::test]
async fn malformed_events_change_nothing() {
    let (_emu, stack, watcher, _) = setup(|_, _| {}).await;
    let cases = [
        json!(42),
        json!({"detail-type": "ECS Task State Change", "source": "aws.ecs"}),
        json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "detail": {"taskArn": 7}}),
        json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "detail": {"taskArn": "x", "clusterArn": "y"}}),
        json!({"detail-type": "ECR Image Action", "source": "aws.ecr", "detail": {}}),
    ];
    for e in cases {
        let err: Error = watcher.handle(e.clone()).await.expect_err("malformed");
        assert_eq!(err.error_type(), "NonRetryable", "{e}");
        assert!(watcher.clients.calls.snapshot().is_empty(), "{e}");
    }
    assert!(stack.notifications().await.is_empty());
    assert_eq!(stack.describe_service().await.desired_count(), 2);
}

#[tokio::test]
async fn with_both_its_watch_and_severity_tags_wrong_each_is_said_once_over_three_stops() {
    let (_emu, stack, watcher, _) = setup(|c, _| c.crash_loop_threshold = 10).await;
    stack
        .tag_service(&[
            (autopilot_core::tags::WATCH, "no"),
            (autopilot_core::tags::SEVERITY, "loud"),
        ])
        .await;
    for _ in 0..3 {
        let task = stack
            .stopped_service_task("Essential container in task exited")
            .await;
        let result = watcher
            .handle(event_for(&stack, "out-of-memory.json", &task))
            .await
            .expect("handled");
        assert_eq!(result["actions"], json!(["alert"]), "{result}");
    }
    let titles: Vec<String> = stack
        .notifications()
        .await
        .iter()
        .filter_map(|n| n["content"]["title"].as_str().map(str::to_string))
        .collect();
    let about = |tag: &str| {
        titles
            .iter()
            .filter(|t| t.contains(&format!("its tag {tag} is wrong")))
            .count()
    };
    assert_eq!(about(autopilot_core::tags::WATCH), 1, "{titles:?}");
    assert_eq!(about(autopilot_core::tags::SEVERITY), 1, "{titles:?}");
}
