//! Runnable examples of the chat engine; see the `[[example]]` targets
//! (`cargo run -p examples --example embedded`) and `README.md`.
