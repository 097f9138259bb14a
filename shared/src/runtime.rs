//! The Lambda entry point every function shares: telemetry, configuration and clients once at
//! init, then the event loop. The only module that touches the Lambda runtime besides the
//! `Diagnostic` mapping of errors.
//!
//! Each invocation is bounded by the time Lambda gives it: it stops [`DEADLINE_RESERVE`] before
//! the deadline with a Retryable error naming the AWS call under way and the last AWS error,
//! instead of being killed with a bare "Task timed out". An SQS event (a rule's events queued
//! in a FIFO queue, read by an event source mapping with `ReportBatchItemFailures`) is taken
//! message by message, in order, and answered with the batch response Lambda reads.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};
use tokio::time::Instant;

use serde::Serialize;

use crate::aws::{CallLog, CallWatch, Watched};
use crate::error::{Error, Result};
use crate::events::{sqs_records, SqsRecord};
use crate::metrics::Metrics;

/// A function's handler: one event in, the JSON result out.
pub trait Handler: Send + Sync {
    fn handle(&self, event: Value) -> impl Future<Output = Result<Value>> + Send;
}

/// One job as every function runs it: parse the event, run it, count what it did. The
/// invocation around it is the same for all four ([`Handler`] for every `Job`): a fresh record
/// of the AWS calls, the job's metrics with `AwsCalls` on success, and the report as the
/// invocation's JSON result.
pub trait Job: Send + Sync {
    /// The function's name: its metrics' `function` dimension.
    const NAME: &'static str;
    /// The event, parsed and validated.
    type Event: Send;
    /// What an invocation returns.
    type Report: Serialize + Send;
    /// Parses and validates an event. Pure; a malformed event is a `BadEvent` naming the field.
    fn parse(&self, event: Value) -> Result<Self::Event>;
    /// Reads, plans, applies and notifies.
    fn run(&self, event: Self::Event) -> impl Future<Output = Result<Self::Report>> + Send;
    /// What the invocation counts, beside `AwsCalls`.
    fn metrics(report: &Self::Report, metrics: Metrics) -> Metrics;
    /// The record of the AWS calls the job's clients make.
    fn calls(&self) -> &CallLog;
}

impl<J: Job> Handler for J {
    async fn handle(&self, event: Value) -> Result<Value> {
        let (result, calls) = self
            .calls()
            .around(async { self.run(self.parse(event)?).await })
            .await;
        let report = result?;
        J::metrics(
            &report,
            Metrics::new(&crate::metrics::function_dimension(J::NAME)),
        )
        .count(&crate::metrics::catalogue::AWS_CALLS, calls.len())
        .emit();
        serde_json::to_value(&report)
            .map_err(|e| Error::invariant(format!("the {} report is not JSON: {e}", J::NAME)))
    }
}

/// How long before Lambda's deadline an invocation stops: time to log why and to post the
/// error to the Runtime API before Lambda ends the process.
pub const DEADLINE_RESERVE: Duration = Duration::from_millis(1000);

/// Builds the handler once (a configuration error stops the function at init, naming the
/// variable), then serves invocations until the runtime stops.
pub async fn start<H, B>(build: B) -> std::result::Result<(), lambda_runtime::Error>
where
    H: Handler,
    B: FnOnce(&SdkConfig) -> Result<H>,
{
    crate::telemetry::init();
    let handler = async { build(&crate::aws::load_sdk_config().await?) }
        .await
        .inspect_err(|e| tracing::error!(error = %e, "initialisation failed"))?;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let stop = stop_at(event.context.deadline, SystemTime::now());
        invoke(handler, event.payload, stop).await.map_err(|e| {
            tracing::error!(error = ?e, error_type = e.error_type(), "invocation failed");
            Diagnostic::from(e)
        })
    }))
    .await
}

/// When an invocation must stop: [`DEADLINE_RESERVE`] before the deadline Lambda gives
/// (milliseconds since the epoch), on tokio's clock. `None` when there is no deadline (0, as in
/// `Context::default()`).
pub fn stop_at(deadline_ms: u64, now: SystemTime) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = deadline.duration_since(now).unwrap_or(Duration::ZERO);
    Some(Instant::now() + left.saturating_sub(DEADLINE_RESERVE))
}

