//! `make demo`: the release deployer, then the task-watcher, run as Lambda runs them, against the local emulator, fed the
//! sample events from `events/deployer/`, with a readable account of what it decided and what
//! reached chat.

use std::time::Duration;

use integration_tests::{release_binary, run_function, sample_event, Emulator, Invocation, Stack};
use serde_json::{json, Value};

#[tokio::main]
async fn main() {
    println!("== Fargate Autopilot demo: the deployer ==\n");
    let emu = Emulator::start();
    println!("emulator: moto server at {}", emu.endpoint);
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    println!(
        "stack:    cluster {}, service {} (desired 2) on {}",
        stack.cluster, stack.service, stack.task_definition
    );
    println!(
        "          chat topic {} read through an SQS queue\n",
        stack.topic_arn
    );
    // A deployment that failed: two tasks it started were stopped by ELB health checks.
    stack
        .stopped_deployment_tasks(
            "ecs-svc/1234567890123456789",
            2,
            "Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef)",
        )
        .await;

    let mut env = emu.env();
    let targets = json!([{"repository": "web", "tags": ["v*", "latest"], "cluster": stack.cluster,
                          "service": stack.service, "container": "app", "strategy": "pin-digest"}]);
    println!("DEPLOY_TARGETS={targets}\n");
    env.push(("DEPLOY_TARGETS".into(), targets.to_string()));
    env.push(("NOTIFY_TOPIC_ARN".into(), stack.topic_arn.clone()));
    env.push(("KEEP_REVISIONS".into(), "5".into()));
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "warn".into()));

    let names = [
        "deployer/ecr-push-release-tag.json",
        "deployer/ecr-push-release-tag.json",
        "deployer/ecr-push-latest.json",
        "deployer/ecr-push-signature.json",
        "deployer/ecr-push-by-digest.json",
        "deployer/ecs-deployment-in-progress.json",
        "deployer/ecs-deployment-failed.json",
    ];
    let mut events: Vec<Value> = names.iter().map(|n| sample_event(n)).collect();
    events.push(sample_event("deployer/ecs-deployment-completed.json"));

    let binary = release_binary("deployer");
    println!(
        "running {} under a local Lambda Runtime API\n",
        binary.display()
    );
    // Run the pushes first, then point the completed event at the deployment they started.
    let (pushes, rest) = events.split_at(6);
    let first = run_function(
        &binary,
        "deployer",
        &env,
        pushes.to_vec(),
        Duration::from_secs(60),
    );
    let deployment_id = stack
        .describe_service()
        .await
        .deployments()
        .first()
        .and_then(|d| d.id())
        .unwrap_or("ecs-svc/unknown")
        .to_string();
    let mut later = rest.to_vec();
    let mut completed = sample_event("deployer/ecs-deployment-completed.json");
    completed["detail"]["deploymentId"] = json!(deployment_id);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    completed["detail"]["updatedAt"] = json!(now);
    completed["time"] = json!(now);
    later[1] = completed;
    let second = run_function(&binary, "deployer", &env, later, Duration::from_secs(60));

    let all_names: Vec<&str> = names
        .iter()
        .copied()
        .chain(["deployer/ecs-deployment-completed.json"])
        .collect();
    let invocations: Vec<Invocation> = first
        .invocations
        .into_iter()
        .chain(second.invocations)
        .collect();
    for (name, inv) in all_names.iter().zip(&invocations) {
        println!("event {name}");
        match inv {
            Invocation::Ok(v) if v.get("decisions").is_some() => {
                for d in v["decisions"].as_array().into_iter().flatten() {
                    println!(
                        "  -> {} ({}): {}",
                        d["action"].as_str().unwrap_or("?"),
                        d["reason"].as_str().unwrap_or("?"),
                        d["detail"].as_str().unwrap_or("")
                    );
                    if let Some(arn) = d["taskDefinitionArn"].as_str() {
                        println!("     new revision {arn}");
                    }
                }
            }
            Invocation::Ok(v) => {
                let d = &v["deployment"];
                println!(
                    "  -> deployment {} {}: notified {}{}",
                    d["deploymentId"].as_str().unwrap_or("?"),
                    d["outcome"].as_str().unwrap_or("?"),
                    d["notified"],
                    d["reason"]
                        .as_str()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
            Invocation::Err(e) => println!("  -> error {}: {}", e["errorType"], e["errorMessage"]),
        }
    }
    if invocations.len() != all_names.len() {
        eprintln!(
            "\nonly {} of {} events were answered; the function printed:\n{}{}",
            invocations.len(),
            all_names.len(),
            first.output,
            second.output
        );
        std::process::exit(1);
    }

    println!("\n== what reached chat ==");
    let chat = stack.notifications().await;
    for n in &chat {
        println!("\n{}", n["content"]["title"].as_str().unwrap_or("?"));
        for line in n["content"]["description"].as_str().unwrap_or("").lines() {
            println!("  {line}");
        }
        for step in n["content"]["nextSteps"].as_array().into_iter().flatten() {
            println!("  next: {}", step.as_str().unwrap_or(""));
        }
        println!(
            "  thread {}",
            n["metadata"]["threadId"].as_str().unwrap_or("?")
        );
    }
    println!(
        "\n{} notifications; service now runs {}",
        chat.len(),
        stack
            .describe_service()
            .await
            .task_definition()
            .unwrap_or("?")
    );

    task_watcher(&emu, &stack).await;
}

/// The release task-watcher: an out-of-memory stop, a scale-in, and three failing health
/// checks that make a crash loop.
async fn task_watcher(emu: &Emulator, stack: &Stack) {
    println!("\n== the task-watcher ==\n");
    let mut env = emu.env();
    env.push(("NOTIFY_TOPIC_ARN".into(), stack.topic_arn.clone()));
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "warn".into()));
    let elb = "Task failed ELB health checks in (target-group web-tg)";
    // One event at a time, each stop made just before its event, as they happen.
    for (sample, reason) in [
        ("out-of-memory.json", "Essential container in task exited"),
        (
            "scaling.json",
            "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)",
        ),
        ("elb-health-check.json", elb),
        ("elb-health-check.json", elb),
        ("elb-health-check.json", elb),
    ] {
        let task = stack
            .run_and_stop(None, Some("service:web"), &[], 1, reason)
            .await
            .remove(0);
        let mut e = sample_event(&format!("task-watcher/{sample}"));
        e["time"] = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        e["detail"]["taskArn"] = json!(task);
        e["detail"]["taskDefinitionArn"] = json!(stack.task_definition);
        let run = run_function(
            &release_binary("task-watcher"),
            "task-watcher",
            &env,
            vec![e],
            Duration::from_secs(60),
        );
        println!("event task-watcher/{sample}");
        match run.invocations.first() {
            Some(Invocation::Ok(v)) => {
                let actions: Vec<&str> = v["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                println!(
                    "  -> {} [{}]: {}",
                    v["cause"].as_str().unwrap_or("?"),
                    actions.join(", "),
                    v["detail"].as_str().unwrap_or("")
                );
            }
            Some(Invocation::Err(e)) => {
                println!("  -> error {}: {}", e["errorType"], e["errorMessage"])
            }
            None => {
                eprintln!("the event was not answered:\n{}", run.output);
                std::process::exit(1);
            }
        }
    }
    println!("\n== what reached chat ==");
    for n in stack.notifications().await {
        println!("\n{}", n["content"]["title"].as_str().unwrap_or("?"));
        for line in n["content"]["description"].as_str().unwrap_or("").lines() {
            println!("  {line}");
        }
        for step in n["content"]["nextSteps"].as_array().into_iter().flatten() {
            println!("  next: {}", step.as_str().unwrap_or(""));
        }
    }
}
