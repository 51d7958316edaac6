// The urql client: document cache, auth, fetch, and subscriptions over
// graphql-ws (graphql-transport-ws) on the same /graphql path.
import { authExchange } from '@urql/exchange-auth';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from 'urql';

import { getAccessToken, getAuthState, onTokenChange, refresh, tokenExpiringSoon } from './auth';
import { API_URL, WS_URL } from './config';

// --- WebSocket ---------------------------------------------------------------
//
// A socket authenticates once, at connection_init, and the server closes it
// when that access token expires, with 4419: graphql-ws retries that code by
// itself, calls connectionParams again, and re-subscribes every subscription
// on the new socket. So connectionParams is lazy: it refreshes a token that
// has expired or is about to (single flight, shared by the tabs) and hands the
// fresh one over. A refresh does not touch the socket.
//
// The socket is replaced (and the listeners, which watch wsEpoch,
// re-subscribe) only when the user changes: sign-in, sign-out. 4401 means the
// session is over or the token was refused; graphql-ws does not retry it. We
// refresh: if the session is over, that signs out (a new, anonymous socket);
// if not (say the server's signing keys changed), the socket is replaced with
// the new token.

let ws: WsClient | null = null;
let wsEpoch = 0;
let wsUser: string | null = getAuthState().user?.id ?? null;
const wsListeners = new Set<() => void>();

function newWsClient(): WsClient {
  return createWsClient({
    url: WS_URL,
    lazy: true,
    retryAttempts: 5,
    // graphql-ws waits 1.3 to 4 s before its first retry; events published
    // meanwhile are missed. The first retry after a close (4419 every token
    // lifetime, mostly) goes after a short jitter instead; later ones back
    // off as graphql-ws does (2^n s plus up to 3 s).
    retryWait: (retries) =>
      new Promise((resolve) =>
        setTimeout(resolve, retries === 0 ? 100 + Math.random() * 400 : 2 ** retries * 1000 + Math.random() * 3000),
      ),
    connectionParams: async () => {
      if (getAccessToken() !== null && tokenExpiringSoon()) {
        // A failed refresh signs out or keeps the old token; either way the
        // server says what it thinks of what we send.
        await refresh().catch(() => false);
      }
      const t = getAccessToken();
      return t ? { Authorization: `Bearer ${t}` } : {};
    },
    on: {
      closed: (event) => {
        const code = (event as { code?: number } | undefined)?.code;
        if (code === 4401 && getAccessToken() !== null) {
          refresh()
            .then((signedIn) => {
              if (signedIn) replaceSocket();
            })
            .catch(() => undefined);
        }
      },
    },
  });
}

function wsClient(): WsClient {
  ws ??= newWsClient();
  return ws;
}

function replaceSocket() {
  const old = ws;
  ws = null;
  wsEpoch++;
  for (const l of wsListeners) l();
  // dispose() rejects when the socket it waits for was refused (4401 at
  // connection_init); that socket is gone either way.
  if (old) Promise.resolve(old.dispose()).catch(() => undefined);
}

onTokenChange(() => {
  const user = getAuthState().user?.id ?? null;
  if (user === wsUser) return; // a refresh: the next connect picks the token up
  wsUser = user;
  replaceSocket();
});

export function getWsEpoch(): number {
  return wsEpoch;
}

export function subscribeWsEpoch(listener: () => void): () => void {
  wsListeners.add(listener);
  return () => wsListeners.delete(listener);
}

// --- urql --------------------------------------------------------------------

export function createUrqlClient(): Client {
  return new Client({
    url: API_URL,
    preferGetMethod: false,
    fetchOptions: { credentials: 'include' },
    exchanges: [
      cacheExchange,
      authExchange(async (utils) => ({
        addAuthToOperation(operation) {
          const t = getAccessToken();
          return t ? utils.appendHeaders(operation, { Authorization: `Bearer ${t}` }) : operation;
        },
        // Refresh before sending a request whose token is about to expire.
        willAuthError() {
          return tokenExpiringSoon();
        },
        // ...and after the API refused one (expired, ended, or revoked elsewhere).
        didAuthError(error) {
          return (
            getAccessToken() !== null &&
            error.graphQLErrors.some((e) => e.extensions?.code === 'UNAUTHENTICATED')
          );
        },
        async refreshAuth() {
          await refresh().catch(() => false);
        },
      })),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = wsClient().subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
}
