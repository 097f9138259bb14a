//! CloudWatch Embedded Metric Format: JSON lines on stdout, which Lambda's log pipeline turns
//! into metrics. No PutMetricData call.
//!
//! Every metric a function emits is declared here, in [`catalogue`]: its name, its unit and the
//! dimension it is also broken down by. The jobs count through these declarations (never a bare
//! name), and what reads the metrics back (the template's dashboard, the weekly account) is
//! checked against the same catalogue, so neither can ask for a metric no function emits.
//!
//! Each metric is emitted under the dimension set `[Function]`; one declared with a
//! [`Metric::by`] key is also emitted under `[Function, key]`, one record per value of the key
//! (an EMF record carries one value per dimension key). The limits of the EMF specification
//! ("Specification: Embedded metric format", CloudWatch User Guide): at most 100 metrics in a
//! directive, at most 30 keys in a dimension set, dimension values strings; CloudWatch's own
//! (`Dimension`, CloudWatch API reference): dimension names and values of 1 to 255 and 1 to 1024
//! ASCII characters, without control characters.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

/// The namespace every function's metrics go to.
pub const NAMESPACE: &str = "FargateAutopilot";

/// The dimension every metric carries: the function's name.
pub const FUNCTION: &str = "Function";

/// The `Function` dimension's value for a function: the Lambda function's own name
/// (`AWS_LAMBDA_FUNCTION_NAME`, `<ProjectName>-<Environment>-deployer` as the template names it),
/// so that two installs in one account and region (a dev and a prod stack) keep their metrics
/// apart; outside Lambda, the binary's name.
pub fn function_dimension(binary: &str) -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| binary.to_string())
}

/// The most metrics one EMF directive may declare.
pub const MAX_METRICS_PER_RECORD: usize = 100;

/// A metric's unit, one of CloudWatch's `StandardUnit` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    Count,
    Milliseconds,
    /// A plain number; the metric's name says what it is counted in (e.g. `...USD`).
    None,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::None => "None",
        }
    }
}

/// One metric as a function emits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    /// The dimension it is also broken down by, beside `Function`.
    pub by: Option<&'static str>,
}

impl Metric {
    /// A count under `[Function]`.
    pub const fn count(name: &'static str) -> Metric {
        Metric {
            name,
            unit: Unit::Count,
            by: None,
        }
    }

    /// A plain number (unit `None`) under `[Function]`.
    pub const fn amount(name: &'static str) -> Metric {
        Metric {
            name,
            unit: Unit::None,
            by: None,
        }
    }

    /// The same metric, also emitted under `[Function, key]`.
    pub const fn by(self, key: &'static str) -> Metric {
        Metric {
            by: Some(key),
            ..self
        }
    }

    /// The dimension sets it is emitted under: `[Function]`, and `[Function, key]` with a key.
    pub fn dimension_sets(&self) -> Vec<Vec<&'static str>> {
        let mut sets = vec![vec![FUNCTION]];
        if let Some(key) = self.by {
            sets.push(vec![FUNCTION, key]);
        }
        sets
    }
}

/// What every function emits, function by function: the one list the jobs count with and the
/// readers (dashboard, weekly account) are checked against.
pub mod catalogue {
    use super::Metric;

    /// The `Cause` dimension: the task-watcher's cause code (`out-of-memory`, `image-pull`...).
    pub const CAUSE: &str = "Cause";
    /// The `Severity` dimension: an alarm's routing severity (`critical`, `warning`, `info`).
    pub const SEVERITY: &str = "Severity";
    /// The `Service` dimension: an off-hours service, `<cluster>/<service>`.
    pub const SERVICE: &str = "Service";

    /// Every function, after its job: the AWS calls of the invocation.
    pub const AWS_CALLS: Metric = Metric::count("AwsCalls");
    /// Organization mode (deployer, task-watcher, alarm-notifier, off-hours): an event from a
    /// member account whose role could not be assumed.
    pub const ACCOUNTS_UNREACHABLE: Metric = Metric::count("AccountsUnreachable");

    // deployer
    pub const DEPLOYS: Metric = Metric::count("Deploys");
    pub const SKIPS: Metric = Metric::count("Skips");
    pub const PAUSE_MESSAGES: Metric = Metric::count("PauseMessages");
    pub const RELEASES_REPLACED: Metric = Metric::count("ReleasesReplaced");
    pub const DEPLOYMENTS_COMPLETED: Metric = Metric::count("DeploymentsCompleted");
    pub const DEPLOYMENTS_ROLLED_BACK: Metric = Metric::count("DeploymentsRolledBack");
    pub const DEPLOYMENTS_FAILED: Metric = Metric::count("DeploymentsFailed");

