import { describe, expect, it } from 'vitest'
import { compileFilter, FilterSyntaxError } from '../../src/delivery/content-filter.ts'
import { parseEvent } from '../../src/events/index.ts'

const event = (message: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  id: 18,
  whatsapp_id: '191b80a9238',
  event_action: 'message',
  event_date: '2022-09-07 18:29:37',
  status_code: null,
  event_data: {
    message: {
      id: 'false_79999999999@c.us_3EB0436AE1E682FF3A37',
      body: '212',
      from: '79991112233@c.us',
      to: '79999999999@c.us',
      timestamp: 1662575377,
      hasMedia: false,
      quoted: null,
      ...message,
    },
  },
  ...extra,
})
const plain = event({})

/** Which of `events` the filter passes, by index. */
const passes = (filter: unknown, events: unknown[]) =>
  events.flatMap((candidate, index) => (compileFilter(filter)(candidate) ? [index] : []))

describe('compileFilter: equality', () => {
  it('compares strings, numbers, booleans and null strictly, without coercion', () => {
    expect(compileFilter({ 'event_data.message.from': '79991112233@c.us' })(plain)).toBe(true)
    expect(compileFilter({ 'event_data.message.from': '79991112233' })(plain)).toBe(false)
    expect(compileFilter({ 'event_data.message.timestamp': 1662575377 })(plain)).toBe(true)
    expect(compileFilter({ 'event_data.message.timestamp': '1662575377' })(plain)).toBe(false)
    expect(compileFilter({ 'event_data.message.hasMedia': false })(plain)).toBe(true)
    expect(compileFilter({ 'event_data.message.hasMedia': 0 })(plain)).toBe(false)
    expect(compileFilter({ 'event_data.message.quoted': null })(plain)).toBe(true)
    expect(compileFilter({ status_code: null, id: 18 })(plain)).toBe(true)
  })

  it('needs every key of one object (AND)', () => {
    const filter = { event_action: 'message', 'event_data.message.from': '79991112233@c.us' }
    expect(passes(filter, [plain, event({ from: 'x' }), { ...plain, event_action: 'ack' }])).toEqual([0])
  })

  it('never matches a missing path, not even with null', () => {
    expect(compileFilter({ 'event_data.message.fromMe': false })(plain)).toBe(false)
    expect(compileFilter({ 'event_data.message.caption': null })(plain)).toBe(false)
    expect(compileFilter({ 'event_data.message.body.length': 3 })(plain)).toBe(false)
  })

  it('does not look inside objects or arrays for a scalar', () => {
    const withList = event({ mentions: ['a'] })
    expect(compileFilter({ 'event_data.message.mentions': 'a' })(withList)).toBe(false)
    expect(compileFilter({ 'event_data.message.mentions.0': 'a' })(withList)).toBe(false)
    expect(compileFilter({ 'event_data.message.mentions.length': 1 })(withList)).toBe(false)
    expect(compileFilter({ 'event_data.message': 'x' })(plain)).toBe(false)
  })

  it('passes every event with an empty filter', () => {
    expect(compileFilter({})(plain)).toBe(true)
    expect(compileFilter({})(null)).toBe(true)
  })
})

