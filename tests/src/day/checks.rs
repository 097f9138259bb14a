//! The day: steps and checks.

use super::*;

impl Day<'_> {
    pub(super) fn begin(&mut self, title: &str) {
        set_step(title);
        self.step = StepRecord {
            title: title.to_string(),
            ..StepRecord::default()
        };
        self.say(&format!("\n== {}. {title} ==", self.record.steps.len() + 1));
    }

    pub(super) fn end(&mut self) {
        let step = std::mem::take(&mut self.step);
        self.say(&format!("ok: {}", step.checks.join("; ")));
        self.record.steps.push(step);
    }

    pub(super) fn check(
        &mut self,
        what: &str,
        ok: bool,
        got: impl fmt::Display,
    ) -> Result<(), StepFailed> {
        if ok {
            self.step.checks.push(what.to_string());
            Ok(())
        } else {
            Err(self.failed(format!("{what}: got {got}")))
        }
    }

    pub(super) fn check_chat(&mut self, what: &str, n: usize) -> Result<(), StepFailed> {
        let got = self.step.chat.len();
        let titles: Vec<&str> = self
            .step
            .chat
            .iter()
            .map(|c| c["content"]["title"].as_str().unwrap_or("?"))
            .collect();
        let detail = format!("{got} messages {titles:?}");
        self.check(what, got == n, detail)
    }

    pub(super) fn failed(&self, what: String) -> StepFailed {
        StepFailed {
            step: current_step(),
            what,
        }
    }

    pub(super) fn say(&mut self, line: &str) {
        self.narrator.say(line);
    }
}
