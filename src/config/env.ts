// Every environment variable, defined once: the zod schema validates the environment, reads
// numbers and booleans from its strings, fills defaults, and gives the TypeScript type.
import { z } from 'zod'

const optionalString = z.string().min(1).optional()
/** A number written in a variable. */
const number = () => z.coerce.number({ error: 'must be a number' })
const integer = () => z.coerce.number({ error: 'must be an integer' }).int('must be an integer')
/** true/false, 1/0, yes/no, on/off (any case). */
const boolean = () => z.stringbool({ error: 'must be true or false (or 1/0, yes/no, on/off)' })

/**
 * A duration as the CLI's `--from` takes one: a whole number and a unit, s, m, h or d (`90s`,
 * `30m`, `6h`, `1d`), read as milliseconds.
 */
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const duration = () =>
  z
    .string()
    .trim()
    .regex(/^\d+\s*[smhd]$/, 'must be a whole number and a unit, s, m, h or d (e.g. 30m, 6h, 1d)')
    .transform((text) => Number.parseInt(text, 10) * UNIT_MS[text.at(-1) as keyof typeof UNIT_MS])
    .refine((ms) => ms > 0, 'must be more than zero')

/**
 * The secret path part of the callback URL, whether set in INGEST_TOKEN or kept in DATA_DIR.
 * At most 100 characters: Fastify refuses longer route parameters (maxParamLength) with 414, so a
 * longer token would fail every webhook instead of failing at start.
 */
export const ingestTokenSchema = z
  .string()
  .min(16, 'must be at least 16 characters')
  .max(100, 'must be at most 100 characters (the longest path part the webhook route takes)')
  .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, - and _ only')

