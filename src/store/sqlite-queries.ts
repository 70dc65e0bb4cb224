// The statements of the SQLite store (sqlite-store.ts), on the tables of sqlite-schema.ts. Same
// names, in the same order, as postgres-queries.ts; a statement only one store needs says why.
// Writes here take one row per run: they run in-process inside the group commit's transaction,
// where a loop costs what PostgreSQL's arrays save in round trips.

// The admin lists hold only the conditions of the filters given: SQLite plans a statement once,
// whatever is bound later, so a `(:x IS NULL OR col = :x)` would never use col's index. The store
// prepares one statement per combination asked for. A status is a literal, so that the partial
// indexes of pending and dead deliveries serve it. A received-time range is bounded in seq (id)
// order when the store has read its bounds (time-range.ts), and its times are then checked row by
// row (`+`: never read through events_received, which would sort the whole range).
// `seq` is the column the list pages by: the party's (p.seq) when a party is asked for.
const eventFilters = (seq: string) => ({
  conforming: 'e.issues IS NULL',
  nonconforming: 'e.issues IS NOT NULL',
  session: 'e.whatsapp_id = :session',
  action: 'e.action = :action',
  chat: 'e.chat = :chat',
  party: 'p.party = :party',
  key: 'e.key = :key',
  from: '+e.received_at >= :from',
  to: '+e.received_at < :to',
  bounds: `${seq} BETWEEN :low AND :high`,
  // Newest first: from below the `before` cursor, read backwards (every index above ends in seq).
  older: `${seq} < :before`,
  // An outcome or a target: the event's deliveries, by deliveries_event (outcomeCondition).
  delivered: '',
  pending: '',
  retrying: '',
  paused: '',
  dead: '',
  target: '',
})
export type EventFilter = keyof ReturnType<typeof eventFilters>

/** What an event list's outcome and target filters ask of one delivery of each event listed. */
export const OUTCOME_CONDITIONS = {
  delivered: "d.status = 'delivered'",
  pending: "d.status = 'pending'",
  retrying: "d.status = 'pending' AND d.attempts > 0",
  paused:
    "d.status = 'pending' AND d.target IN (SELECT target FROM target_state WHERE paused_at IS NOT NULL)",
  dead: "d.status = 'dead'",
} as const

// How an outcome or target filter reads, by how many rows it leaves, newest first:
// - a target: its deliveries lead (deliveries_target, or deliveries_dead_target for its dead
//   ones), each event then by its seq, the outcome checked on that one delivery. Their id order
//   is their events' seq order: accept writes each event's deliveries right after it, one writer
//   at a time, and a replay keeps the row;
// - dead, of any target: the dead deliveries lead (deliveries_dead_event, in their events' order);
// - pending, retrying, paused: the backlog, few rows (deliveries_pending): their events' seqs as a
//   list, each event then by its seq;
// - delivered: most events have one, so the events are read in seq order and each checked by its
//   own deliveries (deliveries_event, a probe of one key each).
// A party's rows lead when a party is asked for: the rest is then checked per event.
type Lead = 'party' | 'target' | 'dead' | 'events'

function leadOf(filters: readonly EventFilter[]): Lead {
  if (filters.includes('party')) return 'party'
  if (filters.includes('target')) return 'target'
  return filters.includes('dead') ? 'dead' : 'events'
}

const LEADS: Record<Lead, { from: (filters: readonly EventFilter[]) => string; seq: string; order: string }> =
  {
    party: {
      from: () => 'event_parties p INDEXED BY event_parties_party CROSS JOIN events e ON e.seq = p.seq',
      seq: 'p.seq',
      order: 'p.seq',
    },
    target: {
      from: (filters) =>
        `deliveries d INDEXED BY ${filters.includes('dead') ? 'deliveries_dead_target' : 'deliveries_target'} CROSS JOIN events e ON e.seq = d.event_seq`,
      seq: 'd.event_seq',
      order: 'd.id',
    },
    dead: {
      from: () => 'deliveries d INDEXED BY deliveries_dead_event CROSS JOIN events e ON e.seq = d.event_seq',
      seq: 'd.event_seq',
      order: 'd.event_seq',
    },
    events: { from: () => 'events e', seq: 'e.seq', order: 'e.seq' },
  }

