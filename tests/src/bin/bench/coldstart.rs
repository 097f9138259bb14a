//! Cold starts as Lambda runs a function: each release binary under the local Runtime API, its
//! init (process start to first poll) and first invocation timed and its CPU counted, started
//! round-robin with the floors so that a busy moment of the machine hits them all alike; then
//! its peak memory over 200 invocations of its sample events.

use std::path::PathBuf;
use std::time::Duration;

use integration_tests::{release_binary, run_function, sample_event, Emulator, Profile, Stack};
use serde_json::Value;

use crate::report::{ms, percentile, Report};

/// One binary to measure: its name, environment and the events it is fed.
struct Subject {
    name: &'static str,
    env: Vec<(String, String)>,
    /// The first invocation's event (cold start), then the events cycled for memory.
    events: Vec<Value>,
}

fn subjects(emu: &Emulator, stack: &Stack) -> Vec<Subject> {
    let with = |extra: &[(&str, String)]| {
        let mut env = emu.env();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        env
    };
    let topic = stack.topic_arn.clone();
    let samples = |names: &[&str]| names.iter().map(|n| sample_event(n)).collect::<Vec<_>>();
    vec![
        Subject {
            name: "floor-echo",
            env: emu.env(),
            events: samples(&["off-hours/scheduled-event.json"]),
        },
        Subject {
            name: "floor-sdk",
            env: emu.env(),
            events: samples(&["off-hours/scheduled-event.json"]),
        },
        Subject {
            name: "deployer",
            env: with(&[
                (
                    "DEPLOY_TARGETS",
                    format!(
                        r#"[{{"repository":"web","tags":["v*","latest"],"cluster":"{}","service":"{}","container":"app"}}]"#,
                        stack.cluster, stack.service
                    ),
                ),
                ("NOTIFY_TOPIC_ARN", topic.clone()),
            ]),
            events: samples(&[
                "deployer/ecr-push-release-tag.json",
                "deployer/ecs-deployment-in-progress.json",
                "deployer/ecs-deployment-completed.json",
                "deployer/ecr-push-signature.json",
            ]),
        },
        Subject {
            name: "task-watcher",
            env: with(&[("NOTIFY_TOPIC_ARN", topic.clone())]),
            events: samples(&[
                "task-watcher/out-of-memory.json",
                "task-watcher/scaling.json",
                "task-watcher/image-pull.json",
                "task-watcher/completed.json",
            ]),
        },
        Subject {
            name: "alarm-notifier",
            env: with(&[("NOTIFY_TOPIC_ARN", topic.clone())]),
            events: samples(&[
                "alarm-notifier/cpu-alarm.json",
                "alarm-notifier/cpu-ok.json",
                "alarm-notifier/composite.json",
                "alarm-notifier/sns-cpu-alarm.json",
            ]),
        },
        Subject {
            name: "off-hours",
            env: with(&[
                ("ON_HOURS", "Mon-Fri 07:00-19:00".into()),
                ("TIMEZONE", "Europe/Berlin".into()),
                (
                    "TARGETS",
                    format!(
                        r#"[{{"cluster":"{}","service":"{}"}}]"#,
                        stack.cluster, stack.service
                    ),
                ),
                ("NOTIFY_TOPIC_ARN", topic.clone()),
            ]),
            events: samples(&["off-hours/scheduled-event.json"]),
        },
        Subject {
            // A callback inside the soak: its one read is the alarm (the emulator has no
            // service deployments; the scenarios measure every invocation of a stage).
            name: "deploy-gate",
            env: with(&[
                ("NOTIFY_TOPIC_ARN", topic),
                ("GATE_ALARMS", "bench-web-5xx".into()),
            ]),
            events: vec![gate_callback()],
        },
    ]
}

/// The sample step of a linear deployment, called back one minute into its soak.
fn gate_callback() -> Value {
    let mut e = sample_event("deploy-gate/pre-production-traffic-shift.json");
    e["hookDetails"] = serde_json::json!({"autopilot": {
        "stage": "PRE_PRODUCTION_TRAFFIC_SHIFT", "step": 0.0, "begun": true,
        "since": chrono::Utc::now() - chrono::Duration::minutes(1),
        "checks": 1, "readFailures": 0,
        "settings": {"alarms": ["bench-web-5xx"], "allowInsufficientData": true, "minRequests": 0,
            "minTestRequests": 0, "minHealthyTargets": null, "maxErrorPercent": 1.0,
            "soakMinutes": 5, "patienceMinutes": 10},
        "targetGroup": null, "loadBalancer": null, "requestedTasks": 2
    }});
    e
}

