//! Resource Groups Tagging API: the ECS services of the account and region that carry a tag,
//! whatever their cluster, in one paginated `GetResources` (fleet mode).

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_resourcegroupstagging::Client;

use crate::error::{Error, Result};
use crate::model::service::TaggedService;

/// The ECS services carrying tag `key` with one of `values` (any value when `values` is empty),
/// 100 per page. GetResources also returns resources that were tagged once and are not any
/// more (with their tags now): those no longer carry `key` and are left out.
pub async fn tagged_services(
    client: &Client,
    key: &str,
    values: &[String],
) -> Result<Vec<TaggedService>> {
    let filter = TagFilter::builder()
        .key(key)
        .set_values((!values.is_empty()).then(|| values.to_vec()))
        .build();
    let pages: Vec<_> = client
        .get_resources()
        .resource_type_filters("ecs:service")
        .tag_filters(filter)
        .resources_per_page(100)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .map_err(|e| Error::aws("GetResources", e))?;
    let mut found = vec![];
    for page in pages {
        for mapping in page.resource_tag_mapping_list() {
            let tags: BTreeMap<String, String> = mapping
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            let carries = tags
                .get(key)
                .is_some_and(|v| values.is_empty() || values.contains(v));
            if let (Some(arn), true) = (mapping.resource_arn(), carries) {
                found.push(TaggedService {
                    arn: arn.to_string(),
                    tags,
                });
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
    use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::*;

    fn mapping(arn: &str, tags: &[(&str, &str)]) -> ResourceTagMapping {
        let mut m = ResourceTagMapping::builder().resource_arn(arn);
        for (k, v) in tags {
            m = m.tags(Tag::builder().key(*k).value(*v).build().expect("tag"));
        }
        m.build()
    }

    #[tokio::test]
    async fn every_page_is_read_and_resources_no_longer_carrying_the_tag_are_left_out() {
        // Shaped as the GetResources API reference shows: a PaginationToken until the last
        // page (an empty string there), and resources tagged once that now lack the key.
        let first = mock!(Client::get_resources)
            .match_requests(|r| {
                r.pagination_token().is_none_or(str::is_empty)
                    && r.resource_type_filters() == ["ecs:service"]
                    && r.tag_filters()[0].key() == Some("autopilot:deploy")
                    && r.tag_filters()[0].values() == ["web"]
            })
            .then_output(|| {
                GetResourcesOutput::builder()
                    .pagination_token("page-2")
                    .resource_tag_mapping_list(mapping(
                        "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
                        &[("autopilot:deploy", "web"), ("team", "shop")],
                    ))
                    .build()
            });
        let second = mock!(Client::get_resources)
            .match_requests(|r| r.pagination_token() == Some("page-2"))
            .then_output(|| {
                GetResourcesOutput::builder()
                    .pagination_token("")
                    .resource_tag_mapping_list(mapping(
                        "arn:aws:ecs:us-east-1:123456789012:service/staging/web",
                        &[("autopilot:deploy", "web")],
                    ))
                    .resource_tag_mapping_list(mapping(
                        "arn:aws:ecs:us-east-1:123456789012:service/staging/gone",
                        &[],
                    ))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_resourcegroupstagging,
            RuleMode::Sequential,
            &[&first, &second]
        );
        let found = tagged_services(&client, "autopilot:deploy", &["web".to_string()])
            .await
            .expect("found");
        let arns: Vec<&str> = found.iter().map(|s| s.arn.as_str()).collect();
        assert_eq!(
            arns,
            [
                "arn:aws:ecs:us-east-1:123456789012:service/prod/web",
                "arn:aws:ecs:us-east-1:123456789012:service/staging/web"
            ]
        );
        assert_eq!(found[0].tags["team"], "shop");
        assert_eq!(first.num_calls() + second.num_calls(), 2);
    }

    #[tokio::test]
    async fn a_denied_call_names_get_resources() {
        let denied = mock!(Client::get_resources).then_error(|| {
            aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User: arn:aws:sts::123456789012:assumed-role/x is not authorized to perform: tag:GetResources")
                    .build(),
            )
        });
        let client = mock_client!(
            aws_sdk_resourcegroupstagging,
            RuleMode::MatchAny,
            &[&denied]
        );
        let e = tagged_services(&client, "autopilot:deploy", &[])
            .await
            .expect_err("denied");
        assert!(e.to_string().contains("GetResources"), "{e}");
    }
}
