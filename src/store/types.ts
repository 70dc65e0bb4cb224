// The outbox contract. Both stores (SQLite, PostgreSQL) implement OutboxStore;
// consumers import only the narrow slice they need (IngestStore, DeliveryStore, ...).

/** One WhatsGate event, validated and routed, ready to be written with its deliveries. */
export interface NewEvent {
  /** `<whatsapp_id>:<event_action>:<id>`: WhatsGate reuses ids across actions. */
  key: string
  whatsappId: string
  eventId: string
  action: string
  /** `YYYY-MM-DD HH:MM:SS`: WhatsGate's `event_date` as sent, or the same instant (see eventDateOf). */
  eventDate: string
  /** The chat jid of a message event (events/parse.ts `chatOf`); null for session events. */
  chat: string | null
  /**
   * Who the event is between, each once (events/parties.ts `partiesOf`): what a search by phone
   * number or jid finds it by. None for session events. The store adds the chat's when missing:
   * a chat filter reads them (events/parties.ts storedParties).
   */
  parties: readonly string[]
  /** The headers the webhook request came with (credentials redacted); null for a backfill. */
  headers: Readonly<Record<string, string>> | null
  /** The body exactly as received. */
  body: Buffer
  deliveries: NewDelivery[]
  /** Where the event departs from WhatsGate's documentation; empty = conforming. */
  issues: readonly SchemaIssue[]
}

export interface SchemaIssue {
  path: string
  message: string
}

/** A webhook request the relay refused (after its token matched), kept for the operator. */
export interface RefusedRequest {
  receivedAt: number
  /** `not_json`, `no_identity`, `too_large`, ...: why it was refused. */
  reason: string
  /** The HTTP status it was answered with. */
  status: number
  /** Its headers, secrets left out. */
  headers: Record<string, string>
  /** The body as it came, at most BODY_LIMIT bytes; null when it was not read (too large). */
  body: Buffer | null
  /** The body's size in bytes, as read or as announced; null when unknown. */
  bodySize: number | null
}

export interface RefusedRow extends RefusedRequest {
  id: number
}

export interface NewDelivery {
  target: string
  /** Deliveries of one target with the same key are sent strictly in order; null = unordered. */
  orderingKey: string | null
  /**
   * Written already leased to this dispatcher, which sends it right after the commit without a
   * claim (the fresh path); left unleased, for a claim, when its target is paused or an older
   * delivery of its target and ordering key is pending.
   */
  lease?: Lease | undefined
}

export interface Lease {
  owner: string
  /** When the lease runs out (ms since the epoch), as a claim's would. */
  expiresAt: number
}

export interface AcceptResult {
  key: string
  /** false when the key was already stored: nothing was written. */
  inserted: boolean
  /** When it was stored (ms since the epoch); set when inserted. */
  receivedAt?: number
  /** The deliveries written leased as asked, by target, with their ids; set when inserted. */
  leased?: { target: string; id: number }[]
  /**
   * Set when not inserted and the body differs from every copy stored under the key, both having
   * come by webhook (conflicts.ts): `kept` beside the event, or not (`beyond_limit`: the key has
   * CONFLICTS_KEPT_PER_KEY already).
   */
  conflict?: ConflictOutcome
}

export type ConflictOutcome = 'kept' | 'beyond_limit'

/** A copy of an event that came under its key with a different body, kept beside it. */
export interface ConflictRow {
  id: number
  eventKey: string
  receivedAt: number
  /** The headers its request came with (credentials redacted); null for a backfill. */
  headers: Record<string, string> | null
  body: Buffer
}

export type DeliveryStatus = 'pending' | 'delivered' | 'dead'

export interface ClaimedDelivery {
  id: number
  target: string
  attempts: number
  eventKey: string
  whatsappId: string
  action: string
  body: Buffer
  /** Milliseconds since the epoch at which the event was received. */
  receivedAt: number
}

export interface ClaimRequest {
  target: string
  limit: number
  owner: string
  now: number
  leaseMs: number
}

/**
 * What an attempt decided for its delivery (delivery/retry-policy.ts decides): delivered and dead
 * finish it, retry makes it due again at `at`.
 */