function outcomeCondition(filters: readonly EventFilter[], lead: Lead, seq: string): string {
  const target = filters.includes('target') ? ' AND d.target = :target' : ''
  const outcome = (Object.keys(OUTCOME_CONDITIONS) as (keyof typeof OUTCOME_CONDITIONS)[]).find((name) =>
    filters.includes(name),
  )
  const condition = outcome === undefined ? '' : ` AND ${OUTCOME_CONDITIONS[outcome]}`
  // The leading delivery is the one asked about.
  if (lead === 'target' || lead === 'dead') return `${condition}${target}`
  if (outcome === undefined && target === '') return ''
  if (outcome === 'pending' || outcome === 'retrying' || outcome === 'paused') {
    return ` AND ${seq} IN (SELECT d.event_seq FROM deliveries d WHERE true${condition}${target})`
  }
  return ` AND EXISTS (SELECT 1 FROM deliveries d INDEXED BY deliveries_event WHERE d.event_seq = ${seq}${condition}${target})`
}

// A party's events are read from its rows in event_parties_party, in seq order, and each event
// then by its seq: CROSS JOIN keeps SQLite to that order, where it could lead with another
// filter's index and sort all of that filter's rows. A target's or the dead deliveries lead the
// same way (outcomeCondition).
function eventsList(filters: readonly EventFilter[]): string {
  const lead = leadOf(filters)
  const { seq, order } = LEADS[lead]
  const conditions = eventFilters(seq)
  const newestFirst = filters.includes('older')
  const given = filters.filter((filter) => conditions[filter] !== '' && filter !== 'older')
  // An event dead at two targets is read twice when no target is asked for: listed once.
  return `
    SELECT${lead === 'dead' ? ' DISTINCT' : ''} e.seq, e.key, e.whatsapp_id, e.event_id, e.action, e.event_date, e.chat, e.received_at, e.issues
    FROM ${LEADS[lead].from(filters)}
    WHERE ${newestFirst ? conditions.older : `${seq} > :after`}${given.map((filter) => ` AND ${conditions[filter]}`).join('')}${outcomeCondition(filters, lead, seq)}
    ORDER BY ${order}${newestFirst ? ' DESC' : ''} LIMIT :limit`
}

const DELIVERY_FILTERS = {
  pending: "d.status = 'pending'",
  delivered: "d.status = 'delivered'",
  dead: "d.status = 'dead'",
  target: 'd.target = :target',
  session: 'e.whatsapp_id = :session',
  from: '+e.received_at >= :from',
  to: '+e.received_at < :to',
  bounds: 'd.id BETWEEN :low AND :high',
  // Newest first, from below the `before` cursor.
  older: 'd.id < :before',
}
export type DeliveryFilter = keyof typeof DELIVERY_FILTERS

// Pending and dead rows are few, each kind in an index of its own in id order: with one of them
// asked for, that index leads, where a target's or a session's rows can be most of the table
// (only the dead of one target have an index of their own). A session is never read through
// events_session: that sorted every delivery of the session's events (858 ms p95 over 1,000,000
// events, bench/admin.ts); the deliveries are read in id order and each checked, a page's worth.
function deliveryCondition(filter: DeliveryFilter, filters: readonly DeliveryFilter[]): string {
  if (filter === 'session') return '+e.whatsapp_id = :session'
  if (filter === 'target' && filters.includes('pending')) return '+d.target = :target'
  return DELIVERY_FILTERS[filter]
}

