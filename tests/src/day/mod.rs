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
mod checks;
mod events;
mod helpers;
mod holds;
mod steps;

use helpers::*;

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
    /// The Embedded Metric Format records the functions printed, as Lambda's log pipeline
    /// would turn them into metrics (the weekly account reads them back).
    emf: Vec<Value>,
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
            emf: vec![],
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
        if event_rules != 5 || self.schedule.0.is_empty() {
            return Err(self.failed(format!(
                "expected 5 event rules and 1 schedule, found {} and {}",
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
        self.weekly_account().await?;
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
}
