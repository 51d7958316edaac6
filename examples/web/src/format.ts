const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

/** Prices are integer cents in the API. */
export function formatPrice(cents: number): string {
  return cents === 0 ? 'Free' : money.format(cents / 100);
}

/** "49.00" or "49" -> 4900; null when it is not a price. */
export function parsePrice(text: string): number | null {
  const t = text.trim();
  if (!/^\d+(\.\d{1,2})?$/.test(t)) return null;
  return Math.round(Number(t) * 100);
}

export function errorMessage(e: unknown): string {
  if (e && typeof e === 'object' && 'graphQLErrors' in e) {
    const ce = e as { graphQLErrors: { message: string }[]; networkError?: Error; message: string };
    if (ce.graphQLErrors[0]) return ce.graphQLErrors[0].message;
    if (ce.networkError) return 'The API cannot be reached.';
    return ce.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** An amount of money in cents (0 is "$0.00", not "Free"). */
export function formatAmount(cents: number): string {
  return money.format(cents / 100);
}

/**
 * The input field a BAD_USER_INPUT error names (extensions.field, e.g.
 * "videoUrl"), so that a form can show the message beside that field.
 */
export function errorField(e: unknown): string | null {
  if (e && typeof e === 'object' && 'graphQLErrors' in e) {
    const first = (e as { graphQLErrors: { extensions?: Record<string, unknown> }[] }).graphQLErrors[0];
    const ext = first?.extensions;
    if (ext?.code === 'BAD_USER_INPUT' && typeof ext.field === 'string') return ext.field;
  }
  return null;
}
