//! What a sleeping service's tasks cost, priced as AWS bills Fargate: by region, CPU
//! architecture, capacity provider (Fargate or Fargate Spot), ephemeral storage above the free
//! 20 GB, per second. Pure: the prices come in (from the Price List, or compiled in below), and
//! so does what they were read from, which the notification says.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::price::{Arch, FargatePrices, Rates, TaskSize, FREE_STORAGE_GIB};
use crate::model::service::ServiceSnapshot;

/// When the compiled-in prices below were written down (Fargate's Linux on-demand prices, as
/// AWS publishes them).
pub const COMPILED_IN_DATE: &str = "2026-12-01";

/// The region whose compiled-in prices stand in for a region that has none.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Fargate Spot is not in the Price List, and its price varies: AWS publishes it as "up to 70%
/// off" the on-demand price. The estimate takes the full discount, so a Spot saving is never
/// overstated.
pub const SPOT_FRACTION: f64 = 0.3;

/// The capacity providers that run Fargate tasks.
pub const FARGATE: &str = "FARGATE";
pub const FARGATE_SPOT: &str = "FARGATE_SPOT";

const fn rates(vcpu_hour: f64, gb_hour: f64) -> Rates {
    Rates { vcpu_hour, gb_hour }
}

/// Fargate's Linux on-demand prices compiled in, for when the Price List cannot be read.
/// N. Virginia and Ireland share one price; Frankfurt costs more.
const COMPILED_IN: [(&str, FargatePrices); 3] = [
    (
        "us-east-1",
        FargatePrices {
            x86: rates(0.04048, 0.004445),
            arm: rates(0.03238, 0.00356),
            spot_x86: None,
            spot_arm: None,
            storage_gb_hour: 0.000111,
        },
    ),
    (
        "eu-west-1",
        FargatePrices {
            x86: rates(0.04048, 0.004445),
            arm: rates(0.03238, 0.00356),
            spot_x86: None,
            spot_arm: None,
            storage_gb_hour: 0.000111,
        },
    ),
    (
        "eu-central-1",
        FargatePrices {
            x86: rates(0.04656, 0.00511),
            arm: rates(0.03725, 0.00409),
            spot_x86: None,
            spot_arm: None,
            storage_gb_hour: 0.000129,
        },
    ),
];

/// Where a region's prices were read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "source")]
pub enum Source {
    /// The AWS Price List Query API (GetProducts).
    PriceList,
    /// The table compiled in, the Price List being unreadable; `of` is the region whose
    /// prices stand in (another one's when none are compiled in for it).
    CompiledIn { of: String },
}

/// One region's prices and where they came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Priced {
    pub prices: FargatePrices,
    pub source: Source,
}

impl Priced {
    /// Read from the Price List.
    pub fn listed(prices: FargatePrices) -> Self {
        Priced {
            prices,
            source: Source::PriceList,
        }
    }

    /// The compiled-in prices of `region`, or of [`DEFAULT_REGION`] when it has none.
    pub fn compiled_in(region: &str) -> Self {
        let (of, prices) = COMPILED_IN
            .iter()
            .find(|(r, _)| *r == region)
            .or_else(|| COMPILED_IN.iter().find(|(r, _)| *r == DEFAULT_REGION))
            .copied()
            .unwrap_or(COMPILED_IN[0]);
        Priced {
            prices,
            source: Source::CompiledIn { of: of.to_string() },
        }
    }
}

/// The region a service runs in, from its ARN (empty when the ARN says none).
pub fn region_of(s: &ServiceSnapshot) -> &str {
    crate::model::arn::Arn::parse(&s.arn).map_or("", |a| a.region)
}

