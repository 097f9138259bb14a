//! Logging with `tracing`: JSON lines in Lambda (so `LoggingConfig: LogFormat: JSON` gets fields,
//! not formatted strings), readable text elsewhere. The writer is injectable for tests.
//!
//! Every JSON line carries `level` and an RFC 3339 `timestamp`: Lambda's log-level filtering
//! reads both, and a line without a valid timestamp is treated as INFO, so with the function's
//! application log level at WARN its errors would be dropped.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber, writing to stdout. Call once, in `main`.
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// Installs the global subscriber with the given writer. A second call is a no-op.
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
        || std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok();
    let _ = tracing::subscriber::set_global_default(subscriber(json, &level, writer));
}

/// The subscriber: JSON lines (Lambda) or text, filtered at `level` (`AWS_LAMBDA_LOG_LEVEL`'s
/// values, any case; an unknown one means `info`).
pub fn subscriber<W>(json: bool, level: &str, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_new(level.to_ascii_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    if json {
        Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish(),
        )
    } else {
        Box::new(builder.with_ansi(false).finish())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use serde_json::Value;

    use super::*;

    /// A writer into memory.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut b) = self.0.lock() {
                b.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    fn lines(json: bool, level: &str) -> Vec<String> {
        let out = Captured::default();
        tracing::subscriber::with_default(subscriber(json, level, out.clone()), || {
            tracing::info!(service = "web", "decided");
            tracing::warn!("degraded");
            tracing::error!(error = "AccessDenied", "failed");
        });
        let bytes = out.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_json_line_has_a_level_and_an_rfc3339_timestamp() {
        let lines = lines(true, "INFO");
        assert_eq!(lines.len(), 3, "{lines:?}");
        for line in &lines {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            let ts = v["timestamp"].as_str().expect("a timestamp");
            assert!(
                chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
                "Lambda reads only RFC 3339: {ts}"
            );
            assert!(v["level"].is_string(), "{line}");
        }
        let error: Value = serde_json::from_str(&lines[2]).expect("JSON");
        assert_eq!(error["level"], "ERROR");
        assert_eq!(error["error"], "AccessDenied", "fields, not formatted text");
    }

    #[test]
    fn the_level_lambda_sets_filters_in_any_case() {
        let kept = lines(true, "WARN");
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept.iter().all(|l| !l.contains("decided")));
        assert_eq!(lines(false, "error").len(), 1);
    }
}
