//! The progress line of a training epoch: batches done, live (smoothed) loss, images/s.
//!
//! On a terminal it is an indicatif bar that redraws in place; otherwise (a log file, a
//! background run) a plain line every few batches, so `tail -f` shows the run moving.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: usize,
    images: usize,
    started: Instant,
    /// Print a plain line every this many batches when there is no bar.
    every: usize,
}

impl Progress {
    pub fn new(batches: usize, batch_size: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(batches as u64);
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
                .expect("a valid template");
            bar.set_style(style);
            bar
        });
        // About every 30 s at CPU speed, and at least ten lines an epoch.
        let every = (batches / 10).clamp(1, (1000 / batch_size.max(1)).max(1));
        Self { bar, total: batches, done: 0, images: 0, started: Instant::now(), every }
    }

    pub fn batch(&mut self, images: usize, smooth_loss: f64, lr: f64) {
        self.done += 1;
        self.images += images;
        let rate = self.images as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        let message = format!("loss {smooth_loss:.4}  lr {lr:.2e}  {rate:.1} img/s");
        match &self.bar {
            Some(bar) => {
                bar.set_message(message);
                bar.inc(1);
            }
            None if self.done.is_multiple_of(self.every) => {
                eprintln!("  batch {}/{}  {message}", self.done, self.total)
            }
            None => {}
        }
    }

    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