/// One invocation: an SQS event message by message, anything else as one event; all of it
/// done by `stop`.
///
/// A batch in which no message was handled fails the invocation with its first message's
/// error, rather than answering that every message failed: Lambda then returns them all to the
/// queue just the same, and counts the invocation in the function's `Errors` metric, which the
/// stack's errors alarm watches (a batch response of failures counts as a success there). With
/// the template's batch size of 1, every failed message fails its invocation.
pub async fn invoke<H: Handler>(handler: &H, event: Value, stop: Option<Instant>) -> Result<Value> {
    match sqs_records(&event) {
        None => handle_one(handler, event, stop).await,
        Some(records) => match handle_batch(handler, &records?, stop).await {
            (_, Some(first_error), 0) => Err(first_error),
            (response, _, _) => Ok(response),
        },
    }
}

/// One event, under its own call watch, cut off at `stop` with the watch's account of it.
async fn handle_one<H: Handler>(handler: &H, event: Value, stop: Option<Instant>) -> Result<Value> {
    let watch = CallWatch::default();
    // Boxed: the handlers' futures nest the SDK's deeply, and erasing the type here keeps the
    // binary's future within the compiler's layout depth limit.
    let work: Pin<Box<dyn Future<Output = Result<Value>> + Send + '_>> =
        Box::pin(watch.watch(handler.handle(event)));
    let Some(stop) = stop else {
        return work.await;
    };
    if Instant::now() >= stop {
        return Err(out_of_time(Watched::default()));
    }
    match tokio::time::timeout_at(stop, work).await {
        Ok(result) => result,
        Err(_) => {
            let error = out_of_time(watch.seen());
            tracing::error!(error = %error, "stopped before the Lambda deadline");
            Err(error)
        }
    }
}

fn out_of_time(seen: Watched) -> Error {
    Error::OutOfTime {
        reserve_ms: DEADLINE_RESERVE.as_millis(),
        calls: seen.calls,
        in_flight: seen.in_flight,
        last_error: seen.last_error,
    }
}

