// Every admin route that takes a body, a query or a path, fed malformed input: always a 4xx, as
// JSON `{ error, issues }` naming the field when a field is at fault; never a 5xx. The routes are
// read from the OpenAPI document, which openapi.test.ts holds equal to the routes registered, so a
// route added later is fed too.
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import fc from 'fast-check'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { pino } from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.ts'
import { buildTestApp, TEST_TOKEN, tempDir } from '../support/relay.ts'

const ADMIN_TOKEN = 'admin-token-0123456789'
const auth = { authorization: `Bearer ${ADMIN_TOKEN}` }
const JSON_TYPE = { 'content-type': 'application/json' }

interface ParamSchema {
  type?: string
  enum?: unknown[]
  format?: string
}
interface Operation {
  method: string
  path: string
  params: { name: string; in: 'path' | 'query'; schema: ParamSchema }[]
  bodyFields: string[] | null
}
interface Case {
  label: string
  request: InjectOptions
  /** The issue's path a 400 must name. */
  field?: string
}

const relay = await buildTestApp({
  ADMIN_TOKEN,
  TARGETS: JSON.stringify([{ name: 'crm', url: 'http://127.0.0.1:9/hook', events: ['*'] }]),
})
afterAll(() => relay.close())

const doc = (await relay.app.inject({ url: '/admin/openapi.json', headers: auth })).json() as {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Operation['params']
        requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }
      }
    >
  >
}

const operations: Operation[] = Object.entries(doc.paths).flatMap(([path, methods]) =>
  Object.entries(methods).map(([method, op]) => ({
    method: method.toUpperCase(),
    path,
    params: op.parameters ?? [],
    bodyFields: op.requestBody
      ? Object.keys(op.requestBody.content['application/json']?.schema.properties ?? {})
      : null,
  })),
)
// A route takes input when it has parameters or a body, or changes something (a body it must refuse).
const withInput = operations.filter((op) => op.params.length > 0 || op.method !== 'GET')
const mutating = operations.filter((op) => op.method !== 'GET')

// Valid path values, so that only the input under test is wrong.
const VALID_PATH: Record<string, string> = {
  id: '1',
  name: 'crm',
  key: encodeURIComponent('191b80a9238:message:1'),
}

function urlOf(op: Operation, pathValues: Record<string, string> = {}, query = ''): string {
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => pathValues[name] ?? VALID_PATH[name] ?? 'x')
  return query ? `${path}?${query}` : path
}

// Values no path parameter of the API accepts: numbers for ids, names' and keys' forms for text.
const BAD_INTEGERS = [
  '0',
  '-1',
  '-0',
  '1.5',
  'abc',
  '1e400',
  '99999999999999999999',
  '9007199254740992',
  'NaN',
  'Infinity',
  '%20',
  '0x',
  '%00',
  '1_000',
  '%2B%2B1',
  '1,2',
  '%5B1%5D',
  'x'.repeat(400),
]
const BAD_TEXTS = [
  '.hidden',
  '%00',
  '-1',
  '%20',
  'x'.repeat(400),
  '%E2%80%AE',
  'a%2Fb',
  '%F0%9F%98%80',
  '%3Cscript%3E',
  'a:b',
  ':b:c',
  'a::c',
  `${'a'.repeat(129)}:b:c`,
  `a:${'b'.repeat(65)}:c`,
  `a:b:${'c'.repeat(129)}`,
  'a:b:%00',
  'a%00:b:c',
  ':::',
]
const BAD_URLS = ['%ff', '%', '%e2%80']

function pathCases(op: Operation): Case[] {
  return op.params
    .filter((p) => p.in === 'path')
    .flatMap((param) => {
      const values = param.schema.type === 'integer' ? BAD_INTEGERS : BAD_TEXTS
      const method = op.method as InjectOptions['method']
      return [
        ...values.map((value) => ({
          label: `path ${param.name}=${value.slice(0, 40)}`,
          request: { method, url: urlOf(op, { [param.name]: value }) },
          field: param.name,
        })),
        ...BAD_URLS.map((value) => ({
          label: `path ${param.name}=${value}`,
          request: { method, url: urlOf(op, { [param.name]: value }) },
          field: '(url)',
        })),
      ]
    })
}

function badQueryValues(schema: ParamSchema): string[] {
  if (schema.type === 'integer')
    return ['-5', 'abc', '-1', '1.5', '1e400', '99999999999999999999', 'NaN', '%00']
  if (schema.enum) return ['', 'nope', 'TRUE', 'DEAD', 'x'.repeat(300)]
  if (schema.format === 'date-time')
    return ['', 'yesterday', '2026-13-45T00:00:00Z', '2026-12-02', '1796614362']
  return ['', 'x'.repeat(300)]
}

