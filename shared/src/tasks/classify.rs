//! Why a task stopped: a cause code, a severity, one sentence and what to do. Pure.

use serde::Serialize;

use crate::events::{EcsTaskStateChange, StopCode};
use crate::notify::{neutralise, Severity};
use crate::tags;

/// The cause of a stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    OutOfMemory,
    EssentialContainerExited,
    ElbHealthCheck,
    ContainerHealthCheck,
    ImagePull,
    Secrets,
    Logging,
    Network,
    TaskFailedToStart,
    SpotInterruption,
    Infrastructure,
    Scaling,
    UserInitiated,
    Completed,
    Unknown,
}

impl Cause {
    /// The code as the result and notifications spell it.
    pub fn code(self) -> &'static str {
        match self {
            Cause::OutOfMemory => "out-of-memory",
            Cause::EssentialContainerExited => "essential-container-exited",
            Cause::ElbHealthCheck => "elb-health-check",
            Cause::ContainerHealthCheck => "container-health-check",
            Cause::ImagePull => "image-pull",
            Cause::Secrets => "secrets",
            Cause::Logging => "logging",
            Cause::Network => "network",
            Cause::TaskFailedToStart => "task-failed-to-start",
            Cause::SpotInterruption => "spot-interruption",
            Cause::Infrastructure => "infrastructure",
            Cause::Scaling => "scaling",
            Cause::UserInitiated => "user-initiated",
            Cause::Completed => "completed",
            Cause::Unknown => "unknown",
        }
    }

    /// Normal life of a service or job: not alerted.
    pub fn is_benign(self) -> bool {
        matches!(
            self,
            Cause::Scaling | Cause::UserInitiated | Cause::Completed
        )
    }

    /// A stop that says the task itself is broken: these count towards a crash loop.
    pub fn is_failure(self) -> bool {
        !self.is_benign() && !matches!(self, Cause::SpotInterruption | Cause::Infrastructure)
    }

    fn severity(self) -> Severity {
        match self {
            c if c.is_benign() => Severity::Info,
            Cause::SpotInterruption | Cause::Infrastructure | Cause::Unknown => Severity::Warning,
            _ => Severity::Critical,
        }
    }
}

/// The verdict on one stop.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Classification {
    pub cause: Cause,
    pub severity: Severity,
    /// One sentence, outside text neutralised.
    pub sentence: String,
    pub next_steps: Vec<String>,
}

/// The app's port and health path in the stack this project deploys.
const APP_PORT: u16 = 3000;
const HEALTH_PATH: &str = "/api/health";

/// Whether a (lower-cased) stop reason says the log driver could not start: the awslogs driver
/// validates its group and creates the task's stream before the container starts, and reports
/// `failed to validate logger args` (Fargate's ResourceInitializationError) or `failed to
/// initialize logging driver` (the EC2 agent's CannotStartContainerError) when it cannot.
fn is_logging(lower: &str) -> bool {
    lower.contains("failed to validate logger args")
        || lower.contains("failed to initialize logging driver")
        || (lower.contains("resourceinitializationerror")
            && (lower.contains("log group") || lower.contains("log stream")))
}

