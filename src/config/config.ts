// The relay's typed, frozen configuration, built from the validated environment.
import { isIP } from 'node:net'
import { join } from 'node:path'
import type { AlertSettings } from '../alerts/alerts.ts'
import { ChannelConfigError, loadChannels } from '../alerts/channels.ts'
import { redactedUrl } from '../delivery/destinations/broker-link.ts'
import { type Target, TargetConfigError } from '../delivery/targets.ts'
import type { Env } from './env.ts'
import {
  ADMIN_TOKEN,
  INGEST_TOKEN,
  type KeptSecret,
  KeptSecretError,
  keptSecretPath,
  resolveKeptSecret,
  SIGNING_SECRET,
} from './kept-secrets.ts'
import { loadTargets } from './target-sources.ts'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export interface Config {
  port: number
  host: string
  dataDir: string
  sqlitePath: string
  /** PostgreSQL outbox shared by replicas; null = the SQLite file in DATA_DIR. */
  databaseUrl: string | null
  /** Bench and test knobs of the SQLite store (SQLITE_WAL_AUTOCHECKPOINT, UNSAFE_NO_SYNC_FOR_BENCH). */
  sqliteBench: { walAutocheckpoint: number | null; unsafeNoSync: boolean }
  ingestToken: string
  /** True when the token was made on this start (kept in DATA_DIR, kept-secrets.ts). */
  ingestTokenGenerated: boolean
  bodyLimit: number
  /** Slow or vanished clients: see HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS. */
  headersTimeoutMs: number
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
  /** How many refused webhook requests are kept for the operator; 0 = none. */
  refusedRequestsKept: number
  publicUrl: string | null
  whatsgate: {
    apiUrl: string
    apiKey: string | null
    whatsappIds: string[]
    registerOnStart: boolean
    backfillOnStart: boolean
    /**
     * Where a session with no stored mark starts its backfill: null = the relay's first start
     * (no history), 'all' = everything WhatsGate keeps, or a `YYYY-MM-DD HH:MM:SS` date.
     */
    backfillSince: string | null
  }
  /** Signs every HTTP target that has no secret of its own (FORWARD_SECRET, or kept in DATA_DIR). */
  signingSecret: { value: string; from: string } | null
  /** The console's token (ADMIN_TOKEN, or kept in DATA_DIR); null = the console is off. */
  adminToken: string | null
  /** True when the admin token was made on this start. */
  adminTokenGenerated: boolean
  /** ADMIN_TOKEN=off: the operator turned the console off. */
  adminTurnedOff: boolean
  /** Read-only console and API; null = none. */
  adminViewerToken: string | null
  adminSessionIdleMs: number
  adminSessionLifetimeMs: number
  /** Failed admin authentications per address, and overall, per minute before 429; 0 = no limit. */
  adminAuthFailuresPerMinute: number
  adminAuthFailuresOverall: number
  /** Fastify's trustProxy: which proxies' X-Forwarded-* headers give the client's address and protocol. */
  trustProxy: boolean | number | string[]
  logLevel: Env['LOG_LEVEL']
  logMessageText: boolean
  retentionDays: number
  deadRetentionDays: number
  shutdownTimeoutMs: number
  targets: Target[]
  /** Replica heartbeats (delivery/replica-heartbeat.ts): silent this long is dead, then forgotten. */
  replicaDeadAfterMs: number
  replicaForgetAfterMs: number
  /** Rolling backups of the SQLite outbox (store/backup-schedule.ts); null = none. */
  backups: { dir: string; everyMs: number; keep: number } | null
  /** Alert channels and their rules (alerts/); no channels = conditions kept, no one told. */
  alerts: AlertSettings
}

