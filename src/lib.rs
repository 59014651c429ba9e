pub mod pb {
    tonic::include_proto!("eventstream.v1");
}
