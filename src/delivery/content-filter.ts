// A target's content filter: a small MongoDB-like query over the parsed event (as Outpost's
// destination filters), checked and compiled once at start into a predicate, so ingest only runs
// the predicate. The grammar (docs/configuration.md, "Content filters"):
//
//   filter    = { <dotted path>: condition | scalar, "$and": [filter, ...], "$or": [filter, ...] }
//   condition = { "$in" | "$nin": [scalar, ...], "$exists": boolean,
//                 "$startsWith" | "$endsWith": string, "$not": condition }
//   scalar    = string | number | boolean | null
//
// Keys of one object are all required (AND). Events come from outside: a path is read through own
// properties of plain objects only (never a prototype's, never into arrays), a missing one reads as
// undefined, and no event makes a predicate throw, however far it drifts from the documentation.

import { z } from 'zod'

/**
 * Does the event pass the filter? Never throws, whatever the event. `miss` says why one does not:
 * the dotted path whose condition failed (of an `$or`, each alternative's), or null when it passes.
 */
export type EventFilter = ((event: unknown) => boolean) & { readonly miss: (event: unknown) => string | null }

/** The path a filter (or part of one) fails at for an event; null: it passes. */
type Check = (event: unknown) => string | null

type Scalar = string | number | boolean | null
/** A test of the value found at one path (undefined = the path does not exist). */
type ValueTest = (value: unknown) => boolean
type Path = (string | number)[]

/** Where a filter is wrong (relative to the filter itself) and what is wrong there. */
export class FilterSyntaxError extends Error {
  override name = 'FilterSyntaxError'
  readonly path: Path

  constructor(path: Path, message: string) {
    super(message)
    this.path = path
  }
}

/** A target's `filter` field: checked and compiled by zod, issues carrying the offending path. */
export const filterSchema = z.unknown().transform((input, ctx): EventFilter => {
  try {
    return compileFilter(input)
  } catch (error) {
    if (!(error instanceof FilterSyntaxError)) throw error
    ctx.addIssue({ code: 'custom', path: error.path, message: error.message, input })
    return z.NEVER
  }
})

/** Compiles a filter into its predicate. Throws FilterSyntaxError naming the offending path. */
export function compileFilter(input: unknown): EventFilter {
  const miss = filterOf(input, [])
  const filter: EventFilter = Object.assign((event: unknown) => miss(event) === null, { miss })
  sources.set(filter, structuredClone(input))
  return filter
}

// Each compiled filter's JSON as configured, for the operator's view of the target.
const sources = new WeakMap<EventFilter, unknown>()

/** The filter as it was written (JSON), or undefined for a predicate not compiled here. */
export function filterSourceOf(filter: EventFilter): unknown {
  return sources.get(filter)
}

const SCALAR = 'a string, number, boolean or null'

function filterOf(input: unknown, at: Path): Check {
  if (!isPlainObject(input)) throw new FilterSyntaxError(at, 'expected an object of dotted paths')
  const parts: Check[] = []
  for (const [key, value] of Object.entries(input)) {
    const here = [...at, key]
    if (key === '$and' || key === '$or') parts.push(listOf(key, value, here))
    else if (key.startsWith('$')) throw new FilterSyntaxError(here, 'unknown operator')
    else parts.push(conditionOf(key, value, here))
  }
  return allOf(parts)
}

function listOf(operator: '$and' | '$or', value: unknown, at: Path): Check {
  if (!Array.isArray(value) || value.length === 0) {
    throw new FilterSyntaxError(at, 'expected a non-empty list of filters')
  }
  const filters = value.map((item, index) => filterOf(item, [...at, index]))
  return operator === '$and' ? allOf(filters) : anyOf(filters)
}

function conditionOf(path: string, value: unknown, at: Path): Check {
  const segments = path.split('.')
  if (segments.some((segment) => segment === '')) {
    throw new FilterSyntaxError(at, 'not a dotted path (a part is empty)')
  }
  const read = readerOf(segments)
  if (isPlainObject(value)) {
    const test = operatorsOf(value, at)
    return (event) => (test(read(event)) ? null : path)
  }
  if (!isScalar(value)) throw new FilterSyntaxError(at, `expected ${SCALAR}, or an object of operators`)
  return (event) => (read(event) === value ? null : path)
}

function operatorsOf(input: Record<string, unknown>, at: Path): ValueTest {
  const tests: ValueTest[] = []
  for (const [operator, operand] of Object.entries(input)) {
    tests.push(operatorOf(operator, operand, [...at, operator]))
  }
  if (tests.length === 0) throw new FilterSyntaxError(at, 'expected at least one operator')
  if (tests.length === 1) return tests[0] as ValueTest
  return (value) => tests.every((test) => test(value))
}

function operatorOf(operator: string, operand: unknown, at: Path): ValueTest {
  switch (operator) {
    case '$in': {
      const set = scalarSetOf(operand, at)
      return (value) => set.has(value as Scalar)
    }
    case '$nin': {
      const set = scalarSetOf(operand, at)
      return (value) => !set.has(value as Scalar)
    }
    case '$exists': {
      if (typeof operand !== 'boolean') throw new FilterSyntaxError(at, 'expected true or false')
      return (value) => (value !== undefined) === operand
    }
    case '$startsWith': {
      const prefix = stringOf(operand, at)
      return (value) => typeof value === 'string' && value.startsWith(prefix)
    }
    case '$endsWith': {
      const suffix = stringOf(operand, at)
      return (value) => typeof value === 'string' && value.endsWith(suffix)
    }
    case '$not': {
      if (!isPlainObject(operand)) throw new FilterSyntaxError(at, 'expected an object of operators')
      const test = operatorsOf(operand, at)
      return (value) => !test(value)
    }
    default:
      throw new FilterSyntaxError(
        at,
        operator.startsWith('$')
          ? 'unknown operator'
          : 'not an operator (a nested field is named by a dotted path, and compared to a scalar)',
      )
  }
}

function scalarSetOf(operand: unknown, at: Path): ReadonlySet<Scalar> {
  if (!Array.isArray(operand) || operand.length === 0) {
    throw new FilterSyntaxError(at, `expected a non-empty list of ${SCALAR}`)
  }
  operand.forEach((item, index) => {
    if (!isScalar(item)) throw new FilterSyntaxError([...at, index], `expected ${SCALAR}`)
  })
  return new Set(operand as Scalar[])
}

function stringOf(operand: unknown, at: Path): string {
  if (typeof operand !== 'string') throw new FilterSyntaxError(at, 'expected a string')
  return operand
}

/**
 * The value at a path, or undefined. Own properties only: `constructor` or `__proto__.x` read an
 * event's own fields of those names, never Object.prototype; arrays are values, not walked into.
 */
function readerOf(segments: readonly string[]): (event: unknown) => unknown {
  return (event) => {
    let value = event
    for (const segment of segments) {
      if (!isPlainObject(value) || !Object.hasOwn(value, segment)) return undefined
      value = value[segment]
    }
    return value
  }
}

function allOf(checks: Check[]): Check {
  if (checks.length === 0) return () => null
  if (checks.length === 1) return checks[0] as Check
  return (event) => {
    for (const check of checks) {
      const miss = check(event)
      if (miss !== null) return miss
    }
    return null
  }
}

function anyOf(checks: Check[]): Check {
  if (checks.length === 1) return checks[0] as Check
  return (event) => {
    const misses: string[] = []
    for (const check of checks) {
      const miss = check(event)
      if (miss === null) return null
      misses.push(miss)
    }
    return misses.join(' or ')
  }
}

function isScalar(value: unknown): value is Scalar {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  )
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
