// Light or dark: by default the system's choice (prefers-color-scheme, in the CSS); the
// toggle cycles auto → dark → light and remembers the choice for this tab
// (sessionStorage, like the key): the dashboard's scripts keep nothing in the browser's
// long-lived storage, so no script can leave a key there by mistake
// (tests/api/test_dashboard.py holds that).

const ITEM = 'lro.dashboard.theme';
const NEXT = { auto: 'dark', dark: 'light', light: 'auto' };

function apply(button, theme) {
  if (theme === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  button.textContent = `Theme: ${theme}`;
  button.title = theme === 'auto' ? 'Following the system (click for dark)' : `Click for ${NEXT[theme]}`;
}

export function initTheme(button) {
  let theme = sessionStorage.getItem(ITEM);
  if (!(theme in NEXT)) theme = 'auto';
  apply(button, theme);
  button.addEventListener('click', () => {
    theme = NEXT[theme];
    if (theme === 'auto') sessionStorage.removeItem(ITEM);
    else sessionStorage.setItem(ITEM, theme);
    apply(button, theme);
  });
}
