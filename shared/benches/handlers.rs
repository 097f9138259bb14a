//! What one event costs each function without AWS: the pure path of its handler, from the raw
//! JSON payload to the SNS message that would be published, over the sample events in `events/`
//! and hand-built state standing in for what the handler would read.
//!
//! Each benchmark is `handler/<function>/<scenario>`; criterion writes its estimates to
//! `target/criterion/handler_<function>/<scenario>/new/estimates.json` (it turns the group's
//! `/` into `_`). Run with `cargo bench -p autopilot-core --bench handlers`.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;

use autopilot_core::alarms::{self, AlarmNotifierConfig, AlarmState};
use autopilot_core::capacity::Restore;
use autopilot_core::deploy::outcome::{self, DeploymentOutcome, OutcomePlan, Resolution};
use autopilot_core::deploy::plan::{self as push_plan, Live, LiveTaskDefinition, Reason};
use autopilot_core::deploy::{self, notices as deploy_notices, DeployTarget, DeployerEvent};
use autopilot_core::events::{EcsTaskStateChange, Event, HookInvocation};
use autopilot_core::gate::{self, plan as gate_plan};
use autopilot_core::model::arn;
use autopilot_core::model::service::{DeploymentSnapshot, ServiceSnapshot};
use autopilot_core::notify::Notification;
use autopilot_core::offhours::calendar::{parse_windows, Calendar};
use autopilot_core::offhours::{self, notices as offhours_notices, Action, Mode, TickReport};
use autopilot_core::tags;
use autopilot_core::tasks::{self, notices as task_notices, CrashLoop, TaskWatcherConfig};

const ECR_PUSH: &str = include_str!("../../events/deployer/ecr-push-release-tag.json");
const DEPLOYMENT_COMPLETED: &str =
    include_str!("../../events/deployer/ecs-deployment-completed.json");
const TASK_OOM: &str = include_str!("../../events/task-watcher/out-of-memory.json");
const SNS_ALARM: &str = include_str!("../../events/alarm-notifier/sns-cpu-alarm.json");
const TICK: &str = include_str!("../../events/off-hours/scheduled-event.json");
const GATE_STEP: &str = include_str!("../../events/deploy-gate/pre-production-traffic-shift.json");

const ACCOUNT: &str = "123456789012";
const CLUSTER: &str = "autopilot-demo";
const TD_OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
const TD_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:8";
const DIGEST: &str = "sha256:0c1f6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:chat";

/// What is published for a notification: the SNS subject and the `MessageStructure=json`
/// message (the Chatbot JSON and the plain text).
/// Registers `once` over the sample `raw` as the benchmark `handler/<function>/<id>` (criterion
/// writes it to `target/criterion/handler_<function>/<id>/`, where `make bench` reads it).
fn register<S, R>(
    c: &mut Criterion,
    function: &str,
    id: &str,
    raw: &str,
    s: &S,
    once: impl Fn(&str, &S) -> R,
) {
    let mut g = c.benchmark_group(format!("handler/{function}"));
    g.bench_function(id, |b| b.iter(|| once(black_box(raw), s)));
    g.finish();
}

fn render(n: &Notification) -> (String, String) {
    (n.subject(), n.to_sns_message())
}

fn time(s: &str) -> DateTime<Utc> {
    s.parse().expect("a valid time")
}

fn service_arn(cluster: &str, service: &str) -> String {
    arn::ecs_service_arn("us-east-1", ACCOUNT, cluster, service)
}

// ---- deployer: an ECR push to one pin-digest target ----

struct PushState {
    targets: Vec<DeployTarget>,
    live: BTreeMap<usize, Live>,
    now: DateTime<Utc>,
}

/// The sample events' service `autopilot-demo/web`: 2 tasks of `task_definition`, one deployment.
fn web_service(task_definition: &str, deployment: DeploymentSnapshot) -> ServiceSnapshot {
    ServiceSnapshot {
        cluster: CLUSTER.into(),
        name: "web".into(),
        arn: service_arn(CLUSTER, "web"),
        status: "ACTIVE".into(),
        controller: Some("ECS".into()),
        desired: 2,
        running: 2,
        task_definition: task_definition.into(),
        deployments: vec![deployment],
        ..ServiceSnapshot::default()
    }
}

