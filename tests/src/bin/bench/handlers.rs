//! The handlers' cost without AWS, from the criterion benchmarks (`cargo bench -p
//! autopilot-core --bench handlers`, which `make bench` runs first): read from criterion's
//! `estimates.json` files.

use crate::report::Report;

pub fn run(report: &mut Report) {
    report.heading("Handler cost without AWS: parse + plan + render per event (criterion)");
    let root = integration_tests::workspace_root()
        .join("target")
        .join("criterion");
    report.row(&["benchmark", "mean µs/event", "95% interval µs"]);
    let mut found = 0;
    for (id, path) in estimates(&root) {
        let Some((mean, lo, hi)) = read(&path) else {
            continue;
        };
        found += 1;
        report.row(&[
            &id,
            &format!("{:.2}", mean / 1000.0),
            &format!("{:.2}–{:.2}", lo / 1000.0, hi / 1000.0),
        ]);
    }
    if found == 0 {
        report.para("No criterion estimates under target/criterion: run `cargo bench -p autopilot-core --bench handlers` (make bench does).");
    }
}

/// Every `<root>/<group>/<bench>/new/estimates.json` under a `handler` group, by id.
fn estimates(root: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    let mut out = vec![];
    let Ok(groups) = std::fs::read_dir(root) else {
        return out;
    };
    for group in groups.flatten() {
        let name = group.file_name().to_string_lossy().to_string();
        if !name.starts_with("handler") {
            continue;
        }
        let Ok(benches) = std::fs::read_dir(group.path()) else {
            continue;
        };
        for bench in benches.flatten() {
            let path = bench.path().join("new").join("estimates.json");
            if path.is_file() {
                out.push((
                    format!("{name}/{}", bench.file_name().to_string_lossy()),
                    path,
                ));
            }
        }
    }
    out.sort();
    out
}

/// The mean and its confidence interval, in nanoseconds.
fn read(path: &std::path::Path) -> Option<(f64, f64, f64)> {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let mean = &v["mean"];
    Some((
        mean["point_estimate"].as_f64()?,
        mean["confidence_interval"]["lower_bound"].as_f64()?,
        mean["confidence_interval"]["upper_bound"].as_f64()?,
    ))
}
