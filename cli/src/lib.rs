//! `assafe` command-line tool: runs programs under `libassafe.so`, reads the JSON logs the library
//! writes (see `docs/log-format.md`), symbolizes the stacks offline and prints deduplicated reports
//! as text, JSON or SARIF.

pub mod analyze;
pub mod audit;
pub mod collect;
pub mod embedded;
pub mod hygiene;
pub mod logs;
pub mod preflight;
pub mod render;
pub mod run;
pub mod sarif;
pub mod suppress;
pub mod symbolize;
