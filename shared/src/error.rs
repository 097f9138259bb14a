//! The one error type of the core, and how Lambda sees it.
//!
//! Every error says whether running the same event again could succeed (`Retryable`: throttling,
//! 5xx, timeouts) or not (`NonRetryable`: a malformed event, a wrong configuration, access denied).
//! SDK errors keep their source; their message carries the service's error code and text.

use std::error::Error as StdError;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use lambda_runtime::Diagnostic;

/// Everything that can go wrong in the core.
#[derive(thiserror::Error)]
pub enum Error {
    /// An environment variable is missing or malformed. Raised at init.
    #[error("configuration: {var}: {message}")]
    Config { var: &'static str, message: String },

    /// The event is not one this function takes, or a field is missing or of the wrong type.
    #[error("bad event: {0}")]
    BadEvent(String),

    /// An AWS call failed.
    #[error("AWS {operation} failed: {code}: {message}")]
    Aws {
        operation: &'static str,
        code: String,
        message: String,
        retryable: bool,
        #[source]
        source: Box<dyn StdError + Send + Sync + 'static>,
    },

    /// An AWS response lacked a field the API documents as always present.
    #[error("AWS {operation} returned an unexpected response: {detail}")]
    UnexpectedResponse {
        operation: &'static str,
        detail: String,
    },

    /// The invocation ran out of the time Lambda gave it: stopped a little before the deadline,
    /// so the cause is reported instead of Lambda's bare "Task timed out". Retryable: the next
    /// attempt may find AWS faster.
    #[error("out of time: stopped {reserve_ms} ms before the Lambda deadline after {calls} AWS call(s); in flight: {}; last AWS error: {}", in_flight_text(.in_flight), .last_error.as_deref().unwrap_or("none"))]
    OutOfTime {
        reserve_ms: u128,
        calls: usize,
        /// The AWS calls under way when time ran out (`Service.Operation`).
        in_flight: Vec<String>,
        /// The last failed attempt of an AWS call, with its error.
        last_error: Option<String>,
    },

    /// The code broke one of its own invariants (a plan carried out without what it was planned
    /// on): a bug, not bad input and not AWS.
    #[error("internal error: {0}")]
    Invariant(String),
}

/// An error as a per-target result keeps it: its code and whether the next attempt may succeed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    pub code: String,
    pub retryable: bool,
}

impl From<&Error> for Failure {
    fn from(e: &Error) -> Self {
        Failure {
            code: e.code().to_string(),
            retryable: e.is_retryable(),
        }
    }
}

/// The result type of the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Error codes (and HTTP statuses, below) that a later attempt may get past.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ServerException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "KMSThrottlingException",
];

