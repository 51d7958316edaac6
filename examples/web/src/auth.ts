// The session: who is signed in, and the access token that proves it.
//
// - The access token lives in this module's memory only (never localStorage),
//   so a reload forgets it; the refresh token is in an HttpOnly cookie that no
//   script can read (`delivery: REFRESH_COOKIE`).
// - On page load, and whenever the access token expires or the API answers
//   UNAUTHENTICATED, `refresh()` turns the cookie into a new access token with
//   `refreshSession`.
// - A refresh token works once, and presenting a used one ends the whole
//   session. So refreshes are single-flight: one promise per tab, and one
//   refresh at a time across all tabs of this origin (a Web Lock). A tab that
//   refreshes tells the others (BroadcastChannel), so a tab that was waiting
//   for the lock usually takes the fresh token instead of refreshing again.
//   Correctness rests on the lock alone: a tab that refreshes after another one
//   sends the newer cookie, never the used one.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { DocumentNode } from 'graphql';
import { stringifyDocument } from '@urql/core';

import { API_URL } from './config';
import type { Role } from './gql/graphql';
import {
  LoginDoc,
  LogoutDoc,
  RefreshSessionDoc,
  RequestEmailVerificationDoc,
  RequestPasswordResetDoc,
  ResetPasswordDoc,
  SignupDoc,
  VerifyEmailDoc,
} from './operations';

export interface SessionUser {
  id: string;
  name: string;
  email: string | null;
  role: Role;
  emailVerified?: boolean | null;
}

export type AuthState =
  | { status: 'loading'; user: null }
  | { status: 'signedOut'; user: null; /** Set when the server ended the session. */ ended?: boolean }
  | { status: 'signedIn'; user: SessionUser };

interface Token {
  value: string;
  /** When the server says it expires (ms since the epoch). */
  expiresAt: number;
  /** Refresh this long before expiresAt (a fifth of its life, 30 s at most). */
  margin: number;
}

interface AuthPayloadLike {
  accessToken: string;
  expiresAt: string;
  user: SessionUser;
}

type Message =
  | { type: 'session'; accessToken: string; expiresAt: string; user: SessionUser }
  | { type: 'signedOut'; ended: boolean };

const LOCK_NAME = 'coursehub-refresh';
const CHANNEL_NAME = 'coursehub-auth';

let token: Token | null = null;
let state: AuthState = { status: 'loading', user: null };
/** Bumped whenever the token changes, here or from another tab. */
let generation = 0;
let inflight: Promise<boolean> | null = null;
const listeners = new Set<() => void>();
const tokenListeners = new Set<() => void>();

const channel: BroadcastChannel | null =
  typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(CHANNEL_NAME);

channel?.addEventListener('message', (event: MessageEvent<Message>) => {
  const msg = event.data;
  if (msg.type === 'session') {
    // Messages can cross: keep the later of two tokens of the same user.
    const older = token !== null && state.user?.id === msg.user.id && Date.parse(msg.expiresAt) < token.expiresAt;
    if (!older) adopt(msg, false);
  } else if (msg.type === 'signedOut' && state.status !== 'signedOut') {
    clear(false, msg.ended);
  }
});

// ---------------------------------------------------------------------------
// Reading the state (React reads it with useSyncExternalStore).

export function getAuthState(): AuthState {
  return state;
}

export function subscribeAuth(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Called whenever the access token changes (sign-in, refresh, sign-out). */
export function onTokenChange(listener: () => void): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

export function getAccessToken(): string | null {
  return token?.value ?? null;
}

/** True when there is a token and it expires within its margin. */
export function tokenExpiringSoon(now = Date.now()): boolean {
  return token !== null && now >= token.expiresAt - token.margin;
}

// ---------------------------------------------------------------------------
// Talking to the API. These few mutations go through plain fetch rather than
// urql: the auth exchange waits for them, so they must not wait for it.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface GraphQLErrorLike {
  message: string;
  extensions?: { code?: string; field?: string };
}

function operationName(doc: DocumentNode): string | undefined {
  for (const d of doc.definitions) {
    if (d.kind === 'OperationDefinition' && d.name) return d.name.value;
  }
  return undefined;
}

async function post<R, V>(
  doc: TypedDocumentNode<R, V>,
  variables: V,
  accessToken?: string | null,
): Promise<R> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    Accept: 'application/graphql-response+json, application/json',
  };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  let res: Response;
  try {
    res = await fetch(API_URL, {
      method: 'POST',
      credentials: 'include', // send and accept the refresh cookie
      headers,
      body: JSON.stringify({ query: stringifyDocument(doc), operationName: operationName(doc), variables }),
    });
  } catch {
    throw new ApiError('The API cannot be reached.', 'NETWORK_ERROR');
  }
  let body: { data?: R | null; errors?: GraphQLErrorLike[] };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new ApiError(`The API answered ${res.status}.`, 'NETWORK_ERROR');
  }
  const err = body.errors?.[0];
  if (err) {
    throw new ApiError(err.message, err.extensions?.code ?? 'UNKNOWN', err.extensions?.field);
  }
  if (!body.data) throw new ApiError('The API answered without data.', 'UNKNOWN');
  return body.data;
}

