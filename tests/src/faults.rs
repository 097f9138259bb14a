//! A fault-injecting proxy between the functions and the emulator. Point a function's
//! `AWS_ENDPOINT_URL` (or an in-process client's endpoint) at [`FaultProxy::url`]: every request
//! is forwarded to the emulator, except those a [`Rule`] catches, which get a real-shaped AWS
//! error instead (the emulator never sees them), or are forwarded and then answered too late.
//! Every request is recorded by operation (`ECS.UpdateService`, named as the core's call log
//! names them), with whether it reached the emulator and what it answered.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// What a caught request gets.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// HTTP 400 `ThrottlingException` (JSON services) or `Throttling` (query services).
    Throttle,
    /// HTTP 500 with the service's internal error code.
    Http500,
    /// HTTP 503 `ServiceUnavailable`.
    Http503,
    /// The connection is closed without an answer.
    Reset,
    /// Forwarded (the emulator acts on it), answered only after this delay: a response lost
    /// to a timeout after the work was done.
    Delay(Duration),
    /// HTTP 400 `AccessDeniedException` / `AccessDenied`, AWS's message naming the action.
    AccessDenied,
    /// HTTP 400: the resource the call names does not exist (the service's own code).
    NotFound,
    /// Answered by the proxy with this status and body, not forwarded: an operation the
    /// emulator lacks, answered as the API reference shapes its response.
    Answer(u16, String),
}

/// Which requests a rule catches, and what they get.
#[derive(Clone, Debug)]
pub struct Rule {
    /// `ECS.UpdateService`, or `UpdateService` for any service; `None` for every operation.
    pub operation: Option<String>,
    /// Catch from the nth matching request on (1-based).
    pub from: usize,
    /// How many matching requests to catch (`usize::MAX`: all).
    pub times: usize,
    /// Catch a matching request with this probability (drawn from the proxy's seeded generator).
    pub probability: Option<f64>,
    /// Catch only requests whose body contains this text (e.g. `"service":"web"`), so a rule
    /// can name one target whatever order concurrent calls reach the wire in.
    pub body_contains: Option<String>,
    pub fault: Fault,
    seen: usize,
    caught: usize,
}

impl Rule {
    /// Catches the first request of `operation` with `fault`.
    pub fn once(operation: &str, fault: Fault) -> Rule {
        Rule::times(operation, fault, 1)
    }

    /// Catches the first `times` requests of `operation` with `fault`.
    pub fn times(operation: &str, fault: Fault, times: usize) -> Rule {
        Rule {
            operation: Some(operation.to_string()),
            from: 1,
            times,
            probability: None,
            body_contains: None,
            fault,
            seen: 0,
            caught: 0,
        }
    }

    /// Catches every request of `operation`.
    pub fn always(operation: &str, fault: Fault) -> Rule {
        Rule::times(operation, fault, usize::MAX)
    }

    /// Catches any request with probability `p`.
    pub fn randomly(p: f64, fault: Fault) -> Rule {
        Rule {
            operation: None,
            from: 1,
            times: usize::MAX,
            probability: Some(p),
            body_contains: None,
            fault,
            seen: 0,
            caught: 0,
        }
    }

    /// Starts catching at the nth matching request.
    pub fn from_nth(mut self, n: usize) -> Rule {
        self.from = n.max(1);
        self
    }

    /// Catches only requests whose body contains `text`.
    pub fn when_body_contains(mut self, text: &str) -> Rule {
        self.body_contains = Some(text.to_string());
        self
    }

    fn matches(&self, operation: &str, body: &str) -> bool {
        if self
            .body_contains
            .as_deref()
            .is_some_and(|t| !body.contains(t))
        {
            return false;
        }
        match &self.operation {
            None => true,
            Some(o) if o.contains('.') => o == operation,
            Some(o) => operation.rsplit('.').next() == Some(o.as_str()),
        }
    }
}

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub operation: String,
    /// The request's path (where a REST protocol names the resource, a schedule's name).
    pub path: String,
    /// The request body (JSON or form-encoded), for asserting what was asked.
    pub body: String,
    /// The fault it got, if any.
    pub fault: Option<Fault>,
    /// Whether the emulator received it.
    pub forwarded: bool,
    /// The emulator's answer (JSON or XML), once it came back; `None` for a request that
    /// never reached it. Tells what a call created (a revision's ARN, a started task's).
    pub response: Option<String>,
    /// The access key id that signed it (its SigV4 `Credential`): which credentials made the
    /// call, so a hub's own calls are told from those made with a role assumed in another
    /// account (moto serves an assumed role's key in the role's account). Empty when unsigned.
    pub access_key: String,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
    rng: Option<fastrand::Rng>,
    in_flight: usize,
    most_in_flight: usize,
}

