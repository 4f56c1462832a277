/* Splitting and joining a rerun command like sh would (command.h). */
#include "bundle/command.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void command_words_free(struct command_words *cw)
{
	for (int i = 0; i < cw->n; i++)
		free(cw->w[i]);
	cw->n = 0;
	cw->w[0] = NULL;
}

int command_words_add(struct command_words *cw, const char *word)
{
	if (cw->n >= COMMAND_MAX_WORDS)
		return -E2BIG;
	cw->w[cw->n] = strdup(word);
	if (!cw->w[cw->n])
		return -ENOMEM;
	cw->w[++cw->n] = NULL;
	return 0;
}

int command_split(const char *line, struct command_words *cw, char *why, size_t wlen)
{
	size_t len = strlen(line);
	char *word = malloc(len + 1);
	size_t n = 0;
	bool in_word = false;
	int ret = 0;

	memset(cw, 0, sizeof(*cw));
	if (!word)
		return -ENOMEM;
	for (size_t i = 0; i <= len && !ret; i++) {
		char ch = line[i];

		if (ch == '\0' || ch == ' ' || ch == '\t') {
			if (in_word) {
				word[n] = '\0';
				ret = command_words_add(cw, word);
				n = 0;
				in_word = false;
			}
			continue;
		}
		in_word = true;
		if (ch == '\'') {
			const char *end = strchr(line + i + 1, '\'');
			if (!end) {
				snprintf(why, wlen, "an unterminated ' at byte %zu", i + 1);
				ret = -EINVAL;
				break;
			}
			size_t q = (size_t)(end - (line + i + 1));

			memcpy(word + n, line + i + 1, q);
			n += q;
			i = (size_t)(end - line);
		} else if (ch == '"') {
			for (i++; i < len && line[i] != '"'; i++) {
				if (line[i] == '\\' && strchr("\"\\$`", line[i + 1]) && line[i + 1])
					i++;
				else if (line[i] == '$' || line[i] == '`')
					break;
				word[n++] = line[i];
			}
			if (i >= len || line[i] != '"') {
				snprintf(why, wlen, "an unterminated \" or a $ or ` inside \"...\" at "
					 "byte %zu: a shell would expand it", i + 1);
				ret = -EINVAL;
			}
		} else if (ch == '\\') {
			if (!line[i + 1] || line[i + 1] == '\n') {
				snprintf(why, wlen, "a backslash at the end of the line");
				ret = -EINVAL;
				break;
			}
			word[n++] = line[++i];
		} else if (strchr("$`;|&<>()\n*?[{}#", ch)) {
			snprintf(why, wlen, "'%c' at byte %zu outside quotes: a shell would treat it "
				 "specially, and punchlab never writes it so", ch, i + 1);
			ret = -EINVAL;
		} else {
			word[n++] = ch;
		}
	}
	free(word);
	if (ret == -E2BIG)
		snprintf(why, wlen, "more than %d words", COMMAND_MAX_WORDS);
	return ret;
}

void command_join(const struct command_words *cw, char *buf, size_t len)
{
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	for (int i = 0; i < cw->n && n < len; i++) {
		const char *w = cw->w[i];
		bool plain = w[0] && w[0] != '~';

		for (const char *p = w; plain && *p; p++)
			plain = isalnum((unsigned char)*p) || strchr("_./%=:,+@~-", *p);
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", plain ? w : "'");
		for (const char *p = w; !plain && *p && n < len; p++)
			n += (size_t)snprintf(buf + n, len - n, *p == '\'' ? "'\\''" : "%c", *p);
		if (!plain && n < len)
			n += (size_t)snprintf(buf + n, len - n, "'");
	}
}
