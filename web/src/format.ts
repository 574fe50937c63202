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
