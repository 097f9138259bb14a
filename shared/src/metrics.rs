//! CloudWatch Embedded Metric Format: one JSON line on stdout per invocation, which Lambda's log
//! pipeline turns into metrics. No PutMetricData call.

use serde_json::{json, Map, Value};

/// The namespace every function's metrics go to.
pub const NAMESPACE: &str = "FargateAutopilot";

/// One EMF record: dimensions and counts.
#[derive(Debug, Default)]
pub struct Metrics {
    dimensions: Vec<(String, String)>,
    values: Vec<(String, f64, &'static str)>,
}

impl Metrics {
    /// Metrics of one function.
    pub fn new(function: &str) -> Self {
        Metrics {
            dimensions: vec![("Function".into(), function.into())],
            values: vec![],
        }
    }

    /// Adds a count.
    pub fn count(mut self, name: &str, value: usize) -> Self {
        self.values.push((name.into(), value as f64, "Count"));
        self
    }

    /// Adds a duration in milliseconds.
    pub fn millis(mut self, name: &str, value: f64) -> Self {
        self.values.push((name.into(), value, "Milliseconds"));
        self
    }

    /// The EMF JSON line, stamped with `timestamp_ms`.
    pub fn render(&self, timestamp_ms: i64) -> String {
        let mut root = Map::new();
        let dims: Vec<&str> = self.dimensions.iter().map(|(k, _)| k.as_str()).collect();
        let defs: Vec<Value> = self
            .values
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
            .collect();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [dims], "Metrics": defs}],
            }),
        );
        for (k, v) in &self.dimensions {
            root.insert(k.clone(), json!(v));
        }
        for (name, value, _) in &self.values {
            root.insert(name.clone(), json!(value));
        }
        Value::Object(root).to_string()
    }

    /// Prints the line to stdout.
    pub fn emit(&self) {
        println!("{}", self.render(chrono::Utc::now().timestamp_millis()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_emf_record() {
        let line = Metrics::new("deployer")
            .count("Deploys", 2)
            .count("AwsCalls", 5)
            .render(1000);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1000);
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0][0],
            "Function"
        );
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "Deploys"
        );
        assert_eq!(v["Function"], "deployer");
        assert_eq!(v["Deploys"], 2.0);
        assert_eq!(v["AwsCalls"], 5.0);
    }
}
