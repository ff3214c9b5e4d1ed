// The tab shows the total unread count, like every messenger: "(3) Chat" in
// the title and a red badge on the favicon, so a background tab tells the
// user something arrived.

const baseTitle = document.title;
const icon = document.querySelector('link[rel="icon"]');
const baseHref = icon.getAttribute('href');
// The plain icon's markup, fetched once, so the badge is drawn on the real
// icon rather than on a copy of it kept here.
let baseSvg = null;
// null until the first count, so the first one (0 too) reaches the app badge.
let shown = null;

fetch(new URL(baseHref, document.baseURI))
  .then((response) => (response.ok ? response.text() : null))
  .then((svg) => {
    baseSvg = svg;
    if (shown) showUnread(shown);
  })
  .catch(() => {});

/** Shows `count` unread messages in the tab's title and icon (0 clears both). */
export function showUnread(count) {
  if (count !== shown) appBadge(count);
  shown = count;
  const title = count ? `(${count}) ${baseTitle}` : baseTitle;
  if (document.title !== title) document.title = title;
  const href = count && baseSvg ? 'data:image/svg+xml,' + encodeURIComponent(withBadge(baseSvg, count)) : baseHref;
  // The list redraws often; the browser reloads the icon only when it changes.
  if (icon.getAttribute('href') !== href) icon.setAttribute('href', href);
}

/** The icon with a red disc holding the count (99+ past 99) in its top-right corner. */
function withBadge(svg, count) {
  const text = count > 99 ? '99+' : String(count);
  const size = text.length === 1 ? 16 : text.length === 2 ? 13 : 10;
  // `text` is digits (and "+") only: nothing a user wrote goes in this markup.
  const badge =
    '<circle cx="22" cy="10" r="10" fill="#d93025" stroke="#fff" stroke-width="1.5"/>' +
    `<text x="22" y="10" dy="0.35em" text-anchor="middle" font-family="Arial,sans-serif" font-weight="700" font-size="${size}" fill="#fff">${text}</text>`;
  return svg.replace(/<\/svg>\s*$/, badge + '</svg>');
}

/**
 * The same count on an installed app's icon, where the browser has one:
 * the service worker sets it from each push (sw.js), and reading here
 * must bring it down.
 */
function appBadge(count) {
  if (!('setAppBadge' in navigator)) return;
  (count ? navigator.setAppBadge(count) : navigator.clearAppBadge()).catch(() => {});
}
