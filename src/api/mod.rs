//! The gRPC layer: translates between the proto and the engine, and errors into statuses.

mod consume;
mod consume_response;
/// Request validation, proto to domain; public so the fuzz tests (`tests/fuzz.rs`) can drive it.
pub mod convert;
mod identity;
mod observe;
mod publish_response;
mod publish_stream;
pub mod request_limit;
pub mod standard;
mod status;
mod subscribe_response;

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::auth::Permission;
use crate::engine::Broker;
use crate::model::TopicName;

/// Types generated from `proto/eventstream/v1/eventstream.proto`.
pub mod pb {
    tonic::include_proto!("eventstream.v1");
    pub use super::consume_response::ConsumeResponse;
    pub use super::publish_response::PublishResponse;
    pub use super::subscribe_response::SubscribeResponse;

    /// The encoded `FileDescriptorSet` of the API and its imports, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/eventstream_descriptor.bin"));
}

pub use identity::Authenticator;
pub use observe::ObserveLayer;
pub use pb::event_stream_service_server::EventStreamServiceServer;

/// The `EventStreamService` implementation.
pub struct EventStreamApi {
    broker: Arc<Broker>,
    max_event_bytes: usize,
}

impl EventStreamApi {
    /// Serves `broker`, refusing payloads over `max_event_bytes`.
    pub fn new(broker: Arc<Broker>, max_event_bytes: usize) -> Self {
        Self {
            broker,
            max_event_bytes,
        }
    }
}

/// Names `topic` in the span of the call being served (see [`observe`]). PublishStream does not:
/// each of its requests may name another topic.
fn record_topic(topic: &TopicName) {
    tracing::Span::current().record("topic", topic.as_str());
}

type SubscribeStream = Pin<Box<dyn Stream<Item = Result<pb::SubscribeResponse, Status>> + Send>>;

#[tonic::async_trait]
impl pb::event_stream_service_server::EventStreamService for EventStreamApi {
    async fn publish(
        &self,
        request: Request<pb::PublishRequest>,
    ) -> Result<Response<pb::PublishResponse>, Status> {
        let caller = identity::caller(&request)?;
        let (topic, publication) =
            convert::publication(request.into_inner(), self.max_event_bytes)?;
        record_topic(&topic);
        // The cursor a publication may move is stored with this topic: publish covers it.
        caller.authorize(Permission::Publish, &topic)?;
        let results = self.broker.publish(&topic, publication).await?;
        Ok(Response::new(pb::PublishResponse::from_appended(results)))
    }

    type PublishStreamStream = publish_stream::Responses;

    async fn publish_stream(
        &self,
        request: Request<tonic::Streaming<pb::PublishStreamRequest>>,
    ) -> Result<Response<Self::PublishStreamStream>, Status> {
        Ok(Response::new(publish_stream::serve(
            Arc::clone(&self.broker),
            identity::caller(&request)?,
            self.max_event_bytes,
            request.into_inner(),
        )))
    }

    type SubscribeStream = SubscribeStream;

    async fn subscribe(
        &self,
        request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let caller = identity::caller(&request)?;
        // The client's address identifies its connection: unique among open connections.
        let connection = request.remote_addr();
        let request = request.into_inner();
        let spec = convert::subscribe_spec(&request)?;
        let topic = convert::topic_name(request.topic)?;
        record_topic(&topic);
        caller.authorize(Permission::Subscribe, &topic)?;
        let deliveries = self.broker.subscribe(&topic, spec, connection).await?;
        let responses = deliveries.map(|delivery| {
            delivery
                .map(pb::SubscribeResponse::from)
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(responses)))
    }

    async fn create_topic(
        &self,
        request: Request<pb::CreateTopicRequest>,
    ) -> Result<Response<pb::CreateTopicResponse>, Status> {
        let caller = identity::caller(&request)?;
        let request = request.into_inner();
        let name = convert::topic_name(request.name)?;
        record_topic(&name);
        caller.authorize(Permission::Admin, &name)?;
        let config = convert::topic_config(request.config, self.broker.default_config())?;
        let topic = self.broker.create_topic(name, config).await?;
        Ok(Response::new(pb::CreateTopicResponse {
            topic: Some(topic.into()),
        }))
    }

    async fn get_topic(
        &self,
        request: Request<pb::GetTopicRequest>,
    ) -> Result<Response<pb::GetTopicResponse>, Status> {
        let caller = identity::caller(&request)?;
        let name = convert::topic_name(request.into_inner().name)?;
        record_topic(&name);
        // Before the lookup, so a refusal does not tell whether the topic exists.
        caller.authorize_any(&name)?;
        let topic = self.broker.get_topic(&name)?;
        Ok(Response::new(pb::GetTopicResponse {
            topic: Some(topic.into()),
        }))
    }

