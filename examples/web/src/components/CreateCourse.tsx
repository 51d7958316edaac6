import { type FormEvent, useState } from 'react';
import { useMutation } from 'urql';

import { errorMessage, formatPrice, parsePrice } from '../format';
import type { CourseFieldsFragment } from '../gql/graphql';
import { CreateCourseDoc } from '../operations';
import { PublishButton } from './CourseList';

/**
 * A new course, as a draft of the caller (instructors and admins own what they
 * create). onCreated lets the instructor page open the new course at once.
 */
export function CreateCourse({ onCreated }: { onCreated?: (course: CourseFieldsFragment) => void }) {
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
      onCreated?.(res.data.createCourse);
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
