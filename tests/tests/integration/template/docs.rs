//! The docs: every page reachable from the README, every link to a file and heading that exist

use super::*;

/// The text of a Markdown file outside its fenced code blocks.
pub(super) fn outside_code_blocks(markdown: &str) -> String {
    let mut fenced = false;
    let mut kept = String::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// GitHub's anchor of a heading: lower-case, spaces to `-`, punctuation other than `-` and `_`
/// removed.
pub(super) fn heading_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings, in order (a repeated one is repeated).
pub(super) fn heading_anchors(markdown: &str) -> Vec<String> {
    outside_code_blocks(markdown)
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| heading_anchor(l.trim_start_matches('#')))
        .collect()
}

/// The targets of a Markdown file's inline links (`[text](target)`) outside code blocks.
pub(super) fn link_targets(markdown: &str) -> Vec<String> {
    outside_code_blocks(markdown)
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(str::to_string)
        .collect()
}

/// What is wrong with the links of the README and the docs pages: a page the README does not
/// link to, a relative link to a file that does not exist or to a heading its file does not
/// have, a heading repeated on one page (GitHub would give the second another anchor).
pub(super) fn docs_link_problems(root: &std::path::Path) -> Vec<String> {
    let mut files = vec![root.join("README.md")];
    let mut pages: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    files.extend(pages.iter().cloned());
    let name = |p: &std::path::Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut problems = vec![];
    let mut linked_from_readme = BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a markdown file");
        let mut seen = BTreeSet::new();
        for anchor in heading_anchors(&text) {
            if !seen.insert(anchor.clone()) {
                problems.push(format!("{}: the heading #{anchor} is repeated", name(file)));
            }
        }
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
            let linked = if path.is_empty() {
                file.clone()
            } else {
                file.parent().expect("a folder").join(path)
            };
            let Ok(linked) = linked.canonicalize() else {
                problems.push(format!("{}: ({target}) names no file", name(file)));
                continue;
            };
            if *file == root.join("README.md") {
                linked_from_readme.insert(linked.clone());
            }
            if !anchor.is_empty() {
                let headings = std::fs::read_to_string(&linked)
                    .map(|t| heading_anchors(&t))
                    .unwrap_or_default();
                if !headings.iter().any(|h| h == anchor) {
                    problems.push(format!(
                        "{}: ({target}): {} has no heading #{anchor}",
                        name(file),
                        name(&linked)
                    ));
                }
            }
        }
    }
    for page in &pages {
        if !linked_from_readme.contains(&page.canonicalize().expect("a page")) {
            problems.push(format!("{} is not linked from README.md", name(page)));
        }
    }
    problems
}

#[test]
fn readme_links_every_docs_page_and_every_link_of_the_docs_leads_somewhere() {
    assert_eq!(
        heading_anchor(" What `make demo` does"),
        "what-make-demo-does"
    );
    assert_eq!(
        heading_anchor("Build and deploy, from an empty account"),
        "build-and-deploy-from-an-empty-account"
    );
    let root = integration_tests::workspace_root();
    assert_eq!(docs_link_problems(&root), Vec::<String>::new());
}

#[test]
fn overrides_on_the_command_line_replace_samconfigs_so_alone_they_are_refused_on_a_new_stack() {
    // The command the README gave before: SAM sends only these two, a new stack takes every
    // other parameter's default (Environment=production, no VPC) and the Rules refuse it.
    let t = translate();
    let dir = sam_dir_as_a_user_fills_it();
    let sent = sam_deploy_parameters(
        &dir,
        &[
            "--config-env",
            "dev",
            "--parameter-overrides",
            "EnableAutoscaling=false",
            "DesiredCount=0",
        ],
    );
    assert_eq!(sent.len(), 2, "{sent:?}");
    let mut stack: BTreeMap<String, String> = BTreeMap::new();
    for (k, p) in t["Parameters"].as_object().expect("Parameters") {
        if let Some(d) = p.get("Default") {
            stack.insert(k.clone(), d.as_str().map_or(d.to_string(), str::to_string));
        }
    }
    stack.extend(sent);
    assert_eq!(stack["Environment"], "production");
    assert_eq!(refused(&t, &stack), ["the template's Rules refuse the set"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn samconfig_environments_use_only_template_parameters_with_valid_values() {
    let t = translate();
    let dir = sam_dir_as_a_user_fills_it();
    for env in ["dev", "prod"] {
        let params = sam_deploy_parameters(&dir, &["--config-env", env]);
        assert!(params.len() > 20, "{env}: {params:?}");
        assert_eq!(refused(&t, &params), Vec::<String>::new(), "{env}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every name, description and tag value of the translated template with the longest
/// `ProjectName` and `Environment` their patterns allow, checked by `tools/limits.py` against
/// botocore's API models (min, max, pattern) and, where the limit is only in the API
/// reference's prose, against that.
pub(super) fn limits(t: &Value, scope: &str) -> Value {
    let file = std::env::temp_dir().join(format!(
        "autopilot-limits-{}-{}.json",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::write(&file, t.to_string()).expect("write");
    let out = python_tool("limits.py", &[file.to_str().expect("path"), scope]);
    let _ = std::fs::remove_file(&file);
    out
}

#[test]
fn no_rule_takes_the_name_a_rule_of_another_logical_id_had_in_the_last_release() {
    // The last release made its rules from SAM events (logical ids <Function><Event>); this one
    // declares them itself. On a stack update CloudFormation creates a resource whose logical id
    // is new before it deletes the old one, so a new rule with an old rule's name fails with
    // "already exists": every name must be new.
    let last_release = [
        "autopilot-image-pushed",
        "autopilot-deployment-state",
        "autopilot-task-stopped",
        "autopilot-alarm-state",
        "autopilot-off-hours",
    ];
    let t = translate();
    for (id, rule) in of_type(&t, "AWS::Events::Rule") {
        let name = rule["Properties"]["Name"]["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: a rule named by Fn::Sub"));
        let suffix = name
            .strip_prefix("${ProjectName}-${Environment}-")
            .unwrap_or_else(|| panic!("{id}: {name}"));
        let was_sam_event = id.starts_with("AlarmNotifierFunction");
        assert!(
            was_sam_event || !last_release.contains(&suffix),
            "{id} is named {name}, as a rule of the last release was"
        );
    }
}

#[test]
fn every_name_description_and_tag_fits_awss_limits_with_the_longest_parameters() {
    let t = translate();
    for scope in ["stack", "account"] {
        let checked = limits(&t, scope);
        assert_eq!(checked["violations"], json!([]), "{scope}");
        assert!(checked["checked"].as_u64() > Some(90), "{scope}: {checked}");
    }
    // The check sees what AWS refuses: an EventBridge rule name over 64 characters and an
    // apostrophe in a security group rule's description.
    let mut bad = t.clone();
    bad["Resources"]["ImagePushedRule"]["Properties"]["Name"] =
        json!({"Fn::Sub": "${ProjectName}-${Environment}-autopilot-deployment-state"});
    bad["Resources"]["TaskSecurityGroup"]["Properties"]["SecurityGroupEgress"][0]["Description"] =
        json!("HTTPS to the application's APIs");
    let found = limits(&bad, "stack");
    let what: Vec<(String, u64)> = found["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| {
            (
                v["resource"].as_str().unwrap_or_default().to_string(),
                v["length"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        what,
        [
            ("ImagePushedRule".to_string(), 68),
            ("TaskSecurityGroup".to_string(), 31)
        ]
    );
}
