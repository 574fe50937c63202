// Messaging in the console against a real `regulars serve --demo`: a channel set up per kind
// whose secret is shown only as "set", "Send a test" with the provider's outcome, a template
// written in two languages with its live preview for a chosen member and the SMS counter
// (71 Chinese characters = 2 parts), the message log with its status filter, and the message
// on the member's timeline; the "points expiring soon" days-before setting refused out of range
// (the server's message next to the field) and kept across a reload. Then every messaging page in
// every language, with screenshots.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { apiCall, login, newPage, OWNER, randomPhone, screenshot, startAll, uid } from './harness.mjs'

let env
before(async () => {
  env = await startAll()
})
after(async () => {
  await env?.stop()
})

const json = (r) => r.json()
const text = async (loc) => (await loc.innerText()).trim()

async function post(page, path, data) {
  const csrf = (await json(await page.request.get('/api/v1/auth/me'))).csrf_token
  return page.request.post(path, { data, headers: { 'X-CSRF-Token': csrf, 'Idempotency-Key': `e2e-${uid()}${uid()}${uid()}` } })
}

// 71 Chinese characters: one more than a single UCS-2 SMS holds.
const SMS_71 = '感謝您光臨示範茶飲本週會員日全品項第二杯半價歡迎帶朋友一起來喝茶並出示會員卡即可累積點數兌換好禮期待再次見到您祝您有美好的一天謝謝您的支持與愛護'.slice(0, 71)

