//! Organization mode against the emulator: a hub (the emulator's default account, with the
//! chat topic) and a member account, whose ECS stack is made with the credentials of a role
//! assumed there (moto serves each account apart and takes the account from the assumed role's
//! key). The hub's functions, built as `SPOKE_ROLE_ARN` makes them, act in the member account
//! through the role they assume: a push, a stopped task, an alarm and a night there.
//!
//! The events are given as AWS delivers them on the hub's bus: with the member account in
//! `account` (EventBridge keeps the originating account when a rule forwards an event to
//! another account's bus). That the spoke's rules do forward them is the template tests' part
//! (`template::organization`); moto's forwarding replaces `account` with the hub's, so its
//! forwarded copy cannot stand in for AWS's here.

use std::collections::BTreeMap;

use autopilot_core::alarms::AlarmNotifier;
use autopilot_core::deploy::{Deployer, DeployerConfig};
use autopilot_core::offhours::{OffHours, TagSelection};
use autopilot_core::org::{organization, OrgConfig};
use autopilot_core::runtime::Handler;
use autopilot_core::tags;
use autopilot_core::tasks::{CrashLoopAction, TaskWatcher, TaskWatcherConfig};
use integration_tests::configs::{push_event, tick_event};
use integration_tests::faults::{Fault, FaultProxy, Rule};
use integration_tests::{Emulator, Stack};
use serde_json::{json, Value};

const MEMBER: &str = "210987654321";
const ALIAS: &str = "shop-dev";
/// A member account without a spoke: its role cannot be assumed.
const LOST: &str = "333333333333";
const APP: (&str, &str) = (tags::DEPLOY_CONTAINER, "app");
const DIGEST: &str = "sha256:1f1c0b6a5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b";

/// The hub (its topic read through a queue) and a member account with its own stack (cluster
/// `east`, service `web`) and alias.
async fn organization_of_two(emu: &Emulator) -> (Stack, Stack) {
    let hub = Stack::create(emu, "hub", "web").await;
    let key = emu.account_key(MEMBER);
    let member = Stack::create_as(emu, &key, "east", "web").await;
    assert_eq!(member.account(), MEMBER);
    emu.query_as(
        &key,
        "iam",
        "2010-05-08",
        &[("Action", "CreateAccountAlias"), ("AccountAlias", ALIAS)],
    );
    (hub, member)
}

fn org_config(hub: &Stack, function: &str) -> OrgConfig {
    OrgConfig {
        role_arn: format!("arn:aws:iam::{{account}}:role/fargate-autopilot-{function}"),
        topic_arn: hub.topic_arn.clone(),
        hub_bus_arn: Some(format!(
            "arn:aws:events:us-east-1:{}:event-bus/platform-shared-autopilot",
            hub.account()
        )),
    }
}

/// Off-hours as the hub runs it: fleet mode's tag selection, the hub's topic.
fn off_hours_config(hub: &Stack, member: &Stack) -> autopilot_core::offhours::OffHoursConfig {
    let mut config = member.off_hours_config();
    config.topic_arn = hub.topic_arn.clone();
    config.targets = vec![];
    config.selection = Some(TagSelection {
        key: tags::OFF_HOURS.into(),
        value: "enabled".into(),
        clusters: vec![],
    });
    config
}

/// `event` as it reaches the hub from `account`.
fn from(account: &str, mut event: Value) -> Value {
    event["account"] = json!(account);
    event
}

async fn task_definition_of(stack: &Stack) -> String {
    stack
        .describe_service()
        .await
        .task_definition()
        .unwrap_or_default()
        .to_string()
}

