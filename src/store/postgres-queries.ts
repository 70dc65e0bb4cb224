// The statements of the PostgreSQL store (postgres-store.ts), on the tables of postgres-schema.ts.
// Same names, in the same order, as sqlite-queries.ts; a statement only one store needs says why.
// Writes here take a batch as arrays (unnest): one round trip however many rows.
import { ADD_TRAFFIC } from './postgres-stats.ts'

// An event list's outcome filter ($12; its target $13) as a condition on one delivery: the custom plan keeps
// only the branch asked for (sqlite-queries.ts OUTCOME_CONDITIONS says the same per outcome).
const OUTCOME_CASES = `WHEN 'delivered' THEN d.status = 'delivered' WHEN 'pending' THEN d.status = 'pending'
          WHEN 'retrying' THEN d.status = 'pending' AND d.attempts > 0
          WHEN 'paused' THEN d.status = 'pending'
            AND d.target IN (SELECT target FROM target_state WHERE paused_at IS NOT NULL)
          WHEN 'dead' THEN d.status = 'dead'`

// The admin list of events: its columns, and the filters but the seq's (listEvents below).
const EVENT_COLUMNS =
  'e.seq, e.key, e.whatsapp_id, e.event_id, e.action, e.event_date, e.chat, e.received_at, e.issues'
const EVENT_FILTERS = `($2::boolean IS NULL OR (e.issues IS NULL) = $2)
      AND ($4::text IS NULL OR e.whatsapp_id = $4) AND ($5::text IS NULL OR e.action = $5)
      AND ($6::bigint IS NULL OR e.received_at >= $6) AND ($7::bigint IS NULL OR e.received_at < $7)
      AND ($8::text IS NULL OR e.chat = $8) AND ($9::text IS NULL OR e.key = $9)`
const EVENT_CONDITIONS = `${EVENT_FILTERS}
      AND (($12::text IS NULL AND $13::text IS NULL) OR EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND ($13::text IS NULL OR d.target = $13)
          AND CASE $12::text ${OUTCOME_CASES} ELSE true END))`

// Oldest first from after $1, or newest first from before it: the same statement read either way.
const pageOf = (seq: string, newestFirst: boolean) =>
  newestFirst ? { where: `${seq} < $1`, order: `${seq} DESC` } : { where: `${seq} > $1`, order: seq }

