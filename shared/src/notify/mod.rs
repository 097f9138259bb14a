//! Chat notifications: the model, its AWS Chatbot custom-notification rendering, its plain-text
//! (email) rendering, and publishing both to SNS with `MessageStructure=json`.

mod neutralise;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

pub use neutralise::neutralise;

/// How bad it is; picks the emoji and travels as a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Success,
    Info,
    Warning,
    Critical,
}

impl Severity {
    /// The Slack emoji shortcode for the title.
    pub fn emoji(self) -> &'static str {
        match self {
            Severity::Success => ":large_green_circle:",
            Severity::Info => ":information_source:",
            Severity::Warning => ":warning:",
            Severity::Critical => ":red_circle:",
        }
    }

    /// The severity an `autopilot:severity` tag value names (`critical`, `warning`, `info`,
    /// any case); `None` for anything else.
    pub fn from_tag(value: &str) -> Option<Severity> {
        match value.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Success => "success",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One chat notification. Text that came from outside (stop reasons, tags, descriptions) must be
/// passed through [`neutralise`] before it is put here; the links this code builds itself use
/// Slack's `<url|text>` form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Notification {
    /// Stable per occurrence, so a duplicate delivery renders the same notification.
    pub id: String,
    pub severity: Severity,
    /// The title without its emoji.
    pub title: String,
    pub description: String,
    pub next_steps: Vec<String>,
    pub keywords: Vec<String>,
    /// Notifications with one thread id read as one thread in chat.
    pub thread_id: String,
    pub summary: String,
    pub event_type: String,
    pub related_resources: Vec<String>,
    pub additional_context: BTreeMap<String, String>,
}

/// Chatbot's limits, with room to spare.
const MAX_TITLE: usize = 250;
const MAX_DESCRIPTION: usize = 3500;
const MAX_NEXT_STEPS: usize = 8;
const MAX_SUBJECT: usize = 100;

/// Building one: every function starts from [`Notification::new`] and adds what it knows, so
/// ids, threads, facts and the dry-run mark read the same way everywhere.
impl Notification {
    /// A notification with its stable id (a duplicate delivery renders the same one), its
    /// severity, its title (also its summary) and the thread it belongs to.
    pub fn new(
        id: impl Into<String>,
        severity: Severity,
        title: impl Into<String>,
        thread_id: impl Into<String>,
    ) -> Self {
        let title = title.into();
        Notification {
            id: id.into(),
            severity,
            summary: title.clone(),
            title,
            description: String::new(),
            next_steps: vec![],
            keywords: vec![],
            thread_id: thread_id.into(),
            event_type: String::new(),
            related_resources: vec![],
            additional_context: BTreeMap::new(),
        }
    }

    /// The body of the message.
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// A summary other than the title (the email subject and Chatbot's summary).
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    /// A new title, which is also the summary.
    pub fn retitle(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self.summary = self.title.clone();
        self
    }

    /// What kind of event this is (`deploy-started`, `task-stopped`...).
    pub fn event_type(mut self, event_type: impl Into<String>) -> Self {
        self.event_type = event_type.into();
        self
    }

    /// What to do, in order.
    pub fn next_steps(mut self, steps: impl IntoIterator<Item = String>) -> Self {
        self.next_steps.extend(steps);
        self
    }

    /// Words a channel can filter on.
    pub fn keywords(mut self, keywords: impl IntoIterator<Item = String>) -> Self {
        self.keywords.extend(keywords);
        self
    }

    /// The ARNs the message is about.
    pub fn resources(mut self, arns: impl IntoIterator<Item = String>) -> Self {
        self.related_resources.extend(arns);
        self
    }

    /// Facts shown as key and value.
    pub fn facts(mut self, facts: impl IntoIterator<Item = (String, String)>) -> Self {
        self.additional_context.extend(facts);
        self
    }

    /// Marks a dry run the one way every function does: the title (and the summary, when it is
    /// the title) end with `[dry run]`.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        if dry_run {
            if self.summary == self.title {
                self.summary.push_str(dry_mark(true));
            }
            self.title.push_str(dry_mark(true));
        }
        self
    }

    /// The AWS Chatbot custom-notification JSON.
    pub fn to_chatbot(&self) -> serde_json::Value {
        let additional: serde_json::Map<String, serde_json::Value> = self
            .additional_context
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({
            "version": "1.0",
            "source": "custom",
            "id": self.id,
            "content": {
                "textType": "client-markdown",
                "title": truncate(&format!("{} {}", self.severity.emoji(), self.title), MAX_TITLE),
                "description": truncate(&self.description, MAX_DESCRIPTION),
                "nextSteps": self.next_steps.iter().take(MAX_NEXT_STEPS).collect::<Vec<_>>(),
                "keywords": self.keywords,
            },
            "metadata": {
                "threadId": self.thread_id,
                "summary": truncate(&self.summary, MAX_TITLE),
                "eventType": self.event_type,
                "relatedResources": self.related_resources,
                "additionalContext": additional,
            }
        })
    }

    /// The plain-text rendering (email): Slack links become `text (url)`.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "[{}] {}\n\n{}\n",
            self.severity.as_str().to_uppercase(),
            self.title,
            unlink(&self.description)
        );
        if !self.next_steps.is_empty() {
            out.push_str("\nNext steps:\n");
            for step in &self.next_steps {
                out.push_str(&format!("- {}\n", unlink(step)));
            }
        }
        if !self.additional_context.is_empty() {
            out.push('\n');
            for (k, v) in &self.additional_context {
                out.push_str(&format!("{k}: {v}\n"));
            }
        }
        if !self.related_resources.is_empty() {
            out.push_str("\nResources:\n");
            for r in &self.related_resources {
                out.push_str(&format!("- {r}\n"));
            }
        }
        out.push_str(&format!("\nNotification id: {}\n", self.id));
        out
    }

    /// The SNS message for `MessageStructure=json`: `default` carries the Chatbot JSON, `email`
    /// the plain text.
    pub fn to_sns_message(&self) -> String {
        json!({
            "default": self.to_chatbot().to_string(),
            "email": self.to_text(),
        })
        .to_string()
    }

    /// An SNS subject: ASCII, one line, at most 100 characters.
    pub fn subject(&self) -> String {
        let ascii: String = format!("[{}] {}", self.severity.as_str(), self.title)
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        let collapsed = ascii.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.len() <= MAX_SUBJECT {
            collapsed
        } else {
            format!("{}...", &collapsed[..MAX_SUBJECT - 3])
        }
    }
}

