//! The deployer's whole flows over in-memory AWS (`testing::FakeAws`): a pin-digest deploy, its
//! duplicate, follow-tag, a failed deployment, a completed one that prunes.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
use serde_json::{json, Value};

use super::*;
use crate::aws::ecs::Revision;
use crate::deploy::outcome::StoppedTask;
use crate::service::{DeploymentSnapshot, ServiceSnapshot};
use crate::tags;
use crate::testing::FakeAws;

const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
const SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/web";
const DIGEST: &str = "sha256:0c1f6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7";

fn deployer(strategy: Strategy, keep: Option<u32>) -> Deployer<FakeAws> {
    let aws = FakeAws::default();
    let revision = Revision::from_sdk(
        TaskDefinition::builder()
            .task_definition_arn(TD)
            .family("web")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1.0.0")
                    .build(),
            )
            .build(),
    );
    aws.with(|s| {
        s.services.push(ServiceSnapshot {
            cluster: "prod".into(),
            name: "web".into(),
            arn: SERVICE_ARN.into(),
            status: "ACTIVE".into(),
            desired: 2,
            task_definition: TD.into(),
            deployments: vec![DeploymentSnapshot {
                id: "ecs-svc/1".into(),
                status: "PRIMARY".into(),
                task_definition: TD.into(),
                ..DeploymentSnapshot::default()
            }],
            ..ServiceSnapshot::default()
        });
        s.revisions.insert(TD.into(), (revision, BTreeMap::new()));
    });
    Deployer::new(
        aws,
        DeployerConfig {
            targets: vec![DeployTarget {
                repository: "web".into(),
                tags: vec!["v*".into(), "latest".into()],
                cluster: "prod".into(),
                service: "web".into(),
                container: Some("app".into()),
                strategy,
            }],
            topic_arn: "arn:aws:sns:us-east-1:123456789012:chat".into(),
            dry_run: false,
            keep_revisions: keep,
        },
    )
}

fn push(tag: &str, digest: &str, time: &str) -> Value {
    let mut e: Value = serde_json::from_str(include_str!(
        "../../../events/deployer/ecr-push-release-tag.json"
    ))
    .expect("sample");
    e["detail"]["image-tag"] = json!(tag);
    e["detail"]["image-digest"] = json!(digest);
    e["time"] = json!(time);
    e
}

fn deployment(name: &str) -> Value {
    let mut e: Value = serde_json::from_str(match name {
        "failed" => include_str!("../../../events/deployer/ecs-deployment-failed.json"),
        _ => include_str!("../../../events/deployer/ecs-deployment-completed.json"),
    })
    .expect("sample");
    e["resources"] = json!([SERVICE_ARN]);
    e["detail"]["deploymentId"] = json!("ecs-svc/1");
    e
}

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

#[tokio::test]
async fn a_pin_digest_deploy_registers_one_pinned_revision_and_points_the_service_at_it() {
    let d = deployer(Strategy::PinDigest, None);
    let result = d
        .handle(push("v1.4.2", DIGEST, "2026-11-16T02:00:00Z"))
        .await
        .expect("push");
    assert_eq!(result["decisions"][0]["reason"], "deployed", "{result}");
    let aws = &d.clients;
    assert_eq!(
        aws.calls.snapshot(),
        [
            "ECS.DescribeServices",
            "ECS.DescribeTaskDefinition",
            "ECS.RegisterTaskDefinition",
            "ECS.UpdateService",
            "SNS.Publish"
        ]
    );
    let web = aws.service("web").expect("web");
    assert!(
        web.task_definition.ends_with("task-definition/web:4"),
        "{}",
        web.task_definition
    );
    let (revision, revision_tags) = aws.with(|s| s.revisions[&web.task_definition].clone());
    assert_eq!(
        revision.containers(),
        [(
            "app".to_string(),
            format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{DIGEST}")
        )]
    );
    assert_eq!(
        revision_tags.get(tags::IMAGE_TAG).map(String::as_str),
        Some("v1.4.2")
    );
    assert_eq!(
        revision_tags.get(tags::REPLACES).map(String::as_str),
        Some(TD)
    );

    // The same event again, and the same digest under `latest`: nothing more is registered.
    for again in [
        push("v1.4.2", DIGEST, "2026-11-16T02:00:00Z"),
        push("latest", DIGEST, "2026-11-16T02:00:01Z"),
    ] {
        let result = d.handle(again).await.expect("again");
        assert_eq!(
            result["decisions"][0]["reason"], "already-running",
            "{result}"
        );
    }
    assert_eq!(aws.with(|s| s.revisions.len()), 2);
    assert_eq!(aws.published().len(), 1, "the deploy was announced once");
}

