//! Environment: the template sets exactly what each function reads

use super::*;

/// Builds the function's configuration from `env`; returns the variables it read, or the error.
pub(super) fn read_config(
    binary: &str,
    env: &BTreeMap<String, String>,
) -> Result<BTreeSet<&'static str>, String> {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let source = Env::from_pairs(&pairs);
    // The four that organization mode runs read its configuration too, as `org::scoped` does.
    let org = || autopilot_core::org::OrgConfig::from(&source).map(|_| ());
    let built = match binary {
        "deployer" => DeployerConfig::from(&source).and_then(|_| org()),
        "task-watcher" => TaskWatcherConfig::from(&source).and_then(|_| org()),
        "alarm-notifier" => AlarmNotifierConfig::from(&source).and_then(|_| org()),
        "off-hours" => OffHoursConfig::from(&source).and_then(|_| org()),
        "deploy-gate" => GateConfig::from(&source).map(|_| ()),
        "weekly-account" => WeeklyConfig::from(&source).map(|_| ()),
        other => panic!("unknown function {other}"),
    };
    built
        .map(|()| source.names_read())
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn each_function_reads_every_variable_the_template_sets_and_needs_no_other() {
    let emu = template::emulator();
    DeployedStack::deploy(&emu, &translate(), &[OFF_HOURS]);
    for (binary, _) in FUNCTIONS {
        let env = DeployedStack::function_env(&emu, binary);
        let read = read_config(binary, &env).unwrap_or_else(|e| {
            panic!("{binary} does not start with the template's environment: {e}")
        });
        for var in env.keys() {
            assert!(
                read.contains(var.as_str()),
                "{binary}: the template sets {var}, which its configuration never reads ({read:?})"
            );
        }
        assert!(!read.is_empty(), "{binary}");
    }
}

#[tokio::test]
async fn each_release_binary_starts_and_handles_an_event_with_the_templates_environment() {
    let emu = template::emulator();
    let deployed = DeployedStack::deploy(&emu, &translate(), &[OFF_HOURS]);
    let stack = deployed.as_stack(&emu).await;
    stack
        .put_cpu_alarm("autopilot-demo-web-cpu-high", SERVICE, &[])
        .await;
    for (binary, event) in [
        ("deployer", for_stack("deployer/ecr-push-release-tag.json")),
        ("task-watcher", for_stack("task-watcher/scaling.json")),
        ("alarm-notifier", for_stack("alarm-notifier/cpu-alarm.json")),
        ("off-hours", sample_event("off-hours/scheduled-event.json")),
        // The emulator has no service deployments: the gate's first read fails, and it answers
        // IN_PROGRESS to look again (never an error, which ECS would take for a rollback).
        (
            "deploy-gate",
            sample_event("deploy-gate/post-test-traffic-shift.json"),
        ),
    ] {
        let mut env: Vec<(String, String)> = DeployedStack::function_env(&emu, binary)
            .into_iter()
            .collect();
        env.extend(emu.env());
        let run = run_function(
            &release_binary(binary),
            &function_name(binary),
            &env,
            vec![event],
            Duration::from_secs(60),
        );
        assert!(
            run.init_error.is_none(),
            "{binary}: {:?}\n{}",
            run.init_error,
            run.output
        );
        let answer = run.invocations.first().and_then(|i| i.ok());
        assert!(
            answer.is_some(),
            "{binary}: {:?}\n{}",
            run.invocations,
            run.output
        );
        if binary == "deploy-gate" {
            assert_eq!(
                answer.map(|a| a["hookStatus"].clone()),
                Some(json!("IN_PROGRESS")),
                "{}",
                run.output
            );
        }
    }
    let published = stack.notifications().await;
    assert!(
        published.iter().any(|n| n["source"] == "custom"),
        "the functions published to the stack's topic: {published:?}"
    );
}
