import { type FormEvent, useState } from 'react';

import { requestEmailVerification, requestPasswordReset, resetPassword, verifyEmail } from '../auth';
import { useAction } from '../useAction';

/** "Forgot password": the answer never says whether the address has an account. */
export function ForgotPassword({ onBack }: { onBack: () => void }) {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const { busy, error, run } = useAction();

  async function submit(e: FormEvent) {
    e.preventDefault();
    await run(async () => {
      await requestPasswordReset(email);
      setSent(true);
    });
  }

  return (
    <form className="card narrow" onSubmit={submit} data-testid="forgot-form">
      <h1>Forgot your password?</h1>
      {sent ? (
        <p data-testid="forgot-sent">
          If an account uses this address, a link to choose a new password is on its way. It works once, for a
          limited time.
        </p>
      ) : (
        <label>
          Email
          <input
            data-testid="forgot-email"
            type="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            autoComplete="email"
            required
          />
        </label>
      )}
      {error && (
        <p className="error" role="alert" data-testid="forgot-error">
          {error}
        </p>
      )}
      <div className="row">
        {!sent && (
          <button type="submit" className="primary" disabled={busy} data-testid="forgot-submit">
            Send me a link
          </button>
        )}
        <button type="button" className="link" onClick={onBack}>
          Back to log in
        </button>
      </div>
    </form>
  );
}

/** The page a reset link opens: a new password, then a new session. */
export function ResetPassword({ token, onDone }: { token: string; onDone: () => void }) {
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();

  async function submit(e: FormEvent) {
    e.preventDefault();
    await run(async () => {
      await resetPassword(token, password);
      onDone();
    });
  }

  return (
    <form className="card narrow" onSubmit={submit} data-testid="reset-form">
      <h1>Choose a new password</h1>
      <p className="muted">Every other device signed in to your account will be signed out.</p>
      <label>
        New password
        <input
          data-testid="reset-password-input"
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete="new-password"
          minLength={8}
          required
        />
      </label>
      {error && (
        <p className="error" role="alert" data-testid="reset-error">
          {error}
        </p>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={busy || !token} data-testid="reset-submit">
          Set password
        </button>
      </div>
    </form>
  );
}

/**
 * The page a verification link opens. Confirming takes a click: a mail
 * scanner that opens links must not use the token up.
 */
export function VerifyEmail({ token, onDone }: { token: string; onDone: () => void }) {
  const [done, setDone] = useState(false);
  const { busy, error, run } = useAction();

  async function confirm() {
    await run(async () => {
      await verifyEmail(token);
      setDone(true);
    });
  }

  return (
    <div className="card narrow" data-testid="verify-page">
      <h1>Confirm your email address</h1>
      {done ? (
        <p data-testid="verify-done">Your address is confirmed.</p>
      ) : (
        <p className="muted">Confirm that this address belongs to your coursehub account.</p>
      )}
      {error && (
        <p className="error" role="alert" data-testid="verify-error">
          {error}
        </p>
      )}
      <div className="row">
        {done ? (
          <button type="button" className="primary" onClick={onDone} data-testid="verify-continue">
            Continue
          </button>
        ) : (
          <button type="button" className="primary" disabled={busy || !token} onClick={() => void confirm()} data-testid="verify-submit">
            Confirm my address
          </button>
        )}
      </div>
    </div>
  );
}

/** Shown to a signed-in user whose address is not verified yet. */
export function VerifyNotice() {
  const [sent, setSent] = useState(false);
  const { error, run } = useAction();

  async function send() {
    await run(async () => {
      await requestEmailVerification();
      setSent(true);
    });
  }

  return (
    <div className="notice" data-testid="verify-notice">
      {sent ? (
        <span data-testid="verify-requested">We sent you a link; open it to confirm your address.</span>
      ) : (
        <>
          Your email address is not confirmed yet.{' '}
          <button type="button" className="link" onClick={() => void send()} data-testid="verify-request">
            Send me a link
          </button>
        </>
      )}
      {error && (
        <span className="error" role="alert">
          {' '}
          {error}
        </span>
      )}
    </div>
  );
}
