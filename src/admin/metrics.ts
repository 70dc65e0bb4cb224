// Prometheus metrics. Counters are fed by the ingest and delivery paths through two callbacks;
// gauges of the outbox and of WhatsGate registration are read when scraped, so they cannot drift.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { CONDITIONS } from '../alerts/conditions.ts'
import { isKnownAction } from '../events/index.ts'
import type { AcceptOutcome } from '../ingest/acceptor.ts'
import { type Clock, systemClock } from '../shared/clock.ts'
import type { AdminStore, AlertStore } from '../store/types.ts'
import type { RegistrationStatus } from '../whatsgate/registrar.ts'

export type AttemptOutcome = 'delivered' | 'retry' | 'dead'

export interface MetricsDeps {
  store: Pick<AdminStore, 'countDeliveries' | 'pausedTargets' | 'backlog'> &
    Partial<Pick<AlertStore, 'openAlerts'>>
  /** The configured targets: each shows in the paused gauge, 0 while running. */
  targetNames?: readonly string[]
  /** What time it is, for the backlog's age; real time by default. */
  clock?: Pick<Clock, 'now'>
}

export function createMetrics({ store, targetNames = [], clock = systemClock }: MetricsDeps) {
  const registry = new Registry()
  // WhatsGate's registrar and the dispatcher are built after the metrics (they feed what is counted).
  let registration: () => RegistrationStatus | null = () => null
  let concurrency: () => Map<string, number> = () => new Map()
  let streamConsumers: () => Map<string, number> = () => new Map()
  collectDefaultMetrics({ register: registry })

  const events = new Counter({
    name: 'whatsgate_relay_events_received_total',
    help: 'Events received from WhatsGate (webhook and backfill), by outcome',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  const nonConforming = new Counter({
    name: 'whatsgate_relay_events_nonconforming_total',
    help: "Events stored that depart from WhatsGate's documentation, by action (undocumented actions: other)",
    labelNames: ['action'] as const,
    registers: [registry],
  })
  const conflicting = new Counter({
    name: 'whatsgate_relay_events_conflicting_total',
    help: 'Events whose key was stored already with a different body, by whether the copy was kept (false: the key had its limit of copies)',
    labelNames: ['kept'] as const,
    registers: [registry],
  })
  const refused = new Counter({
    name: 'whatsgate_relay_webhook_refused_total',
    help: 'Webhook requests refused, by reason (token, not_found, too_large, incomplete, not_json, no_identity, bad_request)',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const authFailures = new Counter({
    name: 'whatsgate_relay_admin_auth_failures_total',
    help: 'Admin credentials refused, by what was presented (sign-in, bearer, cookie)',
    labelNames: ['credential'] as const,
    registers: [registry],
  })
  const authLocked = new Counter({
    name: 'whatsgate_relay_admin_auth_locked_total',
    help: 'Admin requests answered 429: their address (or everyone) failed too often',
    registers: [registry],
  })
  const cut = new Counter({
    name: 'whatsgate_relay_connections_cut_total',
    help: 'Connections the server cut before a route answered, by reason (headers_timeout, request_timeout, malformed)',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const backups = new Counter({
    name: 'whatsgate_relay_backups_total',
    help: 'Rolling backups of the SQLite outbox (BACKUP_DIR), by outcome (ok, failed)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  })
  const attempts = new Counter({
    name: 'whatsgate_relay_delivery_attempts_total',
    help: 'Delivery attempts, by target and what followed',
    labelNames: ['target', 'outcome'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'whatsgate_relay_delivery_duration_seconds',
    help: 'Time of one delivery attempt, request to response',
    labelNames: ['target'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  new Gauge({
    name: 'whatsgate_relay_deliveries',
    help: 'Deliveries in the outbox, by target and status',
    labelNames: ['target', 'status'] as const,
    registers: [registry],
    async collect() {
      this.reset()
      for (const row of await store.countDeliveries())
        this.set({ target: row.target, status: row.status }, row.count)
    },
  })
  // An alert's best signal: a backlog whose oldest event keeps ageing is a target not keeping up.
  new Gauge({
    name: 'whatsgate_relay_backlog_oldest_age_seconds',
    help: 'Per target, how long ago the oldest event still pending for it arrived (0: nothing pending)',
    labelNames: ['target'] as const,
    registers: [registry],
    async collect() {
      this.reset()
      const backlog = await store.backlog()
      const now = clock.now()
      for (const target of targetNames) {
        const oldest = backlog.get(target)?.oldestReceivedAt
        this.set({ target }, oldest === undefined ? 0 : Math.max(0, (now - oldest) / 1000))
      }
    },
  })
  // Read from the store, so every replica reports a pause whichever one took it.
  new Gauge({
    name: 'whatsgate_relay_alerts_open',
    help: 'Alert conditions open, by condition (docs/alerts.md); 0 for each known condition with none',
    labelNames: ['condition'] as const,
    registers: [registry],
    async collect() {
      this.reset()
      if (!store.openAlerts) return
      for (const condition of CONDITIONS) this.set({ condition }, 0)
      for (const row of await store.openAlerts()) this.inc({ condition: row.condition })
    },
  })
  new Gauge({
    name: 'whatsgate_relay_target_paused',
    help: 'Whether a target is paused by the operator (1) or running (0)',
    labelNames: ['target'] as const,
    registers: [registry],
    async collect() {
      this.reset()
      const paused = await store.pausedTargets()
      for (const target of targetNames) this.set({ target }, paused.has(target) ? 1 : 0)
      for (const target of paused.keys()) this.set({ target }, 1)
    },
  })
  new Gauge({
    name: 'whatsgate_relay_target_concurrency_limit',
    help: 'Per target, how many requests this replica may have in flight now (adapts up to its concurrency)',
    labelNames: ['target'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const [target, limit] of concurrency()) this.set({ target }, limit)
    },
  })
  new Gauge({
    name: 'whatsgate_relay_stream_consumers',
    help: 'Per stream target, how many consumers are connected to this replica now',
    labelNames: ['target'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const [target, count] of streamConsumers()) this.set({ target }, count)
    },
  })
  new Gauge({
    name: 'whatsgate_relay_registration',
    help: 'WhatsGate set-hook state per session (1 for the current outcome)',
    labelNames: ['session', 'outcome'] as const,
    registers: [registry],
    collect() {
      this.reset()
      for (const session of registration()?.sessions ?? []) {
        this.set({ session: session.whatsappId, outcome: session.outcome }, 1)
      }
    },
  })

  // A rejected key or a failed discovery leaves no session to show: this still says so.
  new Gauge({
    name: 'whatsgate_relay_registration_state',
    help: 'WhatsGate registration as a whole (1 for the current state); unauthorized while the API key is rejected',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.reset()
      const status = registration()
      if (status) this.set({ state: status.unauthorized ? 'unauthorized' : status.state }, 1)
    },
  })

  return {
    registry,
    eventReceived(outcome: AcceptOutcome) {
      events.inc({ outcome: outcome.status })
      if (outcome.status === 'duplicate' && outcome.conflict) {
        conflicting.inc({ kept: String(outcome.conflict === 'kept') })
      }
      if (outcome.status === 'accepted' && outcome.issues.length > 0) {
        // Actions come from the sender: an open label set would grow without bound.
        const action = outcome.event.event_action
        nonConforming.inc({ action: isKnownAction(action) ? action : 'other' })
      }
    },
    /** Where the registration gauges read from, once the registrar exists. */
    observeRegistration(source: () => RegistrationStatus) {
      registration = source
    },
    /** Where the concurrency gauge reads from, once the dispatcher exists. */
    observeConcurrency(source: () => Map<string, number>) {
      concurrency = source
    },
    /** Where the stream consumers gauge reads from, once the streams exist. */
    observeStreamConsumers(source: () => Map<string, number>) {
      streamConsumers = source
    },
    adminAuthFailed(credential: string) {
      authFailures.inc({ credential })
    },
    adminAuthLocked() {
      authLocked.inc()
    },
    webhookRefused(reason: string) {
      refused.inc({ reason })
    },
    connectionCut(reason: string) {
      cut.inc({ reason })
    },
    backupTaken(outcome: 'ok' | 'failed') {
      backups.inc({ outcome })
    },
    deliveryAttempt(target: string, outcome: AttemptOutcome, durationMs: number) {
      attempts.inc({ target, outcome })
      duration.observe({ target }, durationMs / 1000)
    },
  }
}
