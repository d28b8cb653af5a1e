/*
 * template.h: the texts abusedesk sends, as editable files: DIR/LANG/NAME.txt,
 * UTF-8, whose first line is "Subject: ..." and whose body follows a blank line.
 * Placeholders are {{name}}; every placeholder a template uses must be given.
 */
#ifndef AD_TEMPLATE_H
#define AD_TEMPLATE_H

#include <glib.h>

#include "util/err.h"

/* Renders DIR/LANG/NAME.txt (LANG "de" or "en"; when that file does not exist,
 * DIR/en/NAME.txt) with vars (placeholder name -> value, both UTF-8 strings).
 * *subject and *body are g_malloc'd (caller frees). Errors (AD_ERR_IO: file
 * missing or unreadable; AD_ERR_PARSE: no Subject line, unknown placeholder
 * {{x}}, unclosed "{{", invalid UTF-8) name the file and, where it applies, the
 * line and the placeholder. */
int template_render(const char *dir, const char *lang, const char *name, GHashTable *vars,
                    char **subject, char **body, struct ad_err *err);

#endif