function queryCases(op: Operation): Case[] {
  const method = op.method as InjectOptions['method']
  const query = op.params.filter((p) => p.in === 'query')
  if (query.length === 0) return []
  return [
    ...query.flatMap((param) => [
      ...badQueryValues(param.schema).map((value) => ({
        label: `query ${param.name}=${value.slice(0, 40)}`,
        request: { method, url: urlOf(op, {}, `${param.name}=${encodeURIComponent(value)}`) },
        field: param.name,
      })),
      {
        label: `query ${param.name} given twice`,
        request: { method, url: urlOf(op, {}, `${param.name}=1&${param.name}=2`) },
        field: param.name,
      },
    ]),
    { label: 'query: unknown field', request: { method, url: urlOf(op, {}, 'zzz=1') }, field: 'zzz' },
    { label: 'query: bracketed field', request: { method, url: urlOf(op, {}, 'a[b]=1') }, field: 'a[b]' },
    { label: 'query: undecodable name', request: { method, url: urlOf(op, {}, '%ff=1') } },
  ]
}

// Bodies no route of the API takes, with the field they must be refused for ((root): the whole body).
const BAD_BODIES: {
  label: string
  payload: string | Buffer
  headers?: Record<string, string>
  field?: string
}[] = [
  { label: 'not JSON', payload: '{bad', field: '(root)' },
  { label: 'empty, typed JSON', payload: '', field: '(root)' },
  { label: 'truncated JSON', payload: '{"ids":[1,2', field: '(root)' },
  { label: 'JSON null', payload: 'null', field: '(root)' },
  { label: 'JSON array', payload: '[1,2]', field: '(root)' },
  { label: 'JSON string', payload: '"replay"', field: '(root)' },
  { label: 'JSON number', payload: '42', field: '(root)' },
  { label: 'huge JSON number', payload: '1e400', field: '(root)' },
  { label: 'JSON true', payload: 'true', field: '(root)' },
  { label: 'unknown field', payload: '{"zzz":1}' },
  { label: 'a field twice', payload: '{"zzz":1,"zzz":2}' },
  { label: 'prototype poisoning', payload: '{"__proto__":{"admin":true}}', field: '(root)' },
  { label: 'deep nesting', payload: `${'['.repeat(50_000)}${']'.repeat(50_000)}`, field: '(root)' },
  {
    label: 'invalid UTF-8',
    payload: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    field: '(root)',
  },
  { label: 'invalid UTF-8, not JSON', payload: Buffer.from([0xff, 0xfe, 0xfd]), field: '(root)' },
  { label: 'byte order mark, then not JSON', payload: '\uFEFF{bad', field: '(root)' },
  { label: 'larger than the body limit', payload: `{"zzz":"${'x'.repeat(1_100_000)}"}` },
  { label: 'plain text', payload: 'hello', headers: { 'content-type': 'text/plain' }, field: 'content-type' },
  {
    label: 'a form',
    payload: 'ids=1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    field: 'content-type',
  },
  {
    label: 'bytes',
    payload: Buffer.from([1, 2, 3]),
    headers: { 'content-type': 'application/octet-stream' },
    field: 'content-type',
  },
  {
    label: 'multipart',
    payload: '--x\r\n\r\n--x--',
    headers: { 'content-type': 'multipart/form-data; boundary=x' },
    field: 'content-type',
  },
  {
    label: 'a type like JSON',
    payload: '{}',
    headers: { 'content-type': 'application/jsonx' },
    field: 'content-type',
  },
  {
    label: 'JSON declared in UTF-16',
    payload: '{bad',
    headers: { 'content-type': 'application/json; charset=utf-16' },
    field: '(root)',
  },
]

// Values of the wrong type, size or sign for any field of a body.
const BAD_FIELD_VALUES: unknown[] = [null, true, -1, 1.5, '', 'x'.repeat(100_000), [], {}, [[]], { a: 1 }]

function bodyCases(op: Operation): Case[] {
  if (op.method === 'GET') return []
  const method = op.method as InjectOptions['method']
  const url = urlOf(op)
  const whole = BAD_BODIES.map(({ label, payload, headers, field }) => ({
    label: `body: ${label}`,
    request: { method, url, payload, headers: headers ?? JSON_TYPE },
    field,
  }))
  const fields = (op.bodyFields ?? []).flatMap((name) =>
    BAD_FIELD_VALUES.map((value) => ({
      label: `body ${name}=${JSON.stringify(value).slice(0, 40)}`,
      request: { method, url, payload: JSON.stringify({ [name]: value }), headers: JSON_TYPE },
      field: name,
    })),
  )
  return [...whole, ...fields]
}

