//! What organization mode says in chat: an account the hub cannot act in, once, and when it can
//! again.

use crate::notify::{neutralise, Notification, Severity};

use super::config::OrgConfig;

/// The thread of everything said about one member account's reachability.
pub fn thread(account: &str) -> String {
    format!("autopilot-account:{account}")
}

/// An account whose role could not be assumed: which account, which role, what AWS answered,
/// and the commands that install or fix the spoke.
pub fn unreachable(
    function: &str,
    account: &str,
    config: &OrgConfig,
    code: &str,
    message: &str,
) -> Notification {
    let role = config.role_in(account);
    let mut steps = vec![
        format!(
            "If account {account} has no spoke yet, add its organizational unit to the spoke \
             StackSet: `aws cloudformation create-stack-instances --stack-set-name \
             fargate-autopilot-spoke --deployment-targets OrganizationalUnitIds=<its OU> \
             --regions <this region>` (docs/organization-mode.md)"
        ),
        format!(
            "Or install it by hand with account {account}'s credentials: `aws cloudformation \
             deploy --template-file sam/spoke.yaml --stack-name fargate-autopilot-spoke \
             --capabilities CAPABILITY_NAMED_IAM --parameter-overrides {}`",
            spoke_parameters(function, config)
        ),
        format!(
            "If the spoke is there, check its role in that account: `aws iam get-role --role-name {}` \
             must exist, and its trust policy must admit this hub's {function} role",
            config.role_name()
        ),
    ];
    if code == "RegionDisabledException" {
        steps.insert(
            0,
            format!("Activate STS in this region for account {account} (IAM console, Account settings, Security Token Service endpoints)"),
        );
    }
    Notification::new(
        format!("autopilot-unreachable-{account}-{code}"),
        Severity::Warning,
        format!(
            "The {function} cannot act in account {account}: its role there could not be assumed"
        ),
        thread(account),
    )
    .describe(format!(
        "AssumeRole on {role} answered {code}: {}\n\nUntil the role is there and trusts the hub, \
         the {function} leaves this account's events alone; every other account goes on. This \
         is said once; the hub says so when the account can be reached again.",
        neutralise(message)
    ))
    .next_steps(steps)
    .keywords(["organization".to_string(), account.to_string()])
    .event_type("account-unreachable")
    .resources([role.clone()])
    .facts([
        ("Account".to_string(), account.to_string()),
        ("Role".to_string(), role),
        ("Function".to_string(), function.to_string()),
    ])
}

/// An account reported unreachable that the hub can act in again.
pub fn reachable_again(function: &str, account: &str, config: &OrgConfig) -> Notification {
    Notification::new(
        format!("autopilot-reachable-{account}"),
        Severity::Success,
        format!("Account {account} can be reached again: the {function} acts there"),
        thread(account),
    )
    .describe(format!(
        "{} was assumed; the account's events are handled again.",
        config.role_in(account)
    ))
    .keywords(["organization".to_string(), account.to_string()])
    .event_type("account-reachable")
    .facts([("Account".to_string(), account.to_string())])
}

/// The spoke template's parameters that name this hub, as `--parameter-overrides` takes them.
fn spoke_parameters(function: &str, config: &OrgConfig) -> String {
    let hub = config
        .hub_bus_arn
        .as_deref()
        .and_then(|arn| arn.split(':').nth(4))
        .unwrap_or("<hub account id>");
    let bus = config
        .hub_bus_arn
        .as_deref()
        .unwrap_or("<the hub's EventBusArn output>");
    let name = config.role_name();
    let prefix = name
        .strip_suffix(function)
        .and_then(|p| p.strip_suffix('-'))
        .unwrap_or("<the hub's SpokeRolePrefix>");
    format!("HubAccountId={hub} HubEventBusArn={bus} SpokeRolePrefix={prefix}")
}
