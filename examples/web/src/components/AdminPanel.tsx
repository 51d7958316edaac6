import { useEffect, useState } from 'react';
import { useSubscription } from 'urql';

import { formatPrice } from '../format';
import type { PurchaseMadeSubscription } from '../gql/graphql';
import { PurchaseMadeDoc } from '../operations';
import { CreateCourse } from './CreateCourse';

/** Admins: create a course (as a draft), publish it, and watch sales live. */
export function AdminPanel({ wsEpoch }: { wsEpoch: number }) {
  return (
    <section className="admin">
      <h1>Admin</h1>
      <CreateCourse />
      <LiveSales key={`sales-${wsEpoch}`} />
    </section>
  );
}

type Sale = PurchaseMadeSubscription['purchaseMade'];

function LiveSales() {
  const [sales, setSales] = useState<Sale[]>([]);
  const [result] = useSubscription({ query: PurchaseMadeDoc });
  useEffect(() => {
    const sale = result.data?.purchaseMade;
    if (sale) setSales((s) => [sale, ...s.filter((x) => x.id !== sale.id)].slice(0, 20));
  }, [result.data]);
  return (
    <div className="card">
      <h2>Live sales</h2>
      {sales.length === 0 ? (
        <p className="muted" data-testid="live-sales-empty">
          Purchases appear here as they happen.
        </p>
      ) : (
        <ul className="sales" data-testid="live-sales">
          {sales.map((s) => (
            <li key={s.id} data-testid="live-sale">
              {s.course.title} · {formatPrice(s.pricePaid)} ·{' '}
              <time dateTime={s.purchasedAt}>{new Date(s.purchasedAt).toLocaleTimeString()}</time>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
