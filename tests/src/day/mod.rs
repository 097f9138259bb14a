//! The day `make demo` plays and `tests/tests/integration/demo.rs` asserts: `sam/template.yaml`, translated,
//! deployed into the emulator's CloudFormation with the `dev` parameters of `sam/samconfig.toml`,
//! and a working day of one service played through it.
//!
//! - The four release binaries run as Lambda runs them (a local Runtime API), each with the
//!   environment its deployed Lambda function holds, read back from the emulator.
//! - Every event goes through the stack's own EventBridge rules: each rule's function target is
//!   swapped for an SQS queue that stands in for the function (the emulator's EventBridge cannot
//!   invoke Lambda), events are put on the default bus, and a function runs only on what its
//!   rule delivered to its queue. A pattern that misses shows as a failed step.
//! - Chat is read from an SQS queue subscribed to the stack's topic.
//! - Each step says what it did, what changed in the emulator and what reached chat, and checks
//!   its effect: the first check that fails ends the day with [`StepFailed`], naming the step.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Duration as Span, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use serde_json::{json, Value};

mod cfn;

use crate::emulator::{xml_value, Emulator, ACCOUNT, REGION};
use crate::runtime_api::{run_function, Invocation};
use crate::stack::Stack;
use crate::template::{self, DeployedStack, Names, FUNCTIONS};
use crate::{release_binary, sample_event};

/// Where the day's text goes: the demo prints it, the test keeps it for its failure message.
pub trait Narrator {
    fn say(&mut self, line: &str);
}

/// Prints every line.
pub struct Printer;

impl Narrator for Printer {
    fn say(&mut self, line: &str) {
        println!("{line}");
    }
}

/// Keeps every line.
#[derive(Default)]
pub struct Transcript(pub Vec<String>);

impl Narrator for Transcript {
    fn say(&mut self, line: &str) {
        self.0.push(line.to_string());
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in &self.0 {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// A step whose effect did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailed {
    pub step: String,
    pub what: String,
}

impl fmt::Display for StepFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step \"{}\" failed: {}", self.step, self.what)
    }
}

impl std::error::Error for StepFailed {}

thread_local! {
    /// The step running now, for a failure, or a panic inside a helper, to name it (the demo's
    /// panic hook). Per thread: tests play days side by side, each on its own thread.
    static CURRENT_STEP: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// The step running now on this thread (empty before the first).
pub fn current_step() -> String {
    CURRENT_STEP.with(|s| s.borrow().clone())
}

/// One step of the day, as it happened.
#[derive(Debug, Clone, Default)]
pub struct StepRecord {
    pub title: String,
    /// Which functions ran, on how many events each, in order.
    pub ran: Vec<(String, usize)>,
    /// Each function's results, in order.
    pub results: Vec<Value>,
    /// What changed in the emulator: (fact, before, after).
    pub changes: Vec<(String, String, String)>,
    /// The chat messages it published (Chatbot custom notifications).
    pub chat: Vec<Value>,
    /// The checks it passed.
    pub checks: Vec<String>,
}

/// The whole day.
#[derive(Debug, Clone, Default)]
pub struct DayRecord {
    pub names: Option<Names>,
    pub steps: Vec<StepRecord>,
    /// The emulator's facts at the end of the day.
    pub facts: BTreeMap<String, String>,
    /// The emulator's process id (gone once the day is over).
    pub emulator_pid: u32,
}

impl DayRecord {
    /// A step by the start of its title.
    pub fn step(&self, title: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.title.starts_with(title))
    }
}

/// Parameters the demo sets on top of samconfig's `dev`, and why.
const DEMO_OVERRIDES: [(&str, &str, &str); 4] = [
    (
        "EnableAlarms",
        "true",
        "dev has no alarms; the day shows one firing and being muted at night",
    ),
    (
        "EnableAutoscaling",
        "true",
        "dev has no auto scaling; the day shows its bounds put to sleep and restored",
    ),
    ("AutoscalingMinCapacity", "1", "dev's size: one task"),
    ("AutoscalingMaxCapacity", "4", "room to scale out"),
];

/// Off-hours in samconfig's `dev` when it has none (the day needs a night).
const DEFAULT_ON_HOURS: &str = "Mon-Fri 07:00-19:00";

/// The second service: a team's worker in the stack's cluster, defined outside the stack. One
/// task, as the emulator reports one running for every service (a service short of its
/// desired count is mid-deployment, and off-hours leaves it for a later tick).
const WORKER_DESIRED: i32 = 1;
const WORKER_BOUNDS: (i32, i32) = (1, 3);

/// An event the stack's rules route to a queue: a queue standing in for a function, or the
/// stack's own FIFO queue that an event source mapping reads for it (`fifo`: its ARN).
struct Route {
    rule: String,
    queue_url: String,
    binary: &'static str,
    fifo: Option<String>,
}

/// The day under way.
struct Day<'n> {
    narrator: &'n mut dyn Narrator,
    record: DayRecord,
    emu: Emulator,
    deployed: DeployedStack,
    stack: Stack,
    env: BTreeMap<&'static str, Vec<(String, String)>>,
    routes: Vec<Route>,
    schedule: (String, String),
    /// The FIFO queue the schedule sends its ticks to, when it does.
    schedule_fifo: Option<String>,
    repository: String,
    worker: String,
    facts: BTreeMap<String, String>,
    step: StepRecord,
}

/// Plays the whole day; everything it started is stopped when it returns, whatever the outcome.
pub async fn play(narrator: &mut dyn Narrator) -> Result<DayRecord, StepFailed> {
    play_with(narrator, |_, _| {}).await
}

/// [`play`], with `before_the_day` run on the deployed, routed stack before the first step (a
/// test breaks something there, to see the day name the step it shows in).
pub async fn play_with(
    narrator: &mut dyn Narrator,
    before_the_day: impl FnOnce(&Emulator, &Names),
) -> Result<DayRecord, StepFailed> {
    let mut day = Day::set_up(narrator).await?;
    before_the_day(&day.emu, &day.deployed.names);
    let outcome = day.run().await;
    day.record.facts = day.facts.clone();
    let record = std::mem::take(&mut day.record);
    drop(day);
    outcome.map(|()| record)
}

