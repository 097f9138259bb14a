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

/// The limits every notification is fitted to, in characters (cut on character boundaries).
/// Chatbot's ("Custom notifications using Amazon Q Developer in chat applications"): a title of
/// at most 250 characters; the other fields are held well under what Chatbot and Slack show, so
/// one long input (a 255-character alarm name, a 1 KB alarm description, many resources)
/// cannot make Chatbot drop the message.
pub mod limits {
    /// The title, emoji included.
    pub const TITLE: usize = 250;
    pub const SUMMARY: usize = 250;
    pub const DESCRIPTION: usize = 3500;
    pub const NEXT_STEPS: usize = 8;
    pub const NEXT_STEP: usize = 500;
    pub const KEYWORDS: usize = 10;
    pub const KEYWORD: usize = 75;
    /// Ids (`id`, `threadId`) longer than this keep a prefix and a hash of the whole, so
    /// distinct ids stay distinct and a thread stays one thread.
    pub const ID: usize = 256;
    pub const EVENT_TYPE: usize = 100;
    pub const RELATED_RESOURCES: usize = 10;
    /// An ARN can reach 2048 characters; the ones named here are far shorter.
    pub const RESOURCE: usize = 1024;
    pub const CONTEXT_ENTRIES: usize = 10;
    pub const CONTEXT_KEY: usize = 64;
    pub const CONTEXT_VALUE: usize = 500;
    /// SNS Publish: a subject "must be ASCII text that begins with a letter, number, or
    /// punctuation mark; must not include line breaks or control characters; and must be less
    /// than 100 characters long".
    pub const SUBJECT: usize = 99;
    /// SNS Publish: a message is at most 256 KB (262,144 bytes), every protocol's text of a
    /// `MessageStructure=json` message counted.
    pub const SNS_MESSAGE_BYTES: usize = 262_144;
}

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

    /// Names the member account it is about (organization mode), the one way every function
    /// does: the title begins with `[alias]` (or `[id]`), the account is the first keyword, and
    /// a fact gives `alias (id)`. Applied once, where the notification is published.
    pub fn in_account(mut self, account: &crate::model::account::Account) -> Self {
        let mark = format!("[{}] ", account.short());
        if self.summary == self.title {
            self.summary.insert_str(0, &mark);
        }
        self.title.insert_str(0, &mark);
        self.keywords.insert(0, account.short().to_string());
        self.additional_context
            .insert("Account".to_string(), account.full());
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

    /// The notification with every field within [`limits`]: what both renderings show.
    pub fn fitted(&self) -> Notification {
        let cut = |items: &[String], count: usize, each: usize| -> Vec<String> {
            items
                .iter()
                .take(count)
                .map(|s| truncate(s, each))
                .collect()
        };
        Notification {
            id: fit_id(&self.id, limits::ID),
            severity: self.severity,
            // The emoji goes in front of the title in Chatbot's rendering.
            title: truncate(
                &self.title,
                limits::TITLE - self.severity.emoji().chars().count() - 1,
            ),
            description: truncate(&self.description, limits::DESCRIPTION),
            next_steps: cut(&self.next_steps, limits::NEXT_STEPS, limits::NEXT_STEP),
            keywords: cut(&self.keywords, limits::KEYWORDS, limits::KEYWORD),
            thread_id: fit_id(&self.thread_id, limits::ID),
            summary: truncate(&self.summary, limits::SUMMARY),
            event_type: truncate(&self.event_type, limits::EVENT_TYPE),
            related_resources: cut(
                &self.related_resources,
                limits::RELATED_RESOURCES,
                limits::RESOURCE,
            ),
            additional_context: self
                .additional_context
                .iter()
                .take(limits::CONTEXT_ENTRIES)
                .map(|(k, v)| {
                    (
                        truncate(k, limits::CONTEXT_KEY),
                        truncate(v, limits::CONTEXT_VALUE),
                    )
                })
                .collect(),
        }
    }

    /// The AWS Chatbot custom-notification JSON, fitted to [`limits`].
    pub fn to_chatbot(&self) -> serde_json::Value {
        let n = self.fitted();
        let additional: serde_json::Map<String, serde_json::Value> = n
            .additional_context
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        json!({
            "version": "1.0",
            "source": "custom",
            "id": n.id,
            "content": {
                "textType": "client-markdown",
                "title": format!("{} {}", n.severity.emoji(), n.title),
                "description": n.description,
                "nextSteps": n.next_steps,
                "keywords": n.keywords,
            },
            "metadata": {
                "threadId": n.thread_id,
                "summary": n.summary,
                "eventType": n.event_type,
                "relatedResources": n.related_resources,
                "additionalContext": additional,
            }
        })
    }

    /// The plain-text rendering (email), fitted to [`limits`]: Slack links become `text (url)`.
    pub fn to_text(&self) -> String {
        self.fitted().render_text()
    }

    fn render_text(&self) -> String {
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
    /// the plain text. Within SNS's 256 KB: the [`limits`] keep it there (the test of the
    /// longest inputs shows it), and should they not, the email's text is cut first.
    pub fn to_sns_message(&self) -> String {
        let default = self.to_chatbot().to_string();
        let mut email = self.to_text();
        loop {
            let message = json!({ "default": default, "email": email }).to_string();
            if message.len() <= limits::SNS_MESSAGE_BYTES || email.is_empty() {
                return message;
            }
            email = truncate(&email, email.chars().count() / 2);
        }
    }

    /// An SNS subject: ASCII, one line, less than 100 characters, starting with `[` (a
    /// punctuation mark).
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
        if collapsed.len() <= limits::SUBJECT {
            collapsed
        } else {
            // ASCII only: every byte is a character boundary.
            format!("{}...", &collapsed[..limits::SUBJECT - 3])
        }
    }
}

