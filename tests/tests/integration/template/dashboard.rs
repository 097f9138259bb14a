//! The CloudWatch dashboard: every metric it reads is one a function emits (namespace, name and
//! dimensions, from the catalogue the functions count with, `autopilot_core::metrics`), and its
//! Lambda graphs name each function of the stack, off-hours only when it exists.

use super::*;
use autopilot_core::metrics::{catalogue, identities, Identity, FUNCTION, NAMESPACE};
use integration_tests::template::{Names, ENVIRONMENT, PROJECT};

/// `${Name}` in `text` replaced from `vars`; a name not in `vars` fails the test.
fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .unwrap_or_else(|| panic!("an unclosed ${{ in {rest}"))
            + start;
        let name = &rest[start + 2..end];
        out.push_str(vars.get(name).unwrap_or_else(|| {
            panic!("the dashboard names ${{{name}}}, which the test does not know")
        }));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// What `Fn::Sub` can name in the dashboard: the parameters, the pseudo parameters and the
/// functions (their `Ref`: the function's name).
fn known_names(names: &Names) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::from([
        ("ProjectName".to_string(), names.project.clone()),
        ("Environment".to_string(), names.environment.clone()),
        ("AWS::Region".to_string(), REGION.to_string()),
        ("AWS::Partition".to_string(), "aws".to_string()),
    ]);
    for (binary, logical_id) in FUNCTIONS {
        vars.insert(logical_id.to_string(), names.function(binary));
    }
    vars
}

/// `Fn::Sub` as CloudFormation evaluates it: a string, or `[string, {name: value}]` whose values
/// are strings or `Fn::Sub`s themselves.
fn evaluate_sub(v: &Value, vars: &BTreeMap<String, String>) -> String {
    let sub = &v["Fn::Sub"];
    if let Some(text) = sub.as_str() {
        return substitute(text, vars);
    }
    let parts = sub.as_array().expect("Fn::Sub is a string or a list");
    let mut vars = vars.clone();
    for (name, value) in parts[1].as_object().expect("Fn::Sub's variables") {
        let value = match value {
            Value::String(s) => s.clone(),
            other => evaluate_sub(other, &vars),
        };
        vars.insert(name.clone(), value);
    }
    substitute(parts[0].as_str().expect("Fn::Sub's text"), &vars)
}

/// The dashboard as deployed with `OffHoursOnHours` at `on_hours`: its name and its body.
fn dashboard(t: &Value, on_hours: &str) -> (String, Value, usize) {
    let dashboards = of_type(t, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1, "one dashboard");
    let properties = &dashboards[0].1["Properties"];
    let conditions = Conditions::of(t, &[("OffHoursOnHours", on_hours)]);
    let vars = known_names(&Names::tests());
    let name = evaluate_sub(&properties["DashboardName"], &vars);
    let text = evaluate_sub(&conditions.resolve(&properties["DashboardBody"]), &vars);
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON ({e}):\n{text}"));
    (name, body, text.len())
}

/// A metric a graph reads: namespace, name, dimensions.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Read {
    namespace: String,
    name: String,
    dimensions: BTreeMap<String, String>,
    /// A search's dimension keys (their values left open but for `Function`).
    open: Vec<String>,
}

/// `SEARCH('{Namespace,Key,...} MetricName="Name" Key="value"', 'Stat', period)`, read: the only
/// form of expression the dashboard uses.
fn search(expression: &str) -> Read {
    let inner = expression
        .strip_prefix("SEARCH('")
        .and_then(|e| e.split_once("',"))
        .map(|(query, _)| query)
        .unwrap_or_else(|| panic!("an expression the test does not read: {expression}"));
    let (schema, terms) = inner
        .strip_prefix('{')
        .and_then(|s| s.split_once('}'))
        .unwrap_or_else(|| panic!("a search without a schema: {expression}"));
    let mut schema = schema.split(',').map(str::trim);
    let namespace = schema.next().unwrap_or_default().to_string();
    let open: Vec<String> = schema.map(str::to_string).collect();
    let mut name = String::new();
    let mut dimensions = BTreeMap::new();
    for term in terms.split_whitespace() {
        let (key, value) = term
            .split_once('=')
            .unwrap_or_else(|| panic!("a search term the test does not read: {term}"));
        let value = value.trim_matches('"').to_string();
        if key == "MetricName" {
            name = value;
        } else {
            assert!(
                open.iter().any(|k| k == key),
                "{key} is not in the schema: {expression}"
            );
            dimensions.insert(key.to_string(), value);
        }
    }
    assert!(
        !name.is_empty(),
        "a search without MetricName: {expression}"
    );
    Read {
        namespace,
        name,
        dimensions,
        open,
    }
}

