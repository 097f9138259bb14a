//! The release `deployer` binary as Lambda runs it: a local Runtime API feeds it the sample
//! events from `events/deployer/`, against the emulator.

use std::time::Duration;

use integration_tests::{release_binary, run_function, sample_event, Emulator, FunctionRun, Stack};
use serde_json::Value;

/// Runs a release function over events, checks that it started and answered every event.
fn run_clean(
    name: &str,
    env: &[(String, String)],
    events: Vec<Value>,
    expected: usize,
) -> FunctionRun {
    let run = run_function(
        &release_binary(name),
        name,
        env,
        events,
        Duration::from_secs(60),
    );
    assert!(
        run.init_error.is_none(),
        "init failed: {:?}\n{}",
        run.init_error,
        run.output
    );
    assert_eq!(run.invocations.len(), expected, "{}", run.output);
    run
}

fn deployer_env(emu: &Emulator, stack: &Stack) -> Vec<(String, String)> {
    let mut env = emu.env();
    env.push((
        "DEPLOY_TARGETS".into(),
        format!(
            r#"[{{"repository":"web","tags":["v*","latest"],"cluster":"{}","service":"{}","container":"app"}}]"#,
            stack.cluster, stack.service
        ),
    ));
    env.push(("NOTIFY_TOPIC_ARN".into(), stack.topic_arn.clone()));
    env
}

#[tokio::test]
async fn the_release_binary_handles_the_sample_events() {
    let emu = Emulator::start();
    // The samples name cluster autopilot-demo and service web.
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    stack
        .stopped_deployment_tasks(
            "ecs-svc/1234567890123456789",
            1,
            "Essential container in task exited",
        )
        .await;
    let names = [
        "deployer/ecr-push-release-tag.json",
        "deployer/ecr-push-release-tag.json",
        "deployer/ecr-push-signature.json",
        "deployer/ecr-push-by-digest.json",
        "deployer/ecr-push-failed.json",
        "deployer/ecr-delete.json",
        "deployer/ecs-deployment-in-progress.json",
        "deployer/ecs-deployment-failed.json",
    ];
    let events: Vec<Value> = names.iter().map(|n| sample_event(n)).collect();
    let run = run_clean("deployer", &deployer_env(&emu, &stack), events, names.len());
    let reason = |i: usize| {
        run.invocations[i]
            .ok()
            .map(|v| v["decisions"][0]["reason"].clone())
    };
    assert_eq!(
        reason(0),
        Some("deployed".into()),
        "{:?}\n{}",
        run.invocations[0],
        run.output
    );
    assert_eq!(reason(1), Some("already-running".into()));
    assert_eq!(reason(2), Some("not-an-image".into()));
    assert_eq!(reason(3), Some("no-tag".into()));
    assert_eq!(reason(4), Some("not-a-successful-push".into()));
    assert_eq!(reason(5), Some("not-a-successful-push".into()));
    assert_eq!(
        run.invocations[6]
            .ok()
            .map(|v| v["deployment"]["notified"].clone()),
        Some(false.into())
    );
    let failed = run.invocations[7]
        .ok()
        .expect("the failure event is handled");
    assert_eq!(failed["deployment"]["outcome"], "failed");
    // Logs are JSON lines in Lambda, and an EMF record is printed per push.
    assert!(
        run.output
            .lines()
            .any(|l| l.contains("\"_aws\"") && l.contains("FargateAutopilot")),
        "{}",
        run.output
    );
    assert!(
        run.output.lines().filter(|l| l.starts_with('{')).count() > 3,
        "{}",
        run.output
    );
    let chat = stack.notifications().await;
    assert_eq!(chat.len(), 2, "the deploy and the failure: {chat:?}");
}