export const SQL = {
  // accept. Replicas write at once, so accept locks each (target, ordering key) it writes first
  // (see postgres-store.ts), in hash order so two transactions never wait on each other crosswise.
  lockLanes: `
    SELECT pg_advisory_xact_lock($1, h)
    FROM (SELECT DISTINCT hashtext(lane) AS h FROM unnest($2::text[]) AS lane ORDER BY h) AS lanes`,
  // Rows go in the batch's order (ids follow it); of one key twice in a batch the first stays.
  // The parties ($11 keys, $12 parties: the first of a key's events only) go with the events
  // written, in the same round trip.
  insertEvents: `
    WITH inserted AS (
      INSERT INTO events (key, whatsapp_id, event_id, action, event_date, chat, headers, body, issues, received_at)
      SELECT key, whatsapp_id, event_id, action, event_date, chat, headers, body, issues, $10
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[],
                  $9::text[])
        WITH ORDINALITY AS u (key, whatsapp_id, event_id, action, event_date, chat, headers, body, issues, n)
      ORDER BY n
      ON CONFLICT (key) DO NOTHING
      RETURNING seq, key
    ), parties AS (
      INSERT INTO event_parties (seq, party)
      SELECT i.seq, p.party FROM unnest($11::text[], $12::text[]) AS p (key, party) JOIN inserted i USING (key)
    ), counted AS (
      INSERT INTO traffic_minutes (minute, target, received)
      SELECT $10::bigint - $10::bigint % 60000, '', count(*) FROM inserted HAVING count(*) > 0
      ${ADD_TRAFFIC}
    )
    SELECT seq, key FROM inserted`,
  // A delivery asked for leased (the fresh path: a lease owner given) is written leased unless its
  // target is paused or an older one of its lane is pending, the claim's own conditions. Only the
  // first of a lane in a batch asks (postgres-store.ts): the statement does not see its own rows.
  insertDeliveries: `
    INSERT INTO deliveries (event_seq, target, ordering_key, next_attempt_at, lease_owner, lease_expires_at)
    SELECT u.seq, u.target, u.ordering_key, $4,
           CASE WHEN fresh.ok THEN u.lease_owner END, CASE WHEN fresh.ok THEN u.lease_expires_at END
    FROM unnest($1::bigint[], $2::text[], $3::text[], $5::text[], $6::bigint[])
      WITH ORDINALITY AS u (seq, target, ordering_key, lease_owner, lease_expires_at, n)
    CROSS JOIN LATERAL (
      SELECT u.lease_owner IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM target_state t WHERE t.target = u.target AND t.paused_at IS NOT NULL)
        AND (u.ordering_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM deliveries o
          WHERE o.target = u.target AND o.ordering_key = u.ordering_key AND o.status = 'pending')) AS ok
    ) AS fresh
    ORDER BY u.n
    RETURNING id, event_seq AS seq, target, lease_owner IS NOT NULL AS leased`,
  // Sessions in sorted order, so replicas marking the same sessions never wait on each other crosswise.
  markSessions: `
    INSERT INTO session_marks (whatsapp_id, newest_event_date)
    SELECT whatsapp_id, max(event_date) FROM unnest($1::text[], $2::text[]) AS u (whatsapp_id, event_date)
    GROUP BY whatsapp_id ORDER BY whatsapp_id
    ON CONFLICT (whatsapp_id) DO UPDATE
    SET newest_event_date = greatest(session_marks.newest_event_date, excluded.newest_event_date)`,
  // A key stored already (only then is the stored body read), its event locked so that replicas
  // keep one key's copies one at a time (keys are taken in sorted order: no deadlock).
  findCopy: 'SELECT seq, body = $2 AS same FROM events WHERE key = $1 AND headers IS NOT NULL FOR UPDATE',
  // The same body as a conflicting copy's is a silent duplicate; else it is kept while the key has
  // few (postgres-conflicts.ts).
  insertConflict: `
    WITH known AS (
      SELECT count(*)::integer AS kept, coalesce(bool_or(body = $3), false) AS same
      FROM event_conflicts WHERE event_seq = $1
    ), inserted AS (
      INSERT INTO event_conflicts (event_seq, received_at, headers, body)
      SELECT $1, $2, $4, $3 FROM known WHERE NOT same AND kept < $5
      RETURNING id
    )
    SELECT same, kept FROM known`,

  // keepRefused
  insertRefused: `
    INSERT INTO refused_requests (received_at, reason, status, headers, body, body_size)
    VALUES ($1, $2, $3, $4, $5, $6)`,
  trimRefused: `
    DELETE FROM refused_requests WHERE id NOT IN (SELECT id FROM refused_requests ORDER BY id DESC LIMIT $1)`,

  // claim. Claims of one target take turns on this lock, so each sees every lease taken before it
  // (see postgres-store.ts); then one statement selects the due rows and leases them. An ordered
  // delivery waits while an older one of its target and ordering key is unfinished; a paused
  // target's wait all, on every replica (one key lookup, made once: it depends on no row).
  lockClaims: 'SELECT pg_advisory_xact_lock($1, hashtext($2))',
  claim: `
    WITH due AS (
      SELECT d.id FROM deliveries d
      WHERE d.target = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
        AND NOT EXISTS (SELECT 1 FROM target_state t WHERE t.target = $1 AND t.paused_at IS NOT NULL)
        AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $2)
        AND (d.ordering_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM deliveries o
          WHERE o.target = d.target AND o.ordering_key = d.ordering_key AND o.status = 'pending'
            AND o.id < d.id))
      ORDER BY d.next_attempt_at, d.id
      LIMIT $3
      FOR UPDATE SKIP LOCKED
    ), leased AS (
      UPDATE deliveries d SET lease_owner = $4, lease_expires_at = $5
      FROM due WHERE d.id = due.id
      RETURNING d.id, d.target, d.attempts, d.event_seq, d.next_attempt_at
    )
    SELECT l.id, l.target, l.attempts, e.key, e.whatsapp_id, e.action, e.body, e.received_at
    FROM leased l JOIN events e ON e.seq = l.event_seq
    ORDER BY l.next_attempt_at, l.id`,

  // record: a null status leaves the delivery pending (a retry), a null next its schedule. The
  // attempt row is written by the same statement, so in the same transaction and round trip, and
  // only when the update took effect (the lease was still held): no separate insertAttempt.
  // Outcomes of one turn together (one array per column): each delivery updated while its owner
  // still holds the lease and, where that took effect, its attempt row written.
  record: `
    WITH outcome AS (
      SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::integer[],
                           $7::text[], $8::bigint[], $9::integer[], $10::text[], $11::text[])
        AS u (id, owner, status, next, now, http, error, started, duration, error_class, excerpt)
    ), recorded AS (
      UPDATE deliveries d SET
        status = coalesce(o.status, d.status),
        attempts = d.attempts + 1,
        next_attempt_at = coalesce(o.next, d.next_attempt_at),
        last_status = o.http,
        last_error = o.error,
        last_error_class = o.error_class,
        finished_at = CASE WHEN o.status IS NULL THEN NULL ELSE o.now END,
        lease_owner = NULL,
        lease_expires_at = NULL
      FROM outcome o
      WHERE d.id = o.id AND d.lease_owner = o.owner
      RETURNING o.*, d.replays, d.target
    ), counted AS (
      INSERT INTO traffic_minutes (minute, target, delivered, failed, dead)
      SELECT now - now % 60000, target, count(*) FILTER (WHERE status = 'delivered'),
             count(*) FILTER (WHERE error_class IS NOT NULL), count(*) FILTER (WHERE status = 'dead')
      FROM recorded GROUP BY 1, 2 ORDER BY 1, 2
      ${ADD_TRAFFIC}
    )
    INSERT INTO attempts (delivery_id, started_at, duration_ms, status, error_class, error, response_excerpt, replica, replay)
    SELECT id, started, duration, http, error_class, error, excerpt, owner, replays FROM recorded`,

  // leases. No releaseAll: other replicas may be alive and sending what they leased.
  release: `
    UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL
    WHERE id = ANY($1::bigint[]) AND lease_owner = $2`,
  expedite: `
    UPDATE deliveries SET next_attempt_at = $1
    WHERE id IN (
      SELECT id FROM deliveries WHERE target = $2 AND status = 'pending' AND next_attempt_at > $1
      ORDER BY id LIMIT $3)`,
  nextDue: `
    SELECT min(greatest(next_attempt_at, coalesce(lease_expires_at, 0))) AS due
    FROM deliveries WHERE target = $1 AND status = 'pending'`,

  sessionMarks: 'SELECT whatsapp_id, newest_event_date AS newest FROM session_marks',

  // purge
  purgeDelivered: `
    DELETE FROM events WHERE seq IN (
      SELECT e.seq FROM events e WHERE e.received_at < $1 AND NOT EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status <> 'delivered')
      LIMIT $2)`,
  purgeDead: `
    DELETE FROM events WHERE seq IN (
      SELECT e.seq FROM events e WHERE e.received_at < $1 AND NOT EXISTS (
        SELECT 1 FROM deliveries d WHERE d.event_seq = e.seq AND d.status = 'pending')
      LIMIT $2)`,

  // admin
  // A query without a name is planned for the values bound (a custom plan), so each
  // `$n IS NULL OR ...` folds away and the indexes of the filters given serve (SQLite has to build
  // one statement per combination for that, see sqlite-queries.ts). $10 and $11 bound a
  // received-time range in seq order when the store has read them (time-range.ts).
  listEvents: (newestFirst: boolean) => `
    SELECT ${EVENT_COLUMNS} FROM events e
    WHERE ${pageOf('e.seq', newestFirst).where} AND ${EVENT_CONDITIONS}
      AND ($10::bigint IS NULL OR e.seq BETWEEN $10 AND $11)
    ORDER BY ${pageOf('e.seq', newestFirst).order} LIMIT $3`,
  // A party's events: its rows of event_parties_party in seq order, each event then by its seq.
  // PostgreSQL's only: SQLite builds it as one of listEvents' combinations.
  listPartyEvents: (newestFirst: boolean) => `
    SELECT ${EVENT_COLUMNS} FROM event_parties p JOIN events e ON e.seq = p.seq
    WHERE p.party = $14 AND ${pageOf('p.seq', newestFirst).where} AND ${EVENT_CONDITIONS}
      AND ($10::bigint IS NULL OR p.seq BETWEEN $10 AND $11)
    ORDER BY ${pageOf('p.seq', newestFirst).order} LIMIT $3`,
  // outcome=dead ($12) without a party: the dead deliveries lead (deliveries_dead_event, or
  // deliveries_dead_target_event for one target, $13) in their events' order, each event then by
  // its seq; an event dead at two targets listed once. PostgreSQL's only: SQLite builds it as one
  // of listEvents' combinations.
  listDeadEvents: (newestFirst: boolean) => `
    SELECT DISTINCT ON (d.event_seq) ${EVENT_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.status = 'dead' AND $12::text = 'dead' AND ($13::text IS NULL OR d.target = $13)
      AND ${pageOf('d.event_seq', newestFirst).where} AND ${EVENT_FILTERS}
      AND ($10::bigint IS NULL OR d.event_seq BETWEEN $10 AND $11)
    ORDER BY ${pageOf('d.event_seq', newestFirst).order} LIMIT $3`,
  listRefused: `
    SELECT id, received_at, reason, status, headers, body, body_size FROM refused_requests
    WHERE id > $1 ORDER BY id LIMIT $2`,
  listRefusedNewest: `
    SELECT id, received_at, reason, status, headers, body, body_size FROM refused_requests
    WHERE id < $1 ORDER BY id DESC LIMIT $2`,
  listConflicts: `
    SELECT c.id, e.key, c.received_at, c.headers, c.body
    FROM event_conflicts c JOIN events e ON e.seq = c.event_seq
    WHERE c.id < $1 ORDER BY c.id DESC LIMIT $2`,
  listDeliveries: (newestFirst: boolean) => `
    SELECT d.id, d.target, d.status, e.key, e.whatsapp_id, e.action, d.attempts, d.next_attempt_at,
           d.last_status, d.last_error, e.received_at, d.finished_at
    FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR d.target = $2)
      AND ${pageOf('d.id', newestFirst).where.replace('$1', '$3')}
      AND ($5::text IS NULL OR e.whatsapp_id = $5)
      AND ($6::bigint IS NULL OR e.received_at >= $6) AND ($7::bigint IS NULL OR e.received_at < $7)
      AND ($8::bigint IS NULL OR d.id BETWEEN $8 AND $9)
    ORDER BY ${pageOf('d.id', newestFirst).order} LIMIT $4`,
  // A received-time range in seq order (time-range.ts): where its ends fall, cheaply, and then, if
  // worth it, its exact lowest and highest seq, read from events_received alone; for deliveries,
  // the lowest and highest id of those events' deliveries, from deliveries_event alone. `+ 0`
  // keeps the planner from reading min and max off the primary key, checking each row's time:
  // its row estimates (which assume a range spreads evenly) would often prefer that.
  timeRange: `
    SELECT (SELECT seq FROM events WHERE received_at >= $1 ORDER BY received_at LIMIT 1) AS start,
           (SELECT seq FROM events WHERE received_at >= $2 ORDER BY received_at LIMIT 1) AS stop,
           (SELECT max(seq) FROM events) AS last,
           (SELECT event_seq FROM deliveries WHERE id = $3) AS after_seq`,
  seqBounds: `
    SELECT min(seq + 0) AS low, max(seq + 0) AS high FROM events WHERE received_at >= $1 AND received_at < $2`,
  idBounds:
    'SELECT min(id + 0) AS low, max(id + 0) AS high FROM deliveries WHERE event_seq BETWEEN $1 AND $2',
  getDelivery: `
    SELECT d.id, d.target, d.status, e.key, e.whatsapp_id, e.action, d.attempts, d.next_attempt_at,
           d.last_status, d.last_error, e.received_at, d.finished_at
    FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.id = $1`,
  attemptsOfDelivery: `
    SELECT id, delivery_id, started_at, duration_ms, status, error_class, error, response_excerpt, replica,
           replay
    FROM attempts WHERE delivery_id = $1 ORDER BY id`,
  getEvent: `
    SELECT seq, key, whatsapp_id, event_id, action, event_date, chat, received_at, issues, headers, body
    FROM events WHERE key = $1`,
  conflictsOfEvent: `
    SELECT c.id, e.key, c.received_at, c.headers, c.body
    FROM event_conflicts c JOIN events e ON e.seq = c.event_seq
    WHERE c.event_seq = $1 ORDER BY c.id`,
  deliveriesOfEvent: `
    SELECT d.id, d.target, d.status, e.key, e.whatsapp_id, e.action, d.attempts, d.next_attempt_at,
           d.last_status, d.last_error, e.received_at, d.finished_at
    FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.event_seq = $1 ORDER BY d.id`,
  attemptsOfEvent: `
    SELECT a.id, a.delivery_id, a.started_at, a.duration_ms, a.status, a.error_class, a.error,
           a.response_excerpt, a.replica, a.replay
    FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
    WHERE d.event_seq = $1 ORDER BY a.id`,
  // A replay starts the schedule afresh and counts itself; a discard mark goes (as in
  // sqlite-queries.ts). Every dead one of a target and a filter's go by postgres-dead-letters.ts.
  replayIds: `
    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, finished_at = NULL,
      lease_owner = NULL, lease_expires_at = NULL, replays = replays + 1,
      discarded_at = NULL, discard_reason = NULL, discarded_by = NULL
    WHERE id = ANY($2::bigint[]) AND status <> 'pending'`,
  replayEvent: `
    UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = $1, finished_at = NULL,
      lease_owner = NULL, lease_expires_at = NULL, replays = replays + 1,
      discarded_at = NULL, discard_reason = NULL, discarded_by = NULL
    WHERE event_seq = (SELECT seq FROM events WHERE key = $2) AND status <> 'pending'
      AND ($3::text IS NULL OR status = $3)`,
  countDeliveries:
    'SELECT target, status, count(*) AS count FROM deliveries GROUP BY target, status ORDER BY 1, 2',
  // What waits per target, and since when: the received time of its oldest pending event.
  backlog: `
    SELECT d.target, count(*)::integer AS pending, min(e.received_at) AS oldest
    FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.status = 'pending' GROUP BY d.target ORDER BY 1`,
  countReceivedSince: 'SELECT count(*)::integer AS count FROM events WHERE received_at >= $1',
  // A pause keeps its first time when repeated; a resume keeps the row, running.
  setPaused: `
    INSERT INTO target_state (target, paused_at) VALUES ($1, $2)
    ON CONFLICT (target) DO UPDATE
    SET paused_at = CASE WHEN excluded.paused_at IS NULL THEN NULL
                         ELSE coalesce(target_state.paused_at, excluded.paused_at) END`,
  pausedTargets: 'SELECT target, paused_at FROM target_state WHERE paused_at IS NOT NULL ORDER BY target',

  // streams: a stream target's rows are read in id order (deliveries_target); a confirmation
  // marks its pending rows delivered a batch per statement, as retention does.
  readStream: `
    SELECT d.id, e.body FROM deliveries d JOIN events e ON e.seq = d.event_seq
    WHERE d.target = $1 AND d.id > $2 ORDER BY d.id LIMIT $3`,
  streamHead: 'SELECT coalesce(max(id), 0) AS head FROM deliveries WHERE target = $1',
  keepStreamPosition: `
    INSERT INTO stream_positions (target, position, confirmed_at) VALUES ($1, $2, $3)
    ON CONFLICT (target) DO UPDATE
    SET position = greatest(stream_positions.position, excluded.position), confirmed_at = excluded.confirmed_at
    RETURNING position`,
  markStreamDelivered: `
    WITH marked AS (
      UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, finished_at = $3
      WHERE id IN (
        SELECT id FROM deliveries WHERE target = $1 AND status = 'pending' AND id <= $2 LIMIT $4)
      RETURNING 1
    ), counted AS (
      INSERT INTO traffic_minutes (minute, target, delivered)
      SELECT $3::bigint - $3::bigint % 60000, $1, count(*) FROM marked HAVING count(*) > 0
      ${ADD_TRAFFIC}
    )
    SELECT count(*)::int AS marked FROM marked`,
  streamPosition: 'SELECT position FROM stream_positions WHERE target = $1',

  // The write probe: one row updated, a real write (a read passes on a read-only database).
  probe: 'UPDATE store_probe SET probed_at = $1 WHERE id = 1',
}
