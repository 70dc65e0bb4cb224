// The browser that the dashboard's tests drive: a Chromium already on the machine (Debian's
// `chromium`, which .ci/run installs), driven by playwright-core (no browser download). Without one
// the browser tests skip and say why; with TEST_BROWSER_REQUIRED set (.ci/run sets it) a missing
// browser fails the run instead, so CI never passes with them quietly skipped.
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core'

const NAMES = ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']

/** CHROMIUM_PATH, else the first of the usual names on PATH (as `command -v` finds it). */
export function findChromium(env = process.env): string | null {
  if (env.CHROMIUM_PATH) return env.CHROMIUM_PATH
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    for (const name of NAMES) {
      const candidate = join(dir, name)
      try {
        accessSync(candidate, constants.X_OK)
        return candidate
      } catch {}
    }
  }
  return null
}

export const chromiumPath = findChromium()

if (chromiumPath === null && process.env.TEST_BROWSER_REQUIRED) {
  throw new Error(
    'TEST_BROWSER_REQUIRED is set but no Chromium was found (PATH, CHROMIUM_PATH): the browser tests cannot run',
  )
}

/** Why the browser tests skip (also printed once), or null when they run. */
export const browserSkipReason =
  chromiumPath === null ? 'no Chromium on PATH (install chromium, or set CHROMIUM_PATH)' : null
if (browserSkipReason) console.warn(`Browser tests skipped: ${browserSkipReason}`)

export function launchBrowser(): Promise<Browser> {
  if (chromiumPath === null) throw new Error(`cannot launch a browser: ${browserSkipReason}`)
  return chromium.launch({
    executablePath: chromiumPath,
    // No sandbox: CI containers run as root, where Chromium's sandbox cannot start. The rest keeps
    // the browser from calling home while the tests run.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}

/**
 * Runs `check` until it returns without throwing, and returns what it returned; after `timeoutMs`
 * the last error is thrown, prefixed with `what`. For conditions Playwright's own waits cannot
 * express (the relay's store, a target's requests).
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}: ${(error as Error).message}`, { cause: error })
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * The pages a browser test opens, each watched for a script error or a refusal by the CSP.
 * `close` (after each test) closes those opened since and says what they saw.
 */
export function watchedPages(browser: () => Browser) {
  const opened: { context: BrowserContext; problems: string[] }[] = []
  return {
    async open(options: BrowserContextOptions = {}): Promise<Page> {
      const context = await browser().newContext(options)
      const page = await context.newPage()
      page.setDefaultTimeout(10_000)
      const problems: string[] = []
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
      page.on('console', (message) => {
        if (message.text().includes('Content Security Policy')) problems.push(`CSP: ${message.text()}`)
      })
      opened.push({ context, problems })
      return page
    },
    async close(): Promise<string[]> {
      const problems = opened.flatMap((o) => o.problems)
      for (const { context } of opened.splice(0)) await context.close()
      return problems
    },
  }
}

/** Waits for the dashboard to have drawn its current route from the API. */
export const drawn = (page: Page) => page.locator('#updated:not(:empty)').waitFor()

/** Signs in with `token` on the dashboard at `url` (its sign-in page), then waits for the route. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url)
  await page.getByLabel('Admin token').fill(token)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await drawn(page)
}
