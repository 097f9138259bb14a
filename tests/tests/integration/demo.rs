//! `make demo`'s day as an end-to-end test: the template deployed into the emulator with
//! samconfig's `dev` parameters, every event routed by the stack's own rules, the release
//! functions run with their deployed environment, and each step's effect asserted
//! (`integration_tests::day`).

use integration_tests::day::{self, StepRecord, Transcript};
use serde_json::Value;

fn titles(steps: &[StepRecord]) -> Vec<&str> {
    steps.iter().map(|s| s.title.as_str()).collect()
}

fn changed<'a>(step: &'a StepRecord, fact: &str) -> Option<(&'a str, &'a str)> {
    step.changes
        .iter()
        .find(|(k, _, _)| k == fact)
        .map(|(_, before, after)| (before.as_str(), after.as_str()))
}

fn thread(n: &Value) -> &str {
    n["metadata"]["threadId"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn the_demo_plays_the_day_through_the_deployed_stack() {
    let mut transcript = Transcript::default();
    let record = day::play(&mut transcript)
        .await
        .unwrap_or_else(|failed| panic!("{failed}\n\nwhat the demo said:\n{transcript}"));
    let names = record.names.clone().expect("the stack's names");
    // samconfig's dev environment.
    assert_eq!(names.stack, "transparent-trust-development");
    assert_eq!(names.environment, "development");
    let service = format!("service {}-service-{}", names.project, names.environment);
    let worker = format!("service {}-worker-{}", names.project, names.environment);
    let steps = &record.steps;
    let t = titles(steps);
    assert_eq!(t.len(), 11, "{t:?}");
    for (title, start) in t.iter().zip([
        "A second service joins",
        "An image is pushed and deployed",
        "The deployment completes",
        "The same image is pushed under another tag",
        "A task is killed for memory",
        "The CPU alarm fires",
        "The CPU alarm recovers",
    ]) {
        assert!(title.starts_with(start), "{title} vs {start}");
    }
    assert!(t[7].ends_with("19:00: off-hours begin"), "{}", t[7]);
    assert!(
        t[8].ends_with("21:00: the worker's keep-awake ends"),
        "{}",
        t[8]
    );
    assert!(t[9].ends_with("07:00: on-hours again"), "{}", t[9]);
    assert_eq!(t[10], "A week on: the weekly account");
    // The week's message, read back from what the day's functions emitted.
    let weekly = steps[10]
        .chat
        .iter()
        .map(|n| n.to_string())
        .find(|n| n.contains("weekly-account"))
        .expect("the weekly message");
    assert!(
        weekly.contains("Deploys: 1 completed") && weekly.contains("out-of-memory 1"),
        "{weekly}"
    );
    for s in steps {
        assert!(!s.checks.is_empty(), "{} checked nothing", s.title);
    }

    // The push: routed to the deployer alone, which pinned the service to the pushed digest.
    let push = &steps[1];
    assert_eq!(push.ran, [("deployer".to_string(), 1)]);
    let (_, image) = changed(push, &format!("{service}: image")).expect("the image changed");
    assert!(image.contains("@sha256:"), "{image}");
    let (before, after) = changed(push, &format!("{service}: revision")).expect("new revision");
    assert_ne!(before, after);
    assert_eq!(push.chat.len(), 1);

    // The completion, in the deploy's thread.
    let completed = &steps[2];
    assert_eq!(completed.results[0]["deployment"]["outcome"], "completed");
    assert_eq!(thread(&completed.chat[0]), thread(&push.chat[0]));

    // The same digest again: skipped, nothing changed, nothing said.
    let again = &steps[3];
    assert_eq!(again.ran, [("deployer".to_string(), 1)]);
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert!(again.chat.is_empty(), "{:?}", again.chat);

    // The out-of-memory stop, explained.
    let oom = &steps[4];
    assert_eq!(oom.ran, [("task-watcher".to_string(), 1)]);
    assert_eq!(oom.results[0]["cause"], "out-of-memory");
    assert_eq!(oom.chat.len(), 1);

    // The alarm and its recovery, one thread: the alarm's ARN.
    let (fired, recovered) = (&steps[5], &steps[6]);
    assert_eq!(fired.ran, [("alarm-notifier".to_string(), 1)]);
    assert!(thread(&fired.chat[0]).ends_with("-cpu-high"));
    assert_eq!(thread(&fired.chat[0]), thread(&recovered.chat[0]));

    // 19:00: the service and its bounds to zero, its three alarms muted, the worker kept awake.
    let evening = &steps[7];
    assert_eq!(evening.ran, [("off-hours".to_string(), 1)]);
    assert_eq!(
        changed(evening, &format!("{service}: desired count")),
        Some(("1", "0"))
    );
    assert_eq!(
        changed(evening, &format!("{service}: scaling bounds")),
        Some(("1..4", "0..0"))
    );
    let muted = evening
        .changes
        .iter()
        .filter(|(k, b, a)| k.ends_with(": actions") && b == "enabled" && a == "disabled")
        .count();
    assert_eq!(muted, 3, "{:?}", evening.changes);
    assert!(
        evening
            .changes
            .iter()
            .all(|(k, _, _)| !k.starts_with(&worker)),
        "{:?}",
        evening.changes
    );

    // 21:00: the worker sleeps.
    assert_eq!(
        changed(&steps[8], &format!("{worker}: desired count")),
        Some(("1", "0"))
    );

    // 07:00: everything as it was before the night.
    let end = &record.facts;
    assert_eq!(end[&format!("{service}: desired count")], "1");
    assert_eq!(end[&format!("{service}: scaling bounds")], "1..4");
    assert_eq!(end[&format!("{worker}: desired count")], "1");
    assert_eq!(end[&format!("{worker}: scaling bounds")], "1..3");
    assert!(end
        .iter()
        .filter(|(k, _)| k.ends_with(": actions"))
        .all(|(_, v)| v == "enabled"));
    for tag in ["restore", "asleep-since", "muted-by"] {
        assert!(
            end.keys()
                .all(|k| !k.contains(&format!("tag autopilot:{tag}"))),
            "{end:?}"
        );
    }

    // Nothing left running: the emulator it started is gone.
    assert!(
        !std::path::Path::new(&format!("/proc/{}", record.emulator_pid)).exists(),
        "the emulator (pid {}) is still running",
        record.emulator_pid
    );
}

#[tokio::test]
async fn a_rule_pattern_that_misses_stops_the_day_at_the_step_it_shows_in() {
    let mut transcript = Transcript::default();
    let failed = day::play_with(&mut transcript, |emu, names| {
        // The image rule now follows another repository: the push reaches no function.
        let rule = format!("{}push", names.rule_prefix());
        let pattern = serde_json::json!({"source": ["aws.ecr"], "detail-type": ["ECR Image Action"],
            "detail": {"repository-name": ["another-repository"]}});
        emu.json(
            "events",
            "AWSEvents.PutRule",
            &serde_json::json!({"Name": rule, "EventPattern": pattern.to_string()}),
        );
    })
    .await
    .expect_err("the day goes on with a rule that misses");
    assert_eq!(failed.step, "An image is pushed and deployed", "{failed}");
    assert!(
        failed.what.contains("reached []") && failed.what.contains("Some(\"deployer\")"),
        "{failed}"
    );
    assert!(
        transcript.to_string().contains("ECR: PutImage"),
        "{transcript}"
    );
}
