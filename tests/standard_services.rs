//! The standard gRPC services of the real binary, called through their generated clients: health
//! checking (SERVING, then NOT_SERVING as soon as a shutdown starts) and server reflection v1 and
//! v1alpha (enough for grpcurl to call the API with no proto file).

mod common;
use common::*;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use prost::Message;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

const API: &str = "eventstream.v1.EventStreamService";
/// Less than the server's drain timeout: a health watch must not hold the drain open.
const EXIT_LIMIT: Duration = Duration::from_secs(4);

fn health_request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_string(),
    }
}

fn status_of(response: HealthCheckResponse) -> ServingStatus {
    ServingStatus::try_from(response.status).expect("known serving status")
}

#[tokio::test]
async fn health_is_serving_then_not_serving_while_shutting_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    let mut health = HealthClient::new(channel(server.addr).await);

    for service in ["", API] {
        let response = within(health.check(health_request(service)))
            .await
            .expect("check")
            .into_inner();
        assert_eq!(status_of(response), ServingStatus::Serving, "{service:?}");
    }
    expect_code(
        within(health.check(health_request("no.such.Service"))).await,
        tonic::Code::NotFound,
    );

    let mut watches = Vec::new();
    for service in ["", API] {
        let mut watch = within(health.watch(health_request(service)))
            .await
            .expect("watch")
            .into_inner();
        let first = within(watch.message()).await.expect("watch item");
        assert_eq!(
            status_of(first.expect("watch open")),
            ServingStatus::Serving
        );
        watches.push(watch);
    }

    let started = Instant::now();
    let exit = tokio::spawn(server.terminate(EXIT_LIMIT));
    for mut watch in watches {
        let next = within(watch.message()).await.expect("watch item");
        assert_eq!(
            status_of(next.expect("watch open")),
            ServingStatus::NotServing
        );
        let ended = within(watch.message()).await;
        assert_eq!(
            ended.expect_err("watch ends with an error").code(),
            tonic::Code::Unavailable
        );
    }
    let status = within(exit).await.expect("terminate task");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        started.elapsed() < EXIT_LIMIT,
        "took {:?}",
        started.elapsed()
    );
}

/// What a reflection client learned: the listed services, and the files for the API's symbol
/// and for one of its imports.
struct Reflected {
    services: Vec<String>,
    api_files: Vec<prost_types::FileDescriptorProto>,
    import_files: Vec<prost_types::FileDescriptorProto>,
}

/// Defines `$name`, asking the reflection service of protocol version `$version` (a module of
/// `tonic_reflection::pb`); the versions' messages are the same but for their package.
macro_rules! reflect_with {
    ($name:ident, $version:ident) => {
        async fn $name(addr: SocketAddr) -> Reflected {
            use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;
            use tonic_reflection::pb::$version::{
                ServerReflectionRequest, ServerReflectionResponse,
            };

            let mut client = ServerReflectionClient::new(channel(addr).await);
            let requests = [
                MessageRequest::ListServices(String::new()),
                MessageRequest::FileContainingSymbol(API.to_string()),
                MessageRequest::FileByFilename("google/protobuf/timestamp.proto".to_string()),
            ]
            .map(|request| ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            });
            let mut responses = within(client.server_reflection_info(tokio_stream::iter(requests)))
                .await
                .expect("reflection call")
                .into_inner();
            let mut next = async || -> MessageResponse {
                let response: ServerReflectionResponse = within(responses.message())
                    .await
                    .expect("reflection response")
                    .expect("reflection stream open");
                response.message_response.expect("message response")
            };
            let MessageResponse::ListServicesResponse(list) = next().await else {
                panic!("expected a service list");
            };
            let mut files = Vec::new();
            for _ in 0..2 {
                let MessageResponse::FileDescriptorResponse(found) = next().await else {
                    panic!("expected file descriptors");
                };
                let decoded = found
                    .file_descriptor_proto
                    .iter()
                    .map(|bytes| {
                        prost_types::FileDescriptorProto::decode(bytes.as_slice())
                            .expect("decode file descriptor")
                    })
                    .collect::<Vec<_>>();
                files.push(decoded);
            }
            let import_files = files.pop().expect("import files");
            let api_files = files.pop().expect("API files");
            Reflected {
                services: list
                    .service
                    .into_iter()
                    .map(|service| service.name)
                    .collect(),
                api_files,
                import_files,
            }
        }
    };
}

reflect_with!(reflect_v1, v1);
reflect_with!(reflect_v1alpha, v1alpha);

fn assert_describes_the_api(reflected: &Reflected) {
    let mut services = reflected.services.clone();
    services.sort();
    assert_eq!(
        services,
        [
            API,
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );
    let api_file = reflected
        .api_files
        .iter()
        .find(|file| file.name() == "eventstream/v1/eventstream.proto")
        .expect("the API's file");
    let service = api_file
        .service
        .iter()
        .find(|service| service.name() == "EventStreamService")
        .expect("the API's service");
    let methods: Vec<&str> = service.method.iter().map(|method| method.name()).collect();
    for method in [
        "Publish",
        "PublishStream",
        "Subscribe",
        "CreateTopic",
        "GetTopic",
        "ListTopics",
        "DeleteTopic",
    ] {
        assert!(
            methods.contains(&method),
            "{method} missing from {methods:?}"
        );
    }
    assert!(
        reflected
            .import_files
            .iter()
            .any(|file| file.name() == "google/protobuf/timestamp.proto"),
        "imports are served too"
    );
}

#[tokio::test]
async fn reflection_v1_and_v1alpha_describe_the_api() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ChildServer::start(dir.path(), &[]).await;
    assert_describes_the_api(&reflect_v1(server.addr).await);
    assert_describes_the_api(&reflect_v1alpha(server.addr).await);
}