export type DeliveryDecision = { kind: 'delivered' } | { kind: 'retry'; at: number } | { kind: 'dead' }

/**
 * Why an attempt failed, as the dispatcher classified it: `http` a non-2xx answer, `timeout` the
 * attempt's deadline, `connection` no answer at all (refused, reset, DNS), `media` the body's
 * inline media could not be fetched (the target was not called).
 */
export type AttemptErrorClass = 'http' | 'timeout' | 'connection' | 'media'

export interface AttemptOutcome {
  /**
   * The dispatcher the attempt was claimed by. The outcome is recorded only while it still holds
   * the lease: one that ran out belongs to whoever claimed the delivery since. Its attempt row
   * names it as the replica that made the attempt.
   */
  owner: string
  now: number
  httpStatus: number | null
  error: string | null
  /** When the attempt started (ms since the epoch) and how long it took. */
  startedAt: number
  durationMs: number
  /** Null when the target answered 2xx in time. */
  errorClass: AttemptErrorClass | null
  /** The start of the response body (its first 1 KiB) as text; null when no answer arrived. */
  responseExcerpt: string | null
}

export interface IngestStore {
  /** Writes the events and their deliveries durably; resolves only once committed. */
  accept(events: NewEvent[]): Promise<AcceptResult[]>
  /** Keeps a refused request, then drops the oldest beyond the `keep` most recent. */
  keepRefused(request: RefusedRequest, keep: number): Promise<void>
}

export interface DeliveryStore {
  /**
   * Leases up to `limit` due deliveries of a target to `owner` until `now + leaseMs`, longest due
   * first; a delivery with an ordering key only once no older one of its target and key is pending.
   * Nothing while the target is paused (setPaused), whichever replica paused it.
   */
  claim(request: ClaimRequest): Promise<ClaimedDelivery[]>
  /**
   * Records an attempt of a claimed delivery: one more attempt, its status and error, and what
   * becomes of the delivery, with a row in its attempt history, in one transaction. Frees the
   * lease; changes nothing (and keeps no attempt) when `outcome.owner` no longer holds it.
   */
  record(id: number, decision: DeliveryDecision, outcome: AttemptOutcome): Promise<void>
  /** Frees the leases of a dispatcher that died, when the store can know it did; returns how many. */
  recoverLeases(): Promise<number>
  /** Gives claimed rows that `owner` still holds back untouched (shutdown): due again at once. */
  release(ids: number[], owner: string): Promise<void>
  /**
   * Makes up to `limit` pending deliveries of a target that wait for a later retry due at `now`,
   * oldest first: the target has recovered. Returns how many.
   */
  expedite(target: string, now: number, limit: number): Promise<number>
  /** The earliest time a pending delivery of this target becomes due, or null. */
  nextDueAt(target: string): Promise<number | null>
}

export interface PurgeRequest {
  /** Events whose deliveries all succeeded, received before this time, are removed. */
  deliveredBefore: number
  /** Events with dead deliveries (and none pending), received before this time, are removed. */
  deadBefore: number
  limit: number
}

export interface DeliveryRow {
  id: number
  target: string
  status: DeliveryStatus
  eventKey: string
  whatsappId: string
  action: string
  attempts: number
  nextAttemptAt: number
  lastStatus: number | null
  lastError: string | null
  receivedAt: number
  finishedAt: number | null
}

/** One attempt of a delivery, as recorded with its outcome. */
export interface AttemptRow {
  id: number
  deliveryId: number
  startedAt: number
  durationMs: number
  /** The HTTP status, or null when no answer arrived. */
  status: number | null
  errorClass: AttemptErrorClass | null
  error: string | null
  responseExcerpt: string | null
  /** The dispatcher (lease owner id) that made the attempt. */
  replica: string
  /**
   * 0 for an attempt of the delivery's first schedule (the first try and its retries); n for one
   * made after its n-th replay, which starts the count of attempts afresh.
   */
  replay: number
}

/** A delivery with its attempt history. */
export interface DeliveryDetail extends DeliveryRow {
  /** Every attempt recorded, oldest first (a replay resets `attempts`, never this). */
  history: AttemptRow[]
}

