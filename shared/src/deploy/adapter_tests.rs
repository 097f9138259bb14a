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
use crate::runtime::Handler;

const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";

fn deployer(ecs: &[&Rule], sns: &[&Rule]) -> Deployer {
    Deployer::new(
        crate::aws::mocked_clients(ecs, sns, &[]),
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
            reminders: None,
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

#[tokio::test]
async fn the_copy_of_a_cloudformation_revision_keeps_its_restart_opt_in_and_no_aws_tags() {
    // CloudFormation tags what it creates with `aws:cloudformation:*`; RegisterTaskDefinition
    // refuses keys with the reserved `aws:` prefix, so the copy must leave them out.
    let cfn = mock!(aws_sdk_ecs::Client::describe_task_definition).then_output(|| {
        let tag = |k: &str, v: &str| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build();
        DescribeTaskDefinitionOutput::builder()
            .task_definition(
                TaskDefinition::builder()
                    .task_definition_arn(TD)
                    .family("web")
                    .container_definitions(
                        ContainerDefinition::builder()
                            .name("app")
                            .image("web:latest")
                            .build(),
                    )
                    .build(),
            )
            .tags(tag("aws:cloudformation:stack-name", "shop"))
            .tags(tag("aws:cloudformation:logical-id", "TaskDefinition"))
            .tags(tag("autopilot:restart", "on-interruption"))
            .tags(tag("team", "payments"))
            .build()
    });
    let register = mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(|r| {
            let keys: Vec<&str> = r.tags().iter().filter_map(|t| t.key()).collect();
            !keys
                .iter()
                .any(|k| k.to_ascii_lowercase().starts_with("aws:"))
                && keys.contains(&"autopilot:restart")
                && keys.contains(&"team")
                && keys.contains(&"autopilot:registered-by")
        })
        .then_output(|| {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(
                    TaskDefinition::builder()
                        .task_definition_arn(format!("{TD}2"))
                        .build(),
                )
                .build()
        });
    let updated = mock!(aws_sdk_ecs::Client::update_service).then_output(|| {
        aws_sdk_ecs::operation::update_service::UpdateServiceOutput::builder().build()
    });
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    let (svc, listed) = (service_ok(), revisions_listed(&[TD]));
    let d = deployer(&[&svc, &cfn, &listed, &register, &updated], &[&publish]);
    let result = d.handle(push()).await.expect("deployed");
    assert_eq!(register.num_calls(), 1, "{result}");
    assert!(
        result["decisions"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("aws:cloudformation:stack-name")),
        "the decision says what was left out: {result}"
    );
}

#[tokio::test]
async fn fleet_mode_finds_services_by_the_deploy_key_alone() {
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
    use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag};
    // Filtering on the value would never return `Web`: the key alone returns it, and the value
    // is checked in code.
    let by_key = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .match_requests(|r| {
            r.tag_filters().len() == 1
                && r.tag_filters()[0].key() == Some("autopilot:deploy")
                && r.tag_filters()[0].values().is_empty()
        })
        .then_output(|| {
            GetResourcesOutput::builder()
                .pagination_token("")
                .resource_tag_mapping_list(
                    ResourceTagMapping::builder()
                        .resource_arn("arn:aws:ecs:us-east-1:123456789012:service/prod/capital")
                        .tags(
                            Tag::builder()
                                .key("autopilot:deploy")
                                .value("Web")
                                .build()
                                .expect("tag"),
                        )
                        .build(),
                )
                .build()
        });
    let remembered = mock!(aws_sdk_ecs::Client::tag_resource)
        .match_requests(|r| {
            r.tags().iter().any(|t| {
                t.key() == Some("autopilot:tag-problem")
                    && t.value() == Some("autopilot:deploy=Web")
            })
        })
        .then_output(|| aws_sdk_ecs::operation::tag_resource::TagResourceOutput::builder().build());
    let publish =
        mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().build());
    let mut d = deployer(&[&remembered], &[&publish]);
    d.config.targets.clear();
    d.config.fleet = true;
    d.clients.tagging = mock_client!(
        aws_sdk_resourcegroupstagging,
        RuleMode::MatchAny,
        &[&by_key]
    )
    .into();
    let result = d.handle(push()).await.expect("handled");
    assert_eq!(result["tagProblems"][0]["value"], "Web", "{result}");
    assert_eq!(by_key.num_calls(), 1);
    assert_eq!(publish.num_calls(), 1, "said in chat");
    assert_eq!(remembered.num_calls(), 1, "and remembered");
}
