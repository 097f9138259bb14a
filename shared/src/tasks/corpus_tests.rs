//! The classifier against real stop reasons: every entry of `events/corpus/stop-reasons.json`
//! (gathered from AWS's docs and public issue trackers, each with its source) as a decision table.

use serde::Deserialize;
use serde_json::{json, Value};

use super::classify::{classify, Cause};
use crate::events::EcsTaskStateChange;

const CORPUS: &str = include_str!("../../../events/corpus/stop-reasons.json");

#[derive(Deserialize)]
struct Corpus {
    stops: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    id: String,
    source: String,
    /// The detail fields the source gives, as AWS spells them.
    detail: Value,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    cause: String,
    /// A phrase the next steps (or the sentence) must contain.
    advice: Option<String>,
}

fn corpus() -> Vec<Entry> {
    serde_json::from_str::<Corpus>(CORPUS)
        .expect("the corpus is JSON of its documented shape")
        .stops
}

/// The entry as the watcher receives it: its fields over a stopped task of a service (the
/// corpus gives what its source shows; the ARNs and status are the test's).
fn task(entry: &Entry) -> EcsTaskStateChange {
    let mut detail = json!({
        "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/corpus/0123456789abcdef0123456789abcdef",
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/corpus",
        "lastStatus": "STOPPED",
        "group": "service:web",
        "memory": "512",
    });
    if let (Some(base), Some(fields)) = (detail.as_object_mut(), entry.detail.as_object()) {
        for (k, v) in fields {
            base.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(detail).unwrap_or_else(|e| {
        panic!(
            "{} ({}): the detail does not parse: {e}",
            entry.id, entry.source
        )
    })
}

#[test]
fn the_corpus_is_large_enough_and_every_entry_names_its_source_and_a_known_cause() {
    let entries = corpus();
    assert!(entries.len() >= 60, "{} entries", entries.len());
    let codes: Vec<&str> = Cause::ALL.into_iter().map(Cause::code).collect();
    let mut ids = std::collections::HashSet::new();
    for e in &entries {
        assert!(ids.insert(e.id.as_str()), "{}: the id is used twice", e.id);
        assert!(
            e.source.starts_with("https://"),
            "{}: source {:?}",
            e.id,
            e.source
        );
        assert!(
            codes.contains(&e.expected.cause.as_str()),
            "{} ({}): {:?} is not a cause",
            e.id,
            e.source,
            e.expected.cause
        );
    }
}

#[test]
fn every_real_stop_gets_the_cause_and_advice_a_reader_would_give() {
    let mut wrong = Vec::new();
    for e in corpus() {
        let c = classify(&task(&e));
        if c.cause.code() != e.expected.cause {
            wrong.push(format!(
                "{} ({}): {} instead of {}: {}",
                e.id,
                e.source,
                c.cause.code(),
                e.expected.cause,
                c.sentence
            ));
            continue;
        }
        if let Some(phrase) = &e.expected.advice {
            let said = c.next_steps.iter().chain(std::iter::once(&c.sentence));
            if !said.clone().any(|s| s.contains(phrase.as_str())) {
                wrong.push(format!(
                    "{} ({}): the advice does not say {phrase:?}: {} / {:?}",
                    e.id, e.source, c.sentence, c.next_steps
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of the corpus:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn no_real_stop_is_unknown() {
    let unknown: Vec<String> = corpus()
        .iter()
        .filter(|e| classify(&task(e)).cause == Cause::Unknown)
        .map(|e| format!("{} ({})", e.id, e.source))
        .collect();
    assert!(unknown.is_empty(), "unknown: {unknown:#?}");
}

#[test]
fn a_network_failure_dressed_as_a_pull_secrets_or_logs_failure_sends_the_reader_to_the_route() {
    for e in corpus() {
        if e.expected.advice.as_deref() != Some("the route") {
            continue;
        }
        let c = classify(&task(&e));
        let first = c.next_steps.first().map(String::as_str).unwrap_or("");
        assert!(
            first.contains("the route") && first.contains("NAT"),
            "{} ({}): the first step must be the route: {:?}",
            e.id,
            e.source,
            c.next_steps
        );
    }
}
