//! What `make bench` prints, kept as Markdown too: written to `docs/benchmarks.md` with the date
//! and the machine.

use std::time::Duration;

#[derive(Default)]
pub struct Report {
    markdown: String,
    /// Whether the last line written was a table row (a heading row needs its rule).
    rows: usize,
}

impl Report {
    pub fn heading(&mut self, text: &str) {
        self.end_table();
        println!("\n== {text}\n");
        self.markdown.push_str(&format!("\n## {text}\n\n"));
    }

    pub fn para(&mut self, text: &str) {
        self.end_table();
        println!("{text}\n");
        self.markdown.push_str(&format!("{text}\n\n"));
    }

    pub fn row(&mut self, cells: &[&str]) {
        println!("{}", cells.join(" | "));
        self.markdown
            .push_str(&format!("| {} |\n", cells.join(" | ")));
        if self.rows == 0 {
            self.markdown.push_str(&format!(
                "|{}\n",
                cells.iter().map(|_| "---|").collect::<String>()
            ));
        }
        self.rows += 1;
    }

    fn end_table(&mut self) {
        if self.rows > 0 {
            println!();
            self.markdown.push('\n');
        }
        self.rows = 0;
    }

    /// Writes the report to `path`, headed by the date and the machine.
    pub fn write(mut self, path: &std::path::Path) -> std::io::Result<()> {
        self.end_table();
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find_map(|l| l.strip_prefix("model name"))
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let head = format!(
            "# Benchmarks\n\nWritten by `make bench` on {} UTC: {} {}, {cores} cores ({cpu}). \
             Figures from one run on a shared machine: compare rows of one run, not runs of different days.\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M"),
            std::env::consts::OS,
            std::env::consts::ARCH,
        );
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, head + &self.markdown)
    }
}

/// The `q` quantile of `samples` (nearest rank), zero when there are none.
pub fn percentile(samples: &[Duration], q: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