describe('messaging (owner, English)', () => {
  let owner
  const shared = {}
  before(async () => {
    owner = await newPage(env, { lang: 'en' })
    await login(owner.page, OWNER)
  })
  after(async () => {
    assert.deepEqual(owner.errors, [])
    await owner?.context.close()
  })

  test('channels: an SMTP channel keeps its password write-only; a log channel sends a test and shows the outcome', async () => {
    const { page } = owner
    await page.getByTestId('nav-messaging').click()
    await page.waitForURL('**/messaging/channels')

    await page.getByTestId('new-channel').click()
    await page.locator('#ch-kind').selectOption('smtp')
    await page.locator('#ch-name').fill('E2E mail')
    await page.locator('#ch-s-host').fill('127.0.0.1')
    await page.locator('#ch-s-port').fill('2525')
    await page.locator('#ch-s-security').fill('none')
    await page.locator('#ch-s-from').fill('shop@demo.regulars.test')
    await page.locator('#ch-s-username').fill('shop')
    await page.locator('#ch-x-password').fill('e2e-secret-pass')
    const c = await apiCall(page, 'POST', '/api/v1/channels', () => page.getByTestId('save-channel').click())
    assert.equal(c.status, 201, JSON.stringify(c.body))
    assert.deepEqual(JSON.parse(c.request.postData()), {
      kind: 'smtp',
      name: 'E2E mail',
      settings: { host: '127.0.0.1', port: 2525, security: 'none', from: 'shop@demo.regulars.test', username: 'shop' },
      active: true,
      secrets: { password: 'e2e-secret-pass' },
    })
    assert.deepEqual(c.body.secrets, { password: 'set' })
    assert.ok(!JSON.stringify(c.body).includes('e2e-secret-pass'), 'the secret is never answered')
    const row = page.locator('[data-testid=channel-row][data-kind=smtp]')
    await row.waitFor()
    assert.equal(await text(row.getByTestId('channel-secrets')), 'Password: set')
    const list = await json(await page.request.get('/api/v1/channels'))
    assert.ok(!JSON.stringify(list).includes('e2e-secret-pass'))

    // A log channel: its test is "sent" at once, with the provider id it made up.
    await page.getByTestId('new-channel').click()
    await page.locator('#ch-kind').selectOption('log')
    await page.locator('#ch-name').fill('E2E log')
    const l = await apiCall(page, 'POST', '/api/v1/channels', () => page.getByTestId('save-channel').click())
    assert.equal(l.status, 201, JSON.stringify(l.body))
    shared.logChannel = l.body
    const logRow = page.locator('[data-testid=channel-row][data-kind=log]')
    await logRow.getByTestId('test-channel').click()
    await page.locator('#test-to').fill('member@example.com')
    const t = await apiCall(page, 'POST', `/api/v1/channels/${l.body.id}/test`, () => page.getByTestId('send-test').click())
    assert.equal(t.status, 200, JSON.stringify(t.body))
    assert.equal(t.body.outcome, 'sent')
    const outcome = page.getByTestId('test-outcome')
    await outcome.waitFor()
    assert.equal(await outcome.getAttribute('data-outcome'), 'sent')
    assert.match(await text(outcome), /^Sent: the provider accepted the message/)
    await screenshot(page, 'en-messaging-channels-test')
  })

  test('settings: "points expiring soon" days before is refused out of range next to the field, kept after a reload', async () => {
    const { page } = owner
    await page.goto('/messaging/channels')
    const field = page.locator('[data-testid=messaging-settings] .field[data-field="transactional.points_expiring.days_before"]')
    const input = page.getByTestId('days-before')
    await input.waitFor()
    assert.equal(await input.inputValue(), '7') // the server's default
    // Out of range: the server's message is shown next to the field, and nothing is kept.
    await input.fill('61')
    const bad = await apiCall(page, 'PATCH', '/api/v1/messaging/settings', () => page.getByTestId('save-settings').click())
    assert.equal(bad.status, 400, JSON.stringify(bad.body))
    assert.equal(bad.body.error.field, 'transactional.points_expiring.days_before')
    assert.equal(JSON.parse(bad.request.postData()).transactional.points_expiring.days_before, 61)
    await field.locator('.field-error').waitFor()
    assert.equal(await text(field.locator('.field-error')), 'transactional.points_expiring.days_before: must be 1 to 60')
    assert.equal(await field.getAttribute('class'), 'field invalid')
    await screenshot(page, 'en-messaging-settings-days-before-error')
    // In range, with the message switched on: kept.
    await input.fill('14')
    await page.locator('[data-testid=transactional-row][data-kind=points_expiring] input[type=checkbox]').check()
    const ok = await apiCall(page, 'PATCH', '/api/v1/messaging/settings', () => page.getByTestId('save-settings').click())
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.deepEqual(ok.body.transactional.points_expiring, { enabled: true, template_id: null, days_before: 14 })
    await page.getByTestId('settings-saved').waitFor()
    assert.equal(await field.locator('.field-error').count(), 0)
    await page.reload()
    await input.waitFor()
    assert.equal(await input.inputValue(), '14')
    assert.equal(await page.locator('[data-testid=transactional-row][data-kind=points_expiring] input[type=checkbox]').isChecked(), true)
    assert.equal(await text(field.locator('.field-label')), 'Days before the points expire')
    await screenshot(page, 'en-messaging-settings-days-before')
  })

  test('templates: an SMS in Chinese counts 71 characters as 2 parts; the preview renders a chosen member', async () => {
    const { page } = owner
    const phone = randomPhone()
    const m = await json(await post(page, '/api/v1/members', { phone, name: `E2E 王小明 ${uid()}`, language: 'zh-TW', email: `e2e-${uid()}@example.com`, consent: { email: true, sms: true } }))
    shared.member = m
    await page.getByTestId('subnav-messaging-templates').click()
    await page.waitForURL('**/messaging/templates')
    await page.getByTestId('new-template').click()
    await page.locator('#tm-name').fill('E2E 簡訊')
    await page.locator('#tm-medium').selectOption('sms')
    await page.locator('#tm-category').selectOption('transactional')
    const pv = await apiCall(page, 'POST', '/api/v1/templates/preview', () => page.locator('#tm-text').fill(SMS_71))
    assert.equal(pv.status, 200, JSON.stringify(pv.body))
    await page.waitForFunction(() => document.querySelector('[data-testid=sms-counter]')?.getAttribute('data-parts') === '2')
    const counter = page.getByTestId('sms-counter')
    assert.equal(await counter.getAttribute('data-chars'), '71')
    assert.match(await text(counter), /^71 characters · 2 SMS · Unicode \(UCS-2\)/)
    // One character fewer fits one part.
    await page.locator('#tm-text').fill(SMS_71.slice(0, 70))
    await page.waitForFunction(() => document.querySelector('[data-testid=sms-counter]')?.getAttribute('data-parts') === '1')

    // A variable, previewed for the chosen member.
    await page.locator('#tm-text').fill('{{member.name}} 您好，歡迎光臨 {{merchant.name}}')
    await page.locator('#pv-member').fill(m.name)
    await page.getByTestId('member-hit').first().click()
    await page.waitForFunction((name) => document.querySelector('[data-testid=preview-text]')?.textContent?.includes(name), m.name)
    assert.equal(await text(page.getByTestId('preview-text')), `${m.name} 您好，歡迎光臨 Demo Tea 示範茶飲`)
    // An English variant too.
    await page.getByTestId('lang-tab-en').click()
    await page.getByTestId('variant-on').check()
    await page.locator('#tm-text').fill('Hello {{member.name}}, welcome to {{merchant.name}}')
    await page.waitForFunction(() => document.querySelector('[data-testid=preview-body]')?.getAttribute('data-lang') === 'en' && document.querySelector('[data-testid=preview-text]')?.textContent?.startsWith('Hello '))
    assert.equal(await text(page.getByTestId('preview-text')), `Hello ${m.name}, welcome to Demo Tea 示範茶飲`)
    await screenshot(page, 'en-messaging-template-preview')
    const s = await apiCall(page, 'POST', '/api/v1/templates', () => page.getByTestId('save-template').click())
    assert.equal(s.status, 201, JSON.stringify(s.body))
    assert.deepEqual(Object.keys(s.body.variants).sort(), ['en', 'zh-TW'])
    assert.equal(s.body.category, 'transactional')
    await page.locator('[data-testid=template-row]', { hasText: 'E2E 簡訊' }).waitFor()
  })

  test('log: a transactional e-mail to the member shows with its status, filtered; and on the member timeline', async () => {
    const { page } = owner
    const tm = await json(await post(page, '/api/v1/templates', {
      name: 'E2E 收據',
      medium: 'email',
      category: 'transactional',
      variants: { 'zh-TW': { subject: '{{merchant.name}} 收據', text: '{{member.name}} 您好', html: '' } },
    }))
    const r = await post(page, '/api/v1/messages', { member_id: shared.member.id, template_id: tm.id, channel_id: shared.logChannel.id, dedup_key: `e2e-${uid()}` })
    assert.equal(r.status(), 201, await r.text())
    const msg = await json(r)
    await page.getByTestId('subnav-messaging-log').click()
    await page.waitForURL('**/messaging/log')
    const row = page.locator('[data-testid=message-row]', { hasText: shared.member.name })
    await row.first().waitFor()
    assert.equal(await text(row.first().getByTestId('message-template')), 'E2E 收據 · E-mail · Transactional')
    const status = await row.first().getAttribute('data-status')
    assert.ok(['queued', 'sending', 'sent', 'delivered'].includes(status), status)
    // Filtered by a status the message does not have: not listed.
    const f = await apiCall(page, 'GET', '/api/v1/messages', () => page.getByTestId('status-filter').selectOption('suppressed'))
    assert.equal(f.status, 200)
    assert.ok(f.body.data.every((x) => x.status === 'suppressed'))
    assert.ok(!f.body.data.some((x) => x.id === msg.id))
    await page.getByTestId('status-filter').selectOption('')
    await row.first().waitFor()
    await screenshot(page, 'en-messaging-log')

    await page.goto(`/members/${shared.member.id}`)
    const entry = page.locator('[data-testid=timeline-entry][data-type=message_queued]')
    await entry.first().waitFor()
    assert.equal(await text(entry.first().locator('.timeline-type')), 'Message queued')
  })
})

