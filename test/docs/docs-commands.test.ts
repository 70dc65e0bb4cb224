// The README and docs/ say what to type: every command in them is checked here, so a renamed
// script, command, option or page cannot leave them wrong. npm scripts and benchmarks must exist,
// every `whatsgate-relay` command line must parse as the CLI parses it, every setting must be
// documented, and every relative link must lead to a file (and heading) that exists.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseCommand } from '../../src/cli/arguments.ts'
import { envSchema } from '../../src/config/env.ts'
import { PROJECT_ROOT } from '../support/relay-process.ts'

const PAGES = [
  'README.md',
  ...readdirSync(join(PROJECT_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]
const text = (page: string) => readFileSync(join(PROJECT_ROOT, page), 'utf8')

/** Every command written in a page: the lines of its shell blocks, and its inline code. */
function commandsOf(page: string): string[] {
  const source = text(page)
  const blocks = [...source.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)].flatMap((m) =>
    (m[1] as string).split('\n'),
  )
  const inline = [...source.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string)
  return [...blocks, ...inline].map((line) => line.replace(/\s+#.*$/, '').trim()).filter(Boolean)
}

/** Shell words, quotes removed: enough for the command lines the docs show. */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? (m[3] as string))
}

const scripts = Object.keys(JSON.parse(text('package.json')).scripts)
const benchmarks = [
  ...(/const BENCHMARKS = \{([^}]*)\}/.exec(text('bench/run.ts'))?.[1] ?? '').matchAll(/(\w+)(?::|,|$)/g),
].map((m) => m[1] as string)

describe('the commands in the README and docs/', () => {
  const all = PAGES.flatMap((page) => commandsOf(page).map((command) => ({ page, command })))

  it('find commands to check', () => {
    expect(all.filter(({ command }) => /whatsgate-relay /.test(command)).length).toBeGreaterThan(10)
    expect(benchmarks).toContain('hostile')
  })

  it('name npm scripts and benchmarks that exist', () => {
    for (const { page, command } of all) {
      for (const match of command.matchAll(/\bnpm (?:run ([\w:-]+)(?: -- ([\w ,-]+))?|(test|start)\b)/g)) {
        const [, run, args, builtin] = match
        const script = (run ?? builtin) as string
        expect(scripts, `${page}: ${command}`).toContain(script)
        if (script === 'bench' && args) {
          for (const name of args.split(/[ ,]+/).filter((word) => /^[a-z]+$/.test(word))) {
            expect([...benchmarks, 'all'], `${page}: ${command}`).toContain(name)
          }
        }
      }
    }
  })

  it('give whatsgate-relay command lines the CLI takes', () => {
    for (const { page, command } of all) {
      // The command itself, not an image of that name (`docker build -t whatsgate-relay .`).
      const found = /(?:^|\bnpx )whatsgate-relay (.*)$/.exec(command)
      if (!found) continue
      const argv = words(found[1] as string)
        // A pipe or redirection ends the command.
        .filter((_, i, list) => !list.slice(0, i + 1).some((word) => ['|', '>', '&&', ';'].includes(word)))
      expect(() => parseCommand(argv), `${page}: ${command}`).not.toThrow()
    }
  })
})

describe('the settings', () => {
  it('are each documented in docs/configuration.md', () => {
    const page = text('docs/configuration.md')
    const missing = Object.keys(envSchema.shape).filter((name) => !page.includes(`\`${name}\``))
    expect(missing).toEqual([])
  })
})

describe('the links between the pages', () => {
  const slug = (heading: string) =>
    heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N} -]/gu, '')
      .replaceAll(' ', '-')

  it('lead to files and headings that exist', () => {
    const broken: string[] = []
    for (const page of PAGES) {
      for (const [, target = ''] of text(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue
        const [file = '', anchor] = target.split('#')
        const path = file === '' ? join(PROJECT_ROOT, page) : resolve(PROJECT_ROOT, dirname(page), file)
        let content: string
        try {
          content = readFileSync(path, 'utf8')
        } catch {
          // A folder (examples/) is a link to its listing.
          if (readdirSync(path, { withFileTypes: false }).length > 0) continue
          broken.push(`${page}: ${target}`)
          continue
        }
        if (anchor && path.endsWith('.md')) {
          const headings = [...content.matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1] as string))
          if (!headings.includes(anchor)) broken.push(`${page}: ${target} (no such heading)`)
        }
      }
    }
    expect(broken).toEqual([])
  })
})
