//! `make demo`: the stack a user deploys (`sam/template.yaml` with samconfig's `dev`
//! parameters), deployed into the local emulator, and a working day played through it: the four
//! release functions run as Lambda runs them, every event routed by the stack's own rules, what
//! changed and what reached chat said after each step (`integration_tests::day`).

use integration_tests::day::{self, Printer};

#[tokio::main]
async fn main() {
    // A helper that panics names the step it was in; the emulator still stops (unwinding).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        eprintln!("\nthe demo failed in step \"{}\":", day::current_step());
        default_hook(info);
    }));
    let outcome = day::play(&mut Printer).await;
    // Everything the day started (the emulator, the functions) has stopped by now.
    if let Err(failed) = outcome {
        eprintln!("\nthe demo failed: {failed}");
        std::process::exit(1);
    }
}
