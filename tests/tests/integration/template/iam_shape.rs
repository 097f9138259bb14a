//! IAM: the shape of the roles' statements. Each call the functions make, by action, resource
//! and condition, and nothing more, is checked by the tours of tests/iam.rs in both scopes.

use super::*;

#[test]
fn a_wildcard_resource_only_where_the_action_takes_nothing_narrower() {
    // From the Service Authorization Reference: these actions support no resource-level
    // permissions (or, for ListTasks and RegisterScalableTarget, none known before the call);
    // ListTasks and ListServices are held to a cluster by the ecs:cluster condition key.
    let no_resource_types = [
        "ecs:DescribeTaskDefinition",
        "ecs:RegisterTaskDefinition",
        "ecs:DeregisterTaskDefinition",
        "ecs:ListTaskDefinitions",
        "ecs:ListTasks",
        "ecs:ListServices",
        "application-autoscaling:DescribeScalableTargets",
        "application-autoscaling:RegisterScalableTarget",
        "tag:GetResources",
        "cloudwatch:GetMetricData",
        "cloudwatch:ListMetrics",
        "elasticloadbalancing:DescribeTargetHealth",
        // The Price List has no resource types (off-hours' savings estimate).
        "pricing:GetProducts",
    ];
    let must_be_conditioned = [
        "ecs:ListTasks",
        "ecs:ListServices",
        "application-autoscaling:RegisterScalableTarget",
    ];
    let t = translate();
    for (scope, (_, function)) in ["stack", "account"]
        .into_iter()
        .flat_map(|scope| FUNCTIONS.map(|f| (scope, f)))
    {
        for s in role_statements_in(&t, function, scope) {
            if s["Resource"] == "*" {
                for a in actions(&s) {
                    assert!(
                        no_resource_types.contains(&a.as_str()),
                        "{function}: {a} on *"
                    );
                    if must_be_conditioned.contains(&a.as_str()) {
                        assert!(
                            s["Condition"].is_object(),
                            "{function}: {a} on * without a condition"
                        );
                    }
                }
            }
            for a in actions(&s) {
                // The deployer passes the pause reminders' role to EventBridge Scheduler, and
                // nothing else to it.
                if a == "iam:PassRole"
                    && s["Condition"]["StringEquals"]["iam:PassedToService"]
                        == "scheduler.amazonaws.com"
                {
                    assert_eq!(function, "DeployerFunction");
                    assert_eq!(
                        s["Resource"],
                        json!({"Fn::GetAtt": ["PauseReminderRole", "Arn"]}),
                        "{function}: the reminders' role only"
                    );
                    continue;
                }
                if a == "iam:PassRole" {
                    assert_eq!(
                        s["Condition"],
                        json!({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}),
                        "{function}"
                    );
                    // Fleet mode: each service has its own task roles, passed only to ECS tasks.
                    let roles = if scope == "stack" {
                        json!([{"Ref": "EcsExecutionRoleArn"}, {"Ref": "EcsTaskRoleArn"}])
                    } else {
                        json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"})
                    };
                    assert_eq!(s["Resource"], roles, "{function} ({scope}): the task roles");
                }
            }
        }
    }
}
