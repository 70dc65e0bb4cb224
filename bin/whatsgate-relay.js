#!/usr/bin/env node
// The `whatsgate-relay` command (package.json bin, `npx whatsgate-relay`): checks the Node.js
// version in plain JavaScript, then runs the TypeScript CLI.
import './check-node.js'

const { runCli } = await import('../src/cli.ts')
await runCli()
