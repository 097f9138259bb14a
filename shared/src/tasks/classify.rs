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
    DiskFull,
    Volume,
    ImageArchitecture,
    ContainerRuntime,
    TaskFailedToStart,
    SpotInterruption,
    Infrastructure,
    Scaling,
    UserInitiated,
    Completed,
    Unknown,
}

impl Cause {
    /// Every cause, in the order the enum declares them.
    pub const ALL: [Cause; 19] = [
        Cause::OutOfMemory,
        Cause::EssentialContainerExited,
        Cause::ElbHealthCheck,
        Cause::ContainerHealthCheck,
        Cause::ImagePull,
        Cause::Secrets,
        Cause::Logging,
        Cause::Network,
        Cause::DiskFull,
        Cause::Volume,
        Cause::ImageArchitecture,
        Cause::ContainerRuntime,
        Cause::TaskFailedToStart,
        Cause::SpotInterruption,
        Cause::Infrastructure,
        Cause::Scaling,
        Cause::UserInitiated,
        Cause::Completed,
        Cause::Unknown,
    ];

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
            Cause::DiskFull => "disk-full",
            Cause::Volume => "volume",
            Cause::ImageArchitecture => "image-architecture",
            Cause::ContainerRuntime => "container-runtime",
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

/// Whether any of `needles` is in `text`.
fn has(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| text.contains(n))
}

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

/// Whether a (lower-cased) reason says an AWS endpoint or a registry could not be reached: a
/// pull, a secrets fetch or the log driver that timed out waiting for a connection. AWS cuts
/// long reasons off, so `context deadli...` counts as well as `context deadline exceeded`.
fn is_unreachable(lower: &str) -> bool {
    has(
        lower,
        &[
            "i/o timeout",
            "context deadli",
            "request canceled",
            "requestcanceled",
            "client.timeout",
            "network configuration",
            "connection issue",
            "no such host",
        ],
    )
}

/// Whether a (lower-cased) reason says the disk the image is extracted to is full: Fargate's
/// ephemeral storage or an EC2 instance's Docker volume. A write that failed while extracting
/// a layer is one, even when AWS cut the text off before `no space left on device`.
fn is_disk_full(lower: &str) -> bool {
    has(
        lower,
        &[
            "no space left on device",
            "not enough space on the disk",
            "free data blocks",
        ],
    ) || (lower.contains("failed to extract layer") && lower.contains(": write /"))
}

/// Whether a (lower-cased) reason says the image has no variant for the task's CPU
/// architecture (at the pull), or its binary is for another one (at the start).
fn is_wrong_architecture(lower: &str) -> bool {
    has(
        lower,
        &[
            "exec format error",
            "descriptor for platform",
            "descriptor matching platform",
            "no matching manifest for",
        ],
    )
}

/// Whether a (lower-cased) reason says a volume could not be created or mounted: EFS (its
/// mount helper's `failed to invoke EFS utils commands`, NFS errors), CannotCreateVolumeError,
/// a Docker volume driver.
fn is_volume(lower: &str) -> bool {
    has(
        lower,
        &[
            "efs utils",
            "createvolumeerror",
            "mount.nfs",
            "error while mounting volume",
            "volumedriver",
        ],
    )
}

/// Whether a (lower-cased) reason says the container runtime (Docker or containerd) did not
/// answer in time or could not inspect or stop a container.
fn is_runtime(lower: &str) -> bool {
    has(
        lower,
        &[
            "dockertimeouterror",
            "containerruntimetimeouterror",
            "cannotinspectcontainererror",
            "cannotstopcontainererror",
            "could not transition to",
        ],
    )
}

/// Whether a (lower-cased) reason says the container's process could not be started: its
/// executable missing from the image or its PATH, a path it needs missing, the runtime refusing
/// to create it (`executable file not found`, `stat ...: no such file or directory`).
fn is_command(lower: &str) -> bool {
    has(
        lower,
        &[
            "executable file not found",
            "starting container process caused",
            "unable to start container process",
            "failed to create new container runtime task",
            "oci runtime create failed",
            "mount callback failed",
        ],
    )
}

