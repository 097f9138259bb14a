//! The in-memory fake's side of the weekly account's port: metric points by series.

use chrono::{DateTime, Duration, Utc};

use super::WeeklyPorts;
use crate::aws::cloudwatch::Series;
use crate::error::Result;
use crate::testing::FakeAws;

/// One datapoint of a series.
#[derive(Clone, Debug)]
pub struct Point {
    pub name: String,
    pub dimensions: Vec<(String, String)>,
    pub at: DateTime<Utc>,
    pub value: f64,
}

impl WeeklyPorts for FakeAws {
    async fn dimension_values(
        &self,
        metric: &str,
        function: &str,
        key: &str,
    ) -> Result<Vec<String>> {
        self.call_or_fail("CloudWatch.ListMetrics")?;
        let mut values: Vec<String> = self.with(|s| {
            s.points
                .iter()
                .filter(|p| p.name == metric)
                .filter(|p| p.dimensions.contains(&("Function".into(), function.into())))
                .filter_map(|p| {
                    p.dimensions
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                })
                .collect()
        });
        values.sort();
        values.dedup();
        Ok(values)
    }

    async fn weekly_sums(
        &self,
        series: &[Series],
        end: DateTime<Utc>,
        weeks: u32,
    ) -> Result<Vec<Vec<f64>>> {
        self.call_or_fail("CloudWatch.GetMetricData")?;
        let start = end - Duration::days(7) * weeks as i32;
        Ok(self.with(|s| {
            series
                .iter()
                .map(|q| {
                    let mut sums = vec![0.0; weeks as usize];
                    for p in s.points.iter().filter(|p| {
                        p.name == q.name && {
                            let mut a = p.dimensions.clone();
                            let mut b = q.dimensions.clone();
                            a.sort();
                            b.sort();
                            a == b
                        }
                    }) {
                        let w = (p.at - start).num_seconds().div_euclid(7 * 86_400);
                        if (0..i64::from(weeks)).contains(&w) {
                            sums[w as usize] += p.value;
                        }
                    }
                    sums
                })
                .collect()
        }))
    }
}