    // task-watcher
    pub const STOPPED_TASKS: Metric = Metric::count("StoppedTasks").by(CAUSE);
    pub const ALERTS: Metric = Metric::count("Alerts");
    pub const CRASH_LOOPS: Metric = Metric::count("CrashLoops");
    pub const RESTARTS: Metric = Metric::count("Restarts");

    // alarm-notifier
    pub const ALARMS_PUBLISHED: Metric = Metric::count("AlarmsPublished").by(SEVERITY);
    pub const ALARMS_SUPPRESSED: Metric = Metric::count("AlarmsSuppressed").by(SEVERITY);

    // off-hours
    pub const SERVICES: Metric = Metric::count("Services");
    pub const SLEPT: Metric = Metric::count("Slept");
    pub const WOKE: Metric = Metric::count("Woke");
    pub const SKIPPED: Metric = Metric::count("Skipped");
    pub const ERRORS: Metric = Metric::count("Errors");
    /// Services asleep after the tick (put to sleep now or earlier): a gauge, one value per
    /// tick. Its average over a period times the period's hours is the service-hours asleep.
    pub const SERVICES_ASLEEP: Metric = Metric::count("ServicesAsleep").by(SERVICE);
    /// The estimate of what the services put to sleep by this tick save until on-hours, in US
    /// dollars: its sum over a period is that period's estimated savings.
    pub const ESTIMATED_SAVINGS_USD: Metric = Metric::amount("EstimatedSavingsUSD").by(SERVICE);

    // weekly-account
    pub const WEEKLY_ACCOUNTS: Metric = Metric::count("WeeklyAccounts");

    // deploy-gate
    pub const PASSED: Metric = Metric::count("Passed");
    pub const FAILED: Metric = Metric::count("Failed");
    pub const WAITING: Metric = Metric::count("Waiting");

    /// One function and every metric it emits.
    #[derive(Clone, Copy, Debug)]
    pub struct Function {
        /// Its `Function` dimension value: its binary name.
        pub name: &'static str,
        pub metrics: &'static [Metric],
    }

    pub const DEPLOYER: Function = Function {
        name: "deployer",
        metrics: &[
            DEPLOYS,
            SKIPS,
            PAUSE_MESSAGES,
            RELEASES_REPLACED,
            DEPLOYMENTS_COMPLETED,
            DEPLOYMENTS_ROLLED_BACK,
            DEPLOYMENTS_FAILED,
            ACCOUNTS_UNREACHABLE,
            AWS_CALLS,
        ],
    };
    pub const TASK_WATCHER: Function = Function {
        name: "task-watcher",
        metrics: &[
            STOPPED_TASKS,
            ALERTS,
            CRASH_LOOPS,
            RESTARTS,
            ACCOUNTS_UNREACHABLE,
            AWS_CALLS,
        ],
    };
    pub const ALARM_NOTIFIER: Function = Function {
        name: "alarm-notifier",
        metrics: &[
            ALARMS_PUBLISHED,
            ALARMS_SUPPRESSED,
            ACCOUNTS_UNREACHABLE,
            AWS_CALLS,
        ],
    };
    pub const OFF_HOURS: Function = Function {
        name: "off-hours",
        metrics: &[
            SERVICES,
            SLEPT,
            WOKE,
            SKIPPED,
            ERRORS,
            SERVICES_ASLEEP,
            ESTIMATED_SAVINGS_USD,
            ACCOUNTS_UNREACHABLE,
            AWS_CALLS,
        ],
    };
    pub const DEPLOY_GATE: Function = Function {
        name: "deploy-gate",
        metrics: &[PASSED, FAILED, WAITING, AWS_CALLS],
    };
    pub const WEEKLY_ACCOUNT: Function = Function {
        name: "weekly-account",
        metrics: &[WEEKLY_ACCOUNTS, AWS_CALLS],
    };

    /// Every function that emits metrics.
    pub const ALL: [Function; 6] = [
        DEPLOYER,
        TASK_WATCHER,
        ALARM_NOTIFIER,
        OFF_HOURS,
        DEPLOY_GATE,
        WEEKLY_ACCOUNT,
    ];

    /// The function of that name.
    pub fn function(name: &str) -> Option<Function> {
        ALL.into_iter().find(|f| f.name == name)
    }
}