/// An id within `max` characters: as it is when it fits, else a prefix, `~` and a hash (FNV-1a)
/// of the whole id, so two long ids that share their first characters stay distinct.
fn fit_id(id: &str, max: usize) -> String {
    if id.chars().count() <= max {
        return id.to_string();
    }
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let suffix = format!("~{hash:016x}");
    let prefix: String = id.chars().take(max - suffix.len()).collect();
    prefix + &suffix
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
        assert!(s.len() < 100 && s.is_ascii() && !s.contains('\n'), "{s}");
    }

    /// SNS wants a subject under 100 characters: exactly 100 is refused.
    #[test]
    fn a_subject_is_never_100_characters() {
        let mut n = sample();
        n.severity = Severity::Info;
        // "[info] " is 7 characters: a 93-character title made a 100-character subject.
        n.title = "x".repeat(93);
        let s = n.subject();
        assert!(s.len() < 100, "{} characters", s.len());
        assert!(s.starts_with('['), "starts with a punctuation mark: {s}");
    }

    /// The longest inputs the functions can meet, in characters that cost the most bytes once
    /// escaped twice (quotes, backslashes) or encoded in UTF-8 (emoji).
    fn longest() -> Notification {
        let alarm = format!("{}é", "a".repeat(254)); // CloudWatch: alarm names up to 255
        let arn = |i: usize| format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}{i}");
        let heavy = |n: usize| "\"\\😀".repeat(n);
        Notification {
            id: format!("alarm:{}:{}", arn(0), "2026-11-16T10:20:30.000+0000"),
            severity: Severity::Critical,
            title: format!("ALARM: {alarm} in prod/{}", "s".repeat(255)),
            description: heavy(400_000),
            next_steps: (0..100).map(|_| heavy(10_000)).collect(),
            keywords: (0..100).map(|_| heavy(1_000)).collect(),
            thread_id: arn(0),
            summary: heavy(10_000),
            event_type: heavy(1_000),
            related_resources: (0..1_000).map(arn).collect(),
            additional_context: (0..1_000)
                .map(|i| (format!("{i:04}{}", heavy(100)), heavy(10_000)))
                .collect(),
        }
    }

    fn chars(v: &serde_json::Value) -> usize {
        v.as_str().map_or(0, |s| s.chars().count())
    }

    #[test]
    fn the_longest_inputs_fit_every_chatbot_limit_on_character_boundaries() {
        let v = longest().to_chatbot();
        let (content, meta) = (&v["content"], &v["metadata"]);
        assert!(chars(&content["title"]) <= limits::TITLE);
        assert!(content["title"]
            .as_str()
            .unwrap()
            .starts_with(":red_circle: ALARM: aaa"));
        assert_eq!(chars(&content["description"]), limits::DESCRIPTION);
        let steps = content["nextSteps"].as_array().unwrap();
        assert_eq!(steps.len(), limits::NEXT_STEPS);
        assert!(steps.iter().all(|s| chars(s) <= limits::NEXT_STEP));
        let keywords = content["keywords"].as_array().unwrap();
        assert_eq!(keywords.len(), limits::KEYWORDS);
        assert!(keywords.iter().all(|k| chars(k) <= limits::KEYWORD));
        assert!(chars(&v["id"]) <= limits::ID);
        assert!(chars(&meta["threadId"]) <= limits::ID);
        assert!(chars(&meta["summary"]) <= limits::SUMMARY);
        assert!(chars(&meta["eventType"]) <= limits::EVENT_TYPE);
        let resources = meta["relatedResources"].as_array().unwrap();
        assert_eq!(resources.len(), limits::RELATED_RESOURCES);
        assert!(resources.iter().all(|r| chars(r) <= limits::RESOURCE));
        let context = meta["additionalContext"].as_object().unwrap();
        assert_eq!(context.len(), limits::CONTEXT_ENTRIES);
        assert!(context
            .iter()
            .all(|(k, v)| k.chars().count() <= limits::CONTEXT_KEY
                && chars(v) <= limits::CONTEXT_VALUE));
    }

    #[test]
    fn the_longest_inputs_make_an_sns_message_within_256_kb_and_a_subject_under_100() {
        let n = longest();
        let message = n.to_sns_message();
        assert!(
            message.len() <= limits::SNS_MESSAGE_BYTES,
            "{} bytes",
            message.len()
        );
        let parsed: serde_json::Value = serde_json::from_str(&message).unwrap();
        let default: serde_json::Value =
            serde_json::from_str(parsed["default"].as_str().unwrap()).unwrap();
        assert_eq!(default, n.to_chatbot());
        let email = parsed["email"].as_str().unwrap();
        assert!(
            email.starts_with("[CRITICAL] ALARM: aaa"),
            "{}",
            &email[..40]
        );
        let subject = n.subject();
        assert!(subject.len() < 100 && subject.is_ascii(), "{subject}");
    }

    /// Two alarms whose 255-character names differ only at the end keep two threads.
    #[test]
    fn long_thread_ids_stay_distinct_and_stable() {
        let mut a = longest();
        let mut b = longest();
        a.thread_id.push('1');
        b.thread_id.push('2');
        let (ta, tb) = (
            a.to_chatbot()["metadata"]["threadId"].clone(),
            b.to_chatbot()["metadata"]["threadId"].clone(),
        );
        assert_ne!(ta, tb);
        assert!(chars(&ta) <= limits::ID && chars(&tb) <= limits::ID);
        assert_eq!(ta, a.to_chatbot()["metadata"]["threadId"], "stable");
        let short = sample();
        assert_eq!(
            short.to_chatbot()["metadata"]["threadId"],
            short.thread_id,
            "ids that fit are kept as they are"
        );
    }

    #[test]
    fn long_descriptions_are_cut_with_a_mark() {
        let mut n = sample();
        n.description = "é".repeat(10_000);
        let d = n.to_chatbot()["content"]["description"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(d.chars().count(), limits::DESCRIPTION);
        assert!(d.ends_with('…'));
    }
}
