//! `sqlx::migrate!` embeds `migrations/` at compile time, but a proc macro
//! cannot tell cargo to watch a directory: without this, adding or editing a
//! migration would not rebuild the crate.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