/// A metric as CloudWatch knows it: namespace, name, and the dimension keys (sorted) with the
/// `Function` value; the values of a breakdown's key are left open.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Identity {
    pub namespace: String,
    pub name: String,
    pub function: String,
    /// The dimension keys, `Function` included, sorted.
    pub dimensions: Vec<String>,
}

/// Every metric the catalogue says the functions emit, under each of its dimension sets.
pub fn identities() -> BTreeSet<Identity> {
    catalogue::ALL
        .iter()
        .flat_map(|f| {
            f.metrics.iter().flat_map(move |m| {
                m.dimension_sets().into_iter().map(move |set| {
                    let mut dimensions: Vec<String> = set.iter().map(|k| k.to_string()).collect();
                    dimensions.sort();
                    Identity {
                        namespace: NAMESPACE.into(),
                        name: m.name.into(),
                        function: f.name.into(),
                        dimensions,
                    }
                })
            })
        })
        .collect()
}

/// What one invocation counts: totals under `[Function]`, and breakdowns under
/// `[Function, key]`. Counting a metric twice adds up.
#[derive(Debug, Default)]
pub struct Metrics {
    function: String,
    totals: Vec<(Metric, f64)>,
    breakdowns: Vec<Breakdown>,
    /// Organization mode: the account the `Service` values are in, put before them.
    account: Option<String>,
}

/// The metrics counted for one value of a dimension key.
#[derive(Debug)]
struct Breakdown {
    key: &'static str,
    value: String,
    values: Vec<(Metric, f64)>,
}

fn add(values: &mut Vec<(Metric, f64)>, metric: &Metric, value: f64) {
    match values.iter_mut().find(|(m, _)| m.name == metric.name) {
        Some((_, v)) => *v += value,
        None => values.push((*metric, value)),
    }
}

impl Metrics {
    /// Metrics of one function.
    pub fn new(function: &str) -> Self {
        Metrics {
            function: function.into(),
            ..Metrics::default()
        }
    }

    /// Names every `Service` breakdown value by its account too (`<account>/<cluster>/<service>`),
    /// so two accounts' services of the same name stay apart (organization mode).
    pub fn in_account(mut self, account: &str) -> Self {
        self.account = Some(account.to_string());
        self
    }

    /// Adds a count to the metric's total.
    pub fn count(self, metric: &Metric, value: usize) -> Self {
        self.amount(metric, value as f64)
    }

    /// Adds a number to the metric's total.
    pub fn amount(mut self, metric: &Metric, value: f64) -> Self {
        add(&mut self.totals, metric, value);
        self
    }

    /// Adds a count to the metric's total and to its breakdown for `value` of its key. A metric
    /// declared without a key has only its total.
    pub fn count_by(self, metric: &Metric, key_value: &str, value: usize) -> Self {
        self.amount_by(metric, key_value, value as f64)
    }

    /// Adds a number to the metric's total and to its breakdown for `key_value` of its key.
    pub fn amount_by(mut self, metric: &Metric, key_value: &str, value: f64) -> Self {
        add(&mut self.totals, metric, value);
        let Some(key) = metric.by else {
            return self;
        };
        let key_value = match &self.account {
            Some(account) if key == catalogue::SERVICE => format!("{account}/{key_value}"),
            _ => key_value.to_string(),
        };
        // A dimension value must be a non-empty string of at most 1024 ASCII characters.
        let key_value: String = key_value
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control())
            .take(1024)
            .collect();
        let key_value = if key_value.trim().is_empty() {
            "unknown".to_string()
        } else {
            key_value
        };
        let at = match self
            .breakdowns
            .iter()
            .position(|b| b.key == key && b.value == key_value)
        {
            Some(at) => at,
            None => {
                self.breakdowns.push(Breakdown {
                    key,
                    value: key_value,
                    values: vec![],
                });
                self.breakdowns.len() - 1
            }
        };
        add(&mut self.breakdowns[at].values, metric, value);
        self
    }

    /// The EMF JSON lines, stamped with `timestamp_ms`: the totals, then one line per value of
    /// each breakdown key.
    pub fn render(&self, timestamp_ms: i64) -> Vec<String> {
        let mut lines = vec![record(
            timestamp_ms,
            &[(FUNCTION, self.function.as_str())],
            &self.totals,
        )];
        for b in &self.breakdowns {
            lines.push(record(
                timestamp_ms,
                &[
                    (FUNCTION, self.function.as_str()),
                    (b.key, b.value.as_str()),
                ],
                &b.values,
            ));
        }
        lines
    }

    /// Prints the lines to stdout.
    pub fn emit(&self) {
        for line in self.render(chrono::Utc::now().timestamp_millis()) {
            println!("{line}");
        }
    }
}

