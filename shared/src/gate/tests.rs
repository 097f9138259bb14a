//! The gate's decisions, as whole invocations over the in-memory fake: every judged stage, the
//! first call and its callbacks, a rollback, a release that fails each check, blind reads.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::plan::{DeploymentFacts, Memory, Verdict, MAX_READ_FAILURES};
use super::*;
use crate::events::{HookInvocation, LifecycleStage};
use crate::model::deployment::ServiceDeploymentBrief;
use crate::model::health::{AlarmReading, TargetHealth, Traffic};
use crate::runtime::Handler;
use crate::testing::FakeAws;

const POST_TEST: &str = include_str!("../../../events/deploy-gate/post-test-traffic-shift.json");
const PRE_PRODUCTION: &str =
    include_str!("../../../events/deploy-gate/pre-production-traffic-shift.json");
const ROLLBACK_SHIFT: &str =
    include_str!("../../../events/deploy-gate/production-traffic-shift-rollback.json");
const SERVICE_ARN: &str = "arn:aws:ecs:us-west-2:123456789012:service/my-cluster/my-service";
const GREEN: &str =
    "arn:aws:ecs:us-west-2:123456789012:service-revision/my-cluster/my-service/7230263549221235555";
const BLUE: &str =
    "arn:aws:ecs:us-west-2:123456789012:service-revision/my-cluster/my-service/4980306466373577095";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/my-service-green/73e2d6bc24d8a067";

fn sample(text: &str) -> Value {
    serde_json::from_str(text).expect("sample events are JSON")
}

fn config(dry_run: bool) -> GateConfig {
    GateConfig {
        topic_arn: "arn:aws:sns:us-west-2:123456789012:chat".into(),
        dry_run,
        check_seconds: 30,
        defaults: GateSettings {
            alarms: vec!["my-service-5xx".into()],
            ..GateSettings::default()
        },
    }
}

/// A fake of a healthy release: a deployment that replaces a running revision, two healthy
/// targets of two tasks, its alarm OK, traffic with few errors.
fn healthy() -> FakeAws {
    let aws = FakeAws::default();
    aws.with(|s| {
        s.service("my-cluster", "my-service", 2, "web:7", &[]);
        s.gate.deployment = DeploymentFacts {
            deployment: ServiceDeploymentBrief {
                status: "IN_PROGRESS".into(),
                has_source: true,
                requested_tasks: Some(2),
                bake_minutes: Some(15),
                ..ServiceDeploymentBrief::default()
            },
            target_group: Some(TG.into()),
            load_balancer: Some("app/web-alb/50dc6c495c0c9188".into()),
        };
        s.gate.alarms = vec![alarm("my-service-5xx", "OK")];
        s.gate.targets = TargetHealth {
            healthy: 2,
            ..TargetHealth::default()
        };
        s.gate.traffic = Traffic {
            requests: 1200.0,
            errors: 3.0,
        };
    });
    aws
}

fn alarm(name: &str, state: &str) -> AlarmReading {
    AlarmReading {
        name: name.into(),
        state: state.into(),
        reason: Some("Threshold Crossed: 1 datapoint [12.0 (01/12/26 10:00:00)] was greater than the threshold (5.0).".into()),
    }
}

fn gate(aws: FakeAws, dry_run: bool) -> DeployGate<FakeAws> {
    DeployGate::new(aws, config(dry_run))
}

/// A linear or canary step: the new revision at `green`% of production traffic.
fn step(green: f64) -> Value {
    let mut v = sample(PRE_PRODUCTION);
    v["executionDetails"]["productionTrafficWeights"] =
        json!({ GREEN: green, BLUE: 100.0 - green });
    v
}

/// The event as ECS hands it back after the gate answered `IN_PROGRESS` with `answer`, the
/// stage having begun `minutes_ago`.
fn callback(event: &Value, answer: &Value, minutes_ago: i64) -> Value {
    let mut memory: Memory =
        serde_json::from_value(answer["hookDetails"]["autopilot"].clone()).expect("a memory");
    memory.since = Utc::now() - Duration::minutes(minutes_ago);
    let mut v = event.clone();
    v["hookDetails"] = json!({ "autopilot": memory });
    v
}