/// Classifies a stop (or the Spot warning of a running task).
pub fn classify(task: &EcsTaskStateChange) -> Classification {
    let reason = task.stopped_reason.as_deref().unwrap_or("");
    let lower = reason.to_ascii_lowercase();
    let code = task.stop_code.as_ref();
    let container_says = |needle: &str| {
        task.containers.iter().any(|c| {
            c.reason
                .as_deref()
                .is_some_and(|r| r.to_ascii_lowercase().contains(needle))
        })
    };
    let oom = task.containers.iter().find(|c| {
        let r = c.reason.as_deref().unwrap_or("").to_ascii_lowercase();
        r.starts_with("outofmemoryerror") || (c.exit_code == Some(137) && r.contains("memory"))
    });
    let failed_exit = task
        .containers
        .iter()
        .find(|c| c.exit_code.is_some_and(|e| e != 0));
    let any_says = |needle: &str| lower.contains(needle) || container_says(needle);

    let cause = if matches!(
        code,
        Some(StopCode::TerminationNotice | StopCode::SpotInterruption)
    ) || lower.contains("spot task was interrupted")
    {
        Cause::SpotInterruption
    } else if code == Some(&StopCode::UserInitiated) {
        Cause::UserInitiated
    } else if oom.is_some() {
        Cause::OutOfMemory
    } else if any_says("cannotpullcontainer") {
        Cause::ImagePull
    } else if is_logging(&lower) {
        Cause::Logging
    } else if lower.contains("resourceinitializationerror")
        && ["secret", "ssm", "parameter", "registry auth", "asm"]
            .iter()
            .any(|n| lower.contains(n))
        && !["i/o timeout", "dial tcp", "context deadline"]
            .iter()
            .any(|n| lower.contains(n))
    {
        Cause::Secrets
    } else if lower.contains("resourceinitializationerror")
        || [
            "network interface",
            "eni-",
            " eni ",
            "insufficientfreeaddresses",
            "subnet",
        ]
        .iter()
        .any(|n| lower.contains(n))
    {
        Cause::Network
    } else if lower.contains("failed elb health checks") {
        Cause::ElbHealthCheck
    } else if any_says("failed container health checks") {
        Cause::ContainerHealthCheck
    } else if code == Some(&StopCode::TaskFailedToStart) {
        Cause::TaskFailedToStart
    } else if [
        "retire",
        "maintenance",
        "infrastructurehealth",
        "infrastructure",
    ]
    .iter()
    .any(|n| lower.contains(n))
    {
        Cause::Infrastructure
    } else if code == Some(&StopCode::ServiceSchedulerInitiated)
        || lower.starts_with("scaling activity initiated by")
    {
        Cause::Scaling
    } else if code == Some(&StopCode::EssentialContainerExited) || failed_exit.is_some() {
        if failed_exit.is_none() && task.service_name().is_none() {
            Cause::Completed
        } else {
            Cause::EssentialContainerExited
        }
    } else {
        Cause::Unknown
    };

    let r = neutralise(reason);
    let sentence = match cause {
        Cause::OutOfMemory => {
            let c = oom.map(|c| c.name.as_str()).unwrap_or("a container");
            format!(
                "Container {} ran out of memory and was killed (exit code 137); the task has {} MiB.",
                neutralise(c),
                task.memory.as_deref().unwrap_or("?")
            )
        }
        Cause::EssentialContainerExited => match failed_exit {
            Some(c) => format!(
                "Essential container {} exited with code {}{}.",
                neutralise(&c.name),
                c.exit_code.unwrap_or_default(),
                c.reason.as_deref().map(|r| format!(" ({})", neutralise(r))).unwrap_or_default()
            ),
            None => "An essential container of a service task exited with code 0: a service's containers must keep running.".into(),
        },
        Cause::ElbHealthCheck => format!("The load balancer marked the task unhealthy: {r}."),
        Cause::ContainerHealthCheck => "The container's own health check kept failing, so ECS replaced the task.".into(),
        Cause::ImagePull => format!("The image could not be pulled: {r}"),
        Cause::Secrets => format!("The task could not fetch its secrets or registry credentials: {r}"),
        Cause::Logging => format!("The task could not start its log driver, so its containers never started: {r}"),
        Cause::Network => format!("The task could not get its network interface: {r}"),
        Cause::TaskFailedToStart => format!("The task failed to start: {r}"),
        Cause::SpotInterruption if task.last_status != "STOPPED" => {
            "AWS is reclaiming this Fargate Spot capacity: the task stops within 2 minutes.".into()
        }
        Cause::SpotInterruption => "The Fargate Spot task was interrupted: AWS reclaimed the capacity.".into(),
        Cause::Infrastructure => format!("AWS stopped the task for infrastructure maintenance: {r}"),
        Cause::Scaling => format!("Stopped by the service scheduler (scale-in or a deployment replacing it): {r}"),
        Cause::UserInitiated => format!("Stopped on request: {r}"),
        Cause::Completed => "The task finished: its essential containers exited with code 0.".into(),
        Cause::Unknown => format!(
            "The task stopped for a reason this watcher does not know (stop code {}): {}",
            code.map(StopCode::as_str).unwrap_or("none"),
            if r.is_empty() { "no reason given".into() } else { r.clone() }
        ),
    };
    Classification {
        cause,
        severity: cause.severity(),
        sentence,
        next_steps: next_steps(cause, task),
    }
}

