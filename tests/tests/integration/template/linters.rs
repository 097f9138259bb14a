//! Linters

use super::*;

/// Runs a tool; returns (success, stdout + stderr).
pub(super) fn run(command: &mut Command) -> (bool, String) {
    let out = command
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn cfn_lint_finds_nothing_in_the_template() {
    let (ok, output) = run(Command::new(tool(".venv-sam", "cfn-lint")).arg(template_path()));
    assert!(ok && output.trim().is_empty(), "cfn-lint:\n{output}");
}

#[test]
fn sam_validate_lint_accepts_the_template() {
    let (ok, output) = run(Command::new(tool(".venv-sam", "sam"))
        .args(["validate", "--lint", "--region", REGION, "--template-file"])
        .arg(template_path()));
    assert!(ok, "sam validate --lint:\n{output}");
}

#[test]
fn checkov_fails_no_check_and_every_skip_says_why() {
    // Both the template as written and as translated (the roles and functions SAM generates).
    let translated =
        std::env::temp_dir().join(format!("autopilot-checkov-{}.json", std::process::id()));
    std::fs::write(&translated, translate().to_string()).expect("write the translated template");
    let (_, output) = run(Command::new(tool(".venv-checkov", "checkov"))
        .args([
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--skip-download",
            "--quiet",
            "--compact",
        ])
        .arg("-f")
        .arg(template_path())
        .arg("-f")
        .arg(&translated));
    let _ = std::fs::remove_file(&translated);
    let start = output.find(['{', '[']).unwrap_or(0);
    let report: Value = serde_json::from_str(&output[start..])
        .unwrap_or_else(|e| panic!("checkov did not print a JSON report ({e}):\n{output}"));
    let reports = match report {
        Value::Array(all) => all,
        one => vec![one],
    };
    let mut passed = 0;
    for r in &reports {
        let results = &r["results"];
        let failed: Vec<String> = results["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{} {} ({})", c["check_id"], c["resource"], c["file_path"]))
            .collect();
        assert!(failed.is_empty(), "checkov failed checks: {failed:#?}");
        for skipped in results["skipped_checks"].as_array().into_iter().flatten() {
            let reason = skipped["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or("");
            assert!(
                reason.len() > 20,
                "checkov skip {} on {} gives no reason",
                skipped["check_id"],
                skipped["resource"]
            );
        }
        assert_eq!(r["summary"]["failed"], 0, "{}", r["summary"]);
        passed += r["summary"]["passed"].as_u64().unwrap_or(0);
    }
    assert!(
        passed > 100,
        "checkov ran only {passed} checks: {reports:?}"
    );
}