/// What a dry run adds to a title, so every function marks one the same way.
pub fn dry_mark(dry_run: bool) -> &'static str {
    if dry_run {
        " [dry run]"
    } else {
        ""
    }
}

/// A Slack-style link, for links this code builds itself.
pub fn link(url: &str, text: &str) -> String {
    format!("<{url}|{text}>")
}

/// Cuts at a character boundary, marking the cut with an ellipsis.
pub fn truncate(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `<url|text>` to `text (url)`, for plain text.
fn unlink(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<http") {
        out.push_str(&rest[..start]);
        let tail = &rest[start + 1..];
        match tail.find('>') {
            Some(end) => {
                let inner = &tail[..end];
                match inner.split_once('|') {
                    Some((url, text)) => out.push_str(&format!("{text} ({url})")),
                    None => out.push_str(inner),
                }
                rest = &tail[end + 1..];
            }
            None => {
                out.push('<');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Notification {
        Notification {
            id: "deploy:prod/web:sha256:abc".into(),
            severity: Severity::Info,
            title: "Deploying web:v1 to prod/web".into(),
            description: "Rolling out. <https://example.com/x|Open the service>".into(),
            next_steps: vec!["Watch <https://example.com/d|the deployment>".into()],
            keywords: vec!["prod".into(), "deploy".into()],
            thread_id: "arn:aws:ecs:us-east-1:1:service/prod/web".into(),
            summary: "Deploying web:v1".into(),
            event_type: "deploy-started".into(),
            related_resources: vec!["arn:aws:ecs:us-east-1:1:service/prod/web".into()],
            additional_context: [("tag".to_string(), "v1".to_string())].into(),
        }
    }

    #[test]
    fn the_builder_marks_a_dry_run_on_the_title_and_a_summary_that_is_the_title() {
        let n = Notification::new("id-1", Severity::Info, "Deploying web", "thread-1")
            .describe("rolls out")
            .facts([("service".to_string(), "web".to_string())])
            .dry_run(true);
        assert_eq!(
            (n.title.as_str(), n.summary.as_str()),
            ("Deploying web [dry run]", "Deploying web [dry run]")
        );
        let n = Notification::new("id-2", Severity::Critical, "Crash loop in web", "thread-1")
            .summary("web: crash loop")
            .dry_run(true);
        assert_eq!(
            (n.title.as_str(), n.summary.as_str()),
            ("Crash loop in web [dry run]", "web: crash loop")
        );
        assert_eq!(
            Notification::new("id", Severity::Info, "t", "th")
                .dry_run(false)
                .title,
            "t"
        );
    }

    #[test]
    fn chatbot_json_has_the_custom_notification_shape() {
        let v = sample().to_chatbot();
        assert_eq!(v["version"], "1.0");
        assert_eq!(v["source"], "custom");
        assert_eq!(v["content"]["textType"], "client-markdown");
        assert_eq!(
            v["content"]["title"],
            ":information_source: Deploying web:v1 to prod/web"
        );
        assert_eq!(
            v["metadata"]["threadId"],
            "arn:aws:ecs:us-east-1:1:service/prod/web"
        );
        assert_eq!(v["metadata"]["additionalContext"]["tag"], "v1");
        assert_eq!(
            v["content"]["nextSteps"][0],
            "Watch <https://example.com/d|the deployment>"
        );
    }

    #[test]
    fn sns_message_carries_default_and_email() {
        let n = sample();
        let msg: serde_json::Value = serde_json::from_str(&n.to_sns_message()).unwrap();
        let default: serde_json::Value =
            serde_json::from_str(msg["default"].as_str().unwrap()).unwrap();
        assert_eq!(default, n.to_chatbot());
        let email = msg["email"].as_str().unwrap();
        assert!(
            email.contains("Open the service (https://example.com/x)"),
            "{email}"
        );
        assert!(
            email.contains("- Watch the deployment (https://example.com/d)"),
            "{email}"
        );
    }

    #[test]
    fn subject_is_short_ascii_on_one_line() {
        let mut n = sample();
        n.title = format!("Ünïcode\nline {}", "x".repeat(200));
        let s = n.subject();
        assert!(s.len() <= 100 && s.is_ascii() && !s.contains('\n'), "{s}");
    }

    #[test]
    fn long_descriptions_are_cut_with_a_mark() {
        let mut n = sample();
        n.description = "é".repeat(10_000);
        let d = n.to_chatbot()["content"]["description"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(d.chars().count(), MAX_DESCRIPTION);
        assert!(d.ends_with('…'));
    }
}