#[tokio::test]
async fn follow_tag_records_the_image_on_the_service_and_registers_nothing() {
    let d = deployer(Strategy::FollowTag, None);
    let result = d
        .handle(push("latest", DIGEST, "2026-11-16T02:00:00Z"))
        .await
        .expect("push");
    assert_eq!(result["decisions"][0]["reason"], "deployed", "{result}");
    let web = d.clients.service("web").expect("web");
    assert_eq!(
        web.task_definition, TD,
        "the same revision, a new deployment"
    );
    assert_eq!(
        web.tags.get(tags::IMAGE_DIGEST).map(String::as_str),
        Some(DIGEST)
    );
    assert!(!d
        .clients
        .calls
        .snapshot()
        .iter()
        .any(|c| c == "ECS.RegisterTaskDefinition"));
}

#[tokio::test]
async fn a_failed_deployment_is_reported_with_its_stopped_tasks_reasons() {
    let d = deployer(Strategy::PinDigest, None);
    d.clients.with(|s| {
        s.deployment_stops.insert(
            "ecs-svc/1".into(),
            vec![StoppedTask {
                task_id: "0a1b".into(),
                stop_code: Some("EssentialContainerExited".into()),
                stopped_reason: Some("Essential container in task exited".into()),
                containers: vec!["app: exit code 1 (Error: Cannot find module 'next')".into()],
            }],
        );
    });
    let result = d.handle(deployment("failed")).await.expect("failed");
    assert_eq!(result["deployment"]["outcome"], "failed", "{result}");
    let notice = &d.clients.published()[0];
    assert!(
        notice.description.contains("Cannot find module"),
        "{}",
        notice.description
    );
    assert_eq!(notice.thread_id, SERVICE_ARN, "in the deploy's thread");
}

#[tokio::test]
async fn a_completed_deployment_prunes_only_what_the_deployer_registered() {
    let d = deployer(Strategy::PinDigest, Some(1));
    for (i, time) in [
        "2026-11-16T02:00:00Z",
        "2026-11-16T02:10:00Z",
        "2026-11-16T02:20:00Z",
    ]
    .iter()
    .enumerate()
    {
        let tag = format!("v1.4.{i}");
        let result = d
            .handle(push(&tag, &digest(i as u8 + 1), time))
            .await
            .expect("push");
        assert_eq!(result["decisions"][0]["reason"], "deployed", "{result}");
    }
    let result = d.handle(deployment("completed")).await.expect("completed");
    // web:3 is not the deployer's, web:6 runs, web:5 is the one it replaced: only web:4 goes.
    assert_eq!(
        result["deployment"]["pruned"],
        json!(["arn:aws:ecs:us-east-1:123456789012:task-definition/web:4"]),
        "{result}"
    );
    assert_eq!(d.clients.with(|s| s.revisions.len()), 3);
}

#[tokio::test]
async fn the_deploy_thread_reads_as_its_snapshots() {
    let d = deployer(Strategy::PinDigest, None);
    d.handle(push("v1.4.2", DIGEST, "2026-11-16T02:00:00Z"))
        .await
        .expect("push");
    d.clients.with(|s| {
        s.deployment_stops.insert(
            "ecs-svc/1".into(),
            vec![StoppedTask {
                task_id: "0a1b".into(),
                stop_code: Some("TaskFailedToStart".into()),
                stopped_reason: Some(
                    "CannotPullContainerError: pull image manifest has been retried 5 time(s)"
                        .into(),
                ),
                containers: vec![],
            }],
        );
    });
    d.handle(deployment("failed")).await.expect("failed");
    d.handle(deployment("completed")).await.expect("completed");
    let published = d.clients.published();
    assert_eq!(published.len(), 3);
    for (name, n) in ["start", "failed", "completed"].iter().zip(&published) {
        insta::assert_snapshot!(format!("deploy-{name}.email"), n.to_text());
    }
}