export function createConfig(env: Env, warn: (message: string) => void): Config {
  const databaseUrl = env.DATABASE_URL ?? null
  if (databaseUrl !== null) {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl) || !URL.canParse(databaseUrl)) {
      throw new ConfigError('DATABASE_URL: expected a URL postgres://user:password@host:port/database')
    }
    // A generated token lives in one replica's DATA_DIR; WhatsGate has one callback URL for all.
    if (env.INGEST_TOKEN === undefined) {
      throw new ConfigError(
        'INGEST_TOKEN: required with DATABASE_URL, so that every replica answers the same callback URL',
      )
    }
  }
  if (env.ADMIN_VIEWER_TOKEN !== undefined) {
    if (env.ADMIN_TOKEN === 'off') {
      throw new ConfigError('ADMIN_VIEWER_TOKEN: the console is off (ADMIN_TOKEN=off)')
    }
    if (env.ADMIN_VIEWER_TOKEN === env.ADMIN_TOKEN) {
      throw new ConfigError('ADMIN_VIEWER_TOKEN: must differ from ADMIN_TOKEN')
    }
  }
  // Both run from the request's first byte: a headers timeout past the request timeout never fires.
  if (env.HEADERS_TIMEOUT_MS > env.REQUEST_TIMEOUT_MS) {
    throw new ConfigError('HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS')
  }
  if (env.REPLICA_FORGET_AFTER_SECONDS < env.REPLICA_DEAD_AFTER_SECONDS) {
    throw new ConfigError('REPLICA_FORGET_AFTER_SECONDS: must be at least REPLICA_DEAD_AFTER_SECONDS')
  }
  const backups = backupsFor(env)
  for (const name of ['PUBLIC_URL', 'WHATSGATE_API_URL', 'FORWARD_URL'] as const) {
    const value = env[name]
    // The value is not echoed: it may carry a password (https://user:password@host).
    if (value !== undefined && !URL.canParse(value))
      throw new ConfigError(`${name}: not a valid URL (expected e.g. https://host/path; value not shown)`)
  }
  let targets: Target[]
  let ingestToken: KeptSecret
  let signingSecret: Config['signingSecret']
  let adminToken: KeptSecret | null
  let alerts: AlertSettings
  try {
    targets = loadTargets(
      { forwardUrl: env.FORWARD_URL, targets: env.TARGETS, targetsFile: env.TARGETS_FILE },
      warn,
    )
    ingestToken = resolveKeptSecret(env.DATA_DIR, INGEST_TOKEN, env.INGEST_TOKEN)
    adminToken = adminTokenFor(env)
    signingSecret = signingSecretFor(targets, env)
    if (signingSecret) targets = targets.map((target) => signedWith(target, signingSecret?.value as string))
    alerts = alertSettingsFor(env, signingSecret, targets)
  } catch (error) {
    if (
      error instanceof TargetConfigError ||
      error instanceof KeptSecretError ||
      error instanceof ChannelConfigError
    )
      throw new ConfigError(error.message)
    throw error
  }
  const apiKey = env.WHATSGATE_API_KEY ?? null
  return Object.freeze({
    port: env.PORT,
    host: env.HOST,
    dataDir: env.DATA_DIR,
    sqlitePath: join(env.DATA_DIR, 'relay.sqlite'),
    databaseUrl,
    sqliteBench: Object.freeze({
      walAutocheckpoint: env.SQLITE_WAL_AUTOCHECKPOINT ?? null,
      unsafeNoSync: env.UNSAFE_NO_SYNC_FOR_BENCH !== undefined,
    }),
    ingestToken: ingestToken.value,
    ingestTokenGenerated: ingestToken.generated,
    signingSecret,
    bodyLimit: env.BODY_LIMIT,
    headersTimeoutMs: env.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: env.KEEP_ALIVE_TIMEOUT_MS,
    refusedRequestsKept: env.REFUSED_REQUESTS_KEPT,
    publicUrl: env.PUBLIC_URL?.replace(/\/+$/, '') ?? null,
    whatsgate: Object.freeze({
      apiUrl: env.WHATSGATE_API_URL.replace(/\/+$/, ''),
      apiKey,
      whatsappIds: env.WHATSGATE_WHATSAPP_IDS.split(',')
        .map((id) => id.trim())
        .filter(Boolean),
      registerOnStart: env.REGISTER_ON_START,
      backfillOnStart: env.BACKFILL_ON_START ?? apiKey !== null,
      backfillSince: env.BACKFILL_SINCE ?? null,
    }),
    adminToken: adminToken?.value ?? null,
    adminTokenGenerated: adminToken?.generated ?? false,
    adminTurnedOff: env.ADMIN_TOKEN === 'off',
    adminViewerToken: env.ADMIN_VIEWER_TOKEN ?? null,
    adminSessionIdleMs: env.ADMIN_SESSION_IDLE_MINUTES * 60_000,
    adminSessionLifetimeMs: env.ADMIN_SESSION_HOURS * 3_600_000,
    adminAuthFailuresPerMinute: env.ADMIN_AUTH_FAILURES_PER_MINUTE,
    adminAuthFailuresOverall: env.ADMIN_AUTH_FAILURES_OVERALL,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    logLevel: env.LOG_LEVEL,
    logMessageText: env.LOG_MESSAGE_TEXT,
    retentionDays: env.RETENTION_DAYS,
    deadRetentionDays: env.DEAD_RETENTION_DAYS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    targets: Object.freeze(targets) as Target[],
    replicaDeadAfterMs: env.REPLICA_DEAD_AFTER_SECONDS * 1000,
    replicaForgetAfterMs: env.REPLICA_FORGET_AFTER_SECONDS * 1000,
    backups,
    alerts,
  })
}

