//! CloudWatch adapters: alarm tags and history (alarm-notifier), the alarms that name a service
//! and their actions (off-hours), alarm states and a target group's traffic (deploy-gate).

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{AlarmType, HistoryItemType};
use aws_sdk_cloudwatch::Client;
use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, Result};
use crate::model::alarm::ServiceAlarm;
use crate::model::health::{AlarmReading, Traffic};

/// Enable/DisableAlarmActions take at most this many alarms per call.
pub const ALARM_ACTIONS_BATCH: usize = 100;

/// An alarm's tags.
pub async fn alarm_tags(client: &Client, arn: &str) -> Result<BTreeMap<String, String>> {
    let out = client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| Error::aws("ListTagsForResource", e))?;
    Ok(out
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect())
}

/// The times of an alarm's state changes between `from` and `to` (at most 100).
pub async fn state_changes(
    client: &Client,
    name: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>> {
    let to_smithy =
        |t: DateTime<Utc>| aws_smithy_types::DateTime::from_millis(t.timestamp_millis());
    let out = client
        .describe_alarm_history()
        .alarm_name(name)
        .history_item_type(HistoryItemType::StateUpdate)
        // Without AlarmTypes only metric alarms' history comes back: a composite alarm would
        // never count as flapping.
        .alarm_types(AlarmType::CompositeAlarm)
        .alarm_types(AlarmType::MetricAlarm)
        .start_date(to_smithy(from))
        .end_date(to_smithy(to))
        .max_records(100)
        .send()
        .await
        .map_err(|e| Error::aws("DescribeAlarmHistory", e))?;
    Ok(out
        .alarm_history_items()
        .iter()
        .map(|i| {
            i.timestamp()
                .and_then(|t| t.to_millis().ok())
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or(from - Duration::days(1))
        })
        .collect())
}

/// The (`ClusterName`, `ServiceName`) a metric alarm's dimensions name: its own dimensions, or
/// those of a metric of its metric math (which carries them in `Metrics[]`).
fn service_of(a: &aws_sdk_cloudwatch::types::MetricAlarm) -> Option<(String, String)> {
    let pick = |dims: &[aws_sdk_cloudwatch::types::Dimension]| {
        let dim = |n: &str| {
            dims.iter()
                .find(|d| d.name() == Some(n))
                .and_then(|d| d.value())
                .map(str::to_string)
        };
        dim("ClusterName").zip(dim("ServiceName"))
    };
    pick(a.dimensions()).or_else(|| {
        a.metrics()
            .iter()
            .filter_map(|q| q.metric_stat()?.metric())
            .find_map(|m| pick(m.dimensions()))
    })
}

/// Metric alarms by the (cluster, service) their dimensions (or their metric math's) name.
pub async fn alarms_by_service(
    client: &Client,
) -> Result<BTreeMap<(String, String), Vec<ServiceAlarm>>> {
    let mut out: BTreeMap<(String, String), Vec<ServiceAlarm>> = BTreeMap::new();
    let mut pages = client
        .describe_alarms()
        .alarm_types(AlarmType::MetricAlarm)
        .max_records(100)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("DescribeAlarms", e))?;
        for a in page.metric_alarms() {
            if let (Some(key), Some(name), Some(arn)) =
                (service_of(a), a.alarm_name(), a.alarm_arn())
            {
                out.entry(key).or_default().push(ServiceAlarm {
                    name: name.to_string(),
                    arn: arn.to_string(),
                    actions_enabled: a.actions_enabled().unwrap_or(true),
                    actions: a
                        .alarm_actions()
                        .iter()
                        .chain(a.ok_actions())
                        .chain(a.insufficient_data_actions())
                        .cloned()
                        .collect(),
                });
            }
        }
    }
    Ok(out)
}

/// Adds tags to an alarm.
pub async fn tag_alarm(client: &Client, arn: &str, tags: &BTreeMap<String, String>) -> Result<()> {
    client
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| {
                    aws_sdk_cloudwatch::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| Error::aws("TagResource", e))?;
    Ok(())
}