// ---------------------------------------------------------------------------
// Changing the state.

function notify(tokenChanged: boolean) {
  if (tokenChanged) {
    generation++;
    for (const l of tokenListeners) l();
  }
  for (const l of listeners) l();
}

function adopt(p: AuthPayloadLike, broadcast: boolean) {
  const expiresAt = Date.parse(p.expiresAt);
  const life = Math.max(0, expiresAt - Date.now());
  token = { value: p.accessToken, expiresAt, margin: Math.min(30_000, life / 5) };
  state = { status: 'signedIn', user: p.user };
  if (broadcast) {
    channel?.postMessage({
      type: 'session',
      accessToken: p.accessToken,
      expiresAt: p.expiresAt,
      user: p.user,
    } satisfies Message);
  }
  notify(true);
}

function clear(broadcast: boolean, ended = false) {
  const hadToken = token !== null;
  token = null;
  state = ended ? { status: 'signedOut', user: null, ended } : { status: 'signedOut', user: null };
  if (broadcast) channel?.postMessage({ type: 'signedOut', ended } satisfies Message);
  notify(hadToken);
}

/** Runs fn while holding the cross-tab refresh lock (where Web Locks exist). */
function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  if (typeof navigator !== 'undefined' && navigator.locks) {
    return navigator.locks.request(LOCK_NAME, { mode: 'exclusive' }, fn) as Promise<T>;
  }
  return fn();
}

/**
 * Gets a new access token from the refresh cookie. Resolves true when signed
 * in afterwards, false when the session is gone (no cookie, ended, reused).
 * Concurrent calls in a tab share one promise; tabs take turns (Web Lock).
 */
export function refresh(): Promise<boolean> {
  inflight ??= refreshOnce().finally(() => {
    inflight = null;
  });
  return inflight;
}

async function refreshOnce(): Promise<boolean> {
  const seen = generation;
  return withRefreshLock(async () => {
    // Another tab refreshed (or signed in) while this one waited: use that.
    if (generation !== seen && token !== null && !tokenExpiringSoon()) return true;
    try {
      const data = await post(RefreshSessionDoc, {});
      adopt(data.refreshSession, true);
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') {
        // Tell the other tabs only when a session really ended here (logged
        // out elsewhere, revoked, expired, or a refresh token replayed); a
        // page that loads without a cookie has nothing to announce.
        const hadSession = token !== null;
        clear(hadSession, hadSession);
        return false;
      }
      // Network trouble or RATE_LIMITED: keep what we have; a later call retries.
      if (state.status === 'loading') clear(false);
      throw e;
    }
  });
}

/** On page load: restore the session from the refresh cookie, if any. */
export async function restoreSession(): Promise<void> {
  try {
    await refresh();
  } catch {
    // Already signed out by refreshOnce; the UI shows the sign-in form.
  }
}

export async function signup(input: { email: string; password: string; name: string }) {
  const data = await withRefreshLock(() => post(SignupDoc, { input }));
  adopt(data.signup, true);
}

export async function login(input: { email: string; password: string }) {
  const data = await withRefreshLock(() => post(LoginDoc, { input }));
  adopt(data.login, true);
}

/** Asks for a reset link; the answer is the same whether or not the address has an account. */
export async function requestPasswordReset(email: string): Promise<void> {
  await post(RequestPasswordResetDoc, { email });
}

/** Sets a new password with a mailed token; signs in with the new session it returns. */
export async function resetPassword(token: string, newPassword: string): Promise<void> {
  const data = await withRefreshLock(() => post(ResetPasswordDoc, { token, newPassword }));
  adopt(data.resetPassword, true);
}

/** Mails the signed-in user a link that verifies their address. */
export async function requestEmailVerification(): Promise<void> {
  if (tokenExpiringSoon()) await refresh();
  await post(RequestEmailVerificationDoc, {}, getAccessToken());
}

/** Uses a mailed verification link; a signed-in user's state is then re-read. */
export async function verifyEmail(token: string): Promise<void> {
  await post(VerifyEmailDoc, { token });
  if (state.status === 'signedIn') await refresh();
}

/** Ends the session on the server (which clears the cookie), then here and in every tab. */
export async function logout(): Promise<void> {
  if (tokenExpiringSoon()) {
    try {
      await refresh();
    } catch {
      // fall through: the logout below fails and we sign out locally anyway
    }
  }
  try {
    await withRefreshLock(() => post(LogoutDoc, {}, getAccessToken()));
  } catch (e) {
    // UNAUTHENTICATED: the session had ended already. Anything else: we still
    // forget the token here; the cookie may survive until it expires.
    if (!(e instanceof ApiError && e.code === 'UNAUTHENTICATED')) console.warn('logout:', e);
  }
  clear(true);
}