    async fn list_topics(
        &self,
        request: Request<pb::ListTopicsRequest>,
    ) -> Result<Response<pb::ListTopicsResponse>, Status> {
        let caller = identity::caller(&request)?;
        let topics = self.broker.list_topics();
        Ok(Response::new(pb::ListTopicsResponse {
            topics: topics
                .into_iter()
                .filter(|topic| caller.may_see(&topic.name))
                .map(Into::into)
                .collect(),
        }))
    }

    async fn delete_topic(
        &self,
        request: Request<pb::DeleteTopicRequest>,
    ) -> Result<Response<pb::DeleteTopicResponse>, Status> {
        let caller = identity::caller(&request)?;
        let name = convert::topic_name(request.into_inner().name)?;
        record_topic(&name);
        caller.authorize(Permission::Admin, &name)?;
        self.broker.delete_topic(&name).await?;
        Ok(Response::new(pb::DeleteTopicResponse {}))
    }

    async fn get_cursor(
        &self,
        request: Request<pb::GetCursorRequest>,
    ) -> Result<Response<pb::GetCursorResponse>, Status> {
        let caller = identity::caller(&request)?;
        let request = request.into_inner();
        let topic = convert::topic_name(request.topic)?;
        record_topic(&topic);
        caller.authorize(Permission::Subscribe, &topic)?;
        let name = convert::cursor_name(request.name)?;
        let cursor = self.broker.get_cursor(&topic, &name).await?;
        Ok(Response::new(pb::GetCursorResponse {
            cursor: Some(convert::cursor(&topic, cursor)),
        }))
    }

    async fn create_consumer_group(
        &self,
        request: Request<pb::CreateConsumerGroupRequest>,
    ) -> Result<Response<pb::CreateConsumerGroupResponse>, Status> {
        let caller = identity::caller(&request)?;
        let (topic, name, group) = convert::new_group(request.into_inner())?;
        record_topic(&topic);
        caller.authorize(Permission::Subscribe, &topic)?;
        if let Some(dead_letters) = &group.config.dead_letters {
            caller.authorize(Permission::Publish, &dead_letters.topic)?;
        }
        let group = self.broker.create_group(&topic, &name, group).await?;
        Ok(Response::new(pb::CreateConsumerGroupResponse {
            group: Some(group.into()),
        }))
    }

    async fn get_consumer_group(
        &self,
        request: Request<pb::GetConsumerGroupRequest>,
    ) -> Result<Response<pb::GetConsumerGroupResponse>, Status> {
        let caller = identity::caller(&request)?;
        let request = request.into_inner();
        let topic = convert::topic_name(request.topic)?;
        record_topic(&topic);
        caller.authorize_any(&topic)?;
        let name = convert::group_name(request.name)?;
        let group = self.broker.get_group(&topic, &name).await?;
        Ok(Response::new(pb::GetConsumerGroupResponse {
            group: Some(group.into()),
        }))
    }

    async fn list_consumer_groups(
        &self,
        request: Request<pb::ListConsumerGroupsRequest>,
    ) -> Result<Response<pb::ListConsumerGroupsResponse>, Status> {
        let caller = identity::caller(&request)?;
        let topic = convert::topic_name(request.into_inner().topic)?;
        record_topic(&topic);
        caller.authorize_any(&topic)?;
        let groups = self.broker.list_groups(&topic).await?;
        Ok(Response::new(pb::ListConsumerGroupsResponse {
            groups: groups.into_iter().map(Into::into).collect(),
        }))
    }

    async fn reset_consumer_group(
        &self,
        request: Request<pb::ResetConsumerGroupRequest>,
    ) -> Result<Response<pb::ResetConsumerGroupResponse>, Status> {
        let caller = identity::caller(&request)?;
        let (topic, name, target) = convert::reset_target(request.into_inner())?;
        record_topic(&topic);
        caller.authorize(Permission::Subscribe, &topic)?;
        let group = self.broker.reset_group(&topic, &name, target).await?;
        Ok(Response::new(pb::ResetConsumerGroupResponse {
            group: Some(group.into()),
        }))
    }

    async fn delete_consumer_group(
        &self,
        request: Request<pb::DeleteConsumerGroupRequest>,
    ) -> Result<Response<pb::DeleteConsumerGroupResponse>, Status> {
        let caller = identity::caller(&request)?;
        let request = request.into_inner();
        let topic = convert::topic_name(request.topic)?;
        record_topic(&topic);
        caller.authorize(Permission::Subscribe, &topic)?;
        let name = convert::group_name(request.name)?;
        self.broker.delete_group(&topic, &name).await?;
        Ok(Response::new(pb::DeleteConsumerGroupResponse {}))
    }

    type ConsumeStream = consume::ConsumeStream;

    async fn consume(
        &self,
        request: Request<tonic::Streaming<pb::ConsumeRequest>>,
    ) -> Result<Response<Self::ConsumeStream>, Status> {
        let caller = identity::caller(&request)?;
        let connection = request.remote_addr();
        let stream = consume::serve(
            Arc::clone(&self.broker),
            caller,
            connection,
            request.into_inner(),
        )
        .await?;
        Ok(Response::new(stream))
    }
}
