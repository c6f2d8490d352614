pub mod arch;
pub mod explain;
