// The overview's charts and the targets page in a real Chromium against the real relay: traffic
// drawn as SVG with its numbers in a table (what the store counted, in the minute it happened, on
// the relay's clock), dead letters, the last event of each session, and each target's truthful
// state and configuration; both fit a 375 px phone. Screenshots go to docs/images.
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { browserSkipReason, launchBrowser, signIn, watchedPages } from '../support/browser.ts'
import { waitUntil, wgEvent } from '../support/events.ts'
import { createManualClock } from '../support/manual-clock.ts'
import { buildTestApp } from '../support/relay.ts'
import { type Sink, startSink } from '../support/sink.ts'

const ADMIN_TOKEN = 'admin-token-charts-0123456789'
const IMAGES = fileURLToPath(new URL('../../docs/images/', import.meta.url))
const SECRET_URL = 'https://ops:hunter2-pass@hooks.example.com/in?token=t0ken-value&team=ops'
// The relay's clock: 20 s into a minute, so everything this test does falls in that minute.
const NOW = Date.now() - (Date.now() % 60_000) + 20_000

const title = browserSkipReason ? `dashboard overview (skipped: ${browserSkipReason})` : 'dashboard overview'
describe.skipIf(browserSkipReason !== null)(title, () => {
  let browser: Browser
  let relay: Awaited<ReturnType<typeof buildTestApp>>
  let base: string
  let bot: Sink
  let crm: Sink
  const pages = watchedPages(() => browser)

  beforeAll(async () => {
    bot = await startSink()
    crm = await startSink({ respondWith: () => ({ status: 500, body: '{"error":"crm is down"}' }) })
    relay = await buildTestApp(
      {
        ADMIN_TOKEN,
        TARGETS: JSON.stringify([
          { name: 'bot', url: bot.url, events: ['*'] },
          { name: 'crm', url: crm.url, events: ['*'], sessions: ['main-session'], retry: { maxAttempts: 1 } },
          {
            name: 'feed',
            type: 'stream',
            token: 'feed-token-0123456789',
            events: ['*'],
            sessions: ['main-session'],
          },
          { name: 'vault', url: SECRET_URL, events: ['ready'], sessions: ['nobody'] },
        ]),
      },
      undefined,
      { clock: createManualClock(NOW) },
    )
    base = await relay.app.listen({ host: '127.0.0.1', port: 0 })
    browser = await launchBrowser()
    // Three messages of main-session (bot, crm, feed), one of side-session (bot only).
    for (const id of [1, 2, 3]) await post(wgEvent({ id, whatsappId: 'main-session' }))
    await post(wgEvent({ id: 4, whatsappId: 'side-session' }))
    await bot.waitFor(4)
    await waitUntil(() => crm.requests.length === 3, 'three attempts at crm')
    // Each of crm's deliveries died on its one attempt; their outcomes are recorded after the answer.
    const dead = async () => (await adminGet('stats')).deadLetters === 3
    for (let i = 0; i < 200 && !(await dead()); i++) await new Promise((r) => setTimeout(r, 25))
    expect(await dead()).toBe(true)
  })

  afterAll(async () => {
    await browser?.close()
    await relay?.close()
    await bot?.close()
    await crm?.close()
  })

  afterEach(async () => {
    expect(await pages.close()).toEqual([])
  })

  async function post(body: string) {
    const response = await relay.post(body)
    expect(response.statusCode).toBe(200)
  }

  async function adminGet(path: string) {
    const response = await fetch(`${base}/admin/${path}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(response.status).toBe(200)
    return response.json()
  }

  async function signedIn(viewport = { width: 1280, height: 900 }, route = ''): Promise<Page> {
    const page = await pages.open({ viewport })
    await signIn(page, `${base}/admin/${route}`, ADMIN_TOKEN)
    return page
  }

  /** The rows of a table by its caption, cell texts. */
  const rowsOf = (page: Page, name: string) =>
    page
      .getByRole('table', { name })
      .locator('tbody tr')
      .evaluateAll((rows) =>
        rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent?.trim())),
      )

  /** The minute (or hour) label the page gives a bucket, in the browser's own time zone. */
  const labelOf = (page: Page, at: number) =>
    page.evaluate((ms) => {
      const d = new Date(ms)
      const pad = (n: number) => String(n).padStart(2, '0')
      return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
    }, at)

  it('draws received, delivered and failed per minute and per hour, with their numbers, dead letters and each session', async () => {
    const page = await signedIn()
    const chart = page.locator('svg.chart[role="img"]')
    await expect
      .poll(() => chart.getAttribute('aria-label'))
      .toBe('Last hour, per minute: Received 4, Delivered 4, Failed attempts 3; at most 4 in one minute')
    expect(await chart.locator('polyline').count()).toBe(3)
    mkdirSync(IMAGES, { recursive: true })
    await page.screenshot({ path: `${IMAGES}overview.png`, fullPage: true })
    await page.getByText('The numbers', { exact: true }).click()
    const minutes = await rowsOf(page, 'Last hour, per minute: the numbers')
    expect(minutes).toHaveLength(60)
    const minute = NOW - (NOW % 60_000)
    expect(minutes.at(-1)).toEqual([await labelOf(page, minute), '4', '4', '3'])
    expect(minutes.slice(0, -1).every((row) => row.slice(1).join() === '0,0,0')).toBe(true)

    await expect.poll(() => page.locator('[data-stat="dead"]').textContent()).toBe('3 dead letters')
    expect(await page.locator('[data-stat="backlog"]').textContent()).toBe('3 deliveries pending')
    const sessions = await rowsOf(page, 'Last event per session')
    expect(sessions.map((row) => row[0])).toEqual(['main-session', 'side-session'])
    const targets = await rowsOf(page, 'Targets')
    expect(targets.map((row) => [row[0], row[2]])).toEqual([
      ['bot', 'ok'],
      ['crm', 'dead letters: 3'],
      ['feed', 'no consumer'],
      ['vault', 'ok'],
    ])

    await page.getByRole('link', { name: 'Last day, per hour' }).click()
    await expect
      .poll(() => chart.getAttribute('aria-label'))
      .toBe('Last day, per hour: Received 4, Delivered 4, Failed attempts 3; at most 4 in one hour')
    await page.getByText('The numbers', { exact: true }).click()
    const hours = await rowsOf(page, 'Last day, per hour: the numbers')
    expect(hours).toHaveLength(24)
    expect(hours.at(-1)).toEqual([await labelOf(page, NOW - (NOW % 3_600_000)), '4', '4', '3'])
  })

  it("shows each target's truthful state and configuration, never a URL's credentials", async () => {
    const page = await signedIn(undefined, '#/targets')
    const card = (name: string) => page.locator(`article[data-target="${name}"]`)
    await card('crm').getByText('dead letters: 3').waitFor()
    expect(await card('crm').textContent()).toContain('0 delivered, 3 failed attempts, 3 dead')
    expect(await card('crm').textContent()).toContain('1 attempt,')
    await card('feed').getByText('no consumer').waitFor()
    expect(await card('feed').textContent()).toContain('0 connected to this relay')
    expect(await card('bot').locator('.badge').textContent()).toBe('ok')
    const vault = (await card('vault').textContent()) ?? ''
    expect(vault).toContain('https://hooks.example.com/in?token=***&team=ops')
    const text = (await page.locator('main').textContent()) ?? ''
    for (const secret of ['hunter2', 'ops:', 't0ken-value', 'feed-token']) expect(text).not.toContain(secret)
    await page.screenshot({ path: `${IMAGES}targets.png`, fullPage: true })
  })

  it('fits a 375 px phone: no side-scrolling on the overview (its numbers open) or the targets', async () => {
    const page = await signedIn({ width: 375, height: 800 })
    await page.getByText('The numbers', { exact: true }).click()
    for (const route of ['#/overview', '#/overview?range=day', '#/targets']) {
      await page.goto(`${base}/admin/${route}`)
      await page.locator('#updated:not(:empty)').waitFor()
      if (route.startsWith('#/overview')) await page.getByText('The numbers', { exact: true }).click()
      const width = await page.evaluate(() => document.documentElement.scrollWidth)
      expect(width, route).toBeLessThanOrEqual(375)
    }
  })
})