#[tokio::test]
async fn a_bad_event_is_a_non_retryable_error_and_init_makes_no_network_call() {
    // Nothing listens at this endpoint: had init called AWS, it would fail.
    let mut env = vec![
        (
            "AWS_ENDPOINT_URL".to_string(),
            format!(
                "http://127.0.0.1:{}",
                integration_tests::emulator::free_port()
            ),
        ),
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID".to_string(), "x".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "x".to_string()),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
    ];
    env.push((
        "DEPLOY_TARGETS".into(),
        r#"[{"repository":"web","tags":["*"],"cluster":"c","service":"s"}]"#.into(),
    ));
    env.push((
        "NOTIFY_TOPIC_ARN".into(),
        "arn:aws:sns:us-east-1:123456789012:chat".into(),
    ));
    let run = run_function(
        &release_binary("deployer"),
        "deployer",
        &env,
        vec![serde_json::json!({"detail-type": "ECR Image Action", "source": "aws.ecr"})],
        Duration::from_secs(30),
    );
    assert!(run.init_error.is_none(), "{:?}", run.init_error);
    let err = run
        .invocations
        .first()
        .and_then(|i| i.err())
        .expect("an error response");
    assert_eq!(err["errorType"], "NonRetryable", "{err}");
    assert!(
        err["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("detail")),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_variable_stops_the_function_at_init_naming_it() {
    let env = vec![(
        "DEPLOY_TARGETS".to_string(),
        r#"[{"repository":"web","tags":["*"],"cluster":"c","service":"s"}]"#.to_string(),
    )];
    let run = run_function(
        &release_binary("deployer"),
        "deployer",
        &env,
        vec![],
        Duration::from_secs(30),
    );
    let reported = format!("{:?} {}", run.init_error, run.output);
    assert!(reported.contains("NOTIFY_TOPIC_ARN"), "{reported}");
}

#[tokio::test]
async fn the_release_task_watcher_handles_the_sample_events() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    let task = stack
        .stopped_service_task("Essential container in task exited")
        .await;
    let mut oom = sample_event("task-watcher/out-of-memory.json");
    oom["detail"]["taskArn"] = task.clone().into();
    oom["detail"]["taskDefinitionArn"] = stack.task_definition.clone().into();
    let events = vec![
        oom,
        sample_event("task-watcher/scaling.json"),
        sample_event("task-watcher/completed.json"),
        serde_json::json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "detail": []}),
    ];
    let mut env = emu.env();
    env.push(("NOTIFY_TOPIC_ARN".into(), stack.topic_arn.clone()));
    let run = run_clean("task-watcher", &env, events, 4);
    let ok = |i: usize| run.invocations[i].ok().cloned().unwrap_or_default();
    assert_eq!(ok(0)["cause"], "out-of-memory", "{:?}", run.invocations[0]);
    assert_eq!(ok(0)["actions"], serde_json::json!(["alert"]));
    assert_eq!(ok(1)["actions"], serde_json::json!(["ignore"]));
    assert_eq!(ok(2)["cause"], "completed");
    let err = run.invocations[3]
        .err()
        .expect("a malformed event is an error");
    assert_eq!(err["errorType"], "NonRetryable");
    assert_eq!(stack.notifications().await.len(), 1);
}

#[tokio::test]
async fn the_release_alarm_notifier_handles_the_sample_events() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    let names = [
        "alarm-notifier/cpu-alarm.json",
        "alarm-notifier/cpu-ok.json",
        "alarm-notifier/metric-math.json",
        "alarm-notifier/anomaly-detection.json",
        "alarm-notifier/composite.json",
        "alarm-notifier/no-description.json",
        "alarm-notifier/insufficient-data.json",
    ];
    let mut events: Vec<Value> = names.iter().map(|n| sample_event(n)).collect();
    events.push(serde_json::json!({"detail-type": "CloudWatch Alarm State Change"}));
    let mut env = emu.env();
    env.push(("NOTIFY_TOPIC_ARN".into(), stack.topic_arn.clone()));
    let run = run_clean("alarm-notifier", &env, events, names.len() + 1);
    for (name, inv) in names.iter().zip(&run.invocations) {
        assert_eq!(
            inv.ok().map(|v| v["published"].clone()),
            Some(true.into()),
            "{name}: {inv:?}"
        );
    }
    assert_eq!(
        run.invocations[names.len()]
            .err()
            .map(|e| e["errorType"].clone()),
        Some("NonRetryable".into())
    );
    assert_eq!(stack.notifications().await.len(), names.len());
}

#[tokio::test]
async fn the_release_off_hours_runs_a_scheduled_tick() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    let mut env = emu.env();
    env.extend([
        ("ON_HOURS".to_string(), "Mon-Fri 07:00-19:00".to_string()),
        ("TIMEZONE".to_string(), "Europe/Berlin".to_string()),
        (
            "TARGETS".to_string(),
            r#"[{"cluster": "autopilot-demo", "service": "web"}]"#.to_string(),
        ),
        ("NOTIFY_TOPIC_ARN".to_string(), stack.topic_arn.clone()),
    ]);
    // The sample's time is Monday 23:00 in Berlin: asleep.
    let events = vec![
        sample_event("off-hours/scheduled-event.json"),
        sample_event("off-hours/scheduled-event.json"),
    ];
    let run = run_clean("off-hours", &env, events, 2);
    let first = run.invocations[0].ok().expect("first tick");
    assert_eq!(first["mode"], "asleep");
    assert_eq!(first["services"][0]["action"], "sleep", "{first}");
    let second = run.invocations[1].ok().expect("second tick");
    assert_eq!(second["services"][0]["action"], "none", "{second}");
    assert_eq!(stack.describe_service().await.desired_count(), 0);

    let bad = vec![("ON_HOURS".to_string(), "Mon-Fri 7-19".to_string())];
    let run = run_function(
        &release_binary("off-hours"),
        "off-hours",
        &bad,
        vec![],
        Duration::from_secs(30),
    );
    let reported = format!("{:?} {}", run.init_error, run.output);
    assert!(
        reported.contains("ON_HOURS") && reported.contains("Mon-Fri 7-19"),
        "{reported}"
    );
}

