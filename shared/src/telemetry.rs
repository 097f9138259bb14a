//! Logging with `tracing`: JSON lines in Lambda (so `LoggingConfig: LogFormat: JSON` gets fields,
//! not formatted strings), readable text elsewhere. The writer is injectable for tests.

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
        .unwrap_or_else(|_| "info".into())
        .to_ascii_lowercase();
    let filter = EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
        || std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            // Lambda stamps every line itself.
            .without_time()
            .try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}