fn push_state() -> PushState {
    let service = web_service(
        TD_OLD,
        DeploymentSnapshot {
            id: "ecs-svc/1111111111111111111".into(),
            status: "PRIMARY".into(),
            task_definition: TD_OLD.into(),
            rollout_state: Some("COMPLETED".into()),
            ..DeploymentSnapshot::default()
        },
    );
    let task_definition = LiveTaskDefinition {
        arn: TD_OLD.into(),
        containers: vec![(
            "app".into(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:aaaa6e7bb4b4f7e2a1d3c5b7e9f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f7".into(),
        )],
        tags: BTreeMap::from([
            ("team".to_string(), "payments".to_string()),
            (tags::IMAGE_TAG.to_string(), "v1.4.1".to_string()),
            (tags::PUSHED_AT.to_string(), "2026-11-15T02:10:00Z".to_string()),
            (tags::REGISTERED_BY.to_string(), "deployer".to_string()),
        ]),
    };
    PushState {
        targets: vec![DeployTarget {
            repository: "web".into(),
            tags: vec!["v*".into(), "latest".into()],
            cluster: CLUSTER.into(),
            service: "web".into(),
            container: Some("app".into()),
            strategy: deploy::Strategy::PinDigest,
        }],
        live: BTreeMap::from([(
            0,
            Live {
                service: Some(service),
                task_definition: Some(task_definition),
            },
        )]),
        now: time("2026-11-16T02:10:01Z"),
    }
}

/// Parse, plan, and render the notices the handler publishes.
fn push_once(raw: &str, s: &PushState) -> Vec<(String, String)> {
    let event: Value = serde_json::from_str(raw).expect("sample event is JSON");
    let DeployerEvent::Push(push) = deploy::parse(event).expect("sample event parses") else {
        panic!("the sample is an ECR push");
    };
    black_box(push_plan::targets_needing_state(&push, &s.targets));
    let plan = push_plan::plan_push(&push, &s.targets, &s.live, false, s.now);
    plan.planned
        .iter()
        .filter(|p| p.decision.reason.is_notified())
        .filter_map(|p| {
            let target = &s.targets[p.target?];
            Some(render(&deploy_notices::push_decision(
                &push,
                target,
                &p.decision,
            )))
        })
        .collect()
}

fn deployer_push(c: &mut Criterion) {
    let s = push_state();
    let out = push_once(ECR_PUSH, &s);
    assert_eq!(out.len(), 1, "the push is deployed and announced");
    assert!(out[0].0.contains("Deploying web:v1.4.2"), "{}", out[0].0);
    // The decision the bench measures is a deploy, not a skip.
    let ev = deploy::parse(serde_json::from_str(ECR_PUSH).expect("JSON")).expect("parses");
    let DeployerEvent::Push(push) = ev else {
        panic!("a push")
    };
    let plan = push_plan::plan_push(&push, &s.targets, &s.live, false, s.now);
    assert_eq!(plan.planned[0].decision.reason, Reason::Deployed);

    register(c, "deployer", "push", ECR_PUSH, &s, push_once);
}

// ---- deployer: a deployment that completed ----

struct CompletedState {
    targets: Vec<DeployTarget>,
    service: ServiceSnapshot,
    revision_tags: BTreeMap<String, String>,
    containers: Vec<(String, String)>,
}

fn completed_state() -> CompletedState {
    CompletedState {
        targets: push_state().targets,
        service: web_service(
            TD_NEW,
            DeploymentSnapshot {
                id: "ecs-svc/1234567890123456789".into(),
                status: "PRIMARY".into(),
                task_definition: TD_NEW.into(),
                rollout_state: Some("COMPLETED".into()),
                rollout_state_reason: Some(
                    "ECS deployment ecs-svc/1234567890123456789 completed.".into(),
                ),
                created_at: Some(time("2026-11-16T01:55:12Z")),
            },
        ),
        revision_tags: BTreeMap::from([
            ("team".to_string(), "payments".to_string()),
            (tags::IMAGE_TAG.to_string(), "v1.4.2".to_string()),
            (tags::IMAGE_DIGEST.to_string(), DIGEST.to_string()),
            (
                tags::PUSHED_AT.to_string(),
                "2026-11-16T01:55:00Z".to_string(),
            ),
            (tags::REPLACES.to_string(), TD_OLD.to_string()),
            (tags::REGISTERED_BY.to_string(), "deployer".to_string()),
        ]),
        containers: vec![(
            "app".into(),
            format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/web@{DIGEST}"),
        )],
    }
}

/// Parse, plan, resolve against the service, and render the outcome's notice.
fn completed_once(raw: &str, s: &CompletedState) -> (String, String) {
    let event: Value = serde_json::from_str(raw).expect("sample event is JSON");
    let DeployerEvent::Deployment(change) = deploy::parse(event).expect("sample event parses")
    else {
        panic!("the sample is a deployment state change");
    };
    let (service_arn, cluster, service) =
        outcome::service_of(&change).expect("the sample names its service");
    let happened = DeploymentOutcome::of(&change.detail);
    let OutcomePlan::Report { target, .. } = outcome::plan(
        happened,
        cluster.as_deref(),
        &service,
        &s.targets,
        Some(5),
        false,
    ) else {
        panic!("a completed deployment of a configured service is reported");
    };
    let svc = Some(&s.service);
    let resolution = outcome::resolve(&change.detail, svc);
    black_box(svc.and_then(|v| outcome::to_remember(&resolution, v)));
    let deployment = svc.and_then(|v| v.deployment(&change.detail.deployment_id));
    let td_arn = deployment
        .filter(|d| d.status != "PRIMARY")
        .map(|d| d.task_definition.clone())
        .or_else(|| svc.map(|v| v.task_definition.clone()))
        .unwrap_or_default();
    let image = outcome::deployed_image(
        &td_arn,
        &s.revision_tags,
        &s.service.tags,
        &s.containers,
        target.container.as_deref(),
    );
    let took = outcome::duration(
        deployment.and_then(|d| d.created_at),
        change.detail.updated_at.or(change.time),
    );
    let notice = match &resolution {
        Resolution::Completed => {
            deploy_notices::completed(&change, target, &service_arn, &image, took)
        }
        other => panic!("the sample deployment completed, resolved as {other:?}"),
    };
    render(&notice)
}

fn deployer_deployment_completed(c: &mut Criterion) {
    let s = completed_state();
    let (subject, message) = completed_once(DEPLOYMENT_COMPLETED, &s);
    assert!(subject.contains("Deployed autopilot-demo/web"), "{subject}");
    assert!(message.contains("v1.4.2"), "{message}");

    register(
        c,
        "deployer",
        "deployment-completed",
        DEPLOYMENT_COMPLETED,
        &s,
        completed_once,
    );
}

// ---- task-watcher: a service task stopped out of memory ----

struct TaskState {
    config: TaskWatcherConfig,
    service: ServiceSnapshot,
    /// The service's recently stopped tasks, as ListTasks + DescribeTasks would give them.
    stopped: Vec<EcsTaskStateChange>,
}

fn task_state() -> TaskState {
    let ev = tasks::parse(serde_json::from_str(TASK_OOM).expect("JSON")).expect("parses");
    // One earlier failing stop of the same service inside the window: below the threshold.
    let mut earlier = ev.detail.clone();
    earlier.task_arn =
        "arn:aws:ecs:us-east-1:123456789012:task/autopilot-demo/99a1b2c3d4e5f60718293a4b5c6d7e8f"
            .into();
    earlier.stopped_at = Some(time("2026-11-16T10:12:00Z"));
    TaskState {
        config: TaskWatcherConfig {
            topic_arn: TOPIC.into(),
            crash_loop_threshold: 3,
            crash_loop_window_minutes: 10,
            crash_loop_action: tasks::CrashLoopAction::Alert,
            max_restarts: 3,
            restart_network: None,
            dry_run: false,
        },
        service: ServiceSnapshot {
            running: 1,
            controller: None,
            deployments: vec![],
            ..web_service(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
                DeploymentSnapshot::default(),
            )
        },
        stopped: vec![ev.detail, earlier],
    }
}

/// Parse, classify, plan (crash loop or not), and render the stop's alert.
fn stopped_once(raw: &str, s: &TaskState) -> (String, String) {
    let event: Value = serde_json::from_str(raw).expect("sample event is JSON");
    let ev: Event<EcsTaskStateChange> = tasks::parse(event).expect("sample event parses");
    let t = &ev.detail;
    let c = tasks::classify(t);
    assert!(t.last_status == "STOPPED" && c.cause.is_failure() && t.service_name().is_some());
    let now = ev.time.unwrap_or_else(Utc::now);
    let window = Duration::minutes(i64::from(s.config.crash_loop_window_minutes));
    let alerted = s
        .service
        .tags
        .get(tags::CRASH_LOOP_ALERTED_AT)
        .map(String::as_str);
    black_box(tasks::rules::quiet_until(alerted, window, now));
    let plan = tasks::rules::crash_loop(t, c.cause, &s.stopped, s.service.desired, &s.config, now);
    assert_eq!(plan, CrashLoop::Alert, "a single stop, not a loop");
    // The log links the handler builds from the revision's awslogs configuration.
    let logs = vec![(
        "app".to_string(),
        arn::log_stream_url("us-east-1", "/ecs/web", &format!("ecs/app/{}", t.task_id())),
    )];
    render(&task_notices::alert(&ev, &c, Some(&s.service.arn), &logs))
}

fn task_watcher_stopped_oom(c: &mut Criterion) {
    let s = task_state();
    let (subject, _) = stopped_once(TASK_OOM, &s);
    assert!(subject.contains("out-of-memory"), "{subject}");

    register(c, "task-watcher", "stopped-oom", TASK_OOM, &s, stopped_once);
}

// ---- alarm-notifier: a CloudWatch alarm delivered through SNS ----

struct AlarmSetup {
    config: AlarmNotifierConfig,
    tags: BTreeMap<String, String>,
    service: ServiceSnapshot,
    now: DateTime<Utc>,
}

fn alarm_setup() -> AlarmSetup {
    AlarmSetup {
        config: AlarmNotifierConfig {
            topic_arn: TOPIC.into(),
            severity_topics: BTreeMap::from([(
                "critical".to_string(),
                "arn:aws:sns:us-east-1:123456789012:pager".to_string(),
            )]),
            flap_threshold: 4,
            flap_window_minutes: 30,
        },
        tags: BTreeMap::from([(
            tags::RUNBOOK.to_string(),
            "https://wiki.example.com/runbooks/web-cpu".to_string(),
        )]),
        service: ServiceSnapshot {
            controller: None,
            ..web_service(
                "",
                DeploymentSnapshot {
                    status: "PRIMARY".into(),
                    rollout_state: Some("COMPLETED".into()),
                    ..DeploymentSnapshot::default()
                },
            )
        },
        now: time("2026-11-16T14:05:42Z"),
    }
}

/// Parse every record, plan each, and render the messages the plan routes.
fn alarm_once(raw: &str, s: &AlarmSetup) -> Vec<(String, String)> {
    let event: Value = serde_json::from_str(raw).expect("sample event is JSON");
    let mut out = vec![];
    for ev in alarms::parse_all(event).expect("sample event parses") {
        black_box((
            alarms::render::alarm_name(&ev),
            alarms::render::alarm_arn(&ev),
        ));
        let service = alarms::render::ecs_service(&ev.detail).map(|_| s.service.clone());
        let changes_in_window =
            alarms::plan::needs_history(&ev, service.as_ref(), &s.config, s.now).then_some(2);
        let state = AlarmState {
            tags: s.tags.clone(),
            service,
            changes_in_window,
        };
        let plan = alarms::plan::plan(&ev, &state, &s.config);
        if plan.topic.is_some() {
            out.push(render(&alarms::render(&ev, &plan.context)));
        }
    }
    out
}

fn alarm_notifier_alarm(c: &mut Criterion) {
    let s = alarm_setup();
    let out = alarm_once(SNS_ALARM, &s);
    assert_eq!(out.len(), 1, "one record, one message");
    assert!(
        out[0].0.contains("autopilot-demo-web-cpu-high"),
        "{}",
        out[0].0
    );

    register(c, "alarm-notifier", "alarm", SNS_ALARM, &s, alarm_once);
}

// ---- off-hours: the evening tick over 100 services ----

struct TickState {
    calendar: Calendar,
    services: Vec<ServiceSnapshot>,
    /// Auto scaling bounds per service, as DescribeScalableTargets would give them.
    bounds: BTreeMap<String, (i32, i32)>,
    /// (vCPU, GB) of the services' revision, as DescribeTaskDefinition would give them.
    size: (f64, f64),
}

const SERVICES: usize = 100;

fn tick_state() -> TickState {
    let td = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3";
    let services: Vec<ServiceSnapshot> = (0..SERVICES)
        .map(|i| {
            let name = format!("svc-{i:03}");
            // Most go to sleep; every 20th is kept awake, and every 20th is asleep already.
            let (desired, tags): (i32, Vec<(&str, &str)>) = match i % 20 {
                0 => (2, vec![(tags::KEEP_AWAKE_UNTIL, "2026-11-17T02:00:00Z")]),
                1 => (
                    0,
                    vec![
                        (tags::RESTORE, "desired=2 min=2 max=10"),
                        (tags::ASLEEP_SINCE, "2026-11-16T19:00:00Z"),
                    ],
                ),
                _ => (2, vec![]),
            };
            ServiceSnapshot {
                cluster: "dev".into(),
                arn: service_arn("dev", &name),
                name,
                status: "ACTIVE".into(),
                controller: Some("ECS".into()),
                strategy: Some("ROLLING".into()),
                desired,
                running: desired,
                pending: 0,
                task_definition: td.into(),
                deployments: vec![DeploymentSnapshot {
                    status: "PRIMARY".into(),
                    rollout_state: Some("COMPLETED".into()),
                    task_definition: td.into(),
                    ..DeploymentSnapshot::default()
                }],
                tags: tags
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                launch_type: Some("FARGATE".into()),
                capacity_providers: vec![],
            }
        })
        .collect();
    let bounds = services
        .iter()
        .map(|s| (format!("service/{}/{}", s.cluster, s.name), (2, 10)))
        .collect();
    TickState {
        calendar: Calendar {
            windows: parse_windows("Mon-Fri 07:00-19:00").expect("windows"),
            tz: autopilot_core::offhours::calendar::Zone::utc(),
            holidays: vec![],
        },
        services,
        bounds,
        size: (0.5, 1.0),
    }
}

/// The tick's time, each service's plan, the capacity to record, the saving, and the summary.
fn tick_once(raw: &str, s: &TickState) -> Option<(String, String)> {
    let event: Value = serde_json::from_str(raw).expect("sample event is JSON");
    let now = offhours::tick_time(&event).expect("sample event parses");
    let mode = if s.calendar.is_awake(now) {
        Mode::Awake
    } else {
        Mode::Asleep
    };
    let mut planned: Vec<offhours::Planned> = s
        .services
        .iter()
        .map(|svc| offhours::plan(mode, now, svc))
        .collect();
    // What the handler does with the auto scaling bounds it read.
    for (svc, p) in s.services.iter().zip(planned.iter_mut()) {
        if p.action == Action::Sleep && !p.resume {
            let b = s
                .bounds
                .get(&format!("service/{}/{}", svc.cluster, svc.name));
            p.restore = Some(Restore {
                desired: svc.desired,
                min: b.map(|b| b.0),
                max: b.map(|b| b.1),
                suspended: b.map(|_| Default::default()),
            });
        }
    }
    let hours = s
        .calendar
        .next_start(now)
        .map(|t| (t - now).num_minutes() as f64 / 60.0)
        .unwrap_or(0.0);
    let savings = planned
        .iter()
        .filter(|p| p.action == Action::Sleep)
        .filter_map(|p| p.restore)
        .map(|r| f64::from(r.desired) * hours * (s.size.0 * 0.04048 + s.size.1 * 0.004445))
        .sum::<f64>();
    let report = TickReport {
        mode,
        now: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        services: planned,
        estimated_savings: Some((savings * 100.0).round() / 100.0),
        price_basis: vec![],
        savings_by_service: BTreeMap::new(),
        notification_id: None,
        notification_error: None,
        tag_problems: vec![],
    };
    let boundary = s
        .calendar
        .first_tick_after_boundary(now, Duration::minutes(15));
    offhours::announce(&report.services, false, boundary).then(|| {
        render(&offhours_notices::transition(
            &report,
            &s.calendar,
            now,
            false,
        ))
    })
}

fn off_hours_tick_100(c: &mut Criterion) {
    let s = tick_state();
    let (subject, message) = tick_once(TICK, &s).expect("the tick puts services to sleep");
    assert!(subject.contains("90 services asleep"), "{subject}");
    assert!(message.contains("Skipped dev/svc-000"), "{message}");

    register(c, "off-hours", "tick-100", TICK, &s, tick_once);
}

// ---- deploy-gate: the callback that decides a linear step ----

struct GateState {
    /// The step's invocation, as ECS calls back after the soak (its memory in `hookDetails`).
    raw: String,
    facts: gate_plan::Facts,
    now: DateTime<Utc>,
}

fn gate_state() -> GateState {
    let now = time("2026-12-01T10:06:00Z");
    let mut e: Value = serde_json::from_str(GATE_STEP).expect("sample event is JSON");
    let green = e["executionDetails"]["targetServiceRevisionArn"].clone();
    let weights = e["executionDetails"]["productionTrafficWeights"]
        .as_object_mut()
        .expect("weights");
    for (arn, w) in weights.iter_mut() {
        *w = if Value::String(arn.clone()) == green {
            20.into()
        } else {
            80.into()
        };
    }
    let memory = gate_plan::Memory {
        stage: "PRE_PRODUCTION_TRAFFIC_SHIFT".into(),
        step: Some(20.0),
        since: now - Duration::minutes(6),
        begun: true,
        checks: 11,
        read_failures: 0,
        settings: gate::GateSettings {
            alarms: vec!["web-5xx".into(), "web-latency".into()],
            ..gate::GateSettings::default()
        },
        target_group: Some("arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/web-green/73e2d6bc24d8a067".into()),
        load_balancer: Some("app/web-alb/50dc6c495c0c9188".into()),
        requested_tasks: Some(2),
        bake_minutes: Some(15),
    };
    e["hookDetails"] = serde_json::json!({ gate_plan::MEMORY_KEY: memory });
    let alarm = |name: &str| {
        gate_plan::AlarmReading {
        name: name.into(),
        state: "OK".into(),
        reason: Some("Threshold Crossed: 1 datapoint [0.0 (01/12/26 10:05:00)] was not greater than the threshold (5.0).".into()),
    }
    };
    GateState {
        raw: e.to_string(),
        facts: gate_plan::Facts {
            alarms: Some(vec![alarm("web-5xx"), alarm("web-latency")]),
            targets: Some(gate_plan::TargetHealth {
                healthy: 2,
                ..Default::default()
            }),
            traffic: Some(gate_plan::Traffic {
                requests: 1200.0,
                errors: 2.0,
            }),
            read_errors: vec![],
        },
        now,
    }
}

fn gate_once(raw: &str, s: &GateState) -> Option<(String, String)> {
    let event: Value = serde_json::from_str(raw).expect("sample event is JSON");
    let input = HookInvocation::parse(&event).expect("sample event parses");
    let gate_plan::Triage::Watch {
        memory: Some(memory),
    } = gate_plan::triage(&input)
    else {
        return None;
    };
    let d = gate_plan::judge(&input, memory, &s.facts, s.now);
    d.tell
        .then(|| render(&gate::notices::decision(&input, &d, false)))
}

fn deploy_gate_callback(c: &mut Criterion) {
    let s = gate_state();
    let (subject, _) = gate_once(&s.raw, &s).expect("the soaked step passes and tells");
    assert!(subject.contains("passed the gate"), "{subject}");
    register(c, "deploy-gate", "callback", &s.raw.clone(), &s, gate_once);
}

criterion_group!(
    handlers,
    deploy_gate_callback,
    deployer_push,
    deployer_deployment_completed,
    task_watcher_stopped_oom,
    alarm_notifier_alarm,
    off_hours_tick_100
);
criterion_main!(handlers);