/** An event as stored, its body, and each of its deliveries (by id) with their attempts. */
export interface EventDetail extends EventRow {
  /** The headers the webhook request came with (credentials redacted); null for a backfill. */
  headers: Record<string, string> | null
  body: Buffer
  deliveries: DeliveryDetail[]
  /** The copies that came later under its key with a different body, oldest first. */
  conflicts: ConflictRow[]
}

export interface DeliveryQuery extends PageQuery {
  status?: DeliveryStatus
  target?: string
  /** Deliveries of one session's events only. */
  whatsappId?: string
  /** Of events received at or after this time (ms since the epoch). */
  receivedFrom?: number
  /** Of events received before this time (ms since the epoch). */
  receivedBefore?: number
}

export interface EventRow {
  seq: number
  key: string
  whatsappId: string
  eventId: string
  action: string
  eventDate: string
  /** The chat jid of a message event; null for session events and events stored before it was kept. */
  chat: string | null
  receivedAt: number
  /** Null for an event that conforms to WhatsGate's documentation. */
  issues: SchemaIssue[] | null
}

export interface EventQuery {
  /** true: only conforming events; false: only non-conforming ones. */
  conforming?: boolean
  /** One session's events only. */
  whatsappId?: string
  action?: string
  /**
   * One chat's events: its jid (`79991234567@c.us`, `1203...@g.us`), or a phone number (digits,
   * a leading `+` allowed) for its one-to-one chat.
   */
  chat?: string
  /**
   * The events a phone number (in any written form) or a jid is a party of: their chat, sender,
   * recipient or group participant (events/parties.ts). Events stored before parties were kept
   * are found by their chat only.
   */
  party?: string
  /** The event with this key only. */
  key?: string
  /** Received at or after this time (ms since the epoch). */
  receivedFrom?: number
  /** Received before this time (ms since the epoch). */
  receivedBefore?: number
  /** Events stored after this one (keyset pagination), oldest first. */
  afterSeq?: number
  /** Newest first, from the newest or from before `beforeSeq` (the receive order read backwards). */
  newestFirst?: boolean
  /** With newestFirst: events stored before this one. */
  beforeSeq?: number
  /** Events with a delivery of this outcome (to `target` when given). */
  outcome?: DeliveryOutcome
  /** Events with a delivery to this target (of `outcome` when given). */
  target?: string
  limit: number
}

/**
 * What became of a delivery, as an event list filters by it: `pending` not finished (tried or
 * not), `retrying` pending after a failed attempt, `paused` pending for a paused target.
 */
export type DeliveryOutcome = 'delivered' | 'pending' | 'retrying' | 'paused' | 'dead'

/** The delivery of one listed event to one target, as its row shows it (AdminStore.eventSummaries). */
export interface EventDeliverySummary {
  seq: number
  target: string
  status: DeliveryStatus
  attempts: number
}

export interface PageQuery {
  /** Rows with an id above this one (keyset pagination). */
  afterId?: number
  /** Newest first, from the newest or from below `beforeId`. */
  newestFirst?: boolean
  /** With newestFirst: rows with an id below this one. */
  beforeId?: number
  limit: number
}

