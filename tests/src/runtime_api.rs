//! A local Lambda Runtime API: runs a function's release binary the way Lambda does, feeding it
//! events one by one and collecting its responses, errors and init error.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What one invocation returned.
#[derive(Clone, Debug, PartialEq)]
pub enum Invocation {
    /// The handler's JSON result.
    Ok(Value),
    /// The runtime's error document: `{"errorType": ..., "errorMessage": ...}`.
    Err(Value),
}

impl Invocation {
    pub fn ok(&self) -> Option<&Value> {
        match self {
            Invocation::Ok(v) => Some(v),
            Invocation::Err(_) => None,
        }
    }

    pub fn err(&self) -> Option<&Value> {
        match self {
            Invocation::Err(v) => Some(v),
            Invocation::Ok(_) => None,
        }
    }
}

/// A whole run of a function over a list of events.
#[derive(Debug)]
pub struct FunctionRun {
    /// One per event, in order (fewer if the function died or did not finish in time).
    pub invocations: Vec<Invocation>,
    /// The init error the runtime reported, if any.
    pub init_error: Option<Value>,
    /// What the function printed (logs and EMF lines).
    pub output: String,
    /// How long init and the first invocation took, and the peak memory.
    pub profile: Profile,
}

/// A run's cost, as the Runtime API sees the process (Linux `/proc`).
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// Process start (spawn) to its first `GET /next`: Lambda's init phase.
    pub init_wall: Option<Duration>,
    /// CPU time the process used by its first `GET /next` (every thread's `schedstat`).
    pub init_cpu: Option<Duration>,
    /// First event handed out to its response.
    pub first_invocation_wall: Option<Duration>,
    /// CPU time used between the first event and its response.
    pub first_invocation_cpu: Option<Duration>,
    /// Peak resident memory (`VmHWM`) when the run ended, in KiB.
    pub peak_rss_kib: Option<u64>,
}

/// CPU time used by every live thread of `pid` (nanoseconds on CPU, from `schedstat`).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut ns = 0u64;
    for task in tasks.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(ns))
}

/// Peak resident set (`VmHWM`) of `pid`, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[derive(Default)]
struct State {
    /// How long each invocation may run: its `Lambda-Runtime-Deadline-Ms` is this after it is
    /// handed out.
    invocation_time: Duration,
    pending: VecDeque<(String, Value)>,
    results: Vec<(String, Invocation)>,
    init_error: Option<Value>,
    pid: Option<u32>,
    started: Option<Instant>,
    /// When the first `GET /next` came, and the CPU used by then.
    first_poll: Option<(Instant, Option<Duration>)>,
    /// When the first event was handed out, and the CPU used by then.
    first_event: Option<(Instant, Option<Duration>)>,
    /// When the first result came back, and the CPU used by then.
    first_result: Option<(Instant, Option<Duration>)>,
}

impl State {
    fn mark(&self) -> (Instant, Option<Duration>) {
        (Instant::now(), self.pid.and_then(cpu_time))
    }

