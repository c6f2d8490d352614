pub mod arch;
pub mod eval;
pub mod explain;
pub mod export;
pub mod import;
pub mod init;
pub mod show_batch;
pub mod train;
