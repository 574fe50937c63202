import { currentLocale } from './i18n'
import { session } from './session'

function tz(): string | undefined {
  return session.merchant?.timezone || undefined
}

function safe(fn: () => string, fallback: string): string {
  try {
    return fn()
  } catch {
    return fallback
  }
}

/** A date and time in the merchant's time zone, in the console's language. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return safe(
    () => new Intl.DateTimeFormat(currentLocale(), { dateStyle: 'medium', timeStyle: 'short', timeZone: tz() }).format(d),
    d.toISOString(),
  )
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  return safe(() => new Intl.DateTimeFormat(currentLocale(), { dateStyle: 'medium', timeZone: tz() }).format(d), iso)
}

/** Birthdays are "YYYY-MM-DD" or "--MM-DD" (year unknown); shown without conversion. */
export function formatBirthday(b: string | null | undefined): string {
  if (!b) return '—'
  const m = /^(\d{4}|-)-?(\d{2})-(\d{2})$/.exec(b)
  if (!m) return b
  const [, y, mo, da] = m
  const hasYear = y !== '-'
  const d = new Date(Date.UTC(hasYear ? Number(y) : 2000, Number(mo) - 1, Number(da)))
  return safe(
    () =>
      new Intl.DateTimeFormat(currentLocale(), {
        year: hasYear ? 'numeric' : undefined,
        month: 'long',
        day: 'numeric',
        timeZone: 'UTC',
      }).format(d),
    b,
  )
}

const ZERO_DECIMAL = new Set(['JPY', 'KRW', 'VND', 'CLP', 'ISK', 'UGX'])
const PREFIX: Record<string, string> = { TWD: 'NT$', USD: 'US$', HKD: 'HK$', CNY: '¥', JPY: '¥', EUR: '€', GBP: '£', SGD: 'S$', MOP: 'MOP$' }

export function currency(): string {
  return session.merchant?.currency || 'TWD'
}

/** Minor units per major unit of the merchant's currency (100 for TWD). */
export function minorPerMajor(cur = currency()): number {
  return ZERO_DECIMAL.has(cur) ? 1 : 100
}

/** An integer amount in minor units as money: 6000 → "NT$60", 6050 → "NT$60.50". */
export function formatMoney(minor: number | null | undefined, cur = currency()): string {
  if (minor === null || minor === undefined || !Number.isFinite(minor)) return '—'
  const per = minorPerMajor(cur)
  const neg = minor < 0
  const abs = Math.abs(minor)
  const whole = Math.floor(abs / per)
  const frac = abs % per
  const digits = per === 1 ? 0 : 2
  const body = safe(
    () =>
      new Intl.NumberFormat(currentLocale(), { minimumFractionDigits: frac ? digits : 0, maximumFractionDigits: digits }).format(
        whole + frac / per,
      ),
    String(whole + frac / per),
  )
  return `${neg ? '−' : ''}${PREFIX[cur] ?? cur + ' '}${body}`
}

/** A signed money amount: "+NT$60" / "−NT$5". */
export function formatMoneySigned(minor: number, cur = currency()): string {
  return (minor > 0 ? '+' : '') + formatMoney(minor, cur)
}

/** The symbol written before amounts in inputs ("NT$"). */
export function currencyPrefix(cur = currency()): string {
  return PREFIX[cur] ?? cur
}

/** Parses what a cashier typed ("60", "1,200", "60.5") into minor units; null when not an amount. */
export function parseMoney(text: string | null | undefined, cur = currency()): number | null {
  const s = String(text ?? '')
    .trim()
    .replace(/[,\s，]/g, '')
    .replace(/^NT\$|^\$/i, '')
  if (!s) return null
  const per = minorPerMajor(cur)
  const re = per === 1 ? /^\d{1,12}$/ : /^\d{0,12}(\.\d{0,2})?$/
  if (!re.test(s) || s === '.') return null
  const [w, f = ''] = s.split('.')
  return Number(w || '0') * per + (per === 1 ? 0 : Number((f + '00').slice(0, 2)))
}

/** Minor units back to what an input shows ("60", "60.5"). */
export function moneyInput(minor: number | null | undefined, cur = currency()): string {
  if (minor === null || minor === undefined) return ''
  const per = minorPerMajor(cur)
  const whole = Math.trunc(minor / per)
  const frac = Math.abs(minor % per)
  return frac ? `${whole}.${String(frac).padStart(2, '0').replace(/0$/, '')}` : String(whole)
}

/** A whole number in the console's language ("1,234"). */
export function formatNumber(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—'
  return safe(() => new Intl.NumberFormat(currentLocale()).format(n), String(n))
}

/** Hides the middle digits of a phone: "0912 345 678" → "0912 ••• 678". */
export function maskPhone(display: string | null | undefined): string {
  if (!display) return '—'
  const total = (display.match(/\d/g) ?? []).length
  if (total < 7) return display
  let i = 0
  return display.replace(/\d/g, (d) => {
    i++
    return i > 4 && i <= total - 3 ? '•' : d
  })
}
