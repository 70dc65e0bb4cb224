// The SQLite store's group commit: a lone write commits at once, writes closer together than the
// interval share the next commit, and writes that arrive while a sync runs wait for it and commit
// together after it. The transaction and the sync here are the caller's functions, recorded.
import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it, vi } from 'vitest'
import { createGroupCommit } from '../../src/store/group-commit.ts'

function recorder(intervalMs: number) {
  const batches: string[][] = []
  let current: string[] = []
  const syncs: (() => void)[] = []
  const commit = createGroupCommit(
    (run) => {
      current = []
      run()
      batches.push(current)
    },
    () => new Promise<void>((resolve) => syncs.push(resolve)),
    intervalMs,
  )
  const write = (name: string, durable = false) =>
    commit.submit(
      () => {
        current.push(name)
        return name
      },
      { durable },
    )
  return { batches, syncs, write }
}

describe('group commit', () => {
  it('commits a lone write in the next turn, and writes of one turn together', async () => {
    const { batches, write } = recorder(200)
    const results = Promise.all([write('a'), write('b')])
    await nextTurn()
    expect(batches).toEqual([['a', 'b']])
    await expect(results).resolves.toEqual(['a', 'b'])
  })

  it('holds writes that come within the interval of the last commit, and commits them as one', async () => {
    const { batches, write } = recorder(200)
    await write('first')
    const later = [write('second'), write('third')]
    await nextTurn()
    await nextTurn()
    expect(batches).toEqual([['first']])
    await vi.waitFor(() => expect(batches).toEqual([['first'], ['second', 'third']]), { timeout: 2000 })
    await expect(Promise.all(later)).resolves.toEqual(['second', 'third'])
  })

  it('answers a durable write after its sync, and commits what came meanwhile after it', async () => {
    const { batches, syncs, write } = recorder(0)
    let answered = false
    const durable = write('event', true).then(() => {
      answered = true
    })
    await nextTurn()
    expect(batches).toEqual([['event']])
    expect(answered).toBe(false)
    const during = [write('outcome'), write('next event', true)]
    await nextTurn()
    await nextTurn()
    expect(batches).toHaveLength(1)
    syncs[0]?.()
    await durable
    await vi.waitFor(() => expect(batches).toEqual([['event'], ['outcome', 'next event']]))
    // The second batch holds a durable write: it is answered after its own sync.
    await vi.waitFor(() => expect(syncs).toHaveLength(2))
    syncs[1]?.()
    await expect(Promise.all(during)).resolves.toEqual(['outcome', 'next event'])
  })
})
