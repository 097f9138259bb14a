//! Fleet mode against the emulator: services opt in with their own tags, found through its
//! Resource Groups Tagging API (`GetResources` answers for ECS services), across clusters.

use std::collections::BTreeMap;

use autopilot_core::deploy::{Deployer, DeployerConfig};
use autopilot_core::offhours::{OffHours, TagSelection};
use autopilot_core::runtime::Handler;
use autopilot_core::tags;
use integration_tests::configs::{push_event, tick_event};
use integration_tests::{Emulator, Stack};
use serde_json::Value;

/// The stack's task definition has two containers: the tag names the one to deploy.
const APP: (&str, &str) = (tags::DEPLOY_CONTAINER, "app");
const DIGEST: &str = "sha256:7f1c0b6a5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b";

/// A service of `cluster` (created when new) on the stack's task definition, with tags.
async fn service_in(stack: &Stack, cluster: &str, name: &str, tags: &[(&str, &str)]) {
    stack
        .ecs
        .create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .expect("CreateCluster");
    stack.create_service_in(cluster, name, 2, tags).await;
}

/// The task definition a service of a cluster runs.
async fn runs(stack: &Stack, cluster: &str, name: &str) -> String {
    stack
        .ecs
        .describe_services()
        .cluster(cluster)
        .services(name)
        .send()
        .await
        .expect("DescribeServices")
        .services()
        .first()
        .and_then(|s| s.task_definition())
        .unwrap_or_default()
        .to_string()
}

fn fleet_deployer(stack: &Stack) -> Deployer {
    let config = DeployerConfig {
        targets: vec![],
        fleet: true,
        topic_arn: stack.topic_arn.clone(),
        dry_run: false,
        keep_revisions: None,
        reminders: None,
    };
    Deployer::new(stack.clients().0, config)
}

fn deployed(result: &Value) -> Vec<String> {
    let mut d: Vec<String> = result["decisions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|x| x["reason"] == "deployed")
        .map(|x| {
            format!(
                "{}/{}",
                x["cluster"].as_str().unwrap_or("?"),
                x["service"].as_str().unwrap_or("?")
            )
        })
        .collect();
    d.sort();
    d
}

#[tokio::test]
async fn a_push_deploys_exactly_the_services_tagged_for_its_repository_across_two_clusters() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "east", "web").await;
    stack.tag_service(&[(tags::DEPLOY, "web"), APP]).await;
    service_in(
        &stack,
        "west",
        "web",
        &[
            (tags::DEPLOY, "web"),
            (tags::DEPLOY_TAGS, "latest prefix:v"),
            APP,
        ],
    )
    .await;
    // Following another repository, another tag, or nothing at all.
    service_in(&stack, "west", "api", &[(tags::DEPLOY, "api")]).await;
    service_in(
        &stack,
        "east",
        "edge",
        &[(tags::DEPLOY, "web"), (tags::DEPLOY_TAGS, "latest")],
    )
    .await;
    service_in(&stack, "east", "worker", &[("team", "payments")]).await;
    let before = runs(&stack, "west", "api").await;

    let d = fleet_deployer(&stack);
    let result = d
        .handle(push_event("v1.4.2", DIGEST, "2026-11-16T02:10:00Z"))
        .await
        .expect("push");
    assert_eq!(deployed(&result), ["east/web", "west/web"], "{result}");
    for (cluster, name) in [("east", "web"), ("west", "web")] {
        let td = runs(&stack, cluster, name).await;
        let (revision, _) = stack.describe_task_definition(&td).await;
        let image = revision.container_definitions()[0]
            .image()
            .unwrap_or_default();
        assert!(
            image.ends_with(&format!("web@{DIGEST}")),
            "{cluster}/{name}: {image}"
        );
    }
    assert_eq!(runs(&stack, "west", "api").await, before);
    assert_eq!(runs(&stack, "east", "worker").await, before);
    assert_eq!(runs(&stack, "east", "edge").await, before);
    let calls = d.clients.calls.snapshot();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.as_str() == "Resource Groups Tagging API.GetResources")
            .count(),
        1,
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_bad_tag_value_is_reported_once_and_the_others_deploy() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "east", "web").await;
    stack.tag_service(&[(tags::DEPLOY, "web"), APP]).await;
    service_in(
        &stack,
        "west",
        "old",
        &[(tags::DEPLOY, "web"), (tags::DEPLOY_STRATEGY, "blue-green")],
    )
    .await;
    let d = fleet_deployer(&stack);
    let result = d
        .handle(push_event("v1.4.2", DIGEST, "2026-11-16T02:10:00Z"))
        .await
        .expect("push");
    assert_eq!(deployed(&result), ["east/web"], "{result}");
    let problems = result["tagProblems"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(problems.len(), 1, "{result}");
    assert_eq!(problems[0]["tag"], tags::DEPLOY_STRATEGY);
    assert!(problems[0]["serviceArn"]
        .as_str()
        .is_some_and(|a| a.ends_with("service/west/old")));
    let chat = stack.notifications().await;
    let about_old: Vec<&Value> = chat
        .iter()
        .filter(|n| {
            n["content"]["title"]
                .as_str()
                .is_some_and(|t| t.contains("west/old"))
        })
        .collect();
    assert_eq!(about_old.len(), 1, "{chat:?}");
    assert!(about_old[0].to_string().contains("blue-green"));

    // The next push says nothing more about it; the result still lists it.
    let again = d
        .handle(push_event(
            "v1.4.3",
            &DIGEST.replace('7', "8"),
            "2026-11-16T03:10:00Z",
        ))
        .await
        .expect("push");
    assert_eq!(again["tagProblems"][0]["reported"], true, "{again}");
    let chat = stack.notifications().await;
    assert!(
        chat.iter().all(|n| !n.to_string().contains("west/old")),
        "{chat:?}"
    );
}

