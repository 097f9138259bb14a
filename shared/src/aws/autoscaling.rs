//! Application Auto Scaling adapters: the scalable targets of ECS services' desired counts.

use std::collections::BTreeMap;

use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_applicationautoscaling::Client;

use crate::error::{Error, Result};

/// DescribeScalableTargets takes at most this many resource ids per call.
pub const DESCRIBE_TARGETS_BATCH: usize = 50;

/// The scalable target's resource id of a service: `service/<cluster name>/<service>`.
pub fn resource_id(cluster: &str, service: &str) -> String {
    format!(
        "service/{}/{service}",
        crate::aws::arn::cluster_name(cluster)
    )
}

/// The bounds (min, max) of the services' scalable targets, by resource id, 50 per call;
/// services without a target are absent. Every batch is asked even when one fails; then the
/// last error is returned.
pub async fn bounds(
    client: &Client,
    resource_ids: &[String],
) -> Result<BTreeMap<String, (i32, i32)>> {
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
                        (t.min_capacity(), t.max_capacity()),
                    );
                }
            }
            Err(e) => error = Some(Error::aws("DescribeScalableTargets", e)),
        }
    }
    error.map_or(Ok(found), Err)
}

/// Sets the bounds of a service's scalable target.
pub async fn set_bounds(
    client: &Client,
    cluster: &str,
    service: &str,
    min: i32,
    max: i32,
) -> Result<()> {
    client
        .register_scalable_target()
        .service_namespace(ServiceNamespace::Ecs)
        .resource_id(resource_id(cluster, service))
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .min_capacity(min)
        .max_capacity(max)
        .send()
        .await
        .map_err(|e| Error::aws("RegisterScalableTarget", e))?;
    Ok(())
}
