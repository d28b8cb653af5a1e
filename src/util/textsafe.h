/*
 * textsafe.h: makes untrusted text (anything that arrived by mail, or from the
 * customer directory the provider exported) safe to show: as one line or a
 * quoted block in a customer notice, defanged so that URLs and addresses are not
 * clickable, or escaped for a terminal.
 *
 * Every function is total: any input, including NULL (treated as "") and
 * invalid UTF-8, gives a valid UTF-8 result. Every result is g_malloc'd; the
 * caller frees it with g_free(). Nothing fails and nothing is logged.
 */
#ifndef AD_TEXTSAFE_H
#define AD_TEXTSAFE_H

#include <stdbool.h>
#include <stddef.h>

/* One line of untrusted text for a notice or a table. Invalid UTF-8 becomes
 * U+FFFD; CR, LF, TAB, other white space and the Unicode line and paragraph
 * separators become a space, and runs of them one space; C0 and C1 control
 * characters, DEL, bidi controls (U+061C, U+200E, U+200F, U+202A..U+202E,
 * U+2066..U+2069) and invisible format characters (zero-width space and joiners,
 * word joiner and invisible operators, BOM, soft hyphen, Mongolian vowel
 * separator, tag characters, Hangul fillers) are removed. The result is trimmed
 * and, when max_chars > 0 and it is longer, cut after max_chars characters (not
 * bytes) with "…" appended. Caller g_free()s. */
char *textsafe_line(const char *s, size_t max_chars);

/* Makes URLs and addresses in s non-clickable in plain-text mail clients:
 * "http://" -> "hxxp://", "https://" -> "hxxps://", "ftp://" -> "fxp://" (the
 * letters keep their case), any other "scheme://" -> "scheme[:]//" (a
 * scheme is the run of letters, digits, '+', '-' and '.' before "://"; a "://"
 * after anything else becomes "[:]//" too),
 * "mailto:" -> "mailto[:]", "www." -> "www[.]", and in every domain-like token
 * (labels separated by dots whose last label looks like a TLD: 2..24 letters,
 * or xn--) the last dot becomes "[.]": "phish.example.com/x" ->
 * "phish.example[.]com/x", "alice@bank.example" -> "alice@bank[.]example".
 * Already defanged "hxxp://", "hxxps://" and "fxp://" are kept. Everything else
 * is kept as it is, control characters included (use textsafe_line first);
 * invalid UTF-8 becomes U+FFFD. Caller g_free()s. */
char *textsafe_defang(const char *s);

/* An untrusted value for a notice body, on one line: textsafe_line(s,
 * max_chars), defanged, prefixed with indent (NULL: none). Caller g_free()s. */
char *textsafe_quote(const char *s, const char *indent, size_t max_chars);

/* Untrusted multi-line text (a reply excerpt) for a notice body: lines are split
 * at CR LF, LF or CR, each is cleaned as by textsafe_line(line,
 * max_line_chars) and defanged, and prefixed with indent (NULL: none). Leading
 * and trailing blank lines are dropped and runs of blank lines become one. At
 * most max_lines lines (0: no limit) are kept; when more would follow, a last
 * line indent + "…" says so. Lines are joined with "\n", without a newline at
 * the end; empty input gives "". Caller g_free()s. */
char *textsafe_quote_block(const char *s, const char *indent, size_t max_lines,
                           size_t max_line_chars);

/* Escapes s for printing to a terminal, one field per line or cell: valid
 * printable UTF-8 is kept; LF, CR and TAB become "\n", "\r", "\t"; other C0
 * controls (ESC: "\x1b") and DEL become "\xNN"; C1 controls, the bidi controls,
 * line and paragraph separators and the invisible format characters that
 * textsafe_line removes become "\uNNNN" (or "\UNNNNNNNN" above U+FFFF); each
 * byte of invalid UTF-8 becomes "\xNN". Backslashes are kept as they are.
 * Caller g_free()s. */
char *textsafe_terminal(const char *s);

/* True when textsafe_terminal(s) would return s unchanged (NULL: true). */
bool textsafe_is_clean_terminal(const char *s);

#endif
