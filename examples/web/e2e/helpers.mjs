// Shared by the browser tests: the browser, screenshots, and a small API
// client for setting up data. scripts/browser-test.sh starts the servers and
// passes their addresses in the environment.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

import { chromium } from 'playwright-core';

export const APP_URL = process.env.APP_URL ?? 'http://127.0.0.1:5173';
export const API_URL = process.env.API_URL ?? 'http://127.0.0.1:8080/graphql';
export const IDE_URL = process.env.IDE_URL ?? new URL('/', API_URL).href;
export const ADMIN_EMAIL = process.env.ADMIN_EMAIL ?? 'admin@example.com';
export const ADMIN_PASSWORD = process.env.ADMIN_PASSWORD ?? 'admin-password-1';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

const here = dirname(fileURLToPath(import.meta.url));
export const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? join(here, 'screenshots');

/**
 * Debian's Chromium, headless. launch() gives every browser a fresh, empty
 * profile (a new --user-data-dir that Playwright makes and removes), and
 * every newContext() is isolated from the others (own cookies, storage).
 * The networking flags stop Chromium calling home on this closed network.
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 30_000,
  });
}

const pageErrors = [];

/** Fails when a page threw an uncaught error or rejection since the last call. */
export function assertNoPageErrors() {
  const errors = pageErrors.splice(0);
  if (errors.length) throw new Error(`uncaught errors in the page: ${errors.join('; ')}`);
}

/** A page whose browser-side errors are printed (and kept for assertNoPageErrors), with sane timeouts. */
export async function newPage(context, label) {
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.setDefaultNavigationTimeout(20_000);
  page.on('pageerror', (err) => {
    console.error(`[${label}] page error: ${err.message}`);
    pageErrors.push(`[${label}] ${err.message}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) console.error(`[${label}] ${res.status()} ${res.request().method()} ${res.url()}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      console.error(`[${label}] console.${msg.type()}: ${msg.text()}`);
    }
  });
  return page;
}

/**
 * Screenshots are numbered per test file: e2e/screenshots/<file>-<nn>-<step>.png.
 */