/// The ids a batch response reports as failed.
fn failed_ids(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The deployer behind an SQS FIFO queue: the event source mapping hands it the queued
/// EventBridge event as a message body, and it answers with the batch response.
#[tokio::test]
async fn the_release_deployer_takes_its_events_from_an_sqs_fifo_queue() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    let push = sample_event("deployer/sqs-ecr-push.json");
    let good = push["Records"][0].clone();
    let id = good["messageId"].as_str().unwrap_or_default().to_string();
    // A batch whose first message is not JSON: it fails, and the push behind it must wait.
    let mut bad = good.clone();
    bad["messageId"] = "0e5b0d46-5a1f-4d0c-9b51-6f1a7c2d3e4f".into();
    bad["body"] = "not an event".into();
    let events = vec![push, serde_json::json!({ "Records": [bad, good] })];
    let run = run_clean("deployer", &deployer_env(&emu, &stack), events, 2);

    let first = run.invocations[0].ok().expect("a batch response");
    assert_eq!(failed_ids(first), Vec::<String>::new(), "{first}");
    assert_eq!(
        first["records"][0]["result"]["decisions"][0]["reason"], "deployed",
        "{first}\n{}",
        run.output
    );
    assert_eq!(first["records"][0]["messageId"], id.as_str());

    // Nothing of the second batch was handled: the invocation fails with the first message's
    // error (so the function's Errors metric counts it), and Lambda returns both messages to
    // the queue: the push waits behind the bad message.
    let second = run.invocations[1].err().expect("an invocation error");
    assert_eq!(second["errorType"], "NonRetryable", "{second}");
    assert!(
        second["errorMessage"]
            .as_str()
            .is_some_and(|e| e.contains("0e5b0d46-5a1f-4d0c-9b51-6f1a7c2d3e4f")),
        "{second}"
    );
    assert_eq!(stack.notifications().await.len(), 1, "the deploy, once");
}

#[tokio::test]
async fn the_release_task_watcher_takes_its_events_from_an_sqs_fifo_queue() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    let task = stack
        .stopped_service_task("Essential container in task exited")
        .await;
    let mut event = sample_event("task-watcher/sqs-task-stopped.json");
    let mut stopped: Value =
        serde_json::from_str(event["Records"][0]["body"].as_str().unwrap_or_default())
            .expect("the sample's body is the stopped task's event");
    stopped["detail"]["taskArn"] = task.clone().into();
    stopped["detail"]["taskDefinitionArn"] = stack.task_definition.clone().into();
    event["Records"][0]["body"] = stopped.to_string().into();
    let mut env = emu.env();
    env.push(("NOTIFY_TOPIC_ARN".into(), stack.topic_arn.clone()));
    let run = run_clean("task-watcher", &env, vec![event], 1);
    let response = run.invocations[0].ok().expect("a batch response");
    assert_eq!(failed_ids(response), Vec::<String>::new(), "{response}");
    assert_eq!(
        response["records"][0]["result"]["cause"], "out-of-memory",
        "{response}"
    );
    assert_eq!(stack.notifications().await.len(), 1);
}

/// AWS accepts the connection and never answers: the SDK's own bounds (5 s attempts, 20 s per
/// call) would outlive a 6 s invocation. The function stops before its deadline and says which
/// call hung, instead of Lambda's bare "Task timed out".
#[tokio::test]
async fn an_invocation_stops_before_its_deadline_and_names_the_call_that_hung() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
    let port = silent.local_addr().map(|a| a.port()).expect("its port");
    std::thread::spawn(move || {
        let mut held = vec![];
        for stream in silent.incoming().flatten() {
            held.push(stream); // read nothing, answer nothing
        }
    });
    let env =
        vec![
        ("AWS_ENDPOINT_URL".to_string(), format!("http://127.0.0.1:{port}")),
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID".to_string(), "x".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "x".to_string()),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
        (
            "DEPLOY_TARGETS".to_string(),
            r#"[{"repository":"web","tags":["v*"],"cluster":"autopilot-demo","service":"web"}]"#
                .to_string(),
        ),
        (
            "NOTIFY_TOPIC_ARN".to_string(),
            "arn:aws:sns:us-east-1:123456789012:chat".to_string(),
        ),
    ];
    let started = std::time::Instant::now();
    let run = integration_tests::runtime_api::run_function_with_deadline(
        &release_binary("deployer"),
        "deployer",
        &env,
        vec![sample_event("deployer/ecr-push-release-tag.json")],
        Duration::from_secs(40),
        Duration::from_secs(6),
    );
    let err = run
        .invocations
        .first()
        .and_then(|i| i.err())
        .unwrap_or_else(|| panic!("an error response: {:?}\n{}", run.invocations, run.output));
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "answered before the deadline: {:?}",
        started.elapsed()
    );
    assert_eq!(err["errorType"], "Retryable", "{err}");
    let message = err["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("out of time")
            && message.contains("in flight: ")
            && !message.contains("in flight: no AWS call"),
        "{message}"
    );
}
