//! The classification table over the sample events, and the parser's robustness.

use proptest::prelude::{prop_oneof, proptest, Just, ProptestConfig};
use serde_json::{json, Value};

use super::*;
use crate::aws::ecs::container_overrides;
use crate::notify::Severity;

macro_rules! sample {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../events/task-watcher/", $name)),
        )
    };
}

/// Every sample with the cause and severity it must get.
const SAMPLES: &[((&str, &str), Cause, Severity)] = &[
    (
        sample!("out-of-memory.json"),
        Cause::OutOfMemory,
        Severity::Critical,
    ),
    (
        sample!("essential-container-exited.json"),
        Cause::EssentialContainerExited,
        Severity::Critical,
    ),
    (
        sample!("elb-health-check.json"),
        Cause::ElbHealthCheck,
        Severity::Critical,
    ),
    (
        sample!("container-health-check.json"),
        Cause::ContainerHealthCheck,
        Severity::Critical,
    ),
    (
        sample!("image-pull.json"),
        Cause::ImagePull,
        Severity::Critical,
    ),
    (sample!("secrets.json"), Cause::Secrets, Severity::Critical),
    (sample!("network.json"), Cause::Network, Severity::Critical),
    (
        sample!("task-failed-to-start.json"),
        Cause::TaskFailedToStart,
        Severity::Critical,
    ),
    (
        sample!("spot-interruption.json"),
        Cause::SpotInterruption,
        Severity::Warning,
    ),
    (
        sample!("spot-termination-notice.json"),
        Cause::SpotInterruption,
        Severity::Warning,
    ),
    (
        sample!("infrastructure.json"),
        Cause::Infrastructure,
        Severity::Warning,
    ),
    (sample!("scaling.json"), Cause::Scaling, Severity::Info),
    (
        sample!("user-initiated.json"),
        Cause::UserInitiated,
        Severity::Info,
    ),
    (sample!("completed.json"), Cause::Completed, Severity::Info),
    (sample!("unknown.json"), Cause::Unknown, Severity::Warning),
    (sample!("logging.json"), Cause::Logging, Severity::Critical),
];

fn event(raw: &str) -> Event<EcsTaskStateChange> {
    parse(serde_json::from_str(raw).expect("sample is JSON")).expect("sample parses")
}

#[test]
fn every_sample_is_classified_right() {
    for ((name, raw), cause, severity) in SAMPLES {
        let c = classify(&event(raw).detail);
        assert_eq!(
            (c.cause, c.severity),
            (*cause, *severity),
            "{name}: {}",
            c.sentence
        );
        assert!(!c.sentence.is_empty(), "{name}");
        assert_eq!(
            c.next_steps.is_empty(),
            cause.is_benign(),
            "{name}: next steps only for what needs a person"
        );
    }
}

#[test]
fn every_sample_round_trips() {
    for ((name, raw), _, _) in SAMPLES {
        let original: Value = serde_json::from_str(raw).expect("JSON");
        let detail = event(raw).detail;
        let written = serde_json::to_value(&detail).expect("serialise");
        let again: EcsTaskStateChange =
            serde_json::from_value(written).expect("parse what was written");
        assert_eq!(again, detail, "{name}");
        assert_eq!(detail.task_arn, original["detail"]["taskArn"], "{name}");
        assert_eq!(
            detail.containers.len(),
            original["detail"]["containers"]
                .as_array()
                .map_or(0, Vec::len),
            "{name}"
        );
    }
}

#[test]
fn the_sentences_say_what_a_person_needs() {
    let oom = classify(&event(SAMPLES[0].0 .1).detail);
    assert!(
        oom.sentence.contains("app")
            && oom.sentence.contains("137")
            && oom.sentence.contains("512"),
        "{}",
        oom.sentence
    );
    assert!(
        oom.next_steps.iter().any(|s| s.contains("memory")),
        "{:?}",
        oom.next_steps
    );
    let exited = classify(&event(SAMPLES[1].0 .1).detail);
    assert!(
        exited.sentence.contains("app") && exited.sentence.contains("code 1"),
        "{}",
        exited.sentence
    );
    let elb = classify(&event(SAMPLES[2].0 .1).detail);
    assert!(
        elb.next_steps
            .iter()
            .any(|s| s.contains("3000") && s.contains("/api/health")),
        "{:?}",
        elb.next_steps
    );
    let pull = classify(&event(SAMPLES[4].0 .1).detail);
    assert!(
        pull.next_steps.iter().any(|s| s.contains("execution role")),
        "{:?}",
        pull.next_steps
    );
    let unknown = classify(&event(SAMPLES[14].0 .1).detail);
    assert!(
        unknown.sentence.contains("SomethingAwsAddedLater")
            && unknown.sentence.contains("never seen"),
        "{}",
        unknown.sentence
    );
}