describe('compileFilter: operators', () => {
  const from = (value: unknown) => event({ from: value })
  const missing = event({ from: undefined })
  delete (missing.event_data.message as Record<string, unknown>).from
  const candidates = [from('79991112233@c.us'), from('120363025246125888@g.us'), from(7999), missing]

  it('$in: the value is one of the list; $nin: it is none of them, a missing path included', () => {
    const list = ['79991112233@c.us', 7999]
    expect(passes({ 'event_data.message.from': { $in: list } }, candidates)).toEqual([0, 2])
    expect(passes({ 'event_data.message.from': { $nin: list } }, candidates)).toEqual([1, 3])
    expect(passes({ 'event_data.message.from': { $in: ['7999'] } }, candidates)).toEqual([])
    expect(passes({ 'event_data.message.from': { $in: [null] } }, [from(null), missing])).toEqual([0])
  })

  it('$exists: the path is there (null counts as there), or is not', () => {
    const all = [...candidates, from(null)]
    expect(passes({ 'event_data.message.from': { $exists: true } }, all)).toEqual([0, 1, 2, 4])
    expect(passes({ 'event_data.message.from': { $exists: false } }, all)).toEqual([3])
  })

  it('$startsWith and $endsWith: strings only; anything else does not match', () => {
    expect(passes({ 'event_data.message.from': { $startsWith: '7999' } }, candidates)).toEqual([0])
    expect(passes({ 'event_data.message.from': { $endsWith: '@g.us' } }, candidates)).toEqual([1])
    expect(passes({ 'event_data.message.from': { $endsWith: '' } }, candidates)).toEqual([0, 1])
    expect(passes({ 'event_data.message': { $startsWith: '[object' } }, [plain])).toEqual([])
  })

  it('several operators on one path must all hold', () => {
    const filter = { 'event_data.message.from': { $startsWith: '7999', $endsWith: '@c.us' } }
    expect(passes(filter, [...candidates, from('7999@g.us')])).toEqual([0])
  })

  it('$not: the operators inside do not hold, a missing path included', () => {
    const filter = { 'event_data.message.from': { $not: { $endsWith: '@g.us' } } }
    expect(passes(filter, candidates)).toEqual([0, 2, 3])
    const twice = { 'event_data.message.from': { $not: { $not: { $in: [7999] } } } }
    expect(passes(twice, candidates)).toEqual([2])
  })

  it('$and and $or, nested, beside plain paths', () => {
    const filter = {
      event_action: 'message',
      $or: [
        { 'event_data.message.from': { $endsWith: '@g.us' } },
        {
          $and: [
            { 'event_data.message.from': { $startsWith: '7999' } },
            { 'event_data.message.body': { $nin: ['stop', 'STOP'] } },
          ],
        },
      ],
    }
    const group = event({ from: '120363025246125888@g.us', body: 'stop' })
    const stop = event({ body: 'STOP' })
    const ack = { ...event({}), event_action: 'ack' }
    expect(passes(filter, [plain, group, stop, ack, missing])).toEqual([0, 1])
    expect(passes({ $and: [{ id: 18 }], $or: [{ id: 1 }, { id: 18 }] }, [plain])).toEqual([0])
  })
})

describe('compileFilter: hostile and drifted events', () => {
  it('reads own properties only, never a prototype', () => {
    for (const filter of [
      { constructor: { $exists: true } },
      { 'constructor.name': 'Object' },
      { '__proto__.constructor': { $exists: true } },
      { 'event_data.toString': { $exists: true } },
      { 'event_data.hasOwnProperty': { $exists: true } },
      { 'event_data.message.body.length': { $exists: true } },
      { 'whatsapp_id.length': 11 },
    ]) {
      expect(compileFilter(filter)(plain), JSON.stringify(filter)).toBe(false)
    }
    expect(compileFilter({ constructor: { $exists: false }, '__proto__.x': { $nin: [1] } })(plain)).toBe(true)
  })

  it("reads an event's own fields named __proto__ or constructor as data", () => {
    const body =
      '{"id":1,"whatsapp_id":"s","event_action":"x","event_data":{"__proto__":{"x":1},"constructor":"c"}}'
    const parsed = JSON.parse(body)
    expect(compileFilter({ 'event_data.__proto__.x': 1 })(parsed)).toBe(true)
    expect(compileFilter({ 'event_data.constructor': 'c' })(parsed)).toBe(true)
    // As the relay routes it: what parseEvent hands on, whatever it makes of such a key, is read safely.
    const routed = parseEvent(parsed)
    expect(routed.ok).toBe(true)
    if (routed.ok) {
      expect(compileFilter({ 'event_data.constructor': 'c' })(routed.event)).toBe(true)
      expect(compileFilter({ 'event_data.x': { $exists: true } })(routed.event)).toBe(false)
    }
  })

  it('never throws, whatever the event, and matches only what it names', () => {
    const filter = compileFilter({
      $or: [
        { 'event_data.message.from': { $startsWith: '7999' } },
        { 'event_data.message.id': { $not: { $in: ['a', 1, null, true] } } },
        { 'event_data.message.quoted.body': { $exists: true } },
      ],
    })
    const odd: unknown[] = [
      null,
      undefined,
      'text',
      42,
      [],
      [{ event_data: {} }],
      {},
      { event_data: null },
      { event_data: [] },
      { event_data: 'x' },
      { event_data: { message: 'x' } },
      { event_data: { message: [] } },
      { event_data: { message: { id: ['a'] } } },
      Object.create(null),
    ]
    for (const body of odd) expect(() => filter(body)).not.toThrow()
    expect(filter({ event_data: { message: { id: 'a' } } })).toBe(false)
    expect(filter({ event_data: { message: { id: 'b' } } })).toBe(true)
    // $not over a missing id: every body without a readable message id passes this branch.
    expect(odd.map((body) => filter(body))).toEqual(odd.map(() => true))
  })
})

