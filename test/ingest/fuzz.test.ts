// Property-based: whatever bytes arrive on the webhook, the relay answers 200, 400 or 413 (never a
// 5xx, never a crash), stores exactly the events it acknowledged, and only valid ones, byte for byte.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseEvent } from '../../src/events/index.ts'
import { buildTestApp, readOutbox } from '../support/relay.ts'

const NUM_RUNS = 3000
const BODY_LIMIT = 8192
const ACTIONS = ['ready', 'message', 'sent', 'ack', 'disconnect', 'error', 'create', 'media']

const fixtures = join(import.meta.dirname, '..', 'fixtures')
const seeds: Record<string, unknown>[] = readdirSync(fixtures)
  .filter((name) => name.startsWith('event-'))
  .map((name) => JSON.parse(readFileSync(join(fixtures, name), 'utf8')))

type Path = (string | number)[]
type Container = Record<string | number, unknown>

/** Every path into a JSON value, the root included. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const paths: Path[] = [prefix]
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      paths.push(...pathsOf(item, [...prefix, Array.isArray(value) ? Number(key) : key]))
    }
  }
  return paths
}

/** The same value under another JSON type: the mistakes a sender makes. */
function retype(value: unknown): unknown {
  if (typeof value === 'string') return Number.isNaN(Number(value)) ? value.length : Number(value)
  if (typeof value === 'number') return String(value)
  if (typeof value === 'boolean') return value ? 'true' : 0
  if (value === null) return {}
  if (value === undefined) return null
  if (typeof value !== 'object') return String(value)
  if (Array.isArray(value)) return Object.fromEntries(value.map((v, i) => [i, v]))
  return Object.values(value as object)
}

type Mutation =
  | { op: 'delete'; at: number }
  | { op: 'retype'; at: number }
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'add'; at: number; key: string; value: unknown }

function mutate(seed: unknown, mutations: Mutation[]): unknown {
  let root = structuredClone(seed)
  for (const mutation of mutations) {
    const paths = pathsOf(root)
    const path = paths[mutation.at % paths.length] as Path
    const parent = path.slice(0, -1).reduce((node, key) => (node as Container)[key], root) as Container
    const last = path.at(-1)
    const current = last === undefined ? root : parent[last]
    const next =
      mutation.op === 'retype'
        ? retype(current)
        : mutation.op === 'replace'
          ? mutation.value
          : mutation.op === 'add'
            ? current !== null && typeof current === 'object' && !Array.isArray(current)
              ? Object.defineProperty({ ...current }, mutation.key, {
                  value: mutation.value,
                  enumerable: true,
                  writable: true,
                  configurable: true,
                })
              : current
            : undefined
    if (last === undefined) root = next
    else if (mutation.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1)
      else delete parent[last]
    } else parent[last] = next
  }
  return root
}

const keyName = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'id', 'event_action', 'message', 'body'),
)
const anyValue = fc.oneof(fc.anything(), fc.jsonValue(), fc.string({ unit: 'grapheme', maxLength: 40 }))
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('retype' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: anyValue }),
  fc.record({ op: fc.constant('add' as const), at: fc.nat(), key: keyName, value: anyValue }),
)

/** Short strings, and strings at the schema's length limit (valid just below, invalid just above). */
const boundedString = (limit: number) =>
  fc.oneof(fc.string({ maxLength: 16 }), fc.string({ minLength: limit - 2, maxLength: limit + 2 }))

/** A seed with a fresh key (else most events would be repeats of eight keys). */
const freshSeed = fc
  .tuple(
    fc.constantFrom(...seeds),
    fc.oneof(fc.nat(), boundedString(128)),
    fc.option(fc.oneof(fc.constantFrom(...ACTIONS), boundedString(64)), { nil: undefined }),
    fc.option(boundedString(128), { nil: undefined }),
  )
  .map(([seed, id, action, session]) => ({
    ...seed,
    id,
    ...(action && { event_action: action }),
    ...(session && { whatsapp_id: session }),
  }))

const stringify = (value: unknown, indent: number) => {
  try {
    return JSON.stringify(value, null, indent) ?? 'null'
  } catch {
    return '"unserialisable"'
  }
}
const indent = fc.constantFrom(0, 0, 2, 4)

