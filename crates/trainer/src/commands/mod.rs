pub mod arch;
pub mod explain;
pub mod init;
pub mod show_batch;
