import {tableLines} from './table.js'
import type {ProfileJournal} from '../profiles/journal.js'
import type {ProfileList} from '../profiles/list.js'

/** One line per profile, in columns; the problem of a corrupt profile below it. */
export function renderProfiles(list: ProfileList): string {
  if (list.profiles.length === 0) return `No profile in ${list.home}. Record one with 'datain init'.`
  const rows = [
    ['PROFILE', 'TARGET', 'SOURCE', 'REPLICA', 'SETUP'],
    ...list.profiles.map((p) => [p.name, p.target ?? '?', p.source ?? '?', p.replica ?? '?', p.standText].map(printable)),
  ]
  // Aligned by display width: a host or profile name may hold CJK or emoji.
  const lines = tableLines(rows, {indent: ''})
  for (const p of list.profiles) if (p.problem) lines.push('', printable(`${p.name}: ${p.problem}`))
  return lines.join('\n')
}

/** `time  event  key=value …`, one line per entry. */
export function renderJournal(journal: ProfileJournal): string {
  if (journal.entries.length === 0) return `The journal of profile '${journal.profile}' is empty.`
  return journal.entries
    .map(({at, pid, event, ...details}) => {
      const rest = Object.entries(details).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
      return printable([at, `pid ${pid}`, event, ...rest].join('  '))
    })
    .join('\n')
}

/**
 * A profile's files are data, whoever wrote them (a hand edit, a server's error text in the journal):
 * every control character (C0, DEL, C1) is shown escaped, so that none reaches the terminal.
 */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
