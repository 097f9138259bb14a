//! `make demo`: the release deployer, task-watcher, alarm-notifier and off-hours, run as Lambda runs them, against the local emulator, fed the
//! sample events from `events/deployer/`, with a readable account of what it decided and what
//! reached chat.

use std::time::Duration;

use integration_tests::{release_binary, run_function, sample_event, Emulator, Invocation, Stack};
use serde_json::{json, Value};

#[tokio::main]
async fn main() {
    println!("== Fargate Autopilot demo: the deployer ==\n");
    // Services created in it run 2 tasks, so their deployment has completed (steady).
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
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
        .deployment_id()
        .await
        .unwrap_or_else(|| "ecs-svc/unknown".into());
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

    let chat = print_chat(&stack).await;
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
    alarm_notifier(&emu, &stack).await;
    off_hours(&emu, &stack).await;
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
        let task = stack.stopped_service_task(reason).await;
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
    print_chat(stack).await;
}

/// Prints every notification that reached the chat topic since the last call.
async fn print_chat(stack: &Stack) -> Vec<Value> {
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
    chat
}

/// Runs a release function over events and prints one line per result.
fn run_and_print(
    emu: &Emulator,
    name: &str,
    extra: &[(&str, String)],
    events: Vec<(String, Value)>,
    line: fn(&Value) -> String,
) {
    let mut env = emu.env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    env.push(("AWS_LAMBDA_LOG_LEVEL".into(), "warn".into()));
    let run = run_function(
        &release_binary(name),
        name,
        &env,
        events.iter().map(|(_, e)| e.clone()).collect(),
        Duration::from_secs(60),
    );
    for ((label, _), inv) in events.iter().zip(&run.invocations) {
        println!("event {label}");
        match inv {
            Invocation::Ok(v) => println!("  -> {}", line(v)),
            Invocation::Err(e) => println!("  -> error {}: {}", e["errorType"], e["errorMessage"]),
        }
    }
    if run.invocations.len() != events.len() {
        eprintln!(
            "only {} of {} events were answered:\n{}",
            run.invocations.len(),
            events.len(),
            run.output
        );
        std::process::exit(1);
    }
}

/// The release alarm-notifier: a critical CPU alarm with a runbook, its recovery, a composite.
async fn alarm_notifier(emu: &Emulator, stack: &Stack) {
    println!("\n== the alarm-notifier ==\n");
    stack
        .put_cpu_alarm(
            "autopilot-demo-web-cpu-high",
            &stack.service,
            &[
                ("autopilot:severity", "critical"),
                ("autopilot:runbook", "https://wiki.example/runbooks/web-cpu"),
            ],
        )
        .await;
    println!(
        "alarm autopilot-demo-web-cpu-high tagged autopilot:severity=critical and a runbook\n"
    );
    let events = ["cpu-alarm.json", "cpu-ok.json", "composite.json"]
        .iter()
        .map(|n| {
            (
                format!("alarm-notifier/{n}"),
                sample_event(&format!("alarm-notifier/{n}")),
            )
        })
        .collect();
    run_and_print(
        emu,
        "alarm-notifier",
        &[("NOTIFY_TOPIC_ARN", stack.topic_arn.clone())],
        events,
        |v| {
            format!(
                "{} {}: severity {}, published {}",
                v["alarm"].as_str().unwrap_or("?"),
                v["state"].as_str().unwrap_or("?"),
                v["severity"].as_str().unwrap_or("?"),
                v["published"]
            )
        },
    );
    print_chat(stack).await;
}

/// The release off-hours: a night tick, the same again, and the morning.
async fn off_hours(emu: &Emulator, stack: &Stack) {
    println!("\n== off-hours ==\n");
    println!("ON_HOURS=Mon-Fri 07:00-19:00 TIMEZONE=Europe/Berlin, service web at desired 2\n");
    stack
        .ecs
        .update_service()
        .cluster(&stack.cluster)
        .service(&stack.service)
        .desired_count(2)
        .send()
        .await
        .expect("UpdateService");
    let night = sample_event("off-hours/scheduled-event.json");
    let mut morning = night.clone();
    morning["time"] = json!("2026-11-17T06:00:00Z");
    let events = vec![
        (
            "off-hours/scheduled-event.json (Mon 23:00 Berlin)".to_string(),
            night.clone(),
        ),
        ("the same tick again".to_string(), night),
        ("Tue 07:00 Berlin".to_string(), morning),
    ];
    let env = [
        ("ON_HOURS", "Mon-Fri 07:00-19:00".to_string()),
        ("TIMEZONE", "Europe/Berlin".to_string()),
        (
            "TARGETS",
            json!([{"cluster": stack.cluster, "service": stack.service}]).to_string(),
        ),
        ("NOTIFY_TOPIC_ARN", stack.topic_arn.clone()),
    ];
    run_and_print(emu, "off-hours", &env, events, |v| {
        let s = &v["services"][0];
        format!(
            "{}: {} {} ({})",
            v["mode"].as_str().unwrap_or("?"),
            s["service"].as_str().unwrap_or("?"),
            s["action"].as_str().unwrap_or("?"),
            s["reason"].as_str().unwrap_or("")
        )
    });
    print_chat(stack).await;
}
