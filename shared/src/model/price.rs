//! What Fargate charges, in the project's terms: a task's billed size and the prices of a
//! region, as the Price List API or the compiled-in table gives them.

use serde::Serialize;

/// A task's CPU architecture (`runtimePlatform.cpuArchitecture`; X86_64 when unset).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    #[default]
    X86,
    Arm,
}

/// What one Fargate task of a revision is billed for: vCPU, GB of memory, its architecture and
/// its ephemeral storage (20 GiB when the task definition says none, the first 20 free).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TaskSize {
    pub vcpu: f64,
    pub gb: f64,
    pub arch: Arch,
    pub storage_gib: f64,
}

/// The ephemeral storage every Fargate task gets without charge (and has when its task
/// definition names none).
pub const FREE_STORAGE_GIB: f64 = 20.0;

impl Default for TaskSize {
    fn default() -> Self {
        TaskSize {
            vcpu: 0.0,
            gb: 0.0,
            arch: Arch::X86,
            storage_gib: FREE_STORAGE_GIB,
        }
    }
}

/// USD per vCPU-hour and per GB-hour.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Rates {
    pub vcpu_hour: f64,
    pub gb_hour: f64,
}

/// Fargate's Linux prices in one region (USD).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FargatePrices {
    pub x86: Rates,
    pub arm: Rates,
    /// Fargate Spot, when the source publishes it (the Price List does not: Spot's price
    /// varies); otherwise an estimate is made from the on-demand rates.
    pub spot_x86: Option<Rates>,
    pub spot_arm: Option<Rates>,
    /// Per GB-hour of ephemeral storage above the free 20 GB.
    pub storage_gb_hour: f64,
}
