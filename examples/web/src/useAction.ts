import { useState } from 'react';

import { ApiError } from './auth';

/** What a failed call says to the person: the API's message, or a plain word on rate limits. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError && err.code === 'RATE_LIMITED') return 'Too many attempts; try again later.';
  return err instanceof Error ? err.message : String(err);
}

/**
 * One form action at a time: `run` clears the last error, marks the form busy while the call
 * runs, and keeps the call's error message for the form to show.
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function run(action: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }
  return { busy, error, run };
}