fn next_steps(cause: Cause, task: &EcsTaskStateChange) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
    match cause {
        Cause::OutOfMemory => vec![
            format!(
                "Raise the task's memory (now {} MiB) or the container's hard limit, or find the leak: check the MemoryUtilization metric before the kill.",
                task.memory.as_deref().unwrap_or("?")
            ),
            "Fargate takes only valid CPU/memory pairs: 256 CPU with 512-2048 MiB, 512 with 1-4 GiB, 1024 with 2-8 GiB, 2048 with 4-16 GiB, 4096 with 8-30 GiB, 8192 with 16-60 GiB, 16384 with 32-120 GiB.".into(),
            "For the JVM or Node.js, cap the heap below the container limit (-XX:MaxRAMPercentage, --max-old-space-size).".into(),
        ],
        Cause::EssentialContainerExited => s(&[
            "Read the container's log stream (linked below) for the last lines before the exit.",
            "Exit code 1 or 2 is usually the app failing at start (configuration, a missing environment variable or secret); 139 is a segmentation fault; 143 is SIGTERM.",
            "If the last deploy started this, roll back by pushing the previous tag.",
        ]),
        Cause::ElbHealthCheck => vec![
            format!("Check that the app listens on port {APP_PORT} and that the target group's health-check path {HEALTH_PATH} answers 200 within the timeout."),
            "Raise the service's healthCheckGracePeriodSeconds if the app needs longer to start.".into(),
            format!("Check that the task security group allows the load balancer's security group on port {APP_PORT}."),
        ],
        Cause::ContainerHealthCheck => vec![
            format!("Run the container health-check command by hand (ECS Exec) and check it answers: curl -f http://localhost:{APP_PORT}{HEALTH_PATH}."),
            "The image must contain the health-check tool (curl or wget); raise startPeriod if the app starts slowly.".into(),
        ],
        Cause::ImagePull => s(&[
            "Check that the repository and tag (or digest) exist in ECR.",
            "The task execution role needs ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (AmazonECSTaskExecutionRolePolicy).",
            "Tasks in private subnets need a NAT gateway or the VPC endpoints ecr.api, ecr.dkr and s3 (gateway) to reach ECR.",
        ]),
        Cause::Secrets => s(&[
            "The task execution role needs secretsmanager:GetSecretValue (and kms:Decrypt for a customer key) on the secret, or ssm:GetParameters for parameters.",
            "Check the secret exists, is not scheduled for deletion, and that a JSON key in valueFrom (arn:...:secret:name:key::) exists.",
            "Tasks in private subnets need a NAT gateway or the secretsmanager / ssm VPC endpoints.",
        ]),
        Cause::Logging => s(&[
            "Create the log group the task definition names (awslogs-group, in awslogs-region), or set awslogs-create-group to true and give the task execution role logs:CreateLogGroup.",
            "The task execution role needs logs:CreateLogStream and logs:PutLogEvents on the group (AmazonECSTaskExecutionRolePolicy has them); a KMS-encrypted group also needs the key policy to allow CloudWatch Logs.",
            "Tasks in private subnets need a NAT gateway or the logs VPC endpoint to reach CloudWatch Logs.",
        ]),
        Cause::Network => s(&[
            "Check the subnets' free IP addresses: every Fargate task takes one.",
            "Use more or larger subnets across Availability Zones, and check the account's ENI quota.",
        ]),
        Cause::TaskFailedToStart => s(&[
            "Check the task definition: the entry point and command, the image's architecture (ARM64 or X86_64) against runtimePlatform, volumes and mount points.",
            "Read the stopped task's details in the console (linked below).",
        ]),
        Cause::SpotInterruption => vec![
            "Nothing to do for a service: ECS starts a replacement. Keep a FARGATE base capacity in the capacity provider strategy for critical services.".into(),
            format!("Standalone tasks restart when tagged {}=on-interruption.", tags::RESTART),
        ],
        Cause::Infrastructure => vec![format!("Nothing to do: ECS replaces service tasks. Standalone tasks restart when tagged {}=on-interruption.", tags::RESTART)],
        Cause::Scaling | Cause::UserInitiated | Cause::Completed => vec![],
        Cause::Unknown => s(&[
            "Read the stopped task's details and the container logs (linked below).",
            "Tell the team: a new stop reason should get its own explanation here.",
        ]),
    }
}