/// One EMF record: one directive of one dimension set (`dimensions`' keys) and `values`, split
/// at [`MAX_METRICS_PER_RECORD`] into several directives.
fn record(timestamp_ms: i64, dimensions: &[(&str, &str)], values: &[(Metric, f64)]) -> String {
    let mut root = Map::new();
    let keys: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let directives: Vec<Value> = values
        .chunks(MAX_METRICS_PER_RECORD)
        .map(|chunk| {
            let defs: Vec<Value> = chunk
                .iter()
                .map(|(m, _)| json!({"Name": m.name, "Unit": m.unit.as_str()}))
                .collect();
            json!({"Namespace": NAMESPACE, "Dimensions": [keys], "Metrics": defs})
        })
        .collect();
    root.insert(
        "_aws".into(),
        json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": directives}),
    );
    for (k, v) in dimensions {
        root.insert(k.to_string(), json!(v));
    }
    for (m, value) in values {
        root.insert(m.name.to_string(), json!(value));
    }
    Value::Object(root).to_string()
}

/// What EMF lines declare, as [`Identity`]s: for tests that check what a job emits against the
/// catalogue.
pub fn declared(lines: &[String]) -> BTreeSet<Identity> {
    let mut out = BTreeSet::new();
    for line in lines {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let function = v[FUNCTION].as_str().unwrap_or_default().to_string();
        for directive in v["_aws"]["CloudWatchMetrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let namespace = directive["Namespace"].as_str().unwrap_or_default();
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                let mut dimensions: Vec<String> = set
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect();
                dimensions.sort();
                for m in directive["Metrics"].as_array().into_iter().flatten() {
                    out.insert(Identity {
                        namespace: namespace.into(),
                        name: m["Name"].as_str().unwrap_or_default().into(),
                        function: function.clone(),
                        dimensions: dimensions.clone(),
                    });
                }
            }
        }
    }
    out
}

/// For a job's tests: the identities its metrics over `reports` declare, and the catalogue's
/// for the function (without `AwsCalls`, which the runtime adds).
#[cfg(test)]
pub(crate) fn emitted_and_catalogued(
    function: &str,
    records: impl IntoIterator<Item = Metrics>,
) -> (BTreeSet<Identity>, BTreeSet<Identity>) {
    let lines: Vec<String> = records.into_iter().flat_map(|m| m.render(0)).collect();
    let emitted = declared(&lines);
    let catalogued = identities()
        .into_iter()
        .filter(|i| i.function == function && i.name != catalogue::AWS_CALLS.name)
        .collect();
    (emitted, catalogued)
}

#[cfg(test)]
mod tests {
    use super::catalogue::*;
    use super::*;

