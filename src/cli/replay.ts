// `replay`: send deliveries again. One event's in one request; many ids (given, read from stdin,
// or every dead delivery of a target) in requests of REPLAY_CHUNK ids, with a progress bar, so a
// replay of 100,000 dead letters is neither one giant transaction nor a silent wait. Each request
// commits on its own: what an interrupted or failed run replayed stays replayed, and it says so.
// The dead letters of a filter (--dead with --session, --from, ...) are counted first, and
// replayed by the relay, a chunk per transaction, only with --yes.
import type { DeadSelection } from './admin-arguments.ts'
import { AdminError, AdminUsageError } from './admin-client.ts'
import { type AdminContext, show } from './admin-commands.ts'
import { createProgress } from './progress.ts'
import { clean } from './table.ts'

/** Ids per POST /admin/replay (the API takes up to 10,000). */
export const REPLAY_CHUNK = 500

export async function replay(ctx: AdminContext): Promise<void> {
  const selector = ctx.options.replay
  if (selector === undefined) throw new AdminUsageError('nothing to replay')
  if ('dead' in selector) return replayDeadLetters(ctx, selector)
  if ('event' in selector) {
    const body = selector.failed ? { event: selector.event, status: 'dead' } : { event: selector.event }
    const { replayed } = await ctx.client.post<{ replayed: number }>('/admin/replay', body)
    const none = selector.failed
      ? ': none of its deliveries is dead'
      : ': its deliveries are all still pending, or it went to no target'
    show(ctx, { replayed }, () => [`replayed ${replayed}${replayed === 0 ? none : ''}`])
    return
  }
  const ids = 'target' in selector ? await deadIds(ctx, selector.target) : await givenIds(ctx, selector)
  const what = 'target' in selector ? ` dead deliveries of ${clean(selector.target)}` : ''
  const replayed = await inChunks(ctx, ids)
  const rest = ids.length - replayed
  const note = rest > 0 ? ` of ${ids.length}${what}: ${rest} pending already, or not stored` : what
  show(ctx, { replayed }, () => [`replayed ${replayed}${note}`])
}

/**
 * Replays `ids` a chunk at a time. Each request commits on its own, so a failure or a Ctrl-C
 * leaves the chunks before it replayed: the error says how many.
 */
async function inChunks(ctx: AdminContext, ids: number[]): Promise<number> {
  const progress = ids.length > REPLAY_CHUNK ? createProgress(ctx.io, 'replaying', ids.length) : null
  let replayed = 0
  let sent = 0
  let interrupted = false
  const release = ctx.io.onInterrupt?.(() => {
    interrupted = true
  })
  const sofar = () => `replayed ${replayed} (${sent} of ${ids.length} ids sent)`
  try {
    for (let start = 0; start < ids.length; start += REPLAY_CHUNK) {
      if (interrupted) throw new AdminError(`interrupted: ${sofar()}; run it again for the rest`)
      const chunk = ids.slice(start, start + REPLAY_CHUNK)
      try {
        const answer = await ctx.client.post<{ replayed: number }>('/admin/replay', { ids: chunk })
        replayed += answer.replayed
      } catch (error) {
        if (error instanceof AdminError && sent > 0) throw new AdminError(`${error.message}; ${sofar()}`)
        throw error
      }
      sent += chunk.length
      progress?.update(sent)
    }
    return replayed
  } finally {
    progress?.end()
    release?.()
  }
}

interface DryRun {
  matched: number
  upTo: number | null
  warnings?: string[]
}

/**
 * The dead letters a filter matches: counted by the relay (a dry run) and said, with a warning
 * for a target still failing or paused; replayed only with --yes, and then exactly those counted
 * (the count's `upTo`), a chunk per transaction on the relay's side.
 */
async function replayDeadLetters(ctx: AdminContext, selection: DeadSelection): Promise<void> {
  const dry = await ctx.client.post<DryRun>('/admin/replay', { dead: selection.dead, dryRun: true })
  const warnings = (dry.warnings ?? []).map((warning) => `warning: ${clean(warning)}`)
  const matched = `${dry.matched} dead ${dry.matched === 1 ? 'delivery matches' : 'deliveries match'}`
  if (selection.dryRun || !selection.yes || dry.matched === 0 || dry.upTo === null) {
    const hint = dry.matched > 0 && !selection.dryRun ? ['add --yes to replay them'] : []
    show(ctx, { replayed: 0, ...dry }, () => [matched, ...warnings, ...hint])
    return
  }
  const answer = await ctx.client.post<{ replayed: number }>('/admin/replay', {
    dead: { ...selection.dead, upTo: dry.upTo },
  })
  show(ctx, { ...answer, matched: dry.matched, upTo: dry.upTo }, () => [
    ...warnings,
    `replayed ${answer.replayed} of the ${matched}`,
  ])
}

/**
 * Every dead delivery of a target (not discarded), oldest first; an unknown target is named, not
 * replayed as none.
 */
async function deadIds(ctx: AdminContext, target: string): Promise<number[]> {
  const { targets } = await ctx.client.get<{ targets: { name: string }[] }>('/admin/targets')
  const names = targets.map((t) => t.name)
  if (!names.includes(target)) {
    const known = names.length > 0 ? `; the relay's targets: ${names.map(clean).join(', ')}` : ''
    throw new AdminError(`unknown target "${clean(target)}"${known}`)
  }
  const ids: number[] = []
  let before: number | undefined
  do {
    const page = await ctx.client.get<{ deadLetters: { id: number }[]; next: number | null }>(
      '/admin/dead-letters',
      { target, before, limit: 1000 },
    )
    ids.push(...page.deadLetters.map((row) => row.id))
    before = page.next ?? undefined
  } while (before !== undefined)
  return ids.reverse()
}

/** The ids of the command line, then those of stdin (`-`): whole numbers apart by spaces, commas or lines. */
export async function givenIds(
  ctx: AdminContext,
  selector: { ids: number[]; stdin: boolean },
): Promise<number[]> {
  const ids = [...selector.ids]
  if (selector.stdin) {
    if (!ctx.io.input) throw new AdminUsageError('cannot read ids from stdin here')
    for (const word of (await ctx.io.input()).split(/[\s,]+/)) {
      if (word === '') continue
      const id = /^\d+$/.test(word) ? Number(word) : Number.NaN
      if (!Number.isSafeInteger(id) || id < 1) {
        throw new AdminUsageError(`stdin holds "${clean(word.slice(0, 40))}", not a delivery id`)
      }
      ids.push(id)
    }
    if (ids.length === 0) throw new AdminUsageError('stdin holds no delivery id')
  }
  return [...new Set(ids)]
}
