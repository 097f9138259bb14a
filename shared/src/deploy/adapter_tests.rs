//! The deployer's error paths against mocked AWS responses: throttling, 5xx, access denied, not
//! found. Every AWS request is matched by a rule, so an unexpected call fails the test.

use aws_sdk_ecs::operation::describe_services::{DescribeServicesError, DescribeServicesOutput};
use aws_sdk_ecs::operation::describe_task_definition::{
    DescribeTaskDefinitionError, DescribeTaskDefinitionOutput,
};
use aws_sdk_ecs::operation::list_task_definitions::ListTaskDefinitionsOutput;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionOutput;
use aws_sdk_ecs::operation::update_service::UpdateServiceError;
use aws_sdk_ecs::types::{ContainerDefinition, Service, TaskDefinition};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use serde_json::json;

use super::*;
use crate::aws::CallLog;

const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";

fn deployer(ecs: &[&Rule], sns: &[&Rule]) -> Deployer {
    Deployer::new(
        Clients {
            ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs),
            sns: mock_client!(aws_sdk_sns, RuleMode::MatchAny, sns),
            autoscaling: mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[]),
            cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[]),
            tagging: mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, &[]),
            calls: CallLog::default(),
        },
        DeployerConfig {
            targets: vec![DeployTarget {
                repository: "web".into(),
                tags: vec!["*".into()],
                cluster: "prod".into(),
                service: "web".into(),
                container: None,
                strategy: Strategy::PinDigest,
            }],
            fleet: false,
            topic_arn: "arn:aws:sns:us-east-1:123456789012:chat".into(),
            dry_run: false,
            keep_revisions: None,
        },
    )
}

fn push() -> Value {
    json!({
        "version": "0", "id": "e", "detail-type": "ECR Image Action", "source": "aws.ecr",
        "account": "123456789012", "time": "2026-11-16T02:00:00Z", "region": "us-east-1",
        "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": "web",
                   "image-digest": "sha256:abc", "image-tag": "v1"}
    })
}

fn meta(code: &str) -> ErrorMetadata {
    ErrorMetadata::builder()
        .code(code)
        .message(format!("{code} happened"))
        .build()
}

fn service_ok() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
        DescribeServicesOutput::builder()
            .services(
                Service::builder()
                    .service_name("web")
                    .service_arn("arn:aws:ecs:us-east-1:123456789012:service/prod/web")
                    .status("ACTIVE")
                    .task_definition(TD)
                    .build(),
            )
            .build()
    })
}