/// Runs a stage to its first answer, then calls back as if `minutes_ago` had passed.
async fn after(g: &DeployGate<FakeAws>, event: Value, minutes_ago: i64) -> Value {
    let first = g.handle(event.clone()).await.expect("answered");
    assert_eq!(first["hookStatus"], "IN_PROGRESS", "{first}");
    g.handle(callback(&event, &first, minutes_ago))
        .await
        .expect("answered")
}

#[test]
fn every_sample_invocation_parses_as_ecs_sends_it() {
    let post = HookInvocation::parse(&sample(POST_TEST)).unwrap();
    assert_eq!(post.stage, LifecycleStage::PostTestTrafficShift);
    assert_eq!(post.service_arn, SERVICE_ARN);
    assert_eq!(post.target_revision_arn, GREEN);
    assert!(post.production_weights.is_empty() && post.hook_details.is_empty());
    let pre = HookInvocation::parse(&sample(PRE_PRODUCTION)).unwrap();
    assert_eq!(pre.green_production_weight(), Some(0.0));
    assert!(
        !pre.is_rollback_shift(),
        "the first step looks reversed, but is no rollback"
    );
    let back = HookInvocation::parse(&sample(ROLLBACK_SHIFT)).unwrap();
    assert!(back.is_rollback_shift());
}

