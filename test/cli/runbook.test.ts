// The runbook ("my bot missed a message", docs/operations.md), its first step run as written against a relay
// that received WhatsGate's own example events (test/fixtures/event-*.json): the commands, the
// query and the example key are read from docs/operations.md, so the runbook cannot drift from what the
// relay finds. WhatsGate's example message comes from 79991112233 but names the chat 79999999999
// in its id: a search by the chat alone would not find it.
import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { TEST_TOKEN } from '../support/relay.ts'
import { ADMIN_TOKEN, startRelay } from './admin-relay.ts'

const RUNBOOK_PAGE = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8')
const FIXTURES = new URL('../fixtures/', import.meta.url)

/** Step n of the runbook, as one line of text. */
function runbookStep(n: number): string {
  const section = RUNBOOK_PAGE.split('### Runbook: "my bot missed a message"')[1]?.split('\n### ')[0] ?? ''
  const step = section.split(/\n(?=\d+\. )/).find((text) => text.trimStart().startsWith(`${n}. `))
  if (step === undefined) throw new Error(`docs/operations.md: the runbook has no step ${n}`)
  return step.replace(/\s+/g, ' ')
}

/** The code spans of a text. */
const codeSpans = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string)

/** A command's words as a POSIX shell splits them (single quotes only, as the runbook writes them). */
const shellWords = (command: string) =>
  [...command.matchAll(/'([^']*)'|(\S+)/g)].map((match) => (match[1] ?? match[2]) as string)

describe("the runbook, on WhatsGate's example events", () => {
  it("step 1 finds the example message by its sender's phone, written three ways, and its key", async () => {
    const step = codeSpans(runbookStep(1))
    const commands = step.filter((span) => span.startsWith('whatsgate-relay events '))
    const queries = step.filter((span) => span.startsWith('GET /admin/events?'))
    const [exampleKey] = step.filter((span) => /^[^:<\s]+:message:[^:>\s]+$/.test(span))
    // The sender, 79991112233, as digits, as people write it and as a jid.
    expect(commands.length + queries.length).toBeGreaterThanOrEqual(3)
    expect(exampleKey).toBe('191b80a9238:message:18')

    const relay = await startRelay([{ name: 'bot' }])
    const fixtures = readdirSync(FIXTURES).filter((name) => /^event-.*\.json$/.test(name))
    expect(fixtures).toContain('event-message.json')
    for (const name of fixtures) {
      const answer = await fetch(`${relay.url}/webhook/${TEST_TOKEN}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: readFileSync(new URL(name, FIXTURES)),
      })
      expect(answer.status, name).toBe(200)
    }
    // Every example that names 79991112233: the message and the create from it, sent and ack to it.
    const expected = [exampleKey, '191b80a9238:sent:19', '191b80a9238:ack:19', '191b80a9238:create:18']

    for (const command of commands) {
      const run = await relay.cli(shellWords(command).slice(1))
      expect(run.err, command).toEqual([])
      expect(run.code, command).toBe(0)
      const keys = run.out.slice(1).map((line) => line.split(/\s+/)[2])
      expect(keys.sort(), command).toEqual([...expected].sort())
    }
    for (const query of queries) {
      const path = query.slice('GET '.length).replace('…', new Date(Date.now() - 3_600_000).toISOString())
      const answer = await fetch(`${relay.url}${path}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      })
      expect(answer.status, query).toBe(200)
      const { events } = (await answer.json()) as { events: { key: string }[] }
      expect(events.map((event) => event.key).sort(), query).toEqual([...expected].sort())
    }

    // The key the runbook names opens the event.
    const opened = await relay.cli(['event', exampleKey as string])
    expect(opened.code).toBe(0)
    expect(opened.stdout).toContain(exampleKey)
  })
})
