//! Generates the protobuf and tonic code for `proto/meridian/v1` with protox
//! (a pure-Rust protobuf compiler), so that no `protoc` binary is needed.
//!
//! Every `.proto` file in that directory is compiled (sorted by name), so a
//! new service's file needs no edit here.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let dir = root.join("meridian/v1");
    // The directory itself: a file added or removed reruns the build.
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".proto") {
            files.push(format!("meridian/v1/{name}"));
        }
    }
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    let descriptors = protox::compile(&files, [&root])?;
    tonic_prost_build::configure()
        // Ordered maps: the same state always encodes to the same bytes.
        .btree_map(".")
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