#[tokio::test]
async fn a_deploy_tag_that_names_no_repository_is_found_and_reported_once() {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "east", "web").await;
    stack.tag_service(&[(tags::DEPLOY, "web"), APP]).await;
    // Filtering on `autopilot:deploy=web` would never return these.
    service_in(&stack, "west", "capital", &[(tags::DEPLOY, "Web"), APP]).await;
    service_in(
        &stack,
        "west",
        "tagged",
        &[(tags::DEPLOY, "web:latest"), APP],
    )
    .await;
    service_in(&stack, "west", "api", &[(tags::DEPLOY, "api")]).await;
    let d = fleet_deployer(&stack);
    let result = d
        .handle(push_event("v1.4.2", DIGEST, "2026-11-16T02:10:00Z"))
        .await
        .expect("push");
    assert_eq!(deployed(&result), ["east/web"], "{result}");
    let mut bad: Vec<String> = result["tagProblems"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "{}={}",
                p["tag"].as_str().unwrap_or("?"),
                p["value"].as_str().unwrap_or("?")
            )
        })
        .collect();
    bad.sort();
    assert_eq!(
        bad,
        ["autopilot:deploy=Web", "autopilot:deploy=web:latest"],
        "{result}"
    );
    let said = |chat: &[Value]| {
        chat.iter()
            .filter(|n| {
                n["content"]["title"]
                    .as_str()
                    .is_some_and(|t| t.contains("its tag autopilot:deploy is wrong"))
            })
            .count()
    };
    assert_eq!(said(&stack.notifications().await), 2);

    let again = d
        .handle(push_event(
            "v1.4.3",
            &DIGEST.replace('7', "8"),
            "2026-11-16T03:10:00Z",
        ))
        .await
        .expect("push");
    assert_eq!(again["tagProblems"][0]["reported"], true, "{again}");
    assert_eq!(again["tagProblems"][1]["reported"], true, "{again}");
    assert_eq!(said(&stack.notifications().await), 0, "said once");
}

