//! The whole corpus of real CloudWatch alarm reasons (`events/corpus/alarm-reasons.json`, each
//! with its source) run through the condition sentence as a decision table: every documented
//! reason is put in words (value, comparison, threshold or band, datapoints, missing data), none
//! falls back to AWS's raw text.

use serde_json::{json, Value};

use super::render::condition;
use super::{parse, parse_all};
use crate::events::{AlarmStateChange, Event};
use crate::notify::neutralise;

const CORPUS: &str = include_str!("../../../events/corpus/alarm-reasons.json");

/// One corpus entry: its id, source, and the event it stands for.
struct Entry {
    id: String,
    source: String,
    documented: bool,
    reason: String,
    expect: Vec<String>,
    event: Event<AlarmStateChange>,
}

fn entries() -> Vec<Entry> {
    let all: Vec<Value> = serde_json::from_str(CORPUS).expect("the corpus is JSON");
    all.into_iter()
        .map(|e| {
            let id = e["id"].as_str().expect("an id").to_string();
            let event = if e["event"].is_object() {
                parse(e["event"].clone()).expect("a whole EventBridge event")
            } else if e["sns"].is_object() {
                let message = serde_json::to_string(&e["sns"]).expect("JSON");
                parse_all(
                    json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message}}]}),
                )
                .expect("an SNS alarm notification")
                .remove(0)
            } else {
                let mut state = json!({"value": e["state"], "reason": e["reason"]});
                if e["reasonData"].is_string() {
                    state["reasonData"] = e["reasonData"].clone();
                }
                parse(json!({
                    "detail-type": "CloudWatch Alarm State Change",
                    "source": "aws.cloudwatch",
                    "detail": {"alarmName": id, "state": state, "configuration": e["configuration"]}
                }))
                .expect("a reason")
            };
            Entry {
                reason: event.detail.state.reason.clone().unwrap_or_default(),
                source: e["source"].as_str().expect("a source").to_string(),
                documented: e["documented"].as_bool() != Some(false),
                expect: e["expect"]
                    .as_array()
                    .expect("expected words")
                    .iter()
                    .map(|w| w.as_str().expect("a word").to_string())
                    .collect(),
                id,
                event,
            }
        })
        .collect()
}

#[test]
fn the_corpus_is_large_and_every_entry_has_a_source_and_words() {
    let all = entries();
    assert!(all.len() >= 50, "{} entries", all.len());
    for e in &all {
        assert!(
            !e.source.is_empty() && !e.expect.is_empty() && !e.reason.is_empty(),
            "{}",
            e.id
        );
    }
}

#[test]
fn every_corpus_reason_reads_with_the_words_a_reader_would_give_it() {
    let mut failures = vec![];
    for e in entries() {
        let sentence = condition(&e.event.detail);
        let missing: Vec<&String> = e
            .expect
            .iter()
            .filter(|w| !sentence.contains(w.as_str()))
            .collect();
        if !missing.is_empty() {
            failures.push(format!(
                "{} (source: {}):\n  reason:   {}\n  sentence: {sentence}\n  missing:  {missing:?}",
                e.id, e.source, e.reason
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} entries:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn no_documented_corpus_reason_falls_back_to_the_raw_text() {
    let mut raw = vec![];
    let all = entries();
    for e in all.iter().filter(|e| e.documented) {
        let sentence = condition(&e.event.detail);
        if sentence.contains(&neutralise(&e.reason)) {
            raw.push(format!("{} (source: {}): {sentence}", e.id, e.source));
        }
    }
    assert!(
        raw.is_empty(),
        "{} of {} fall back to raw text:\n{}",
        raw.len(),
        all.len(),
        raw.join("\n")
    );
}
