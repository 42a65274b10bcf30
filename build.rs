fn main() {
    // sqlx::migrate! embeds migrations/ at compile time; a new file must rebuild.
    println!("cargo:rerun-if-changed=migrations");
}