/// Removes tags from an alarm.
pub async fn untag_alarm(client: &Client, arn: &str, keys: &[&str]) -> Result<()> {
    client
        .untag_resource()
        .resource_arn(arn)
        .set_tag_keys(Some(keys.iter().map(|k| k.to_string()).collect()))
        .send()
        .await
        .map_err(|e| Error::aws("UntagResource", e))?;
    Ok(())
}

/// Turns the alarms' actions on or off, 100 per call.
pub async fn set_alarm_actions(client: &Client, names: &[String], enable: bool) -> Result<()> {
    for chunk in names.chunks(ALARM_ACTIONS_BATCH) {
        if enable {
            client
                .enable_alarm_actions()
                .set_alarm_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Error::aws("EnableAlarmActions", e))?;
        } else {
            client
                .disable_alarm_actions()
                .set_alarm_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Error::aws("DisableAlarmActions", e))?;
        }
    }
    Ok(())
}

/// DescribeAlarms takes at most this many alarm names per call.
pub const DESCRIBE_ALARMS_BATCH: usize = 100;

/// The states of named alarms, metric and composite; an alarm that does not exist is absent.
pub async fn alarm_states(client: &Client, names: &[String]) -> Result<Vec<AlarmReading>> {
    let mut found = vec![];
    for chunk in names.chunks(DESCRIBE_ALARMS_BATCH) {
        let out = client
            .describe_alarms()
            .set_alarm_names(Some(chunk.to_vec()))
            .alarm_types(AlarmType::CompositeAlarm)
            .alarm_types(AlarmType::MetricAlarm)
            .max_records(100)
            .send()
            .await
            .map_err(|e| Error::aws("DescribeAlarms", e))?;
        let reading = |name: Option<&str>,
                       state: Option<&aws_sdk_cloudwatch::types::StateValue>,
                       reason: Option<&str>| {
            Some(AlarmReading {
                name: name?.to_string(),
                state: state?.as_str().to_string(),
                reason: reason.map(str::to_string),
            })
        };
        found.extend(
            out.metric_alarms()
                .iter()
                .filter_map(|a| reading(a.alarm_name(), a.state_value(), a.state_reason())),
        );
        found.extend(
            out.composite_alarms()
                .iter()
                .filter_map(|a| reading(a.alarm_name(), a.state_value(), a.state_reason())),
        );
    }
    Ok(found)
}

/// A target group's requests and its targets' 5XX answers between `from` and `to`, from the
/// load balancer's metrics (`AWS/ApplicationELB` `RequestCount` and
/// `HTTPCode_Target_5XX_Count`, dimensions `TargetGroup` and `LoadBalancer`), in one
/// GetMetricData. ALB publishes them every minute, and only for minutes that had requests:
/// no data is no traffic.
pub async fn target_group_traffic(
    client: &Client,
    target_group: &str,
    load_balancer: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Traffic> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let query = |id: &str, metric: &str| {
        MetricDataQuery::builder()
            .id(id)
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("AWS/ApplicationELB")
                            .metric_name(metric)
                            .dimensions(
                                Dimension::builder()
                                    .name("TargetGroup")
                                    .value(target_group)
                                    .build(),
                            )
                            .dimensions(
                                Dimension::builder()
                                    .name("LoadBalancer")
                                    .value(load_balancer)
                                    .build(),
                            )
                            .build(),
                    )
                    .period(60)
                    .stat("Sum")
                    .build(),
            )
            .return_data(true)
            .build()
    };
    let to_smithy = |t: DateTime<Utc>| aws_smithy_types::DateTime::from_secs(t.timestamp());
    // Whole minutes: the metrics' period; the minute the stage began counts.
    let start = from - Duration::seconds(i64::from(from.timestamp().rem_euclid(60) as u32));
    let mut traffic = Traffic::default();
    let mut pages = client
        .get_metric_data()
        .metric_data_queries(query("requests", "RequestCount"))
        .metric_data_queries(query("errors", "HTTPCode_Target_5XX_Count"))
        .start_time(to_smithy(start))
        .end_time(to_smithy(to.max(start + Duration::minutes(1))))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("GetMetricData", e))?;
        for r in page.metric_data_results() {
            let sum: f64 = r.values().iter().sum();
            match r.id() {
                Some("requests") => traffic.requests += sum,
                Some("errors") => traffic.errors += sum,
                _ => {}
            }
        }
    }
    Ok(traffic)
}

