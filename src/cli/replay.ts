// `replay`: send deliveries again. One event's in one request; many ids (given, read from stdin,
// or every dead delivery of a target) in requests of REPLAY_CHUNK ids, with a progress bar, so a
// replay of 100,000 dead letters is neither one giant transaction nor a silent wait. Each request
// commits on its own: what an interrupted or failed run replayed stays replayed, and it says so.
import { AdminError, AdminUsageError } from './admin-client.ts'
import { type AdminContext, list, show } from './admin-commands.ts'
import { createProgress } from './progress.ts'
import { clean } from './table.ts'

/** Ids per POST /admin/replay (the API takes up to 10,000). */
export const REPLAY_CHUNK = 500

export async function replay(ctx: AdminContext): Promise<void> {
  const selector = ctx.options.replay
  if (selector === undefined) throw new AdminUsageError('nothing to replay')
  if ('event' in selector) {
    const body = { event: selector.event }
    const { replayed } = await ctx.client.post<{ replayed: number }>('/admin/replay', body)
    const note = replayed === 0 ? ': its deliveries are all still pending, or it went to no target' : ''
    show(ctx, { replayed }, () => [`replayed ${replayed}${note}`])
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

/** Every dead delivery of a target, oldest first; an unknown target is named, not replayed as none. */
async function deadIds(ctx: AdminContext, target: string): Promise<number[]> {
  const { targets } = await ctx.client.get<{ targets: { name: string }[] }>('/admin/targets')
  const names = targets.map((t) => t.name)
  if (!names.includes(target)) {
    const known = names.length > 0 ? `; the relay's targets: ${names.map(clean).join(', ')}` : ''
    throw new AdminError(`unknown target "${clean(target)}"${known}`)
  }
  const query = { status: 'dead', target }
  const { rows } = await list<{ id: number }>(ctx.client, '/admin/deliveries', 'deliveries', query, {
    limit: Number.POSITIVE_INFINITY,
    all: true,
  })
  return rows.map((row) => row.id)
}

/** The ids of the command line, then those of stdin (`-`): whole numbers apart by spaces, commas or lines. */
async function givenIds(ctx: AdminContext, selector: { ids: number[]; stdin: boolean }): Promise<number[]> {
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