    fn profile(&self) -> Profile {
        let between = |a: Option<(Instant, Option<Duration>)>,
                       b: Option<(Instant, Option<Duration>)>| {
            match (a, b) {
                (Some((ta, ca)), Some((tb, cb))) => (
                    Some(tb - ta),
                    ca.zip(cb).map(|(ca, cb)| cb.saturating_sub(ca)),
                ),
                _ => (None, None),
            }
        };
        let (init_wall, _) = between(self.started.map(|t| (t, None)), self.first_poll);
        let (first_invocation_wall, first_invocation_cpu) =
            between(self.first_event, self.first_result);
        Profile {
            init_wall,
            init_cpu: self.first_poll.and_then(|(_, c)| c),
            first_invocation_wall,
            first_invocation_cpu,
            peak_rss_kib: None,
        }
    }
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// How long an invocation may run unless a test says otherwise (a function's timeout).
pub const INVOCATION_TIME: Duration = Duration::from_secs(60);

/// Runs `binary` under a local Runtime API with `env`, invokes it once per event, and stops it.
pub fn run_function(
    binary: &Path,
    name: &str,
    env: &[(String, String)],
    events: Vec<Value>,
    timeout: Duration,
) -> FunctionRun {
    run_function_with_deadline(binary, name, env, events, timeout, INVOCATION_TIME)
}

/// [`run_function`], with each invocation's deadline `invocation_time` after it is handed out,
/// as Lambda sets it from the function's timeout.
pub fn run_function_with_deadline(
    binary: &Path,
    name: &str,
    env: &[(String, String)],
    events: Vec<Value>,
    timeout: Duration,
    invocation_time: Duration,
) -> FunctionRun {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind the runtime API: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"));
    let expected = events.len();
    let shared: Shared = Arc::new((
        Mutex::new(State {
            pending: events
                .into_iter()
                .enumerate()
                .map(|(i, e)| (format!("req-{i:04}"), e))
                .collect(),
            invocation_time,
            ..State::default()
        }),
        Condvar::new(),
    ));
    {
        let shared = shared.clone();
        let fn_name = name.to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                let fn_name = fn_name.clone();
                std::thread::spawn(move || serve(stream, &shared, &fn_name));
            }
        });
    }
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Taken before the spawn, and the pid stored under the lock the stub's first `GET /next`
    // waits on, so a fast child cannot poll before its start time and pid are known.
    let mut child = {
        let mut state = shared.0.lock().unwrap_or_else(|p| p.into_inner());
        state.started = Some(Instant::now());
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        state.pid = Some(child.id());
        child
    };
    let output = collect_output(&mut child);

    let deadline = Instant::now() + timeout;
    let (lock, cvar) = &*shared;
    let mut exited = false;
    loop {
        {
            let state = lock.lock().unwrap_or_else(|p| p.into_inner());
            if state.results.len() >= expected || state.init_error.is_some() {
                break;
            }
            let _ = cvar.wait_timeout(state, Duration::from_millis(100));
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            exited = true;
            break;
        }
        if Instant::now() > deadline {
            break;
        }
    }
    let peak = if exited {
        None
    } else {
        peak_rss_kib(child.id())
    };
    if !exited {
        // Give an init error's process a moment to exit on its own; then stop it.
        std::thread::sleep(Duration::from_millis(50));
        let _ = child.kill();
    }
    let _ = child.wait();
    let state = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut results = state.results.clone();
    results.sort_by(|a, b| a.0.cmp(&b.0));
    FunctionRun {
        invocations: results.into_iter().map(|(_, r)| r).collect(),
        init_error: state.init_error.clone(),
        output: output.join(),
        profile: Profile {
            peak_rss_kib: peak,
            ..state.profile()
        },
    }
}

struct Output(Vec<std::thread::JoinHandle<String>>);

impl Output {
    fn join(self) -> String {
        self.0
            .into_iter()
            .filter_map(|h| h.join().ok())
            .collect::<Vec<_>>()
            .join("")
    }
}

fn collect_output(child: &mut std::process::Child) -> Output {
    let mut handles = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        handles.push(std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }));
    }
    if let Some(mut err) = child.stderr.take() {
        handles.push(std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }));
    }
    Output(handles)
}

/// Serves one keep-alive connection.
fn serve(stream: TcpStream, shared: &Shared, fn_name: &str) {
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = write_half;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut content_length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    content_length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; content_length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let response = route(&method, &path, body, shared, fn_name);
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn route(method: &str, path: &str, body: Value, shared: &Shared, fn_name: &str) -> String {
    let (lock, cvar) = &**shared;
    let accepted = http(202, &[], "{\"status\":\"OK\"}");
    match (method, path.trim_start_matches("/2018-06-01")) {
        ("GET", "/runtime/invocation/next") => loop {
            let (next, invocation_time) = {
                let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
                if state.first_poll.is_none() {
                    state.first_poll = Some(state.mark());
                }
                let next = state.pending.pop_front();
                if next.is_some() && state.first_event.is_none() {
                    state.first_event = Some(state.mark());
                }
                (next, state.invocation_time)
            };
            match next {
                Some((id, event)) => {
                    let deadline = chrono::Utc::now().timestamp_millis().saturating_add(
                        i64::try_from(invocation_time.as_millis()).unwrap_or(i64::MAX),
                    );
                    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{fn_name}");
                    return http(
                        200,
                        &[
                            ("Lambda-Runtime-Aws-Request-Id", id.as_str()),
                            ("Lambda-Runtime-Deadline-Ms", &deadline.to_string()),
                            ("Lambda-Runtime-Invoked-Function-Arn", &arn),
                            (
                                "Lambda-Runtime-Trace-Id",
                                "Root=1-00000000-000000000000000000000000",
                            ),
                        ],
                        &event.to_string(),
                    );
                }
                // No more events: hold the request, as Lambda does between invocations.
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        },
        ("POST", "/runtime/init/error") => {
            lock.lock().unwrap_or_else(|p| p.into_inner()).init_error = Some(body);
            cvar.notify_all();
            accepted
        }
        ("POST", p) if p.starts_with("/runtime/invocation/") => {
            let rest = &p["/runtime/invocation/".len()..];
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let result = if kind == "response" {
                Invocation::Ok(body)
            } else {
                Invocation::Err(body)
            };
            let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
            if state.first_result.is_none() {
                state.first_result = Some(state.mark());
            }
            state.results.push((id.to_string(), result));
            drop(state);
            cvar.notify_all();
            accepted
        }
        _ => http(404, &[], "{}"),
    }
}

fn http(status: u16, headers: &[(&str, &str)], body: &str) -> String {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}