export interface AdminStore {
  listEvents(query: EventQuery): Promise<EventRow[]>
  /** The refused requests kept, oldest first (newest first when asked). */
  listRefused(query: PageQuery): Promise<RefusedRow[]>
  /**
   * What a page of events shows in its rows: their bodies (for a preview) and their deliveries,
   * by seq. Events no longer stored are left out.
   */
  eventSummaries(
    seqs: readonly number[],
  ): Promise<{ bodies: Map<number, Buffer>; deliveries: EventDeliverySummary[] }>
  /** The conflicting copies kept, newest first: `afterId` pages on to those older than it. */
  listConflicts(query: PageQuery): Promise<ConflictRow[]>
  listDeliveries(query: DeliveryQuery): Promise<DeliveryRow[]>
  /** One delivery with every attempt, oldest first; null when no delivery has this id. */
  getDelivery(id: number): Promise<DeliveryDetail | null>
  /** One event by its key, with its body, deliveries and their attempts; null when not stored. */
  getEvent(key: string): Promise<EventDetail | null>
  /**
   * Makes finished deliveries due again from scratch (attempts reset), by id or all dead ones of
   * a target. Returns how many.
   */
  replay(selector: ReplaySelector, now: number): Promise<{ replayed: number }>
  /** Delivery counts per target and status, for metrics. */
  countDeliveries(): Promise<{ target: string; status: DeliveryStatus; count: number }[]>
  /** Per target with pending deliveries: how many, and when the oldest of their events arrived. */
  backlog(): Promise<Map<string, { pending: number; oldestReceivedAt: number }>>
  /** How many events were stored at or after `since` (ms since the epoch). */
  countReceivedSince(since: number): Promise<number>
  /**
   * Pauses a target (its deliveries stay pending and no claim hands them out, on any replica) or
   * resumes it. Pausing a paused target keeps the time it was first paused. Once it resolves, no
   * claim of the target that started before it is still to commit: what was claimed is claimed.
   */
  setPaused(target: string, paused: boolean, now: number): Promise<void>
  /** The targets paused, each with the time it was paused (ms since the epoch). */
  pausedTargets(): Promise<Map<string, number>>
}

/** One event as a stream serves it: its position in the stream (its delivery's id) and its body. */
export interface StreamEntry {
  id: number
  body: Buffer
}

/**
 * A stream target's deliveries are read by its consumers, in id order, rather than claimed and
 * sent; they stay pending until the consumer confirms a position at or past them.
 */
export interface StreamStore {
  /** Up to `limit` of the stream's deliveries after `afterId`, in id order, whatever their status. */
  readStream(target: string, afterId: number, limit: number): Promise<StreamEntry[]>
  /** The id of the stream's newest delivery; 0 when it has none. */
  streamHead(target: string): Promise<number>
  /**
   * The consumer has everything up to `position`: kept as its position, never moved back nor past
   * the head. Returns the position kept.
   */
  confirmStream(target: string, position: number, now: number): Promise<number>
  /**
   * Makes up to `limit` pending deliveries of the stream up to `upTo` delivered (called again
   * until it returns fewer): its consumer confirmed them. Returns how many.
   */
  markStreamDelivered(target: string, upTo: number, now: number, limit: number): Promise<number>
  /** The position the stream's consumer last confirmed; 0 before its first confirmation. */
  streamPosition(target: string): Promise<number>
}

/** Who a signed-in person is: the admin, or a viewer who may only look. */
export type AdminRole = 'admin' | 'viewer'

/** A dashboard sign-in, as the store keeps it: the cookie's secret only as its hash. */
export interface AdminSessionRow {
  /** Public: listed, and how one session is ended. */
  id: string
  /** SHA-256 of the secret half of the cookie. */
  secretHash: Buffer
  role: AdminRole
  /** Which token signed in (admin/sessions.ts tokenTag): a token no longer set ends the session. */
  tokenTag: string
  createdAt: number
  lastSeenAt: number
  /** The end of its absolute lifetime; idle time ends it sooner. */
  expiresAt: number
  address: string | null
  userAgent: string | null
}

/** Dashboard sessions, kept in the store so that every replica sees a sign-out at once. */
export interface AdminSessionStore {
  createAdminSession(session: AdminSessionRow): Promise<void>
  findAdminSession(id: string): Promise<AdminSessionRow | null>
  /** Moves its last-seen time (its idle clock) forward. */
  touchAdminSession(id: string, lastSeenAt: number): Promise<void>
  /** Every session kept, newest first. */
  listAdminSessions(): Promise<AdminSessionRow[]>
  /** Ends one session; false when none has this id. */
  endAdminSession(id: string): Promise<boolean>
  /**
   * Ends every session past its lifetime (`expiresAt <= now`), idle since before `idleSince`, or
   * signed in with a token that is no longer set (a tag not in `tokenTags`). Returns how many.
   */
  pruneAdminSessions(prune: { now: number; idleSince: number; tokenTags: string[] }): Promise<number>
}

/** A relay process dispatching from the store, as its heartbeats show it. */
export interface ReplicaRow {
  /** Its dispatcher's lease owner id. */
  id: string
  startedAt: number
  lastBeatAt: number
  /** When another replica found it silent and took its leases back; null while it beats. */
  deadAt: number | null
}

