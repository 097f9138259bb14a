//! The decision table of the deployer's planner.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::events::{envelope, typed};
use crate::model::service::ServiceSnapshot;

const DIGEST: &str = "sha256:0c1f6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7";
const OLD_DIGEST: &str = "sha256:aaaa6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7";
const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
const SVC: &str = "arn:aws:ecs:us-east-1:123456789012:service/prod/web";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 16, 3, 0, 0).unwrap()
}

fn push_with(detail: Value, time: &str) -> Event<EcrImageAction> {
    typed(
        envelope(json!({
            "version": "0", "id": "evt-1", "detail-type": "ECR Image Action", "source": "aws.ecr",
            "account": "123456789012", "time": time, "region": "us-east-1", "resources": [],
            "detail": detail,
        }))
        .unwrap(),
    )
    .unwrap()
}

fn push(tag: &str) -> Event<EcrImageAction> {
    push_with(
        json!({"action-type": "PUSH", "result": "SUCCESS", "repository-name": "web",
               "image-digest": DIGEST, "image-tag": tag}),
        "2026-11-16T02:00:00Z",
    )
}

fn target(strategy: Strategy) -> DeployTarget {
    DeployTarget {
        repository: "web".into(),
        tags: vec!["v*".into(), "latest".into()],
        cluster: "prod".into(),
        service: "web".into(),
        container: None,
        strategy,
    }
}

fn live(image: &str, td_tags: &[(&str, &str)], svc_tags: &[(&str, &str)]) -> Live {
    Live {
        service: Some(ServiceSnapshot {
            arn: SVC.into(),
            status: "ACTIVE".into(),
            task_definition: TD.into(),
            tags: svc_tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..ServiceSnapshot::default()
        }),
        task_definition: Some(LiveTaskDefinition {
            arn: TD.into(),
            containers: vec![("app".into(), image.into())],
            tags: td_tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }),
    }
}

fn decide_one(push: &Event<EcrImageAction>, t: DeployTarget, l: Option<Live>) -> Planned {
    let targets = vec![t];
    let mut state = BTreeMap::new();
    if let Some(l) = l {
        state.insert(0, l);
    }
    let plan = plan_push(push, &targets, &state, false, now());
    assert_eq!(plan.planned.len(), 1);
    plan.planned.into_iter().next().unwrap()
}

#[test]
fn pin_digest_deploys_a_new_image_by_digest_with_its_tags() {
    let p = decide_one(
        &push("v1.4.2"),
        target(Strategy::PinDigest),
        Some(live(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1.4.1",
            &[("team", "payments")],
            &[],
        )),
    );
    assert_eq!(p.decision.action, Action::Deploy);
    assert_eq!(p.decision.reason, Reason::Deployed);
    let Some(Step::PinDigest {
        base,
        container,
        image,
        tags,
        ..
    }) = p.step
    else {
        panic!("expected a pin-digest step, got {:?}", p.step)
    };
    assert_eq!(base, TD);
    assert_eq!(container, "app");
    assert_eq!(
        image,
        format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{DIGEST}")
    );
    assert_eq!(
        tags["team"], "payments",
        "the revision's own tags are carried over"
    );
    assert_eq!(tags["autopilot:image-tag"], "v1.4.2");
    assert_eq!(tags["autopilot:image-digest"], DIGEST);
    assert_eq!(tags["autopilot:pushed-at"], "2026-11-16T02:00:00Z");
    assert_eq!(tags["autopilot:event-id"], "evt-1");
    assert_eq!(tags["autopilot:replaces"], TD);
    assert!(
        tags.values().all(|v| crate::tags::is_valid_value(v)),
        "{tags:?}"
    );
}

#[test]
fn follow_tag_forces_a_deployment_and_records_the_image_on_the_service() {
    let p = decide_one(
        &push("latest"),
        target(Strategy::FollowTag),
        Some(live("web:latest", &[], &[])),
    );
    let Some(Step::FollowTag { service_arn, tags }) = p.step else {
        panic!("expected a follow-tag step, got {:?}", p.step)
    };
    assert_eq!(service_arn, SVC);
    assert_eq!(tags["autopilot:image-digest"], DIGEST);
}

