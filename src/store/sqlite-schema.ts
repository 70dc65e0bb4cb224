import { SQLITE_TRAFFIC_BACKFILL } from './sqlite-stats.ts'

// Migrations, applied in order at start; `PRAGMA user_version` records how far a file has come.
export const SQLITE_MIGRATIONS: string[] = [
  `
  CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    whatsapp_id  TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    action       TEXT NOT NULL,
    event_date   TEXT NOT NULL,
    body         BLOB NOT NULL,
    received_at  INTEGER NOT NULL,
    routed       INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX events_session_date ON events (whatsapp_id, event_date);
  CREATE INDEX events_received ON events (received_at);

  CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    event_seq        INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    target           TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    ordering_key     TEXT,
    finished_at      INTEGER
  ) STRICT;
  CREATE INDEX deliveries_due ON deliveries (target, next_attempt_at) WHERE status = 'pending';
  CREATE INDEX deliveries_order ON deliveries (target, ordering_key, id) WHERE status = 'pending';
  CREATE INDEX deliveries_event ON deliveries (event_seq);
  `,
  `
  CREATE TABLE session_marks (
    whatsapp_id       TEXT PRIMARY KEY,
    newest_event_date TEXT NOT NULL
  ) STRICT, WITHOUT ROWID;
  INSERT INTO session_marks SELECT whatsapp_id, max(event_date) FROM events GROUP BY whatsapp_id;
  `,
  `
  ALTER TABLE events ADD COLUMN issues TEXT;
  CREATE INDEX events_nonconforming ON events (seq) WHERE issues IS NOT NULL;

  CREATE TABLE refused_requests (
    id          INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    status      INTEGER NOT NULL,
    headers     TEXT NOT NULL,
    body        BLOB,
    body_size   INTEGER
  ) STRICT;
  `,
  // routed was written from the first schema on and never read; events_session_date served the
  // newest event per session, which session_marks has held since the second.
  `
  DROP INDEX events_session_date;
  ALTER TABLE events DROP COLUMN routed;
  `,
  // Every attempt of a delivery, written with its outcome; it goes with its delivery, and so with
  // its event when retention purges it.
  `
  CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY,
    delivery_id      INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    started_at       INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    status           INTEGER,
    error_class      TEXT,
    error            TEXT,
    response_excerpt TEXT,
    replica          TEXT NOT NULL
  ) STRICT;
  CREATE INDEX attempts_delivery ON attempts (delivery_id);
  `,
  // What the operator set per target: paused since when (null: running). A row only for a target
  // ever paused; the claim skips the deliveries of one paused here.
  `
  CREATE TABLE target_state (
    target    TEXT PRIMARY KEY,
    paused_at INTEGER
  ) STRICT, WITHOUT ROWID;
  `,
  // The chat of a message event (events/parse.ts chatOf), for the operator's filter. No backfill:
  // events stored before keep null, as reading every stored body again would hold up the start
  // on a large outbox, and retention replaces them soon enough.
  // Indexes for the admin lists, which page by seq (events) and by id (deliveries): each filter
  // reads its own rows in that order and stops after a page. A SQLite index ends with the rowid,
  // so one on (x) serves `x = ? AND seq > ? ORDER BY seq`. The ingest pays for the four full
  // ones; pending and dead rows are a backlog, few, so their indexes are small, and dead ones are
  // written only when a delivery dies. The received time has its index (events_received) already.
  `
  ALTER TABLE events ADD COLUMN chat TEXT;
  ALTER TABLE events ADD COLUMN headers TEXT;
  CREATE INDEX events_session ON events (whatsapp_id);
  CREATE INDEX events_action ON events (action);
  CREATE INDEX events_chat ON events (chat) WHERE chat IS NOT NULL;
  CREATE INDEX deliveries_target ON deliveries (target);
  CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'pending';
  CREATE INDEX deliveries_dead ON deliveries (id) WHERE status = 'dead';
  CREATE INDEX deliveries_dead_target ON deliveries (target) WHERE status = 'dead';
  `,
  // Where each stream target's consumer has confirmed it has read to (a delivery id): it resumes
  // from there, and the deliveries up to it are delivered.
  `
  CREATE TABLE stream_positions (
    target       TEXT PRIMARY KEY,
    position     INTEGER NOT NULL,
    confirmed_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // Dashboard sign-ins (admin/sessions.ts): a row per session, so a sign-out ends it everywhere.
  // The cookie's secret is kept only as its hash.
  `
  CREATE TABLE admin_sessions (
    id           TEXT PRIMARY KEY,
    secret_hash  BLOB NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    token_tag    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    address      TEXT,
    user_agent   TEXT
  ) STRICT, WITHOUT ROWID;
  `,
  // A key stored again with a different body (events/parse.ts eventKey: "id":"1" and "id":1 make
  // one key): each copy kept beside its event, at most CONFLICTS_KEPT_PER_KEY (store/conflicts.ts),
  // and gone with it. store_probe takes /readyz's write probe (sqlite-store.ts ping).
  `
  CREATE TABLE event_conflicts (
    id          INTEGER PRIMARY KEY,
    event_seq   INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    received_at INTEGER NOT NULL,
    headers     TEXT,
    body        BLOB NOT NULL
  ) STRICT;
  CREATE INDEX event_conflicts_event ON event_conflicts (event_seq);
  CREATE TABLE store_probe (
    id        INTEGER PRIMARY KEY,
    probed_at INTEGER NOT NULL,
    pad       BLOB NOT NULL
  ) STRICT;
  `,
  // Who each event is between (events/parties.ts), for the search by phone number or jid: a row
  // per party, kept in seq order per party (event_parties_party), so that a search reads one
  // party's rows in order and stops after a page, as the other filters do. The key (seq, party)
  // serves the delete that follows its event. Stored events get their chat as a party, written
  // as partyOf writes it (a one-to-one jid as its digits), from the chat column alone: their
  // bodies are not read again, so their sender and recipient stay unknown.
  `
  CREATE TABLE event_parties (
    seq   INTEGER NOT NULL REFERENCES events (seq) ON DELETE CASCADE,
    party TEXT NOT NULL,
    PRIMARY KEY (seq, party)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO event_parties (seq, party)
  SELECT seq, CASE
      WHEN chat GLOB '?*@c.us' AND substr(chat, 1, length(chat) - 5) NOT GLOB '*[^0-9]*'
        AND length(chat) <= 69
      THEN substr(chat, 1, length(chat) - 5) ELSE chat END
  FROM events WHERE chat IS NOT NULL;
  CREATE INDEX event_parties_party ON event_parties (party, seq);
  `,
  // Alerts (alerts/): each condition with its state, at most one open per condition and subject
  // (the partial unique index: an opening is an insert only one writer makes), the messages that
  // tell them, queued per channel and sent in id order, and the evaluator's small state.
  `
  CREATE TABLE alert_conditions (
    id                  INTEGER PRIMARY KEY,
    condition           TEXT NOT NULL,
    subject             TEXT NOT NULL,
    session             TEXT,
    detail              TEXT NOT NULL,
    opened_at           INTEGER NOT NULL,
    resolved_at         INTEGER,
    open_notified_at    INTEGER,
    resolve_notified_at INTEGER,
    last_notified_at    INTEGER
  ) STRICT;
  CREATE UNIQUE INDEX alert_conditions_open ON alert_conditions (condition, subject) WHERE resolved_at IS NULL;
  CREATE INDEX alert_conditions_resolved ON alert_conditions (resolved_at);
  CREATE TABLE alert_messages (
    id               INTEGER PRIMARY KEY,
    channel          TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending',
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    lease_expires_at INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    delivered_at     INTEGER
  ) STRICT;
  CREATE INDEX alert_messages_pending ON alert_messages (channel, id) WHERE status = 'pending';
  CREATE TABLE alert_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  `,
  // The event list's outcome=dead (admin/routes/events.ts), newest first: the dead deliveries in
  // their events' order, read backwards until a page is found (sqlite-queries.ts eventsList).
  // Written only as a delivery dies.
  `
  CREATE INDEX deliveries_dead_event ON deliveries (event_seq) WHERE status = 'dead';
  `,
  // Triage of dead letters and who did what (admin/routes/dead-letters.ts, audit.ts). A delivery
  // keeps the error class of its last attempt, to be grouped by cause without reading attempts,
  // and how often it was replayed; each attempt, which replay it belongs to (0: the first
  // schedule). A discarded dead letter stays dead, marked. Dead ones already stored get their class
  // from their last attempt (few rows: the dead are a backlog). deliveries_dead_cause covers the
  // grouping (with each one's event, to look up a session's or a time's) and gives one cause's
  // dead letters in id order, newest first without a sort; deliveries_dead_event (the migration before) finds the dead
  // letters of a chat's events without reading their delivered ones. Both hold dead rows only, so
  // the ingest does not write them. audit_log is read newest first by its key.
  `
  ALTER TABLE deliveries ADD COLUMN last_error_class TEXT;
  ALTER TABLE deliveries ADD COLUMN replays INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE deliveries ADD COLUMN discarded_at INTEGER;
  ALTER TABLE deliveries ADD COLUMN discard_reason TEXT;
  ALTER TABLE deliveries ADD COLUMN discarded_by TEXT;
  ALTER TABLE attempts ADD COLUMN replay INTEGER NOT NULL DEFAULT 0;
  UPDATE deliveries SET last_error_class = (
    SELECT a.error_class FROM attempts a WHERE a.delivery_id = deliveries.id ORDER BY a.id DESC LIMIT 1)
  WHERE status = 'dead';
  CREATE INDEX deliveries_dead_cause
    ON deliveries (target, last_status, last_error_class, id, discarded_at, finished_at, event_seq)
    WHERE status = 'dead';
  CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    action  TEXT NOT NULL,
    via     TEXT NOT NULL,
    role    TEXT NOT NULL,
    session TEXT,
    subject TEXT NOT NULL,
    count   INTEGER,
    reason  TEXT
  ) STRICT;
  `,
  // Traffic per minute and target (sqlite-stats.ts): '' counts the events received, a target's
  // row what became of its deliveries. Written with what it counts; filled from what is stored.
  `
  CREATE TABLE traffic_minutes (
    minute    INTEGER NOT NULL,
    target    TEXT NOT NULL,
    received  INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    dead      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, target)
  ) STRICT, WITHOUT ROWID;
  ${SQLITE_TRAFFIC_BACKFILL};
  `,
  // A chat's events are found through its party rows (events/parties.ts chatParty), which every
  // chat has: the chat's own index went, as it cost every event a write at a random place (a page
  // per event per commit, 37 % of the bytes the ingest wrote: docs/performance.md). PostgreSQL
  // keeps its own: an index entry there costs a WAL record, not a page.
  `
  DROP INDEX events_chat;
  `,
]
