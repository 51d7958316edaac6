// Where the API lives. Set VITE_API_URL at build time (see README.md).
export const API_URL: string =
  import.meta.env.VITE_API_URL || 'http://127.0.0.1:8080/graphql';

// Subscriptions use the same path over WebSocket (graphql-transport-ws).
export const WS_URL: string = API_URL.replace(/^http/, 'ws');
