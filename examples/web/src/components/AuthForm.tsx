import { type FormEvent, useState } from 'react';

import { login, signup } from '../auth';
import { useAction } from '../useAction';

export function AuthForm({
  mode,
  onSwitch,
  onForgot,
}: {
  mode: 'login' | 'signup';
  onSwitch: () => void;
  onForgot?: () => void;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const { busy, error, run } = useAction();

  async function submit(e: FormEvent) {
    e.preventDefault();
    await run(async () => {
      if (mode === 'signup') await signup({ email, password, name });
      else await login({ email, password });
    });
  }

  const title = mode === 'signup' ? 'Create an account' : 'Log in';
  return (
    <form className="card narrow" onSubmit={submit} data-testid={`${mode}-form`}>
      <h1>{title}</h1>
      {mode === 'signup' && (
        <label>
          Name
          <input
            data-testid="name-input"
            value={name}
            onChange={(e) => setName(e.target.value)}
            autoComplete="name"
            required
          />
        </label>
      )}
      <label>
        Email
        <input
          data-testid="email-input"
          type="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          autoComplete="email"
          required
        />
      </label>
      <label>
        Password
        <input
          data-testid="password-input"
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete={mode === 'signup' ? 'new-password' : 'current-password'}
          minLength={8}
          required
        />
      </label>
      {error && (
        <p className="error" role="alert" data-testid="auth-error">
          {error}
        </p>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={busy} data-testid="auth-submit">
          {mode === 'signup' ? 'Sign up' : 'Log in'}
        </button>
        <button type="button" className="link" onClick={onSwitch}>
          {mode === 'signup' ? 'I have an account' : 'Create an account'}
        </button>
        {mode === 'login' && onForgot && (
          <button type="button" className="link" onClick={onForgot} data-testid="forgot-link">
            Forgot password?
          </button>
        )}
      </div>
    </form>
  );
}
