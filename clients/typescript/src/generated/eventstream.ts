import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { CreateTopicRequest as _eventstream_v1_CreateTopicRequest, CreateTopicRequest__Output as _eventstream_v1_CreateTopicRequest__Output } from './eventstream/v1/CreateTopicRequest';
import type { CreateTopicResponse as _eventstream_v1_CreateTopicResponse, CreateTopicResponse__Output as _eventstream_v1_CreateTopicResponse__Output } from './eventstream/v1/CreateTopicResponse';
import type { Cursor as _eventstream_v1_Cursor, Cursor__Output as _eventstream_v1_Cursor__Output } from './eventstream/v1/Cursor';
import type { CursorUpdate as _eventstream_v1_CursorUpdate, CursorUpdate__Output as _eventstream_v1_CursorUpdate__Output } from './eventstream/v1/CursorUpdate';
import type { DeleteTopicRequest as _eventstream_v1_DeleteTopicRequest, DeleteTopicRequest__Output as _eventstream_v1_DeleteTopicRequest__Output } from './eventstream/v1/DeleteTopicRequest';
import type { DeleteTopicResponse as _eventstream_v1_DeleteTopicResponse, DeleteTopicResponse__Output as _eventstream_v1_DeleteTopicResponse__Output } from './eventstream/v1/DeleteTopicResponse';
import type { Event as _eventstream_v1_Event, Event__Output as _eventstream_v1_Event__Output } from './eventstream/v1/Event';
import type { EventData as _eventstream_v1_EventData, EventData__Output as _eventstream_v1_EventData__Output } from './eventstream/v1/EventData';
import type { EventStreamServiceClient as _eventstream_v1_EventStreamServiceClient, EventStreamServiceDefinition as _eventstream_v1_EventStreamServiceDefinition } from './eventstream/v1/EventStreamService';
import type { GetCursorRequest as _eventstream_v1_GetCursorRequest, GetCursorRequest__Output as _eventstream_v1_GetCursorRequest__Output } from './eventstream/v1/GetCursorRequest';
import type { GetCursorResponse as _eventstream_v1_GetCursorResponse, GetCursorResponse__Output as _eventstream_v1_GetCursorResponse__Output } from './eventstream/v1/GetCursorResponse';
import type { GetTopicRequest as _eventstream_v1_GetTopicRequest, GetTopicRequest__Output as _eventstream_v1_GetTopicRequest__Output } from './eventstream/v1/GetTopicRequest';
import type { GetTopicResponse as _eventstream_v1_GetTopicResponse, GetTopicResponse__Output as _eventstream_v1_GetTopicResponse__Output } from './eventstream/v1/GetTopicResponse';
import type { ListTopicsRequest as _eventstream_v1_ListTopicsRequest, ListTopicsRequest__Output as _eventstream_v1_ListTopicsRequest__Output } from './eventstream/v1/ListTopicsRequest';
import type { ListTopicsResponse as _eventstream_v1_ListTopicsResponse, ListTopicsResponse__Output as _eventstream_v1_ListTopicsResponse__Output } from './eventstream/v1/ListTopicsResponse';
import type { Precondition as _eventstream_v1_Precondition, Precondition__Output as _eventstream_v1_Precondition__Output } from './eventstream/v1/Precondition';
import type { PublishError as _eventstream_v1_PublishError, PublishError__Output as _eventstream_v1_PublishError__Output } from './eventstream/v1/PublishError';
import type { PublishRequest as _eventstream_v1_PublishRequest, PublishRequest__Output as _eventstream_v1_PublishRequest__Output } from './eventstream/v1/PublishRequest';
import type { PublishResponse as _eventstream_v1_PublishResponse, PublishResponse__Output as _eventstream_v1_PublishResponse__Output } from './eventstream/v1/PublishResponse';
import type { PublishResult as _eventstream_v1_PublishResult, PublishResult__Output as _eventstream_v1_PublishResult__Output } from './eventstream/v1/PublishResult';
import type { PublishStreamRequest as _eventstream_v1_PublishStreamRequest, PublishStreamRequest__Output as _eventstream_v1_PublishStreamRequest__Output } from './eventstream/v1/PublishStreamRequest';
import type { PublishStreamResponse as _eventstream_v1_PublishStreamResponse, PublishStreamResponse__Output as _eventstream_v1_PublishStreamResponse__Output } from './eventstream/v1/PublishStreamResponse';
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
      CreateTopicRequest: MessageTypeDefinition<_eventstream_v1_CreateTopicRequest, _eventstream_v1_CreateTopicRequest__Output>
      CreateTopicResponse: MessageTypeDefinition<_eventstream_v1_CreateTopicResponse, _eventstream_v1_CreateTopicResponse__Output>
      Cursor: MessageTypeDefinition<_eventstream_v1_Cursor, _eventstream_v1_Cursor__Output>
      CursorUpdate: MessageTypeDefinition<_eventstream_v1_CursorUpdate, _eventstream_v1_CursorUpdate__Output>
      DeleteTopicRequest: MessageTypeDefinition<_eventstream_v1_DeleteTopicRequest, _eventstream_v1_DeleteTopicRequest__Output>
      DeleteTopicResponse: MessageTypeDefinition<_eventstream_v1_DeleteTopicResponse, _eventstream_v1_DeleteTopicResponse__Output>
      Event: MessageTypeDefinition<_eventstream_v1_Event, _eventstream_v1_Event__Output>
      EventData: MessageTypeDefinition<_eventstream_v1_EventData, _eventstream_v1_EventData__Output>
      /**
       * The event-streaming API: publish to topics, subscribe to them, manage them.
       */
      EventStreamService: SubtypeConstructor<typeof grpc.Client, _eventstream_v1_EventStreamServiceClient> & { service: _eventstream_v1_EventStreamServiceDefinition }
      GetCursorRequest: MessageTypeDefinition<_eventstream_v1_GetCursorRequest, _eventstream_v1_GetCursorRequest__Output>
      GetCursorResponse: MessageTypeDefinition<_eventstream_v1_GetCursorResponse, _eventstream_v1_GetCursorResponse__Output>
      GetTopicRequest: MessageTypeDefinition<_eventstream_v1_GetTopicRequest, _eventstream_v1_GetTopicRequest__Output>
      GetTopicResponse: MessageTypeDefinition<_eventstream_v1_GetTopicResponse, _eventstream_v1_GetTopicResponse__Output>
      ListTopicsRequest: MessageTypeDefinition<_eventstream_v1_ListTopicsRequest, _eventstream_v1_ListTopicsRequest__Output>
      ListTopicsResponse: MessageTypeDefinition<_eventstream_v1_ListTopicsResponse, _eventstream_v1_ListTopicsResponse__Output>
      Precondition: MessageTypeDefinition<_eventstream_v1_Precondition, _eventstream_v1_Precondition__Output>
      PublishError: MessageTypeDefinition<_eventstream_v1_PublishError, _eventstream_v1_PublishError__Output>
      PublishRequest: MessageTypeDefinition<_eventstream_v1_PublishRequest, _eventstream_v1_PublishRequest__Output>
      PublishResponse: MessageTypeDefinition<_eventstream_v1_PublishResponse, _eventstream_v1_PublishResponse__Output>
      PublishResult: MessageTypeDefinition<_eventstream_v1_PublishResult, _eventstream_v1_PublishResult__Output>
      PublishStreamRequest: MessageTypeDefinition<_eventstream_v1_PublishStreamRequest, _eventstream_v1_PublishStreamRequest__Output>
      PublishStreamResponse: MessageTypeDefinition<_eventstream_v1_PublishStreamResponse, _eventstream_v1_PublishStreamResponse__Output>
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