#[test]
fn every_way_the_log_driver_fails_is_a_logging_cause() {
    let mut t = event(SAMPLES[15].0 .1).detail;
    for reason in [
        // Fargate, the group missing (the older and the newer SDK's wording).
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1",
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: operation error CloudWatch Logs: CreateLogStream, https response error StatusCode: 400, RequestID: 0c1d, ResourceNotFoundException: The specified log group does not exist.",
        // Fargate, no route to CloudWatch Logs: still the log driver, not the ENI.
        "ResourceInitializationError: failed to validate logger args: The task cannot find the Amazon CloudWatch log group defined in the task definition. There is a connection issue between the task and Amazon CloudWatch. Check your network configuration. : signal: killed",
        // The execution role may not create the group.
        "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log group: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/exec/1 is not authorized to perform: logs:CreateLogGroup",
        // The EC2 agent's wording.
        "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist.",
    ] {
        t.stopped_reason = Some(reason.into());
        let c = classify(&t);
        assert_eq!(c.cause, Cause::Logging, "{reason}");
        assert!(
            c.next_steps.iter().any(|s| s.contains("logs:CreateLogStream")),
            "{:?}",
            c.next_steps
        );
    }
    // An ENI failure that happens to mention networking is still a network cause.
    t.stopped_reason = Some(
        "ResourceInitializationError: unable to create new container: failed to allocate ENI"
            .into(),
    );
    assert_eq!(classify(&t).cause, Cause::Network);
}

#[test]
fn failures_count_towards_crash_loops_and_interruptions_do_not() {
    assert!(
        Cause::OutOfMemory.is_failure()
            && Cause::ImagePull.is_failure()
            && Cause::Unknown.is_failure()
    );
    assert!(
        !Cause::SpotInterruption.is_failure()
            && !Cause::Infrastructure.is_failure()
            && !Cause::Scaling.is_failure()
    );
}

#[test]
fn a_service_task_exiting_zero_is_not_a_completed_job() {
    let mut t = event(SAMPLES[1].0 .1).detail;
    t.containers[0].exit_code = Some(0);
    assert_eq!(classify(&t).cause, Cause::EssentialContainerExited);
}

#[test]
fn stop_reasons_cannot_ping_the_channel() {
    let mut t = event(SAMPLES[14].0 .1).detail;
    t.stopped_reason = Some("<!channel> @here [x](https://evil.example)".into());
    let c = classify(&t);
    assert!(
        !c.sentence.contains("<!channel>")
            && !c.sentence.contains("@here")
            && !c.sentence.contains("]("),
        "{}",
        c.sentence
    );
}

#[test]
fn malformed_events_name_the_field() {
    let cases = [
        (
            json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "detail": {"clusterArn": "arn:aws:ecs:us-east-1:1:cluster/c"}}),
            "taskArn",
        ),
        (
            json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "detail": {"taskArn": "nope", "clusterArn": "arn:aws:ecs:us-east-1:1:cluster/c"}}),
            "detail.taskArn",
        ),
        (
            json!({"detail-type": "ECS Task State Change", "source": "aws.ecs", "detail": {"taskArn": "arn:aws:ecs:us-east-1:1:task/c/x", "clusterArn": "c", "containers": 3}}),
            "detail.containers",
        ),
        (
            json!({"detail-type": "ECR Image Action", "source": "aws.ecr", "detail": {}}),
            "detail-type",
        ),
    ];
    for (v, needle) in cases {
        let e = parse(v.clone()).unwrap_err().to_string();
        assert!(e.contains(needle), "{v}: {e}");
    }
}

#[test]
fn container_overrides_are_passed_on() {
    let t = event(SAMPLES[8].0 .1).detail;
    let o = container_overrides(t.overrides.as_ref()).expect("overrides");
    assert_eq!(o[0].name(), Some("importer"));
    assert_eq!(o[0].command(), ["import", "--date", "2026-11-16"]);
    assert_eq!(o[0].environment()[0].value(), Some("42"));
}

const KEYS: &[&str] = &[
    "detail",
    "detail-type",
    "source",
    "taskArn",
    "clusterArn",
    "containers",
    "stopCode",
    "stoppedReason",
    "lastStatus",
    "exitCode",
    "reason",
    "group",
];
const STRINGS: &[&str] = &[
    "ECS Task State Change",
    "STOPPED",
    "TerminationNotice",
    "EssentialContainerExited",
    "service:web",
    "arn:aws:ecs:us-east-1:1:task/c/abc",
    "arn:aws:ecs:us-east-1:1:cluster/c",
    "OutOfMemoryError",
    "CannotPullContainerError",
    "ResourceInitializationError secret",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// No JSON input makes the parser (or the classifier after it) panic.
    #[test]
    fn no_json_input_panics(value in crate::testing::any_json(KEYS, STRINGS)) {
        if let Ok(ev) = parse(value) {
            let _ = classify(&ev.detail);
        }
    }

    /// A sample with one detail field replaced by anything parses and classifies, or errors.
    #[test]
    fn mutated_samples_do_not_panic(which in 0usize..SAMPLES.len(), field in prop_oneof![
        Just("taskArn"), Just("clusterArn"), Just("containers"), Just("stopCode"), Just("stoppedReason"),
        Just("lastStatus"), Just("group"), Just("overrides"), Just("stoppedAt"), Just("memory")],
        replacement in crate::testing::any_json(KEYS, STRINGS)) {
        let mut v: Value = serde_json::from_str(SAMPLES[which].0 .1).expect("JSON");
        v["detail"][field] = replacement;
        if let Ok(ev) = parse(v) {
            let c = classify(&ev.detail);
            let _ = notices::alert(&ev, &c, None, &[]);
            let _ = container_overrides(ev.detail.overrides.as_ref());
        }
    }
}
