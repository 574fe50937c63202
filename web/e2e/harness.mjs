// Test harness: starts `regulars serve --demo` on a copy of a once-seeded demo data directory and
// a free port, serves the console, and launches Debian's Chromium through playwright-core.
//
// Environment:
//   REGULARS_BIN   server binary (default ../build/regulars relative to web/)
//   E2E_CONSOLE    "dist" (default): serve web/dist here and proxy /api, /healthz to the server,
//                  so the tests exercise the console in this tree;
//                  "embedded": use the console the binary serves itself.
//   CHROMIUM_PATH  browser binary (default /usr/bin/chromium)
//   E2E_KEEP_DATA  keep the temporary data directory
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import fsp from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const SCREENSHOT_DIR = path.join(WEB_DIR, 'e2e', 'screenshots')

export const OWNER = { email: 'owner@demo.regulars.test', password: 'demo-owner-pass' }
export const CASHIER = { email: 'cashier@demo.regulars.test', password: 'demo-cashier-pass' }
export const MERCHANT_NAME = 'Demo Tea 示範茶飲'

export const DESKTOP = { width: 1280, height: 800 }
export const TABLET = { width: 1024, height: 768 }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function healthy(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
    return res.status === 200
  } catch {
    return false
  }
}

/** Starts the server; resolves once GET /healthz answers 200. */
// The demo seeds a year of orders before it answers: about 20 s on an idle 2-core machine,
// minutes when other work shares it. So the seeded data directory is made once per server
// binary and day (keyed by its path, size, modification time and today's UTC date, in the
// temporary folder) and each server starts on a copy of it; `--demo` leaves a database that has
// a merchant as it is.
export async function startServer({ timeoutMs = 240_000 } = {}) {
  const bin = path.resolve(WEB_DIR, process.env.REGULARS_BIN ?? '../build/regulars')
  if (!fs.existsSync(bin)) throw new Error(`server binary not found: ${bin} (set REGULARS_BIN)`)
  const template = await demoTemplate(bin, timeoutMs)
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'regulars-e2e-'))
  await fsp.cp(template, dataDir, { recursive: true, filter: (src) => !src.endsWith('.complete') })
  return launch(bin, dataDir, timeoutMs)
}

// The seeded demo for `bin`: made by one clean run of `serve --demo` (stopped with SIGTERM,
// exit code 0) in a fresh directory, renamed into place only when complete.
async function demoTemplate(bin, timeoutMs) {
  const st = fs.statSync(bin)
  const day = new Date().toISOString().slice(0, 10)
  const key = crypto.createHash('sha256').update(`${bin}\0${st.size}\0${st.mtimeMs}\0${day}`).digest('hex')
  const dir = path.join(os.tmpdir(), `regulars-e2e-demo-${key.slice(0, 16)}`)
  if (fs.existsSync(path.join(dir, '.complete'))) return dir
  // Templates of other binaries or days, left for more than six hours, go.
  for (const name of await fsp.readdir(os.tmpdir())) {
    if (!name.startsWith('regulars-e2e-demo-')) continue
    const old = path.join(os.tmpdir(), name)
    const age = Date.now() - (await fsp.stat(old).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs
    if (age > 6 * 3600_000) await fsp.rm(old, { recursive: true, force: true })
  }
  const seedDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'regulars-e2e-seed-'))
  const server = await launch(bin, seedDir, timeoutMs)
  const exit = await server.stop({ keepData: true })
  if (!exit || exit.code !== 0) {
    await fsp.rm(seedDir, { recursive: true, force: true })
    throw new Error(`seeding the demo did not end cleanly (${JSON.stringify(exit)}):\n${server.output()}`)
  }
  await fsp.writeFile(path.join(seedDir, '.complete'), '')
  try {
    await fsp.rename(seedDir, dir)
  } catch {
    await fsp.rm(seedDir, { recursive: true, force: true }) // another run made it first
  }
  return dir
}

