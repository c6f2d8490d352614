#![allow(dead_code)] // Each test binary uses a different part of the support code.

pub mod fixture;
pub mod formula;