export interface ReplicaReap {
  /** The replica reaping: never found dead by itself. */
  self: string
  now: number
  /** A replica whose last beat is before this is dead. */
  silentSince: number
  /** A replica whose last beat is before this is forgotten (its row goes). */
  forgetBefore: number
}

/**
 * Heartbeats of the replicas sharing the store (delivery/replica-heartbeat.ts), so that a replica
 * that died gives its leases back without waiting for them to run out.
 */
export interface ReplicaStore {
  /**
   * Records `id` alive at `now` (a row made or written again, alive even if found dead before).
   * Returns whether another replica had found it dead (it stalled past the limit): its leases
   * were freed, and what it still sends may be sent by another too.
   */
  beat(replica: { id: string; startedAt: number; now: number }): Promise<{ wasDead: boolean }>
  /**
   * Marks dead each other replica silent since before `silentSince` not yet marked, and frees
   * its leases in the same transaction (the deliveries are claimable at once); then forgets the
   * replicas silent since before `forgetBefore`. Returns the replicas found dead now and how
   * many leases they held.
   */
  reapReplicas(reap: ReplicaReap): Promise<{ dead: string[]; freed: number }>
  /** Every replica known, oldest start first. */
  listReplicas(): Promise<ReplicaRow[]>
  /** A clean shutdown: the replica's row goes (its leases were released already). */
  removeReplica(id: string): Promise<void>
}

export interface OutboxStore
  extends IngestStore,
    DeliveryStore,
    AdminStore,
    StreamStore,
    AdminSessionStore,
    ReplicaStore,
    AlertStore,
    DeadLetterStore,
    AuditStore,
    StatsStore {
  /**
   * The newest `event_date` ever stored, per session: where a backfill starts. Kept apart from the
   * events, so retention purging a quiet session's events does not send its backfill to the start.
   */
  newestEventDates(): Promise<Map<string, string>>
  /** Raises a session's mark to at least `eventDate` (a session first seen: nothing older is fetched). */
  markSession(whatsappId: string, eventDate: string): Promise<void>
  /** Removes finished events in one small batch; returns how many went. */
  purge(request: PurgeRequest): Promise<number>
  /**
   * Throws when the store refuses writes (readiness): a real accept failed within the last second,
   * or a tiny real write through the normal write path fails now (store/write-health.ts).
   */
  ping(): Promise<void>
  close(): Promise<void>
}

/** A condition the relay alerts on (alerts/conditions.ts), open until it resolves. */
export interface AlertRow {
  id: number
  /** `session.disconnected`, `target.failing`, ... */
  condition: string
  /** What it is about: a session id, a target or channel name; '' for the relay itself. */
  subject: string
  /** The session it concerns, for a channel's `sessions`; null when it concerns none. */
  session: string | null
  /** What was seen, for the operator (a disconnect's reason, a target's last error). */
  detail: string
  openedAt: number
  resolvedAt: number | null
  /** When its opening, and its resolution, went into a message; null while still to tell. */
  openNotifiedAt: number | null
  resolveNotifiedAt: number | null
  /** When it was last told (opening or reminder), what the next reminder counts from. */
  lastNotifiedAt: number | null
}

export interface NewAlert {
  condition: string
  subject: string
  session: string | null
  detail: string
  at: number
  /** When it was already told (outside the store: relay.store); its opening is then not told again. */
  toldAt?: number | null
}

/** What one round of telling has to say: conditions opened, resolved, still open (reminders). */
export interface AlertNotices {
  opened: AlertRow[]
  resolved: AlertRow[]
  reminded: AlertRow[]
}

export interface AlertNoticeRules {
  now: number
  /** Openings wait until the oldest untold one is this old, so that those opening together go in one message. */
  groupWindowMs: number
  /** An open condition is told again this long after it was last told. */
  reminderMs: number
}

/** A message to one channel, waiting in the store until it is delivered. */
export interface NewAlertMessage {
  channel: string
  /** The message (alerts/messages.ts AlertMessage) as JSON; formatted for its channel when sent. */
  body: string
}