/// How many of `n` tasks run on Fargate on demand and on Fargate Spot, as ECS places them: the
/// base of the provider that has one first, the rest by weight. A service with a launch type
/// but no strategy runs them all on Fargate when the type is FARGATE (or unsaid: the cluster's
/// default strategy is not read), none when EC2 or EXTERNAL, whose instances off-hours does not
/// stop; tasks on any other capacity provider (an Auto Scaling group's) count as none.
pub fn fargate_tasks(s: &ServiceSnapshot, n: i32) -> (f64, f64) {
    let n = f64::from(n.max(0));
    if s.capacity_providers.is_empty() {
        return match s.launch_type.as_deref() {
            None | Some(FARGATE) => (n, 0.0),
            Some(_) => (0.0, 0.0),
        };
    }
    let mut placed: BTreeMap<&str, f64> = BTreeMap::new();
    let mut left = n;
    for p in &s.capacity_providers {
        let base = f64::from(p.base.max(0)).min(left);
        *placed.entry(p.provider.as_str()).or_default() += base;
        left -= base;
    }
    let weights: f64 = s
        .capacity_providers
        .iter()
        .map(|p| f64::from(p.weight.max(0)))
        .sum();
    if weights > 0.0 {
        for p in &s.capacity_providers {
            *placed.entry(p.provider.as_str()).or_default() +=
                left * f64::from(p.weight.max(0)) / weights;
        }
    }
    let on = |name: &str| placed.get(name).copied().unwrap_or(0.0);
    (on(FARGATE), on(FARGATE_SPOT))
}

/// Fargate Spot's rates for `arch`: the published ones when the source has them, else the
/// estimate ([`SPOT_FRACTION`] of on-demand); and whether they are the estimate.
pub fn spot_rates(prices: &FargatePrices, arch: Arch) -> (Rates, bool) {
    let (published, on_demand) = match arch {
        Arch::X86 => (prices.spot_x86, prices.x86),
        Arch::Arm => (prices.spot_arm, prices.arm),
    };
    match published {
        Some(r) => (r, false),
        None => (
            rates(
                on_demand.vcpu_hour * SPOT_FRACTION,
                on_demand.gb_hour * SPOT_FRACTION,
            ),
            true,
        ),
    }
}

/// What `n` tasks of `size` of service `s` cost an hour at `prices`: vCPU and memory at the
/// rates of their architecture and capacity provider, ephemeral storage above the free 20 GB
/// at the storage rate (Spot discounts vCPU and memory only).
pub fn hourly(s: &ServiceSnapshot, n: i32, size: &TaskSize, prices: &FargatePrices) -> f64 {
    let (on_demand, spot) = fargate_tasks(s, n);
    let compute = |r: Rates| size.vcpu * r.vcpu_hour + size.gb * r.gb_hour;
    let od = match size.arch {
        Arch::X86 => prices.x86,
        Arch::Arm => prices.arm,
    };
    let storage = (size.storage_gib - FREE_STORAGE_GIB).max(0.0) * prices.storage_gb_hour;
    on_demand * (compute(od) + storage)
        + spot * (compute(spot_rates(prices, size.arch).0) + storage)
}

/// What the estimate of `services` (each with the size of its tasks) was priced on, one
/// sentence each: the Price List, the compiled-in table and why, and Spot's estimate.
pub fn basis<'a>(
    services: impl IntoIterator<Item = (&'a ServiceSnapshot, i32, TaskSize)>,
    priced: &BTreeMap<String, Priced>,
) -> Vec<String> {
    let mut listed: BTreeSet<&str> = BTreeSet::new();
    let mut compiled: BTreeMap<&str, &str> = BTreeMap::new();
    let mut spot_estimated = false;
    for (s, n, size) in services {
        let region = region_of(s);
        let Some(p) = priced.get(region) else {
            continue;
        };
        let (on_demand, spot) = fargate_tasks(s, n);
        if on_demand + spot <= 0.0 {
            continue;
        }
        match &p.source {
            Source::PriceList => {
                listed.insert(region);
            }
            Source::CompiledIn { of } => {
                compiled.insert(region, of);
            }
        }
        spot_estimated |= spot > 0.0 && spot_rates(&p.prices, size.arch).1;
    }
    let mut lines = vec![];
    if !listed.is_empty() {
        lines.push(format!(
            "Priced from the AWS Price List API ({}).",
            listed.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    if !compiled.is_empty() {
        let regions = compiled
            .iter()
            .map(|(region, of)| {
                if region == of {
                    region.to_string()
                } else {
                    format!("{region} at {of}'s, none being compiled in for it")
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        lines.push(format!(
            "Priced from compiled-in prices of {COMPILED_IN_DATE} ({regions}): the AWS Price List API could not be read."
        ));
    }
    if spot_estimated {
        lines.push(format!(
            "Fargate Spot: an estimate at {:.0}% of the on-demand price (AWS publishes Spot as up to 70% off; its price varies and is not in the Price List).",
            SPOT_FRACTION * 100.0
        ));
    }
    lines
}

#[cfg(test)]
#[path = "pricing_tests.rs"]
mod tests;
