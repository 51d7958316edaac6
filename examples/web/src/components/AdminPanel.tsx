import { type FormEvent, useEffect, useState } from 'react';
import { useMutation, useSubscription } from 'urql';

import { errorMessage, formatPrice, parsePrice } from '../format';
import type { CourseFieldsFragment, PurchaseMadeSubscription } from '../gql/graphql';
import { CreateCourseDoc, PurchaseMadeDoc } from '../operations';
import { PublishButton } from './CourseList';

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

function CreateCourse() {
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [price, setPrice] = useState('');
  const [imageLink, setImageLink] = useState('');
  const [formError, setFormError] = useState<string | null>(null);
  const [{ fetching, error }, create] = useMutation(CreateCourseDoc);
  // The document cache does not normalise, so the mutations' own results say
  // what the course is now: created (a draft), then published.
  const [created, setCreated] = useState<CourseFieldsFragment | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const cents = parsePrice(price);
    if (cents === null) {
      setFormError('Price: a number such as 49 or 49.90');
      return;
    }
    setFormError(null);
    const res = await create({
      input: {
        title,
        description,
        price: cents,
        imageLink: imageLink.trim() || null,
        published: false,
      },
    });
    if (res.data) {
      setCreated(res.data.createCourse);
      setTitle('');
      setDescription('');
      setPrice('');
      setImageLink('');
    }
  }

  return (
    <div className="card">
      <h2>New course</h2>
      <form onSubmit={submit} data-testid="create-course-form" className="stack">
        <label>
          Title
          <input data-testid="course-title-input" value={title} onChange={(e) => setTitle(e.target.value)} required />
        </label>
        <label>
          Description
          <textarea
            data-testid="course-description-input"
            value={description}
            onChange={(e) => setDescription(e.target.value)}
            rows={3}
          />
        </label>
        <div className="row">
          <label>
            Price (USD)
            <input
              data-testid="course-price-input"
              inputMode="decimal"
              value={price}
              onChange={(e) => setPrice(e.target.value)}
              placeholder="49.00"
              required
            />
          </label>
          <label className="grow">
            Image link (optional)
            <input
              data-testid="course-image-input"
              type="url"
              value={imageLink}
              onChange={(e) => setImageLink(e.target.value)}
              placeholder="https://…"
            />
          </label>
        </div>
        {(formError || error) && (
          <p className="error" role="alert" data-testid="create-course-error">
            {formError ?? errorMessage(error)}
          </p>
        )}
        <div>
          <button type="submit" className="primary" disabled={fetching} data-testid="create-course-submit">
            Create draft
          </button>
        </div>
      </form>
      {created && (
        <div className="created" data-testid="created-course" data-course-id={created.id}>
          <span>
            <strong>{created.title}</strong> · {formatPrice(created.price)} ·{' '}
            <span data-testid="created-course-state">{created.published ? 'published' : 'draft'}</span>
          </span>
          {!created.published && <PublishButton courseId={created.id} onPublished={setCreated} />}
        </div>
      )}
    </div>
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