#[derive(Default)]
struct Samples {
    init_cpu: Vec<Duration>,
    init_wall: Vec<Duration>,
    first_wall: Vec<Duration>,
    first_cpu: Vec<Duration>,
    cold: Vec<Duration>,
}

impl Samples {
    fn add(&mut self, p: &Profile) {
        if let (Some(ic), Some(iw), Some(fw), Some(fc)) = (
            p.init_cpu,
            p.init_wall,
            p.first_invocation_wall,
            p.first_invocation_cpu,
        ) {
            self.init_cpu.push(ic);
            self.init_wall.push(iw);
            self.first_wall.push(fw);
            self.first_cpu.push(fc);
            self.cold.push(iw + fw);
        }
    }
}

/// Size of a file in MB, if it is there.
fn size_mb(path: &PathBuf) -> Option<f64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.len() as f64 / 1_000_000.0)
}

fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.1}"))
}

pub async fn run(report: &mut Report, starts: usize) {
    let emu = Emulator::start_with(&[("MOTO_ECS_SERVICE_RUNNING", "2")]);
    // The samples name cluster autopilot-demo and service web.
    let stack = Stack::create(&emu, "autopilot-demo", "web").await;
    // The alarm the deploy-gate's callback reads.
    stack.put_cpu_alarm("bench-web-5xx", "web", &[]).await;
    let subjects = subjects(&emu, &stack);
    let mut samples: Vec<Samples> = subjects.iter().map(|_| Samples::default()).collect();
    for _ in 0..starts {
        for (subject, samples) in subjects.iter().zip(samples.iter_mut()) {
            let run = run_function(
                &release_binary(subject.name),
                subject.name,
                &subject.env,
                subject.events[..1].to_vec(),
                Duration::from_secs(30),
            );
            samples.add(&run.profile);
        }
    }
    let mut peaks = vec![];
    for subject in &subjects {
        let events: Vec<Value> = subject.events.iter().cycle().take(200).cloned().collect();
        let run = run_function(
            &release_binary(subject.name),
            subject.name,
            &subject.env,
            events,
            Duration::from_secs(300),
        );
        peaks.push((run.invocations.len(), run.profile.peak_rss_kib));
    }

    let dir = release_binary("floor-echo")
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    report.heading(&format!(
        "Cold start: init and first invocation ({starts} starts each, round-robin, x86_64 builds in {dir}, against the emulator on loopback)"
    ));
    report.para(
        "Init = process start to its first poll of the Runtime API; CPU is every thread's time on a CPU (`/proc/<pid>/task/*/schedstat`). \
         First invocation = event handed out to response (the first AWS calls included: the first connection is made there). \
         Cold start = init wall + first invocation wall. Peak RSS = `VmHWM` after 200 invocations of the function's sample events.",
    );
    report.row(&[
        "binary",
        "init CPU p50",
        "init CPU p95",
        "× echo",
        "init wall p50",
        "1st inv. wall p50",
        "1st inv. CPU p50",
        "cold start p50",
        "cold start p95",
        "peak RSS MB",
        "x86_64 MB",
        "arm64 bootstrap MB",
        "arm64 zip MB",
    ]);
    let echo = percentile(&samples[0].init_cpu, 0.5);
    let target = integration_tests::workspace_root().join("target");
    let dist = target.join("lambda-dist");
    for ((subject, s), (invoked, peak)) in subjects.iter().zip(&samples).zip(&peaks) {
        let init_cpu = percentile(&s.init_cpu, 0.5);
        let peak = match peak {
            Some(kib) if *invoked == 200 => format!("{:.1}", *kib as f64 / 1024.0),
            Some(kib) => format!("{:.1} ({invoked} of 200 answered)", *kib as f64 / 1024.0),
            None => "–".into(),
        };
        report.row(&[
            subject.name,
            &ms(init_cpu),
            &ms(percentile(&s.init_cpu, 0.95)),
            &format!(
                "{:.2}",
                init_cpu.as_secs_f64() / echo.as_secs_f64().max(1e-9)
            ),
            &ms(percentile(&s.init_wall, 0.5)),
            &ms(percentile(&s.first_wall, 0.5)),
            &ms(percentile(&s.first_cpu, 0.5)),
            &ms(percentile(&s.cold, 0.5)),
            &ms(percentile(&s.cold, 0.95)),
            &peak,
            &cell(size_mb(&release_binary(subject.name))),
            &cell(size_mb(&dist.join(subject.name).join("bootstrap"))),
            &cell(size_mb(&dist.join(subject.name).join("bootstrap.zip"))),
        ]);
    }
    report.para("arm64 columns: from `make lambda` (target/lambda-dist/<function>/bootstrap and bootstrap.zip), when it has run; – otherwise.");
}
