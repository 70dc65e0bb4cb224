// The aggregate log on a clock the test moves: which lines a flood of occurrences writes, and when.
import { describe, expect, it } from 'vitest'
import { createAggregateLog } from '../../src/shared/aggregate-log.ts'
import { createManualClock } from '../support/manual-clock.ts'

const MINUTE = 60_000

function aggregate(maxKeys?: number) {
  const clock = createManualClock(0)
  const lines: { fields: Record<string, unknown>; message: string; at: number }[] = []
  const log = {
    warn: (fields: object, message: string) =>
      void lines.push({ fields: fields as Record<string, unknown>, message, at: clock.now() }),
  }
  const aggregateLog = createAggregateLog({ log, intervalMs: MINUTE, message: 'refused', maxKeys, clock })
  return { clock, lines, aggregateLog }
}

describe('aggregate log', () => {
  it('logs a key at once, then the rest of its minute in one line when the minute is over', () => {
    const { clock, lines, aggregateLog } = aggregate()
    for (let i = 0; i < 1000; i++) aggregateLog.record('10.0.0.1', { remoteAddress: '10.0.0.1' })
    expect(lines).toEqual([{ fields: { remoteAddress: '10.0.0.1', count: 1 }, message: 'refused', at: 0 }])

    clock.advance(MINUTE - 1)
    expect(lines).toHaveLength(1)
    clock.advance(1)
    expect(lines).toEqual([
      { fields: { remoteAddress: '10.0.0.1', count: 1 }, message: 'refused', at: 0 },
      { fields: { remoteAddress: '10.0.0.1', count: 999 }, message: 'refused', at: MINUTE },
    ])
  })

  it('writes at most one line per key per minute, each with the count since the line before', () => {
    const { clock, lines, aggregateLog } = aggregate()
    // One occurrence every second for five minutes.
    for (let second = 0; second < 300; second++) {
      aggregateLog.record('a', { who: 'a' })
      clock.advance(1000)
    }
    expect(lines.map((line) => [line.at, line.fields.count])).toEqual([
      [0, 1],
      [MINUTE, 59],
      [2 * MINUTE, 60],
      [3 * MINUTE, 60],
      [4 * MINUTE, 60],
      [5 * MINUTE, 60],
    ])
    // A quiet minute: nothing to write, and the key is forgotten, so its next one is logged at once.
    clock.advance(MINUTE)
    expect(lines).toHaveLength(6)
    expect(clock.pending()).toEqual([])
    aggregateLog.record('a', { who: 'a' })
    expect(lines.at(-1)).toEqual({ fields: { who: 'a', count: 1 }, message: 'refused', at: 6 * MINUTE })
  })

  it('keeps the keys apart, each on its own minute, with the latest fields', () => {
    const { clock, lines, aggregateLog } = aggregate()
    aggregateLog.record('a', { who: 'a', n: 1 })
    clock.advance(20_000)
    aggregateLog.record('b', { who: 'b' })
    aggregateLog.record('a', { who: 'a', n: 2 })
    aggregateLog.record('a', { who: 'a', n: 3 })
    aggregateLog.record('b', { who: 'b' })
    clock.advance(40_000)
    clock.advance(20_000)
    expect(lines.map((line) => [line.at, line.fields])).toEqual([
      [0, { who: 'a', n: 1, count: 1 }],
      [20_000, { who: 'b', count: 1 }],
      [MINUTE, { who: 'a', n: 3, count: 2 }],
      [80_000, { who: 'b', count: 1 }],
    ])
  })

  it('holds at most maxKeys keys: occurrences of further ones are summed in one line of their own', () => {
    const { clock, lines, aggregateLog } = aggregate(3)
    for (let i = 0; i < 1000; i++) aggregateLog.record(`10.0.${i >> 8}.${i & 255}`, { n: i })
    expect(lines).toEqual([
      { fields: { n: 0, count: 1 }, message: 'refused', at: 0 },
      { fields: { n: 1, count: 1 }, message: 'refused', at: 0 },
      { fields: { n: 2, count: 1 }, message: 'refused', at: 0 },
      { fields: { count: 1 }, message: 'refused (more sources than the 3 told apart)', at: 0 },
    ])
    clock.advance(MINUTE)
    expect(lines.slice(4)).toEqual([
      { fields: { count: 996 }, message: 'refused (more sources than the 3 told apart)', at: MINUTE },
    ])
    // The held keys were quiet: forgotten, room again for new ones.
    clock.advance(MINUTE)
    aggregateLog.record('new', { n: 'new' })
    expect(lines.at(-1)).toEqual({ fields: { n: 'new', count: 1 }, message: 'refused', at: 2 * MINUTE })
  })

  it('close writes the sums still held, stops the timer, and logs later occurrences one by one', () => {
    const { clock, lines, aggregateLog } = aggregate()
    for (let i = 0; i < 5; i++) aggregateLog.record('a', { who: 'a' })
    aggregateLog.record('b', { who: 'b' })
    expect(clock.pending()).toEqual([MINUTE])

    aggregateLog.close()
    expect(clock.pending()).toEqual([])
    expect(lines.map((line) => line.fields)).toEqual([
      { who: 'a', count: 1 },
      { who: 'b', count: 1 },
      { who: 'a', count: 4 },
    ])
    aggregateLog.record('a', { who: 'a' })
    aggregateLog.record('a', { who: 'a' })
    expect(lines).toHaveLength(5)
    expect(clock.pending()).toEqual([])
  })
})
