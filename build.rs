//! Compiles the gRPC API from `proto/` with protox, so no system `protoc` is needed, and saves
//! its file descriptor set for server reflection.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/eventstream/v1/eventstream.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("eventstream_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .bytes(".eventstream.v1")
        // Hand-written so the server can splice stored events into it: src/api/subscribe_response.rs
        .extern_path(
            ".eventstream.v1.SubscribeResponse",
            "crate::api::pb::SubscribeResponse",
        )
        // Hand-written so the server encodes its results as they are: src/api/publish_response.rs
        .extern_path(
            ".eventstream.v1.PublishResponse",
            "crate::api::pb::PublishResponse",
        )
        // Likewise, for ConsumeResponse: src/api/consume_response.rs
        .extern_path(
            ".eventstream.v1.ConsumeResponse",
            "crate::api::pb::ConsumeResponse",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
