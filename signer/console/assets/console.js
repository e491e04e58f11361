// Every console page's small script: a button with data-copy="<element id>" copies that element's
// text (the Clipboard API on https or localhost; elsewhere the text is selected and copied the old
// way) and says so on the button. Loaded from a file, so a strict Content-Security-Policy holds.
(() => {
  // biome-ignore lint/suspicious/noRedundantUseStrict: a classic script (served to the browser), not a module
  'use strict';

  function select(el) {
    const range = document.createRange();
    range.selectNodeContents(el);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  async function copy(button) {
    const el = document.getElementById(button.dataset.copy);
    if (!el) return;
    const text = el.textContent.trim();
    // Selected either way: if the browser refuses both ways of copying, Ctrl+C still works.
    select(el);
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      copied = document.execCommand('copy');
    }
    button.dataset.copied = String(copied);
    button.textContent = copied ? 'Copied' : 'Selected: press Ctrl+C';
  }

  document.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest('button[data-copy]') : null;
    if (button) void copy(button);
  });
})();