/// The proxy; stops when dropped.
pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:<port>`) on a free local port,
    /// with a fixed `seed` for the probabilistic rules.
    pub fn start(upstream: &str, seed: u64) -> FaultProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("{upstream} is not http://host:port: {e}"));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the proxy's runtime");
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("a free port for the proxy");
        let port = std_listener
            .local_addr()
            .expect("the proxy's address")
            .port();
        std_listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let state = Arc::new(Mutex::new(State {
            rng: Some(fastrand::Rng::with_seed(seed)),
            ..State::default()
        }));
        let shared = state.clone();
        runtime.spawn(async move {
            let Ok(listener) = TcpListener::from_std(std_listener) else {
                return;
            };
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(req, upstream, state.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            url: format!("http://127.0.0.1:{port}"),
            state,
            runtime: Some(runtime),
        }
    }

    /// Adds a rule (rules are tried in the order added; the first that catches wins).
    pub fn add(&self, rule: Rule) {
        self.with(|s| s.rules.push(rule));
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.with(|s| s.rules.clear());
    }

    /// Every request seen so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.with(|s| s.seen.clone())
    }

    /// The operations that reached the emulator, in order.
    pub fn forwarded(&self) -> Vec<String> {
        self.with(|s| {
            s.seen
                .iter()
                .filter(|x| x.forwarded)
                .map(|x| x.operation.clone())
                .collect()
        })
    }

    /// How many requests of each operation reached the emulator.
    pub fn forwarded_counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for op in self.forwarded() {
            *counts.entry(op).or_default() += 1;
        }
        counts
    }

    /// The requests that got a fault.
    pub fn faulted(&self) -> Vec<Seen> {
        self.with(|s| {
            s.seen
                .iter()
                .filter(|x| x.fault.is_some())
                .cloned()
                .collect()
        })
    }

    /// The distinct values of a top-level field of the JSON requests of `operation` (the
    /// `clientToken` of every RunTask, say), faulted or not.
    pub fn request_values(
        &self,
        operation: &str,
        field: &str,
    ) -> std::collections::BTreeSet<String> {
        self.seen()
            .iter()
            .filter(|s| s.operation == operation)
            .filter_map(|s| {
                serde_json::from_str::<serde_json::Value>(&s.body)
                    .ok()?
                    .get(field)?
                    .as_str()
                    .map(str::to_string)
            })
            .collect()
    }

    /// The most requests the proxy was handling at the same time.
    pub fn most_in_flight(&self) -> usize {
        self.with(|s| s.most_in_flight)
    }

    /// Forgets what was seen (the rules stay).
    pub fn forget(&self) {
        self.with(|s| s.seen.clear());
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The SigV4 `Credential` of a request (`<key>/<date>/<region>/<service>/aws4_request`), split.
fn credential_of(req: &Request<Incoming>) -> Vec<String> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .map(|c| c.split('/').map(str::to_string).collect())
        .unwrap_or_default()
}

/// The AWS service of a request, from its SigV4 credential scope, as the call log names it.
fn service_of(req: &Request<Incoming>) -> String {
    let credential = credential_of(req);
    let scope = credential.get(3).map_or("unknown", String::as_str);
    match scope {
        "ecs" => "ECS",
        "sns" => "SNS",
        "monitoring" => "CloudWatch",
        "application-autoscaling" => "Application Auto Scaling",
        "sqs" => "SQS",
        "events" => "EventBridge",
        "tagging" => "Resource Groups Tagging API",
        "scheduler" => "Scheduler",
        "elasticloadbalancing" => "Elastic Load Balancing v2",
        "pricing" => "Pricing",
        "sts" => "STS",
        "iam" => "IAM",
        other => other,
    }
    .to_string()
}

/// The operation: the JSON protocols' `X-Amz-Target` suffix, EventBridge Scheduler's REST
/// method and path, or the query protocol's `Action`.
fn operation_of(target: Option<&str>, method: &str, path: &str, body: &str) -> String {
    if let Some(t) = target {
        return t.rsplit('.').next().unwrap_or(t).to_string();
    }
    if let Some(rest) = path.strip_prefix("/schedules/") {
        let one = !rest.is_empty() && !rest.contains('/');
        return match method {
            "POST" if one => "CreateSchedule",
            "GET" if one => "GetSchedule",
            "DELETE" if one => "DeleteSchedule",
            "PUT" if one => "UpdateSchedule",
            _ => "Unknown",
        }
        .to_string();
    }
    body.split('&')
        .find_map(|kv| kv.strip_prefix("Action="))
        .unwrap_or("Unknown")
        .to_string()
}

/// Whether the service answers in JSON (`X-Amz-Target`) rather than the query protocol's XML.
fn is_json(target: Option<&str>) -> bool {
    target.is_some()
}

async fn handle(
    req: Request<Incoming>,
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let count = |delta: isize| {
        let mut s = match state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        s.in_flight = s.in_flight.saturating_add_signed(delta);
        s.most_in_flight = s.most_in_flight.max(s.in_flight);
    };
    count(1);
    let answer = answer(req, upstream, state.clone()).await;
    count(-1);
    answer
}

async fn answer(
    req: Request<Incoming>,
    upstream: SocketAddr,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let service = service_of(&req);
    let access_key = credential_of(&req).into_iter().next().unwrap_or_default();
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).to_string();
    let path = parts.uri.path().to_string();
    let operation = format!(
        "{service}.{}",
        operation_of(target.as_deref(), parts.method.as_str(), &path, &text)
    );
    let fault = {
        let mut s = match state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let State { rules, rng, .. } = &mut *s;
        let mut caught = None;
        for rule in rules.iter_mut() {
            if !rule.matches(&operation, &text) {
                continue;
            }
            rule.seen += 1;
            if rule.seen < rule.from || rule.caught >= rule.times {
                continue;
            }
            if let Some(p) = rule.probability {
                if rng.as_mut().map_or(1.0, |r| r.f64()) >= p {
                    continue;
                }
            }
            rule.caught += 1;
            caught = Some(rule.fault.clone());
            break;
        }
        caught
    };
    let lock = || match state.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    // Recorded when it arrives (the order calls were made in); the answer is added when it comes.
    let record = |forwarded: bool| {
        let mut s = lock();
        s.seen.push(Seen {
            operation: operation.clone(),
            path: path.clone(),
            body: text.clone(),
            fault: fault.clone(),
            forwarded,
            response: None,
            access_key: access_key.clone(),
        });
        s.seen.len() - 1
    };
    let answered = |at: usize, answer: &Result<(hyper::http::response::Parts, Bytes), _>| {
        if let Ok((_, bytes)) = answer {
            let mut s = lock();
            // `forget` may have cleared the record meanwhile.
            if let Some(seen) = s.seen.get_mut(at).filter(|x| x.body == text) {
                seen.response = Some(String::from_utf8_lossy(bytes).to_string());
            }
        }
    };
    match &fault {
        None => {
            let at = record(true);
            let answer = forward(parts, body, upstream).await;
            answered(at, &answer);
            answer.map(whole)
        }
        Some(Fault::Delay(d)) => {
            let at = record(true);
            let answer = forward(parts, body, upstream).await;
            answered(at, &answer);
            tokio::time::sleep(*d).await;
            answer.map(whole)
        }
        Some(Fault::Reset) => {
            record(false);
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the proxy drops the connection",
            ))
        }
        Some(Fault::Answer(status, answer)) => {
            let at = record(false);
            lock().seen[at].response = Some(answer.clone());
            let mut r = Response::new(Full::new(Bytes::from(answer.clone())));
            *r.status_mut() = hyper::StatusCode::from_u16(*status).unwrap_or(hyper::StatusCode::OK);
            r.headers_mut().insert(
                "content-type",
                hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
            );
            Ok(r)
        }
        Some(f) => {
            record(false);
            Ok(error_response(f, &service, &operation, target.as_deref()))
        }
    }
}

async fn forward(
    parts: hyper::http::request::Parts,
    body: Bytes,
    upstream: SocketAddr,
) -> Result<(hyper::http::response::Parts, Bytes), std::io::Error> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let req = Request::from_parts(parts, Full::new(body));
    let resp = sender
        .send_request(req)
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = resp.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok((parts, bytes))
}

/// The emulator's answer, read whole, as the proxy's answer.
fn whole((parts, bytes): (hyper::http::response::Parts, Bytes)) -> Response<Full<Bytes>> {
    let mut resp = Response::from_parts(parts, Full::new(bytes));
    // The body is whole now: a length, not the emulator's framing.
    resp.headers_mut().remove("transfer-encoding");
    resp
}

/// The error AWS answers with, in the service's protocol: JSON (`__type`, `x-amzn-ErrorType`)
/// for ECS, Application Auto Scaling and CloudWatch's JSON protocol; XML `ErrorResponse` for the
/// query protocol (SNS, CloudWatch's query protocol).
fn error_response(
    fault: &Fault,
    service: &str,
    operation: &str,
    target: Option<&str>,
) -> Response<Full<Bytes>> {
    let action = iam_action(operation);
    let json = is_json(target);
    let (status, code, message): (u16, String, String) = match fault {
        Fault::Throttle => (
            400,
            if json { "ThrottlingException" } else { "Throttling" }.into(),
            "Rate exceeded".into(),
        ),
        Fault::Http500 => (
            500,
            match service {
                "ECS" => "ServerException",
                "SNS" => "InternalError",
                _ => "InternalFailure",
            }
            .into(),
            "We encountered an internal error. Please try again.".into(),
        ),
        Fault::Http503 => (
            503,
            "ServiceUnavailable".into(),
            "Service is unavailable. Please try again later.".into(),
        ),
        Fault::AccessDenied => (
            400,
            if json { "AccessDeniedException" } else { "AccessDenied" }.into(),
            format!(
                "User: arn:aws:sts::123456789012:assumed-role/autopilot-demo-function/autopilot-demo-function is not authorized to perform: {action} because no identity-based policy allows the {action} action"
            ),
        ),
        Fault::NotFound => {
            let (code, message) = match (service, operation.rsplit('.').next().unwrap_or("")) {
                ("ECS", op) if op.contains("TaskDefinition") => {
                    ("ClientException", "Unable to describe task definition.")
                }
                ("ECS", "RunTask") => ("ClientException", "TaskDefinition is inactive"),
                ("ECS", _) => ("ServiceNotFoundException", "Service not found."),
                ("Application Auto Scaling", _) => (
                    "ObjectNotFoundException",
                    "No scalable target found for service namespace: ecs",
                ),
                ("CloudWatch", _) => ("ResourceNotFound", "The alarm does not exist."),
                ("SNS", _) => ("NotFound", "Topic does not exist"),
                _ => ("ResourceNotFoundException", "The resource does not exist."),
            };
            (400, code.into(), message.into())
        }
        Fault::Reset | Fault::Delay(_) | Fault::Answer(..) => {
            (500, "InternalFailure".into(), String::new())
        }
    };
    let builder = Response::builder()
        .status(status)
        .header("x-amzn-requestid", "0f1e2d3c-fault-proxy");
    let response = if json {
        builder
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amzn-errortype", code.as_str())
            .body(Full::new(Bytes::from(
                serde_json::json!({"__type": code, "message": message}).to_string(),
            )))
    } else {
        let sender = if status >= 500 { "Receiver" } else { "Sender" };
        builder.header("content-type", "text/xml").body(Full::new(Bytes::from(format!(
            "<ErrorResponse><Error><Type>{sender}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>0f1e2d3c-fault-proxy</RequestId></ErrorResponse>"
        ))))
    };
    response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// `ECS.UpdateService` as IAM names it: `ecs:UpdateService`.
pub fn iam_action(operation: &str) -> String {
    let (service, op) = operation.split_once('.').unwrap_or(("", operation));
    let prefix = match service {
        "ECS" => "ecs",
        "SNS" => "sns",
        "CloudWatch" => "cloudwatch",
        "Application Auto Scaling" => "application-autoscaling",
        "SQS" => "sqs",
        "Resource Groups Tagging API" => "tag",
        "Pricing" => "pricing",
        "STS" => "sts",
        "IAM" => "iam",
        other => other,
    };
    format!("{prefix}:{op}")
}
