import { computed, reactive } from 'vue'
import { api, ApiError, setCsrfToken, type Merchant, type Session, type Staff } from './api'

interface SessionState {
  staff: Staff | null
  merchant: Merchant | null
  /** True once we asked the server whether a session exists. */
  checked: boolean
}

export const session = reactive<SessionState>({ staff: null, merchant: null, checked: false })

export const isOwner = computed(() => session.staff?.role === 'owner')

/** Owners and managers configure the loyalty program and adjust balances. */
export const isManager = computed(() => session.staff?.role === 'owner' || session.staff?.role === 'manager')

function apply(s: Session | null): void {
  session.staff = s?.staff ?? null
  session.merchant = s?.merchant ?? null
  setCsrfToken(s?.csrf_token ?? null)
  session.checked = true
}

/** Asks the server for the current session once; answers whether someone is logged in. */
export async function ensureSession(): Promise<boolean> {
  if (session.checked) return session.staff !== null
  try {
    apply(await api.me())
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) apply(null)
    else {
      // Server unreachable: treat as logged out but allow a retry on next navigation.
      apply(null)
      session.checked = false
    }
  }
  return session.staff !== null
}

export async function login(email: string, password: string): Promise<void> {
  apply(await api.login(email, password))
}

export async function logout(): Promise<void> {
  try {
    await api.logout()
  } finally {
    apply(null)
  }
}

export function clearSession(): void {
  apply(null)
}

/** The branch the console records actions at: the staff's first branch, if limited to branches. */
export function actingBranchId(): string | undefined {
  return session.staff?.branch_ids?.[0] ?? undefined
}
