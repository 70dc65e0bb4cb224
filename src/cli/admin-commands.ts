// The commands that ask a running relay, through its admin API only: no server configuration is
// loaded (no INGEST_TOKEN, no store), just RELAY_URL (or --url) and ADMIN_TOKEN. A table for
// people, --json for scripts (the API's own document, one per run).
import type { AdminCommand, AdminOptions } from './admin-arguments.ts'
import { type AdminClient, AdminError, AdminUsageError, createAdminClient } from './admin-client.ts'
import {
  type DeliveryDetail,
  type DeliveryRow,
  deliveriesTable,
  deliveryView,
  type EventDetail,
  type EventRow,
  eventsTable,
  eventView,
  type Status,
  statusView,
  type TargetInfo,
  targetsView,
} from './admin-views.ts'
import { alerts } from './alerts-command.ts'
import type { Output } from './output.ts'
import { replay } from './replay.ts'
import { clean, iso, safeJson } from './table.ts'
import { audit, discard } from './triage.ts'

export interface AdminContext {
  client: AdminClient
  options: AdminOptions
  io: Output
  /** PUBLIC_URL, without a trailing slash; null when unset. */
  publicUrl: string | null
}

/** A command: it returns when done, and throws an AdminError when it failed. */
type AdminRun = (ctx: AdminContext) => Promise<void>

/** The largest page the API serves. */
const API_PAGE = 1000

/** The relay this machine runs, as its own PORT and HOST say, when neither --url nor RELAY_URL is given. */
function defaultRelayUrl(env: Record<string, string | undefined>): string {
  const port = env.PORT?.trim() || '3000'
  const host = env.HOST?.trim()
  const local = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  return `http://${local.includes(':') ? `[${local}]` : local}:${port}`
}

/**
 * The admin token a relay on this machine made in its DATA_DIR, or null. Loaded only when asked:
 * these commands otherwise load nothing of the server's configuration.
 */
async function keptAdminToken(env: Record<string, string | undefined>): Promise<string | null> {
  const { ADMIN_TOKEN, readKeptSecret } = await import('../config/kept-secrets.ts')
  try {
    return readKeptSecret(env.DATA_DIR?.trim() || './data', ADMIN_TOKEN)
  } catch {
    return null
  }
}

/** Runs one admin command; returns the exit status (1: the relay could not be asked, or refused). */
export async function runAdmin(
  command: AdminCommand,
  options: AdminOptions,
  env: Record<string, string | undefined>,
  io: Output,
  program: string,
): Promise<number> {
  const fail = (message: string) => {
    io.err(`${program} ${command}: ${message}`)
    return 1
  }
  const source = options.url !== undefined ? '--url' : env.RELAY_URL ? 'RELAY_URL' : null
  const text = options.url ?? (env.RELAY_URL || defaultRelayUrl(env))
  const url = URL.canParse(text) ? new URL(text) : null
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    if (source === '--url') {
      io.err(`${program} ${command}: --url must be an http:// or https:// URL, got "${clean(text)}"`)
      return 2
    }
    return fail(`${source ?? 'PORT'} gives no http:// or https:// URL ("${clean(text)}")`)
  }
  const token = env.ADMIN_TOKEN?.trim() || (await keptAdminToken(env))
  if (!token) {
    return fail(
      `ADMIN_TOKEN is not set, nor kept in DATA_DIR: give the admin token of the relay at ${url.origin}`,
    )
  }

  const client = createAdminClient({ url, token })
  const publicUrl = env.PUBLIC_URL?.trim().replace(/\/+$/, '') || null
  try {
    await ADMIN_COMMANDS[command]({ client, options, io, publicUrl })
    return 0
  } catch (error) {
    if (error instanceof AdminUsageError) {
      io.err(`${program} ${command}: ${error.message}`)
      return 2
    }
    if (error instanceof AdminError) return fail(error.message)
    // A bug, or an answer of a shape this CLI does not know (another version of the relay).
    const message = error instanceof Error ? error.message : String(error)
    return fail(`unexpected: ${clean(message)}`)
  } finally {
    await client.close()
  }
}

/** The document as JSON, or the lines made of it. */
export function show(ctx: AdminContext, document: unknown, lines: () => string[]): void {
  if (ctx.options.json) ctx.io.out(safeJson(document))
  else for (const line of lines()) ctx.io.out(line)
}

/**
 * Rows of a listing, newest first, following the API's cursors: up to `limit` rows, or all of
 * them, from the newest, from before `before` (older pages), or from after `after` (newer pages).
 * `older` and `newer` are the cursors beyond the rows returned, null when no more rows lie there.
 */
