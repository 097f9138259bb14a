//! The stack as samconfig's `dev` names it, and what the emulator's CloudFormation reports as
//! created without creating (alarms, auto scaling): created through its APIs from the
//! translated template's own properties, intrinsic functions resolved against the stack.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{current_step, StepFailed};
use crate::emulator::{xml_value, Emulator, ACCOUNT, REGION};
use crate::template::{DeployedStack, Names};

/// The stack's names and parameters from `[dev.*]` of `sam/samconfig.toml` (its parameters from
/// the file it names, `sam/params/dev.yaml`), less the inputs a user fills in.
pub(super) fn samconfig_dev(
    translated: &Value,
) -> Result<(Names, Vec<(String, String)>), StepFailed> {
    let fail = |what: String| StepFailed {
        step: current_step(),
        what,
    };
    let path = crate::workspace_root().join("sam/samconfig.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let config: toml::Table = text
        .parse()
        .map_err(|e| fail(format!("{} is not TOML: {e}", path.display())))?;
    let dev = &config
        .get("dev")
        .ok_or_else(|| fail("samconfig.toml has no [dev] environment".into()))?;
    let stack = dev
        .get("global")
        .and_then(|g| g.get("parameters"))
        .and_then(|p| p.get("stack_name"))
        .and_then(|s| s.as_str())
        .ok_or_else(|| fail("[dev.global.parameters] has no stack_name".into()))?;
    // The parameters `sam deploy --config-env dev` sends, resolved by the SAM CLI's own code
    // (samconfig.toml names params/dev.yaml). The inputs a user fills in there (network, roles,
    // secrets) are empty in the repository: the day's prerequisites give them instead.
    let sam_dir = crate::workspace_root().join("sam");
    let out = std::process::Command::new(crate::template::tool(".venv-sam", "python"))
        .arg(crate::workspace_root().join("tools/sam_params.py"))
        .arg(&sam_dir)
        .arg("dev")
        .output()
        .map_err(|e| fail(format!("cannot run tools/sam_params.py: {e}")))?;
    let resolved: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        fail(format!(
            "tools/sam_params.py did not resolve samconfig's dev parameters ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    let parameters: Vec<(String, String)> = resolved["parameters"]
        .as_object()
        .ok_or_else(|| fail(format!("tools/sam_params.py printed {resolved}")))?
        .iter()
        .filter_map(|(k, v)| {
            let v = v.as_str().unwrap_or_default();
            (!v.is_empty()).then(|| (k.clone(), v.to_string()))
        })
        .collect();
    let get = |name: &str| -> String {
        parameters
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                translated["Parameters"][name]["Default"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default()
    };
    let names = Names {
        stack: stack.to_string(),
        project: get("ProjectName"),
        environment: get("Environment"),
    };
    Ok((names, parameters))
}

/// Creates the alarms and the auto scaling the stack defines, which moto's CloudFormation
/// reports as created without creating: each from its resource's properties in the translated
/// template, intrinsic functions resolved against the stack. Returns what it created.
pub(super) fn create_what_cloudformation_skips(
    emu: &Emulator,
    translated: &Value,
    deployed: &DeployedStack,
) -> Result<Vec<String>, StepFailed> {
    let resolver = Resolver::new(emu, translated, deployed);
    let fail = |what: String| StepFailed {
        step: current_step(),
        what,
    };
    let resources = translated["Resources"]
        .as_object()
        .ok_or_else(|| fail("the translated template has no Resources".into()))?;
    let mut created = vec![];
    let mut targets: BTreeMap<&str, Value> = BTreeMap::new();
    for kind in [
        "AWS::CloudWatch::Alarm",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
    ] {
        for (id, r) in resources.iter().filter(|(_, r)| r["Type"] == kind) {
            if let Some(c) = r["Condition"].as_str() {
                if !resolver.condition(c).map_err(fail)? {
                    continue;
                }
            }
            let mut props = r["Properties"].clone();
            // CloudFormation's own link from a policy to its target: the API names the target.
            let target_id = props
                .as_object_mut()
                .and_then(|p| p.remove("ScalingTargetId"))
                .and_then(|t| t["Ref"].as_str().map(str::to_string))
                .unwrap_or_default();
            let props = resolver
                .resolve(&props)
                .map_err(|e| fail(format!("{id}: {e}")))?
                .unwrap_or_default();
            match kind {
                "AWS::CloudWatch::Alarm" => {
                    let mut params = vec![("Action".to_string(), "PutMetricAlarm".to_string())];
                    flatten_query("", &props, &mut params);
                    let refs: Vec<(&str, &str)> = params
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    emu.query("monitoring", "2010-08-01", &refs);
                    created.push(format!(
                        "alarm {}",
                        props["AlarmName"].as_str().unwrap_or(id)
                    ));
                }
                "AWS::ApplicationAutoScaling::ScalableTarget" => {
                    emu.json(
                        "application-autoscaling",
                        "AnyScaleFrontendService.RegisterScalableTarget",
                        &props,
                    );
                    created.push(format!(
                        "scalable target {} ({}..{})",
                        props["ResourceId"].as_str().unwrap_or(id),
                        props["MinCapacity"],
                        props["MaxCapacity"]
                    ));
                    // Application Auto Scaling raises a desired count below the minimum to it;
                    // moto's does not: done here, as AWS would.
                    if let (Some(resource), Some(min)) =
                        (props["ResourceId"].as_str(), props["MinCapacity"].as_f64())
                    {
                        if let Some((cluster, service)) = resource
                            .strip_prefix("service/")
                            .and_then(|r| r.split_once('/'))
                        {
                            emu.json(
                                "ecs",
                                "AmazonEC2ContainerServiceV20141113.UpdateService",
                                &json!({"cluster": cluster, "service": service,
                                        "desiredCount": min as i64}),
                            );
                        }
                    }
                    targets.insert(id.as_str(), props);
                }
                _ => {
                    let target = targets.get(target_id.as_str()).ok_or_else(|| {
                        fail(format!(
                            "{id}: its scalable target {target_id} was not created"
                        ))
                    })?;
                    let mut policy = props.clone();
                    if let Some(p) = policy.as_object_mut() {
                        for k in ["ServiceNamespace", "ResourceId", "ScalableDimension"] {
                            p.insert(k.into(), target[k].clone());
                        }
                    }
                    emu.json(
                        "application-autoscaling",
                        "AnyScaleFrontendService.PutScalingPolicy",
                        &policy,
                    );
                    created.push(format!(
                        "scaling policy {}",
                        props["PolicyName"].as_str().unwrap_or(id)
                    ));
                }
            }
        }
    }
    Ok(created)
}

/// Resolves the intrinsic functions the alarms and auto scaling resources use, against the
/// deployed stack's parameters and physical resource ids.
struct Resolver<'a> {
    template: &'a Value,
    parameters: BTreeMap<String, String>,
    physical: BTreeMap<String, String>,
}

impl<'a> Resolver<'a> {
    fn new(emu: &Emulator, template: &'a Value, deployed: &DeployedStack) -> Resolver<'a> {
        let mut parameters: BTreeMap<String, String> = template["Parameters"]
            .as_object()
            .map(|ps| {
                ps.iter()
                    .filter_map(|(k, p)| {
                        let d = &p["Default"];
                        let v = d
                            .as_str()
                            .map(str::to_string)
                            .or_else(|| (!d.is_null()).then(|| d.to_string()))?;
                        Some((k.clone(), v))
                    })
                    .collect()
            })
            .unwrap_or_default();
        parameters.extend(deployed.parameters.clone());
        let xml = emu.query(
            "cloudformation",
            "2010-05-15",
            &[
                ("Action", "DescribeStackResources"),
                ("StackName", &deployed.names.stack),
            ],
        );
        let mut physical = BTreeMap::new();
        for member in xml.split("<member>").skip(1) {
            if let (Some(l), Some(p)) = (
                xml_value(member, "LogicalResourceId"),
                xml_value(member, "PhysicalResourceId"),
            ) {
                physical.insert(l, p);
            }
        }
        Resolver {
            template,
            parameters,
            physical,
        }
    }

    fn condition(&self, name: &str) -> Result<bool, String> {
        let c = &self.template["Conditions"][name];
        if c.is_null() {
            return Err(format!("no condition {name}"));
        }
        self.truth(c)
    }

    fn truth(&self, e: &Value) -> Result<bool, String> {
        let Some((f, args)) = e.as_object().and_then(|o| o.iter().next()) else {
            return Ok(e == &json!(true) || e == "true");
        };
        let list = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
        match f.as_str() {
            "Condition" => self.condition(args.as_str().unwrap_or_default()),
            "Fn::Equals" => Ok(self.resolve(&list(0))? == self.resolve(&list(1))?),
            "Fn::Not" => Ok(!self.truth(&list(0))?),
            "Fn::And" => {
                for a in args.as_array().into_iter().flatten() {
                    if !self.truth(a)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            "Fn::Or" => {
                for a in args.as_array().into_iter().flatten() {
                    if self.truth(a)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            other => Err(format!(
                "a condition function the demo does not evaluate: {other}"
            )),
        }
    }

    /// The value, or `None` for `AWS::NoValue`.
    fn resolve(&self, v: &Value) -> Result<Option<Value>, String> {
        match v {
            Value::Array(items) => {
                let mut out = vec![];
                for i in items {
                    if let Some(r) = self.resolve(i)? {
                        out.push(r);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(o)
                if o.len() == 1 && o.keys().all(|k| k == "Ref" || k.starts_with("Fn::")) =>
            {
                let (f, args) = o.iter().next().ok_or("empty")?;
                self.function(f, args)
            }
            Value::Object(o) => {
                let mut out = serde_json::Map::new();
                for (k, v) in o {
                    if let Some(r) = self.resolve(v)? {
                        out.insert(k.clone(), r);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn function(&self, f: &str, args: &Value) -> Result<Option<Value>, String> {
        match f {
            "Ref" => {
                let name = args.as_str().ok_or("Ref of a non-string")?;
                if name == "AWS::NoValue" {
                    return Ok(None);
                }
                let value = self.reference(name)?;
                // A Number parameter is a number to the API.
                if self.template["Parameters"][name]["Type"] == "Number" {
                    if let Ok(n) = value.parse::<f64>() {
                        return Ok(Some(json!(n)));
                    }
                }
                Ok(Some(json!(value)))
            }
            "Fn::GetAtt" => {
                let (res, attr) = match args {
                    Value::Array(a) => (
                        a.first().and_then(Value::as_str).unwrap_or_default(),
                        a.get(1).and_then(Value::as_str).unwrap_or_default(),
                    ),
                    Value::String(s) => s.split_once('.').unwrap_or((s, "")),
                    _ => return Err("GetAtt of neither a list nor a string".into()),
                };
                self.attribute(res, attr).map(|v| Some(json!(v)))
            }
            "Fn::If" => {
                let cond = args[0].as_str().ok_or("Fn::If without a condition name")?;
                let branch = if self.condition(cond)? {
                    &args[1]
                } else {
                    &args[2]
                };
                self.resolve(branch)
            }
            "Fn::Sub" => {
                let (text, vars) = match args {
                    Value::String(s) => (s.as_str(), serde_json::Map::new()),
                    Value::Array(a) => (
                        a.first().and_then(Value::as_str).unwrap_or_default(),
                        a.get(1)
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default(),
                    ),
                    _ => return Err("Fn::Sub of neither a string nor a list".into()),
                };
                let mut out = String::new();
                let mut rest = text;
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let after = &rest[start + 2..];
                    let end = after.find('}').ok_or("an unclosed ${ in Fn::Sub")?;
                    let name = &after[..end];
                    if let Some(literal) = name.strip_prefix('!') {
                        out.push_str(&format!("${{{literal}}}"));
                    } else if let Some(v) = vars.get(name) {
                        let v = self.resolve(v)?.unwrap_or_default();
                        out.push_str(
                            v.as_str()
                                .map_or_else(|| v.to_string(), str::to_string)
                                .as_str(),
                        );
                    } else if let Some((res, attr)) = name.split_once('.') {
                        out.push_str(&self.attribute(res, attr)?);
                    } else {
                        out.push_str(&self.reference(name)?);
                    }
                    rest = &after[end + 1..];
                }
                out.push_str(rest);
                Ok(Some(json!(out)))
            }
            other => Err(format!(
                "an intrinsic function the demo does not resolve: {other}"
            )),
        }
    }

    fn reference(&self, name: &str) -> Result<String, String> {
        match name {
            "AWS::Region" => Ok(REGION.into()),
            "AWS::AccountId" => Ok(ACCOUNT.into()),
            "AWS::Partition" => Ok("aws".into()),
            _ => self
                .parameters
                .get(name)
                .or_else(|| self.physical.get(name))
                .cloned()
                .ok_or_else(|| {
                    format!("Ref {name}: neither a parameter nor a resource of the stack")
                }),
        }
    }

    fn attribute(&self, resource: &str, attr: &str) -> Result<String, String> {
        let id = self
            .physical
            .get(resource)
            .ok_or_else(|| format!("GetAtt {resource}.{attr}: no such resource in the stack"))?;
        match attr {
            // A service's ARN, a queue's URL: the name is the last part.
            "Name" | "QueueName" => Ok(id.rsplit('/').next().unwrap_or(id).to_string()),
            _ => Err(format!(
                "GetAtt {resource}.{attr}: an attribute the demo does not resolve"
            )),
        }
    }
}

/// A JSON object as Query-protocol parameters (`Dimensions.member.1.Name=...`).
fn flatten_query(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                flatten_query(&join(k), v, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_query(&format!("{prefix}.member.{}", i + 1), item, out);
            }
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Null => {}
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_flatten_lists_and_objects() {
        let mut out = vec![];
        flatten_query(
            "",
            &json!({"AlarmName": "a", "Threshold": 80, "Dimensions": [{"Name": "ClusterName", "Value": "c"}]}),
            &mut out,
        );
        out.sort();
        assert_eq!(
            out,
            [
                ("AlarmName".to_string(), "a".to_string()),
                ("Dimensions.member.1.Name".into(), "ClusterName".into()),
                ("Dimensions.member.1.Value".into(), "c".into()),
                ("Threshold".into(), "80".into()),
            ]
        );
    }
}
