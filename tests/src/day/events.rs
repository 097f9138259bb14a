//! The day: events in, functions run.

use super::*;

impl Day<'_> {
    /// `PutImage` of a manifest into the stack's repository; returns ECR's `image`.
    pub(super) fn put_image(&mut self, manifest: &str, tag: &str) -> Result<Value, StepFailed> {
        let put = self.emu.json(
            "ecr",
            "AmazonEC2ContainerRegistry_V20150921.PutImage",
            &json!({"repositoryName": self.repository, "imageManifest": manifest, "imageTag": tag,
                    "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json"}),
        );
        let image = put["image"].clone();
        self.say(&format!(
            "ECR: PutImage {}:{tag} -> {}",
            self.repository,
            image["imageId"]["imageDigest"].as_str().unwrap_or("?")
        ));
        if image.is_null() {
            return Err(self.failed(format!("PutImage returned no image: {put}")));
        }
        Ok(image)
    }

    /// The `ECR Image Action` event ECR sends for a pushed image (EventBridge, "Amazon ECR
    /// events and EventBridge").
    pub(super) fn push_event(&self, image: &Value) -> Value {
        let mut event = sample_event("deployer/ecr-push-release-tag.json");
        let detail = &mut event["detail"];
        detail["repository-name"] = image["repositoryName"].clone();
        detail["image-digest"] = image["imageId"]["imageDigest"].clone();
        detail["image-tag"] = image["imageId"]["imageTag"].clone();
        event
    }

    /// The `CloudWatch Alarm State Change` event for a state set on one of the stack's alarms,
    /// built from the alarm as DescribeAlarms gives it after `SetAlarmState`.
    pub(super) fn alarm_event(
        &mut self,
        alarm: &str,
        state: &str,
        reason: &str,
    ) -> Result<Value, StepFailed> {
        let reason_data = json!({"version": "1.0", "queryDate": rfc3339(Utc::now()),
            "statistic": "Average", "period": 60, "threshold": 80.0,
            "recentDatapoints": if state == "ALARM" { json!([91.8, 93.4, 97.1]) } else { json!([52.5, 44.0, 41.2]) },
            "evaluatedDatapoints": []});
        let before = self.emu.query(
            "monitoring",
            "2010-08-01",
            &[("Action", "DescribeAlarms"), ("AlarmNames.member.1", alarm)],
        );
        self.emu.query(
            "monitoring",
            "2010-08-01",
            &[
                ("Action", "SetAlarmState"),
                ("AlarmName", alarm),
                ("StateValue", state),
                ("StateReason", reason),
                ("StateReasonData", &reason_data.to_string()),
            ],
        );
        let described = self.emu.query(
            "monitoring",
            "2010-08-01",
            &[("Action", "DescribeAlarms"), ("AlarmNames.member.1", alarm)],
        );
        let arn = xml_value(&described, "AlarmArn").unwrap_or_default();
        let now_state = xml_value(&described, "StateValue").unwrap_or_default();
        self.say(&format!("CloudWatch: SetAlarmState {alarm} -> {now_state}"));
        if now_state != state {
            return Err(self.failed(format!("{alarm} is {now_state:?}, not {state}")));
        }
        let sample = if state == "ALARM" {
            "alarm-notifier/cpu-alarm.json"
        } else {
            "alarm-notifier/cpu-ok.json"
        };
        let mut event = sample_event(sample);
        let previous = xml_value(&before, "StateValue").unwrap_or_default();
        let since = xml_value(&before, "StateUpdatedTimestamp")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map_or_else(|| rfc3339(Utc::now()), |t| rfc3339(t.with_timezone(&Utc)));
        let now = rfc3339(Utc::now());
        event["time"] = json!(now);
        event["resources"] = json!([arn]);
        let d = &mut event["detail"];
        d["alarmName"] = json!(alarm);
        d["state"]["value"] = json!(state);
        d["state"]["reason"] = json!(reason);
        d["state"]["reasonData"] = json!(reason_data.to_string());
        d["state"]["timestamp"] = json!(now);
        d["previousState"]["value"] = json!(previous);
        d["previousState"]["timestamp"] = json!(since);
        if let Some(metrics) = d["configuration"]["metrics"].as_array_mut() {
            for m in metrics {
                m["metricStat"]["metric"]["dimensions"] = json!({
                    "ClusterName": self.stack.cluster, "ServiceName": self.stack.service});
            }
        }
        Ok(event)
    }

    /// Puts an event on the default bus, runs each function whose rule delivered it to its
    /// queue, and returns their results; fails unless exactly `expected` got it.
    pub(super) async fn deliver(
        &mut self,
        event: &Value,
        expected: Option<&'static str>,
    ) -> Result<Vec<Value>, StepFailed> {
        let time = event["time"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(|| Utc::now().timestamp(), |t| t.timestamp());
        let put = self.emu.json(
            "events",
            "AWSEvents.PutEvents",
            &json!({"Entries": [{"Source": event["source"], "DetailType": event["detail-type"],
                    "Detail": event["detail"].to_string(), "Resources": event["resources"],
                    "Time": time}]}),
        );
        if put["FailedEntryCount"] != 0 {
            return Err(self.failed(format!("PutEvents refused the event: {put}")));
        }
        let mut got: Vec<(&'static str, String, Vec<Value>)> = vec![];
        for route in &self.routes {
            let mut events = drain(&self.stack, &route.queue_url).await;
            if let Some(queue) = &route.fifo {
                // What Lambda's poller hands the function: one message per invocation.
                events = events
                    .iter()
                    .map(|e| template::sqs_event(queue, route.binary, &e.to_string()))
                    .collect();
            }
            if !events.is_empty() {
                got.push((route.binary, route.rule.clone(), events));
            }
        }
        let reached: Vec<&str> = got.iter().map(|(b, _, _)| *b).collect();
        if reached != expected.into_iter().collect::<Vec<_>>() {
            return Err(self.failed(format!(
                "the {} event reached {reached:?} through the stack's rules, expected {expected:?}",
                event["detail-type"]
            )));
        }
        let mut results = vec![];
        for (binary, rule, events) in got {
            self.say(&format!("EventBridge: rule {rule} matched -> {binary}"));
            results.extend(self.invoke(binary, events)?);
        }
        Ok(results)
    }

    /// The off-hours schedule fires at `at`: checks that its expression fires then, and
    /// delivers the Scheduled Event as EventBridge sends it.
    pub(super) async fn tick(&mut self, at: DateTime<Utc>) -> Result<(), StepFailed> {
        let (rule, expression) = self.schedule.clone();
        if !cron_fires(&expression, at) {
            return Err(self.failed(format!(
                "the schedule {expression} of rule {rule} does not fire at {at}"
            )));
        }
        let mut event = sample_event("off-hours/scheduled-event.json");
        event["time"] = json!(rfc3339(at));
        event["resources"] = json!([format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}")]);
        self.say(&format!(
            "EventBridge: rule {rule} ({expression}) fires at {} -> off-hours",
            rfc3339(at)
        ));
        if let Some(queue) = &self.schedule_fifo {
            event = template::sqs_event(queue, "off-hours", &event.to_string());
        }
        self.invoke("off-hours", vec![event])?;
        self.observe().await;
        Ok(())
    }

    /// Runs a release binary as Lambda runs it, once per event; fails on an error result.
    pub(super) fn invoke(
        &mut self,
        binary: &'static str,
        events: Vec<Value>,
    ) -> Result<Vec<Value>, StepFailed> {
        let n = events.len();
        let env = self.env.get(binary).cloned().unwrap_or_default();
        let run = run_function(
            &release_binary(binary),
            &self.deployed.names.function(binary),
            &env,
            events,
            Duration::from_secs(60),
        );
        self.step.ran.push((binary.to_string(), n));
        self.emf.extend(
            run.output
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
                .filter(|v| v.get("_aws").is_some()),
        );
        let mut results = vec![];
        for inv in &run.invocations {
            match inv {
                // An SQS event's answer: the batch response Lambda reads, and each message's
                // result or error.
                Invocation::Ok(v) if v.get("batchItemFailures").is_some() => {
                    for record in v["records"].as_array().into_iter().flatten() {
                        if let Some(result) = record.get("result") {
                            self.say(&format!("{binary}: {}", summary(binary, result)));
                            results.push(result.clone());
                        } else {
                            return Err(self.failed(format!(
                                "{binary} failed on message {}: {} {}\n{}",
                                record["messageId"],
                                record["errorType"],
                                record["error"],
                                run.output
                            )));
                        }
                    }
                }
                Invocation::Ok(v) => {
                    self.say(&format!("{binary}: {}", summary(binary, v)));
                    results.push(v.clone());
                }
                Invocation::Err(e) => {
                    return Err(self.failed(format!(
                        "{binary} failed: {} {}\n{}",
                        e["errorType"], e["errorMessage"], run.output
                    )))
                }
            }
        }
        if results.len() != n {
            return Err(self.failed(format!(
                "{binary} answered {} of {n} events{}\n{}",
                results.len(),
                run.init_error
                    .map(|e| format!(" (init error {e})"))
                    .unwrap_or_default(),
                run.output
            )));
        }
        self.step.results.extend(results.iter().cloned());
        Ok(results)
    }
}
