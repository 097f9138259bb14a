//! Application Auto Scaling adapters: the scalable targets of ECS services' desired counts.

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace, SuspendedState};
use aws_sdk_applicationautoscaling::Client;

use crate::error::{Error, Result};

/// DescribeScalableTargets takes at most this many resource ids per call.
pub const DESCRIBE_TARGETS_BATCH: usize = 50;

pub use crate::model::scaling::resource_id;
use crate::model::scaling::{ScalableTarget, Suspended};

fn suspended_from_sdk(s: Option<&SuspendedState>) -> Suspended {
    Suspended {
        dynamic_in: s.and_then(|s| s.dynamic_scaling_in_suspended()) == Some(true),
        dynamic_out: s.and_then(|s| s.dynamic_scaling_out_suspended()) == Some(true),
        scheduled: s.and_then(|s| s.scheduled_scaling_suspended()) == Some(true),
    }
}

/// All three flags, always: an update that leaves one out leaves it as it was.
fn suspended_to_sdk(s: Suspended) -> SuspendedState {
    SuspendedState::builder()
        .dynamic_scaling_in_suspended(s.dynamic_in)
        .dynamic_scaling_out_suspended(s.dynamic_out)
        .scheduled_scaling_suspended(s.scheduled)
        .build()
}

/// The scalable targets of the services (bounds and suspended state), by resource id, 50 per
/// call; services without a target are absent. Every batch is asked even when one fails; then
/// the last error is returned.
pub async fn targets(
    client: &Client,
    resource_ids: &[String],
) -> Result<BTreeMap<String, ScalableTarget>> {
    let mut found = BTreeMap::new();
    let mut error = None;
    for chunk in resource_ids.chunks(DESCRIBE_TARGETS_BATCH) {
        match client
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .set_resource_ids(Some(chunk.to_vec()))
            .send()
            .await
        {
            Ok(out) => {
                for t in out.scalable_targets() {
                    found.insert(
                        t.resource_id().to_string(),
                        ScalableTarget {
                            min: t.min_capacity(),
                            max: t.max_capacity(),
                            suspended: suspended_from_sdk(t.suspended_state()),
                        },
                    );
                }
            }
            Err(e) => error = Some(Error::aws("DescribeScalableTargets", e)),
        }
    }
    error.map_or(Ok(found), Err)
}

/// Sets the bounds of a service's scalable target and, when given, its suspended state (left
/// as it is otherwise: RegisterScalableTarget changes only the parameters it is given).
pub async fn set_bounds(
    client: &Client,
    cluster: &str,
    service: &str,
    min: i32,
    max: i32,
    suspended: Option<Suspended>,
) -> Result<()> {
    client
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource_id(cluster, service))
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(min)
        .max_capacity(max)
        .set_suspended_state(suspended.map(suspended_to_sdk))
        .send()
        .await
        .map_err(|e| Error::aws("RegisterScalableTarget", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_sdk_applicationautoscaling::operation::describe_scalable_targets::DescribeScalableTargetsOutput;
    use aws_sdk_applicationautoscaling::operation::register_scalable_target::RegisterScalableTargetOutput;
    use aws_sdk_applicationautoscaling::types::ScalableTarget as SdkTarget;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::*;

    fn target(id: &str, suspended: Option<SuspendedState>) -> SdkTarget {
        SdkTarget::builder()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(2)
            .max_capacity(10)
            .role_arn("arn:aws:iam::123456789012:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService")
            .creation_time(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .set_suspended_state(suspended)
            .build()
            .expect("target")
    }

    #[tokio::test]
    async fn the_suspended_state_is_read_and_a_missing_flag_is_false() {
        // As the API reference shapes DescribeScalableTargets: SuspendedState with the three
        // flags; a target that never had one (the emulator's) reads as nothing suspended.
        let rule = mock!(Client::describe_scalable_targets).then_output(|| {
            DescribeScalableTargetsOutput::builder()
                .scalable_targets(target(
                    "service/dev/web",
                    Some(
                        SuspendedState::builder()
                            .dynamic_scaling_in_suspended(false)
                            .dynamic_scaling_out_suspended(false)
                            .scheduled_scaling_suspended(true)
                            .build(),
                    ),
                ))
                .scalable_targets(target("service/dev/api", None))
                .build()
        });
        let client = mock_client!(aws_sdk_applicationautoscaling, RuleMode::MatchAny, &[&rule]);
        let found = targets(
            &client,
            &["service/dev/web".to_string(), "service/dev/api".to_string()],
        )
        .await
        .expect("targets");
        assert_eq!(
            found["service/dev/web"],
            ScalableTarget {
                min: 2,
                max: 10,
                suspended: Suspended {
                    dynamic_in: false,
                    dynamic_out: false,
                    scheduled: true
                }
            }
        );
        assert_eq!(found["service/dev/api"].suspended, Suspended::default());
    }

    #[tokio::test]
    async fn the_suspended_state_is_sent_whole_or_not_at_all() {
        let with = mock!(Client::register_scalable_target)
            .match_requests(|r| {
                r.min_capacity() == Some(0)
                    && r.max_capacity() == Some(0)
                    && r.suspended_state().is_some_and(|s| {
                        s.dynamic_scaling_in_suspended() == Some(true)
                            && s.dynamic_scaling_out_suspended() == Some(true)
                            && s.scheduled_scaling_suspended() == Some(true)
                    })
            })
            .then_output(|| RegisterScalableTargetOutput::builder().build());
        let without = mock!(Client::register_scalable_target)
            .match_requests(|r| r.min_capacity() == Some(2) && r.suspended_state().is_none())
            .then_output(|| RegisterScalableTargetOutput::builder().build());
        let client = mock_client!(
            aws_sdk_applicationautoscaling,
            RuleMode::Sequential,
            &[&with, &without]
        );
        set_bounds(&client, "dev", "web", 0, 0, Some(Suspended::ALL))
            .await
            .expect("suspended");
        set_bounds(&client, "dev", "web", 2, 10, None)
            .await
            .expect("left as it is");
        assert_eq!(with.num_calls() + without.num_calls(), 2);
    }
}