/// The calls of one push to `web` with `total` services in two clusters, 3 of them following
/// `web`, sorted (the targets deploy side by side).
async fn calls_of_a_push(total: usize) -> Vec<String> {
    let emu = Emulator::start();
    let stack = Stack::create(&emu, "east", "web").await;
    stack.tag_service(&[(tags::DEPLOY, "web"), APP]).await;
    service_in(&stack, "west", "web", &[(tags::DEPLOY, "web"), APP]).await;
    service_in(&stack, "west", "web-canary", &[(tags::DEPLOY, "web"), APP]).await;
    for i in 3..total {
        let cluster = if i % 2 == 0 { "east" } else { "west" };
        let tags: &[(&str, &str)] = if i % 3 == 0 {
            &[(tags::DEPLOY, "api")]
        } else {
            &[("team", "payments")]
        };
        service_in(&stack, cluster, &format!("svc{i:03}"), tags).await;
    }
    let d = fleet_deployer(&stack);
    let result = d
        .handle(push_event("v1.4.2", DIGEST, "2026-11-16T02:10:00Z"))
        .await
        .expect("push");
    assert_eq!(
        deployed(&result),
        ["east/web", "west/web", "west/web-canary"],
        "{total}: {result}"
    );
    let mut calls = d.clients.calls.snapshot();
    calls.sort();
    calls
}

#[tokio::test]
async fn the_calls_of_a_push_are_the_same_with_10_and_with_200_services_in_the_account() {
    let ten = calls_of_a_push(10).await;
    let two_hundred = calls_of_a_push(200).await;
    assert_eq!(ten, two_hundred);
    let count = |op: &str| ten.iter().filter(|c| c.as_str() == op).count();
    // One GetResources, one DescribeServices per cluster, one revision registered for all.
    assert_eq!(
        count("Resource Groups Tagging API.GetResources"),
        1,
        "{ten:?}"
    );
    assert_eq!(count("ECS.DescribeServices"), 2, "{ten:?}");
    assert_eq!(count("ECS.RegisterTaskDefinition"), 1, "{ten:?}");
}

#[tokio::test]
async fn off_hours_puts_tag_selected_services_of_two_clusters_to_sleep_without_clusters() {
    // The stack's service runs 2 tasks; the others are made to (moto reports the same running
    // count for every service, and a service short of its count is mid-deployment).
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    let stack = Stack::create(&emu, "east", "web").await;
    stack.tag_service(&[(tags::OFF_HOURS, "enabled")]).await;
    service_in(&stack, "west", "api", &[(tags::OFF_HOURS, "enabled")]).await;
    service_in(&stack, "west", "always-on", &[("team", "payments")]).await;
    let mut config = stack.off_hours_config();
    config.targets = vec![];
    config.selection = Some(TagSelection {
        key: tags::OFF_HOURS.into(),
        value: "enabled".into(),
        clusters: vec![],
    });
    let off = OffHours::new(stack.clients().0, config);
    let night = off
        .handle(tick_event("2026-11-16T22:00:00Z"))
        .await
        .expect("night");
    let actions: BTreeMap<String, String> = night["services"]
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
        BTreeMap::from([
            ("east/web".to_string(), "sleep".to_string()),
            ("west/api".to_string(), "sleep".to_string()),
        ]),
        "{night}"
    );
    let desired = |cluster: &'static str, name: &'static str| {
        let ecs = stack.ecs.clone();
        async move {
            ecs.describe_services()
                .cluster(cluster)
                .services(name)
                .send()
                .await
                .expect("DescribeServices")
                .services()[0]
                .desired_count()
        }
    };
    assert_eq!(desired("east", "web").await, 0);
    assert_eq!(desired("west", "api").await, 0);
    assert_eq!(desired("west", "always-on").await, 2);
    let calls = off.clients.calls.snapshot();
    assert!(
        !calls
            .iter()
            .any(|c| c == "ECS.ListClusters" || c == "ECS.ListServices"),
        "{calls:?}"
    );
}