#[test]
fn prechecks_skip_without_reading_state() {
    let cases: Vec<(Value, Reason)> = vec![
        (
            json!({"action-type": "DELETE", "result": "SUCCESS", "repository-name": "web", "image-digest": DIGEST, "image-tag": "v1"}),
            Reason::NotASuccessfulPush,
        ),
        (
            json!({"action-type": "PUSH", "result": "FAILURE", "repository-name": "web", "image-tag": "v1"}),
            Reason::NotASuccessfulPush,
        ),
        (
            json!({"action-type": "PUSH", "result": "SUCCESS", "repository-name": "web", "image-digest": DIGEST}),
            Reason::NoTag,
        ),
        (
            json!({"action-type": "PUSH", "result": "SUCCESS", "repository-name": "web", "image-digest": DIGEST, "image-tag": "v1",
                "artifact-media-type": "application/spdx+json"}),
            Reason::NotAnImage,
        ),
        (
            json!({"action-type": "PUSH", "result": "SUCCESS", "repository-name": "web", "image-digest": DIGEST,
                "image-tag": "sha256-abc.att"}),
            Reason::NotAnImage,
        ),
        (
            json!({"action-type": "PUSH", "result": "SUCCESS", "repository-name": "web", "image-digest": DIGEST, "image-tag": "feature-x"}),
            Reason::NoMatchingTarget,
        ),
    ];
    let targets = vec![target(Strategy::PinDigest)];
    for (detail, reason) in cases {
        let push = push_with(detail.clone(), "2026-11-16T02:00:00Z");
        assert!(
            targets_needing_state(&push, &targets).is_empty(),
            "{detail}"
        );
        let plan = plan_push(&push, &targets, &BTreeMap::new(), false, now());
        assert_eq!(plan.planned[0].decision.reason, reason, "{detail}");
        assert_eq!(plan.planned[0].decision.action, Action::Skip);
        assert!(plan.planned[0].step.is_none());
    }
}

#[test]
fn another_repository_gets_one_no_matching_target_decision() {
    let mut p = push("v1");
    p.detail.repository_name = "api".into();
    let plan = plan_push(
        &p,
        &[target(Strategy::PinDigest)],
        &BTreeMap::new(),
        false,
        now(),
    );
    assert_eq!(plan.planned.len(), 1);
    assert_eq!(plan.planned[0].decision.reason, Reason::NoMatchingTarget);
    assert_eq!(plan.planned[0].decision.service, None);
}

#[test]
fn the_running_digest_is_not_deployed_again() {
    // By the digest in the image reference...
    let p = decide_one(
        &push("v2"),
        target(Strategy::PinDigest),
        Some(live(&format!("r/web@{DIGEST}"), &[], &[])),
    );
    assert_eq!(p.decision.reason, Reason::AlreadyRunning);
    // ...by the revision's tag...
    let p = decide_one(
        &push("v2"),
        target(Strategy::PinDigest),
        Some(live("r/web:v1", &[("autopilot:image-digest", DIGEST)], &[])),
    );
    assert_eq!(p.decision.reason, Reason::AlreadyRunning);
    // ...and for follow-tag by the service's tag.
    let p = decide_one(
        &push("latest"),
        target(Strategy::FollowTag),
        Some(live(
            "r/web:latest",
            &[],
            &[("autopilot:image-digest", DIGEST)],
        )),
    );
    assert_eq!(p.decision.reason, Reason::AlreadyRunning);
}

#[test]
fn a_late_event_never_rolls_back() {
    let l = live(
        &format!("r/web@{OLD_DIGEST}"),
        &[("autopilot:pushed-at", "2026-11-16T02:30:00Z")],
        &[],
    );
    let p = decide_one(&push("v2"), target(Strategy::PinDigest), Some(l.clone()));
    assert_eq!(p.decision.reason, Reason::OlderThanRunning);
    // A newer push goes ahead.
    let newer = push_with(
        json!({"action-type": "PUSH", "result": "SUCCESS", "repository-name": "web", "image-digest": DIGEST, "image-tag": "v2"}),
        "2026-11-16T02:45:00Z",
    );
    assert_eq!(
        decide_one(&newer, target(Strategy::PinDigest), Some(l))
            .decision
            .reason,
        Reason::Deployed
    );
}

#[test]
fn a_frozen_service_is_held_back() {
    for (freeze, reason) in [("true", Reason::DeployFreeze), ("false", Reason::Deployed)] {
        let l = live("r/web:v1", &[], &[("autopilot:deploy-freeze", freeze)]);
        let p = decide_one(&push("v2"), target(Strategy::PinDigest), Some(l));
        assert_eq!(
            p.decision.reason, reason,
            "autopilot:deploy-freeze={freeze}"
        );
    }
    assert!(Reason::DeployFreeze.is_notified());
}

#[test]
fn a_missing_or_inactive_service_is_reported() {
    let p = decide_one(&push("v2"), target(Strategy::PinDigest), None);
    assert_eq!(p.decision.reason, Reason::ServiceNotFound);
    assert!(p.decision.reason.is_notified());
    let mut l = live("r/web:v1", &[], &[]);
    l.service.as_mut().unwrap().status = "DRAINING".into();
    let p = decide_one(&push("v2"), target(Strategy::PinDigest), Some(l));
    assert_eq!(p.decision.reason, Reason::ServiceNotFound);
    assert!(p.decision.detail.contains("DRAINING"));
}

