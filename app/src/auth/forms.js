// The sign-in, sign-up and password pages load no WebAssembly: they are server-rendered
// forms that work without any script. This file only makes them nicer, in place of the
// app's bundle (DECISIONS 59):
// - a form posts with fetch, so a refused field gets its message beside it and nothing
//   typed is lost; where the server says to go next (its Location), the page goes;
// - the password field's Show/Hide button;
// - `data-hydrated` on <body> once this has run, as the app's pages set it when
//   they are interactive.
(() => {
  'use strict';

  const text = (error) => {
    // AppError as the server functions encode it: {"Variant": value}.
    const [kind, value] = Object.entries(error || {})[0] || [];
    if (typeof value === 'string') return value;
    if (value && kind === 'Internal') return `${value.message} (ref ${value.reference})`;
    if (value && value.message) return value.message;
    return null;
  };

  const clear = (form) => {
    form.querySelectorAll('[data-enhanced-error]').forEach((el) => el.remove());
    form.querySelectorAll('[aria-invalid="true"]').forEach((input) => {
      input.removeAttribute('aria-invalid');
      input.classList.remove('input-invalid');
      const hint = document.getElementById(`${input.id}-hint`);
      if (hint) input.setAttribute('aria-describedby', hint.id);
      else input.removeAttribute('aria-describedby');
    });
    // A message the server rendered for an earlier, form-only attempt.
    form.querySelectorAll('.field-error, .alert-danger').forEach((el) => el.remove());
  };

  const fieldMessage = (form, name, message) => {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]:not([type="hidden"])`);
    if (!input) return false;
    const p = document.createElement('p');
    p.id = `${input.id || `f-${name}`}-error`;
    p.className = 'field-error';
    p.setAttribute('role', 'alert');
    p.dataset.enhancedError = '';
    p.textContent = message;
    (input.closest('.field') || input.parentElement).append(p);
    input.setAttribute('aria-invalid', 'true');
    input.classList.add('input-invalid');
    input.setAttribute('aria-describedby', p.id);
    input.focus();
    return true;
  };

  const formMessage = (form, message) => {
    const div = document.createElement('div');
    div.className = 'alert alert-danger';
    div.setAttribute('role', 'alert');
    div.dataset.enhancedError = '';
    div.textContent = message;
    form.prepend(div);
  };

  const submit = async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-enhanced')) return;
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    const label = button && button.textContent;
    if (button) {
      if (button.disabled) return;
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      button.textContent = form.dataset.working || label;
    }
    try {
      const response = await fetch(form.action, {
        method: 'POST',
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: 'application/json', 'Leadline-Follow': '1' },
        credentials: 'same-origin',
      });
      const next = response.headers.get('Location');
      if (response.ok && next) {
        window.location.assign(next);
        return;
      }
      clear(form);
      if (response.ok) {
        window.location.reload();
        return;
      }
      const error = await response.json().catch(() => null);
      const validation = error && error.Validation;
      const message = text(error) || form.dataset.unreachable;
      if (!(validation && fieldMessage(form, validation.field, validation.message))) {
        formMessage(form, message);
      }
    } catch (_) {
      clear(form);
      formMessage(form, form.dataset.unreachable);
    }
    if (button) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = label;
    }
  };

  const togglePassword = (event) => {
    const button = event.target.closest('[data-toggle-password]');
    if (!button) return;
    const input = document.getElementById(button.getAttribute('aria-controls'));
    if (!input) return;
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    button.setAttribute('aria-pressed', String(show));
    button.textContent = show ? button.dataset.hide : button.dataset.show;
  };

  document.addEventListener('submit', submit);
  document.addEventListener('click', togglePassword);
  document.body.dataset.hydrated = 'true';
})();
