/**
 * Debian's headless Chromium for page tests, driven by playwright-core (nothing downloaded:
 * `executablePath` is the system binary; CHROMIUM overrides it). Tests skip with one line
 * when it is absent.
 */
import { access } from 'node:fs/promises'
import type { Browser } from 'playwright-core'

export function chromiumPath(): string {
  return process.env.CHROMIUM ?? '/usr/bin/chromium'
}

export async function hasChromium(): Promise<boolean> {
  try {
    await access(chromiumPath())
    return true
  } catch {
    return false
  }
}

/** A headless browser; bounded by `timeoutMs` to start. Close it in afterAll. */
export async function launchChromium(timeoutMs = 60_000): Promise<Browser> {
  const { chromium } = await import('playwright-core')
  // Debian's build runs fine without a sandbox user namespace only with --no-sandbox (containers).
  return chromium.launch({ executablePath: chromiumPath(), headless: true, timeout: timeoutMs, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
}
