//! The `autopilot:` resource tags: what the project remembers lives in AWS, on the resources.

/// Every tag this project writes or reads starts with this.
pub const PREFIX: &str = "autopilot:";

/// On a task-definition revision (pin-digest) or a service (follow-tag): the image it runs.
pub const IMAGE_TAG: &str = "autopilot:image-tag";
pub const IMAGE_DIGEST: &str = "autopilot:image-digest";
/// When that image was pushed (RFC 3339): a late event never rolls a service back.
pub const PUSHED_AT: &str = "autopilot:pushed-at";
/// The EventBridge event that caused the deploy.
pub const EVENT_ID: &str = "autopilot:event-id";
/// On a revision the deployer registered: the revision it replaced (kept when pruning).
pub const REPLACES: &str = "autopilot:replaces";
/// On a revision the deployer registered: who registered it (pruning only touches these).
pub const REGISTERED_BY: &str = "autopilot:registered-by";
/// On a service: the circuit-breaker rollback the deployer learnt of, `<rollback deployment id>
/// <failed deployment id>` (`-` when unknown), so the rollback's completion is told from a deploy
/// whatever order the events arrive in.
pub const ROLLBACK: &str = "autopilot:rollback";
/// On a service: `true` holds every deploy back.
pub const DEPLOY_FREEZE: &str = "autopilot:deploy-freeze";

/// On a service: when off-hours put it to sleep. Its presence is what "asleep" means; the
/// alarm-notifier pages no one for a sleeping service.
pub const ASLEEP_SINCE: &str = "autopilot:asleep-since";

/// On a service: the capacity to restore after a scale to zero (off-hours, a crash loop),
/// `desired=2 min=2 max=10`, written before anything changes (see `capacity::Restore`).
pub const RESTORE: &str = "autopilot:restore";
/// On an alarm: `off-hours` when off-hours turned its actions off for the night; on waking, only
/// the alarms carrying it are turned back on (never one a person had turned off).
pub const MUTED_BY: &str = "autopilot:muted-by";
/// On a service: `enabled` selects it for off-hours (the default `SELECT_TAG`).
pub const OFF_HOURS: &str = "autopilot:off-hours";
/// On a service: when off-hours began putting it to sleep (RFC 3339), written with
/// `autopilot:restore` before anything changes and removed last when it wakes. It says the
/// record is off-hours' own (not a crash loop's), so a sleep or a wake that died half-way is
/// finished from it; `autopilot:asleep-since` is only written once the service is at zero.
pub const SLEEP_STARTED_AT: &str = "autopilot:sleep-started-at";
/// On a service: the bad off-hours selection tag value last reported to chat (see
/// `fleet::report`), so each mistake is said once.
pub const OFF_HOURS_TAG_PROBLEM: &str = "autopilot:off-hours-tag-problem";
/// On a service: its own on-hours (`Mon-Fri 08:00-18:00`, windows separated by `/`, days by
/// `-` ranges or `+`), instead of the install's `ON_HOURS`.
pub const OFF_HOURS_ON: &str = "autopilot:off-hours-on";
/// On a service: the IANA time zone of its hours (`America/Los_Angeles`), instead of the
/// install's `TIMEZONE`.
pub const OFF_HOURS_TIMEZONE: &str = "autopilot:off-hours-timezone";
/// On a service: its own holidays (`2026-12-24 2026-12-25`), instead of the install's.
pub const OFF_HOURS_HOLIDAYS: &str = "autopilot:off-hours-holidays";
/// On a service: the bad schedule tag value last reported to chat, so each mistake is said once.
pub const OFF_HOURS_SCHEDULE_PROBLEM: &str = "autopilot:off-hours-schedule-problem";
/// On a service: an RFC 3339 time until which off-hours keeps it awake.
pub const KEEP_AWAKE_UNTIL: &str = "autopilot:keep-awake-until";
/// On a service: when the last crash-loop alert went out (RFC 3339).
pub const CRASH_LOOP_ALERTED_AT: &str = "autopilot:crash-loop-alerted-at";
/// On a service: the id of the stopped task whose crash-loop alert `CRASH_LOOP_ALERTED_AT`
/// remembers (its delivery again finishes what it started; another stop stays quiet).
pub const CRASH_LOOP_TASK: &str = "autopilot:crash-loop-task";
/// On a service: when a crash loop scaled it to zero.
pub const CRASH_LOOP_STOPPED_AT: &str = "autopilot:crash-loop-stopped-at";
/// On a standalone task: `on-interruption` or `on-failure` opts it into restarts.
pub const RESTART: &str = "autopilot:restart";
/// On a standalone task: how many times its lineage was restarted.
pub const ATTEMPT: &str = "autopilot:attempt";
/// On an alarm, or a service (its stops and alarms without their own): `critical`, `warning`
/// or `info`.
pub const SEVERITY: &str = "autopilot:severity";
/// On an alarm, or a service (for its alarms without their own): a runbook URL.
pub const RUNBOOK: &str = "autopilot:runbook";
/// On a service: `off` opts it out of the task-watcher (no alert, restart or crash-loop action).
pub const WATCH: &str = "autopilot:watch";