export async function list<Row>(
  client: AdminClient,
  path: string,
  field: string,
  query: Record<string, string>,
  { limit, all, before, after }: AdminOptions['page'],
): Promise<{ rows: Row[]; older: number | null; newer: number | null }> {
  const towardNewer = after !== undefined
  let rows: Row[] = []
  let cursor = towardNewer ? after : before
  let older: number | null = null
  let newer: number | null = null
  let first = true
  do {
    const size = all ? API_PAGE : Math.min(API_PAGE, limit - rows.length)
    const way = towardNewer ? { after: cursor } : { before: cursor }
    const page = await client.get<Record<string, unknown>>(path, { ...query, ...way, limit: size })
    const got = page[field]
    if (!Array.isArray(got))
      throw new AdminError(`the relay's answer has no "${field}" list: is this the relay?`)
    const pageOlder = typeof page.older === 'number' ? page.older : null
    const pageNewer = typeof page.newer === 'number' ? page.newer : null
    // Newer pages go above the rows so far, older ones below: newest first throughout.
    rows = towardNewer ? [...(got as Row[]), ...rows] : [...rows, ...(got as Row[])]
    if (towardNewer) {
      newer = pageNewer
      if (first) older = pageOlder
    } else {
      older = pageOlder
      if (first) newer = pageNewer
    }
    first = false
    cursor = (towardNewer ? newer : older) ?? undefined
  } while (cursor !== undefined && (all || rows.length < limit))
  return { rows, older, newer }
}

function moreHint(older: number | null, newer: number | null, what: string): string[] {
  return [
    ...(older === null && newer === null ? [] : ['']),
    ...(older === null ? [] : [`older ${what}: --before ${older} (or --all)`]),
    ...(newer === null ? [] : [`newer ${what}: --after ${newer}`]),
  ]
}

const status: AdminRun = async (ctx) => {
  const document = await ctx.client.get<Status>('/admin/status')
  show(ctx, document, () => statusView(document, ctx.client.shownUrl))
  // Printed, and still a failure: `status` is a health check for scripts too.
  if (document.store?.healthy === false) {
    throw new AdminError("the relay's store does not answer: events are refused (503) until it does")
  }
}

const targets: AdminRun = async (ctx) => {
  const document = await ctx.client.get<{ targets: TargetInfo[] }>('/admin/targets')
  show(ctx, document, () => targetsView(document.targets))
}

const events: AdminRun = async (ctx) => {
  const { rows, older, newer } = await list<EventRow>(
    ctx.client,
    '/admin/events',
    'events',
    ctx.options.filters,
    ctx.options.page,
  )
  show(ctx, { events: rows, older, newer }, () =>
    rows.length === 0 ? ['no events match'] : [...eventsTable(rows), ...moreHint(older, newer, 'events')],
  )
}

const deliveries: AdminRun = async (ctx) => {
  const { rows, older, newer } = await list<DeliveryRow>(
    ctx.client,
    '/admin/deliveries',
    'deliveries',
    ctx.options.filters,
    ctx.options.page,
  )
  show(ctx, { deliveries: rows, older, newer }, () =>
    rows.length === 0
      ? ['no deliveries match']
      : [...deliveriesTable(rows), ...moreHint(older, newer, 'deliveries')],
  )
}

const event: AdminRun = async (ctx) => {
  const key = ctx.options.subject as string
  const document = await ctx.client.get<EventDetail>(`/admin/events/${encodeURIComponent(key)}`)
  show(ctx, document, () => eventView(document))
}

const delivery: AdminRun = async (ctx) => {
  const document = await ctx.client.get<DeliveryDetail>(`/admin/deliveries/${ctx.options.subject}`)
  show(ctx, document, () => deliveryView(document))
}

function pauseOrResume(action: 'pause' | 'resume'): AdminRun {
  return async (ctx) => {
    const name = ctx.options.subject as string
    const answer = await ctx.client.post<{ name: string; state: string; pausedAt: number | null }>(
      `/admin/targets/${encodeURIComponent(name)}/${action}`,
    )
    show(ctx, answer, () => [
      action === 'pause'
        ? `${clean(answer.name)}: paused since ${iso(answer.pausedAt)}; its deliveries wait, on every replica, until resume`
        : `${clean(answer.name)}: resumed (state ${clean(answer.state)}); what waited goes out, oldest first`,
    ])
  }
}

// The link opens the relay where a browser reaches it: PUBLIC_URL when set, else the URL asked.
const adminUrl: AdminRun = async (ctx) => {
  const link = await ctx.client.post<{ path: string; expiresAt: number }>('/admin/sign-in-links')
  const base = ctx.publicUrl ?? ctx.client.shownUrl
  show(ctx, { url: `${base}${link.path}`, expiresAt: link.expiresAt }, () => [
    `${base}${link.path}`,
    `(one use, until ${iso(link.expiresAt)}: it signs this browser in to the dashboard)`,
  ])
}

const ADMIN_COMMANDS: Record<AdminCommand, AdminRun> = {
  alerts,
  status,
  targets,
  events,
  event,
  deliveries,
  delivery,
  replay,
  pause: pauseOrResume('pause'),
  resume: pauseOrResume('resume'),
  'admin-url': adminUrl,
  discard,
  audit,
}
