//! Rebuilds the crate when a PostgreSQL migration is added: `refinery::embed_migrations!` reads
//! the directory at compile time, and cargo does not otherwise know that a new file there matters.
fn main() {
    println!("cargo:rerun-if-changed=src/postgres/migrations");
}