/// The messages of an SQS batch, in order, each body handed to the handler as the event it
/// carries. A failed message is reported in `batchItemFailures` (it returns to the queue, and
/// after the queue's `maxReceiveCount` goes to its dead-letter queue); on a FIFO queue every
/// later message is reported too, unhandled, so the order holds. `records` carries each
/// message's result (its plan) or error.
///
/// Returns the batch response, the first message's error if any, and how many were handled.
async fn handle_batch<H: Handler>(
    handler: &H,
    records: &[SqsRecord],
    stop: Option<Instant>,
) -> (Value, Option<Error>, usize) {
    let fifo = records.iter().any(SqsRecord::is_fifo);
    let mut failures: Vec<Value> = vec![];
    let mut results: Vec<Value> = vec![];
    let mut first_error: Option<Error> = None;
    let mut handled = 0;
    for record in records {
        let id = record.message_id.as_str();
        if fifo && !failures.is_empty() {
            tracing::warn!(
                message_id = id,
                "not handled: an earlier message of this FIFO batch failed"
            );
            results.push(json!({
                "messageId": id,
                "skipped": "an earlier message of this FIFO batch failed",
            }));
            failures.push(json!({ "itemIdentifier": id }));
            continue;
        }
        let outcome = match record.event() {
            Ok(event) => handle_one(handler, event, stop).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(result) => {
                tracing::info!(message_id = id, "message handled");
                handled += 1;
                results.push(json!({ "messageId": id, "result": result }));
            }
            Err(e) => {
                tracing::error!(message_id = id, error = ?e, error_type = e.error_type(), "message failed");
                results.push(json!({
                    "messageId": id,
                    "error": e.to_string(),
                    "errorType": e.error_type(),
                }));
                failures.push(json!({ "itemIdentifier": id }));
                first_error.get_or_insert(e);
            }
        }
    }
    (
        json!({ "batchItemFailures": failures, "records": results }),
        first_error,
        handled,
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::aws::fake_http::{ecs_client, Scripted};

    /// A handler that records the events it is given and fails those marked `"fail": true`.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Value>>);

    impl Handler for Recorder {
        async fn handle(&self, event: Value) -> Result<Value> {
            let n = {
                let mut seen = self.0.lock().unwrap();
                seen.push(event.clone());
                seen.len()
            };
            if event["fail"] == true {
                return Err(Error::bad_event("detail: marked to fail"));
            }
            Ok(json!({ "plan": n }))
        }
    }

    impl Recorder {
        fn seen(&self) -> Vec<Value> {
            self.0.lock().unwrap().clone()
        }
    }

    /// A job that counts the `n` its events carry, with its own call record.
    #[derive(Default)]
    struct Counter {
        calls: CallLog,
        runs: Mutex<usize>,
    }

    #[derive(Serialize)]
    struct Counted {
        n: usize,
    }

    impl Job for Counter {
        const NAME: &'static str = "counter";
        type Event = usize;
        type Report = Counted;

        fn parse(&self, event: Value) -> Result<usize> {
            event["n"]
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| Error::bad_event("n: must be a count"))
        }

        async fn run(&self, n: usize) -> Result<Counted> {
            *self.runs.lock().unwrap() += 1;
            self.calls.record("ECS.DescribeServices".into());
            Ok(Counted { n })
        }

        fn metrics(report: &Counted, metrics: Metrics) -> Metrics {
            metrics.count(&crate::metrics::Metric::count("Counted"), report.n)
        }

        fn calls(&self) -> &CallLog {
            &self.calls
        }
    }

    #[tokio::test]
    async fn a_job_answers_with_its_report_on_a_fresh_call_record() {
        let job = Counter::default();
        job.calls
            .record("left over from the last invocation".into());
        let answer = job.handle(json!({"n": 3})).await.expect("handled");
        assert_eq!(answer, json!({"n": 3}));
        assert_eq!(job.calls.snapshot(), vec!["ECS.DescribeServices"]);
    }

    #[tokio::test]
    async fn a_job_whose_event_does_not_parse_never_runs() {
        let job = Counter::default();
        let error = job
            .handle(json!({"n": "three"}))
            .await
            .expect_err("bad event");
        assert!(error.to_string().contains("n: must be a count"), "{error}");
        assert_eq!(*job.runs.lock().unwrap(), 0);
    }

    fn message(id: &str, body: &str, queue: &str) -> Value {
        json!({
            "messageId": id, "receiptHandle": "rh", "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
            "md5OfBody": "x", "eventSource": "aws:sqs",
            "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}"),
            "awsRegion": "us-east-1"
        })
    }

    fn batch(queue: &str, bodies: &[(&str, Value)]) -> Value {
        let records: Vec<Value> = bodies
            .iter()
            .map(|(id, body)| message(id, &body.to_string(), queue))
            .collect();
        json!({ "Records": records })
    }

    fn failed_ids(response: &Value) -> Vec<&str> {
        response["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn an_sqs_batch_hands_each_body_to_the_handler_in_order_and_shows_each_plan() {
        let handler = Recorder::default();
        let event = batch(
            "q.fifo",
            &[("m-1", json!({"n": 1})), ("m-2", json!({"n": 2}))],
        );
        let response = invoke(&handler, event, None).await.unwrap();
        assert_eq!(handler.seen(), vec![json!({"n": 1}), json!({"n": 2})]);
        assert_eq!(response["batchItemFailures"], json!([]));
        assert_eq!(
            response["records"][0],
            json!({"messageId": "m-1", "result": {"plan": 1}})
        );
        assert_eq!(
            response["records"][1],
            json!({"messageId": "m-2", "result": {"plan": 2}})
        );
    }

    #[tokio::test]
    async fn a_failed_fifo_message_is_reported_with_every_later_one_left_unhandled() {
        let handler = Recorder::default();
        let event = batch(
            "deployer.fifo",
            &[
                ("m-1", json!({"n": 1})),
                ("m-2", json!({"n": 2, "fail": true})),
                ("m-3", json!({"n": 3})),
            ],
        );
        let response = invoke(&handler, event, None).await.unwrap();
        assert_eq!(failed_ids(&response), ["m-2", "m-3"]);
        assert_eq!(
            handler.seen().len(),
            2,
            "m-3 is not handled before m-2 succeeds"
        );
        assert_eq!(response["records"][1]["errorType"], "NonRetryable");
        assert!(response["records"][2]["skipped"].is_string(), "{response}");
    }

    #[tokio::test]
    async fn on_a_standard_queue_only_the_failed_message_is_reported() {
        let handler = Recorder::default();
        let event = batch(
            "queue",
            &[("m-1", json!({"fail": true})), ("m-2", json!({"n": 2}))],
        );
        let response = invoke(&handler, event, None).await.unwrap();
        assert_eq!(failed_ids(&response), ["m-1"]);
        assert_eq!(handler.seen().len(), 2);
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_non_retryable_failure_naming_the_message() {
        let handler = Recorder::default();
        let event = json!({ "Records": [
            message("m-1", "<html>not an event</html>", "q.fifo"),
            message("m-2", "{}", "q.fifo"),
        ]});
        // Nothing handled: the invocation fails with the first message's error.
        let error = invoke(&handler, event, None).await.unwrap_err();
        assert!(handler.seen().is_empty());
        assert_eq!(error.error_type(), "NonRetryable");
        let error = error.to_string();
        assert!(
            error.contains("m-1") && error.contains("not a JSON event"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_single_failed_message_fails_its_invocation_so_the_errors_metric_counts_it() {
        // The template's batch size is 1: a batch response of failures would be a successful
        // invocation, invisible to the function's Errors metric and its alarm.
        let handler = Recorder::default();
        let event = batch("q.fifo", &[("m-1", json!({"fail": true}))]);
        let error = invoke(&handler, event, None).await.unwrap_err();
        assert_eq!(error.error_type(), "NonRetryable");
        assert!(error.to_string().contains("marked to fail"), "{error}");
    }

    #[tokio::test]
    async fn other_events_pass_through_and_a_malformed_sqs_event_is_rejected() {
        let handler = Recorder::default();
        let eventbridge = json!({"detail-type": "ECR Image Action", "detail": {}});
        assert_eq!(
            invoke(&handler, eventbridge.clone(), None).await.unwrap(),
            json!({"plan": 1})
        );
        let sns = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{}"}}]});
        invoke(&handler, sns.clone(), None).await.unwrap();
        assert_eq!(handler.seen(), vec![eventbridge, sns]);

        let no_id = json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]});
        let e = invoke(&handler, no_id, None).await.unwrap_err();
        assert_eq!(e.error_type(), "NonRetryable");
        assert!(e.to_string().contains("messageId"), "{e}");
    }

    #[test]
    fn the_stop_is_the_reserve_before_the_deadline() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let deadline_ms = 1_800_000_000_000 + 30_000;
        let stop = stop_at(deadline_ms, now).unwrap();
        let left = stop - Instant::now();
        assert!(
            left <= Duration::from_secs(29) && left > Duration::from_millis(28_900),
            "{left:?}"
        );
        assert!(stop_at(0, now).is_none(), "no deadline: no bound");
        let past = stop_at(1_000, now).unwrap();
        assert!(past <= Instant::now());
    }

    /// A handler whose one port reads services from ECS through the SDK, as the functions do.
    struct ReadsEcs(aws_sdk_ecs::Client);

    impl Handler for ReadsEcs {
        async fn handle(&self, _event: Value) -> Result<Value> {
            crate::aws::ecs::describe_services(&self.0, "prod", &["web".to_string()]).await?;
            Ok(json!({"done": true}))
        }
    }

    /// ECS throttles the first attempt, then never answers: the SDK's own bounds (5 s attempts,
    /// 20 s operation) would outlive the function; the invocation stops at its stop (the
    /// deadline less the reserve) and says which call hung and what AWS said before.
    #[tokio::test(start_paused = true)]
    async fn an_invocation_stops_before_its_deadline_naming_the_call_in_flight_and_the_last_error()
    {
        let http = Scripted::new(vec![(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string(),
        )]);
        let handler = ReadsEcs(ecs_client(&http));
        let begin = Instant::now();
        // Inside the second attempt's 5 s (the first was throttled at once; the retry waits at
        // most about a second).
        let stop = begin + Duration::from_secs(4);
        let e = invoke(&handler, json!({}), Some(stop)).await.unwrap_err();
        assert_eq!(
            begin.elapsed(),
            Duration::from_secs(4),
            "stopped at the stop, not later"
        );
        assert_eq!(
            (e.code(), e.error_type()),
            ("OutOfTime", "Retryable"),
            "{e:?}"
        );
        let Error::OutOfTime {
            in_flight,
            last_error,
            calls,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(in_flight, &["ECS.DescribeServices"]);
        assert_eq!(*calls, 1);
        let last = last_error.as_deref().unwrap_or_default();
        assert!(
            last.starts_with("ECS.DescribeServices: HTTP 400")
                && last.contains("ThrottlingException"),
            "{last}"
        );
        assert_eq!(http.requests(), 2, "throttled, then retried");
        let message = e.to_string();
        assert!(message.contains("ECS.DescribeServices"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_out_of_time_reports_the_message_it_was_on_and_the_rest() {
        let http = Scripted::new(vec![]);
        let handler = ReadsEcs(ecs_client(&http));
        let stop = Instant::now() + Duration::from_secs(3);
        let event = batch("q.fifo", &[("m-1", json!({})), ("m-2", json!({}))]);
        // Nothing handled: the invocation fails with the first message's error.
        let error = invoke(&handler, event, Some(stop)).await.unwrap_err();
        assert_eq!(error.error_type(), "Retryable");
        let error = error.to_string();
        assert!(error.contains("in flight: ECS.DescribeServices"), "{error}");
    }
}
