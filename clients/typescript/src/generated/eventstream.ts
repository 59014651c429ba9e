import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ConsumeJoin as _eventstream_v1_ConsumeJoin, ConsumeJoin__Output as _eventstream_v1_ConsumeJoin__Output } from './eventstream/v1/ConsumeJoin';
import type { ConsumeRequest as _eventstream_v1_ConsumeRequest, ConsumeRequest__Output as _eventstream_v1_ConsumeRequest__Output } from './eventstream/v1/ConsumeRequest';
import type { ConsumeResponse as _eventstream_v1_ConsumeResponse, ConsumeResponse__Output as _eventstream_v1_ConsumeResponse__Output } from './eventstream/v1/ConsumeResponse';
import type { ConsumerGroup as _eventstream_v1_ConsumerGroup, ConsumerGroup__Output as _eventstream_v1_ConsumerGroup__Output } from './eventstream/v1/ConsumerGroup';
import type { ConsumerGroupConfig as _eventstream_v1_ConsumerGroupConfig, ConsumerGroupConfig__Output as _eventstream_v1_ConsumerGroupConfig__Output } from './eventstream/v1/ConsumerGroupConfig';
import type { CreateConsumerGroupRequest as _eventstream_v1_CreateConsumerGroupRequest, CreateConsumerGroupRequest__Output as _eventstream_v1_CreateConsumerGroupRequest__Output } from './eventstream/v1/CreateConsumerGroupRequest';
import type { CreateConsumerGroupResponse as _eventstream_v1_CreateConsumerGroupResponse, CreateConsumerGroupResponse__Output as _eventstream_v1_CreateConsumerGroupResponse__Output } from './eventstream/v1/CreateConsumerGroupResponse';
import type { CreateTopicRequest as _eventstream_v1_CreateTopicRequest, CreateTopicRequest__Output as _eventstream_v1_CreateTopicRequest__Output } from './eventstream/v1/CreateTopicRequest';
import type { CreateTopicResponse as _eventstream_v1_CreateTopicResponse, CreateTopicResponse__Output as _eventstream_v1_CreateTopicResponse__Output } from './eventstream/v1/CreateTopicResponse';
import type { Cursor as _eventstream_v1_Cursor, Cursor__Output as _eventstream_v1_Cursor__Output } from './eventstream/v1/Cursor';
import type { CursorUpdate as _eventstream_v1_CursorUpdate, CursorUpdate__Output as _eventstream_v1_CursorUpdate__Output } from './eventstream/v1/CursorUpdate';
import type { DeleteConsumerGroupRequest as _eventstream_v1_DeleteConsumerGroupRequest, DeleteConsumerGroupRequest__Output as _eventstream_v1_DeleteConsumerGroupRequest__Output } from './eventstream/v1/DeleteConsumerGroupRequest';
import type { DeleteConsumerGroupResponse as _eventstream_v1_DeleteConsumerGroupResponse, DeleteConsumerGroupResponse__Output as _eventstream_v1_DeleteConsumerGroupResponse__Output } from './eventstream/v1/DeleteConsumerGroupResponse';
import type { DeleteTopicRequest as _eventstream_v1_DeleteTopicRequest, DeleteTopicRequest__Output as _eventstream_v1_DeleteTopicRequest__Output } from './eventstream/v1/DeleteTopicRequest';
import type { DeleteTopicResponse as _eventstream_v1_DeleteTopicResponse, DeleteTopicResponse__Output as _eventstream_v1_DeleteTopicResponse__Output } from './eventstream/v1/DeleteTopicResponse';
import type { Event as _eventstream_v1_Event, Event__Output as _eventstream_v1_Event__Output } from './eventstream/v1/Event';
import type { EventData as _eventstream_v1_EventData, EventData__Output as _eventstream_v1_EventData__Output } from './eventstream/v1/EventData';
import type { EventStreamServiceClient as _eventstream_v1_EventStreamServiceClient, EventStreamServiceDefinition as _eventstream_v1_EventStreamServiceDefinition } from './eventstream/v1/EventStreamService';
import type { GetConsumerGroupRequest as _eventstream_v1_GetConsumerGroupRequest, GetConsumerGroupRequest__Output as _eventstream_v1_GetConsumerGroupRequest__Output } from './eventstream/v1/GetConsumerGroupRequest';
import type { GetConsumerGroupResponse as _eventstream_v1_GetConsumerGroupResponse, GetConsumerGroupResponse__Output as _eventstream_v1_GetConsumerGroupResponse__Output } from './eventstream/v1/GetConsumerGroupResponse';
import type { GetCursorRequest as _eventstream_v1_GetCursorRequest, GetCursorRequest__Output as _eventstream_v1_GetCursorRequest__Output } from './eventstream/v1/GetCursorRequest';
import type { GetCursorResponse as _eventstream_v1_GetCursorResponse, GetCursorResponse__Output as _eventstream_v1_GetCursorResponse__Output } from './eventstream/v1/GetCursorResponse';
import type { GetTopicRequest as _eventstream_v1_GetTopicRequest, GetTopicRequest__Output as _eventstream_v1_GetTopicRequest__Output } from './eventstream/v1/GetTopicRequest';
import type { GetTopicResponse as _eventstream_v1_GetTopicResponse, GetTopicResponse__Output as _eventstream_v1_GetTopicResponse__Output } from './eventstream/v1/GetTopicResponse';
import type { GroupDelivery as _eventstream_v1_GroupDelivery, GroupDelivery__Output as _eventstream_v1_GroupDelivery__Output } from './eventstream/v1/GroupDelivery';
import type { ListConsumerGroupsRequest as _eventstream_v1_ListConsumerGroupsRequest, ListConsumerGroupsRequest__Output as _eventstream_v1_ListConsumerGroupsRequest__Output } from './eventstream/v1/ListConsumerGroupsRequest';
import type { ListConsumerGroupsResponse as _eventstream_v1_ListConsumerGroupsResponse, ListConsumerGroupsResponse__Output as _eventstream_v1_ListConsumerGroupsResponse__Output } from './eventstream/v1/ListConsumerGroupsResponse';
import type { ListTopicsRequest as _eventstream_v1_ListTopicsRequest, ListTopicsRequest__Output as _eventstream_v1_ListTopicsRequest__Output } from './eventstream/v1/ListTopicsRequest';
import type { ListTopicsResponse as _eventstream_v1_ListTopicsResponse, ListTopicsResponse__Output as _eventstream_v1_ListTopicsResponse__Output } from './eventstream/v1/ListTopicsResponse';
import type { Nack as _eventstream_v1_Nack, Nack__Output as _eventstream_v1_Nack__Output } from './eventstream/v1/Nack';
import type { Precondition as _eventstream_v1_Precondition, Precondition__Output as _eventstream_v1_Precondition__Output } from './eventstream/v1/Precondition';
import type { PublishError as _eventstream_v1_PublishError, PublishError__Output as _eventstream_v1_PublishError__Output } from './eventstream/v1/PublishError';
import type { PublishRequest as _eventstream_v1_PublishRequest, PublishRequest__Output as _eventstream_v1_PublishRequest__Output } from './eventstream/v1/PublishRequest';
import type { PublishResponse as _eventstream_v1_PublishResponse, PublishResponse__Output as _eventstream_v1_PublishResponse__Output } from './eventstream/v1/PublishResponse';
import type { PublishResult as _eventstream_v1_PublishResult, PublishResult__Output as _eventstream_v1_PublishResult__Output } from './eventstream/v1/PublishResult';
import type { PublishStreamRequest as _eventstream_v1_PublishStreamRequest, PublishStreamRequest__Output as _eventstream_v1_PublishStreamRequest__Output } from './eventstream/v1/PublishStreamRequest';
import type { PublishStreamResponse as _eventstream_v1_PublishStreamResponse, PublishStreamResponse__Output as _eventstream_v1_PublishStreamResponse__Output } from './eventstream/v1/PublishStreamResponse';
import type { ResetConsumerGroupRequest as _eventstream_v1_ResetConsumerGroupRequest, ResetConsumerGroupRequest__Output as _eventstream_v1_ResetConsumerGroupRequest__Output } from './eventstream/v1/ResetConsumerGroupRequest';
import type { ResetConsumerGroupResponse as _eventstream_v1_ResetConsumerGroupResponse, ResetConsumerGroupResponse__Output as _eventstream_v1_ResetConsumerGroupResponse__Output } from './eventstream/v1/ResetConsumerGroupResponse';
import type { SubscribeRequest as _eventstream_v1_SubscribeRequest, SubscribeRequest__Output as _eventstream_v1_SubscribeRequest__Output } from './eventstream/v1/SubscribeRequest';
import type { SubscribeResponse as _eventstream_v1_SubscribeResponse, SubscribeResponse__Output as _eventstream_v1_SubscribeResponse__Output } from './eventstream/v1/SubscribeResponse';
import type { Topic as _eventstream_v1_Topic, Topic__Output as _eventstream_v1_Topic__Output } from './eventstream/v1/Topic';
import type { TopicConfig as _eventstream_v1_TopicConfig, TopicConfig__Output as _eventstream_v1_TopicConfig__Output } from './eventstream/v1/TopicConfig';
import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from './google/protobuf/Duration';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  eventstream: {
    v1: {
      ConsumeJoin: MessageTypeDefinition<_eventstream_v1_ConsumeJoin, _eventstream_v1_ConsumeJoin__Output>
      ConsumeRequest: MessageTypeDefinition<_eventstream_v1_ConsumeRequest, _eventstream_v1_ConsumeRequest__Output>
      ConsumeResponse: MessageTypeDefinition<_eventstream_v1_ConsumeResponse, _eventstream_v1_ConsumeResponse__Output>
      ConsumerGroup: MessageTypeDefinition<_eventstream_v1_ConsumerGroup, _eventstream_v1_ConsumerGroup__Output>
      ConsumerGroupConfig: MessageTypeDefinition<_eventstream_v1_ConsumerGroupConfig, _eventstream_v1_ConsumerGroupConfig__Output>
      CreateConsumerGroupRequest: MessageTypeDefinition<_eventstream_v1_CreateConsumerGroupRequest, _eventstream_v1_CreateConsumerGroupRequest__Output>
      CreateConsumerGroupResponse: MessageTypeDefinition<_eventstream_v1_CreateConsumerGroupResponse, _eventstream_v1_CreateConsumerGroupResponse__Output>
      CreateTopicRequest: MessageTypeDefinition<_eventstream_v1_CreateTopicRequest, _eventstream_v1_CreateTopicRequest__Output>
      CreateTopicResponse: MessageTypeDefinition<_eventstream_v1_CreateTopicResponse, _eventstream_v1_CreateTopicResponse__Output>
      Cursor: MessageTypeDefinition<_eventstream_v1_Cursor, _eventstream_v1_Cursor__Output>
      CursorUpdate: MessageTypeDefinition<_eventstream_v1_CursorUpdate, _eventstream_v1_CursorUpdate__Output>
      DeleteConsumerGroupRequest: MessageTypeDefinition<_eventstream_v1_DeleteConsumerGroupRequest, _eventstream_v1_DeleteConsumerGroupRequest__Output>
      DeleteConsumerGroupResponse: MessageTypeDefinition<_eventstream_v1_DeleteConsumerGroupResponse, _eventstream_v1_DeleteConsumerGroupResponse__Output>
      DeleteTopicRequest: MessageTypeDefinition<_eventstream_v1_DeleteTopicRequest, _eventstream_v1_DeleteTopicRequest__Output>
      DeleteTopicResponse: MessageTypeDefinition<_eventstream_v1_DeleteTopicResponse, _eventstream_v1_DeleteTopicResponse__Output>
      Event: MessageTypeDefinition<_eventstream_v1_Event, _eventstream_v1_Event__Output>
      EventData: MessageTypeDefinition<_eventstream_v1_EventData, _eventstream_v1_EventData__Output>
      /**
       * The event-streaming API: publish to topics, subscribe to them, manage them.
       */
      EventStreamService: SubtypeConstructor<typeof grpc.Client, _eventstream_v1_EventStreamServiceClient> & { service: _eventstream_v1_EventStreamServiceDefinition }
      GetConsumerGroupRequest: MessageTypeDefinition<_eventstream_v1_GetConsumerGroupRequest, _eventstream_v1_GetConsumerGroupRequest__Output>
      GetConsumerGroupResponse: MessageTypeDefinition<_eventstream_v1_GetConsumerGroupResponse, _eventstream_v1_GetConsumerGroupResponse__Output>
      GetCursorRequest: MessageTypeDefinition<_eventstream_v1_GetCursorRequest, _eventstream_v1_GetCursorRequest__Output>
      GetCursorResponse: MessageTypeDefinition<_eventstream_v1_GetCursorResponse, _eventstream_v1_GetCursorResponse__Output>
      GetTopicRequest: MessageTypeDefinition<_eventstream_v1_GetTopicRequest, _eventstream_v1_GetTopicRequest__Output>
      GetTopicResponse: MessageTypeDefinition<_eventstream_v1_GetTopicResponse, _eventstream_v1_GetTopicResponse__Output>
      GroupDelivery: MessageTypeDefinition<_eventstream_v1_GroupDelivery, _eventstream_v1_GroupDelivery__Output>
      ListConsumerGroupsRequest: MessageTypeDefinition<_eventstream_v1_ListConsumerGroupsRequest, _eventstream_v1_ListConsumerGroupsRequest__Output>
      ListConsumerGroupsResponse: MessageTypeDefinition<_eventstream_v1_ListConsumerGroupsResponse, _eventstream_v1_ListConsumerGroupsResponse__Output>
      ListTopicsRequest: MessageTypeDefinition<_eventstream_v1_ListTopicsRequest, _eventstream_v1_ListTopicsRequest__Output>
      ListTopicsResponse: MessageTypeDefinition<_eventstream_v1_ListTopicsResponse, _eventstream_v1_ListTopicsResponse__Output>
      Nack: MessageTypeDefinition<_eventstream_v1_Nack, _eventstream_v1_Nack__Output>
      OutOfRangePolicy: EnumTypeDefinition
      Precondition: MessageTypeDefinition<_eventstream_v1_Precondition, _eventstream_v1_Precondition__Output>
      PublishError: MessageTypeDefinition<_eventstream_v1_PublishError, _eventstream_v1_PublishError__Output>
      PublishRequest: MessageTypeDefinition<_eventstream_v1_PublishRequest, _eventstream_v1_PublishRequest__Output>
      PublishResponse: MessageTypeDefinition<_eventstream_v1_PublishResponse, _eventstream_v1_PublishResponse__Output>
      PublishResult: MessageTypeDefinition<_eventstream_v1_PublishResult, _eventstream_v1_PublishResult__Output>
      PublishStreamRequest: MessageTypeDefinition<_eventstream_v1_PublishStreamRequest, _eventstream_v1_PublishStreamRequest__Output>
      PublishStreamResponse: MessageTypeDefinition<_eventstream_v1_PublishStreamResponse, _eventstream_v1_PublishStreamResponse__Output>
      ResetConsumerGroupRequest: MessageTypeDefinition<_eventstream_v1_ResetConsumerGroupRequest, _eventstream_v1_ResetConsumerGroupRequest__Output>
      ResetConsumerGroupResponse: MessageTypeDefinition<_eventstream_v1_ResetConsumerGroupResponse, _eventstream_v1_ResetConsumerGroupResponse__Output>
      StartPosition: EnumTypeDefinition
      SubscribeRequest: MessageTypeDefinition<_eventstream_v1_SubscribeRequest, _eventstream_v1_SubscribeRequest__Output>
      SubscribeResponse: MessageTypeDefinition<_eventstream_v1_SubscribeResponse, _eventstream_v1_SubscribeResponse__Output>
      Topic: MessageTypeDefinition<_eventstream_v1_Topic, _eventstream_v1_Topic__Output>
      TopicConfig: MessageTypeDefinition<_eventstream_v1_TopicConfig, _eventstream_v1_TopicConfig__Output>
    }
  }
  google: {
    protobuf: {
      Duration: MessageTypeDefinition<_google_protobuf_Duration, _google_protobuf_Duration__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
}