export interface AlertMessageRow {
  id: number
  channel: string
  body: string
  createdAt: number
  status: 'pending' | 'delivered'
  attempts: number
  nextAttemptAt: number
  lastError: string | null
  deliveredAt: number | null
}

/**
 * Alerts: conditions kept with their state, so that a restart neither forgets nor repeats them and
 * replicas agree (an opening is an insert only one replica makes), and the messages that tell them,
 * delivered in order per channel, with retries.
 */
export interface AlertStore {
  /**
   * Opens a condition unless it is open already, or was resolved after `alert.at` (a replica
   * reading an old event late); true when this call opened it.
   */
  openAlert(alert: NewAlert): Promise<boolean>
  /** Resolves the open condition; true when this call resolved it. */
  resolveAlert(condition: string, subject: string, at: number): Promise<boolean>
  /** The open conditions, oldest first. */
  openAlerts(): Promise<AlertRow[]>
  /** The open conditions and those resolved at or after `resolvedSince`, newest first, at most `limit`. */
  recentAlerts(resolvedSince: number, limit: number): Promise<AlertRow[]>
  /**
   * Takes what is due to be told under the rules and, in one transaction (one replica at a time),
   * writes the messages `compose` makes of it and marks it told. Returns how many messages.
   */
  tellAlerts(rules: AlertNoticeRules, compose: (notices: AlertNotices) => NewAlertMessage[]): Promise<number>
  /** Adds messages (a test message) to the channels' queues. */
  queueAlertMessages(messages: NewAlertMessage[], now: number): Promise<void>
  /**
   * The channel's oldest undelivered message, leased until `now + leaseMs`, when it is due and no
   * one holds it: a channel's messages go one at a time, in order. Null otherwise.
   */
  claimAlertMessage(channel: string, now: number, leaseMs: number): Promise<AlertMessageRow | null>
  /**
   * Frees the message leases of a process that died, when the store can know it did (SQLite: one
   * process has the file); on PostgreSQL a lease runs out instead. Returns how many.
   */
  recoverAlertLeases(): Promise<number>
  /** Records an attempt: delivered, or due again at `retryAt` with the error. */
  finishAlertMessage(
    id: number,
    outcome: { delivered: true } | { retryAt: number; error: string },
    now: number,
  ): Promise<void>
  /** The most recent messages, newest first. */
  recentAlertMessages(limit: number): Promise<AlertMessageRow[]>
  /**
   * Removes delivered messages, and resolved conditions whose resolution was told, finished before
   * `before`. Returns how many rows went.
   */
  purgeAlerts(before: number): Promise<number>
  /** A small named value the evaluator keeps across restarts (how far it has read the events). */
  alertState(name: string): Promise<string | null>
  setAlertState(name: string, value: string): Promise<void>
}

/**
 * What a replay sends again: deliveries by id (discarded ones too: named one by one), every dead
 * one of a target (not discarded), the finished ones of an event (with `status: 'dead'`, its dead
 * ones only: the targets that got it are left alone), or the dead letters a filter matches.
 */
export type ReplaySelector =
  | { ids: number[] }
  | { target: string; status: 'dead' }
  | { eventKey: string; status?: 'dead' }
  | { dead: DeadLetterFilter }

/** Which dead deliveries: every condition given must hold. */
export interface DeadLetterFilter {
  target?: string
  /** Of one session's events. */
  whatsappId?: string
  /** Of one chat's events: its jid, or a phone number for its one-to-one chat. */
  chat?: string
  /** Of events received at or after this time (ms since the epoch). */
  receivedFrom?: number
  /** Of events received before this time (ms since the epoch). */
  receivedBefore?: number
  /** The last attempt's HTTP status; null: it got no answer. */
  lastStatus?: number | null
  /** The last attempt's error class; null: not known (a delivery that died before it was kept). */
  errorClass?: AttemptErrorClass | null
  /** Deliveries with an id up to this one only: what a count saw, so a replay does no more. */
  upTo?: number
}

export interface DeadLetterQuery extends DeadLetterFilter {
  /** true: the discarded ones only; otherwise those not discarded. */
  discarded?: boolean
  /** Rows with an id below this one (keyset pagination, newest first). */
  beforeId?: number
  limit: number
}

