//! The deployer against the local emulator: real ECS, SNS and SQS wire protocols.

use autopilot_core::deploy::{DeployTarget, Deployer, Strategy};
use autopilot_core::runtime::Handler;
use autopilot_core::Error;
use integration_tests::{Capture, Emulator, Stack};
use serde_json::{json, Value};

const DIGEST_A: &str = "sha256:aaaa6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7";
const DIGEST_B: &str = "sha256:bbbb6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7";

fn push(repository: &str, tag: &str, digest: &str, time: &str, id: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "ECR Image Action", "source": "aws.ecr",
        "account": "123456789012", "time": time, "region": "us-east-1", "resources": [],
        "detail": {"result": "SUCCESS", "repository-name": repository, "image-digest": digest,
                   "action-type": "PUSH", "image-tag": tag,
                   "manifest-media-type": "application/vnd.oci.image.manifest.v1+json",
                   "artifact-media-type": "application/vnd.oci.image.config.v1+json"}
    })
}

fn deployment_event(stack: &Stack, name: &str, deployment_id: &str, reason: &str) -> Value {
    json!({
        "version": "0", "id": format!("dep-{name}"), "detail-type": "ECS Deployment State Change",
        "source": "aws.ecs", "account": "123456789012", "time": "2026-11-16T02:05:31Z",
        "region": "us-east-1", "resources": [stack.service_arn],
        "detail": {"eventType": if name.contains("FAILED") { "ERROR" } else { "INFO" }, "eventName": name,
                   "deploymentId": deployment_id, "updatedAt": "2026-11-16T02:05:31Z", "reason": reason}
    })
}

async fn setup(strategy: Strategy) -> (Emulator, Stack, Deployer, Capture) {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "prod", "web").await;
    let (clients, capture) = stack.clients();
    let mut config = stack.deployer_config(None);
    for target in &mut config.targets {
        target.tags = vec!["v*".into(), "latest".into()];
        target.strategy = strategy;
    }
    (emu, stack, Deployer::new(clients, config), capture)
}

fn decision(result: &Value) -> &Value {
    let decisions = result["decisions"].as_array().expect("decisions array");
    assert_eq!(decisions.len(), 1, "{result}");
    &decisions[0]
}

/// Handles a push of repository `web`.
async fn handle_push(deployer: &Deployer, tag: &str, digest: &str, time: &str, id: &str) -> Value {
    deployer
        .handle(push("web", tag, digest, time, id))
        .await
        .expect("a push is handled")
}

/// Deploys a push of repository `web` and returns the revision it registered.
async fn deployed_revision(
    deployer: &Deployer,
    tag: &str,
    digest: &str,
    time: &str,
    id: &str,
) -> String {
    let result = handle_push(deployer, tag, digest, time, id).await;
    assert_eq!(decision(&result)["reason"], "deployed", "{result}");
    decision(&result)["taskDefinitionArn"]
        .as_str()
        .expect("a new revision")
        .to_string()
}

/// Everything in a task definition that a copy must keep, as comparable text (maps sorted,
/// and the environment spelled out: the SDK's Debug redacts it).
fn comparable(td: &aws_sdk_ecs::types::TaskDefinition) -> String {
    let mut td = td.clone();
    let mut extra = String::new();
    for c in td.container_definitions.iter_mut().flatten() {
        let env: Vec<String> = c
            .environment()
            .iter()
            .map(|kv| format!("{:?}={:?}", kv.name(), kv.value()))
            .collect();
        extra.push_str(&format!("{:?} env {env:?}\n", c.name()));
        if let Some(log) = c.log_configuration.as_mut() {
            let options: std::collections::BTreeMap<_, _> =
                log.options.take().unwrap_or_default().into_iter().collect();
            extra.push_str(&format!("{:?} log options {options:?}\n", c.name()));
        }
    }
    td.task_definition_arn = None;
    td.revision = 0;
    td.registered_at = None;
    td.registered_by = None;
    td.container_definitions = td.container_definitions.map(|cs| {
        cs.into_iter()
            .map(|mut c| {
                if c.name() == Some("app") {
                    c.image = None;
                }
                c
            })
            .collect()
    });
    format!("{td:?}\n{extra}")
}