impl Error {
    /// Wraps an SDK error, keeping it as the source and classifying it.
    pub fn aws<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        let (code, message, retryable) = match &err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let code = e.code().unwrap_or("Unknown").to_string();
                let message = e.message().unwrap_or("no message").to_string();
                let status = service.raw().status();
                let retryable = RETRYABLE_CODES.contains(&code.as_str())
                    || status.is_server_error()
                    || status.as_u16() == 429;
                (code, message, retryable)
            }
            SdkError::TimeoutError(_) => ("Timeout".into(), "the request timed out".into(), true),
            SdkError::DispatchFailure(d) => (
                "DispatchFailure".into(),
                format!("the request could not be sent: {d:?}"),
                true,
            ),
            SdkError::ResponseError(_) => (
                "ResponseError".into(),
                "the response could not be read".into(),
                true,
            ),
            other => ("ConstructionFailure".into(), format!("{other:?}"), false),
        };
        Error::Aws {
            operation,
            code,
            message,
            retryable,
            source: Box::new(err),
        }
    }

    /// A bad event, with a message naming what was wrong.
    pub fn bad_event(message: impl Into<String>) -> Self {
        Error::BadEvent(message.into())
    }

    /// Whether running the same event again could succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Aws {
                retryable: true,
                ..
            } | Error::OutOfTime { .. }
        )
    }

    /// `Retryable` or `NonRetryable`: the Lambda error type.
    pub fn error_type(&self) -> &'static str {
        if self.is_retryable() {
            "Retryable"
        } else {
            "NonRetryable"
        }
    }

    /// A broken invariant, with what was broken.
    pub fn invariant(message: impl Into<String>) -> Self {
        Error::Invariant(message.into())
    }

    /// The AWS error code (`ThrottlingException`, `AccessDeniedException`...), or the kind of
    /// a project error (`Config`, `BadEvent`, `UnexpectedResponse`, `Invariant`, `OutOfTime`).
    pub fn code(&self) -> &str {
        match self {
            Error::Aws { code, .. } => code,
            Error::Config { .. } => "Config",
            Error::BadEvent(_) => "BadEvent",
            Error::UnexpectedResponse { .. } => "UnexpectedResponse",
            Error::Invariant(_) => "Invariant",
            Error::OutOfTime { .. } => "OutOfTime",
        }
    }

    /// The AWS error code, when this is an AWS error.
    /// Whether AWS said the resource the call names does not exist (deleted between the read
    /// and the write): a final outcome for that resource, not a failure of the function.
    pub fn is_not_found(&self) -> bool {
        const NOT_FOUND: &[&str] = &[
            "ServiceNotFoundException",
            "ServiceNotActiveException",
            "ClusterNotFoundException",
            "ResourceNotFound",
            "ResourceNotFoundException",
            "ObjectNotFoundException",
            "NotFound",
        ];
        self.aws_code().is_some_and(|c| NOT_FOUND.contains(&c))
    }

    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

fn in_flight_text(calls: &[String]) -> String {
    if calls.is_empty() {
        "no AWS call".to_string()
    } else {
        calls.join(", ")
    }
}

/// Debug prints the cause chain, so a log line or a failed test says everything.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = self.source();
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl From<Error> for Diagnostic {
    fn from(err: Error) -> Self {
        Diagnostic {
            error_type: err.error_type().to_string(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::service_error;

    #[test]
    fn throttling_is_retryable_access_denied_is_not() {
        let e = Error::aws(
            "DescribeServices",
            service_error("ThrottlingException", 400),
        );
        assert!(e.is_retryable());
        assert_eq!(Diagnostic::from(e).error_type, "Retryable");

        let e = Error::aws(
            "DescribeServices",
            service_error("AccessDeniedException", 400),
        );
        assert!(!e.is_retryable());
        let d = Diagnostic::from(e);
        assert_eq!(d.error_type, "NonRetryable");
        assert!(
            d.error_message.contains("AccessDeniedException"),
            "{}",
            d.error_message
        );
        assert!(
            d.error_message.contains("DescribeServices"),
            "{}",
            d.error_message
        );
    }

    #[test]
    fn a_failure_keeps_the_code_and_the_retryability() {
        let throttled = Error::aws(
            "DescribeServices",
            service_error("ThrottlingException", 400),
        );
        assert_eq!(
            Failure::from(&throttled),
            Failure {
                code: "ThrottlingException".into(),
                retryable: true
            }
        );
        let denied = Error::aws("UpdateService", service_error("AccessDeniedException", 400));
        assert_eq!(
            Failure::from(&denied),
            Failure {
                code: "AccessDeniedException".into(),
                retryable: false
            }
        );
        let bug = Error::invariant("a wake without a restore record");
        assert_eq!(
            (bug.code(), bug.error_type()),
            ("Invariant", "NonRetryable")
        );
        assert!(bug.to_string().contains("a wake without a restore record"));
    }

    #[test]
    fn bad_events_and_config_are_not_retryable_and_debug_prints_the_chain() {
        let e = Error::bad_event("detail.repository-name: missing");
        assert_eq!(e.error_type(), "NonRetryable");
        let e = Error::aws("DescribeServices", service_error("SomethingNew", 503));
        assert!(e.is_retryable(), "a 5xx is retryable whatever its code");
        let debug = format!("{e:?}");
        assert!(debug.contains("caused by"), "{debug}");
    }
}
