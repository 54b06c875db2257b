//! Compiles `proto/report.proto` with protox (pure Rust, no `protoc` needed) and generates the
//! message types with prost, adding serde derives so the same types also travel as JSON.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/report.proto");
    let descriptors = protox::compile(["proto/report.proto"], ["proto"])?;
    prost_build::Config::new()
        .type_attribute(".", "#[derive(serde::Serialize, serde::Deserialize)]")
        .type_attribute(".", "#[serde(default)]")
        .compile_fds(descriptors)?;
    Ok(())
}