/// Classifies a stop (or the Spot warning of a running task).
pub fn classify(task: &EcsTaskStateChange) -> Classification {
    let reason = task.stopped_reason.as_deref().unwrap_or("");
    let lower = reason.to_ascii_lowercase();
    let code = task.stop_code.as_ref();
    let container_reasons: Vec<&str> = task
        .containers
        .iter()
        .filter_map(|c| c.reason.as_deref())
        .filter(|r| !r.trim().is_empty())
        .collect();
    // The task's reason and its containers': the EC2 agent and the console put the detail in
    // the container's reason under a generic task reason.
    let all = std::iter::once(reason)
        .chain(container_reasons.iter().copied())
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
    let container_says = |needle: &str| {
        container_reasons
            .iter()
            .any(|r| r.to_ascii_lowercase().contains(needle))
    };
    let oom = task.containers.iter().find(|c| {
        let r = c.reason.as_deref().unwrap_or("").to_ascii_lowercase();
        r.starts_with("outofmemoryerror")
            || r.contains("oom-killed")
            || (c.exit_code == Some(137) && r.contains("memory"))
    });
    let oom_at_start = all.contains("oom-killed");
    let failed_exit = task
        .containers
        .iter()
        .find(|c| c.exit_code.is_some_and(|e| e != 0));
    let unreachable = is_unreachable(&all);

    let cause = if matches!(
        code,
        Some(StopCode::TerminationNotice | StopCode::SpotInterruption)
    ) || all.contains("spot task was interrupted")
    {
        Cause::SpotInterruption
    } else if code == Some(&StopCode::UserInitiated) || lower.starts_with("task stopped by user") {
        Cause::UserInitiated
    } else if oom.is_some() || oom_at_start || all.contains("outofmemoryerror") {
        Cause::OutOfMemory
    } else if is_disk_full(&all) {
        Cause::DiskFull
    } else if is_wrong_architecture(&all) {
        Cause::ImageArchitecture
    } else if is_volume(&all) {
        Cause::Volume
    } else if is_runtime(&all) {
        Cause::ContainerRuntime
    } else if is_command(&all) {
        Cause::TaskFailedToStart
    } else if has(&all, &["cannotpullcontainer", "ecr registry auth"]) {
        Cause::ImagePull
    } else if is_logging(&all) {
        Cause::Logging
    } else if has(&all, &["secret data from ssm", "unable to retrieve secret"])
        || (all.contains("resourceinitializationerror")
            && has(
                &all,
                &["secret", "ssm", "parameter", "registry auth", "asm"],
            ))
    {
        Cause::Secrets
    } else if all.contains("resourceinitializationerror")
        || has(
            &all,
            &[
                "network interface",
                "network namespace",
                "eni-",
                " eni ",
                "insufficientfreeaddresses",
                "subnet",
            ],
        )
    {
        Cause::Network
    } else if all.contains("failed elb health checks") {
        Cause::ElbHealthCheck
    } else if lower.contains("failed container health checks")
        || container_says("failed container health checks")
    {
        Cause::ContainerHealthCheck
    } else if code == Some(&StopCode::TaskFailedToStart)
        || lower.starts_with("task failed to start")
    {
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
    } else if code == Some(&StopCode::EssentialContainerExited)
        || failed_exit.is_some()
        || lower.starts_with("essential container in task exited")
    {
        if failed_exit.is_none() && task.service_name().is_none() {
            Cause::Completed
        } else {
            Cause::EssentialContainerExited
        }
    } else {
        Cause::Unknown
    };

    // The words that say why: the task's reason, or a container's when the task's is generic.
    let why = if reason.is_empty() || lower.starts_with("essential container in task exited") {
        container_reasons.first().copied().unwrap_or(reason)
    } else {
        reason
    };
    let r = neutralise(why);
    let sentence = match cause {
        Cause::OutOfMemory => {
            let c = neutralise(oom.map(|c| c.name.as_str()).unwrap_or("a container"));
            let memory = task.memory.as_deref().unwrap_or("?");
            if oom_at_start {
                format!(
                    "Container {c} ran out of memory while it was starting (container init was OOM-killed); the task has {memory} MiB."
                )
            } else {
                match oom.and_then(|c| c.exit_code) {
                    Some(exit) => format!(
                        "Container {c} ran out of memory and was killed (exit code {exit}); the task has {memory} MiB."
                    ),
                    None => format!(
                        "Container {c} ran out of memory and was killed; the task has {memory} MiB."
                    ),
                }
            }
        }
        Cause::EssentialContainerExited => match failed_exit {
            Some(c) => format!(
                "Essential container {} exited with code {}{}.",
                neutralise(&c.name),
                c.exit_code.unwrap_or_default(),
                c.reason.as_deref().map(|r| format!(" ({})", neutralise(r))).unwrap_or_default()
            ),
            None if task.containers.iter().any(|c| c.exit_code.is_some()) => "An essential container of a service task exited with code 0: a service's containers must keep running.".into(),
            None => "An essential container of the task exited; the event gives no exit code.".into(),
        },
        Cause::ElbHealthCheck => format!("The load balancer marked the task unhealthy: {r}."),
        Cause::ContainerHealthCheck => "The container's own health check kept failing, so ECS replaced the task.".into(),
        Cause::ImagePull if unreachable => format!("The image could not be pulled because the task could not reach the registry: {r}"),
        Cause::ImagePull => format!("The image could not be pulled: {r}"),
        Cause::Secrets if unreachable => format!("The task could not reach Secrets Manager or SSM Parameter Store to fetch its secrets: {r}"),
        Cause::Secrets => format!("The task could not fetch its secrets or registry credentials: {r}"),
        Cause::Logging if unreachable => format!("The task could not reach CloudWatch Logs to start its log driver, so its containers never started: {r}"),
        Cause::Logging => format!("The task could not start its log driver, so its containers never started: {r}"),
        Cause::Network => format!("The task could not get its network interface: {r}"),
        Cause::DiskFull => format!("The task ran out of disk space while pulling or extracting its image: {r}"),
        Cause::Volume => format!("A volume of the task could not be created or mounted, so its containers never started: {r}"),
        Cause::ImageArchitecture => format!("The image is built for another CPU architecture than the task runs on: {r}"),
        Cause::ContainerRuntime => format!("The container runtime did not answer in time or could not handle the container, so ECS gave up on it: {r}"),
        Cause::TaskFailedToStart if is_command(&all) => format!("The container's process could not be started: its executable or a path it needs is not in the image. {r}"),
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
    let mut steps = next_steps(cause, task, is_command(&all));
    if unreachable {
        if let Some(endpoints) = match cause {
            Cause::ImagePull => {
                Some("ecr.api, ecr.dkr and the s3 gateway, or the registry's address")
            }
            Cause::Secrets => Some("secretsmanager or ssm, and kms for a customer key"),
            Cause::Logging => Some("logs"),
            _ => None,
        } {
            // The route first; the cause's own line about private subnets says it again.
            steps.retain(|s| !s.starts_with("Tasks in private subnets"));
            steps.insert(0, format!(
                "This is the route, not the tag or the permission: a task in a private subnet needs a NAT gateway or the VPC endpoints {endpoints}; its security group must allow outbound HTTPS (443) and the subnet's network ACL the replies; a task in a public subnet needs assignPublicIp ENABLED."
            ));
        }
    }
    Classification {
        cause,
        severity: cause.severity(),
        sentence,
        next_steps: steps,
    }
}

fn next_steps(cause: Cause, task: &EcsTaskStateChange, command: bool) -> Vec<String> {
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
            "Check the secret or parameter exists in that Region and account (SSM answers \"invalid parameters\" for one that does not), that a secret is not scheduled for deletion, and that a JSON key in valueFrom (arn:...:secret:name:key::) exists.",
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
        Cause::TaskFailedToStart if command => s(&[
            "Check the task definition's entryPoint and command: each argument is its own string ([\"node\", \"index.js\"], not [\"node index.js\"]), and the executable must be in the image at that path or on its PATH.",
            "Run the image with the same entry point locally (docker run --entrypoint ...); a volume mounted over one of the image's directories hides the files in it.",
            "A user set in the task definition must exist in the image's /etc/passwd, or be given as a numeric uid:gid.",
        ]),
        Cause::TaskFailedToStart => s(&[
            "Check the task definition: the entry point and command, the image's architecture (ARM64 or X86_64) against runtimePlatform, volumes and mount points.",
            "Read the stopped task's details in the console (linked below).",
        ]),
        Cause::DiskFull => s(&[
            "Give the task more ephemeral storage: ephemeralStorage.sizeInGiB in the task definition, 21 to 200 GiB on Fargate (the default 20 GiB holds the image both compressed and extracted).",
            "Or make the image smaller: a multi-stage build, no build caches or test data in it; fetch large files at start from S3 or mount EFS instead.",
            "On EC2, grow the instance's Docker volume or let the agent clean old images (ECS_IMAGE_CLEANUP_INTERVAL).",
        ]),
        Cause::Volume => s(&[
            "EFS: the file system needs a mount target in each Availability Zone of the task's subnets, and the VPC needs DNS resolution and DNS hostnames.",
            "The mount targets' security group must allow NFS (TCP 2049) from the task's security group.",
            "The root directory or access point path must exist on the file system (an access point with creationInfo creates it); with IAM authorization the task role needs elasticfilesystem:ClientMount (and ClientWrite).",
            "CannotCreateVolumeError: remove VOLUME instructions the image does not need, or check the volume's configuration in the task definition.",
        ]),
        Cause::ImageArchitecture => s(&[
            "Build the image for the task's CPU: docker buildx build --platform linux/amd64 (or linux/arm64); an image built on an Apple-silicon laptop is arm64 unless told.",
            "Or set the task definition's runtimePlatform.cpuArchitecture (X86_64 or ARM64) to the image's, or push a multi-architecture manifest.",
        ]),
        Cause::ContainerRuntime => s(&[
            "On Fargate this is usually the network: the task must reach ECR, S3, Secrets Manager or SSM and CloudWatch Logs through a NAT gateway or VPC endpoints within the start timeout (3 minutes).",
            "On EC2 the Docker daemon is slow or its disk busy: check the instance's CPU, memory and disk I/O and replace it if it stays slow; ECS_CONTAINER_START_TIMEOUT raises the limit.",
            "Read the stopped task's details (linked below); a single one is retried by the service.",
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
