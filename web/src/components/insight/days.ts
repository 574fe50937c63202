// Days in the merchant's time zone for the dashboard's date filters: the local day of an
// instant, and the instant a local day starts (what the reports' from/to take).
import { session } from '../../session'

const zone = () => session.merchant?.timezone || undefined

/** The merchant's calendar day of an instant, YYYY-MM-DD. */
export function dayOf(ms: number): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: zone(), year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(ms))
  } catch {
    return new Date(ms).toISOString().slice(0, 10)
  }
}

/** Milliseconds the merchant's zone is ahead of UTC at an instant. */
function offsetAt(ms: number): number {
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone(), hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(ms))
    const v = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0)
    return Date.UTC(v('year'), v('month') - 1, v('day'), v('hour'), v('minute'), v('second')) - Math.floor(ms / 1000) * 1000
  } catch {
    return 0
  }
}

/** The instant (RFC 3339) a merchant-local day starts, `plusDays` later; null if not a day. */
export function startOfDay(d: string, plusDays = 0): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d)
  if (!m) return null
  const guess = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plusDays)
  let t0 = guess - offsetAt(guess)
  t0 = guess - offsetAt(t0) // once more, next to a clock change
  return new Date(t0).toISOString()
}
