//! Transparency oracle: real test suites with and without the preload (filled in by the next commit).
