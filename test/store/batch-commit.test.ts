// The PostgreSQL store's batch commit: a lone submission commits in the next turn, overlapping
// submissions closer together than the interval share the next commit (until as many came as the
// last carried), and a failure that `isolate` blames on
// data is retried one submitter at a time, so only the one at fault fails. The commit here is the
// caller's function, recorded.
import { setImmediate as nextTurn } from 'node:timers/promises'
import { describe, expect, it, vi } from 'vitest'
import { createBatchCommit } from '../../src/store/batch-commit.ts'

function recorder(intervalMs: number) {
  const batches: string[][] = []
  const batch = createBatchCommit<string, string>({
    intervalMs,
    async commit(items) {
      batches.push(items)
      if (items.includes('bad')) throw new Error('invalid data')
      return items.map((item) => item.toUpperCase())
    },
    isolate: (error) => (error as Error).message === 'invalid data',
  })
  return { batches, batch }
}

describe('batch commit', () => {
  it('commits a lone submission in the next turn, and submissions of one turn together', async () => {
    const { batches, batch } = recorder(200)
    const results = Promise.all([batch.submit(['a']), batch.submit(['b', 'c'])])
    await nextTurn()
    expect(batches).toEqual([['a', 'b', 'c']])
    await expect(results).resolves.toEqual([['A'], ['B', 'C']])
  })

  it('while submissions overlap, holds those within the interval of the last commit and commits them as one', async () => {
    const { batches, batch } = recorder(200)
    await Promise.all([batch.submit(['first']), batch.submit(['second']), batch.submit(['third'])])
    const later = [batch.submit(['fourth']), batch.submit(['fifth'])]
    await nextTurn()
    await nextTurn()
    expect(batches).toEqual([['first', 'second', 'third']])
    await vi.waitFor(
      () =>
        expect(batches).toEqual([
          ['first', 'second', 'third'],
          ['fourth', 'fifth'],
        ]),
      { timeout: 2000 },
    )
    await expect(Promise.all(later)).resolves.toEqual([['FOURTH'], ['FIFTH']])
  })

  it('ends the wait once as many submissions have come as the last commit carried', async () => {
    const { batches, batch } = recorder(60_000)
    await Promise.all([batch.submit(['first']), batch.submit(['second'])])
    const third = batch.submit(['third'])
    await nextTurn()
    await nextTurn()
    expect(batches).toEqual([['first', 'second']])
    await Promise.all([third, batch.submit(['fourth'])])
    expect(batches).toEqual([
      ['first', 'second'],
      ['third', 'fourth'],
    ])
  })

  it('holds nothing after a commit of one submission: a lone sender goes at its own pace', async () => {
    const { batches, batch } = recorder(60_000)
    await batch.submit(['one'])
    await batch.submit(['two'])
    await batch.submit(['three', 'four'])
    expect(batches).toEqual([['one'], ['two'], ['three', 'four']])
  })

  it('fails only the submitter whose data broke a shared commit', async () => {
    const { batches, batch } = recorder(0)
    const good = batch.submit(['good'])
    const bad = batch.submit(['bad'])
    await expect(good).resolves.toEqual(['GOOD'])
    await expect(bad).rejects.toThrow('invalid data')
    expect(batches).toEqual([['good', 'bad'], ['good'], ['bad']])
    await batch.drain()
  })
})