#[test]
fn a_malformed_invocation_is_an_error_naming_the_field() {
    let mut v = sample(POST_TEST);
    v["executionDetails"]["productionTrafficWeights"] = json!({ GREEN: "half" });
    let e = HookInvocation::parse(&v).unwrap_err().to_string();
    assert!(
        e.contains("executionDetails.productionTrafficWeights"),
        "{e}"
    );
    let mut v = sample(POST_TEST);
    v.as_object_mut().unwrap().remove("resourceArn");
    let e = HookInvocation::parse(&v).unwrap_err().to_string();
    assert!(e.contains("resourceArn: missing"), "{e}");
    let e = HookInvocation::parse(&json!({"detail": {}}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("executionDetails"), "{e}");
}

#[tokio::test]
async fn a_stage_the_gate_does_not_judge_passes_without_a_read() {
    let g = gate(healthy(), false);
    let mut v = sample(POST_TEST);
    v["lifecycleStage"] = json!("TEST_TRAFFIC_SHIFT");
    v["executionDetails"]["testTrafficWeights"] = json!({ GREEN: 100, BLUE: 0 });
    let answer = g.handle(v).await.unwrap();
    assert_eq!(answer, json!({"hookStatus": "SUCCEEDED"}));
    assert!(g.clients.calls.snapshot().is_empty(), "no read");
    assert!(g.clients.published().is_empty());
}

#[tokio::test]
async fn a_rollback_shift_passes_at_once_and_quietly() {
    let g = gate(healthy(), false);
    let answer = g.handle(sample(ROLLBACK_SHIFT)).await.unwrap();
    assert_eq!(answer["hookStatus"], "SUCCEEDED");
    assert!(g.clients.calls.snapshot().is_empty());
}

#[tokio::test]
async fn a_stage_of_a_deployment_that_is_rolling_back_passes() {
    let aws = healthy();
    aws.with(|s| s.gate.deployment.deployment.status = "ROLLBACK_IN_PROGRESS".into());
    let g = gate(aws, false);
    let answer = g.handle(sample(PRE_PRODUCTION)).await.unwrap();
    assert_eq!(answer["hookStatus"], "SUCCEEDED");
    assert!(g.clients.published().is_empty());
}

#[tokio::test]
async fn a_services_first_deployment_passes_and_says_why() {
    let aws = healthy();
    aws.with(|s| s.gate.deployment.deployment.has_source = false);
    let g = gate(aws, false);
    let answer = g.handle(sample(POST_TEST)).await.unwrap();
    assert_eq!(answer["hookStatus"], "SUCCEEDED");
    let told = g.clients.published();
    assert_eq!(told.len(), 1);
    assert!(
        told[0].description.contains("first deployment"),
        "{}",
        told[0].description
    );
}

#[tokio::test]
async fn the_first_call_begins_the_soak_and_answers_in_progress_with_its_memory() {
    let g = gate(healthy(), false);
    let answer = g.handle(sample(POST_TEST)).await.unwrap();
    assert_eq!(answer["hookStatus"], "IN_PROGRESS");
    assert_eq!(answer["callBackDelay"], 30);
    let memory = &answer["hookDetails"]["autopilot"];
    assert_eq!(memory["stage"], "POST_TEST_TRAFFIC_SHIFT");
    assert_eq!(memory["begun"], true);
    assert_eq!(memory["targetGroup"], TG);
    assert_eq!(
        g.clients.calls.snapshot(),
        [
            "ECS.DescribeServiceDeployments",
            "ECS.DescribeServiceRevisions",
            "ECS.DescribeServices",
            "CloudWatch.DescribeAlarms",
            "Elastic Load Balancing v2.DescribeTargetHealth",
        ]
    );
    assert!(g.clients.published().is_empty(), "a wait is not told");
}

#[tokio::test]
async fn a_callback_reads_only_health_and_a_soaked_healthy_release_passes_in_its_thread() {
    let g = gate(healthy(), false);
    let event = step(20.0);
    let first = g.handle(event.clone()).await.unwrap();
    g.clients.calls.take();
    let answer = g.handle(callback(&event, &first, 6)).await.unwrap();
    assert_eq!(answer, json!({"hookStatus": "SUCCEEDED"}));
    assert_eq!(
        g.clients.calls.snapshot(),
        [
            "CloudWatch.DescribeAlarms",
            "Elastic Load Balancing v2.DescribeTargetHealth",
            "CloudWatch.GetMetricData",
            "SNS.Publish",
        ],
        "a callback reads no deployment, no service"
    );
    let told = g.clients.published();
    assert_eq!(told.len(), 1);
    let n = &told[0];
    assert_eq!(n.thread_id, SERVICE_ARN, "the deploy's thread");
    assert!(n.title.contains("passed the gate"), "{}", n.title);
    assert!(n.title.contains("step at 20%"), "{}", n.title);
    assert!(
        n.description.contains("1200 production request(s)"),
        "{}",
        n.description
    );
}

#[tokio::test]
async fn a_callback_inside_the_soak_keeps_waiting_without_reading_traffic() {
    let g = gate(healthy(), false);
    let answer = after(&g, step(20.0), 2).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS");
    assert_eq!(answer["hookDetails"]["autopilot"]["checks"], 2);
    assert!(g.clients.with(|s| s.gate.traffic_reads.is_empty()));
}

#[tokio::test]
async fn an_alarm_that_fires_during_the_soak_fails_the_stage_at_once_naming_it() {
    let g = gate(healthy(), false);
    let event = step(20.0);
    let first = g.handle(event.clone()).await.unwrap();
    g.clients
        .with(|s| s.gate.alarms = vec![alarm("my-service-5xx", "ALARM")]);
    let answer = g.handle(callback(&event, &first, 1)).await.unwrap();
    assert_eq!(answer, json!({"hookStatus": "FAILED"}));
    let n = &g.clients.published()[0];
    assert!(n.title.contains("stopped by the gate"), "{}", n.title);
    assert!(
        n.description
            .contains("alarm my-service-5xx is in ALARM: Threshold Crossed"),
        "{}",
        n.description
    );
    assert!(!n.next_steps.is_empty());
}

#[tokio::test]
async fn a_release_that_gets_no_traffic_waits_out_its_patience_then_is_rolled_back() {
    let aws = healthy();
    aws.with(|s| s.gate.traffic = Traffic::default());
    let g = gate(aws, false);
    let event = step(20.0);
    // Soaked, inside the patience: still waiting for requests.
    let waiting = after(&g, event.clone(), 6).await;
    assert_eq!(waiting["hookStatus"], "IN_PROGRESS", "{waiting}");
    // Soak (5) and patience (10) over.
    let answer = g.handle(callback(&event, &waiting, 16)).await.unwrap();
    assert_eq!(answer["hookStatus"], "FAILED");
    let n = g.clients.published().pop().unwrap();
    assert!(
        n.description.contains("0 production request(s)") && n.description.contains("50 needed"),
        "{}",
        n.description
    );
}

#[tokio::test]
async fn before_production_traffic_only_test_requests_count_and_none_are_needed_by_default() {
    let aws = healthy();
    aws.with(|s| s.gate.traffic = Traffic::default());
    let g = gate(aws, false);
    let answer = after(&g, sample(PRE_PRODUCTION), 6).await;
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
}

#[tokio::test]
async fn targets_that_stay_unhealthy_fail_the_stage_with_elbs_reason() {
    let aws = healthy();
    aws.with(|s| {
        s.gate.targets = TargetHealth {
            healthy: 1,
            unhealthy: 1,
            reasons: vec![
                "Target.ResponseCodeMismatch: Health checks failed with these codes: [502]".into(),
            ],
            ..TargetHealth::default()
        }
    });
    let g = gate(aws, false);
    let answer = after(&g, sample(POST_TEST), 16).await;
    assert_eq!(answer["hookStatus"], "FAILED");
    let n = g.clients.published().pop().unwrap();
    assert!(
        n.description.contains("1 of 2 target(s) healthy, 2 needed")
            && n.description.contains("ResponseCodeMismatch"),
        "{}",
        n.description
    );
}

#[tokio::test]
async fn insufficient_data_is_no_pass_unless_the_service_allows_it() {
    let aws = healthy();
    aws.with(|s| s.gate.alarms = vec![alarm("my-service-5xx", "INSUFFICIENT_DATA")]);
    let g = gate(aws, false);
    let answer = after(&g, step(20.0), 16).await;
    assert_eq!(answer["hookStatus"], "FAILED");
    assert!(g.clients.published()[0]
        .description
        .contains("has no data (INSUFFICIENT_DATA)"));

    let aws = healthy();
    aws.with(|s| {
        s.gate.alarms = vec![alarm("my-service-5xx", "INSUFFICIENT_DATA")];
        s.services[0].tags.insert(
            "autopilot:gate-allow-insufficient-data".into(),
            "true".into(),
        );
    });
    let g = gate(aws, false);
    let answer = after(&g, step(20.0), 6).await;
    assert_eq!(answer["hookStatus"], "SUCCEEDED");
}

#[tokio::test]
async fn too_many_5xx_fail_the_stage_with_the_share() {
    let aws = healthy();
    aws.with(|s| {
        s.gate.traffic = Traffic {
            requests: 400.0,
            errors: 40.0,
        }
    });
    let g = gate(aws, false);
    let answer = after(&g, step(20.0), 6).await;
    assert_eq!(answer["hookStatus"], "FAILED");
    assert!(g.clients.published()[0]
        .description
        .contains("10.00% of its requests answered 5XX"));
}

#[tokio::test]
async fn an_alarm_that_does_not_exist_fails_the_stage_rather_than_passing_unwatched() {
    let aws = healthy();
    aws.with(|s| s.gate.alarms.clear());
    let g = gate(aws, false);
    let answer = g.handle(sample(POST_TEST)).await.unwrap();
    assert_eq!(answer["hookStatus"], "FAILED");
    assert!(g.clients.published()[0]
        .description
        .contains("alarm my-service-5xx does not exist"));
}

#[tokio::test]
async fn reads_that_keep_failing_are_retried_then_fail_the_stage_never_the_invocation() {
    let aws = healthy();
    aws.with(|s| {
        s.failing
            .insert("CloudWatch.DescribeAlarms", "ThrottlingException")
    });
    let g = gate(aws, false);
    let event = step(20.0);
    let mut answer = g.handle(event.clone()).await.unwrap();
    for n in 1..MAX_READ_FAILURES {
        assert_eq!(answer["hookStatus"], "IN_PROGRESS", "failure {n}: {answer}");
        assert_eq!(answer["hookDetails"]["autopilot"]["readFailures"], n);
        let mut next = event.clone();
        next["hookDetails"] = answer["hookDetails"].clone();
        answer = g.handle(next).await.unwrap();
    }
    assert_eq!(answer["hookStatus"], "FAILED");
    assert!(g.clients.published()[0]
        .description
        .contains("ThrottlingException"));
}

#[tokio::test]
async fn a_first_read_that_fails_is_retried_with_the_stage_still_to_begin() {
    let aws = healthy();
    aws.with(|s| {
        s.failing
            .insert("ECS.DescribeServiceDeployments", "ServerException")
    });
    let g = gate(aws, false);
    let event = sample(POST_TEST);
    let answer = g.handle(event.clone()).await.unwrap();
    assert_eq!(answer["hookStatus"], "IN_PROGRESS");
    assert_eq!(answer["hookDetails"]["autopilot"]["begun"], false);
    g.clients.with(|s| s.failing.clear());
    let mut next = event.clone();
    next["hookDetails"] = answer["hookDetails"].clone();
    let answer = g.handle(next).await.unwrap();
    assert_eq!(
        answer["hookDetails"]["autopilot"]["begun"], true,
        "{answer}"
    );
}

#[tokio::test]
async fn the_memory_of_another_step_is_not_used() {
    let g = gate(healthy(), false);
    let first = g.handle(step(10.0)).await.unwrap();
    // ECS hands the details of step 10% to step 20%: the new step begins its own soak.
    let answer = g.handle(callback(&step(20.0), &first, 30)).await.unwrap();
    assert_eq!(answer["hookStatus"], "IN_PROGRESS");
    assert_eq!(answer["hookDetails"]["autopilot"]["step"], 20.0);
    assert_eq!(answer["hookDetails"]["autopilot"]["checks"], 1);
}

#[tokio::test]
async fn in_a_dry_run_a_failure_is_told_and_let_through() {
    let aws = healthy();
    aws.with(|s| s.gate.alarms = vec![alarm("my-service-5xx", "ALARM")]);
    let g = gate(aws, true);
    let answer = g.handle(sample(POST_TEST)).await.unwrap();
    assert_eq!(answer, json!({"hookStatus": "SUCCEEDED"}));
    let n = &g.clients.published()[0];
    assert!(
        n.title.contains("failed the gate") && n.title.contains("[dry run]"),
        "{}",
        n.title
    );
}

#[tokio::test]
async fn a_service_tag_sets_its_own_soak() {
    let aws = healthy();
    aws.with(|s| {
        s.services[0]
            .tags
            .insert("autopilot:gate-soak-minutes".into(), "30".into())
    });
    let g = gate(aws, false);
    let answer = after(&g, step(20.0), 6).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "6 of 30 minutes");
    assert_eq!(
        answer["hookDetails"]["autopilot"]["settings"]["soakMinutes"],
        30
    );
}

#[test]
fn the_answer_has_only_the_keys_ecs_documents() {
    let g = gate(FakeAws::default(), false);
    let d = plan::blind("x".into(), 1, None);
    let v = serde_json::to_value(g.answer(&d)).unwrap();
    assert_eq!(v, json!({"hookStatus": "FAILED"}));
    let _ = Verdict::InProgress;
}

#[tokio::test]
async fn after_the_full_shift_a_pass_says_the_bake_time_that_follows() {
    let g = gate(healthy(), false);
    let mut event = sample(POST_TEST);
    event["lifecycleStage"] = json!("POST_PRODUCTION_TRAFFIC_SHIFT");
    let answer = after(&g, event, 6).await;
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    let n = &g.clients.published()[0];
    assert!(
        n.description
            .contains("keeps the previous revision for the 15-minute bake time"),
        "{}",
        n.description
    );
    assert!(
        n.description.contains("1200 production request(s)"),
        "{}",
        n.description
    );
}