/// Every metric the body's graphs read, with the widget's title.
fn reads(body: &Value) -> Vec<(String, Read)> {
    let mut out = vec![];
    for widget in body["widgets"].as_array().expect("widgets") {
        assert_eq!(widget["type"], "metric", "{widget}");
        let properties = &widget["properties"];
        let title = properties["title"].as_str().expect("a title").to_string();
        assert_eq!(properties["region"], REGION, "{title}: the stack's region");
        for line in properties["metrics"].as_array().expect("metrics") {
            let line = line.as_array().expect("a metric line is an array");
            if let Some(expression) = line[0]["expression"].as_str() {
                out.push((title.clone(), search(expression)));
                continue;
            }
            // [namespace, name, key, value, ..., {options}]: written out in full, no ".".
            let words: Vec<&str> = line.iter().filter_map(Value::as_str).collect();
            assert!(
                words.len() >= 2 && words.len().is_multiple_of(2) && !words.contains(&"."),
                "{title}: {line:?}"
            );
            out.push((
                title.clone(),
                Read {
                    namespace: words[0].to_string(),
                    name: words[1].to_string(),
                    dimensions: words[2..]
                        .chunks(2)
                        .map(|kv| (kv[0].to_string(), kv[1].to_string()))
                        .collect(),
                    open: vec![],
                },
            ));
        }
    }
    out
}

#[test]
fn every_metric_the_dashboard_reads_is_one_a_function_emits() {
    let t = translate();
    let emitted = identities();
    let names = Names::tests();
    for on_hours in ["", "Mon-Fri 07:00-19:00"] {
        let (_, body, _) = dashboard(&t, on_hours);
        let ours: Vec<(String, Read)> = reads(&body)
            .into_iter()
            .filter(|(_, r)| r.namespace != "AWS/Lambda")
            .collect();
        assert!(!ours.is_empty());
        for (title, read) in &ours {
            let mut keys: Vec<String> = read.dimensions.keys().cloned().collect();
            keys.extend(read.open.iter().cloned());
            keys.sort();
            keys.dedup();
            let identity = Identity {
                namespace: read.namespace.clone(),
                name: read.name.clone(),
                // The Lambda function's name (`<project>-<environment>-<binary>`), as the
                // functions emit it in Lambda (`metrics::function_dimension`).
                function: read
                    .dimensions
                    .get("Function")
                    .and_then(|f| f.strip_prefix(&names.function("")))
                    .unwrap_or_default()
                    .to_string(),
                dimensions: keys,
            };
            assert!(
                emitted.contains(&identity),
                "{title}: {identity:?} is not a metric a function emits; they are:\n{emitted:#?}"
            );
        }
        // What the page promises a person, all there (off-hours' only with off-hours).
        let shown: BTreeSet<(String, Vec<String>)> = ours
            .iter()
            .map(|(_, r)| {
                let mut keys: Vec<String> = r.dimensions.keys().cloned().collect();
                keys.extend(r.open.iter().cloned());
                keys.sort();
                keys.dedup();
                (r.name.clone(), keys)
            })
            .collect();
        let by = |name: &str, keys: &[&str]| {
            (
                name.to_string(),
                keys.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            )
        };
        let function = [FUNCTION];
        let mut wanted = vec![
            by(catalogue::DEPLOYS.name, &function),
            by(catalogue::DEPLOYMENTS_COMPLETED.name, &function),
            by(catalogue::DEPLOYMENTS_FAILED.name, &function),
            by(catalogue::DEPLOYMENTS_ROLLED_BACK.name, &function),
            by(catalogue::STOPPED_TASKS.name, &[catalogue::CAUSE, FUNCTION]),
            by(catalogue::CRASH_LOOPS.name, &function),
            by(
                catalogue::ALARMS_PUBLISHED.name,
                &[FUNCTION, catalogue::SEVERITY],
            ),
            by(
                catalogue::ALARMS_SUPPRESSED.name,
                &[FUNCTION, catalogue::SEVERITY],
            ),
            by(catalogue::PASSED.name, &function),
            by(catalogue::FAILED.name, &function),
        ];
        let off_hours = [
            by(catalogue::SERVICES_ASLEEP.name, &function),
            by(catalogue::ESTIMATED_SAVINGS_USD.name, &function),
        ];
        if on_hours.is_empty() {
            assert!(off_hours.iter().all(|m| !shown.contains(m)), "{shown:?}");
        } else {
            wanted.extend(off_hours);
        }
        for m in wanted {
            assert!(shown.contains(&m), "the dashboard does not show {m:?}");
        }
        assert!(ours.iter().all(|(_, r)| r.namespace == NAMESPACE));
    }
}

