//! The gate's adapters against responses shaped as the API references give them (the emulator
//! has no service deployments, and its target health and metrics say little): the JSON of ECS's
//! `DescribeServiceDeployments` and `DescribeServiceRevisions`, the XML of ELB's
//! `DescribeTargetHealth` and of CloudWatch's `DescribeAlarms` and `GetMetricData`.

use chrono::{TimeZone, Utc};

use crate::aws::fake_http::{cloudwatch_client, ecs_client, elb_client, Scripted};
use crate::aws::{cloudwatch, ecs, elbv2};

const DEPLOYMENT: &str =
    "arn:aws:ecs:us-west-2:123456789012:service-deployment/my-cluster/my-service/xHIyZWQ2VgOILkOwSyZED";
const GREEN: &str =
    "arn:aws:ecs:us-west-2:123456789012:service-revision/my-cluster/my-service/7230263549221235555";

fn ok(body: &str) -> Scripted {
    Scripted::new(vec![(200, body.to_string())])
}

#[tokio::test]
async fn a_service_deployment_says_its_status_its_source_and_the_tasks_it_asked_for() {
    let http = ok(&format!(
        r#"{{"serviceDeployments": [{{
            "serviceDeploymentArn": "{DEPLOYMENT}",
            "serviceArn": "arn:aws:ecs:us-west-2:123456789012:service/my-cluster/my-service",
            "clusterArn": "arn:aws:ecs:us-west-2:123456789012:cluster/my-cluster",
            "createdAt": 1764583200.123, "startedAt": 1764583201.5, "updatedAt": 1764583500.0,
            "sourceServiceRevisions": [{{
                "arn": "arn:aws:ecs:us-west-2:123456789012:service-revision/my-cluster/my-service/4980306466373577095",
                "requestedTaskCount": 2, "runningTaskCount": 2, "pendingTaskCount": 0,
                "requestedProductionTrafficWeight": 80.0
            }}],
            "targetServiceRevision": {{
                "arn": "{GREEN}", "requestedTaskCount": 2, "runningTaskCount": 2,
                "pendingTaskCount": 0, "requestedProductionTrafficWeight": 20.0
            }},
            "status": "IN_PROGRESS",
            "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT",
            "deploymentConfiguration": {{"strategy": "LINEAR", "bakeTimeInMinutes": 10,
                "linearConfiguration": {{"stepPercent": 20.0, "stepBakeTimeInMinutes": 6}}}}
        }}], "failures": []}}"#
    ));
    let d = ecs::service_deployment(&ecs_client(&http), DEPLOYMENT)
        .await
        .unwrap()
        .expect("known");
    assert_eq!(d.status, "IN_PROGRESS");
    assert!(d.has_source);
    assert_eq!(d.requested_tasks, Some(2));
    assert!(http.bodies()[0].contains(DEPLOYMENT));

    let http = ok(&format!(
        r#"{{"serviceDeployments": [], "failures": [{{"arn": "{DEPLOYMENT}", "reason": "MISSING"}}]}}"#
    ));
    let d = ecs::service_deployment(&ecs_client(&http), DEPLOYMENT)
        .await
        .unwrap();
    assert_eq!(d, None, "a deployment ECS does not know");
}

#[tokio::test]
async fn a_revisions_resolved_configuration_names_its_target_group_and_listener_rule() {
    let http = ok(&format!(
        r#"{{"serviceRevisions": [{{
            "serviceRevisionArn": "{GREEN}",
            "serviceArn": "arn:aws:ecs:us-west-2:123456789012:service/my-cluster/my-service",
            "clusterArn": "arn:aws:ecs:us-west-2:123456789012:cluster/my-cluster",
            "taskDefinition": "arn:aws:ecs:us-west-2:123456789012:task-definition/web:8",
            "launchType": "FARGATE",
            "loadBalancers": [{{
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-blue/11e2d6bc24d8a067",
                "containerName": "web", "containerPort": 3000,
                "advancedConfiguration": {{
                    "alternateTargetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-green/73e2d6bc24d8a067",
                    "productionListenerRule": "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/web-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee",
                    "roleArn": "arn:aws:iam::123456789012:role/ecs-elb"
                }}
            }}],
            "resolvedConfiguration": {{"loadBalancers": [{{
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-green/73e2d6bc24d8a067",
                "productionListenerRule": "arn:aws:elasticloadbalancing:us-west-2:123456789012:listener-rule/app/web-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
            }}]}},
            "createdAt": 1764583200.0
        }}], "failures": []}}"#
    ));
    let (tg, rule) = ecs::revision_target_group(&ecs_client(&http), GREEN)
        .await
        .unwrap()
        .expect("resolved");
    assert!(
        tg.ends_with("targetgroup/web-green/73e2d6bc24d8a067"),
        "the resolved one, not the configured one: {tg}"
    );
    assert!(rule.unwrap().contains("listener-rule/app/web-alb/"));
}