/** A refusal: 4xx, JSON with `error`; an input refused carries its issues, naming `field`. */
function expectRefusal(res: LightMyRequestResponse, label: string, field?: string) {
  expect(res.statusCode, label).toBeGreaterThanOrEqual(400)
  expect(res.statusCode, `${label}: ${res.body.slice(0, 300)}`).toBeLessThan(500)
  expect(res.headers['content-type'], label).toMatch(/^application\/json/)
  const answer = res.json() as { error?: unknown; issues?: { path: unknown; message: unknown }[] }
  expect(answer.error, label).toEqual(expect.any(String))
  if (![400, 413, 414, 415].includes(res.statusCode)) return
  expect(answer.issues, label).toEqual(
    expect.arrayContaining([{ path: expect.any(String), message: expect.any(String) }]),
  )
  for (const issue of answer.issues ?? []) expect(issue.message, label).not.toMatch(/^Invalid input$/)
  if (field !== undefined && res.statusCode === 400) {
    // A field's own path, or one inside it (ids.0).
    const paths = answer.issues?.map((issue) => String(issue.path).split('.')[0])
    expect(paths, `${label}: ${res.body.slice(0, 300)}`).toContain(field)
  }
}

describe('malformed input to the admin API', () => {
  it('finds the routes to feed in the OpenAPI document', () => {
    const names = withInput.map((op) => `${op.method} ${op.path}`)
    expect(names).toEqual(
      expect.arrayContaining([
        'POST /admin/replay',
        'GET /admin/deliveries',
        'GET /admin/deliveries/{id}',
        'GET /admin/events',
        'GET /admin/events/{key}',
        'GET /admin/refused',
        'POST /admin/targets/{name}/pause',
        'POST /admin/targets/{name}/resume',
        'POST /admin/session',
        'DELETE /admin/session',
      ]),
    )
  })

  for (const op of withInput) {
    it(`${op.method} ${op.path}: every malformed input is a 4xx naming its field`, async () => {
      const cases = [...pathCases(op), ...queryCases(op), ...bodyCases(op)]
      // One query parameter and no body (GET /admin/stats?range=) makes fewer cases than the rest.
      const single = op.params.length === 1 && op.bodyFields === null
      expect(cases.length).toBeGreaterThanOrEqual(single ? 8 : 20)
      for (const { label, request, field } of cases) {
        const res = await relay.app.inject({ ...request, headers: { ...auth, ...request.headers } })
        expectRefusal(res, `${op.method} ${op.path} ${label}`, field)
      }
    })
  }

  it('answers arbitrary bodies to the routes that change something with a 4xx, never a 5xx', async () => {
    const payload = fc.oneof(
      fc.json(),
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc
        .dictionary(fc.constantFrom('ids', 'target', 'status', 'event', 'token', 'zzz'), fc.jsonValue(), {
          maxKeys: 3,
        })
        .map((value) => JSON.stringify(value)),
      fc.uint8Array({ maxLength: 256 }).map((bytes) => Buffer.from(bytes)),
      fc.string({ unit: 'binary', maxLength: 256 }),
    )
    const type = fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/octet-stream',
      undefined,
    )
    for (const op of mutating) {
      await fc.assert(
        fc.asyncProperty(payload, type, async (body, contentType) => {
          const res = await relay.app.inject({
            method: op.method as InjectOptions['method'],
            url: urlOf(op),
            payload: body,
            headers: { ...auth, ...(contentType ? { 'content-type': contentType } : {}) },
          })
          expect(res.statusCode, `${op.method} ${op.path}: ${res.body.slice(0, 200)}`).toBeLessThan(500)
          if (res.statusCode >= 400) expectRefusal(res, `${op.method} ${op.path}`)
        }),
        { numRuns: 150 },
      )
    }
  })

  it('answers arbitrary path and query text with a 4xx or a 2xx, never a 5xx', async () => {
    const withParams = withInput.filter((op) => op.params.length > 0)
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...withParams),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        async (op, segment, query) => {
          const path = op.params.find((p) => p.in === 'path')
          const values = path ? { [path.name]: encodeURIComponent(segment) } : {}
          const first = op.params.find((p) => p.in === 'query')
          const search = first ? `${first.name}=${encodeURIComponent(query)}` : ''
          const res = await relay.app.inject({
            method: op.method as InjectOptions['method'],
            url: urlOf(op, values, search),
            headers: auth,
          })
          expect(res.statusCode, `${op.method} ${res.body.slice(0, 200)}`).toBeLessThan(500)
          if (res.statusCode >= 400) expectRefusal(res, `${op.method} ${op.path}`)
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('POST /admin/replay', () => {
  const replay = (body: unknown) =>
    relay.app.inject({
      method: 'POST',
      url: '/admin/replay',
      payload: JSON.stringify(body),
      headers: { ...auth, ...JSON_TYPE },
    })
  const ids = (count: number) => Array.from({ length: count }, (_, i) => i + 1)

  it('names the field and the cap for too many ids', async () => {
    for (const count of [10_001, 100_000]) {
      const res = await replay({ ids: ids(count) })
      expect(res.statusCode).toBe(400)
      expect(res.json()).toEqual({
        error: 'bad body',
        issues: [{ path: 'ids', message: 'at most 10000 ids per replay' }],
      })
    }
    const atCap = await replay({ ids: ids(10_000) })
    expect(atCap.statusCode).toBe(200)
    expect(atCap.json()).toEqual({ replayed: 0 })
  })

  it('names each field at fault in a selector', async () => {
    const cases: [unknown, { path: string; message: string }[]][] = [
      [
        {},
        [{ path: '(root)', message: 'give exactly one of ids, target (with status "dead"), event or dead' }],
      ],
      [{ ids: [] }, [{ path: 'ids', message: 'give at least one id' }]],
      [
        { ids: [0, 2.5] },
        [0, 1].map((i) => ({
          path: `ids.${i}`,
          message: expect.stringMatching(/^must be a whole number from 1 to /),
        })),
      ],
      [{ target: 'crm' }, [{ path: 'status', message: 'goes with target, and must be "dead"' }]],
      [{ target: 'crm', status: 'pending' }, [{ path: 'status', message: 'must be "dead"' }]],
      [
        { ids: [1], event: '191b80a9238:message:1' },
        [{ path: '(root)', message: 'give exactly one of ids, target (with status "dead"), event or dead' }],
      ],
      [{ ids: [1], extra: true }, [{ path: 'extra', message: 'unknown field' }]],
      [
        { event: 'no-colons' },
        [{ path: 'event', message: expect.stringMatching(/^must be <whatsapp_id>:/) }],
      ],
    ]
    for (const [body, issues] of cases) {
      const res = await replay(body)
      expect(res.statusCode, JSON.stringify(body)).toBe(400)
      expect(res.json(), JSON.stringify(body)).toEqual({ error: 'bad body', issues })
    }
  })
})

describe('a JSON body', () => {
  it('is read as UTF-8, and bytes that are not UTF-8 are refused, not replaced', async () => {
    const replay = (payload: Buffer) =>
      relay.app.inject({ method: 'POST', url: '/admin/replay', payload, headers: { ...auth, ...JSON_TYPE } })
    const key = 'сессия:message:☃'
    const valid = await replay(Buffer.from(JSON.stringify({ event: key })))
    expect(valid.statusCode).toBe(404)
    expect(valid.json()).toEqual({ error: `unknown event "${key}"` })

    const bytes = Buffer.concat([Buffer.from('{"event":"a:message:'), Buffer.from([0xff]), Buffer.from('"}')])
    const invalid = await replay(bytes)
    expect(invalid.statusCode).toBe(400)
    expect(invalid.json()).toEqual({
      error: 'bad body',
      issues: [{ path: '(root)', message: 'not valid UTF-8' }],
    })
  })
})

describe('a route that takes no body', () => {
  it('takes none, or {} as the dashboard and the CLI send, and refuses any other', async () => {
    const pause = (payload?: string) =>
      relay.app.inject({
        method: 'POST',
        url: '/admin/targets/crm/pause',
        payload,
        headers: payload === undefined ? auth : { ...auth, ...JSON_TYPE },
      })
    expect((await pause()).statusCode).toBe(200)
    expect((await pause('{}')).statusCode).toBe(200)
    const replaySent = await pause('{"ids":[1]}')
    expect(replaySent.statusCode).toBe(400)
    expect(replaySent.json()).toEqual({
      error: 'bad body',
      issues: [{ path: '(root)', message: 'this call takes no body (or {})' }],
    })
  })
})

describe('a real failure', () => {
  it('is a 500 that hides its message from the client and logs it with the request', async () => {
    const lines: Record<string, unknown>[] = []
    const dataDir = tempDir()
    const app = await buildApp({
      env: { DATA_DIR: dataDir, INGEST_TOKEN: TEST_TOKEN, ADMIN_TOKEN, SHUTDOWN_TIMEOUT_MS: '1000' },
      logger: pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) }),
    })
    try {
      await app.ready()
      // The store's table gone from under it, as a broken disk or a careless hand would leave it.
      const db = new DatabaseSync(join(dataDir, 'relay.sqlite'))
      db.exec('DROP TABLE refused_requests')
      db.close()

      const res = await app.inject({ url: '/admin/refused', headers: { ...auth, 'x-request-id': 'req-500' } })
      expect(res.statusCode).toBe(500)
      expect(res.json()).toEqual({ error: 'internal error' })
      expect(res.body).not.toContain('refused_requests')

      const logged = lines.find((line) => line.msg === 'request failed')
      expect(logged).toMatchObject({
        level: 50,
        reqId: 'req-500',
        method: 'GET',
        route: '/admin/refused',
        err: { message: expect.stringContaining('refused_requests') },
      })
    } finally {
      await app.close()
    }
  })
})