impl<'n> Day<'n> {
    async fn set_up(narrator: &'n mut dyn Narrator) -> Result<Day<'n>, StepFailed> {
        set_step("translate the template");
        let started = Instant::now();
        let (translated, cached) = template::translate_cached();
        narrator.say(&format!(
            "== Set-up ==\ntemplate: sam/template.yaml translated by the SAM translator ({})",
            if cached {
                "unchanged since the last run: taken from target/template-cache".to_string()
            } else {
                format!("{:.1} s", started.elapsed().as_secs_f64())
            }
        ));

        set_step("start the emulator");
        // Services report one task running (dev runs one), so deployments complete.
        let emu = Emulator::start_with(&[
            ("VALIDATE_LAMBDA_S3", "false"),
            ("MOTO_ECS_SERVICE_RUNNING", "1"),
        ]);
        narrator.say(&format!(
            "emulator: moto's server at {} (pid {})",
            emu.endpoint,
            emu.pid()
        ));

        set_step("deploy the stack");
        let (names, mut overrides) = cfn::samconfig_dev(&translated)?;
        narrator.say(&format!(
            "stack:    {} (ProjectName {}, Environment {}) with samconfig.toml's dev parameters:\n            {}",
            names.stack,
            names.project,
            names.environment,
            overrides
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        narrator.say("          and, for the demo:");
        for (k, v, why) in DEMO_OVERRIDES {
            narrator.say(&format!("            {k}={v} ({why})"));
            overrides.retain(|(key, _)| key != k);
            overrides.push((k.to_string(), v.to_string()));
        }
        if !overrides
            .iter()
            .any(|(k, v)| k == "OffHoursOnHours" && !v.is_empty())
        {
            narrator.say(&format!(
                "            OffHoursOnHours={DEFAULT_ON_HOURS} (the day needs a night)"
            ));
            overrides.retain(|(key, _)| key != "OffHoursOnHours");
            overrides.push(("OffHoursOnHours".into(), DEFAULT_ON_HOURS.into()));
        }
        narrator.say(
            "          over what a real account has already, created first through the emulator's APIs:\n            \
             a VPC with DNS host names and two private subnets, the load balancer's security group,\n            \
             an `ip` target group on port 3000, the task execution and task roles, six secrets",
        );
        let started = Instant::now();
        let deployed = DeployedStack::deploy_as(&emu, &translated, &names, &overrides);
        narrator.say(&format!(
            "          CREATE_COMPLETE in {:.1} s: cluster {}, service {}, repository {}",
            started.elapsed().as_secs_f64(),
            deployed.output("ClusterName"),
            deployed.output("ServiceName"),
            deployed.output("EcrRepositoryUrl"),
        ));

        set_step("create what the emulator's CloudFormation cannot");
        let created = cfn::create_what_cloudformation_skips(&emu, &translated, &deployed)?;
        narrator.say(
            "          moto's CloudFormation reports alarms and auto scaling as created without creating them;\n          \
             created through its APIs instead, from the template's own properties:",
        );
        for line in &created {
            narrator.say(&format!("            {line}"));
        }

        set_step("route the stack's rules to queues");
        let stack = deployed.as_stack(&emu).await;
        narrator.say(&format!(
            "          and a runnable revision {} for the day's stopped task and the worker \
             (moto runs only task definitions with container-level memory)",
            stack.task_definition.rsplit('/').next().unwrap_or_default()
        ));
        let mut day = Day {
            narrator,
            record: DayRecord {
                names: Some(names.clone()),
                emulator_pid: emu.pid(),
                ..DayRecord::default()
            },
            env: BTreeMap::new(),
            routes: vec![],
            schedule: (String::new(), String::new()),
            schedule_fifo: None,
            repository: deployed
                .output("EcrRepositoryUrl")
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            worker: format!("{}-worker-{}", names.project, names.environment),
            facts: BTreeMap::new(),
            step: StepRecord::default(),
            emu,
            deployed,
            stack,
        };
        day.read_functions()?;
        day.route_rules().await?;
        Ok(day)
    }

    /// Each function's environment (as its deployed Lambda configuration holds it, plus what
    /// Lambda itself gives a function: region and credentials, here the emulator's).
    fn read_functions(&mut self) -> Result<(), StepFailed> {
        for (binary, _) in FUNCTIONS {
            let held = DeployedStack::function_env_in(&self.emu, &self.deployed.names, binary);
            if held.is_empty() {
                return Err(self.failed(format!(
                    "the deployed function {} has no environment",
                    self.deployed.names.function(binary)
                )));
            }
            let mut env: Vec<(String, String)> = held.into_iter().collect();
            self.narrator.say(&format!(
                "function: {} with its deployed environment: {}",
                self.deployed.names.function(binary),
                env.iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            env.extend(self.emu.env());
            self.env.insert(binary, env);
        }
        Ok(())
    }

    /// Swaps each rule's function target for a queue standing in for that function; a rule
    /// that sends to one of the stack's FIFO queues keeps it, and the day reads that queue as
    /// Lambda's poller would (the emulator's pollers are off: `template::pollers_off`).
    async fn route_rules(&mut self) -> Result<(), StepFailed> {
        let mut arns = BTreeMap::new();
        for (binary, _) in FUNCTIONS {
            let f = DeployedStack::function_in(&self.emu, &self.deployed.names, binary);
            let arn = f["Configuration"]["FunctionArn"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            arns.insert(arn, binary);
        }
        let mut fed: BTreeMap<String, &'static str> = BTreeMap::new();
        let mappings = self
            .emu
            .rest("lambda", "GET", "/2015-03-31/event-source-mappings/");
        for m in mappings["EventSourceMappings"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let function = m["FunctionArn"].as_str().unwrap_or_default();
            if let (Some(queue), Some(binary)) = (m["EventSourceArn"].as_str(), arns.get(function))
            {
                fed.insert(queue.to_string(), *binary);
            }
        }
        let rules = DeployedStack::rules_in(&self.emu, &self.deployed.names);
        let mut event_rules = 0;
        for rule in rules {
            let [target] = rule.targets.as_slice() else {
                return Err(self.failed(format!(
                    "rule {} has {} targets, not one function",
                    rule.name,
                    rule.targets.len()
                )));
            };
            let target_arn = target["Arn"].as_str().unwrap_or_default();
            if let Some(binary) = fed.get(target_arn).copied() {
                let group = target["SqsParameters"]["MessageGroupId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let queue_name = target_arn.rsplit(':').next().unwrap_or_default();
                if let Some(schedule) = rule.schedule {
                    self.narrator.say(&format!(
                        "rule:     {} ({schedule}) -> queue {queue_name} (group {group}) -> {binary}: the day delivers its Scheduled Event itself at the times it fires",
                        rule.name
                    ));
                    self.schedule = (rule.name, schedule);
                    self.schedule_fifo = Some(target_arn.to_string());
                    continue;
                }
                let queue_url = self
                    .stack
                    .sqs
                    .get_queue_url()
                    .queue_name(queue_name)
                    .send()
                    .await
                    .ok()
                    .and_then(|q| q.queue_url)
                    .ok_or_else(|| self.failed(format!("no queue {queue_name}")))?;
                self.narrator.say(&format!(
                    "rule:     {} -> queue {queue_name} (group {group}) -> {binary}, one message at a time",
                    rule.name
                ));
                event_rules += 1;
                // Rules that share a queue share its route: the message does not say which
                // rule put it there.
                match self.routes.iter_mut().find(|r| r.queue_url == queue_url) {
                    Some(route) => route.rule = format!("{} or {}", route.rule, rule.name),
                    None => self.routes.push(Route {
                        rule: rule.name,
                        queue_url,
                        binary,
                        fifo: Some(target_arn.to_string()),
                    }),
                }
                continue;
            }
            let Some(binary) = arns.get(target_arn).copied() else {
                return Err(self.failed(format!(
                    "rule {} targets {target_arn}, not one of the stack's functions",
                    rule.name
                )));
            };
            let id = target["Id"].as_str().unwrap_or_default();
            self.emu.json(
                "events",
                "AWSEvents.RemoveTargets",
                &json!({"Rule": rule.name, "Ids": [id]}),
            );
            if let Some(schedule) = rule.schedule {
                // moto's EventBridge never fires a schedule, and would hand a rule without a
                // pattern every event put on the bus: the day sends the scheduled event itself,
                // at times this expression fires.
                self.narrator.say(&format!(
                    "rule:     {} ({schedule}) -> {binary}: the day delivers its Scheduled Event itself at the times it fires",
                    rule.name
                ));
                self.schedule = (rule.name, schedule);
                continue;
            }
            let queue_url = self
                .stack
                .sqs
                .create_queue()
                .queue_name(&rule.name)
                .send()
                .await
                .ok()
                .and_then(|q| q.queue_url)
                .ok_or_else(|| self.failed(format!("cannot create queue {}", rule.name)))?;
            self.emu.json(
                "events",
                "AWSEvents.PutTargets",
                &json!({"Rule": rule.name, "Targets": [{"Id": id,
                        "Arn": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{}", rule.name)}]}),
            );
            self.narrator.say(&format!(
                "rule:     {} -> {binary} (through queue {})",
                rule.name, rule.name
            ));
            event_rules += 1;
            self.routes.push(Route {
                rule: rule.name,
                queue_url,
                binary,
                fifo: None,
            });
        }
        if event_rules != 4 || self.schedule.0.is_empty() {
            return Err(self.failed(format!(
                "expected 4 event rules and 1 schedule, found {} and {}",
                event_rules,
                usize::from(!self.schedule.0.is_empty())
            )));
        }
        self.narrator.say(&format!(
            "chat:     read through an SQS queue subscribed to {}",
            self.stack.topic_arn
        ));
        Ok(())
    }

    async fn run(&mut self) -> Result<(), StepFailed> {
        self.facts = self.facts().await;
        let service = format!("service {}", self.stack.service);
        let line = format!(
            "{service} as deployed: revision {}, image {}, desired count {}, scaling bounds {}",
            self.fact(&service, "revision"),
            self.fact(&service, "image"),
            self.fact(&service, "desired count"),
            self.fact(&service, "scaling bounds"),
        );
        self.say(&line);
        self.worker_service().await?;
        let digest = self.push_release().await?;
        self.deployment_completes().await?;
        self.same_digest_again(&digest).await?;
        self.out_of_memory().await?;
        self.cpu_alarm().await?;
        let (evening, late, morning) = the_night(Utc::now());
        self.evening(evening).await?;
        self.keep_awake_ends(late).await?;
        self.morning(morning).await?;
        set_step("");
        self.narrator.say(&format!(
            "\n== The day is over: {} steps, {} checks passed. Stopping the emulator. ==",
            self.record.steps.len(),
            self.record
                .steps
                .iter()
                .map(|s| s.checks.len())
                .sum::<usize>()
        ));
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // The steps
    // -----------------------------------------------------------------------------------------

    /// A team's worker in the stack's cluster, opted in to off-hours by tag, kept awake tonight.
    async fn worker_service(&mut self) -> Result<(), StepFailed> {
        self.begin("A second service joins the cluster");
        let (evening, _, _) = the_night(Utc::now());
        let until = (evening + Span::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let worker = self.worker.clone();
        self.stack
            .create_service(
                &worker,
                WORKER_DESIRED,
                &[
                    ("autopilot:off-hours", "enabled"),
                    ("autopilot:keep-awake-until", &until),
                ],
            )
            .await;
        self.stack
            .register_scalable_target_for(&worker, WORKER_BOUNDS.0, WORKER_BOUNDS.1)
            .await;
        self.say(&format!(
            "{worker}: created through ECS (a team's own service, outside the stack), {WORKER_DESIRED} tasks, \
             auto scaling {}..{}, tagged autopilot:off-hours=enabled and autopilot:keep-awake-until={until}",
            WORKER_BOUNDS.0, WORKER_BOUNDS.1
        ));
        self.observe().await;
        let desired = self.fact(&format!("service {worker}"), "desired count");
        self.check(
            "the worker runs",
            desired == WORKER_DESIRED.to_string(),
            desired,
        )?;
        self.end();
        Ok(())
    }

    /// An image pushed to the stack's repository is deployed.
    async fn push_release(&mut self) -> Result<String, StepFailed> {
        self.begin("An image is pushed and deployed");
        let manifest = image_manifest();
        let image = self.put_image(&manifest, "v1.4.0")?;
        let digest = image["imageId"]["imageDigest"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.check(
            "ECR returned a digest",
            digest.starts_with("sha256:"),
            &image,
        )?;
        let event = self.push_event(&image);
        let results = self.deliver(&event, Some("deployer")).await?;
        let decisions = decisions(&results);
        self.check(
            "the deployer deployed it",
            decisions.iter().any(|d| d["action"] == "deploy"),
            json!(decisions),
        )?;
        self.observe().await;
        let service = format!("service {}", self.stack.service);
        let image_now = self.fact(&service, "image");
        self.check(
            "the service runs the pushed digest",
            image_now.ends_with(&format!("@{digest}")),
            &image_now,
        )?;
        self.check_chat("a deploy message reached chat", 1)?;
        self.end();
        Ok(digest)
    }

    /// ECS reports the deployment COMPLETED; the deployer says so in the deploy's thread.
    async fn deployment_completes(&mut self) -> Result<(), StepFailed> {
        self.begin("The deployment completes");
        let Some(deployment) = self.stack.deployment_id().await else {
            return Err(self.failed("the service has no deployment".into()));
        };
        let mut event = sample_event("deployer/ecs-deployment-completed.json");
        let now = rfc3339(Utc::now());
        event["resources"] = json!([self.stack.service_arn]);
        event["detail"]["deploymentId"] = json!(deployment);
        event["detail"]["updatedAt"] = json!(now);
        self.say(&format!(
            "ECS: deployment {deployment} of {} is SERVICE_DEPLOYMENT_COMPLETED",
            self.stack.service
        ));
        let results = self.deliver(&event, Some("deployer")).await?;
        let outcome = results
            .first()
            .map(|r| r["deployment"]["outcome"].clone())
            .unwrap_or_default();
        self.check(
            "the deployer read it as completed",
            outcome == "completed",
            &outcome,
        )?;
        self.observe().await;
        self.check_chat("the completion reached chat", 1)?;
        let deploy_thread = self
            .record
            .step("An image is pushed")
            .and_then(|s| s.chat.first())
            .map(|n| n["metadata"]["threadId"].clone())
            .unwrap_or_default();
        let thread = self.step.chat[0]["metadata"]["threadId"].clone();
        self.check(
            "in the deploy's thread",
            thread == deploy_thread,
            format!("{thread} vs {deploy_thread}"),
        )?;
        self.end();
        Ok(())
    }

    /// The same image tagged `latest` is pushed: already running, nothing changes.
    async fn same_digest_again(&mut self, digest: &str) -> Result<(), StepFailed> {
        self.begin("The same image is pushed under another tag");
        let image = self.put_image(&image_manifest(), "latest")?;
        let again = image["imageId"]["imageDigest"].as_str().unwrap_or_default();
        self.check("ECR gave the same digest", again == digest, again)?;
        let event = self.push_event(&image);
        let results = self.deliver(&event, Some("deployer")).await?;
        let decisions = decisions(&results);
        self.check(
            "the deployer skipped it",
            !decisions.is_empty() && decisions.iter().all(|d| d["action"] == "skip"),
            json!(decisions),
        )?;
        self.observe().await;
        self.check(
            "no revision was registered",
            self.step.changes.is_empty(),
            format!("{:?}", self.step.changes),
        )?;
        self.end();
        Ok(())
    }

    /// A task of the service is killed for memory; the task-watcher explains it.
    async fn out_of_memory(&mut self) -> Result<(), StepFailed> {
        self.begin("A task is killed for memory");
        let task = self
            .stack
            .stopped_service_task("Essential container in task exited")
            .await;
        // moto's stopped tasks carry no stop code, exit code or container reason: those come
        // from the sample, shaped as ECS sends them ("Amazon ECS task state change events").
        self.say(&format!(
            "ECS: task {} stopped: container app exited 137 (OutOfMemoryError; the event's stop \
             code, exit code and reason are AWS's, which moto does not set)",
            short(&task)
        ));
        let mut event = sample_event("task-watcher/out-of-memory.json");
        let text = event
            .to_string()
            .replace(
                "cluster/autopilot-demo\"",
                &format!("cluster/{}\"", self.stack.cluster),
            )
            .replace(
                "task/autopilot-demo/",
                &format!("task/{}/", self.stack.cluster),
            )
            .replace(
                "\"service:web\"",
                &format!("\"service:{}\"", self.stack.service),
            );
        event = serde_json::from_str(&text).unwrap_or(event);
        event["time"] = json!(rfc3339(Utc::now()));
        event["resources"] = json!([task]);
        event["detail"]["taskArn"] = json!(task);
        event["detail"]["taskDefinitionArn"] = json!(self.stack.task_definition);
        if let Some(containers) = event["detail"]["containers"].as_array_mut() {
            for c in containers {
                c["taskArn"] = json!(task);
            }
        }
        let results = self.deliver(&event, Some("task-watcher")).await?;
        let cause = results
            .first()
            .map(|r| r["cause"].clone())
            .unwrap_or_default();
        self.check(
            "explained as out of memory",
            cause == "out-of-memory",
            &cause,
        )?;
        self.observe().await;
        self.check_chat("the explanation reached chat", 1)?;
        let said = self.step.chat[0].to_string();
        self.check(
            "it says what to do about memory",
            said.to_lowercase().contains("memory"),
            said,
        )?;
        self.end();
        Ok(())
    }

    /// The CPU alarm fires, then recovers: two messages in one thread.
    async fn cpu_alarm(&mut self) -> Result<(), StepFailed> {
        self.begin("The CPU alarm fires");
        let alarm = format!(
            "{}-{}-cpu-high",
            self.deployed.names.project, self.deployed.names.environment
        );
        let reason = "Threshold Crossed: 3 out of the last 3 datapoints [97.1 (28/11/26 09:12:00), 93.4 (28/11/26 09:11:00), 91.8 (28/11/26 09:10:00)] were greater than the threshold (80.0) (minimum 3 datapoints for OK -> ALARM transition).";
        let event = self.alarm_event(&alarm, "ALARM", reason)?;
        let results = self.deliver(&event, Some("alarm-notifier")).await?;
        self.check(
            "the alarm-notifier published it",
            results.first().is_some_and(|r| r["published"] == true),
            json!(results),
        )?;
        self.observe().await;
        self.check_chat("the alarm reached chat", 1)?;
        let fired_thread = self.step.chat[0]["metadata"]["threadId"].clone();
        self.end();

        self.begin("The CPU alarm recovers");
        let reason = "Threshold Crossed: 3 out of the last 3 datapoints [41.2 (28/11/26 09:25:00), 44.0 (28/11/26 09:24:00), 52.5 (28/11/26 09:23:00)] were not greater than the threshold (80.0) (minimum 3 datapoints for ALARM -> OK transition).";
        let event = self.alarm_event(&alarm, "OK", reason)?;
        self.deliver(&event, Some("alarm-notifier")).await?;
        self.observe().await;
        self.check_chat("the recovery reached chat", 1)?;
        let thread = self.step.chat[0]["metadata"]["threadId"].clone();
        self.check(
            "in the alarm's thread",
            thread == fired_thread && thread.is_string(),
            format!("{thread} vs {fired_thread}"),
        )?;
        self.end();
        Ok(())
    }

    /// 19:00: the service sleeps with its alarms muted; the worker is kept awake.
    async fn evening(&mut self, at: DateTime<Utc>) -> Result<(), StepFailed> {
        self.begin(&format!("{} 19:00: off-hours begin", at.format("%a %d %b")));
        self.tick(at).await?;
        let service = format!("service {}", self.stack.service);
        let desired = self.fact(&service, "desired count");
        self.check("the service sleeps", desired == "0", &desired)?;
        let bounds = self.fact(&service, "scaling bounds");
        self.check(
            "its auto scaling is held at zero",
            bounds == "0..0",
            &bounds,
        )?;
        let muted: Vec<String> = self
            .facts
            .iter()
            .filter(|(k, v)| k.ends_with(": actions") && v.as_str() == "disabled")
            .map(|(k, _)| k.clone())
            .collect();
        self.check(
            "its alarms are muted",
            muted.len() == 3,
            format!("{muted:?}"),
        )?;
        let worker = format!("service {}", self.worker);
        let kept = self.fact(&worker, "desired count");
        self.check(
            "the worker is kept awake",
            kept == WORKER_DESIRED.to_string(),
            &kept,
        )?;
        self.check_chat("the night reached chat", 1)?;
        self.end();
        Ok(())
    }

    /// 21:00: the worker's keep-awake tag has passed: it sleeps too.
    async fn keep_awake_ends(&mut self, at: DateTime<Utc>) -> Result<(), StepFailed> {
        self.begin(&format!(
            "{} 21:00: the worker's keep-awake ends",
            at.format("%a %d %b")
        ));
        self.tick(at).await?;
        let worker = format!("service {}", self.worker);
        let desired = self.fact(&worker, "desired count");
        self.check("the worker sleeps", desired == "0", &desired)?;
        let bounds = self.fact(&worker, "scaling bounds");
        self.check(
            "its auto scaling is held at zero",
            bounds == "0..0",
            &bounds,
        )?;
        self.end();
        Ok(())
    }

    /// 07:00 the next working day: everything wakes as it was.
    async fn morning(&mut self, at: DateTime<Utc>) -> Result<(), StepFailed> {
        self.begin(&format!("{} 07:00: on-hours again", at.format("%a %d %b")));
        self.tick(at).await?;
        let service = format!("service {}", self.stack.service);
        let min = &self.deployed.parameters["AutoscalingMinCapacity"];
        let max = &self.deployed.parameters["AutoscalingMaxCapacity"];
        for (fact, want) in [
            (self.fact(&service, "desired count"), "1".to_string()),
            (
                self.fact(&service, "scaling bounds"),
                format!("{min}..{max}"),
            ),
            (
                self.fact(&format!("service {}", self.worker), "desired count"),
                WORKER_DESIRED.to_string(),
            ),
            (
                self.fact(&format!("service {}", self.worker), "scaling bounds"),
                format!("{}..{}", WORKER_BOUNDS.0, WORKER_BOUNDS.1),
            ),
        ] {
            self.check(
                &format!("capacity restored exactly ({want})"),
                fact == want,
                &fact,
            )?;
        }
        let still_off: Vec<&String> = self
            .facts
            .iter()
            .filter(|(k, v)| {
                (k.ends_with(": actions") && v.as_str() == "disabled")
                    || k.contains(": tag autopilot:muted-by")
                    || k.contains(": tag autopilot:restore")
                    || k.contains(": tag autopilot:asleep-since")
            })
            .map(|(k, _)| k)
            .collect();
        self.check(
            "alarms on again, no sleep record left",
            still_off.is_empty(),
            format!("{still_off:?}"),
        )?;
        self.check_chat("the morning reached chat", 1)?;
        self.end();
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Events in, functions run
    // -----------------------------------------------------------------------------------------

    /// `PutImage` of a manifest into the stack's repository; returns ECR's `image`.
    fn put_image(&mut self, manifest: &str, tag: &str) -> Result<Value, StepFailed> {
        let put = self.emu.json(
            "ecr",
            "AmazonEC2ContainerRegistry_V20150921.PutImage",
            &json!({"repositoryName": self.repository, "imageManifest": manifest, "imageTag": tag,
                    "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json"}),
        );
        let image = put["image"].clone();
        self.say(&format!(
            "ECR: PutImage {}:{tag} -> {}",
            self.repository,
            image["imageId"]["imageDigest"].as_str().unwrap_or("?")
        ));
        if image.is_null() {
            return Err(self.failed(format!("PutImage returned no image: {put}")));
        }
        Ok(image)
    }

    /// The `ECR Image Action` event ECR sends for a pushed image (EventBridge, "Amazon ECR
    /// events and EventBridge").
    fn push_event(&self, image: &Value) -> Value {
        let mut event = sample_event("deployer/ecr-push-release-tag.json");
        let detail = &mut event["detail"];
        detail["repository-name"] = image["repositoryName"].clone();
        detail["image-digest"] = image["imageId"]["imageDigest"].clone();
        detail["image-tag"] = image["imageId"]["imageTag"].clone();
        event
    }

    /// The `CloudWatch Alarm State Change` event for a state set on one of the stack's alarms,
    /// built from the alarm as DescribeAlarms gives it after `SetAlarmState`.
    fn alarm_event(&mut self, alarm: &str, state: &str, reason: &str) -> Result<Value, StepFailed> {
        let reason_data = json!({"version": "1.0", "queryDate": rfc3339(Utc::now()),
            "statistic": "Average", "period": 60, "threshold": 80.0,
            "recentDatapoints": if state == "ALARM" { json!([91.8, 93.4, 97.1]) } else { json!([52.5, 44.0, 41.2]) },
            "evaluatedDatapoints": []});
        let before = self.emu.query(
            "monitoring",
            "2010-08-01",
            &[("Action", "DescribeAlarms"), ("AlarmNames.member.1", alarm)],
        );
        self.emu.query(
            "monitoring",
            "2010-08-01",
            &[
                ("Action", "SetAlarmState"),
                ("AlarmName", alarm),
                ("StateValue", state),
                ("StateReason", reason),
                ("StateReasonData", &reason_data.to_string()),
            ],
        );
        let described = self.emu.query(
            "monitoring",
            "2010-08-01",
            &[("Action", "DescribeAlarms"), ("AlarmNames.member.1", alarm)],
        );
        let arn = xml_value(&described, "AlarmArn").unwrap_or_default();
        let now_state = xml_value(&described, "StateValue").unwrap_or_default();
        self.say(&format!("CloudWatch: SetAlarmState {alarm} -> {now_state}"));
        if now_state != state {
            return Err(self.failed(format!("{alarm} is {now_state:?}, not {state}")));
        }
        let sample = if state == "ALARM" {
            "alarm-notifier/cpu-alarm.json"
        } else {
            "alarm-notifier/cpu-ok.json"
        };
        let mut event = sample_event(sample);
        let previous = xml_value(&before, "StateValue").unwrap_or_default();
        let since = xml_value(&before, "StateUpdatedTimestamp")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map_or_else(|| rfc3339(Utc::now()), |t| rfc3339(t.with_timezone(&Utc)));
        let now = rfc3339(Utc::now());
        event["time"] = json!(now);
        event["resources"] = json!([arn]);
        let d = &mut event["detail"];
        d["alarmName"] = json!(alarm);
        d["state"]["value"] = json!(state);
        d["state"]["reason"] = json!(reason);
        d["state"]["reasonData"] = json!(reason_data.to_string());
        d["state"]["timestamp"] = json!(now);
        d["previousState"]["value"] = json!(previous);
        d["previousState"]["timestamp"] = json!(since);
        if let Some(metrics) = d["configuration"]["metrics"].as_array_mut() {
            for m in metrics {
                m["metricStat"]["metric"]["dimensions"] = json!({
                    "ClusterName": self.stack.cluster, "ServiceName": self.stack.service});
            }
        }
        Ok(event)
    }

    /// Puts an event on the default bus, runs each function whose rule delivered it to its
    /// queue, and returns their results; fails unless exactly `expected` got it.
    async fn deliver(
        &mut self,
        event: &Value,
        expected: Option<&'static str>,
    ) -> Result<Vec<Value>, StepFailed> {
        let time = event["time"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(|| Utc::now().timestamp(), |t| t.timestamp());
        let put = self.emu.json(
            "events",
            "AWSEvents.PutEvents",
            &json!({"Entries": [{"Source": event["source"], "DetailType": event["detail-type"],
                    "Detail": event["detail"].to_string(), "Resources": event["resources"],
                    "Time": time}]}),
        );
        if put["FailedEntryCount"] != 0 {
            return Err(self.failed(format!("PutEvents refused the event: {put}")));
        }
        let mut got: Vec<(&'static str, String, Vec<Value>)> = vec![];
        for route in &self.routes {
            let mut events = drain(&self.stack, &route.queue_url).await;
            if let Some(queue) = &route.fifo {
                // What Lambda's poller hands the function: one message per invocation.
                events = events
                    .iter()
                    .map(|e| template::sqs_event(queue, route.binary, &e.to_string()))
                    .collect();
            }
            if !events.is_empty() {
                got.push((route.binary, route.rule.clone(), events));
            }
        }
        let reached: Vec<&str> = got.iter().map(|(b, _, _)| *b).collect();
        if reached != expected.into_iter().collect::<Vec<_>>() {
            return Err(self.failed(format!(
                "the {} event reached {reached:?} through the stack's rules, expected {expected:?}",
                event["detail-type"]
            )));
        }
        let mut results = vec![];
        for (binary, rule, events) in got {
            self.say(&format!("EventBridge: rule {rule} matched -> {binary}"));
            results.extend(self.invoke(binary, events)?);
        }
        Ok(results)
    }

    /// The off-hours schedule fires at `at`: checks that its expression fires then, and
    /// delivers the Scheduled Event as EventBridge sends it.
    async fn tick(&mut self, at: DateTime<Utc>) -> Result<(), StepFailed> {
        let (rule, expression) = self.schedule.clone();
        if !cron_fires(&expression, at) {
            return Err(self.failed(format!(
                "the schedule {expression} of rule {rule} does not fire at {at}"
            )));
        }
        let mut event = sample_event("off-hours/scheduled-event.json");
        event["time"] = json!(rfc3339(at));
        event["resources"] = json!([format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}")]);
        self.say(&format!(
            "EventBridge: rule {rule} ({expression}) fires at {} -> off-hours",
            rfc3339(at)
        ));
        if let Some(queue) = &self.schedule_fifo {
            event = template::sqs_event(queue, "off-hours", &event.to_string());
        }
        self.invoke("off-hours", vec![event])?;
        self.observe().await;
        Ok(())
    }

    /// Runs a release binary as Lambda runs it, once per event; fails on an error result.
    fn invoke(
        &mut self,
        binary: &'static str,
        events: Vec<Value>,
    ) -> Result<Vec<Value>, StepFailed> {
        let n = events.len();
        let env = self.env.get(binary).cloned().unwrap_or_default();
        let run = run_function(
            &release_binary(binary),
            &self.deployed.names.function(binary),
            &env,
            events,
            Duration::from_secs(60),
        );
        self.step.ran.push((binary.to_string(), n));
        let mut results = vec![];
        for inv in &run.invocations {
            match inv {
                // An SQS event's answer: the batch response Lambda reads, and each message's
                // result or error.
                Invocation::Ok(v) if v.get("batchItemFailures").is_some() => {
                    for record in v["records"].as_array().into_iter().flatten() {
                        if let Some(result) = record.get("result") {
                            self.say(&format!("{binary}: {}", summary(binary, result)));
                            results.push(result.clone());
                        } else {
                            return Err(self.failed(format!(
                                "{binary} failed on message {}: {} {}\n{}",
                                record["messageId"],
                                record["errorType"],
                                record["error"],
                                run.output
                            )));
                        }
                    }
                }
                Invocation::Ok(v) => {
                    self.say(&format!("{binary}: {}", summary(binary, v)));
                    results.push(v.clone());
                }
                Invocation::Err(e) => {
                    return Err(self.failed(format!(
                        "{binary} failed: {} {}\n{}",
                        e["errorType"], e["errorMessage"], run.output
                    )))
                }
            }
        }
        if results.len() != n {
            return Err(self.failed(format!(
                "{binary} answered {} of {n} events{}\n{}",
                results.len(),
                run.init_error
                    .map(|e| format!(" (init error {e})"))
                    .unwrap_or_default(),
                run.output
            )));
        }
        self.step.results.extend(results.iter().cloned());
        Ok(results)
    }

    // -----------------------------------------------------------------------------------------
    // What the emulator holds
    // -----------------------------------------------------------------------------------------

    /// What a person would look at: each service's revision, image, desired count, scaling
    /// bounds and `autopilot:` tags; each of the stack's alarms' state, actions and tags.
    async fn facts(&self) -> BTreeMap<String, String> {
        let mut facts = BTreeMap::new();
        let autoscaling = aws_sdk_applicationautoscaling::Client::new(&self.stack.sdk);
        for name in [self.stack.service.clone(), self.worker.clone()] {
            let Ok(out) = self
                .stack
                .ecs
                .describe_services()
                .cluster(&self.stack.cluster)
                .services(&name)
                .include(aws_sdk_ecs::types::ServiceField::Tags)
                .send()
                .await
            else {
                continue;
            };
            let Some(s) = out.services().first() else {
                continue;
            };
            let key = |what: &str| format!("service {name}: {what}");
            let td = s.task_definition().unwrap_or_default().to_string();
            facts.insert(key("revision"), td.rsplit('/').next().unwrap_or("").into());
            if let Ok(d) = self
                .stack
                .ecs
                .describe_task_definition()
                .task_definition(&td)
                .send()
                .await
            {
                let image = d
                    .task_definition()
                    .and_then(|t| t.container_definitions().first())
                    .and_then(|c| c.image())
                    .unwrap_or_default();
                facts.insert(key("image"), image.to_string());
            }
            facts.insert(key("desired count"), s.desired_count().to_string());
            for t in s.tags() {
                let k = t.key().unwrap_or_default();
                if k.starts_with("autopilot:") {
                    facts.insert(
                        key(&format!("tag {k}")),
                        t.value().unwrap_or_default().into(),
                    );
                }
            }
            let bounds = autoscaling
                .describe_scalable_targets()
                .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
                .resource_ids(format!("service/{}/{name}", self.stack.cluster))
                .send()
                .await
                .ok()
                .and_then(|o| {
                    o.scalable_targets()
                        .first()
                        .map(|t| format!("{}..{}", t.min_capacity(), t.max_capacity()))
                })
                .unwrap_or_else(|| "none".into());
            facts.insert(key("scaling bounds"), bounds);
        }
        let prefix = format!(
            "{}-{}-",
            self.deployed.names.project, self.deployed.names.environment
        );
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&self.stack.sdk);
        if let Ok(alarms) = cloudwatch
            .describe_alarms()
            .alarm_name_prefix(&prefix)
            .send()
            .await
        {
            for a in alarms.metric_alarms() {
                let name = a.alarm_name().unwrap_or_default();
                let key = |what: &str| format!("alarm {name}: {what}");
                facts.insert(
                    key("state"),
                    a.state_value()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                );
                facts.insert(
                    key("actions"),
                    if a.actions_enabled() == Some(false) {
                        "disabled"
                    } else {
                        "enabled"
                    }
                    .into(),
                );
                if let Ok(tags) = cloudwatch
                    .list_tags_for_resource()
                    .resource_arn(a.alarm_arn().unwrap_or_default())
                    .send()
                    .await
                {
                    for t in tags.tags() {
                        let k = t.key().unwrap_or_default();
                        if k.starts_with("autopilot:") {
                            facts.insert(
                                key(&format!("tag {k}")),
                                t.value().unwrap_or_default().to_string(),
                            );
                        }
                    }
                }
            }
        }
        facts
    }

    /// Reads the emulator again and the chat queue; says what changed and what reached chat.
    async fn observe(&mut self) {
        let now = self.facts().await;
        let keys: BTreeSet<&String> = self.facts.keys().chain(now.keys()).collect();
        let mut changes = vec![];
        for k in keys {
            let before = self.facts.get(k).cloned().unwrap_or_else(|| "-".into());
            let after = now.get(k).cloned().unwrap_or_else(|| "-".into());
            if before != after {
                changes.push((k.clone(), before, after));
            }
        }
        if !changes.is_empty() {
            self.say("changed:");
            for (k, before, after) in &changes {
                self.say(&format!("  {k}: {before} -> {after}"));
            }
        }
        self.step.changes.extend(changes);
        self.facts = now;
        let chat = self.stack.notifications().await;
        for n in &chat {
            for line in chat_lines(n) {
                self.say(&line);
            }
        }
        self.step.chat.extend(chat);
    }

    fn fact(&self, subject: &str, what: &str) -> String {
        self.facts
            .get(&format!("{subject}: {what}"))
            .cloned()
            .unwrap_or_else(|| "-".into())
    }

    // -----------------------------------------------------------------------------------------
    // Steps and checks
    // -----------------------------------------------------------------------------------------

    fn begin(&mut self, title: &str) {
        set_step(title);
        self.step = StepRecord {
            title: title.to_string(),
            ..StepRecord::default()
        };
        self.say(&format!("\n== {}. {title} ==", self.record.steps.len() + 1));
    }

    fn end(&mut self) {
        let step = std::mem::take(&mut self.step);
        self.say(&format!("ok: {}", step.checks.join("; ")));
        self.record.steps.push(step);
    }

    fn check(&mut self, what: &str, ok: bool, got: impl fmt::Display) -> Result<(), StepFailed> {
        if ok {
            self.step.checks.push(what.to_string());
            Ok(())
        } else {
            Err(self.failed(format!("{what}: got {got}")))
        }
    }

    fn check_chat(&mut self, what: &str, n: usize) -> Result<(), StepFailed> {
        let got = self.step.chat.len();
        let titles: Vec<&str> = self
            .step
            .chat
            .iter()
            .map(|c| c["content"]["title"].as_str().unwrap_or("?"))
            .collect();
        let detail = format!("{got} messages {titles:?}");
        self.check(what, got == n, detail)
    }

    fn failed(&self, what: String) -> StepFailed {
        StepFailed {
            step: current_step(),
            what,
        }
    }

    fn say(&mut self, line: &str) {
        self.narrator.say(line);
    }
}

fn set_step(title: &str) {
    CURRENT_STEP.with(|s| *s.borrow_mut() = title.to_string());
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// An OCI image manifest (the same bytes each time: the same digest).
fn image_manifest() -> String {
    json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 1469,
                      "digest": "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270"},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 3623807,
                       "digest": "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}]})
    .to_string()
}

/// The evening, the end of the worker's keep-awake and the next working morning: 19:00 and
/// 21:00 of today (the next weekday when today is a weekend) and 07:00 of the next weekday, UTC
/// (samconfig's dev time zone).
fn the_night(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let weekday = |d: chrono::NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
    let mut day = now.date_naive();
    while !weekday(day) {
        day = day.succ_opt().unwrap_or(day);
    }
    let mut next = day.succ_opt().unwrap_or(day);
    while !weekday(next) {
        next = next.succ_opt().unwrap_or(next);
    }
    let at = |d: chrono::NaiveDate, h: u32| {
        Utc.from_utc_datetime(&d.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default()))
    };
    (at(day, 19), at(day, 21), at(next, 7))
}

/// Whether an EventBridge cron expression (`cron(minutes hours day month weekday year)`)
/// fires at `at`, for the forms a schedule of quarter hours uses: `*`, `?`, a number, `a/b`,
/// and lists of them.
fn cron_fires(expression: &str, at: DateTime<Utc>) -> bool {
    let Some(body) = expression
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
    else {
        return false;
    };
    let fields: Vec<&str> = body.split_whitespace().collect();
    let [minutes, hours, dom, month, _dow, _year] = fields.as_slice() else {
        return false;
    };
    let matches = |field: &str, value: u32| {
        field.split(',').any(|part| match part {
            "*" | "?" => true,
            p => match p.split_once('/') {
                Some((start, step)) => {
                    let start = if start == "*" {
                        0
                    } else {
                        start.parse().unwrap_or(u32::MAX)
                    };
                    let step: u32 = step.parse().unwrap_or(0);
                    step > 0 && value >= start && (value - start).is_multiple_of(step)
                }
                None => p.parse::<u32>() == Ok(value),
            },
        })
    };
    matches(minutes, at.minute())
        && matches(hours, at.hour())
        && matches(dom, at.day())
        && matches(month, at.month())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Every event waiting in a route's queue, in order (deleted as read).
async fn drain(stack: &Stack, url: &str) -> Vec<Value> {
    stack
        .drain(url)
        .await
        .iter()
        .filter_map(|body| serde_json::from_str::<Value>(body).ok())
        .map(|mut v| {
            // moto's EventBridge leaves `account` out of what it sends a target (its default
            // input template lacks it); EventBridge sends the whole event.
            if let Some(o) = v.as_object_mut() {
                o.entry("account").or_insert_with(|| json!(ACCOUNT));
            }
            v
        })
        .collect()
}

/// The deployer's decisions in its results.
fn decisions(results: &[Value]) -> Vec<Value> {
    results
        .iter()
        .flat_map(|r| r["decisions"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// One line on what a function decided.
fn summary(binary: &str, v: &Value) -> String {
    let s = |v: &Value| v.as_str().unwrap_or("?").to_string();
    match binary {
        "deployer" if v.get("decisions").is_some() => decisions(std::slice::from_ref(v))
            .iter()
            .map(|d| {
                let mut line = format!(
                    "{} ({}): {}",
                    s(&d["action"]),
                    s(&d["reason"]),
                    s(&d["detail"])
                );
                if let Some(arn) = d["taskDefinitionArn"].as_str() {
                    line.push_str(&format!(" -> {}", short(arn)));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("; "),
        "deployer" => {
            let d = &v["deployment"];
            format!("deployment {} {}", s(&d["deploymentId"]), s(&d["outcome"]))
        }
        "task-watcher" => format!(
            "{} [{}]: {}",
            s(&v["cause"]),
            v["actions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            s(&v["detail"])
        ),
        "alarm-notifier" => format!(
            "{} {} (severity {}), published {}",
            s(&v["alarm"]),
            s(&v["state"]),
            s(&v["severity"]),
            v["published"]
        ),
        _ => v["services"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                format!(
                    "{} {} ({})",
                    s(&x["service"]),
                    s(&x["action"]),
                    s(&x["reason"])
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// A chat message as a person reads it in the channel.
fn chat_lines(n: &Value) -> Vec<String> {
    let mut lines = vec![format!(
        "chat | {}",
        n["content"]["title"].as_str().unwrap_or("?")
    )];
    for line in n["content"]["description"].as_str().unwrap_or("").lines() {
        lines.push(format!("     | {line}"));
    }
    for step in n["content"]["nextSteps"].as_array().into_iter().flatten() {
        lines.push(format!("     | - {}", step.as_str().unwrap_or("")));
    }
    lines.push(format!(
        "     | (thread {})",
        n["metadata"]["threadId"].as_str().unwrap_or("?")
    ));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    #[test]
    fn the_schedule_fires_on_quarter_hours_only() {
        let e = "cron(0/15 * * * ? *)";
        assert!(cron_fires(e, at("2026-11-27T19:00:00Z")));
        assert!(cron_fires(e, at("2026-11-27T21:45:00Z")));
        assert!(!cron_fires(e, at("2026-11-27T19:05:00Z")));
        assert!(!cron_fires("cron(0 8 * * ? *)", at("2026-11-27T19:00:00Z")));
        assert!(!cron_fires("rate(15 minutes)", at("2026-11-27T19:00:00Z")));
    }

    #[test]
    fn the_night_skips_weekends() {
        // Friday: tonight, then Monday morning.
        let (evening, late, morning) = the_night(at("2026-11-27T10:00:00Z"));
        assert_eq!(rfc3339(evening), "2026-11-27T19:00:00Z");
        assert_eq!(rfc3339(late), "2026-11-27T21:00:00Z");
        assert_eq!(rfc3339(morning), "2026-11-30T07:00:00Z");
        // Saturday: Monday evening, Tuesday morning.
        let (evening, _, morning) = the_night(at("2026-11-28T10:00:00Z"));
        assert_eq!(rfc3339(evening), "2026-11-30T19:00:00Z");
        assert_eq!(rfc3339(morning), "2026-12-01T07:00:00Z");
    }
}