fn task_definition_ok() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(|| {
        DescribeTaskDefinitionOutput::builder()
            .task_definition(
                TaskDefinition::builder()
                    .task_definition_arn(TD)
                    .family("web")
                    .container_definitions(
                        ContainerDefinition::builder()
                            .name("app")
                            .image("web:v0")
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

#[tokio::test]
async fn throttling_is_retryable_and_nothing_is_registered() {
    let throttled = mock!(aws_sdk_ecs::Client::describe_services)
        .then_error(|| DescribeServicesError::generic(meta("ThrottlingException")));
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    let d = deployer(&[&throttled], &[&publish]);
    let err = d.handle(push()).await.expect_err("throttled");
    assert_eq!(err.error_type(), "Retryable");
    assert_eq!(err.aws_code(), Some("ThrottlingException"));
    assert_eq!(
        throttled.num_calls(),
        3,
        "the SDK's standard retries (3 attempts) ran first"
    );
    assert_eq!(
        publish.num_calls(),
        0,
        "nothing to announce: nothing was decided"
    );
}

#[tokio::test]
async fn a_5xx_is_retryable_whatever_its_code() {
    let five_hundred = mock!(aws_sdk_ecs::Client::describe_services).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(503).expect("status"),
            aws_smithy_types::body::SdkBody::from("{}"),
        )
    });
    let d = deployer(&[&five_hundred], &[]);
    let err = d.handle(push()).await.expect_err("503");
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn access_denied_is_not_retryable_and_names_the_operation() {
    let denied = mock!(aws_sdk_ecs::Client::describe_task_definition)
        .then_error(|| DescribeTaskDefinitionError::generic(meta("AccessDeniedException")));
    let (svc, register) = (
        service_ok(),
        mock!(aws_sdk_ecs::Client::register_task_definition)
            .then_output(|| RegisterTaskDefinitionOutput::builder().build()),
    );
    let d = deployer(&[&svc, &denied, &register], &[]);
    let err = d.handle(push()).await.expect_err("denied");
    assert_eq!(err.error_type(), "NonRetryable");
    assert!(
        err.to_string().contains("DescribeTaskDefinition")
            && err.to_string().contains("AccessDenied"),
        "{err}"
    );
    assert_eq!(register.num_calls(), 0);
}

/// ListTaskDefinitions as AWS answers it, newest first.
fn revisions_listed(arns: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_ecs::Client::list_task_definitions).then_output(move || {
        ListTaskDefinitionsOutput::builder()
            .set_task_definition_arns(Some(arns.iter().map(|a| a.to_string()).collect()))
            .build()
    })
}

#[tokio::test]
async fn a_registration_whose_answer_was_lost_is_found_not_repeated() {
    const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";
    // The first attempt registered web:2, but its answer was a 500.
    let lost = mock!(aws_sdk_ecs::Client::register_task_definition).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(500).expect("status"),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"ServerException","message":"internal"}"#,
            ),
        )
    });
    let listed = mock!(aws_sdk_ecs::Client::list_task_definitions)
        .sequence()
        .output(|| {
            ListTaskDefinitionsOutput::builder()
                .task_definition_arns(TD)
                .build()
        })
        .output(|| {
            ListTaskDefinitionsOutput::builder()
                .task_definition_arns(NEW)
                .task_definition_arns(TD)
                .build()
        })
        .build();
    let ours = mock!(aws_sdk_ecs::Client::describe_task_definition)
        .match_requests(|r| r.task_definition() == Some(NEW))
        .then_output(|| {
            DescribeTaskDefinitionOutput::builder()
                .task_definition(
                    TaskDefinition::builder()
                        .task_definition_arn(NEW)
                        .family("web")
                        .build(),
                )
                .tags(
                    aws_sdk_ecs::types::Tag::builder()
                        .key("autopilot:event-id")
                        .value("e")
                        .build(),
                )
                .tags(
                    aws_sdk_ecs::types::Tag::builder()
                        .key("autopilot:registered-by")
                        .value("deployer")
                        .build(),
                )
                .build()
        });
    let (svc, td) = (service_ok(), task_definition_ok());
    let updated = mock!(aws_sdk_ecs::Client::update_service)
        .match_requests(|r| r.task_definition() == Some(NEW))
        .then_output(|| {
            aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build()
        });
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    let d = deployer(&[&svc, &ours, &td, &listed, &lost, &updated], &[&publish]);
    let result = d.handle(push()).await.expect("deployed");
    assert_eq!(result["decisions"][0]["taskDefinitionArn"], NEW, "{result}");
    assert_eq!(
        lost.num_calls(),
        1,
        "registered once: the SDK does not retry it blindly"
    );
    assert_eq!(updated.num_calls(), 1);
}

#[tokio::test]
async fn a_failed_update_is_announced_and_returned() {
    let (svc, td) = (service_ok(), task_definition_ok());
    let register = mock!(aws_sdk_ecs::Client::register_task_definition).then_output(|| {
        RegisterTaskDefinitionOutput::builder()
            .task_definition(
                TaskDefinition::builder()
                    .task_definition_arn(format!("{TD}2"))
                    .build(),
            )
            .build()
    });
    let not_found = mock!(aws_sdk_ecs::Client::update_service)
        .then_error(|| UpdateServiceError::generic(meta("AccessDeniedException")));
    let publish = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("m").build());
    let listed = revisions_listed(&[TD]);
    let d = deployer(&[&svc, &td, &listed, &register, &not_found], &[&publish]);
    let err = d.handle(push()).await.expect_err("update failed");
    assert_eq!(err.aws_code(), Some("AccessDeniedException"));
    assert_eq!(err.error_type(), "NonRetryable");
    assert_eq!(publish.num_calls(), 1, "the failure reaches chat");
    assert_eq!(register.num_calls(), 1);
}