async function launch(bin, dataDir, timeoutMs) {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  let output = ''
  const child = spawn(bin, ['serve', '--demo', '--data', dataDir, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  })
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  let exited = null
  child.on('exit', (code, signal) => (exited = { code, signal }))

  const deadline = Date.now() + timeoutMs
  while (!(await healthy(`${url}/healthz`))) {
    if (exited) throw new Error(`server exited early (${JSON.stringify(exited)}):\n${output}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`server did not answer /healthz within ${timeoutMs} ms:\n${output}`)
    }
    await sleep(200)
  }

  return {
    url,
    dataDir,
    output: () => output,
    /** Stops the server (SIGTERM, then SIGKILL after 5 s); resolves to how it exited. */
    async stop({ keepData = false } = {}) {
      if (!exited) {
        child.kill('SIGTERM')
        const until = Date.now() + 5000
        while (!exited && Date.now() < until) await sleep(50)
        if (!exited) child.kill('SIGKILL')
        while (!exited) await sleep(50)
      }
      if (!keepData && !process.env.E2E_KEEP_DATA) await fsp.rm(dataDir, { recursive: true, force: true })
      return exited
    },
  }
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

/** Serves web/dist (SPA fallback) and proxies server paths to `backend`. */
export async function startConsole(backend) {
  const dist = path.join(WEB_DIR, 'dist')
  if (!fs.existsSync(path.join(dist, 'index.html'))) throw new Error('web/dist is missing: run `npm run build` first')
  const target = new URL(backend)
  const proxied = (p) => p.startsWith('/api/') || p === '/healthz' || p === '/metrics' || p.startsWith('/m/') || p.startsWith('/u/')
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname
    if (proxied(p)) {
      const up = http.request(
        { hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (ur) => {
          res.writeHead(ur.statusCode, ur.headers)
          ur.pipe(res)
        },
      )
      up.on('error', (e) => {
        res.writeHead(502, { 'content-type': 'text/plain' })
        res.end(String(e))
      })
      req.pipe(up)
      return
    }
    let file = path.normalize(path.join(dist, decodeURIComponent(p)))
    if (!file.startsWith(dist) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(dist, 'index.html')
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    })
    fs.createReadStream(file).pipe(res)
  })
  const port = await freePort()
  await new Promise((r) => server.listen(port, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(r)) }
}

/** Server + console + browser, torn down by `stop()`. */
export async function startAll() {
  const server = await startServer()
  let consoleSrv = null
  try {
    consoleSrv = process.env.E2E_CONSOLE === 'embedded' ? null : await startConsole(server.url)
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    })
    const baseURL = consoleSrv?.url ?? server.url
    return {
      server,
      browser,
      baseURL,
      async stop() {
        await browser.close().catch(() => {})
        await consoleSrv?.stop()
        await server.stop()
      },
    }
  } catch (e) {
    await consoleSrv?.stop()
    await server.stop()
    throw e
  }
}

/**
 * A new browser context and page. `lang` pre-selects the console language (as if chosen
 * earlier in the switcher); `locale` is the browser's own language.
 */
export async function newPage(env, { lang, locale = 'en-US', viewport = DESKTOP } = {}) {
  const context = await env.browser.newContext({ baseURL: env.baseURL, viewport, locale, timezoneId: 'Asia/Taipei' })
  if (lang) {
    await context.addInitScript((l) => {
      if (!localStorage.getItem('regulars.locale')) localStorage.setItem('regulars.locale', l)
    }, lang)
  }
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text())
  })
  return { context, page, errors }
}

export async function login(page, { email, password }) {
  await page.goto('/login')
  await page.locator('#login-email').fill(email)
  await page.locator('#login-password').fill(password)
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/login') && r.request().method() === 'POST'),
    page.getByTestId('login-submit').click(),
  ])
  if (res.status() !== 200) throw new Error(`login failed: ${res.status()} ${await res.text()}`)
  await page.waitForURL((u) => !u.pathname.startsWith('/login'))
  return res.json()
}

/** Waits for the API answer triggered by `action`. */
export async function apiCall(page, method, pathPrefix, action) {
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname.startsWith(pathPrefix)),
    action(),
  ])
  let body = null
  try {
    body = await res.json()
  } catch {
    /* empty */
  }
  return { status: res.status(), body, request: res.request() }
}

export async function screenshot(page, name) {
  await fsp.mkdir(SCREENSHOT_DIR, { recursive: true })
  // Let fonts and transitions settle.
  await page.evaluate(() => document.fonts.ready)
  await page.waitForTimeout(150)
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`) })
}

export function randomPhone() {
  // A Taiwanese mobile number: 09 + 8 digits.
  return '09' + String(Math.floor(Math.random() * 1e8)).padStart(8, '0')
}

export function uid() {
  return Math.random().toString(36).slice(2, 8)
}