#[tokio::test]
async fn pin_digest_registers_one_identical_revision_and_points_the_service_at_it() {
    let (_emu, stack, deployer, _) = setup(Strategy::PinDigest).await;
    let before = stack.revisions().await;
    let result = handle_push(
        &deployer,
        "v1.4.2",
        DIGEST_A,
        "2026-11-16T02:00:00Z",
        "evt-1",
    )
    .await;
    let d = decision(&result);
    assert_eq!(d["action"], "deploy", "{result}");
    assert_eq!(d["reason"], "deployed");
    let new_arn = d["taskDefinitionArn"]
        .as_str()
        .expect("new revision ARN")
        .to_string();

    let after = stack.revisions().await;
    assert_eq!(
        after.len(),
        before.len() + 1,
        "exactly one new revision: {after:?}"
    );
    let (old, old_tags) = stack.describe_task_definition(&stack.task_definition).await;
    let (new, new_tags) = stack.describe_task_definition(&new_arn).await;
    assert_eq!(
        comparable(&old),
        comparable(&new),
        "every field but the image is kept"
    );
    let image = |td: &aws_sdk_ecs::types::TaskDefinition, name: &str| {
        td.container_definitions()
            .iter()
            .find(|c| c.name() == Some(name))
            .and_then(|c| c.image())
            .map(str::to_string)
    };
    assert_eq!(
        image(&new, "app").as_deref(),
        Some(format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{DIGEST_A}").as_str())
    );
    assert_eq!(
        image(&new, "log-router"),
        image(&old, "log-router"),
        "other containers keep their image"
    );
    let tag = |tags: &[aws_sdk_ecs::types::Tag], k: &str| {
        tags.iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    for t in &old_tags {
        assert_eq!(
            tag(&new_tags, t.key().unwrap_or_default()).as_deref(),
            t.value(),
            "tag carried over"
        );
    }
    assert_eq!(
        tag(&new_tags, "autopilot:image-tag").as_deref(),
        Some("v1.4.2")
    );
    assert_eq!(
        tag(&new_tags, "autopilot:image-digest").as_deref(),
        Some(DIGEST_A)
    );
    assert_eq!(
        tag(&new_tags, "autopilot:pushed-at").as_deref(),
        Some("2026-11-16T02:00:00Z")
    );
    assert_eq!(
        tag(&new_tags, "autopilot:event-id").as_deref(),
        Some("evt-1")
    );
    assert_eq!(
        stack.describe_service().await.task_definition(),
        Some(new_arn.as_str())
    );

    // The budget: one read of each kind (the listing finds no revision registered for this
    // event already), one write of each kind, one publish.
    let calls = deployer.clients.calls.snapshot();
    assert_eq!(
        calls,
        [
            "ECS.DescribeServices",
            "ECS.DescribeTaskDefinition",
            "ECS.ListTaskDefinitions",
            "ECS.RegisterTaskDefinition",
            "ECS.UpdateService",
            "SNS.Publish"
        ],
    );
}

#[tokio::test]
async fn the_same_event_three_times_leaves_one_new_revision() {
    let (_emu, stack, deployer, _) = setup(Strategy::PinDigest).await;
    let before = stack.revisions().await.len();
    let event = push("web", "v1.4.2", DIGEST_A, "2026-11-16T02:00:00Z", "evt-dup");
    let mut reasons = vec![];
    for _ in 0..3 {
        let result = deployer.handle(event.clone()).await.expect("handle");
        reasons.push(
            decision(&result)["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert_eq!(reasons, ["deployed", "already-running", "already-running"]);
    assert_eq!(stack.revisions().await.len(), before + 1);
    assert_eq!(
        stack.notifications().await.len(),
        1,
        "only the deploy is announced"
    );
}

#[tokio::test]
async fn the_same_digest_under_a_second_tag_is_skipped() {
    let (_emu, stack, deployer, _) = setup(Strategy::PinDigest).await;
    handle_push(&deployer, "v1.4.2", DIGEST_A, "2026-11-16T02:00:00Z", "e1").await;
    let revisions = stack.revisions().await;
    let result = handle_push(&deployer, "latest", DIGEST_A, "2026-11-16T02:00:05Z", "e2").await;
    assert_eq!(decision(&result)["reason"], "already-running", "{result}");
    assert_eq!(stack.revisions().await, revisions);
}

#[tokio::test]
async fn an_older_event_after_a_newer_one_is_skipped() {
    let (_emu, stack, deployer, _) = setup(Strategy::PinDigest).await;
    let live = deployed_revision(&deployer, "v2", DIGEST_B, "2026-11-16T03:00:00Z", "new").await;
    let older = handle_push(&deployer, "v1", DIGEST_A, "2026-11-16T02:00:00Z", "old").await;
    assert_eq!(decision(&older)["reason"], "older-than-running", "{older}");
    assert_eq!(
        stack.describe_service().await.task_definition(),
        Some(live.as_str())
    );
}

#[tokio::test]
async fn another_repository_changes_nothing() {
    let (_emu, stack, deployer, _) = setup(Strategy::PinDigest).await;
    let revisions = stack.revisions().await;
    let result = deployer
        .handle(push("billing", "v1", DIGEST_A, "2026-11-16T02:00:00Z", "x"))
        .await
        .expect("handle");
    assert_eq!(decision(&result)["reason"], "no-matching-target");
    assert_eq!(stack.revisions().await, revisions);
    assert!(
        deployer.clients.calls.snapshot().is_empty(),
        "no AWS call at all"
    );
    assert!(stack.notifications().await.is_empty());
}

#[tokio::test]
async fn follow_tag_forces_a_new_deployment_without_registering_anything() {
    let (_emu, stack, deployer, _) = setup(Strategy::FollowTag).await;
    let revisions = stack.revisions().await;
    let before = stack.describe_service().await;
    let before_id = before
        .deployments()
        .first()
        .and_then(|d| d.id())
        .map(str::to_string);
    let result = handle_push(&deployer, "latest", DIGEST_A, "2026-11-16T02:00:00Z", "ft").await;
    assert_eq!(decision(&result)["reason"], "deployed", "{result}");
    assert_eq!(decision(&result)["taskDefinitionArn"], Value::Null);
    assert_eq!(stack.revisions().await, revisions, "nothing registered");
    let after = stack.describe_service().await;
    assert_eq!(
        after.task_definition(),
        before.task_definition(),
        "same task definition"
    );
    let after_id = after
        .deployments()
        .first()
        .and_then(|d| d.id())
        .map(str::to_string);
    assert_ne!(after_id, before_id, "a new deployment was forced");
    assert!(after
        .tags()
        .iter()
        .any(|t| t.key() == Some("autopilot:image-digest") && t.value() == Some(DIGEST_A)));
    // Delivered again, it is a no-op.
    let again = handle_push(&deployer, "latest", DIGEST_A, "2026-11-16T02:00:00Z", "ft").await;
    assert_eq!(decision(&again)["reason"], "already-running");
}

#[tokio::test]
async fn the_notification_reaches_chat_as_chatbot_json_with_an_email_rendering() {
    let (_emu, stack, deployer, capture) = setup(Strategy::PinDigest).await;
    handle_push(&deployer, "v1.4.2", DIGEST_A, "2026-11-16T02:00:00Z", "n1").await;
    let delivered = stack.notifications().await;
    assert_eq!(delivered.len(), 1);
    let chat = &delivered[0];
    assert_eq!(chat["version"], "1.0");
    assert_eq!(chat["source"], "custom");
    assert_eq!(chat["content"]["textType"], "client-markdown");
    let title = chat["content"]["title"].as_str().expect("title");
    assert!(
        title.contains("web:v1.4.2") && title.contains("prod/web"),
        "{title}"
    );
    assert_eq!(chat["metadata"]["threadId"], stack.service_arn.as_str());
    assert!(chat["id"].as_str().is_some_and(|id| id.contains(DIGEST_A)));

    let published = capture.published();
    assert_eq!(published.len(), 1);
    let default: Value = serde_json::from_str(published[0]["default"].as_str().expect("default"))
        .expect("default is JSON");
    assert_eq!(&default, chat, "SQS got the default rendering");
    let email = published[0]["email"].as_str().expect("an email rendering");
    assert!(
        email.contains("Deploying web:v1.4.2 to prod/web") && email.contains("Next steps:"),
        "{email}"
    );
}

#[tokio::test]
async fn a_failed_deployment_names_its_stopped_tasks_reasons() {
    let (_emu, stack, deployer, _) = setup(Strategy::PinDigest).await;
    let deployment = "ecs-svc/5550001112223334445";
    stack.stopped_deployment_tasks(deployment, 2, "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/abc)").await;
    // The service's stopped tasks are listed, and another deployment's are left out.
    stack
        .stopped_deployment_tasks(
            "ecs-svc/4440001112223334445",
            1,
            "Scaling activity initiated by (deployment ecs-svc/4440001112223334445)",
        )
        .await;
    let event = deployment_event(
        &stack,
        "SERVICE_DEPLOYMENT_FAILED",
        deployment,
        "ECS deployment circuit breaker: task failed to start.",
    );
    let result = deployer.handle(event).await.expect("handle");
    assert_eq!(result["deployment"]["outcome"], "failed", "{result}");
    assert_eq!(
        result["deployment"]["stoppedTasks"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let delivered = stack.notifications().await;
    assert_eq!(delivered.len(), 1);
    let text = delivered[0]["content"]["description"]
        .as_str()
        .expect("description");
    assert!(
        text.contains("circuit breaker: task failed to start"),
        "{text}"
    );
    assert!(text.contains("2× Task failed ELB health checks"), "{text}");
    assert!(!text.contains("Scaling activity"), "{text}");
    assert_eq!(
        delivered[0]["metadata"]["threadId"],
        stack.service_arn.as_str(),
        "same thread as the deploy"
    );
}

#[tokio::test]
async fn a_rollback_is_reported_as_a_failure_and_in_progress_stays_quiet() {
    let (_emu, stack, deployer, _) = setup(Strategy::PinDigest).await;
    let quiet = deployer
        .handle(deployment_event(
            &stack,
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            "ecs-svc/1",
            "ECS deployment ecs-svc/1 in progress.",
        ))
        .await
        .expect("in progress");
    assert_eq!(quiet["deployment"]["notified"], false);
    let rollback = deployer
        .handle(deployment_event(
            &stack,
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            "ecs-svc/2",
            "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.",
        ))
        .await
        .expect("rollback");
    assert_eq!(rollback["deployment"]["outcome"], "rolling-back");
    let delivered = stack.notifications().await;
    assert_eq!(delivered.len(), 1);
    assert!(delivered[0]["content"]["title"]
        .as_str()
        .is_some_and(|t| t.contains("rolling back")));
}

#[tokio::test]
async fn a_completed_deployment_reports_the_image_and_prunes_old_revisions() {
    let (_emu, stack, mut deployer, _) = setup(Strategy::PinDigest).await;
    deployer.config.keep_revisions = Some(1);
    let first_arn =
        deployed_revision(&deployer, "v1", DIGEST_A, "2026-11-16T02:00:00Z", "p1").await;
    let second_arn =
        deployed_revision(&deployer, "v2", DIGEST_B, "2026-11-16T02:10:00Z", "p2").await;
    let third_arn = deployed_revision(
        &deployer,
        "v3",
        "sha256:cccc6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7",
        "2026-11-16T02:20:00Z",
        "p3",
    )
    .await;
    stack.notifications().await;

    let deployment_id = stack.deployment_id().await.expect("deployment");
    let result = deployer
        .handle(deployment_event(
            &stack,
            "SERVICE_DEPLOYMENT_COMPLETED",
            &deployment_id,
            "completed.",
        ))
        .await
        .expect("completed");
    assert_eq!(result["deployment"]["image"]["tag"], "v3", "{result}");
    // Live (v3) and the one it replaced (v2) stay; v1, also ours, goes; the original was not ours.
    assert_eq!(
        result["deployment"]["pruned"],
        json!([first_arn]),
        "{result}"
    );
    let revisions = stack.revisions().await;
    assert!(
        revisions.contains(&third_arn)
            && revisions.contains(&second_arn)
            && revisions.contains(&stack.task_definition)
    );
    assert!(!revisions.contains(&first_arn));
    let delivered = stack.notifications().await;
    assert_eq!(delivered.len(), 1);
    assert!(
        delivered[0]["content"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("`v3`")),
        "{}",
        delivered[0]
    );
}

#[tokio::test]
async fn frozen_and_missing_services_are_held_back_and_reported() {
    let (_emu, stack, mut deployer, _) = setup(Strategy::PinDigest).await;
    stack
        .tag_service(&[("autopilot:deploy-freeze", "true")])
        .await;
    deployer.config.targets.push(DeployTarget {
        service: "ghost".into(),
        ..deployer.config.targets[0].clone()
    });
    let revisions = stack.revisions().await;
    let result = handle_push(&deployer, "v9", DIGEST_B, "2026-11-16T02:00:00Z", "f").await;
    let reasons: Vec<&str> = result["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter_map(|d| d["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["deploy-freeze", "service-not-found"]);
    assert_eq!(stack.revisions().await, revisions);
    let delivered = stack.notifications().await;
    assert_eq!(delivered.len(), 2, "both need a person");
}

#[tokio::test]
async fn dry_run_decides_and_reports_but_changes_nothing() {
    let (_emu, stack, mut deployer, _) = setup(Strategy::PinDigest).await;
    deployer.config.dry_run = true;
    let revisions = stack.revisions().await;
    let result = handle_push(&deployer, "v5", DIGEST_B, "2026-11-16T02:00:00Z", "d").await;
    assert_eq!(decision(&result)["action"], "deploy");
    assert_eq!(decision(&result)["dryRun"], true);
    assert_eq!(stack.revisions().await, revisions);
    assert_eq!(
        stack.describe_service().await.task_definition(),
        Some(stack.task_definition.as_str())
    );
    let delivered = stack.notifications().await;
    assert!(delivered[0]["content"]["title"]
        .as_str()
        .is_some_and(|t| t.contains("[dry run]")));
}

#[tokio::test]
async fn malformed_events_change_nothing_and_say_what_is_wrong() {
    let (_emu, stack, deployer, _) = setup(Strategy::PinDigest).await;
    let revisions = stack.revisions().await;
    let cases: Vec<(Value, &str)> = vec![
        (json!("just a string"), "JSON object"),
        (
            json!({"detail-type": "ECR Image Action", "source": "aws.ecr"}),
            "detail",
        ),
        (
            json!({"detail-type": "ECR Image Action", "source": "aws.ecr", "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": ["web"]}}),
            "detail.repository-name",
        ),
        (
            json!({"detail-type": "ECR Image Action", "source": "aws.ecr", "account": "123456789012", "region": "us-east-1",
                "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": "web", "image-tag": "v1"}}),
            "image-digest",
        ),
        (
            json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}}),
            "detail-type",
        ),
        (
            json!({"detail-type": "ECS Deployment State Change", "source": "aws.ecs", "resources": ["nope"],
                "detail": {"eventName": "SERVICE_DEPLOYMENT_FAILED", "deploymentId": "ecs-svc/1"}}),
            "resources[0]",
        ),
    ];
    for (event, needle) in cases {
        let err: Error = deployer
            .handle(event.clone())
            .await
            .expect_err("a malformed event is an error");
        assert_eq!(err.error_type(), "NonRetryable", "{event}");
        assert!(err.to_string().contains(needle), "{event}: {err}");
        let calls = deployer.clients.calls.snapshot();
        assert!(
            calls.is_empty(),
            "no AWS call for a malformed event: {event}: {calls:?}"
        );
    }
    assert_eq!(stack.revisions().await, revisions);
    assert!(stack.notifications().await.is_empty());
}
