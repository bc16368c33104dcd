//! The migrations are embedded in the binary (`embed_migrations!`), and cargo does not
//! know to watch them: without this, a new or changed migration leaves a stale build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