export const SQL = {
  // accept
  insertEvents: `
    INSERT INTO events (key, whatsapp_id, event_id, action, event_date, chat, headers, body, issues, received_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (key) DO NOTHING
    RETURNING seq`,
  // SQLite's only: PostgreSQL writes the parties in insertEvents' round trip.
  insertParty: 'INSERT INTO event_parties (seq, party) VALUES (?, ?)',
  // A delivery asked for leased (the fresh path) is written leased unless its target is paused or
  // an older one of its lane waits (pausedTargets, lanePending): the claim's own conditions.
  insertDeliveries: `
    INSERT INTO deliveries (event_seq, target, ordering_key, next_attempt_at, lease_owner, lease_expires_at)
    VALUES (?, ?, ?, ?, ?, ?)`,
  lanePending: `
    SELECT 1 AS pending FROM deliveries WHERE target = ? AND ordering_key = ? AND status = 'pending' LIMIT 1`,
  markSessions: `
    INSERT INTO session_marks (whatsapp_id, newest_event_date) VALUES (?, ?)
    ON CONFLICT (whatsapp_id) DO UPDATE
    SET newest_event_date = max(newest_event_date, excluded.newest_event_date)`,
  // A key stored already (only then is the stored body read): the same body as the event's or as
  // a conflicting copy's is a silent duplicate; else a copy is kept while the key has few.
  findCopy: `
    SELECT e.seq, (e.body = :body OR EXISTS (
             SELECT 1 FROM event_conflicts c WHERE c.event_seq = e.seq AND c.body = :body)) AS same,
           (SELECT count(*) FROM event_conflicts c WHERE c.event_seq = e.seq) AS kept
    FROM events e WHERE e.key = :key AND e.headers IS NOT NULL`,
  insertConflict: 'INSERT INTO event_conflicts (event_seq, received_at, headers, body) VALUES (?, ?, ?, ?)',

  // keepRefused
  insertRefused: `
    INSERT INTO refused_requests (received_at, reason, status, headers, body, body_size)
    VALUES (?, ?, ?, ?, ?, ?)`,
  trimRefused: `
    DELETE FROM refused_requests WHERE id NOT IN (SELECT id FROM refused_requests ORDER BY id DESC LIMIT ?)`,

  // claim: writes are serial on SQLite, so selecting due rows and then leasing them (`lease`) in
  // one transaction is the whole claim. An ordered delivery waits while an older one of its target
  // and ordering key is unfinished; a paused target's wait all (one key lookup, made once).
  claim: `
    SELECT d.id, d.target, d.attempts, e.key, e.whatsapp_id, e.action, e.body, e.received_at
    FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.target = ?1 AND d.status = 'pending' AND d.next_attempt_at <= ?2
      AND NOT EXISTS (SELECT 1 FROM target_state t WHERE t.target = ?1 AND t.paused_at IS NOT NULL)
      AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= ?2)
      AND (d.ordering_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM deliveries o
        WHERE o.target = d.target AND o.ordering_key = d.ordering_key AND o.status = 'pending'
          AND o.id < d.id))
    ORDER BY d.next_attempt_at, d.id
    LIMIT ?3`,
  lease: 'UPDATE deliveries SET lease_owner = ?2, lease_expires_at = ?3 WHERE id = ?1',

  // record: a null status leaves the delivery pending (a retry), a null next its schedule.
  record: `
    UPDATE deliveries SET
      status = coalesce(:status, status),
      attempts = attempts + 1,
      next_attempt_at = coalesce(:next, next_attempt_at),
      last_status = :http,
      last_error = :error,
      last_error_class = :errorClass,
      finished_at = CASE WHEN :status IS NULL THEN NULL ELSE :now END,
      lease_owner = NULL,
      lease_expires_at = NULL
    WHERE id = :id AND lease_owner = :owner`,
  // Run only when the record took effect (the lease was still held), in its transaction.
  insertAttempt: `
    INSERT INTO attempts (delivery_id, started_at, duration_ms, status, error_class, error, response_excerpt, replica, replay)
    VALUES (:id, :started, :duration, :http, :errorClass, :error, :excerpt, :replica,
            (SELECT replays FROM deliveries WHERE id = :id))`,

  // leases: one relay process owns a SQLite file, so every lease found at its start is its own
  // predecessor's (recoverLeases).
  releaseAll:
    'UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner IS NOT NULL',
  release: `
    UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL
    WHERE id IN (SELECT value FROM json_each(?1)) AND lease_owner = ?2`,
  expedite: `
    UPDATE deliveries SET next_attempt_at = ?1
    WHERE id IN (
      SELECT id FROM deliveries WHERE target = ?2 AND status = 'pending' AND next_attempt_at > ?1
      ORDER BY id LIMIT ?3)`,
  // Named, as the planner (without statistics) would read the target's every row, delivered ones
  // included, through deliveries_target: the cost grew with what retention keeps.
  nextDue: `
    SELECT min(max(next_attempt_at, coalesce(lease_expires_at, 0))) AS due
    FROM deliveries INDEXED BY deliveries_due WHERE target = ? AND status = 'pending'`,

  sessionMarks: 'SELECT whatsapp_id, newest_event_date AS newest FROM session_marks',

  // purge
  purgeDelivered: `
    DELETE FROM events WHERE seq IN (
      SELECT e.seq FROM events e WHERE e.received_at < ? AND NOT EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status <> 'delivered')
      LIMIT ?)`,
  purgeDead: `
    DELETE FROM events WHERE seq IN (
      SELECT e.seq FROM events e WHERE e.received_at < ? AND NOT EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending')
      LIMIT ?)`,

  // admin
  listEvents: eventsList,
  listRefused: `
    SELECT id, received_at, reason, status, headers, body, body_size FROM refused_requests
    WHERE id > ? ORDER BY id LIMIT ?`,
  listRefusedNewest: `
    SELECT id, received_at, reason, status, headers, body, body_size FROM refused_requests
    WHERE id < ? ORDER BY id DESC LIMIT ?`,
  listConflicts: `
    SELECT c.id, e.key, c.received_at, c.headers, c.body
    FROM event_conflicts c JOIN events e ON e.seq = c.event_seq
    WHERE c.id < ? ORDER BY c.id DESC LIMIT ?`,
  listDeliveries: (filters: readonly DeliveryFilter[]) => `
    SELECT d.id, d.target, d.status, e.key, e.whatsapp_id, e.action, d.attempts, d.next_attempt_at,
           d.last_status, d.last_error, e.received_at, d.finished_at
    FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE ${filters.includes('older') ? 'true' : 'd.id > :after'}${filters.map((filter) => ` AND ${deliveryCondition(filter, filters)}`).join('')}
    ORDER BY d.id${filters.includes('older') ? ' DESC' : ''} LIMIT :limit`,
  // A received-time range in seq order (time-range.ts): where its ends fall, cheaply, and then, if
  // worth it, its exact lowest and highest seq, read from events_received alone; for deliveries,
  // the lowest and highest id of those events' deliveries, from deliveries_event alone.
  timeRange: `
    SELECT (SELECT seq FROM events WHERE received_at >= :from ORDER BY received_at LIMIT 1) AS start,
           (SELECT seq FROM events WHERE received_at >= :to ORDER BY received_at LIMIT 1) AS stop,
           (SELECT max(seq) FROM events) AS last,
           (SELECT event_seq FROM deliveries WHERE id = :delivery) AS after_seq`,
  seqBounds: `
    SELECT min(seq) AS low, max(seq) AS high FROM events INDEXED BY events_received
    WHERE received_at >= :from AND received_at < :to`,
  idBounds: 'SELECT min(id) AS low, max(id) AS high FROM deliveries WHERE event_seq BETWEEN :low AND :high',
  getDelivery: `
    SELECT d.id, d.target, d.status, e.key, e.whatsapp_id, e.action, d.attempts, d.next_attempt_at,
           d.last_status, d.last_error, e.received_at, d.finished_at
    FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.id = ?`,
  attemptsOfDelivery: `
    SELECT id, delivery_id, started_at, duration_ms, status, error_class, error, response_excerpt, replica,
           replay
    FROM attempts WHERE delivery_id = ? ORDER BY id`,
  getEvent: `
    SELECT seq, key, whatsapp_id, event_id, action, event_date, chat, received_at, issues, headers, body
    FROM events WHERE key = ?`,
  conflictsOfEvent: `
    SELECT c.id, e.key, c.received_at, c.headers, c.body
    FROM event_conflicts c JOIN events e ON e.seq = c.event_seq
    WHERE c.event_seq = ? ORDER BY c.id`,
  deliveriesOfEvent: `
    SELECT d.id, d.target, d.status, e.key, e.whatsapp_id, e.action, d.attempts, d.next_attempt_at,
           d.last_status, d.last_error, e.received_at, d.finished_at
    FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.event_seq = ? ORDER BY d.id`,
  attemptsOfEvent: `
    SELECT a.id, a.delivery_id, a.started_at, a.duration_ms, a.status, a.error_class, a.error,
           a.response_excerpt, a.replica, a.replay
    FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
    WHERE d.event_seq = ? ORDER BY a.id`,
  // A replay starts the schedule afresh and counts itself (attempts then say which replay they
  // belong to); the last status and error stay until the next attempt, and the attempt history
  // stays whole. A discard mark goes: the delivery is alive again. Every dead one of a target
  // leaves the discarded out; one event's may be its dead ones only (its targets that failed).
  replayIds: `
    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?1, finished_at = NULL,
      lease_owner = NULL, lease_expires_at = NULL, replays = replays + 1,
      discarded_at = NULL, discard_reason = NULL, discarded_by = NULL
    WHERE id IN (SELECT value FROM json_each(?2)) AND status <> 'pending'`,
  replayEvent: `
    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?1, finished_at = NULL,
      lease_owner = NULL, lease_expires_at = NULL, replays = replays + 1,
      discarded_at = NULL, discard_reason = NULL, discarded_by = NULL
    WHERE event_seq = (SELECT seq FROM events WHERE key = ?2) AND status <> 'pending'
      AND (?3 IS NULL OR status = ?3)`,
  countDeliveries: 'SELECT target, status, count(*) AS count FROM deliveries GROUP BY target, status',
  // What waits per target, and since when: the received time of its oldest pending event.
  backlog: `
    SELECT d.target, count(*) AS pending, min(e.received_at) AS oldest
    FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.status = 'pending' GROUP BY d.target`,
  countReceivedSince: 'SELECT count(*) AS count FROM events WHERE received_at >= ?',
  // A pause keeps its first time when repeated; a resume keeps the row, running.
  setPaused: `
    INSERT INTO target_state (target, paused_at) VALUES (?1, ?2)
    ON CONFLICT (target) DO UPDATE
    SET paused_at = CASE WHEN excluded.paused_at IS NULL THEN NULL ELSE coalesce(paused_at, excluded.paused_at) END`,
  pausedTargets: 'SELECT target, paused_at FROM target_state WHERE paused_at IS NOT NULL ORDER BY target',

  // streams: a stream target's rows are read in id order (deliveries_target ends with the rowid);
  // a confirmation marks its pending rows delivered a batch per transaction, as retention does.
  readStream: `
    SELECT d.id, e.body FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.target = ? AND d.id > ? ORDER BY d.id LIMIT ?`,
  streamHead: 'SELECT coalesce(max(id), 0) AS head FROM deliveries WHERE target = ?',
  keepStreamPosition: `
    INSERT INTO stream_positions (target, position, confirmed_at) VALUES (?1, ?2, ?3)
    ON CONFLICT (target) DO UPDATE
    SET position = max(position, excluded.position), confirmed_at = excluded.confirmed_at
    RETURNING position`,
  // The stream's pending rows only (deliveries_order holds pending rows), in any order: all of
  // them up to the position go, batch by batch.
  markStreamDelivered: `
    UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, finished_at = ?3
    WHERE id IN (
      SELECT id FROM deliveries INDEXED BY deliveries_order
      WHERE target = ?1 AND status = 'pending' AND id <= ?2 LIMIT ?4)`,
  streamPosition: 'SELECT position FROM stream_positions WHERE target = ?',

  // The write probe: a new row of a page's size, then the one before it goes. It needs room the
  // probe does not hold already, as an event would: a row updated in place, as on PostgreSQL
  // (whose every write needs WAL room), would still fit in a full file. probeTrim is SQLite's only.
  probe: 'INSERT INTO store_probe (probed_at, pad) VALUES (?, zeroblob(4096))',
  probeTrim: 'DELETE FROM store_probe WHERE id < ?',
}
