//! Writes the test captures to testdata/, with testdata/README.md listing
//! each one and the verdict tcpshake must give. Run: cargo run --example make-testdata

#[path = "../tests/fixtures/mod.rs"]
mod fixtures;

fn main() -> std::io::Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    std::fs::create_dir_all(&dir)?;
    for f in fixtures::catalog() {
        std::fs::write(dir.join(f.name), &f.bytes)?;
    }
    for f in fixtures::servers::catalog() {
        std::fs::write(dir.join(f.name), &f.bytes)?;
    }
    let md = fixtures::readme();
    std::fs::write(dir.join("README.md"), md)?;
    println!("wrote {}", dir.display());
    Ok(())
}