const textBody = fc.oneof(
  // The documented examples as they are: valid, and mostly repeats.
  { weight: 1, arbitrary: fc.constantFrom(...seeds).map((seed) => JSON.stringify(seed)) },
  // Seeds with fields deleted, retyped, replaced by anything, added.
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.constantFrom(...seeds), freshSeed),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        indent,
      )
      .map(([seed, mutations, n]) => stringify(mutate(seed, mutations), n)),
  },
  // Valid-looking envelopes built from random parts.
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          id: fc.oneof(fc.nat(), fc.integer(), fc.double(), boundedString(128), fc.constant(null)),
          whatsapp_id: fc.oneof(boundedString(128), fc.nat()),
          event_action: fc.oneof(fc.constantFrom(...ACTIONS), boundedString(64)),
          event_date: fc.oneof(
            fc
              .date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true })
              .map((d) => d.toISOString().slice(0, 19).replace('T', ' ')),
            fc.string({ maxLength: 20 }),
          ),
          status_code: fc.oneof(fc.constant(null), fc.integer(), fc.string(), fc.boolean()),
          event_data: fc.oneof(
            fc.object(),
            fc.record({ message: fc.oneof(fc.object(), fc.record({ id: fc.string({ maxLength: 60 }) })) }),
            fc.jsonValue(),
          ),
        },
        { requiredKeys: [] },
      )
      .chain((value) => indent.map((n) => stringify(value, n))),
  },
  // Any JSON at all.
  { weight: 2, arbitrary: fc.json() },
  // Around the size limit: a valid event padded to just under or just over it.
  {
    weight: 1,
    arbitrary: fc
      .tuple(freshSeed, fc.integer({ min: BODY_LIMIT - 600, max: BODY_LIMIT + 600 }))
      .map(([seed, size]) => {
        const text = JSON.stringify({ ...seed, pad: '' })
        return text.replace('"pad":""', `"pad":"${'x'.repeat(Math.max(0, size - text.length))}"`)
      }),
  },
  // Random text, deep nesting.
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.nat({ max: 5000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`) },
)

/** Serialised bodies, some then damaged at the byte level. */
const body: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: textBody.map((text) => Buffer.from(text)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(textBody, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert'))
      .map(([text, at, byte, how]) => {
        const bytes = Buffer.from(text)
        const i = bytes.length === 0 ? 0 : at % bytes.length
        if (how === 'cut') return bytes.subarray(0, i)
        if (how === 'insert')
          return Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)])
        const copy = Buffer.from(bytes)
        if (copy.length > 0) copy[i] = byte
        return copy
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
)

/** The outbox key, computed here from the bytes, independently of the relay's code. */
function keyOfBody(bytes: Buffer): { key: string; id: unknown } {
  const event = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>
  return { key: `${event.whatsapp_id}:${event.event_action}:${event.id}`, id: event.id }
}

describe('webhook fuzzing', () => {
  let relay: Awaited<ReturnType<typeof buildTestApp>>
  beforeAll(async () => {
    relay = await buildTestApp({
      BODY_LIMIT: String(BODY_LIMIT),
      // Two targets (nothing listens there) so that routing runs on every fuzzed event.
      TARGETS: JSON.stringify([
        { name: 'all', url: 'http://127.0.0.1:9/all', events: ['*'] },
        { name: 'messages', url: 'http://127.0.0.1:9/messages', events: ['message'], ordering: 'chat' },
      ]),
    })
  })
  afterAll(() => relay?.close())

  // Its own timeout: pure CPU, about 15 s alone on 2 cores and twice that beside the suite's other
  // workers (vitest.config.ts), where the default 30 s would fail it for the load, not the relay.
  it(`${NUM_RUNS} random and mutated bodies: 200, 400 or 413 only; the outbox holds exactly the acked events`, async () => {
    /**
     * For each acknowledged key, the bodies acked for it in the first run that acked it: the outbox
     * must hold one of them (bodies of one run are concurrent, so which one commits first is open).
     */
    const acked = new Map<string, { run: number; bodies: Buffer[] }>()
    let run = 0
    const statuses = new Map<number, number>()

    const post = async (bytes: Buffer, thisRun: number) => {
      const response = await relay.post(bytes)
      statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
      expect(
        [200, 400, 413],
        `${response.statusCode} ${response.body} for ${JSON.stringify(bytes.toString('utf8').slice(0, 300))}`,
      ).toContain(response.statusCode)
      if (response.statusCode === 200) {
        const { key, id } = keyOfBody(bytes)
        expect(response.json()).toEqual({ result: 'OK', id })
        const first = acked.get(key)
        if (!first) acked.set(key, { run: thisRun, bodies: [bytes] })
        else if (first.run === thisRun) first.bodies.push(bytes)
      } else {
        expect(response.json()).toMatchObject({ error: expect.any(String) })
        if (response.statusCode === 413) expect(bytes.length).toBeGreaterThan(BODY_LIMIT)
      }
    }

    await fc.assert(
      // A few bodies at once, as WhatsGate sends them: they share a group commit.
      fc.asyncProperty(fc.array(body, { minLength: 1, maxLength: 3 }), async (bodies) => {
        const thisRun = ++run
        await Promise.all(bodies.map((bytes) => post(bytes, thisRun)))
      }),
      { numRuns: NUM_RUNS },
    )

    // Every class of answer was exercised, not just one.
    expect(statuses.get(200)).toBeGreaterThan(NUM_RUNS / 10)
    expect(statuses.get(400)).toBeGreaterThan(NUM_RUNS / 10)
    expect(statuses.get(413)).toBeGreaterThan(10)

    const { events, deliveries } = readOutbox(relay.dataDir)
    for (const event of events) {
      const parsed = parseEvent(JSON.parse(event.body.toString('utf8')))
      expect(parsed.ok, event.key).toBe(true)
      expect(keyOfBody(event.body).key).toBe(event.key)
      const candidates = acked.get(event.key)?.bodies ?? []
      expect(
        candidates.some((b) => b.equals(event.body)),
        `bytes of ${event.key}`,
      ).toBe(true)
    }
    expect(events.map((e) => e.key).sort()).toEqual([...acked.keys()].sort())

    // Routing ran on each: every event for the catch-all target, message events for the other too.
    const expected = events.flatMap((e) =>
      (e.action === 'message' ? ['all', 'messages'] : ['all']).map((t) => `${t} ${e.key}`),
    )
    expect(deliveries.map((d) => `${d.target} ${d.key}`).sort()).toEqual(expected.sort())

    // Still alive and serving.
    expect((await relay.app.inject('/readyz')).statusCode).toBe(200)
  }, 120_000)
})