/// GetMetricData takes at most this many queries per call.
pub const METRIC_DATA_QUERIES: usize = 500;

/// The values a metric's dimension `key` takes, for one `Function` (ListMetrics, paginated;
/// CloudWatch lists what had data in the last two weeks).
pub async fn dimension_values(
    client: &Client,
    namespace: &str,
    metric: &str,
    function: &str,
    key: &str,
) -> Result<Vec<String>> {
    use aws_sdk_cloudwatch::types::DimensionFilter;
    let mut values = std::collections::BTreeSet::new();
    let mut pages = client
        .list_metrics()
        .namespace(namespace)
        .metric_name(metric)
        .dimensions(
            DimensionFilter::builder()
                .name("Function")
                .value(function)
                .build(),
        )
        .dimensions(DimensionFilter::builder().name(key).build())
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::aws("ListMetrics", e))?;
        for m in page.metrics() {
            if let Some(v) = m
                .dimensions()
                .iter()
                .find(|d| d.name() == Some(key))
                .and_then(|d| d.value())
            {
                values.insert(v.to_string());
            }
        }
    }
    Ok(values.into_iter().collect())
}

/// One series to sum: a metric with its dimensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

/// The sums of `series` over each of `weeks` consecutive 7-day periods ending at `end`, oldest
/// first (GetMetricData, 500 queries a call, a period of 7 days, statistic Sum). A series
/// without data sums to 0.
pub async fn weekly_sums(
    client: &Client,
    namespace: &str,
    series: &[Series],
    end: DateTime<Utc>,
    weeks: u32,
) -> Result<Vec<Vec<f64>>> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
    let week = Duration::days(7);
    let start = end - week * weeks as i32;
    let at = |t: DateTime<Utc>| aws_smithy_types::DateTime::from_secs(t.timestamp());
    let mut out = vec![vec![0.0; weeks as usize]; series.len()];
    for (batch, chunk) in series.chunks(METRIC_DATA_QUERIES).enumerate() {
        let queries = chunk.iter().enumerate().map(|(i, s)| {
            let mut metric = Metric::builder().namespace(namespace).metric_name(&s.name);
            for (k, v) in &s.dimensions {
                metric = metric.dimensions(Dimension::builder().name(k).value(v).build());
            }
            MetricDataQuery::builder()
                .id(format!("s{}", batch * METRIC_DATA_QUERIES + i))
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric.build())
                        .period(week.num_seconds() as i32)
                        .stat("Sum")
                        .build(),
                )
                .return_data(true)
                .build()
        });
        let mut pages = client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.collect()))
            .start_time(at(start))
            .end_time(at(end))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::aws("GetMetricData", e))?;
            for r in page.metric_data_results() {
                let Some(index) = r
                    .id()
                    .and_then(|id| id.strip_prefix('s'))
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|i| *i < series.len())
                else {
                    continue;
                };
                for (t, v) in r.timestamps().iter().zip(r.values()) {
                    // The period a datapoint belongs to, by its start.
                    let from_start = t.secs() - start.timestamp();
                    let w = from_start.div_euclid(week.num_seconds());
                    if (0..i64::from(weeks)).contains(&w) {
                        out[index][w as usize] += v;
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::*;

    fn dims(cluster: &str, service: &str) -> Vec<Dimension> {
        vec![
            Dimension::builder()
                .name("ClusterName")
                .value(cluster)
                .build(),
            Dimension::builder()
                .name("ServiceName")
                .value(service)
                .build(),
        ]
    }

    #[tokio::test]
    async fn metric_math_alarms_are_found_by_the_dimensions_of_their_metrics() {
        // DescribeAlarms as AWS answers it: a plain metric alarm with its dimensions at the top,
        // a metric-math alarm with none there and its metrics' dimensions in Metrics[].
        let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(|| {
            DescribeAlarmsOutput::builder()
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("dev-web-cpu-high")
                        .alarm_arn(
                            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:dev-web-cpu-high",
                        )
                        .actions_enabled(true)
                        .set_dimensions(Some(dims("dev", "web")))
                        .build(),
                )
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("dev-web-5xx-rate")
                        .alarm_arn(
                            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:dev-web-5xx-rate",
                        )
                        .actions_enabled(false)
                        .metrics(
                            MetricDataQuery::builder()
                                .id("e1")
                                .expression("100 * m1 / m2")
                                .return_data(true)
                                .build(),
                        )
                        .metrics(
                            MetricDataQuery::builder()
                                .id("m1")
                                .metric_stat(
                                    MetricStat::builder()
                                        .metric(
                                            Metric::builder()
                                                .namespace("ECS/ContainerInsights")
                                                .metric_name("RunningTaskCount")
                                                .set_dimensions(Some(dims("dev", "web")))
                                                .build(),
                                        )
                                        .period(60)
                                        .stat("Sum")
                                        .build(),
                                )
                                .return_data(false)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&rule]);
        let found = alarms_by_service(&client).await.expect("alarms");
        let web = &found[&("dev".to_string(), "web".to_string())];
        assert_eq!(
            web.iter()
                .map(|a| (a.name.as_str(), a.actions_enabled))
                .collect::<Vec<_>>(),
            [("dev-web-cpu-high", true), ("dev-web-5xx-rate", false)]
        );
    }

    #[tokio::test]
    async fn the_alarms_target_tracking_creates_are_known_by_their_scaling_policy_action() {
        // As AWS lists the alarms of a target-tracking policy on an ECS service: named
        // TargetTracking-service/<cluster>/<service>-AlarmHigh-<uuid>, the service in their
        // dimensions, the policy's ARN as their only action; beside them a team's own alarm
        // that pages through SNS.
        let policy = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:7e7a2c4b-0f64-4a8f-9d7e-2f0c1b9a4e11:resource/ecs/service/dev/web:policyName/cpu-target";
        let tracking = move |name: &str| {
            MetricAlarm::builder()
                .alarm_name(name)
                .alarm_arn(format!(
                    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
                ))
                .actions_enabled(true)
                .alarm_actions(policy)
                .set_dimensions(Some(dims("dev", "web")))
                .build()
        };
        let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
            DescribeAlarmsOutput::builder()
                .metric_alarms(tracking(
                    "TargetTracking-service/dev/web-AlarmHigh-3c1e0b8e-5b1f-4a55-9c5d-2b8f9a7d6e01",
                ))
                .metric_alarms(tracking(
                    "TargetTracking-service/dev/web-AlarmLow-9a2d4c6e-1f3b-4d5a-8e7c-0b1a2c3d4e5f",
                ))
                .metric_alarms(
                    MetricAlarm::builder()
                        .alarm_name("dev-web-cpu-high")
                        .alarm_arn(
                            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:dev-web-cpu-high",
                        )
                        .actions_enabled(true)
                        .alarm_actions("arn:aws:sns:us-east-1:123456789012:pager")
                        .ok_actions("arn:aws:sns:us-east-1:123456789012:pager")
                        .set_dimensions(Some(dims("dev", "web")))
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&rule]);
        let found = alarms_by_service(&client).await.expect("alarms");
        let web = &found[&("dev".to_string(), "web".to_string())];
        let scaling: Vec<(bool, &str)> = web
            .iter()
            .map(|a| (a.drives_scaling(), a.name.split('-').next().unwrap_or("")))
            .collect();
        assert_eq!(
            scaling,
            [
                (true, "TargetTracking"),
                (true, "TargetTracking"),
                (false, "dev")
            ]
        );
        assert_eq!(
            web[2].actions,
            [
                "arn:aws:sns:us-east-1:123456789012:pager",
                "arn:aws:sns:us-east-1:123456789012:pager"
            ]
        );
    }
}
