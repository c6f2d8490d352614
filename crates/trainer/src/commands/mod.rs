pub mod arch;
pub mod card;
pub mod eval;
pub mod explain;
pub mod export;
pub mod import;
pub mod init;
pub mod show_batch;
pub mod train;

/// "1 epoch", "3 epochs": a count for the messages and documents the commands write.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