fn titles(chat: &[Value]) -> Vec<String> {
    chat.iter()
        .map(|m| {
            m["content"]["title"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_push_in_a_member_account_deploys_its_service_there_and_nothing_in_the_hub() {
    let emu = Emulator::start();
    let (hub, member) = organization_of_two(&emu).await;
    // The same service name, following the same repository, in both accounts.
    hub.tag_service(&[(tags::DEPLOY, "web"), APP]).await;
    member.tag_service(&[(tags::DEPLOY, "web"), APP]).await;
    let hub_before = task_definition_of(&hub).await;
    let member_before = task_definition_of(&member).await;

    let config = DeployerConfig {
        targets: vec![],
        fleet: true,
        topic_arn: hub.topic_arn.clone(),
        dry_run: false,
        keep_revisions: None,
        reminders: None,
    };
    let (clients, _) = hub.clients();
    let calls = clients.calls.clone();
    let deployer = organization(clients, &hub.sdk, org_config(&hub, "deployer"), move |c| {
        Deployer::new(c, config.clone())
    });
    let push = from(MEMBER, push_event("v2.0.0", DIGEST, "2026-12-01T09:00:00Z"));
    let result = deployer.handle(push).await.expect("push");

    assert_eq!(
        result["account"],
        json!({"id": MEMBER, "alias": ALIAS}),
        "{result}"
    );
    let deployed: Vec<&Value> = result["result"]["decisions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["reason"] == "deployed")
        .collect();
    assert_eq!(deployed.len(), 1, "{result}");
    assert_eq!(deployed[0]["service"], "web");
    assert_eq!(deployed[0]["cluster"], "east");
    let member_after = task_definition_of(&member).await;
    assert_ne!(member_after, member_before, "the member's service deployed");
    assert!(
        member_after.contains(&format!(":{MEMBER}:")),
        "{member_after}"
    );
    let (revision, _) = member.describe_task_definition(&member_after).await;
    let image = revision.container_definitions()[0]
        .image()
        .unwrap_or_default();
    assert!(image.ends_with(&format!("web@{DIGEST}")), "{image}");
    assert_eq!(
        task_definition_of(&hub).await,
        hub_before,
        "the hub's untouched"
    );

    // In the hub's chat, named by the member account's alias.
    let chat = hub.notifications().await;
    assert!(!chat.is_empty());
    for m in &chat {
        let title = m["content"]["title"].as_str().unwrap_or_default();
        assert!(title.contains(&format!("[{ALIAS}]")), "{title}");
        assert_eq!(
            m["metadata"]["additionalContext"]["Account"],
            format!("{ALIAS} ({MEMBER})")
        );
    }

    // The role was assumed once: the next push in that account assumes nothing.
    let first = calls.take();
    assert_eq!(
        first.iter().filter(|c| *c == "STS.AssumeRole").count(),
        1,
        "{first:?}"
    );
    assert_eq!(
        first
            .iter()
            .filter(|c| *c == "IAM.ListAccountAliases")
            .count(),
        1
    );
    let again = from(MEMBER, push_event("v2.0.1", DIGEST, "2026-12-01T09:05:00Z"));
    deployer.handle(again).await.expect("second push");
    let second = calls.snapshot();
    assert!(
        !second
            .iter()
            .any(|c| c.starts_with("STS.") || c.starts_with("IAM.")),
        "{second:?}"
    );
}

#[tokio::test]
async fn a_stopped_task_in_a_member_account_is_explained_there_in_the_hubs_chat() {
    let emu = Emulator::start();
    let (hub, member) = organization_of_two(&emu).await;
    let config = TaskWatcherConfig {
        restart_network: None,
        ..member.task_watcher_config(CrashLoopAction::Alert)
    };
    let config = TaskWatcherConfig {
        topic_arn: hub.topic_arn.clone(),
        ..config
    };
    let (clients, _) = hub.clients();
    let watcher = organization(
        clients,
        &hub.sdk,
        org_config(&hub, "task-watcher"),
        move |c| TaskWatcher::new(c, config.clone()),
    );
    let task = member
        .stopped_service_task("Essential container in task exited")
        .await;
    assert!(task.contains(&format!(":{MEMBER}:")), "{task}");
    let stop = from(MEMBER, member.stop_event("out-of-memory.json", &task));
    let result = watcher.handle(stop).await.expect("handled");
    assert_eq!(result["result"]["cause"], "out-of-memory", "{result}");
    assert_eq!(
        result["result"]["service"], "web",
        "read in the member account"
    );
    let chat = hub.notifications().await;
    assert_eq!(chat.len(), 1, "{chat:?}");
    assert!(
        titles(&chat)[0].contains(&format!("[{ALIAS}]")),
        "{:?}",
        titles(&chat)
    );
    assert_eq!(chat[0]["metadata"]["threadId"], member.service_arn.as_str());
}

#[tokio::test]
async fn an_alarm_in_a_member_account_reads_its_tags_there_and_reaches_the_hubs_chat() {
    let emu = Emulator::start();
    let (hub, member) = organization_of_two(&emu).await;
    member
        .put_cpu_alarm(
            "web-cpu-high",
            "web",
            &[("autopilot:runbook", "https://wiki.example.com/runbooks/web")],
        )
        .await;
    let config = autopilot_core::alarms::AlarmNotifierConfig {
        topic_arn: hub.topic_arn.clone(),
        ..member.alarm_notifier_config()
    };
    let (clients, _) = hub.clients();
    let notifier = organization(
        clients,
        &hub.sdk,
        org_config(&hub, "alarm-notifier"),
        move |c| AlarmNotifier::new(c, config.clone()),
    );
    let mut alarm = member.alarm_event("web-cpu-high");
    alarm["resources"] = json!([format!(
        "arn:aws:cloudwatch:us-east-1:{MEMBER}:alarm:web-cpu-high"
    )]);
    let result = notifier.handle(from(MEMBER, alarm)).await.expect("handled");
    assert_eq!(result["account"]["id"], MEMBER, "{result}");
    let chat = hub.notifications().await;
    assert_eq!(chat.len(), 1, "{chat:?}");
    let text = chat[0].to_string();
    assert!(titles(&chat)[0].contains(&format!("[{ALIAS}]")), "{text}");
    assert!(
        text.contains("https://wiki.example.com/runbooks/web"),
        "the runbook tag, read in the member account: {text}"
    );
}

#[tokio::test]
async fn a_night_in_a_member_account_puts_its_services_to_sleep_and_leaves_the_hubs() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let (hub, member) = organization_of_two(&emu).await;
    hub.tag_service(&[(tags::OFF_HOURS, "enabled")]).await;
    member.tag_service(&[(tags::OFF_HOURS, "enabled")]).await;
    let config = off_hours_config(&hub, &member);
    let (clients, _) = hub.clients();
    let off = organization(clients, &hub.sdk, org_config(&hub, "off-hours"), move |c| {
        OffHours::new(c, config.clone())
    });
    let night = off
        .handle(from(MEMBER, tick_event("2026-11-16T22:00:00Z")))
        .await
        .expect("night");
    let actions: BTreeMap<String, String> = night["result"]["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                format!(
                    "{}/{}",
                    s["cluster"].as_str().unwrap_or("?"),
                    s["service"].as_str().unwrap_or("?")
                ),
                s["action"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        BTreeMap::from([("east/web".to_string(), "sleep".to_string())]),
        "{night}"
    );
    assert_eq!(member.describe_service().await.desired_count(), 0);
    assert_eq!(
        hub.describe_service().await.desired_count(),
        2,
        "the hub's service stays up"
    );
    let chat = hub.notifications().await;
    assert!(!chat.is_empty());
    assert!(
        titles(&chat)
            .iter()
            .all(|t| t.contains(&format!("[{ALIAS}]"))),
        "{:?}",
        titles(&chat)
    );
}

/// STS's answer to a role that does not exist or does not trust the caller.
fn access_denied(account: &str) -> Fault {
    Fault::Answer(
        403,
        format!(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/off-hours/off-hours is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{account}:role/fargate-autopilot-off-hours</Message></Error><RequestId>4f4b4c4e-0000-4000-8000-000000000000</RequestId></ErrorResponse>"#
        ),
    )
}

#[tokio::test]
async fn a_member_account_without_its_role_is_said_once_and_never_stops_the_others() {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let (hub, member) = organization_of_two(&emu).await;
    member.tag_service(&[(tags::OFF_HOURS, "enabled")]).await;
    let proxy = FaultProxy::start(&emu.endpoint, 7);
    proxy.add(Rule::always("AssumeRole", access_denied(LOST)).when_body_contains(LOST));
    let config = off_hours_config(&hub, &member);
    let (clients, _) = hub.clients_via(&proxy.url);
    let off = organization(clients, &hub.sdk, org_config(&hub, "off-hours"), move |c| {
        OffHours::new(c, config.clone())
    });

    let lost = off
        .handle(from(LOST, tick_event("2026-11-16T22:00:00Z")))
        .await
        .expect("answered, not failed");
    assert_eq!(lost["unreachable"]["code"], "AccessDenied", "{lost}");
    assert_eq!(lost["unreachable"]["notified"], true);
    assert_eq!(
        lost["unreachable"]["roleArn"],
        format!("arn:aws:iam::{LOST}:role/fargate-autopilot-off-hours")
    );
    // The member account's night goes on.
    let night = off
        .handle(from(MEMBER, tick_event("2026-11-16T22:00:00Z")))
        .await
        .expect("night");
    assert!(night["result"].is_object(), "{night}");
    assert_eq!(member.describe_service().await.desired_count(), 0);
    // The next quarter: not said again.
    let again = off
        .handle(from(LOST, tick_event("2026-11-16T22:15:00Z")))
        .await
        .expect("answered");
    assert_eq!(again["unreachable"]["notified"], false, "{again}");

    let chat = hub.notifications().await;
    let about_lost: Vec<&Value> = chat
        .iter()
        .filter(|m| m["metadata"]["threadId"] == format!("autopilot-account:{LOST}"))
        .collect();
    assert_eq!(about_lost.len(), 1, "said once: {:?}", titles(&chat));
    let text = about_lost[0].to_string();
    for what in [
        LOST,
        "arn:aws:iam::333333333333:role/fargate-autopilot-off-hours",
        "AccessDenied",
        "create-stack-instances",
        "--template-file sam/spoke.yaml",
        "HubAccountId=123456789012 HubEventBusArn=arn:aws:events:us-east-1:123456789012:event-bus/platform-shared-autopilot SpokeRolePrefix=fargate-autopilot",
    ] {
        assert!(text.contains(what), "{what}: {text}");
    }
    // Remembered on the hub's topic, so another process does not say it again either.
    let tags = hub
        .sns
        .list_tags_for_resource()
        .resource_arn(&hub.topic_arn)
        .send()
        .await
        .expect("ListTagsForResource");
    let remembered: Vec<(String, String)> = tags
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    assert!(
        remembered.contains(&(
            format!("autopilot:unreachable-{LOST}"),
            "AccessDenied".into()
        )),
        "{remembered:?}"
    );
}