#[test]
fn the_dashboards_lambda_graphs_name_each_function_of_the_stack() {
    let t = translate();
    for (on_hours, off_hours_exists) in [("", false), ("Mon-Fri 07:00-19:00", true)] {
        let (_, body, _) = dashboard(&t, on_hours);
        let lambda: BTreeSet<(String, String)> = reads(&body)
            .into_iter()
            .filter(|(_, r)| r.namespace == "AWS/Lambda")
            .map(|(title, r)| {
                assert_eq!(
                    r.dimensions.keys().collect::<Vec<_>>(),
                    vec!["FunctionName"],
                    "{title}"
                );
                (r.name, r.dimensions["FunctionName"].clone())
            })
            .collect();
        let mut expected = BTreeSet::new();
        for (binary, _) in FUNCTIONS {
            if binary == "off-hours" && !off_hours_exists {
                continue;
            }
            for metric in ["Errors", "Duration", "Throttles"] {
                expected.insert((metric.to_string(), function_name(binary)));
            }
        }
        assert_eq!(lambda, expected, "OffHoursOnHours={on_hours:?}");
    }
}

#[test]
fn the_dashboards_name_and_body_fit_cloudwatchs_limits() {
    let t = translate();
    let (name, body, size) = dashboard(&t, "Mon-Fri 07:00-19:00");
    assert_eq!(name, format!("{PROJECT}-{ENVIRONMENT}-autopilot"));
    // PutDashboard: a name of at most 255 characters of A-Z, a-z, 0-9, - and _, with the
    // longest project and environment names the parameters allow (24 and 16).
    let longest = format!("{}-{}-autopilot", "p".repeat(24), "e".repeat(16));
    for name in [&name, &longest] {
        assert!(name.len() <= 255, "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{name}"
        );
    }
    let widgets = body["widgets"].as_array().expect("widgets");
    // "Dashboard Body Structure and Syntax": 0 to 500 widgets; the body is a few KB.
    assert!(widgets.len() <= 500);
    assert!(size < 100_000, "{size} bytes");
    // On a grid 24 wide, no two widgets overlap.
    let cells: Vec<(i64, i64, i64, i64)> = widgets
        .iter()
        .map(|w| {
            let n = |k: &str| w[k].as_i64().unwrap_or_else(|| panic!("{k} of {w}"));
            (n("x"), n("y"), n("width"), n("height"))
        })
        .collect();
    for (i, a) in cells.iter().enumerate() {
        assert!(a.0 + a.2 <= 24, "{a:?}");
        for b in &cells[i + 1..] {
            let apart =
                a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "widgets overlap: {a:?} {b:?}");
        }
    }
    // The output links to it in the aws partition only.
    let output = &t["Outputs"]["DashboardUrl"];
    assert_eq!(output["Condition"], "AwsPartition");
}
