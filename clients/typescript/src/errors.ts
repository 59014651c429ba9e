/** Errors raised by the client, one class per gRPC status the API documents. */

import { status as Status, type ServiceError } from '@grpc/grpc-js';

/**
 * Status codes after which a publish is retried and a subscription reconnects: UNAVAILABLE
 * (lost connection, server down, restarting or shutting down) and DEADLINE_EXCEEDED (an
 * attempt's own deadline).
 */
export const TRANSIENT_CODES: ReadonlySet<Status> = new Set([Status.UNAVAILABLE, Status.DEADLINE_EXCEEDED]);

/** A call failed with a gRPC status (after any retries). */
export class EventStreamError extends Error {
  readonly code: Status;
  readonly details: string;

  constructor(code: Status, details: string, options?: { cause?: unknown }) {
    super(`${Status[code] ?? code}: ${details}`, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** INVALID_ARGUMENT: bad topic or group name, no events, empty type, key or payload too large. */
export class InvalidArgumentError extends EventStreamError {}
/** NOT_FOUND: the topic or consumer group is missing (auto-create off) or was deleted while in use. */
export class NotFoundError extends EventStreamError {}
/** ALREADY_EXISTS: CreateTopic or CreateConsumerGroup on a name that is taken. */
export class AlreadyExistsError extends EventStreamError {}
/**
 * FAILED_PRECONDITION: the call is refused in the current state (a consumer group reset while
 * members are connected, a group whose position fell below the retained range under the FAIL
 * policy: reset it).
 */
export class FailedPreconditionError extends EventStreamError {}
/** FAILED_PRECONDITION from Publish: an idempotency key reused with a different type or payload; nothing appended. */
export class IdempotencyConflictError extends FailedPreconditionError {}
/** OUT_OF_RANGE: start offset outside the retained range, or events removed by retention. */
export class OutOfRangeError extends EventStreamError {}
/** A transient failure (UNAVAILABLE, DEADLINE_EXCEEDED) that outlasted the retry budget. */
export class UnavailableError extends EventStreamError {}
/** DATA_LOSS: the server found its stored data corrupt or missing. */
export class DataLossError extends EventStreamError {}
/** UNAUTHENTICATED: no token, or one the server does not know. */
export class UnauthenticatedError extends EventStreamError {}
/** PERMISSION_DENIED: the token lacks the permission on that topic. */
export class PermissionDeniedError extends EventStreamError {}

type ErrorClass = new (code: Status, details: string, options?: { cause?: unknown }) => EventStreamError;

const BY_CODE: ReadonlyMap<Status, ErrorClass> = new Map<Status, ErrorClass>([
  [Status.INVALID_ARGUMENT, InvalidArgumentError],
  [Status.NOT_FOUND, NotFoundError],
  [Status.ALREADY_EXISTS, AlreadyExistsError],
  [Status.FAILED_PRECONDITION, IdempotencyConflictError],
  [Status.OUT_OF_RANGE, OutOfRangeError],
  [Status.UNAVAILABLE, UnavailableError],
  [Status.DEADLINE_EXCEEDED, UnavailableError],
  [Status.DATA_LOSS, DataLossError],
  [Status.UNAUTHENTICATED, UnauthenticatedError],
  [Status.PERMISSION_DENIED, PermissionDeniedError],
]);

const GROUP_BY_CODE: ReadonlyMap<Status, ErrorClass> = new Map<Status, ErrorClass>([
  ...BY_CODE,
  [Status.FAILED_PRECONDITION, FailedPreconditionError],
]);

/** True for an error that carries a gRPC status code. */
export function isServiceError(error: unknown): error is ServiceError {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'number';
}

/** The status code of a failed call (UNKNOWN for errors without one). */
export function codeOf(error: unknown): Status {
  return isServiceError(error) ? error.code : Status.UNKNOWN;
}

function fromCode(error: unknown, byCode: ReadonlyMap<Status, ErrorClass>): EventStreamError {
  if (error instanceof EventStreamError) return error;
  const code = codeOf(error);
  const details = isServiceError(error) ? error.details || error.message : String(error);
  const Class = byCode.get(code) ?? EventStreamError;
  return new Class(code, details, { cause: error });
}

/** The client error for a failed call. */
export function fromServiceError(error: unknown): EventStreamError {
  return fromCode(error, BY_CODE);
}

/** The client error for a failed consumer-group call (CreateConsumerGroup ... Consume). */
export function fromGroupServiceError(error: unknown): EventStreamError {
  return fromCode(error, GROUP_BY_CODE);
}