export const envSchema = z.object({
  PORT: integer().min(0).max(65535).default(3000).describe('Port the relay listens on'),
  HOST: z.string().default('0.0.0.0').describe('Interface the relay listens on'),
  DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('Folder of the SQLite outbox and the generated token'),
  DATABASE_URL: optionalString.describe(
    'PostgreSQL outbox shared by replicas (needs INGEST_TOKEN); unset = SQLite in DATA_DIR',
  ),
  INGEST_TOKEN: ingestTokenSchema
    .optional()
    .describe('Secret path part of the callback URL; generated and kept in DATA_DIR when unset'),
  BODY_LIMIT: integer().min(1024).default(1048576).describe('Largest accepted event body, bytes'),
  HEADERS_TIMEOUT_MS: integer()
    .min(1000)
    .max(300_000)
    .default(10_000)
    .describe("A client's request headers must arrive within this long of its first byte (else 408, closed)"),
  REQUEST_TIMEOUT_MS: integer()
    .min(1000)
    .default(30_000)
    .describe('The whole request, headers and body, must arrive within this long (else 408, closed)'),
  KEEP_ALIVE_TIMEOUT_MS: integer()
    .min(1000)
    .default(72_000)
    .describe('An idle kept-alive connection is closed after this long; keep it above a proxy in front'),
  REFUSED_REQUESTS_KEPT: integer()
    .min(0)
    .max(10_000)
    .default(100)
    .describe('How many refused webhook requests the store keeps for the operator (0 = none)'),
  FORWARD_URL: optionalString.describe('One target that receives every event'),
  FORWARD_SECRET: optionalString.describe(
    'Standard Webhooks secret (whsec_...) of every HTTP target without its own; made and kept in DATA_DIR when unset',
  ),
  TARGETS: optionalString.describe('Targets as a JSON array'),
  TARGETS_FILE: optionalString.describe('Targets as a JSON or YAML file'),
  PUBLIC_URL: optionalString.describe('Public base URL of this relay, for set-hook'),
  WHATSGATE_API_URL: z.string().default('https://whatsgate.org/api/v1').describe('WhatsGate API base URL'),
  WHATSGATE_API_KEY: optionalString.describe('WhatsGate API key (X-Api-Key)'),
  WHATSGATE_WHATSAPP_IDS: z
    .string()
    .default('')
    .describe('Comma list of sessions; empty = all from sessions-get'),
  REGISTER_ON_START: boolean()
    .default(true)
    .describe('Call set-hook at start (needs API key and PUBLIC_URL)'),
  BACKFILL_ON_START: boolean()
    .optional()
    .describe('Fetch missed events at start; default on with an API key'),
  BACKFILL_SINCE: z
    .string()
    .regex(
      /^(all|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})$/,
      'must be "all" or a date "YYYY-MM-DD HH:MM:SS" (UTC, as WhatsGate\'s event_date)',
    )
    .optional()
    .describe(
      'Where a session never seen before starts its backfill: a date or "all"; default the first start',
    ),
  ADMIN_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters, or "off"')
    .or(z.literal('off'))
    .optional()
    .describe(
      'Token of the admin API and dashboard (16+ characters); made and kept in DATA_DIR when unset; "off" turns them off',
    ),
  ADMIN_VIEWER_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe('Token of a read-only console and API (needs ADMIN_TOKEN): no replay, pause or discard'),
  ADMIN_SESSION_IDLE_MINUTES: integer()
    .min(1)
    .default(60)
    .describe('A dashboard session unused for this long ends'),
  ADMIN_SESSION_HOURS: integer()
    .min(1)
    .max(24 * 30)
    .default(12)
    .describe('A dashboard session ends this long after sign-in, used or not'),
  ADMIN_AUTH_FAILURES_PER_MINUTE: integer()
    .min(0)
    .default(10)
    .describe(
      'Failed admin sign-ins (token or cookie) per client address and minute before 429 (0 = no limit)',
    ),
  ADMIN_AUTH_FAILURES_OVERALL: integer()
    .min(0)
    .default(100)
    .describe(
      'Failed admin sign-ins per minute from all addresses before every token check gets 429 (0 = no limit)',
    ),
  TRUST_PROXY: z
    .string()
    .default('false')
    .describe(
      'Proxies in front whose X-Forwarded-For/-Proto are believed: true, false, a hop count, or a comma list of addresses/CIDRs',
    ),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  LOG_MESSAGE_TEXT: boolean().default(false).describe('Log message bodies (off: they are redacted)'),
  RETENTION_DAYS: number().min(0).default(7).describe('Keep delivered events this long'),
  DEAD_RETENTION_DAYS: number().min(0).default(30).describe('Keep dead deliveries this long'),
  SHUTDOWN_TIMEOUT_MS: integer().min(0).default(10000).describe('Wait this long for in-flight sends'),
  REPLICA_DEAD_AFTER_SECONDS: integer()
    .min(1)
    .max(3600)
    .default(15)
    .describe(
      'PostgreSQL: a replica whose heartbeat is this old is dead and another takes its leases back; keep it above the longest stall',
    ),
  REPLICA_FORGET_AFTER_SECONDS: integer()
    .min(1)
    .default(600)
    .describe(
      'A dead replica is no longer listed once its heartbeat is this old (at least REPLICA_DEAD_AFTER_SECONDS)',
    ),
  BACKUP_DIR: optionalString.describe(
    'SQLite: folder of rolling backups, taken every BACKUP_EVERY (unset = none; PostgreSQL: pg_dump)',
  ),
  BACKUP_EVERY: duration()
    .optional()
    .describe('How often a rolling backup is taken into BACKUP_DIR: e.g. 30m, 6h, 1d (default 1d)'),
  BACKUP_KEEP: integer()
    .min(1)
    .default(7)
    .describe('How many rolling backups BACKUP_DIR keeps; older ones are deleted'),
  // Bench and test knobs (docs/configuration.md): never needed in production.
  SQLITE_WAL_AUTOCHECKPOINT: integer()
    .min(1)
    .optional()
    .describe("Bench/test knob: WAL pages before SQLite checkpoints (unset = SQLite's 1000)"),
  UNSAFE_NO_SYNC_FOR_BENCH: z
    .literal('lose-acknowledged-events', {
      error: 'bench only: unset, or lose-acknowledged-events to run SQLite without syncing',
    })
    .optional()
    .describe(
      'Bench only: SQLite at synchronous=OFF without the WAL sync, so a power cut loses acked events',
    ),
  ALERT_WEBHOOK_URL: optionalString.describe('One alert channel: signed JSON to this URL (docs/alerts.md)'),
  ALERTS: optionalString.describe(
    'Alert channels as a JSON or YAML list (json, slack, discord, telegram, email; docs/alerts.md)',
  ),
  ALERT_TARGET_FAILING_MINUTES: number()
    .positive()
    .default(10)
    .describe('A target failing this long opens target.failing'),
  ALERT_REMINDER_MINUTES: number().positive().default(60).describe('An open alert is told again this often'),
  ALERT_BACKLOG_MINUTES: number()
    .positive()
    .default(30)
    .describe("A target's oldest pending event this old opens target.backlog"),
  ALERT_SESSION_ERRORS: integer()
    .min(0)
    .default(5)
    .describe('error events of a session within 10 minutes that open session.error (0 = off)'),
  ALERT_SILENT_MIN_MINUTES: number()
    .min(0)
    .default(30)
    .describe('session.silent opens no sooner than this (0 = off)'),
  ALERT_SILENT_MAX_HOURS: number()
    .positive()
    .default(24)
    .describe('session.silent opens by this at the latest, whatever the learned quiet'),
  ALERT_REFUSALS: integer()
    .min(0)
    .default(20)
    .describe('Webhook requests refused within 5 minutes that open relay.refusals (0 = off)'),
  ALERT_BREAKER: optionalString.describe(
    'Circuit breaker: targets paused after failing this many minutes, as name=minutes,... (* for every pushed target)',
  ),
  ALERT_BREAKER_PROBE_MINUTES: number()
    .positive()
    .default(2)
    .describe('A target the breaker paused is tried again this often'),
  ALERT_GROUP_SECONDS: number()
    .min(0)
    .default(10)
    .describe('Alerts opening within this long of the first go in one message'),
})

export type Env = z.output<typeof envSchema>

/** The value a variable takes when it is not set. */
export function envDefault(name: keyof typeof envSchema.shape): unknown {
  return envSchema.shape[name].safeParse(undefined).data
}
