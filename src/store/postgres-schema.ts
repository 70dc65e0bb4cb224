// The PostgreSQL outbox: the SQLite schema in PostgreSQL types. Times are epoch milliseconds in
// bigint columns (read back as numbers, see postgres-store.ts), bodies are bytea (byte-exact).
// Tables are found through the connection's search_path, so a `?options=-c search_path=relay`
// on DATABASE_URL keeps them in their own schema.
import type { PoolClient } from 'pg'
import { POSTGRES_TRAFFIC_BACKFILL } from './postgres-stats.ts'

/** Advisory lock classes (the two-int form), so the relay's locks never meet anyone else's. */
export const LOCK_CLASS = {
  migrate: 0x52_4c_59_01,
  /** One per target: claims of a target take turns (see the claim in postgres-store.ts). */
  claim: 0x52_4c_59_02,
  /** One per (target, ordering key): accepts of one chat commit in the order of their ids. */
  order: 0x52_4c_59_03,
  /** Telling alerts (postgres-alerts.ts): one replica at a time. */
  alerts: 0x52_4c_59_04,
} as const

// Applied in order at start; relay_migrations records how far a database has come.
export const POSTGRES_MIGRATIONS: string[] = [
  `
  CREATE TABLE events (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key          text NOT NULL UNIQUE,
    whatsapp_id  text NOT NULL,
    event_id     text NOT NULL,
    action       text NOT NULL,
    event_date   text COLLATE "C" NOT NULL,
    body         bytea NOT NULL,
    received_at  bigint NOT NULL,
    routed       integer NOT NULL
  );
  CREATE INDEX events_session_date ON events (whatsapp_id, event_date);
  CREATE INDEX events_received ON events (received_at);

  CREATE TABLE deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq        bigint NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    target           text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  bigint NOT NULL,
    lease_owner      text,
    lease_expires_at bigint,
    last_status      integer,
    last_error       text,
    ordering_key     text,
    finished_at      bigint
  );
  CREATE INDEX deliveries_due ON deliveries (target, next_attempt_at) WHERE status = 'pending';
  CREATE INDEX deliveries_order ON deliveries (target, ordering_key, id) WHERE status = 'pending';
  CREATE INDEX deliveries_event ON deliveries (event_seq);
  `,
  `
  CREATE TABLE session_marks (
    whatsapp_id       text PRIMARY KEY,
    newest_event_date text COLLATE "C" NOT NULL
  );
  INSERT INTO session_marks SELECT whatsapp_id, max(event_date) FROM events GROUP BY whatsapp_id;
  `,
  `
  ALTER TABLE events ADD COLUMN issues text;
  CREATE INDEX events_nonconforming ON events (seq) WHERE issues IS NOT NULL;

  CREATE TABLE refused_requests (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at bigint NOT NULL,
    reason      text NOT NULL,
    status      integer NOT NULL,
    headers     text NOT NULL,
    body        bytea,
    body_size   bigint
  );
  `,
  // routed was written from the first schema on and never read; events_session_date served the
  // newest event per session, which session_marks has held since the second. Replicas are
  // replaced one by one, and one of the previous version still writes routed: until none does,
  // the column stays, optional (SQLite, one process per file, drops it at once).
  `
  DROP INDEX events_session_date;
  ALTER TABLE events ALTER COLUMN routed DROP NOT NULL;
  `,
  // Every attempt of a delivery, written with its outcome; it goes with its delivery, and so with
  // its event when retention purges it.
  `
  CREATE TABLE attempts (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id      bigint NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    started_at       bigint NOT NULL,
    duration_ms      integer NOT NULL,
    status           integer,
    error_class      text,
    error            text,
    response_excerpt text,
    replica          text NOT NULL
  );
  CREATE INDEX attempts_delivery ON attempts (delivery_id);
  `,
  // What the operator set per target: paused since when (null: running). A row only for a target
  // ever paused; every replica's claim skips the deliveries of one paused here.
  `
  CREATE TABLE target_state (
    target    text PRIMARY KEY,
    paused_at bigint
  );
  `,
  // The chat of a message event (events/parse.ts chatOf), for the operator's filter. No backfill:
  // events stored before keep null, as reading every stored body again would hold up the start
  // on a large outbox, and retention replaces them soon enough.
  // Indexes for the admin lists, which page by seq (events) and by id (deliveries): (x, seq)
  // serves `x = $1 AND seq > $2 ORDER BY seq`, reading a filter's own rows in order and stopping
  // after a page. The ingest pays for the four full ones (and, as an update of status is never
  // HOT, a record for deliveries_target too); pending and dead rows are few, so their indexes
  // are small, and dead ones are written only when a delivery dies. events_received gains seq
  // and deliveries_event id, so a received-time range reads its bounds from them alone
  // (store/time-range.ts), as SQLite's do with the rowid.
  // Building them holds writes to these tables for as long as it takes (seconds per million rows).
  `
  ALTER TABLE events ADD COLUMN chat text;
  ALTER TABLE events ADD COLUMN headers text;
  CREATE INDEX events_session ON events (whatsapp_id, seq);
  CREATE INDEX events_action ON events (action, seq);
  CREATE INDEX events_chat ON events (chat, seq) WHERE chat IS NOT NULL;
  DROP INDEX events_received;
  CREATE INDEX events_received ON events (received_at, seq);
  DROP INDEX deliveries_event;
  CREATE INDEX deliveries_event ON deliveries (event_seq, id);
  CREATE INDEX deliveries_target ON deliveries (target, id);
  CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'pending';
  CREATE INDEX deliveries_dead ON deliveries (id) WHERE status = 'dead';
  CREATE INDEX deliveries_dead_target ON deliveries (target, id) WHERE status = 'dead';
  `,
  // Where each stream target's consumer has confirmed it has read to (a delivery id): it resumes
  // from there, and the deliveries up to it are delivered.
  `
  CREATE TABLE stream_positions (
    target       text PRIMARY KEY,
    position     bigint NOT NULL,
    confirmed_at bigint NOT NULL
  );
  `,
  // Dashboard sign-ins (admin/sessions.ts): a row per session, so a sign-out ends it on every
  // replica. The cookie's secret is kept only as its hash.
  `
  CREATE TABLE admin_sessions (
    id           text PRIMARY KEY,
    secret_hash  bytea NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'viewer')),
    token_tag    text NOT NULL,
    created_at   bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    expires_at   bigint NOT NULL,
    address      text,
    user_agent   text
  );
  `,
  // A key stored again with a different body: each copy kept beside its event, at most
  // CONFLICTS_KEPT_PER_KEY (store/conflicts.ts), and gone with it. store_probe's one row takes
  // /readyz's write probe (postgres-store.ts ping).
  `
  CREATE TABLE event_conflicts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_seq   bigint NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    received_at bigint NOT NULL,
    headers     text,
    body        bytea NOT NULL
  );
  CREATE INDEX event_conflicts_event ON event_conflicts (event_seq);
  CREATE TABLE store_probe (
    id        integer PRIMARY KEY,
    probed_at bigint NOT NULL
  );
  INSERT INTO store_probe (id, probed_at) VALUES (1, 0);
  `,
  // Who each event is between (events/parties.ts), for the search by phone number or jid: a row
  // per party, read in seq order per party (event_parties_party), so that a search stops after a
  // page, as the other filters do. The key (seq, party) serves the delete that follows its event.
  // Stored events get their chat as a party, written as partyOf writes it (a one-to-one jid as
  // its digits), from the chat column alone: their bodies are not read again, so their sender
  // and recipient stay unknown.
  `
  CREATE TABLE event_parties (
    seq   bigint NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    party text NOT NULL,
    PRIMARY KEY (seq, party)
  );
  INSERT INTO event_parties (seq, party)
  SELECT seq, CASE WHEN chat ~ '^[0-9]{1,64}@c\\.us$' THEN split_part(chat, '@', 1) ELSE chat END
  FROM events WHERE chat IS NOT NULL;
  CREATE INDEX event_parties_party ON event_parties (party, seq);
  `,
  // One row per replica, written every few seconds (delivery/replica-heartbeat.ts): a replica
  // silent for too long is dead, and another one frees its leases (postgres-heartbeats.ts).
  `
  CREATE TABLE replica_heartbeats (
    replica    text PRIMARY KEY,
    started_at bigint NOT NULL,
    beat_at    bigint NOT NULL,
    dead_at    bigint
  );
  `,
  // Alerts (alerts/): as in sqlite-schema.ts.
  `
  CREATE TABLE alert_conditions (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    condition           text NOT NULL,
    subject             text NOT NULL,
    session             text,
    detail              text NOT NULL,
    opened_at           bigint NOT NULL,
    resolved_at         bigint,
    open_notified_at    bigint,
    resolve_notified_at bigint,
    last_notified_at    bigint
  );
  CREATE UNIQUE INDEX alert_conditions_open ON alert_conditions (condition, subject) WHERE resolved_at IS NULL;
  CREATE INDEX alert_conditions_resolved ON alert_conditions (resolved_at);
  CREATE TABLE alert_messages (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel          text NOT NULL,
    body             text NOT NULL,
    created_at       bigint NOT NULL,
    status           text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  bigint NOT NULL,
    lease_expires_at bigint NOT NULL DEFAULT 0,
    last_error       text,
    delivered_at     bigint
  );
  CREATE INDEX alert_messages_pending ON alert_messages (channel, id) WHERE status = 'pending';
  CREATE TABLE alert_state (
    name  text PRIMARY KEY,
    value text NOT NULL
  );
  `,
  // The event list's outcome=dead (admin/routes/events.ts), newest first: the dead deliveries in
  // their events' order, of every target or of one, read backwards until a page is found
  // (postgres-queries.ts listDeadEvents). Written only as a delivery dies.
  `
  CREATE INDEX deliveries_dead_event ON deliveries (event_seq) WHERE status = 'dead';
  CREATE INDEX deliveries_dead_target_event ON deliveries (target, event_seq) WHERE status = 'dead';
  `,
  // Triage of dead letters and who did what: as in sqlite-schema.ts.
  `
  ALTER TABLE deliveries ADD COLUMN last_error_class text;
  ALTER TABLE deliveries ADD COLUMN replays integer NOT NULL DEFAULT 0;
  ALTER TABLE deliveries ADD COLUMN discarded_at bigint;
  ALTER TABLE deliveries ADD COLUMN discard_reason text;
  ALTER TABLE deliveries ADD COLUMN discarded_by text;
  ALTER TABLE attempts ADD COLUMN replay integer NOT NULL DEFAULT 0;
  UPDATE deliveries d SET last_error_class = (
    SELECT a.error_class FROM attempts a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1)
  WHERE d.status = 'dead';
  CREATE INDEX deliveries_dead_cause
    ON deliveries (target, last_status, last_error_class, id, discarded_at, finished_at, event_seq)
    WHERE status = 'dead';
  CREATE TABLE audit_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      bigint NOT NULL,
    action  text NOT NULL,
    via     text NOT NULL,
    role    text NOT NULL,
    session text,
    subject text NOT NULL,
    count   integer,
    reason  text
  );
  `,
  // Traffic per minute and target (postgres-stats.ts): '' counts the events received, a target's
  // row what became of its deliveries. Written with what it counts; filled from what is stored.
  `
  CREATE TABLE traffic_minutes (
    minute    bigint NOT NULL,
    target    text NOT NULL,
    received  bigint NOT NULL DEFAULT 0,
    delivered bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0,
    dead      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, target)
  );
  ${POSTGRES_TRAFFIC_BACKFILL};
  `,
  // The claim reads the due deliveries in (next_attempt_at, id) order: with id in the index that
  // is the index's own order, and a claim stops after its limit. Without it every claim read and
  // sorted the whole backlog (180 ms a claim under a million pending, a drain of 120 events/s:
  // docs/performance.md). SQLite's index ends in the rowid, which is id, already. Pending rows are
  // few unless a target is down, so building it holds writes for moments.
  `
  DROP INDEX deliveries_due;
  CREATE INDEX deliveries_due ON deliveries (target, next_attempt_at, id) WHERE status = 'pending';
  `,
]
/**
 * Brings the schema up to date in one transaction. Replicas starting together queue on an
 * advisory lock, so exactly one applies each migration and the others find it done.
 */
export async function migrate(client: PoolClient): Promise<void> {
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_CLASS.migrate])
    await client.query(
      'CREATE TABLE IF NOT EXISTS relay_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)',
    )
    const { rows } = await client.query<{ version: number }>(
      'SELECT coalesce(max(version), 0)::integer AS version FROM relay_migrations',
    )
    for (let i = rows[0]?.version ?? 0; i < POSTGRES_MIGRATIONS.length; i++) {
      await client.query(POSTGRES_MIGRATIONS[i] as string)
      await client.query('INSERT INTO relay_migrations (version, applied_at) VALUES ($1, $2)', [
        i + 1,
        Date.now(),
      ])
    }
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  }
}
