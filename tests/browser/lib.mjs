// Shared set-up of the browser tests (not a test file itself): the server and admin from
// the environment that tests/browser/run sets, one headless Debian Chromium per test
// file, and a small JSON API caller.
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';

export const BASE = process.env.CITYOS_URL;
export const USER = process.env.CITYOS_ADMIN_USER;
export const PASSWORD = process.env.CITYOS_ADMIN_PASSWORD;
export const SHOTS = process.env.CITYOS_SCREENSHOT_DIR || '/tmp';
export const SKIP = BASE && USER && PASSWORD ? false : 'needs CITYOS_URL, CITYOS_ADMIN_USER and CITYOS_ADMIN_PASSWORD';

/** The file's browser (a live binding: set by the hooks setupBrowser registers). */
export let browser;

/** Launches Chromium before the file's tests and closes it after them. */
export function setupBrowser() {
  before(async () => {
    if (SKIP) return;
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });
  after(async () => {
    if (browser) await browser.close();
  });
}

/** A JSON API call as `token` (or anonymous): { status, json }. */
export async function call(method, p, token, body, headers = {}) {
  const res = await fetch(new URL(p, BASE), {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json().catch(() => null);
  return { status: res.status, json };
}

/** The RFC 6238 code (6 digits, 30 s, SHA-1) of a base32 secret, as an authenticator app shows it. */
export function totp(secretB32, t = Date.now() / 1000) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secretB32.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
  const mac = crypto.createHmac('sha1', key).update(msg).digest();
  const off = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, '0');
}
