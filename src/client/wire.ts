/**
 * The shapes of proto/latch.proto messages as @grpc/proto-loader hands them over (camelCase fields,
 * uint64 as decimal strings, enums as names, bytes as Buffer, defaults filled in). Internal to the SDK:
 * answers are converted to public types (bigint ids) in convert.ts, never passed through.
 */

/** `latch.v1.LockMode` by name. */
export type WireLockMode = 'EXCLUSIVE' | 'SHARED';

/** `latch.v1.StatusRequest`. */
export type WireStatusRequest = Record<string, never>;

/** `latch.v1.Member`. */
export interface WireMember {
  readonly id: string;
  readonly peerAddress: string;
  readonly clientAddress: string;
  readonly learner: boolean;
}

/** `latch.v1.StatusResponse`. */
export interface WireStatusResponse {
  readonly id: string;
  readonly role: string;
  readonly term: string;
  readonly commitIndex: string;
  readonly appliedIndex: string;
  readonly leader: string;
  readonly leaderClientAddress: string;
  readonly clientAddress: string;
  readonly clusterId: string;
  readonly members: readonly WireMember[];
}

/** `latch.v1.OpenSessionRequest`. */
export interface WireOpenSessionRequest {
  readonly ttlMs: number;
  readonly client: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** `latch.v1.OpenSessionResponse`. */
export interface WireOpenSessionResponse {
  readonly sessionId: string;
  readonly ttlMs: number;
}

/** `latch.v1.KeepAliveRequest`. */
export interface WireKeepAliveRequest {
  readonly sessionId: string;
  readonly nonce: string;
}

/** `latch.v1.KeepAliveResponse`. */
export interface WireKeepAliveResponse {
  readonly sessionId: string;
  readonly nonce: string;
  readonly ttlMs: number;
  readonly expired: boolean;
}

/** `latch.v1.KeepAliveBatchRequest`. */
export interface WireKeepAliveBatchRequest {
  readonly requests: readonly WireKeepAliveRequest[];
}

/** `latch.v1.KeepAliveBatchResponse`. */
export interface WireKeepAliveBatchResponse {
  readonly responses: readonly WireKeepAliveResponse[];
}

/** `latch.v1.CloseSessionRequest`. */
export interface WireCloseSessionRequest {
  readonly sessionId: string;
  readonly requestSeq: string;
}

/** An empty response message. */
export type WireEmpty = Record<string, never>;

/** `latch.v1.SessionInfo`. */
export interface WireSessionInfo {
  readonly sessionId: string;
  readonly client: string;
  readonly ttlMs: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly locks: readonly string[];
  readonly lapsed: boolean;
  readonly openedAtMs: string;
}

/** `latch.v1.ListSessionsResponse`. */
export interface WireListSessionsResponse {
  readonly sessions: readonly WireSessionInfo[];
}

/** `latch.v1.Sequencer`. */
export interface WireSequencer {
  readonly name: string;
  readonly mode: WireLockMode;
  readonly token: string;
  readonly sessionId: string;
}

/** `latch.v1.AcquireRequest`. */
export interface WireAcquireRequest {
  readonly sessionId: string;
  readonly requestSeq: string;
  readonly name: string;
  readonly mode: WireLockMode;
  readonly waitMs: number;
  readonly value: Buffer;
}

/** `latch.v1.AcquireResponse`. */
export interface WireAcquireResponse {
  readonly acquired: boolean;
  readonly sequencer: WireSequencer | null;
}

/** `latch.v1.ReleaseRequest` (also `ResignRequest`, which has the same fields). */
export interface WireReleaseRequest {
  readonly sessionId: string;
  readonly requestSeq: string;
  readonly name: string;
}

/** `latch.v1.SetValueRequest` (also `ProclaimRequest`). */
export interface WireSetValueRequest {
  readonly sessionId: string;
  readonly requestSeq: string;
  readonly name: string;
  readonly value: Buffer;
}

/** `latch.v1.GetLockRequest` (also `LeaderRequest`). */
export interface WireNameRequest {
  readonly name: string;
}

/** `latch.v1.Holder`. */
export interface WireHolder {
  readonly sessionId: string;
  readonly token: string;
}

/** `latch.v1.Waiter`. */
export interface WireWaiter {
  readonly sessionId: string;
  readonly mode: WireLockMode;
}

/** `latch.v1.LockInfo`. */
export interface WireLockInfo {
  readonly name: string;
  readonly held: boolean;
  readonly mode: WireLockMode;
  readonly holders: readonly WireHolder[];
  readonly value: Buffer;
  readonly waiters: readonly WireWaiter[];
  readonly inDelay: boolean;
}

/** `latch.v1.ListLocksRequest`. */
export interface WireListLocksRequest {
  readonly prefix: string;
}

/** `latch.v1.ListLocksResponse`. */
export interface WireListLocksResponse {
  readonly locks: readonly WireLockInfo[];
}

/** `latch.v1.CheckSequencerResponse`. */
export interface WireCheckSequencerResponse {
  readonly current: boolean;
}

/** `latch.v1.CampaignRequest`. */
export interface WireCampaignRequest {
  readonly sessionId: string;
  readonly requestSeq: string;
  readonly name: string;
  readonly value: Buffer;
  readonly waitMs: number;
}

/** `latch.v1.LeaderResponse`. */
export interface WireLeaderResponse {
  readonly hasLeader: boolean;
  readonly sessionId: string;
  readonly token: string;
  readonly value: Buffer;
}

/** `latch.v1.WatchRequest`. */
export interface WireWatchRequest {
  readonly prefix: string;
  readonly fromIndex: string;
}

/** `latch.v1.Event`. */
export interface WireEvent {
  readonly index: string;
  readonly type: string;
  readonly name: string;
  readonly sessionId: string;
  readonly token: string;
  readonly mode: WireLockMode;
  readonly atMs: string;
}

/** Every unary method of the client API: its request and response shapes. */
export interface UnaryMethods {
  'Cluster/Status': { req: WireStatusRequest; res: WireStatusResponse };
  'Sessions/Open': { req: WireOpenSessionRequest; res: WireOpenSessionResponse };
  'Sessions/Close': { req: WireCloseSessionRequest; res: WireEmpty };
  'Sessions/List': { req: WireEmpty; res: WireListSessionsResponse };
  'Locks/Acquire': { req: WireAcquireRequest; res: WireAcquireResponse };
  'Locks/Release': { req: WireReleaseRequest; res: WireEmpty };
  'Locks/SetValue': { req: WireSetValueRequest; res: WireEmpty };
  'Locks/Get': { req: WireNameRequest; res: WireLockInfo };
  'Locks/List': { req: WireListLocksRequest; res: WireListLocksResponse };
  'Locks/CheckSequencer': { req: WireSequencer; res: WireCheckSequencerResponse };
  'Elections/Campaign': { req: WireCampaignRequest; res: WireLeaderResponse };
  'Elections/Proclaim': { req: WireSetValueRequest; res: WireLeaderResponse };
  'Elections/Resign': { req: WireReleaseRequest; res: WireEmpty };
  'Elections/Leader': { req: WireNameRequest; res: WireLeaderResponse };
}

/** A unary method name, `Service/Method`. */
export type UnaryMethod = keyof UnaryMethods;

/** Every server-streaming method of the client API. */
export interface StreamMethods {
  'Elections/Observe': { req: WireNameRequest; res: WireLeaderResponse };
  'Watch/Watch': { req: WireWatchRequest; res: WireEvent };
}

/** A server-streaming method name. */
export type StreamMethod = keyof StreamMethods;

/** The unary lock operations the SDK sends over `Locks.Stream`, with their `op` / `result` oneof field. */
export const LOCK_STREAM_OPS = {
  'Locks/Acquire': 'acquire',
  'Locks/Release': 'release',
  'Locks/SetValue': 'setValue',
} as const satisfies Partial<Record<UnaryMethod, string>>;

/** A lock operation that can travel on `Locks.Stream`. */
export type LockStreamMethod = keyof typeof LOCK_STREAM_OPS;

/** `latch.v1.LockStreamRequest`: one operation (or a cancel) with the client's call id. */
export interface WireLockStreamRequest {
  readonly callId: string;
  readonly acquire?: WireAcquireRequest;
  readonly release?: WireReleaseRequest;
  readonly setValue?: WireSetValueRequest;
  readonly cancel?: WireEmpty;
}

/** `latch.v1.CallError`: the gRPC status and Latch trailers the unary call would have ended with. */
export interface WireCallError {
  readonly grpcCode: number;
  readonly latchCode: string;
  readonly message: string;
  readonly leader: string;
  /** OVERLOADED: how long to wait before retrying (ms); 0 or absent otherwise. */
  readonly retryAfterMs?: number;
}

/** `latch.v1.LockStreamResponse`: the answer to one call; `result` names the oneof field that is set. */
export interface WireLockStreamResponse {
  readonly callId: string;
  readonly result?: 'acquire' | 'release' | 'setValue' | 'error';
  readonly acquire?: WireAcquireResponse;
  readonly release?: WireEmpty;
  readonly setValue?: WireEmpty;
  readonly error?: WireCallError;
}

/** Methods that change state and carry `(sessionId, requestSeq)`; only the leader serves them. */
export const MUTATING_METHODS: ReadonlySet<UnaryMethod> = new Set<UnaryMethod>([
  'Sessions/Open',
  'Sessions/Close',
  'Locks/Acquire',
  'Locks/Release',
  'Locks/SetValue',
  'Elections/Campaign',
  'Elections/Proclaim',
  'Elections/Resign',
]);