const TEXT = {
  en: { channels: 'Channels', templates: 'Templates', log: 'Message log', nav: 'Messaging', daysBefore: 'Days before the points expire' },
  'zh-TW': { channels: '傳送管道', templates: '訊息範本', log: '訊息紀錄', nav: '訊息', daysBefore: '到期前幾天通知' },
  'zh-CN': { channels: '发送渠道', templates: '消息模板', log: '消息记录', nav: '消息', daysBefore: '到期前几天通知' },
}

describe('messaging pages in every language', () => {
  for (const lang of Object.keys(TEXT)) {
    test(`${lang}: channels, templates and the log`, async () => {
      const { context, page, errors } = await newPage(env, { lang })
      try {
        await login(page, OWNER)
        assert.equal(await text(page.getByTestId('nav-messaging')), TEXT[lang].nav)
        for (const [name, path] of [['channels', '/messaging/channels'], ['templates', '/messaging/templates'], ['log', '/messaging/log']]) {
          await page.goto(path)
          await page.locator('h1').waitFor()
          assert.equal(await text(page.locator('h1')), TEXT[lang][name])
          await page.waitForFunction(() => !document.querySelector('.table-loading'))
          if (name === 'channels')
            assert.equal(await text(page.locator('.field[data-field="transactional.points_expiring.days_before"] .field-label')), TEXT[lang].daysBefore)
          await screenshot(page, `${lang}-messaging-${name}`)
        }
        await page.goto('/messaging/templates')
        await page.getByTestId('new-template').click()
        await page.locator('#tm-name').fill(`E2E ${lang}`)
        await page.locator('#tm-medium').selectOption('sms')
        await page.locator('#tm-text').fill(SMS_71)
        await page.waitForFunction(() => document.querySelector('[data-testid=sms-counter]')?.getAttribute('data-parts') === '2')
        await screenshot(page, `${lang}-messaging-template-sms`)
        assert.deepEqual(errors, [])
      } finally {
        await context.close()
      }
    })
  }
})