#[test]
fn a_service_another_controller_deploys_is_skipped_for_either_strategy() {
    for controller in ["CODE_DEPLOY", "EXTERNAL"] {
        for strategy in [Strategy::PinDigest, Strategy::FollowTag] {
            let mut l = live("r/web:v1", &[], &[]);
            l.service.as_mut().unwrap().controller = Some(controller.into());
            let p = decide_one(&push("v2"), target(strategy), Some(l));
            assert_eq!(
                (p.decision.action, p.decision.reason),
                (Action::Skip, Reason::UnsupportedDeploymentController),
                "{controller} {strategy:?}"
            );
            assert!(p.step.is_none(), "nothing registered, nothing updated");
            assert!(
                p.decision.detail.contains(controller),
                "{}",
                p.decision.detail
            );
        }
    }
    assert!(Reason::UnsupportedDeploymentController.is_notified());
    // ECS's own controller (or none said) deploys.
    for controller in [Some("ECS"), None] {
        let mut l = live("r/web:v1", &[], &[]);
        l.service.as_mut().unwrap().controller = controller.map(str::to_string);
        let p = decide_one(&push("v2"), target(Strategy::PinDigest), Some(l));
        assert_eq!(p.decision.reason, Reason::Deployed, "{controller:?}");
    }
}

#[test]
fn a_short_arn_service_cannot_follow_a_tag_but_can_be_pinned() {
    let short = |strategy| {
        let mut l = live("r/web:v1", &[], &[]);
        l.service.as_mut().unwrap().arn = "arn:aws:ecs:us-east-1:123456789012:service/web".into();
        decide_one(&push("v2"), target(strategy), Some(l))
    };
    let p = short(Strategy::FollowTag);
    assert_eq!(p.decision.reason, Reason::ShortServiceArn);
    assert!(p.step.is_none());
    assert!(
        p.decision
            .detail
            .contains("migrate the service to the long ARN format"),
        "{}",
        p.decision.detail
    );
    assert!(Reason::ShortServiceArn.is_notified());
    // Pinning a digest tags only the revision it registers.
    assert_eq!(short(Strategy::PinDigest).decision.reason, Reason::Deployed);
}

#[test]
fn the_container_must_be_named_when_there_are_several() {
    let mut l = live("r/web:v1", &[], &[]);
    l.task_definition
        .as_mut()
        .unwrap()
        .containers
        .push(("envoy".into(), "envoy:1".into()));
    let p = decide_one(&push("v2"), target(Strategy::PinDigest), Some(l.clone()));
    assert_eq!(p.decision.reason, Reason::ContainerNotFound);
    assert!(
        p.decision.detail.contains("app, envoy"),
        "{}",
        p.decision.detail
    );
    let mut t = target(Strategy::PinDigest);
    t.container = Some("app".into());
    assert_eq!(
        decide_one(&push("v2"), t.clone(), Some(l.clone()))
            .decision
            .reason,
        Reason::Deployed
    );
    t.container = Some("missing".into());
    assert_eq!(
        decide_one(&push("v2"), t, Some(l)).decision.reason,
        Reason::ContainerNotFound
    );
}

#[test]
fn one_push_feeds_every_matching_entry_on_its_own() {
    let mut worker = target(Strategy::PinDigest);
    worker.service = "worker".into();
    let mut other_tags = target(Strategy::PinDigest);
    other_tags.service = "canary".into();
    other_tags.tags = vec!["canary-*".into()];
    let targets = vec![target(Strategy::PinDigest), worker, other_tags];
    let p = push("v3");
    assert_eq!(targets_needing_state(&p, &targets), vec![0, 1]);
    let state = BTreeMap::from([
        (0, live("r/web:v1", &[], &[])),
        (1, live(&format!("r/web@{DIGEST}"), &[], &[])),
    ]);
    let plan = plan_push(&p, &targets, &state, true, now());
    let reasons: Vec<Reason> = plan.planned.iter().map(|p| p.decision.reason).collect();
    assert_eq!(
        reasons,
        vec![
            Reason::Deployed,
            Reason::AlreadyRunning,
            Reason::NoMatchingTarget
        ]
    );
    assert!(plan.planned.iter().all(|p| p.decision.dry_run));
}

#[test]
fn decisions_serialise_as_the_invocation_result_says() {
    let p = decide_one(&push("v2"), target(Strategy::PinDigest), None);
    let v = serde_json::to_value(&p.decision).unwrap();
    assert_eq!(
        v,
        json!({"cluster": "prod", "service": "web", "action": "skip", "reason": "service-not-found",
               "detail": v["detail"], "taskDefinitionArn": null, "dryRun": false})
    );
}

#[test]
fn short_digest_never_panics_on_odd_input() {
    assert_eq!(short_digest(DIGEST), "sha256:0c1f6e7bb4b4");
    assert_eq!(
        short_digest("sha256:ééééééééééééééé"),
        "sha256:éééééééééééé"
    );
    assert_eq!(short_digest("x"), "x");
}
