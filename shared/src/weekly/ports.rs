//! What the weekly account reads, and its implementation for [`Clients`].

use std::future::Future;

use chrono::{DateTime, Utc};

use crate::aws::cloudwatch::{self, Series};
use crate::aws::Clients;
use crate::error::Result;
use crate::metrics::NAMESPACE;
use crate::ports::{Calls, Publish};

/// The functions' metrics, read back.
pub trait WeeklyPorts: Calls + Publish {
    /// The values the dimension `key` of `metric` took for `function` (recently).
    fn dimension_values(
        &self,
        metric: &str,
        function: &str,
        key: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// Each series' sums over `weeks` weeks ending at `end`, oldest first.
    fn weekly_sums(
        &self,
        series: &[Series],
        end: DateTime<Utc>,
        weeks: u32,
    ) -> impl Future<Output = Result<Vec<Vec<f64>>>> + Send;
}

impl WeeklyPorts for Clients {
    async fn dimension_values(
        &self,
        metric: &str,
        function: &str,
        key: &str,
    ) -> Result<Vec<String>> {
        cloudwatch::dimension_values(&self.cloudwatch, NAMESPACE, metric, function, key).await
    }

    async fn weekly_sums(
        &self,
        series: &[Series],
        end: DateTime<Utc>,
        weeks: u32,
    ) -> Result<Vec<Vec<f64>>> {
        cloudwatch::weekly_sums(&self.cloudwatch, NAMESPACE, series, end, weeks).await
    }
}