/// On a service (fleet mode): the ECR repository (its name) whose pushes deploy it.
pub const DEPLOY: &str = "autopilot:deploy";
/// On a service (fleet mode): which pushed tags deploy it, separated by spaces: an exact tag
/// (`latest`, `v1.4.2`) or `prefix:<start>` (`prefix:v`); absent: every tag.
pub const DEPLOY_TAGS: &str = "autopilot:deploy-tags";
/// On a service (fleet mode): the container whose image changes (needed when it has several).
pub const DEPLOY_CONTAINER: &str = "autopilot:deploy-container";
/// On a service (fleet mode): `pin-digest` (the default) or `follow-tag`.
pub const DEPLOY_STRATEGY: &str = "autopilot:deploy-strategy";
/// On a service (fleet mode): the bad `autopilot:` tag values last reported to chat, so each
/// mistake is said once.
pub const TAG_PROBLEM: &str = "autopilot:tag-problem";
/// On a service (fleet mode): the bad `autopilot:watch` value the task-watcher last reported
/// to chat (it once also held a bad `autopilot:severity`, which is still recognised there).
pub const WATCH_TAG_PROBLEM: &str = "autopilot:watch-tag-problem";
/// On a service (fleet mode): the bad `autopilot:severity` value the task-watcher last reported
/// to chat. One memory per tag, so two bad values never overwrite each other.
pub const SEVERITY_TAG_PROBLEM: &str = "autopilot:severity-tag-problem";

/// On a service (the deploy-gate, which reads them at the start of each gated stage): the
/// CloudWatch alarms (names, separated by spaces) that must be `OK` for a release to pass.
pub const GATE_ALARMS: &str = "autopilot:gate-alarms";
/// On a service: `true` lets an alarm in `INSUFFICIENT_DATA` pass the gate.
pub const GATE_ALLOW_INSUFFICIENT_DATA: &str = "autopilot:gate-allow-insufficient-data";
/// On a service: the production requests a release must serve at a gated stage.
pub const GATE_MIN_REQUESTS: &str = "autopilot:gate-min-requests";
/// On a service: the test requests a release must serve before production traffic.
pub const GATE_MIN_TEST_REQUESTS: &str = "autopilot:gate-min-test-requests";
/// On a service: the healthy targets a release must have (absent: all its tasks).
pub const GATE_MIN_HEALTHY_TARGETS: &str = "autopilot:gate-min-healthy-targets";
/// On a service: the largest share (percent) of a release's requests that may end in a 5XX.
pub const GATE_MAX_ERROR_PERCENT: &str = "autopilot:gate-max-error-percent";
/// On a service: minutes each gated stage watches before it may pass.
pub const GATE_SOAK_MINUTES: &str = "autopilot:gate-soak-minutes";
/// On a service: minutes the gate waits after the soak for what is missing before it fails.
pub const GATE_PATIENCE_MINUTES: &str = "autopilot:gate-patience-minutes";

/// AWS's limits on a resource's tags (ECS, CloudWatch, Application Auto Scaling alike): at most
/// 50 tags per resource (those with the reserved `aws:` prefix do not count), values of at most
/// 256 Unicode characters.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;
pub const MAX_VALUE_CHARS: usize = 256;

/// Whether a tag key or value starts with `aws:` in any case: AWS reserves the prefix, and
/// TagResource and RegisterTaskDefinition refuse tags that carry it.
pub fn is_reserved(key_or_value: &str) -> bool {
    key_or_value
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("aws:"))
}

/// A tag value cut to [`MAX_VALUE_CHARS`] characters, ending in `...` when it was cut.
pub fn fit_value(v: &str) -> String {
    if v.chars().count() <= MAX_VALUE_CHARS {
        return v.to_string();
    }
    let mut cut: String = v.chars().take(MAX_VALUE_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

/// Whether a tag value holds only what ECS, Application Auto Scaling and CloudWatch accept:
/// letters, digits, spaces and `+ - = . _ : / @`, at most 256 characters.
pub fn is_valid_value(v: &str) -> bool {
    v.chars().count() <= 256
        && v.chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || "+-=._:/@".contains(c))
}

/// On the hub's chat topic (organization mode): a member account whose role could not be
/// assumed, already reported, `autopilot:unreachable-<account id>` = the error code. Removed
/// when the account is reachable again, so a new failure is reported again.
pub const UNREACHABLE_PREFIX: &str = "autopilot:unreachable-";

#[cfg(test)]
mod tests {
    #[test]
    fn tag_values_follow_the_aws_character_set() {
        assert!(super::is_valid_value("2024-05-01T10:00:00Z"));
        assert!(super::is_valid_value("sha256:abc"));
        assert!(!super::is_valid_value("{\"desired\":2}"));
    }

    #[test]
    fn the_aws_prefix_is_reserved_in_any_case_and_values_fit_their_limit() {
        for reserved in ["aws:cloudformation:stack-name", "AWS:x", "Aws:"] {
            assert!(super::is_reserved(reserved), "{reserved}");
        }
        for free in ["autopilot:restart", "team", "aws", "my-aws:x", "a\u{e9}ws:"] {
            assert!(!super::is_reserved(free), "{free}");
        }
        let long = "x".repeat(300);
        let fitted = super::fit_value(&long);
        assert_eq!(fitted.chars().count(), super::MAX_VALUE_CHARS);
        assert!(fitted.ends_with("...") && super::is_valid_value(&fitted));
        let exact = "\u{e9}".repeat(256);
        assert_eq!(
            super::fit_value(&exact),
            exact,
            "256 characters fit, whatever their bytes"
        );
    }
}
