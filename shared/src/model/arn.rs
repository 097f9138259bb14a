//! ARNs and partition-aware console links.

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Parses an ARN; `None` when it is not one.
    pub fn parse(s: &'a str) -> Option<Self> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let arn = Arn {
            partition: parts.next()?,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        };
        (!arn.partition.is_empty() && !arn.service.is_empty() && !arn.resource.is_empty())
            .then_some(arn)
    }

    /// For `service/cluster/name` resources: the cluster and the name.
    pub fn ecs_service(&self) -> Option<(&'a str, &'a str)> {
        let rest = self.resource.strip_prefix("service/")?;
        let (cluster, name) = rest.split_once('/')?;
        (!cluster.is_empty() && !name.is_empty()).then_some((cluster, name))
    }
}

/// A load balancer's CloudWatch dimension (`app/<name>/<id>`, `net/<name>/<id>`) from the ARN
/// of one of its listeners or listener rules, or its own.
pub fn load_balancer_dimension(arn: &str) -> Option<String> {
    let resource = Arn::parse(arn)
        .filter(|a| a.service == "elasticloadbalancing")?
        .resource;
    let mut parts = resource.split('/').skip(1);
    let (kind, name, id) = (parts.next()?, parts.next()?, parts.next()?);
    (["app", "net", "gwy"].contains(&kind) && !name.is_empty() && !id.is_empty())
        .then(|| format!("{kind}/{name}/{id}"))
}

/// A target group's CloudWatch dimension (`targetgroup/<name>/<id>`) from its ARN.
pub fn target_group_dimension(arn: &str) -> Option<String> {
    let resource = Arn::parse(arn)
        .filter(|a| a.service == "elasticloadbalancing")?
        .resource;
    (resource.starts_with("targetgroup/") && resource.split('/').count() == 3)
        .then(|| resource.to_string())
}

/// Whether a service ARN has the long format (`service/<cluster>/<service>`), the only one ECS
/// can tag; services created before 2021 may still have `service/<service>`.
pub fn is_long_service_arn(arn: &str) -> bool {
    Arn::parse(arn).is_some_and(|a| a.ecs_service().is_some())
}

/// Whether a string is an SNS topic ARN.
pub fn is_topic_arn(s: &str) -> bool {
    Arn::parse(s).is_some_and(|a| a.service == "sns")
}

/// The partition a region belongs to.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The console's host for a region, right for its partition.
pub fn console_host(region: &str) -> String {
    match partition_of(region) {
        "aws-cn" => "console.amazonaws.cn".to_string(),
        "aws-us-gov" => "console.amazonaws-us-gov.com".to_string(),
        _ => format!("{region}.console.aws.amazon.com"),
    }
}

/// The long-form ARN of an ECS service, as ECS events carry it.
pub fn ecs_service_arn(region: &str, account: &str, cluster: &str, service: &str) -> String {
    format!(
        "arn:{}:ecs:{region}:{account}:service/{cluster}/{service}",
        partition_of(region)
    )
}

/// The console page of an ECS service's deployments.
pub fn ecs_service_url(region: &str, cluster: &str, service: &str) -> String {
    format!(
        "https://{}/ecs/v2/clusters/{cluster}/services/{service}/deployments?region={region}",
        console_host(region)
    )
}

/// The console page of an ECS task.
pub fn ecs_task_url(region: &str, cluster: &str, task_id: &str) -> String {
    format!(
        "https://{}/ecs/v2/clusters/{cluster}/tasks/{task_id}/configuration?region={region}",
        console_host(region)
    )
}

/// The console page of a CloudWatch Logs stream.
pub fn log_stream_url(region: &str, group: &str, stream: &str) -> String {
    format!(
        "https://{}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{}/log-events/{}",
        console_host(region),
        console_escape(group),
        console_escape(stream)
    )
}

/// The CloudWatch console's fragment escaping: percent-encoding with `%` itself written `$25`.
fn console_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("$25{b:02X}"),
        })
        .collect()
}

/// The DNS suffix of a region's service endpoints (for ECR registry hosts).
pub fn dns_suffix(region: &str) -> &'static str {
    match partition_of(region) {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    }
}

/// A cluster's name, whether it is given as a name or an ARN (`arn:...:cluster/NAME`).
pub fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit_once(":cluster/").map_or(cluster, |(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_balancer_and_target_group_dimensions_come_from_their_arns() {
        let rule = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee";
        assert_eq!(
            load_balancer_dimension(rule).as_deref(),
            Some("app/web-alb/50dc6c495c0c9188")
        );
        let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/net/web-nlb/50dc6c495c0c9188/f2f7dc8efc522ab2";
        assert_eq!(
            load_balancer_dimension(listener).as_deref(),
            Some("net/web-nlb/50dc6c495c0c9188")
        );
        assert_eq!(
            load_balancer_dimension("arn:aws:ecs:us-east-1:1:service/a/b"),
            None
        );
        let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/73e2d6bc24d8a067";
        assert_eq!(
            target_group_dimension(tg).as_deref(),
            Some("targetgroup/web-green/73e2d6bc24d8a067")
        );
        assert_eq!(target_group_dimension(rule), None);
    }

    #[test]
    fn parses_service_arns() {
        let arn = Arn::parse("arn:aws:ecs:eu-west-1:123456789012:service/prod/web").unwrap();
        assert_eq!(arn.service, "ecs");
        assert_eq!(arn.region, "eu-west-1");
        assert_eq!(arn.ecs_service(), Some(("prod", "web")));
        assert!(Arn::parse("not-an-arn").is_none());
        assert!(Arn::parse("arn:aws:ecs").is_none());
    }

    #[test]
    fn log_stream_links_escape_as_the_console_does() {
        assert_eq!(
            log_stream_url("eu-west-1", "/ecs/web", "app/app/abc123"),
            "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Fecs$252Fweb/log-events/app$252Fapp$252Fabc123"
        );
    }

    #[test]
    fn console_and_registry_follow_the_partition() {
        assert_eq!(
            console_host("eu-west-1"),
            "eu-west-1.console.aws.amazon.com"
        );
        assert_eq!(console_host("cn-north-1"), "console.amazonaws.cn");
        assert_eq!(
            console_host("us-gov-west-1"),
            "console.amazonaws-us-gov.com"
        );
        assert_eq!(dns_suffix("cn-northwest-1"), "amazonaws.com.cn");
        assert_eq!(dns_suffix("us-east-1"), "amazonaws.com");
        assert_eq!(
            ecs_service_arn("cn-north-1", "1", "prod", "web"),
            "arn:aws-cn:ecs:cn-north-1:1:service/prod/web"
        );
        assert_eq!(
            ecs_service_url("us-gov-west-1", "prod", "web"),
            "https://console.amazonaws-us-gov.com/ecs/v2/clusters/prod/services/web/deployments?region=us-gov-west-1"
        );
    }
}
