//! `sam/template.yaml`, checked as hard as the Rust code: the linters, the translated template,
//! a deploy into the emulator's CloudFormation, the rules' patterns through the emulator's
//! EventBridge, the functions' environment against what their configuration reads, and each
//! role against the AWS calls its function makes.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use autopilot_core::alarms::AlarmNotifierConfig;
use autopilot_core::config::Env;
use autopilot_core::deploy::DeployerConfig;
use autopilot_core::gate::GateConfig;
use autopilot_core::offhours::OffHoursConfig;
use autopilot_core::tasks::TaskWatcherConfig;
use autopilot_core::weekly::WeeklyConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use integration_tests::emulator::{xml_value, Emulator, ACCOUNT, REGION};
use integration_tests::iam::{actions, role_statements_in};
use integration_tests::template::{
    self, function_name, pollers_off, template_path, tool, translate, DeployedStack, Rule,
    FUNCTIONS,
};
use integration_tests::{release_binary, run_function, sample_event};
use serde_json::{json, Value};

const CLUSTER: &str = "autopilot-cluster-demo";
const SERVICE: &str = "autopilot-service-demo";
const REPOSITORY: &str = "autopilot-demo";

mod dashboard;
mod deployed;
mod docs;
mod environment;
mod iam_shape;
mod linters;
pub(crate) mod organization;
mod translated;

// Helpers one section defines and another uses.
use deployed::*;
use environment::*;
use linters::*;
use translated::*;