/** Dead letters of one target and one cause. */
export interface DeadLetterGroup {
  target: string
  lastStatus: number | null
  errorClass: AttemptErrorClass | null
  /** Not discarded: what a bulk replay would send. */
  count: number
  discarded: number
  /** When the newest and the oldest of them died (ms since the epoch). */
  newestAt: number
  oldestAt: number
}

/** A dead delivery, with what the operator needs to triage it. */
export interface DeadLetterRow extends DeliveryRow {
  chat: string | null
  errorClass: AttemptErrorClass | null
  /** How often it was replayed before. */
  replays: number
  discardedAt: number | null
  discardReason: string | null
  /** Who discarded it (AuditActor's text form). */
  discardedBy: string | null
}

export interface DiscardMark {
  at: number
  reason: string
  by: string
}

export interface DeadLetterStore {
  /** Dead letters per target and cause, the newest death first. */
  deadLetterGroups(filter: DeadLetterFilter): Promise<DeadLetterGroup[]>
  /** Dead letters, newest (highest id) first. */
  listDeadLetters(query: DeadLetterQuery): Promise<DeadLetterRow[]>
  /**
   * How many dead letters (not discarded) match, the highest id among them (null: none), and the
   * targets they are of.
   */
  countDeadLetters(
    filter: DeadLetterFilter,
  ): Promise<{ count: number; upTo: number | null; targets: string[] }>
  /**
   * Marks dead deliveries discarded (kept, and left out of every replay but one by id), by id or
   * by filter. Those discarded already keep their mark. Returns how many.
   */
  discard(
    selector: { ids: number[] } | { dead: DeadLetterFilter },
    mark: DiscardMark,
  ): Promise<{ discarded: number }>
}

export type AuditAction = 'replay' | 'discard' | 'pause' | 'resume'
/** How the change was asked for: the dashboard, the CLI, or another client of the API. */
export type AuditVia = 'api' | 'cli' | 'dashboard'

export interface AuditEntry {
  at: number
  action: AuditAction
  via: AuditVia
  /** The role of the token or of the session that asked. */
  role: AdminRole
  /** The dashboard session that asked; null for a bearer token. */
  session: string | null
  /** What it acted on: a target, or the selector as JSON. */
  subject: string
  /** How many deliveries it changed; null for a pause or a resume. */
  count: number | null
  reason: string | null
}

export interface AuditRow extends AuditEntry {
  id: number
}

/** Who did what: every replay, discard, pause and resume. */
export interface AuditStore {
  recordAudit(entry: AuditEntry): Promise<void>
  /** Newest first: `beforeId` pages on to older ones. */
  listAudit(query: { beforeId?: number; limit: number }): Promise<AuditRow[]>
}

/** What happened in some stretch of time: events received, deliveries delivered, failed attempts, deliveries that died. */
export interface TrafficCounts {
  received: number
  delivered: number
  /** Attempts that failed (a retry follows, or the delivery died). */
  failed: number
  dead: number
}

/** One bucket of a traffic series: its start (ms since the epoch) and its counts. */
export interface TrafficBucket extends TrafficCounts {
  at: number
}

export interface SessionLastEvent {
  whatsappId: string
  /** When the relay stored the session's newest event (ms since the epoch). */
  receivedAt: number
}

/**
 * The numbers of the overview and the targets page, from the store, so they survive a restart and
 * every replica reads the same. Counted per minute in the transactions that accept events and
 * record attempts (store/sqlite-stats.ts, postgres-stats.ts).
 */
export interface StatsStore {
  /**
   * From `since` on, per bucket of `bucketMs` (a whole number of minutes, buckets aligned to it
   * since the epoch), oldest first; only buckets where something happened.
   */
  traffic(since: number, bucketMs: number): Promise<TrafficBucket[]>
  /** Per target, what became of its deliveries from `since` on (`received` is always 0). */
  targetTraffic(since: number): Promise<Map<string, TrafficCounts>>
  /** Per target with dead deliveries, how many. */
  deadLetters(): Promise<Map<string, number>>
  /** Each session's newest stored event, by session id. */
  lastEvents(): Promise<SessionLastEvent[]>
}
