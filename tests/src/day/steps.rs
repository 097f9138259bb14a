//! The day: the steps.

use super::*;

impl Day<'_> {
    /// A team's worker in the stack's cluster, opted in to off-hours by tag, kept awake tonight.
    pub(super) async fn worker_service(&mut self) -> Result<(), StepFailed> {
        self.begin("A second service joins the cluster");
        let (evening, _, _) = the_night(Utc::now());
        let until = (evening + Span::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let worker = self.worker.clone();
        self.stack
            .create_service(
                &worker,
                WORKER_DESIRED,
                &[
                    ("autopilot:off-hours", "enabled"),
                    ("autopilot:keep-awake-until", &until),
                ],
            )
            .await;
        self.stack
            .register_scalable_target_for(&worker, WORKER_BOUNDS.0, WORKER_BOUNDS.1)
            .await;
        self.say(&format!(
            "{worker}: created through ECS (a team's own service, outside the stack), {WORKER_DESIRED} tasks, \
             auto scaling {}..{}, tagged autopilot:off-hours=enabled and autopilot:keep-awake-until={until}",
            WORKER_BOUNDS.0, WORKER_BOUNDS.1
        ));
        self.observe().await;
        let desired = self.fact(&format!("service {worker}"), "desired count");
        self.check(
            "the worker runs",
            desired == WORKER_DESIRED.to_string(),
            desired,
        )?;
        self.end();
        Ok(())
    }

    /// An image pushed to the stack's repository is deployed.
    pub(super) async fn push_release(&mut self) -> Result<String, StepFailed> {
        self.begin("An image is pushed and deployed");
        let manifest = image_manifest();
        let image = self.put_image(&manifest, "v1.4.0")?;
        let digest = image["imageId"]["imageDigest"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.check(
            "ECR returned a digest",
            digest.starts_with("sha256:"),
            &image,
        )?;
        let event = self.push_event(&image);
        let results = self.deliver(&event, Some("deployer")).await?;
        let decisions = decisions(&results);
        self.check(
            "the deployer deployed it",
            decisions.iter().any(|d| d["action"] == "deploy"),
            json!(decisions),
        )?;
        self.observe().await;
        let service = format!("service {}", self.stack.service);
        let image_now = self.fact(&service, "image");
        self.check(
            "the service runs the pushed digest",
            image_now.ends_with(&format!("@{digest}")),
            &image_now,
        )?;
        self.check_chat("a deploy message reached chat", 1)?;
        self.end();
        Ok(digest)
    }

    /// ECS reports the deployment COMPLETED; the deployer says so in the deploy's thread.
    pub(super) async fn deployment_completes(&mut self) -> Result<(), StepFailed> {
        self.begin("The deployment completes");
        let Some(deployment) = self.stack.deployment_id().await else {
            return Err(self.failed("the service has no deployment".into()));
        };
        let mut event = sample_event("deployer/ecs-deployment-completed.json");
        let now = rfc3339(Utc::now());
        event["resources"] = json!([self.stack.service_arn]);
        event["detail"]["deploymentId"] = json!(deployment);
        event["detail"]["updatedAt"] = json!(now);
        self.say(&format!(
            "ECS: deployment {deployment} of {} is SERVICE_DEPLOYMENT_COMPLETED",
            self.stack.service
        ));
        let results = self.deliver(&event, Some("deployer")).await?;
        let outcome = results
            .first()
            .map(|r| r["deployment"]["outcome"].clone())
            .unwrap_or_default();
        self.check(
            "the deployer read it as completed",
            outcome == "completed",
            &outcome,
        )?;
        self.observe().await;
        self.check_chat("the completion reached chat", 1)?;
        let deploy_thread = self
            .record
            .step("An image is pushed")
            .and_then(|s| s.chat.first())
            .map(|n| n["metadata"]["threadId"].clone())
            .unwrap_or_default();
        let thread = self.step.chat[0]["metadata"]["threadId"].clone();
        self.check(
            "in the deploy's thread",
            thread == deploy_thread,
            format!("{thread} vs {deploy_thread}"),
        )?;
        self.end();
        Ok(())
    }

    /// The same image tagged `latest` is pushed: already running, nothing changes.
    pub(super) async fn same_digest_again(&mut self, digest: &str) -> Result<(), StepFailed> {
        self.begin("The same image is pushed under another tag");
        let image = self.put_image(&image_manifest(), "latest")?;
        let again = image["imageId"]["imageDigest"].as_str().unwrap_or_default();
        self.check("ECR gave the same digest", again == digest, again)?;
        let event = self.push_event(&image);
        let results = self.deliver(&event, Some("deployer")).await?;
        let decisions = decisions(&results);
        self.check(
            "the deployer skipped it",
            !decisions.is_empty() && decisions.iter().all(|d| d["action"] == "skip"),
            json!(decisions),
        )?;
        self.observe().await;
        self.check(
            "no revision was registered",
            self.step.changes.is_empty(),
            format!("{:?}", self.step.changes),
        )?;
        self.end();
        Ok(())
    }

    /// A task of the service is killed for memory; the task-watcher explains it.
    pub(super) async fn out_of_memory(&mut self) -> Result<(), StepFailed> {
        self.begin("A task is killed for memory");
        let task = self
            .stack
            .stopped_service_task("Essential container in task exited")
            .await;
        // moto's stopped tasks carry no stop code, exit code or container reason: those come
        // from the sample, shaped as ECS sends them ("Amazon ECS task state change events").
        self.say(&format!(
            "ECS: task {} stopped: container app exited 137 (OutOfMemoryError; the event's stop \
             code, exit code and reason are AWS's, which moto does not set)",
            short(&task)
        ));
        let mut event = sample_event("task-watcher/out-of-memory.json");
        let text = event
            .to_string()
            .replace(
                "cluster/autopilot-demo\"",
                &format!("cluster/{}\"", self.stack.cluster),
            )
            .replace(
                "task/autopilot-demo/",
                &format!("task/{}/", self.stack.cluster),
            )
            .replace(
                "\"service:web\"",
                &format!("\"service:{}\"", self.stack.service),
            );
        event = serde_json::from_str(&text).unwrap_or(event);
        event["time"] = json!(rfc3339(Utc::now()));
        event["resources"] = json!([task]);
        event["detail"]["taskArn"] = json!(task);
        event["detail"]["taskDefinitionArn"] = json!(self.stack.task_definition);
        if let Some(containers) = event["detail"]["containers"].as_array_mut() {
            for c in containers {
                c["taskArn"] = json!(task);
            }
        }
        let results = self.deliver(&event, Some("task-watcher")).await?;
        let cause = results
            .first()
            .map(|r| r["cause"].clone())
            .unwrap_or_default();
        self.check(
            "explained as out of memory",
            cause == "out-of-memory",
            &cause,
        )?;
        self.observe().await;
        self.check_chat("the explanation reached chat", 1)?;
        let said = self.step.chat[0].to_string();
        self.check(
            "it says what to do about memory",
            said.to_lowercase().contains("memory"),
            said,
        )?;
        self.end();
        Ok(())
    }

    /// The CPU alarm fires, then recovers: two messages in one thread.
    pub(super) async fn cpu_alarm(&mut self) -> Result<(), StepFailed> {
        self.begin("The CPU alarm fires");
        let alarm = format!(
            "{}-{}-cpu-high",
            self.deployed.names.project, self.deployed.names.environment
        );
        let reason = "Threshold Crossed: 3 out of the last 3 datapoints [97.1 (28/11/26 09:12:00), 93.4 (28/11/26 09:11:00), 91.8 (28/11/26 09:10:00)] were greater than the threshold (80.0) (minimum 3 datapoints for OK -> ALARM transition).";
        let event = self.alarm_event(&alarm, "ALARM", reason)?;
        let results = self.deliver(&event, Some("alarm-notifier")).await?;
        self.check(
            "the alarm-notifier published it",
            results.first().is_some_and(|r| r["published"] == true),
            json!(results),
        )?;
        self.observe().await;
        self.check_chat("the alarm reached chat", 1)?;
        let fired_thread = self.step.chat[0]["metadata"]["threadId"].clone();
        self.end();

        self.begin("The CPU alarm recovers");
        let reason = "Threshold Crossed: 3 out of the last 3 datapoints [41.2 (28/11/26 09:25:00), 44.0 (28/11/26 09:24:00), 52.5 (28/11/26 09:23:00)] were not greater than the threshold (80.0) (minimum 3 datapoints for ALARM -> OK transition).";
        let event = self.alarm_event(&alarm, "OK", reason)?;
        self.deliver(&event, Some("alarm-notifier")).await?;
        self.observe().await;
        self.check_chat("the recovery reached chat", 1)?;
        let thread = self.step.chat[0]["metadata"]["threadId"].clone();
        self.check(
            "in the alarm's thread",
            thread == fired_thread && thread.is_string(),
            format!("{thread} vs {fired_thread}"),
        )?;
        self.end();
        Ok(())
    }

    /// 19:00: the service sleeps with its alarms muted; the worker is kept awake.
    pub(super) async fn evening(&mut self, at: DateTime<Utc>) -> Result<(), StepFailed> {
        self.begin(&format!("{} 19:00: off-hours begin", at.format("%a %d %b")));
        self.tick(at).await?;
        let service = format!("service {}", self.stack.service);
        let desired = self.fact(&service, "desired count");
        self.check("the service sleeps", desired == "0", &desired)?;
        let bounds = self.fact(&service, "scaling bounds");
        self.check(
            "its auto scaling is held at zero",
            bounds == "0..0",
            &bounds,
        )?;
        let muted: Vec<String> = self
            .facts
            .iter()
            .filter(|(k, v)| k.ends_with(": actions") && v.as_str() == "disabled")
            .map(|(k, _)| k.clone())
            .collect();
        self.check(
            "its alarms are muted",
            muted.len() == 3,
            format!("{muted:?}"),
        )?;
        let worker = format!("service {}", self.worker);
        let kept = self.fact(&worker, "desired count");
        self.check(
            "the worker is kept awake",
            kept == WORKER_DESIRED.to_string(),
            &kept,
        )?;
        self.check_chat("the night reached chat", 1)?;
        self.end();
        Ok(())
    }

    /// 21:00: the worker's keep-awake tag has passed: it sleeps too.
    pub(super) async fn keep_awake_ends(&mut self, at: DateTime<Utc>) -> Result<(), StepFailed> {
        self.begin(&format!(
            "{} 21:00: the worker's keep-awake ends",
            at.format("%a %d %b")
        ));
        self.tick(at).await?;
        let worker = format!("service {}", self.worker);
        let desired = self.fact(&worker, "desired count");
        self.check("the worker sleeps", desired == "0", &desired)?;
        let bounds = self.fact(&worker, "scaling bounds");
        self.check(
            "its auto scaling is held at zero",
            bounds == "0..0",
            &bounds,
        )?;
        self.end();
        Ok(())
    }

    /// 07:00 the next working day: everything wakes as it was.
    pub(super) async fn morning(&mut self, at: DateTime<Utc>) -> Result<(), StepFailed> {
        self.begin(&format!("{} 07:00: on-hours again", at.format("%a %d %b")));
        self.tick(at).await?;
        let service = format!("service {}", self.stack.service);
        let min = &self.deployed.parameters["AutoscalingMinCapacity"];
        let max = &self.deployed.parameters["AutoscalingMaxCapacity"];
        for (fact, want) in [
            (self.fact(&service, "desired count"), "1".to_string()),
            (
                self.fact(&service, "scaling bounds"),
                format!("{min}..{max}"),
            ),
            (
                self.fact(&format!("service {}", self.worker), "desired count"),
                WORKER_DESIRED.to_string(),
            ),
            (
                self.fact(&format!("service {}", self.worker), "scaling bounds"),
                format!("{}..{}", WORKER_BOUNDS.0, WORKER_BOUNDS.1),
            ),
        ] {
            self.check(
                &format!("capacity restored exactly ({want})"),
                fact == want,
                &fact,
            )?;
        }
        let still_off: Vec<&String> = self
            .facts
            .iter()
            .filter(|(k, v)| {
                (k.ends_with(": actions") && v.as_str() == "disabled")
                    || k.contains(": tag autopilot:muted-by")
                    || k.contains(": tag autopilot:restore")
                    || k.contains(": tag autopilot:asleep-since")
            })
            .map(|(k, _)| k)
            .collect();
        self.check(
            "alarms on again, no sleep record left",
            still_off.is_empty(),
            format!("{still_off:?}"),
        )?;
        self.check_chat("the morning reached chat", 1)?;
        self.end();
        Ok(())
    }
}

impl Day<'_> {
    /// The next Monday: the weekly account reads back what the day's functions emitted (their
    /// EMF lines, put into the emulator's CloudWatch as Lambda's log pipeline would) and says
    /// the week in one message.
    pub(super) async fn weekly_account(&mut self) -> Result<(), StepFailed> {
        self.begin("A week on: the weekly account");
        let data = emf_data(&self.emf);
        self.say(&format!(
            "CloudWatch: PutMetricData of the day's {} EMF records ({} datapoints), as Lambda's log pipeline would",
            self.emf.len(),
            data.len()
        ));
        let cw = aws_sdk_cloudwatch::Client::new(&self.stack.sdk);
        for chunk in data.chunks(500) {
            cw.put_metric_data()
                .namespace(autopilot_core::metrics::NAMESPACE)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| self.failed(format!("PutMetricData: {e}")))?;
        }
        let now = Utc::now() + chrono::Duration::minutes(1);
        let event = serde_json::json!({"version": "0", "id": "weekly", "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "account": crate::emulator::ACCOUNT,
            "time": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "region": crate::emulator::REGION, "resources": [], "detail": {}});
        self.say("Scheduler: the weekly schedule fires -> weekly-account");
        let results = self.invoke("weekly-account", vec![event])?;
        self.observe().await;
        let this = &results[0]["thisWeek"];
        self.check(
            "the week counts the day's deploy",
            this["completed"].as_f64() == Some(1.0),
            this.to_string(),
        )?;
        self.check(
            "and its stop, by cause",
            this["stopsByCause"]["out-of-memory"].as_f64() == Some(1.0),
            this.to_string(),
        )?;
        let told = self
            .step
            .chat
            .iter()
            .any(|n| n.to_string().contains("weekly-account"));
        self.check("one message in the weekly thread", told, "")?;
        self.end();
        Ok(())
    }
}

/// EMF records as CloudWatch datapoints: each metric of a record under each of its dimension
/// sets, at the record's timestamp.
fn emf_data(records: &[Value]) -> Vec<aws_sdk_cloudwatch::types::MetricDatum> {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let mut out = vec![];
    for r in records {
        let ms = r["_aws"]["Timestamp"].as_i64().unwrap_or_default();
        for directive in r["_aws"]["CloudWatchMetrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                for m in directive["Metrics"].as_array().into_iter().flatten() {
                    let Some(name) = m["Name"].as_str() else {
                        continue;
                    };
                    let Some(value) = r[name].as_f64() else {
                        continue;
                    };
                    let mut d = MetricDatum::builder()
                        .metric_name(name)
                        .value(value)
                        .timestamp(aws_smithy_types::DateTime::from_millis(ms));
                    for key in set
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        d = d.dimensions(
                            Dimension::builder()
                                .name(key)
                                .value(r[key].as_str().unwrap_or_default())
                                .build(),
                        );
                    }
                    out.push(d.build());
                }
            }
        }
    }
    out
}