/** ALERT_BREAKER: `bot=30,crm=120`, or `*=30` for every pushed target (a name beside * overrides it). */
function breakerTimes(text: string | undefined, targets: Target[]): Map<string, number> {
  const times = new Map<string, number>()
  const pushed = targets.filter((target) => target.type !== 'stream').map((target) => target.name)
  let every: number | null = null
  for (const entry of (text ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^([^=\s]+)\s*=\s*(\d+(?:\.\d+)?)$/.exec(entry)
    const minutes = match ? Number(match[2]) : 0
    if (!match || !(minutes > 0)) {
      throw new ConfigError(
        `ALERT_BREAKER: "${entry}" is not name=minutes (e.g. bot=30, or *=30 for every target)`,
      )
    }
    const name = match[1] as string
    if (name === '*') every = minutes * 60_000
    else if (!pushed.includes(name))
      throw new ConfigError(`ALERT_BREAKER: no pushed target is named "${name}"`)
    else times.set(name, minutes * 60_000)
  }
  if (every !== null) for (const name of pushed) if (!times.has(name)) times.set(name, every)
  return times
}

/** ALERT_WEBHOOK_URL and ALERTS; json channels without a secret are signed as http targets are. */
function alertSettingsFor(
  env: Env,
  signingSecret: Config['signingSecret'],
  targets: Target[],
): AlertSettings {
  for (const name of ['ALERT_WEBHOOK_URL'] as const) {
    const value = env[name]
    if (value !== undefined && !URL.canParse(value))
      throw new ConfigError(`${name}: not a valid URL (expected e.g. https://host/path; value not shown)`)
  }
  const channels = loadChannels({
    webhookUrl: env.ALERT_WEBHOOK_URL,
    alerts: env.ALERTS,
    signingSecret: () => {
      if (signingSecret) return signingSecret.value
      if (env.DATABASE_URL !== undefined && env.FORWARD_SECRET === undefined) {
        throw new ConfigError(
          'FORWARD_SECRET: required with DATABASE_URL while a json alert channel has no secret of its own, so that every replica signs alike',
        )
      }
      return resolveKeptSecret(env.DATA_DIR, SIGNING_SECRET, env.FORWARD_SECRET).value
    },
  })
  return Object.freeze({
    channels: Object.freeze(channels),
    targetFailingMs: env.ALERT_TARGET_FAILING_MINUTES * 60_000,
    backlogMs: env.ALERT_BACKLOG_MINUTES * 60_000,
    sessionErrors: env.ALERT_SESSION_ERRORS,
    silentFloorMs: env.ALERT_SILENT_MIN_MINUTES * 60_000,
    silentCeilingMs: Math.max(env.ALERT_SILENT_MAX_HOURS * 3_600_000, env.ALERT_SILENT_MIN_MINUTES * 60_000),
    refusals: env.ALERT_REFUSALS,
    breaker: Object.freeze({
      pauseAfterMs: breakerTimes(env.ALERT_BREAKER, targets),
      probeMs: env.ALERT_BREAKER_PROBE_MINUTES * 60_000,
    }),
    reminderMs: env.ALERT_REMINDER_MINUTES * 60_000,
    groupWindowMs: env.ALERT_GROUP_SECONDS * 1000,
  })
}

/** Rolling backups: SQLite only (PostgreSQL has pg_dump and point-in-time recovery). */
function backupsFor(env: Env): Config['backups'] {
  if (env.BACKUP_DIR === undefined) {
    if (env.BACKUP_EVERY !== undefined)
      throw new ConfigError('BACKUP_EVERY: needs BACKUP_DIR, where backups go')
    return null
  }
  if (env.DATABASE_URL !== undefined) {
    throw new ConfigError(
      'BACKUP_DIR: backs up the SQLite outbox only; with DATABASE_URL back up PostgreSQL with pg_dump or point-in-time recovery (docs/operations.md)',
    )
  }
  return { dir: env.BACKUP_DIR, everyMs: env.BACKUP_EVERY ?? 86_400_000, keep: env.BACKUP_KEEP }
}

/** One line for the start-up log: what runs, with every secret left out. */
export function configSummary(config: Config) {
  return {
    listen: `${config.host}:${config.port}`,
    store: config.databaseUrl ? redactUrl(config.databaseUrl) : `sqlite:${config.sqlitePath}`,
    targets: config.targets.map((t) => `${t.name}→${destinationOf(t)} [${t.events.join(',')}]`),
    signingSecret: config.signingSecret?.from ?? 'none',
    publicUrl: config.publicUrl,
    whatsgateApi: config.whatsgate.apiUrl,
    whatsgateKey: config.whatsgate.apiKey ? 'set' : 'unset',
    adminApi: config.adminToken ? (config.adminViewerToken ? 'on, with a viewer token' : 'on') : 'off',
    trustProxy: config.trustProxy,
  }
}

/**
 * The console's token: ADMIN_TOKEN, or one made at first start and kept in DATA_DIR; none with
 * ADMIN_TOKEN=off. Replicas on PostgreSQL share sessions, so they need one token set for all: there
 * the console stays off until ADMIN_TOKEN is set (configWarnings says so).
 */
function adminTokenFor(env: Env): KeptSecret | null {
  if (env.ADMIN_TOKEN === 'off') return null
  if (env.ADMIN_TOKEN === undefined && env.DATABASE_URL !== undefined) return null
  return resolveKeptSecret(env.DATA_DIR, ADMIN_TOKEN, env.ADMIN_TOKEN)
}

/**
 * The secret that signs HTTP targets without one of their own: FORWARD_SECRET, or one made at first
 * start and kept in DATA_DIR. Replicas on PostgreSQL would each make their own, so there it must
 * be set, as INGEST_TOKEN must. Null when no target needs it.
 */
function signingSecretFor(targets: Target[], env: Env): Config['signingSecret'] {
  const needed = targets.some((target) => target.type === 'http' && target.secrets.length === 0)
  if (env.FORWARD_SECRET !== undefined) {
    const problem = SIGNING_SECRET.problem(env.FORWARD_SECRET)
    if (problem) throw new ConfigError(`FORWARD_SECRET: ${problem}`)
  }
  if (!needed) return null
  if (env.DATABASE_URL !== undefined && env.FORWARD_SECRET === undefined) {
    throw new ConfigError(
      'FORWARD_SECRET: required with DATABASE_URL while an HTTP target has no secret of its own, so that every replica signs alike (whatsgate-relay secret prints one to use)',
    )
  }
  const { value } = resolveKeptSecret(env.DATA_DIR, SIGNING_SECRET, env.FORWARD_SECRET)
  return { value, from: env.FORWARD_SECRET ? 'FORWARD_SECRET' : keptSecretPath(env.DATA_DIR, SIGNING_SECRET) }
}

function signedWith(target: Target, secret: string): Target {
  if (target.type !== 'http' || target.secrets.length > 0) return target
  return Object.freeze({ ...target, secrets: Object.freeze([secret]) })
}

/**
 * TRUST_PROXY as Fastify's trustProxy takes it: true or false, a hop count (the nearest N proxies
 * are believed), or the proxies' addresses and CIDR ranges.
 */
function parseTrustProxy(text: string): boolean | number | string[] {
  const value = text.trim().toLowerCase()
  if (['true', 'yes', 'on'].includes(value)) return true
  if (['false', 'no', 'off', '0', ''].includes(value)) return false
  if (/^\d+$/.test(value)) return Number(value)
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
  for (const entry of entries) {
    const [address = '', bits, extra] = entry.split('/')
    const maxBits = isIP(address) === 4 ? 32 : isIP(address) === 6 ? 128 : 0
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= maxBits)
    if (maxBits === 0 || !bitsOk || extra !== undefined) {
      throw new ConfigError(
        `TRUST_PROXY: "${entry}" is not an address or CIDR range (expected true, false, a hop count, or e.g. 10.0.0.0/8,::1)`,
      )
    }
  }
  return entries
}

/**
 * Where a target sends, without credentials: an http target's origin; a broker's URL without its
 * userinfo (`amqp://user:password@host` is how brokers take a password) and where in it events go.
 */
function destinationOf(target: Target): string {
  switch (target.type) {
    case 'http':
      return new URL(target.url).origin
    case 'amqp':
      return `${redactedUrl(target.url)} exchange "${target.exchange}" key ${target.routingKey}`
    case 'nats':
      return `${redactedUrl(target.url)} subject ${target.subject}`
    case 'redis':
      return `${redactedUrl(target.url)} stream ${target.stream}`
    case 'mqtt':
      return `${redactedUrl(target.url)} topic ${target.topic}`
    case 'stream':
      return `consumers at GET ${target.url}`
  }
}

/** The URL without its password (nor any query parameter that looks like a secret). */
function redactUrl(text: string): string {
  const url = new URL(text)
  if (url.password) url.password = '***'
  for (const name of [...url.searchParams.keys()]) {
    if (/pass|secret|key/i.test(name)) url.searchParams.set(name, '***')
  }
  return url.toString()
}