describe('compileFilter: mistakes stop start-up, naming the path', () => {
  const mistake = (filter: unknown) => {
    try {
      compileFilter(filter)
    } catch (error) {
      expect(error).toBeInstanceOf(FilterSyntaxError)
      const { path, message } = error as FilterSyntaxError
      return `${path.join('.')}: ${message}`
    }
    throw new Error('expected a FilterSyntaxError')
  }

  it.each([
    ['event_data.message.body.$regex: unknown operator', { 'event_data.message.body': { $regex: 'x' } }],
    ['id.$gt: unknown operator', { id: { $gt: 1 } }],
    ['id.$eq: unknown operator', { id: { $eq: 1 } }],
    ['$where: unknown operator', { $where: 'true' }],
    ['$not: unknown operator', { $not: { id: 1 } }],
    ['id.$not.$regex: unknown operator', { id: { $not: { $regex: 'x' } } }],
    [
      'event_data.message: not an operator (a nested field is named by a dotted path, and compared to a scalar)',
      { event_data: { message: { from: 'x' } } },
    ],
    ['id: expected at least one operator', { id: {} }],
    ['id.$not: expected at least one operator', { id: { $not: {} } }],
    ['id.$not: expected an object of operators', { id: { $not: 1 } }],
    ['id: expected a string, number, boolean or null, or an object of operators', { id: [1] }],
    ['id.$in: expected a non-empty list of a string, number, boolean or null', { id: { $in: [] } }],
    ['id.$nin: expected a non-empty list of a string, number, boolean or null', { id: { $nin: 'a' } }],
    ['id.$in.2: expected a string, number, boolean or null', { id: { $in: [1, 'a', [2]] } }],
    ['id.$exists: expected true or false', { id: { $exists: 1 } }],
    ['id.$startsWith: expected a string', { id: { $startsWith: 7 } }],
    ['id.$endsWith: expected a string', { id: { $endsWith: null } }],
    ['$and: expected a non-empty list of filters', { $and: [] }],
    ['$or: expected a non-empty list of filters', { $or: { id: 1 } }],
    ['$or.1: expected an object of dotted paths', { $or: [{ id: 1 }, 'id'] }],
    [
      '$and.0.$or.0.id.$in: expected a non-empty list of a string, number, boolean or null',
      { $and: [{ $or: [{ id: { $not: { $in: [1] }, $in: 1 } }] }] },
    ],
    ['event_data..message: not a dotted path (a part is empty)', { 'event_data..message': 1 }],
    ['.id: not a dotted path (a part is empty)', { '.id': 1 }],
    [': not a dotted path (a part is empty)', { '': 1 }],
    [': expected an object of dotted paths', null],
    [': expected an object of dotted paths', 'event_action == "message"'],
  ])('%s', (expected, filter) => {
    expect(mistake(filter)).toBe(expected)
  })
})