    #[test]
    fn renders_an_emf_record() {
        let lines = Metrics::new("deployer")
            .count(&DEPLOYS, 2)
            .count(&AWS_CALLS, 5)
            .render(1000);
        assert_eq!(lines.len(), 1);
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1000);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            json!({"Name": "Deploys", "Unit": "Count"})
        );
        assert_eq!(v["Function"], "deployer");
        assert_eq!(v["Deploys"], 2.0);
        assert_eq!(v["AwsCalls"], 5.0);
    }

    #[test]
    fn a_breakdown_is_a_record_of_its_own_per_value_beside_the_totals() {
        let lines = Metrics::new("alarm-notifier")
            .count(&ALARMS_PUBLISHED, 0)
            .count_by(&ALARMS_PUBLISHED, "critical", 1)
            .count_by(&ALARMS_PUBLISHED, "warning", 1)
            .count_by(&ALARMS_PUBLISHED, "critical", 1)
            .render(7);
        let v: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v.len(), 3, "{lines:?}");
        // The total, under [Function] only: what today's readers read.
        assert_eq!(v[0]["AlarmsPublished"], 3.0);
        assert_eq!(v[0].get("Severity"), None);
        assert_eq!(
            v[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
        // One record per severity, under [Function, Severity].
        for (record, severity, n) in [(&v[1], "critical", 2.0), (&v[2], "warning", 1.0)] {
            assert_eq!(record["Severity"], severity);
            assert_eq!(record["Function"], "alarm-notifier");
            assert_eq!(record["AlarmsPublished"], n);
            assert_eq!(
                record["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
                json!([["Function", "Severity"]])
            );
        }
    }

    #[test]
    fn amounts_carry_their_unit_and_counts_add_up() {
        let lines = Metrics::new("off-hours")
            .amount(&ESTIMATED_SAVINGS_USD, 1.25)
            .count(&SLEPT, 1)
            .count(&SLEPT, 2)
            .render(0);
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["EstimatedSavingsUSD"], 1.25);
        assert_eq!(v["Slept"], 3.0);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "EstimatedSavingsUSD", "Unit": "None"}, {"Name": "Slept", "Unit": "Count"}])
        );
    }

    #[test]
    fn a_count_by_a_metric_without_a_key_is_its_total_only() {
        let lines = Metrics::new("task-watcher")
            .count_by(&CRASH_LOOPS, "x", 1)
            .render(0);
        assert_eq!(lines.len(), 1);
    }

    #[test]
    fn a_dimension_value_is_made_one_cloudwatch_takes() {
        let lines = Metrics::new("task-watcher")
            .count_by(&STOPPED_TASKS, "oom\u{7}é", 1)
            .count_by(&STOPPED_TASKS, " \n", 1)
            .render(0);
        let v: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(v[1]["Cause"], "oom");
        assert_eq!(v[2]["Cause"], "unknown");
    }

    #[test]
    fn more_than_a_hundred_metrics_are_split_into_directives() {
        let names: Vec<&'static str> = (0..150)
            .map(|i| &*Box::leak(format!("M{i}").into_boxed_str()))
            .collect();
        let metrics = names
            .iter()
            .fold(Metrics::new("f"), |m, n| m.count(&Metric::count(n), 1));
        let v: Value = serde_json::from_str(&metrics.render(0)[0]).unwrap();
        let directives = v["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 2);
        assert_eq!(directives[0]["Metrics"].as_array().unwrap().len(), 100);
        assert_eq!(directives[1]["Metrics"].as_array().unwrap().len(), 50);
    }

    #[test]
    fn the_catalogue_fits_the_emf_and_cloudwatch_limits() {
        let mut functions = BTreeSet::new();
        for f in ALL {
            assert!(functions.insert(f.name), "{} listed twice", f.name);
            assert!(f.metrics.len() <= MAX_METRICS_PER_RECORD, "{}", f.name);
            let mut names = BTreeSet::new();
            for m in f.metrics {
                assert!(names.insert(m.name), "{}: {} listed twice", f.name, m.name);
            }
            for m in f.metrics {
                // Metric names: 1 to 255 ASCII characters; ours are plain words.
                assert!(
                    !m.name.is_empty()
                        && m.name.len() <= 255
                        && m.name.chars().all(|c| c.is_ascii_alphanumeric()),
                    "{}",
                    m.name
                );
                for set in m.dimension_sets() {
                    assert!(set.len() <= 30);
                    // A breakdown key is not a metric of the record it is in.
                    assert!(set.iter().all(|k| !names.contains(k)), "{set:?}");
                }
            }
            assert!(f.metrics.contains(&AWS_CALLS), "{}", f.name);
        }
        assert_eq!(catalogue::function("off-hours").unwrap().name, "off-hours");
        assert!(catalogue::function("nope").is_none());
    }

    #[test]
    fn identities_name_each_dimension_set_of_each_metric() {
        let all = identities();
        let stops: Vec<&Identity> = all.iter().filter(|i| i.name == "StoppedTasks").collect();
        assert_eq!(
            stops
                .iter()
                .map(|i| i.dimensions.clone())
                .collect::<Vec<_>>(),
            vec![
                vec!["Cause".to_string(), "Function".to_string()],
                vec!["Function".to_string()]
            ]
        );
        assert!(stops.iter().all(|i| i.function == "task-watcher"));
        // What a record declares reads back as the same identities.
        let lines = Metrics::new("task-watcher")
            .count_by(&STOPPED_TASKS, "image-pull", 1)
            .render(0);
        assert_eq!(
            declared(&lines),
            stops.into_iter().cloned().collect::<BTreeSet<_>>()
        );
    }
}

#[cfg(all(
    test,
    feature = "deploy",
    feature = "tasks",
    feature = "alarms",
    feature = "offhours",
    feature = "gate"
))]
#[path = "metrics_tests.rs"]
mod jobs_tests;
