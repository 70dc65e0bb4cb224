// The SQLite store's group commit: a lone write commits at once, overlapping durable writes closer
// together than the interval share the next commit (until as many came as the last carried), and writes that arrive while a sync runs wait for it and commit
// together after it. The transaction and the sync here are the caller's functions, recorded.
import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it, vi } from 'vitest'
import { createGroupCommit } from '../../src/store/group-commit.ts'

/** With `holdSyncs`, each sync ends when the test calls its entry of `syncs`; else at once. */
function recorder(intervalMs: number, { holdSyncs = false } = {}) {
  const batches: string[][] = []
  let current: string[] = []
  const syncs: (() => void)[] = []
  const commit = createGroupCommit(
    (run) => {
      current = []
      run()
      batches.push(current)
    },
    () => (holdSyncs ? new Promise<void>((resolve) => syncs.push(resolve)) : Promise.resolve()),
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

  it('while durable writes overlap, holds those within the interval of the last commit and commits them as one', async () => {
    const { batches, write } = recorder(200)
    await Promise.all([write('first', true), write('second', true)])
    const later = [write('third'), write('fourth', true)]
    await nextTurn()
    await nextTurn()
    expect(batches).toEqual([['first', 'second']])
    await vi.waitFor(
      () =>
        expect(batches).toEqual([
          ['first', 'second'],
          ['third', 'fourth'],
        ]),
      { timeout: 2000 },
    )
    await expect(Promise.all(later)).resolves.toEqual(['third', 'fourth'])
  })

  it('ends the wait once as many durable writes have come as the last commit carried', async () => {
    // Senders that each wait for their answer: when all are back, no one else is coming.
    const { batches, write } = recorder(60_000)
    await Promise.all([write('first', true), write('second', true)])
    const third = write('third', true)
    const outcome = write('an outcome')
    await nextTurn()
    await nextTurn()
    expect(batches).toEqual([['first', 'second']])
    await Promise.all([third, outcome, write('fourth', true)])
    expect(batches).toEqual([
      ['first', 'second'],
      ['third', 'an outcome', 'fourth'],
    ])
  })

  it('holds nothing after a commit of one durable write, or of bookkeeping alone', async () => {
    const { batches, write } = recorder(60_000)
    await write('a lone event', true)
    await write('its next', true)
    await Promise.all([write('a claim', false), write('an outcome', false)])
    await write('a claim after them', false)
    expect(batches).toEqual([
      ['a lone event'],
      ['its next'],
      ['a claim', 'an outcome'],
      ['a claim after them'],
    ])
  })

  it('answers a durable write after its sync, and commits what came meanwhile after it', async () => {
    const { batches, syncs, write } = recorder(0, { holdSyncs: true })
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
