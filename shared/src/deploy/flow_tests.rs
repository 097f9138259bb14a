//! The deployer's whole flows over in-memory AWS (`testing::FakeAws`): a pin-digest deploy, its
//! duplicate, follow-tag, a failed deployment, a completed one that prunes.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
use serde_json::{json, Value};

use super::*;
use crate::aws::ecs::Revision;
use crate::model::service::DeploymentSnapshot;
use crate::model::task::StoppedTask;
use crate::runtime::Handler;
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
        s.service("prod", "web", 2, TD, &[]).deployments = vec![DeploymentSnapshot {
            id: "ecs-svc/1".into(),
            status: "PRIMARY".into(),
            task_definition: TD.into(),
            ..DeploymentSnapshot::default()
        }];
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
            fleet: false,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:chat".into(),
            dry_run: false,
            keep_revisions: keep,
            reminders: None,
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
            "ECS.ListTaskDefinitions",
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
async fn a_failed_deployment_is_still_reported_when_its_stopped_tasks_cannot_be_read() {
    let d = deployer(Strategy::PinDigest, None);
    d.clients
        .with(|s| s.deployment_stops_fail_with = Some("AccessDeniedException"));
    let result = d
        .handle(deployment("failed"))
        .await
        .expect("the notice goes out whatever the read did");
    assert_eq!(result["deployment"]["notified"], true, "{result}");
    assert!(
        result["deployment"]["stoppedTasksError"]
            .as_str()
            .is_some_and(|e| e.contains("ListTasks")),
        "{result}"
    );
    let published = d.clients.published();
    assert_eq!(published.len(), 1);
    let notice = &published[0];
    assert_eq!(notice.title, "Deployment of prod/web failed");
    assert!(
        notice
            .description
            .contains("The stopped tasks' reasons could not be read (")
            && notice.description.contains("ListTasks"),
        "{}",
        notice.description
    );
    assert!(!notice.description.contains("No stopped tasks were found"));
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

#[tokio::test]
async fn a_codedeploy_service_is_told_and_nothing_is_registered_or_updated() {
    for strategy in [Strategy::PinDigest, Strategy::FollowTag] {
        let d = deployer(strategy, None);
        d.clients
            .with(|s| s.services[0].controller = Some("CODE_DEPLOY".into()));
        let result = d
            .handle(push("v2.0.0", DIGEST, "2026-11-16T02:00:00Z"))
            .await
            .expect("decided");
        assert_eq!(
            result["decisions"][0]["reason"], "unsupported-deployment-controller",
            "{result}"
        );
        let calls = d.clients.calls.snapshot();
        for write in [
            "ECS.RegisterTaskDefinition",
            "ECS.UpdateService",
            "ECS.TagResource",
        ] {
            assert!(!calls.iter().any(|c| c == write), "{strategy:?}: {calls:?}");
        }
        let told = &d.clients.published()[0];
        assert!(told.title.starts_with("Cannot deploy"), "{}", told.title);
        assert!(
            told.description.contains("CODE_DEPLOY"),
            "{}",
            told.description
        );
    }
}

const GOOD: &str = "ecs-svc/1000";
const BAD: &str = "ecs-svc/2000";
const ROLLBACK: &str = "ecs-svc/3000";
const TD_BAD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:4";

/// A deployment event of the circuit-breaker story, shaped as ECS sends it.
fn breaker_event(which: &str) -> Value {
    let (sample, id, reason) = match which {
        "failed" => (
            include_str!("../../../events/deployer/ecs-deployment-failed.json"),
            BAD,
            "ECS deployment circuit breaker: task failed to start.".to_string(),
        ),
        "rollback" => (
            include_str!("../../../events/deployer/ecs-deployment-rollback.json"),
            ROLLBACK,
            format!("ECS deployment circuit breaker: rolling back to deploymentId {GOOD}."),
        ),
        _ => (
            include_str!("../../../events/deployer/ecs-deployment-completed.json"),
            ROLLBACK,
            format!("ECS deployment {ROLLBACK} completed."),
        ),
    };
    let mut e: Value = serde_json::from_str(sample).expect("sample");
    e["resources"] = json!([SERVICE_ARN]);
    e["detail"]["deploymentId"] = json!(id);
    e["detail"]["reason"] = json!(reason);
    e
}

fn rollout(id: &str, status: &str, td: &str, state: &str, reason: &str) -> DeploymentSnapshot {
    DeploymentSnapshot {
        id: id.into(),
        status: status.into(),
        task_definition: td.into(),
        rollout_state: Some(state.into()),
        rollout_state_reason: Some(reason.into()),
        created_at: None,
    }
}

/// The service as DescribeServices shows it while the rollback runs: the rollback is the new
/// PRIMARY deployment (of the last good revision), the failed one is ACTIVE and FAILED.
fn rolling_back(s: &mut crate::testing::FakeState) {
    s.services[0].task_definition = TD.into();
    s.services[0].deployments = vec![
        rollout(
            ROLLBACK,
            "PRIMARY",
            TD,
            "IN_PROGRESS",
            &format!("ECS deployment circuit breaker: rolling back to deploymentId {GOOD}."),
        ),
        rollout(
            BAD,
            "ACTIVE",
            TD_BAD,
            "FAILED",
            "ECS deployment circuit breaker: tasks failed to start.",
        ),
    ];
}

/// ...and once it completed: the failed deployment is gone, the rollback's reason says only
/// that it completed.
fn rolled_back(s: &mut crate::testing::FakeState) {
    s.services[0].deployments = vec![rollout(
        ROLLBACK,
        "PRIMARY",
        TD,
        "COMPLETED",
        &format!("ECS deployment {ROLLBACK} completed."),
    )];
}

#[tokio::test]
async fn a_circuit_breaker_rollback_is_told_from_a_deploy_whatever_order_its_events_arrive_in() {
    for order in [
        ["failed", "rollback", "completed"],
        ["rollback", "failed", "completed"],
        ["failed", "completed", "rollback"],
    ] {
        let d = deployer(Strategy::PinDigest, Some(1));
        d.clients.with(|s| {
            rolling_back(s);
            s.deployment_stops.insert(
                BAD.into(),
                vec![StoppedTask {
                    task_id: "0bad".into(),
                    stop_code: Some("EssentialContainerExited".into()),
                    stopped_reason: Some("Essential container in task exited".into()),
                    containers: vec!["app: exit code 1 (Error: Cannot find module 'next')".into()],
                }],
            );
            s.deployment_stops.insert(
                ROLLBACK.into(),
                vec![StoppedTask {
                    task_id: "0roll".into(),
                    stop_code: Some("ServiceSchedulerInitiated".into()),
                    stopped_reason: Some("a task of the rollback itself".into()),
                    containers: vec![],
                }],
            );
        });
        for which in order {
            if which == "completed" {
                d.clients.with(rolled_back);
            }
            d.handle(breaker_event(which)).await.expect(which);
        }
        let published = d.clients.published();
        let ids: Vec<&str> = published.iter().map(|n| n.id.as_str()).collect();
        let failed_id = format!("deployment:{BAD}:failed");
        // Whichever of the failure and the rollback's start comes first, both say the same
        // failure under one id: Chatbot shows it once.
        assert_eq!(
            ids.iter().filter(|id| **id == failed_id).count(),
            published.len() - 1,
            "{order:?}: {ids:?}"
        );
        let failure = &published[0];
        assert!(
            failure.description.contains("Cannot find module")
                && !failure.description.contains("0roll"),
            "{order:?}: the failed deployment's stopped tasks, not the rollback's: {}",
            failure.description
        );
        assert!(
            failure.title.ends_with("failed, rolling back"),
            "{}",
            failure.title
        );
        // The end is a rollback, never "Deployed".
        let end = published
            .iter()
            .find(|n| n.id == format!("deployment:{ROLLBACK}:rolled-back"))
            .unwrap_or_else(|| panic!("{order:?}: no rolled-back notice in {ids:?}"));
        assert_eq!(end.title, "Rolled back prod/web to web:3", "{order:?}");
        assert!(
            !published.iter().any(|n| n.title.starts_with("Deployed")),
            "{order:?}"
        );
        assert!(
            published.iter().all(|n| n.thread_id == SERVICE_ARN),
            "in the deploy's thread"
        );
        // A rollback prunes nothing: the failed revision stays to be looked at.
        assert!(
            !d.clients
                .calls
                .snapshot()
                .iter()
                .any(|c| c == "ECS.DeregisterTaskDefinition"),
            "{order:?}"
        );
    }
}

/// Fleet mode over `deployer()`'s `prod/web` (in DEPLOY_TARGETS): `staging/web` follows `web`
/// by its tags for `v*` tags, `prod/web` is tagged too (DEPLOY_TARGETS wins), `staging/api`
/// follows another repository, `staging/old` names a strategy that does not exist.
fn fleet_deployer() -> Deployer<FakeAws> {
    let mut d = deployer(Strategy::PinDigest, None);
    d.config.fleet = true;
    d.clients.with(|s| {
        s.services[0].tags.insert(tags::DEPLOY.into(), "web".into());
        let web = [(tags::DEPLOY, "web"), (tags::DEPLOY_TAGS, "prefix:v")];
        s.service("staging", "web", 1, TD, &web);
        s.service("staging", "api", 1, TD, &[(tags::DEPLOY, "api")]);
        let old = [(tags::DEPLOY, "web"), (tags::DEPLOY_STRATEGY, "blue-green")];
        s.service("staging", "old", 1, TD, &old);
    });
    d
}

#[tokio::test]
async fn in_fleet_mode_a_push_deploys_the_services_tagged_for_its_repository_once_each() {
    let d = fleet_deployer();
    let result = d
        .handle(push("v1.4.2", DIGEST, "2026-11-16T02:00:00Z"))
        .await
        .expect("push");
    let deployed: Vec<String> = result["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter(|x| x["reason"] == "deployed")
        .map(|x| {
            format!(
                "{}/{}",
                x["cluster"].as_str().unwrap_or("?"),
                x["service"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(deployed, ["prod/web", "staging/web"], "{result}");
    assert_eq!(
        result["decisions"].as_array().map(Vec::len),
        Some(2),
        "prod/web is decided once: {result}"
    );
    let calls = d.clients.calls.snapshot();
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == "Resource Groups Tagging API.GetResources")
            .count(),
        1,
        "{calls:?}"
    );
    // Both services ran web:3: one revision registered for both.
    assert_eq!(
        calls
            .iter()
            .filter(|c| *c == "ECS.RegisterTaskDefinition")
            .count(),
        1,
        "{calls:?}"
    );
    assert_eq!(
        d.clients.service("api").map(|s| s.task_definition),
        Some(TD.to_string())
    );
}

#[tokio::test]
async fn a_bad_tag_is_reported_once_and_the_other_services_deploy() {
    let d = fleet_deployer();
    let first = d
        .handle(push("v1.4.2", DIGEST, "2026-11-16T02:00:00Z"))
        .await
        .expect("push");
    let problems = first["tagProblems"].as_array().cloned().unwrap_or_default();
    assert_eq!(problems.len(), 1, "{first}");
    assert_eq!(problems[0]["tag"], tags::DEPLOY_STRATEGY);
    assert_eq!(problems[0]["value"], "blue-green");
    assert_eq!(problems[0]["reported"], false);
    let said: Vec<String> = d
        .clients
        .with(|s| s.published.iter().map(|(_, n)| n.title.clone()).collect());
    assert_eq!(said.len(), 3, "two deploys and the problem: {said:?}");
    assert!(
        said.iter()
            .any(|t| t.contains("staging/old") && t.contains(tags::DEPLOY_STRATEGY)),
        "{said:?}"
    );
    assert_eq!(
        d.clients
            .service("old")
            .and_then(|s| s.tags.get(tags::TAG_PROBLEM).cloned())
            .as_deref(),
        Some("autopilot:deploy-strategy=blue-green")
    );

    // The next push: still left out, still in the result, not said again.
    let second = d
        .handle(push("v1.4.3", &digest(7), "2026-11-16T03:00:00Z"))
        .await
        .expect("push");
    assert_eq!(second["tagProblems"][0]["reported"], true, "{second}");
    let said_again = d.clients.with(|s| {
        s.published
            .iter()
            .filter(|(_, n)| n.title.contains("staging/old"))
            .count()
    });
    assert_eq!(said_again, 1);
}

#[tokio::test]
async fn in_fleet_mode_a_tagged_services_deployment_is_reported() {
    let d = fleet_deployer();
    d.handle(push("v1.4.2", DIGEST, "2026-11-16T02:00:00Z"))
        .await
        .expect("push");
    let mut completed = deployment("completed");
    completed["resources"] = json!(["arn:aws:ecs:us-east-1:123456789012:service/staging/web"]);
    d.clients.calls.take();
    let result = d.handle(completed).await.expect("deployment");
    assert_eq!(result["deployment"]["notified"], true, "{result}");
    assert_eq!(result["deployment"]["cluster"], "staging", "{result}");
    // Its tags and its deployments come from one read.
    let reads = d
        .clients
        .calls
        .snapshot()
        .iter()
        .filter(|c| *c == "ECS.DescribeServices")
        .count();
    assert_eq!(reads, 1);

    // Without fleet mode the same event is about no configured service.
    let mut d = fleet_deployer();
    d.config.fleet = false;
    let mut completed = deployment("completed");
    completed["resources"] = json!(["arn:aws:ecs:us-east-1:123456789012:service/staging/web"]);
    let result = d.handle(completed).await.expect("deployment");
    assert_eq!(result["deployment"]["notified"], false, "{result}");
}

/// A fleet-mode deployer over services of cluster `prod` on [`TD`], each with its
/// `autopilot:deploy` value.
fn fleet_of(deploy_values: &[(&str, &str)]) -> Deployer<FakeAws> {
    let mut d = deployer(Strategy::PinDigest, None);
    d.config.targets.clear();
    d.config.fleet = true;
    d.clients.with(|s| {
        s.services.clear();
        for (name, value) in deploy_values {
            s.service("prod", name, 2, TD, &[(tags::DEPLOY, value)]);
        }
    });
    d
}

#[tokio::test]
async fn a_deploy_tag_that_names_no_repository_is_reported_once_and_the_others_deploy() {
    let d = fleet_of(&[
        ("web", "web"),
        ("spaced", "web "),
        ("capital", "Web"),
        ("tagged", "web:latest"),
        (
            "registry",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web",
        ),
        ("api", "api"),
    ]);
    let first = d
        .handle(push("v1.4.2", DIGEST, "2026-11-16T02:00:00Z"))
        .await
        .expect("push");
    let mut deployed: Vec<&str> = first["decisions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| x["reason"] == "deployed")
        .filter_map(|x| x["service"].as_str())
        .collect();
    deployed.sort_unstable();
    assert_eq!(deployed, ["spaced", "web"], "{first}");
    let problems = |r: &Value| -> Vec<(String, bool)> {
        let mut p: Vec<(String, bool)> = r["tagProblems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    format!(
                        "{}={}",
                        p["tag"].as_str().unwrap_or("?"),
                        p["value"].as_str().unwrap_or("?")
                    ),
                    p["reported"] == true,
                )
            })
            .collect();
        p.sort();
        p
    };
    assert_eq!(
        problems(&first),
        [
            (
                "autopilot:deploy=123456789012.dkr.ecr.us-east-1.amazonaws.com/web".to_string(),
                false
            ),
            ("autopilot:deploy=Web".to_string(), false),
            ("autopilot:deploy=web:latest".to_string(), false),
        ],
        "{first}"
    );
    let said = |aws: &FakeAws| {
        aws.published()
            .iter()
            .filter(|n| n.title.contains("its tag autopilot:deploy is wrong"))
            .count()
    };
    assert_eq!(said(&d.clients), 3);
    assert_eq!(
        d.clients
            .service("capital")
            .and_then(|s| s.tags.get(tags::TAG_PROBLEM).cloned())
            .as_deref(),
        Some("autopilot:deploy=Web"),
        "remembered on the service"
    );

    // Another push (of any repository): still listed, not said again.
    let again = d
        .handle(push("v1.4.3", &digest(9), "2026-11-16T03:00:00Z"))
        .await
        .expect("push");
    assert!(
        problems(&again).iter().all(|(_, reported)| *reported),
        "{again}"
    );
    assert_eq!(problems(&again).len(), 3);
    assert_eq!(said(&d.clients), 3);
}

fn in_progress(id: &str) -> Value {
    let mut e: Value = serde_json::from_str(include_str!(
        "../../../events/deployer/ecs-deployment-in-progress.json"
    ))
    .expect("sample");
    e["resources"] = json!([SERVICE_ARN]);
    e["detail"]["deploymentId"] = json!(id);
    e["detail"]["reason"] = json!(format!("ECS deployment {id} in progress."));
    e
}

/// The revision `sam deploy` registers (web:9, naming `:latest`, tagged by CloudFormation).
const SAM_REVISION: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:9";

/// `sam deploy` registers [`SAM_REVISION`] and points the service at it: deployment
/// `ecs-svc/3` starts, with the one on `older` (`ecs-svc/2`) still listed.
fn sam_points_the_service_back(d: &Deployer<FakeAws>, older: &str) {
    d.clients.with(|s| {
        let (base, _) = s.revisions[TD].clone();
        s.revisions.insert(
            SAM_REVISION.into(),
            (
                base.copy_as(
                    SAM_REVISION,
                    "app",
                    "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:latest",
                ),
                crate::testing::tags(&[("aws:cloudformation:stack-name", "shop")]),
            ),
        );
        s.services[0].task_definition = SAM_REVISION.into();
        s.services[0].deployments = vec![
            DeploymentSnapshot {
                id: "ecs-svc/3".into(),
                status: "PRIMARY".into(),
                task_definition: SAM_REVISION.into(),
                ..DeploymentSnapshot::default()
            },
            DeploymentSnapshot {
                id: "ecs-svc/2".into(),
                status: "ACTIVE".into(),
                task_definition: older.into(),
                ..DeploymentSnapshot::default()
            },
        ];
    });
}

#[tokio::test]
async fn an_older_revision_that_cannot_be_read_leaves_the_deployments_report_standing() {
    let d = deployer(Strategy::PinDigest, None);
    // The older deployment's revision was deregistered since: reading it fails.
    sam_points_the_service_back(
        &d,
        "arn:aws:ecs:us-east-1:123456789012:task-definition/web:5",
    );
    let result = d
        .handle(in_progress("ecs-svc/3"))
        .await
        .expect("the report stands without the revision it could not read");
    assert_eq!(result["deployment"]["notified"], false, "{result}");
}

#[tokio::test]
async fn a_sam_deploy_that_replaces_the_pinned_release_is_said_in_the_services_thread() {
    let d = deployer(Strategy::PinDigest, None);
    d.handle(push("v1.4.2", DIGEST, "2026-11-16T02:00:00Z"))
        .await
        .expect("push");
    let pinned = d.clients.service("web").expect("web").task_definition;
    // The deployer's own deployment starting: one read of the service and of its revision.
    d.clients.with(|s| {
        s.services[0].deployments = vec![
            DeploymentSnapshot {
                id: "ecs-svc/2".into(),
                status: "PRIMARY".into(),
                task_definition: pinned.clone(),
                ..DeploymentSnapshot::default()
            },
            DeploymentSnapshot {
                id: "ecs-svc/1".into(),
                status: "ACTIVE".into(),
                task_definition: TD.into(),
                ..DeploymentSnapshot::default()
            },
        ]
    });
    let own = d.handle(in_progress("ecs-svc/2")).await.expect("own start");
    assert_eq!(own["deployment"]["notified"], false, "{own}");
    assert_eq!(
        d.clients.calls.snapshot(),
        ["ECS.DescribeServices", "ECS.DescribeTaskDefinition"],
        "the invocation's calls"
    );

    // `sam deploy` registers web:9 (naming `:latest`) and points the service back at it.
    sam_points_the_service_back(&d, &pinned);
    let result = d
        .handle(in_progress("ecs-svc/3"))
        .await
        .expect("sam's start");
    assert_eq!(result["deployment"]["notified"], true, "{result}");
    assert_eq!(
        result["deployment"]["replaced"]["replaced"]["tag"],
        "v1.4.2"
    );
    let notice = d.clients.published().last().cloned().expect("notice");
    assert_eq!(notice.title, "prod/web: web:9 replaces the release web:4");
    assert_eq!(notice.thread_id, SERVICE_ARN, "in the service's thread");
    assert!(
        notice.description.contains("web:latest"),
        "{}",
        notice.description
    );
    assert!(
        notice.description.contains("`v1.4.2`"),
        "{}",
        notice.description
    );

    // The start, delivered again, says the same under the same id (Chatbot shows it once).
    let again = d.handle(in_progress("ecs-svc/3")).await.expect("again");
    assert_eq!(
        again["deployment"]["notificationId"],
        result["deployment"]["notificationId"]
    );
}

/// A blue/green service whose gate failed a stage: ECS shifted traffic back. The deployment's
/// notice carries ECS's own account of it (read with ListServiceDeployments and
/// DescribeServiceDeployments): rolled back, and why.
#[tokio::test]
async fn a_traffic_shifting_services_outcome_says_what_ecs_says_of_its_deployment() {
    let d = deployer(Strategy::PinDigest, None);
    let deployment_arn =
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/Fj3eXbBpqQxYyHEkOsFRy";
    d.clients.with(|s| {
        s.services[0].strategy = Some("BLUE_GREEN".into());
        s.service_deployments.insert(
            deployment_arn.into(),
            crate::model::deployment::ServiceDeploymentBrief {
                arn: deployment_arn.into(),
                status: "ROLLBACK_SUCCESSFUL".into(),
                strategy: Some("BLUE_GREEN".into()),
                rollback_reason: Some(
                    "Service deployment rolled back because of lifecycle hook failure".into(),
                ),
                created_at: Some(chrono::Utc::now()),
                ..Default::default()
            },
        );
    });
    let result = d.handle(deployment("completed")).await.expect("handled");
    assert_eq!(
        result["deployment"]["serviceDeployment"]["status"], "ROLLBACK_SUCCESSFUL",
        "{result}"
    );
    let n = d.clients.published().pop().expect("a notice");
    assert!(
        n.description.contains("ECS's blue/green deployment: rolled back.")
            && n.description
                .contains("Rolled back because: Service deployment rolled back because of lifecycle hook failure"),
        "{}",
        n.description
    );
    assert_eq!(n.additional_context["serviceDeployment"], deployment_arn);
    let calls = d.clients.calls.snapshot();
    assert!(
        calls.contains(&"ECS.ListServiceDeployments".to_string()),
        "{calls:?}"
    );

    // A rolling service reads no service deployment.
    let rolling = deployer(Strategy::PinDigest, None);
    rolling
        .handle(deployment("completed"))
        .await
        .expect("handled");
    assert!(!rolling
        .clients
        .calls
        .snapshot()
        .contains(&"ECS.ListServiceDeployments".to_string()));
}

#[tokio::test]
async fn a_service_deployment_that_cannot_be_read_never_holds_the_notice_back() {
    let d = deployer(Strategy::PinDigest, None);
    d.clients.with(|s| {
        s.services[0].strategy = Some("CANARY".into());
        s.failing
            .insert("ECS.ListServiceDeployments", "AccessDeniedException");
    });
    let result = d.handle(deployment("completed")).await.expect("handled");
    assert_eq!(result["deployment"]["notified"], true, "{result}");
    assert!(result["deployment"].get("serviceDeployment").is_none());
}