export function screenshotter(prefix) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  let n = 0;
  return async (page, step) => {
    n++;
    const file = join(SCREENSHOT_DIR, `${prefix}-${String(n).padStart(2, '0')}-${step}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };
}

export function unique(label) {
  return `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** POSTs a GraphQL operation (no cookies: header tokens, for test setup). */
export async function gql(query, variables = {}, token, api = API_URL) {
  const res = await fetch(api, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...(token && { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.json();
  if (body.errors?.length) {
    const e = body.errors[0];
    throw new Error(`${e.extensions?.code ?? 'ERROR'}: ${e.message}`);
  }
  return body.data;
}

export async function adminToken(api = API_URL) {
  return apiLogin({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }, api);
}

/** Creates a published course through the API, as the admin. */
export async function createPublishedCourse(title, price = 2500, api = API_URL) {
  const token = await adminToken(api);
  const { createCourse } = await gql(
    'mutation($in: CreateCourseInput!) { createCourse(input: $in) { id title price published } }',
    { in: { title, description: `A course made by the browser tests (${title}).`, price, published: true } },
    token,
    api,
  );
  return createCourse;
}

/** Creates a user through the API; returns the credentials. */
export async function createUser(label = 'user', api = API_URL) {
  const email = `${unique(label)}@example.com`;
  const password = 'correct horse battery';
  const name = `${label[0].toUpperCase()}${label.slice(1)} ${randomBytes(2).toString('hex')}`;
  const { signup } = await gql(
    'mutation($in: SignupInput!) { signup(input: $in) { user { id } } }',
    { in: { email, password, name } },
    undefined,
    api,
  );
  return { id: signup.user.id, email, password, name };
}

/**
 * Creates a user and makes them an instructor: the admin (ADMIN_EMAIL and
 * ADMIN_PASSWORD, the first admin of the test server) calls setRole. Log in
 * afterwards: the role is in the tokens issued from then on.
 */
export async function createInstructor(label = 'teacher', api = API_URL) {
  const user = await createUser(label, api);
  const { setRole } = await gql(
    'mutation($id: ID!) { setRole(userId: $id, role: INSTRUCTOR) { id role } }',
    { id: user.id },
    await adminToken(api),
    api,
  );
  if (setRole.role !== 'INSTRUCTOR') throw new Error(`setRole gave ${setRole.role}`);
  return user;
}

/**
 * Creates a course with lessons through the API, as whoever `token` is (an
 * instructor owns what they create). lessons: LessonInput objects, in order.
 */
export async function createCourseWithLessons(token, { title, price = 1500, published = true, lessons = [] }, api = API_URL) {
  const { createCourse } = await gql(
    'mutation($in: CreateCourseInput!) { createCourse(input: $in) { id title price published } }',
    { in: { title, description: `Lessons made by the browser tests (${title}).`, price, published } },
    token,
    api,
  );
  const made = [];
  for (const input of lessons) {
    const { addLesson } = await gql(
      'mutation($c: ID!, $in: LessonInput!) { addLesson(courseId: $c, input: $in) { id title position preview } }',
      { c: createCourse.id, in: input },
      token,
      api,
    );
    made.push(addLesson);
  }
  return { ...createCourse, lessons: made };
}

/** The error code a GraphQL call fails with (fails itself when the call succeeds). */
export async function errorCode(query, variables, token, api = API_URL) {
  try {
    await gql(query, variables, token, api);
  } catch (err) {
    return String(err.message).split(':')[0];
  }
  throw new Error('the call succeeded');
}

/** Logs in through the API (header tokens): a second session of the user. */
export async function apiLogin({ email, password }, api = API_URL) {
  const { login } = await gql(
    'mutation($in: LoginInput!) { login(input: $in) { accessToken } }',
    { in: { email, password } },
    undefined,
    api,
  );
  return login.accessToken;
}

/** Logs in through the UI. */
export async function uiLogin(page, { email, password }) {
  await page.getByTestId('nav-login').click();
  await page.getByTestId('email-input').fill(email);
  await page.getByTestId('password-input').fill(password);
  await page.getByTestId('auth-submit').click();
  await page.getByTestId('current-user').waitFor();
}

/**
 * Resolves once the page has a graphql-transport-ws socket that was
 * acknowledged and has sent a subscribe for operationName. Call before the
 * navigation that opens it.
 */
export function subscribed(page, operationName, timeout = 15_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no acknowledged ${operationName} subscription within ${timeout} ms`)),
      timeout,
    );
    page.on('websocket', (ws) => {
      let acked = false;
      ws.on('framereceived', ({ payload }) => {
        if (String(payload).includes('"connection_ack"')) acked = true;
      });
      ws.on('framesent', ({ payload }) => {
        const text = String(payload);
        if (acked && text.includes('"subscribe"') && text.includes(operationName)) {
          clearTimeout(timer);
          resolve(ws);
        }
      });
    });
  });
}

/** Where the API writes its mails (no SMTP_URL): scripts/browser-test.sh sets it. */
export const OUTBOX_DIR = process.env.OUTBOX_DIR ?? '';

/** Decodes a quoted-printable body (soft line breaks and =XX escapes). */
function decodeQP(s) {
  return s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * Waits for the n-th mail to `to` in the API's outbox and returns the link
 * it carries to `path` of the app (e.g. '/reset-password').
 */
export async function mailLink(to, path, n = 1, timeout = 15_000) {
  if (!OUTBOX_DIR) throw new Error('OUTBOX_DIR is not set');
  const { readdir, readFile } = await import('node:fs/promises');
  const deadline = Date.now() + timeout;
  for (;;) {
    let files = [];
    try {
      files = (await readdir(OUTBOX_DIR)).filter((f) => f.endsWith('.eml')).sort();
    } catch {
      // not created yet
    }
    const mails = [];
    for (const f of files) {
      // Only a quoted-printable mail is decoded: the outbox writes 8bit, and
      // decoding that turns a token that starts with two hex digits ("=AB…")
      // into another character (1 mail in 16 had "no link").
      const raw = await readFile(join(OUTBOX_DIR, f), 'utf8');
      const text = /^Content-Transfer-Encoding:\s*quoted-printable/im.test(raw) ? decodeQP(raw) : raw;
      if (new RegExp(`^To: <?${to.replace(/[.+]/g, '\\$&')}>?`, 'mi').test(text)) mails.push(text);
    }
    // The outbox creates a file and then writes it, so a mail can be read
    // half written (headers, no link yet): read it again until the deadline.
    const m = mails.length >= n ? mails[n - 1].match(/(https?:\/\/[^\s"<>]+?)\?token=([A-Za-z0-9_-]{43})/) : null;
    if (m) {
      const url = new URL(m[1]);
      if (url.pathname !== path) throw new Error(`the mail links to ${url.pathname}, want ${path}`);
      return `${m[1]}?token=${m[2]}`;
    }
    if (Date.now() > deadline) {
      if (mails.length >= n) throw new Error(`no link in the mail to ${to}`);
      throw new Error(`${n} mail(s) to ${to} did not arrive in ${timeout} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
