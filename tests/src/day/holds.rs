//! The day: what the emulator holds.

use super::*;

impl Day<'_> {
    /// What a person would look at: each service's revision, image, desired count, scaling
    /// bounds and `autopilot:` tags; each of the stack's alarms' state, actions and tags.
    pub(super) async fn facts(&self) -> BTreeMap<String, String> {
        let mut facts = BTreeMap::new();
        let autoscaling = aws_sdk_applicationautoscaling::Client::new(&self.stack.sdk);
        for name in [self.stack.service.clone(), self.worker.clone()] {
            let Ok(out) = self
                .stack
                .ecs
                .describe_services()
                .cluster(&self.stack.cluster)
                .services(&name)
                .include(aws_sdk_ecs::types::ServiceField::Tags)
                .send()
                .await
            else {
                continue;
            };
            let Some(s) = out.services().first() else {
                continue;
            };
            let key = |what: &str| format!("service {name}: {what}");
            let td = s.task_definition().unwrap_or_default().to_string();
            facts.insert(key("revision"), td.rsplit('/').next().unwrap_or("").into());
            if let Ok(d) = self
                .stack
                .ecs
                .describe_task_definition()
                .task_definition(&td)
                .send()
                .await
            {
                let image = d
                    .task_definition()
                    .and_then(|t| t.container_definitions().first())
                    .and_then(|c| c.image())
                    .unwrap_or_default();
                facts.insert(key("image"), image.to_string());
            }
            facts.insert(key("desired count"), s.desired_count().to_string());
            for t in s.tags() {
                let k = t.key().unwrap_or_default();
                if k.starts_with("autopilot:") {
                    facts.insert(
                        key(&format!("tag {k}")),
                        t.value().unwrap_or_default().into(),
                    );
                }
            }
            let bounds = autoscaling
                .describe_scalable_targets()
                .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
                .resource_ids(format!("service/{}/{name}", self.stack.cluster))
                .send()
                .await
                .ok()
                .and_then(|o| {
                    o.scalable_targets()
                        .first()
                        .map(|t| format!("{}..{}", t.min_capacity(), t.max_capacity()))
                })
                .unwrap_or_else(|| "none".into());
            facts.insert(key("scaling bounds"), bounds);
        }
        let prefix = format!(
            "{}-{}-",
            self.deployed.names.project, self.deployed.names.environment
        );
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&self.stack.sdk);
        if let Ok(alarms) = cloudwatch
            .describe_alarms()
            .alarm_name_prefix(&prefix)
            .send()
            .await
        {
            for a in alarms.metric_alarms() {
                let name = a.alarm_name().unwrap_or_default();
                let key = |what: &str| format!("alarm {name}: {what}");
                facts.insert(
                    key("state"),
                    a.state_value()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                );
                facts.insert(
                    key("actions"),
                    if a.actions_enabled() == Some(false) {
                        "disabled"
                    } else {
                        "enabled"
                    }
                    .into(),
                );
                if let Ok(tags) = cloudwatch
                    .list_tags_for_resource()
                    .resource_arn(a.alarm_arn().unwrap_or_default())
                    .send()
                    .await
                {
                    for t in tags.tags() {
                        let k = t.key().unwrap_or_default();
                        if k.starts_with("autopilot:") {
                            facts.insert(
                                key(&format!("tag {k}")),
                                t.value().unwrap_or_default().to_string(),
                            );
                        }
                    }
                }
            }
        }
        facts
    }

    /// Reads the emulator again and the chat queue; says what changed and what reached chat.
    pub(super) async fn observe(&mut self) {
        let now = self.facts().await;
        let keys: BTreeSet<&String> = self.facts.keys().chain(now.keys()).collect();
        let mut changes = vec![];
        for k in keys {
            let before = self.facts.get(k).cloned().unwrap_or_else(|| "-".into());
            let after = now.get(k).cloned().unwrap_or_else(|| "-".into());
            if before != after {
                changes.push((k.clone(), before, after));
            }
        }
        if !changes.is_empty() {
            self.say("changed:");
            for (k, before, after) in &changes {
                self.say(&format!("  {k}: {before} -> {after}"));
            }
        }
        self.step.changes.extend(changes);
        self.facts = now;
        let chat = self.stack.notifications().await;
        for n in &chat {
            for line in chat_lines(n) {
                self.say(&line);
            }
        }
        self.step.chat.extend(chat);
    }

    pub(super) fn fact(&self, subject: &str, what: &str) -> String {
        self.facts
            .get(&format!("{subject}: {what}"))
            .cloned()
            .unwrap_or_else(|| "-".into())
    }
}