#[tokio::test]
async fn target_health_is_counted_by_state_with_elbs_reasons() {
    let http = ok(
        r#"<DescribeTargetHealthResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">
  <DescribeTargetHealthResult>
    <TargetHealthDescriptions>
      <member>
        <HealthCheckPort>3000</HealthCheckPort>
        <TargetHealth><State>healthy</State></TargetHealth>
        <Target><Port>3000</Port><Id>10.0.1.17</Id></Target>
      </member>
      <member>
        <HealthCheckPort>3000</HealthCheckPort>
        <TargetHealth>
          <State>unhealthy</State>
          <Reason>Target.ResponseCodeMismatch</Reason>
          <Description>Health checks failed with these codes: [502]</Description>
        </TargetHealth>
        <Target><Port>3000</Port><Id>10.0.2.40</Id></Target>
      </member>
      <member>
        <HealthCheckPort>3000</HealthCheckPort>
        <TargetHealth>
          <State>initial</State>
          <Reason>Elb.RegistrationInProgress</Reason>
          <Description>Target registration is in progress</Description>
        </TargetHealth>
        <Target><Port>3000</Port><Id>10.0.3.8</Id></Target>
      </member>
    </TargetHealthDescriptions>
  </DescribeTargetHealthResult>
  <ResponseMetadata><RequestId>c534f810-f389-11e5-9192-3fff33344cfa</RequestId></ResponseMetadata>
</DescribeTargetHealthResponse>"#,
    );
    let h = elbv2::target_health(&elb_client(&http), "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-green/73e2d6bc24d8a067")
        .await
        .unwrap();
    assert_eq!((h.healthy, h.unhealthy, h.initial, h.other), (1, 1, 1, 0));
    assert_eq!(
        h.reasons,
        [
            "Target.ResponseCodeMismatch: Health checks failed with these codes: [502]",
            "Elb.RegistrationInProgress: Target registration is in progress"
        ]
    );
}

#[tokio::test]
async fn alarm_states_come_from_metric_and_composite_alarms() {
    let http = ok(
        r#"<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <DescribeAlarmsResult>
    <MetricAlarms>
      <member>
        <AlarmName>web-5xx</AlarmName>
        <AlarmArn>arn:aws:cloudwatch:us-west-2:123456789012:alarm:web-5xx</AlarmArn>
        <StateValue>ALARM</StateValue>
        <StateReason>Threshold Crossed: 1 out of the last 1 datapoints [12.0 (01/12/26 10:00:00)] was greater than the threshold (5.0) (minimum 1 datapoint for OK -&gt; ALARM transition).</StateReason>
        <MetricName>HTTPCode_Target_5XX_Count</MetricName>
        <Namespace>AWS/ApplicationELB</Namespace>
      </member>
    </MetricAlarms>
    <CompositeAlarms>
      <member>
        <AlarmName>web-health</AlarmName>
        <AlarmArn>arn:aws:cloudwatch:us-west-2:123456789012:alarm:web-health</AlarmArn>
        <StateValue>OK</StateValue>
        <AlarmRule>ALARM(web-5xx) OR ALARM(web-latency)</AlarmRule>
      </member>
    </CompositeAlarms>
  </DescribeAlarmsResult>
  <ResponseMetadata><RequestId>f6e8a5d2-0000-11e5-9192-3fff33344cfa</RequestId></ResponseMetadata>
</DescribeAlarmsResponse>"#,
    );
    let names = ["web-5xx".to_string(), "web-health".to_string()];
    let states = cloudwatch::alarm_states(&cloudwatch_client(&http), &names)
        .await
        .unwrap();
    assert_eq!(states.len(), 2);
    assert_eq!(
        (states[0].name.as_str(), states[0].state.as_str()),
        ("web-5xx", "ALARM")
    );
    assert!(states[0].reason.as_deref().unwrap().contains("OK -> ALARM"));
    assert_eq!(
        (states[1].name.as_str(), states[1].state.as_str()),
        ("web-health", "OK")
    );
    let sent = &http.bodies()[0];
    assert!(
        sent.contains("AlarmTypes.member.1=CompositeAlarm")
            && sent.contains("AlarmNames.member.2=web-health"),
        "{sent}"
    );
}

#[tokio::test]
async fn traffic_sums_a_target_groups_requests_and_5xx_over_the_stage() {
    let http = ok(
        r#"<GetMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <GetMetricDataResult>
    <MetricDataResults>
      <member>
        <Id>requests</Id>
        <Label>RequestCount</Label>
        <Timestamps><member>2026-12-01T10:02:00Z</member><member>2026-12-01T10:01:00Z</member></Timestamps>
        <Values><member>120.0</member><member>80.0</member></Values>
        <StatusCode>Complete</StatusCode>
      </member>
      <member>
        <Id>errors</Id>
        <Label>HTTPCode_Target_5XX_Count</Label>
        <Timestamps><member>2026-12-01T10:02:00Z</member></Timestamps>
        <Values><member>4.0</member></Values>
        <StatusCode>Complete</StatusCode>
      </member>
    </MetricDataResults>
    <Messages/>
  </GetMetricDataResult>
  <ResponseMetadata><RequestId>2f8a7c3e-0000-11e5-9192-3fff33344cfa</RequestId></ResponseMetadata>
</GetMetricDataResponse>"#,
    );
    let from = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 42).unwrap();
    let to = Utc.with_ymd_and_hms(2026, 12, 1, 10, 6, 0).unwrap();
    let t = cloudwatch::target_group_traffic(
        &cloudwatch_client(&http),
        "targetgroup/web-green/73e2d6bc24d8a067",
        "app/web-alb/50dc6c495c0c9188",
        from,
        to,
    )
    .await
    .unwrap();
    assert_eq!((t.requests, t.errors), (200.0, 4.0));
    let sent = &http.bodies()[0];
    for part in [
        "MetricName=RequestCount",
        "MetricName=HTTPCode_Target_5XX_Count",
        "Namespace=AWS%2FApplicationELB",
        "Value=targetgroup%2Fweb-green%2F73e2d6bc24d8a067",
        "Value=app%2Fweb-alb%2F50dc6c495c0c9188",
        "Stat=Sum",
        // The minute the stage began counts.
        "StartTime=2026-12-01T10%3A00%3A00Z",
    ] {
        assert!(sent.contains(part), "{part} not in {sent}");
    }
}
