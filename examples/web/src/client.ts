// The urql client: document cache, auth, fetch, and subscriptions over
// graphql-ws (graphql-transport-ws) on the same /graphql path.
import { authExchange } from '@urql/exchange-auth';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from 'urql';

import { getAccessToken, onTokenChange, refresh, tokenExpiringSoon } from './auth';
import { API_URL, WS_URL } from './config';

// --- WebSocket ---------------------------------------------------------------
//
// A socket authenticates once, at connection_init, so it is tied to one access
// token. When the token changes (sign-in, refresh, sign-out) the socket is
// replaced and subscribers re-subscribe (they watch wsEpoch). When the server
// ends a socket with 4401 (the token expired or the session ended) graphql-ws
// does not retry; we refresh, which changes the token and so reconnects.

let ws: WsClient | null = null;
let wsEpoch = 0;
const wsListeners = new Set<() => void>();

function newWsClient(): WsClient {
  return createWsClient({
    url: WS_URL,
    lazy: true,
    retryAttempts: 5,
    connectionParams: () => {
      const t = getAccessToken();
      return t ? { Authorization: `Bearer ${t}` } : {};
    },
    on: {
      closed: (event) => {
        const code = (event as { code?: number } | undefined)?.code;
        if (code === 4401 && getAccessToken() !== null) {
          refresh().catch(() => undefined);
        }
      },
    },
  });
}

function wsClient(): WsClient {
  ws ??= newWsClient();
  return ws;
}

onTokenChange(() => {
  const old = ws;
  ws = null;
  wsEpoch++;
  for (const l of wsListeners) l();
  // dispose() rejects when the socket it waits for was refused (4401 at
  // connection_init); that socket is gone either way.
  if (old) Promise.resolve(old.dispose()).catch(() => undefined);
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
