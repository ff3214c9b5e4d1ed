// How a conversation's messages are laid out, as every messenger does it:
// a separator at each new local day ("Today", "Yesterday", a date), the
// "New messages" divider where unread starts, and runs of messages from one
// sender within a few minutes grouped together. Pure functions of their
// input, so the view stays simple and the rules can be tested on their own.

/** Messages this close to the previous one of the same sender join its run. */
export const GROUP_WITHIN = 5 * 60_000;

/**
 * Lays out `entries` (oldest first; each `{key, sender, at}`, `at` in ms)
 * into a list of items:
 * - `{kind: 'day', key, label}` before the first entry of each local day;
 * - `{kind: 'new', key: 'new'}` before the entry whose key is `firstUnread`;
 * - `{kind: 'entry', entry, continued}`, `continued` when the entry belongs to
 *   the run of the one before it (same sender, same day, within GROUP_WITHIN,
 *   no divider between them).
 */
export function layout(entries, { firstUnread = null, now = Date.now() } = {}) {
  const items = [];
  let previous = null;
  for (const entry of entries) {
    const day = dayKey(entry.at);
    const newDay = !previous || dayKey(previous.at) !== day;
    if (newDay) items.push({ kind: 'day', key: 'day:' + day, label: dayLabel(entry.at, now) });
    const divider = firstUnread !== null && entry.key === firstUnread;
    if (divider) items.push({ kind: 'new', key: 'new' });
    const continued =
      !newDay && !divider && previous.sender === entry.sender && entry.at - previous.at < GROUP_WITHIN;
    items.push({ kind: 'entry', entry, continued });
    previous = entry;
  }
  return items;
}

/** `2026-1-8`: the local calendar day of `ms`. */
function dayKey(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

const weekday = new Intl.DateTimeFormat(undefined, { weekday: 'long' });
const sameYear = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long' });
const otherYear = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });

/** "Today", "Yesterday", a weekday within the last week, else the date. */
export function dayLabel(ms, now = Date.now()) {
  const date = new Date(ms);
  const midnight = (t) => {
    const d = new Date(t);
    d.setHours(0, 0, 0, 0);
    return d;
  };
  // Calendar days between them, counted on local midnights (DST-proof by rounding).
  const days = Math.round((midnight(now) - midnight(ms)) / 86_400_000);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days > 1 && days < 7) return weekday.format(date);
  return date.getFullYear() === new Date(now).getFullYear() ? sameYear.format(date) : otherYear.format(date);
}
